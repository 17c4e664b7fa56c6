/*
 * memtable.c - the memtable: a skiplist of entries in an arena.
 *
 * Entry format (util/internal_key.h):
 *   entry := ikey_len:varint32 user_key tag:fixed64 value_len:varint32 value
 * with ikey_len = len(user_key) + 8.
 *
 * Node layout. A node of height h is one arena allocation:
 *
 *   [ link h-1 ] ... [ link 1 ] [ link 0 ] [ entry bytes ... ]
 *                                ^ node pointer
 *
 * A node is addressed by its level-0 link; higher levels sit below it in
 * memory and the entry starts right after it. No height or key pointer is
 * stored, and the hottest data of a search -- the level-0 link and the
 * start of the key -- are adjacent in memory.
 *
 * The skiplist has at most MAX_HEIGHT levels and a node reaches level i+1
 * with probability 1/BRANCHING.
 *
 * Concurrency: one writer, lock-free readers. The writer writes the entry,
 * then for each level from 0 up sets the new node's own link and publishes
 * the node on that level with a release store; readers follow links with
 * acquire loads. A reader follows a node's level-i link only after reaching
 * the node on level i or above, that is after the publication that came
 * after the link (and the entry) were written -- so a node a reader sees is
 * whole. max_height only hints where searches start: a reader that sees a
 * raised height before the head's new links finds NULL there and steps
 * down.
 */
#include "db/memtable.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/arena.h"
#include "util/error.h"
#include "util/internal_key.h"
#include "util/random.h"

#define MAX_HEIGHT 12
#define BRANCHING 4

/* Lookup keys up to this many bytes are built on the stack by get. */
#define STACK_KEY 256

/* Never defined: a node is only ever addressed through its links. */
typedef struct mt_node mt_node;
typedef _Atomic(mt_node *) mt_link;

struct st_memtable {
  const st_comparator *ucmp;
  atomic_int refs;
  atomic_int max_height; /* levels in use, 1..MAX_HEIGHT */
  _Atomic uint64_t count;
  st_random rnd; /* node heights; writer only */
  mt_node *head; /* MAX_HEIGHT links, no entry */
  /* The last node of each level (the head while a level is empty): a key
   * greater than every entry -- the next key of an ascending load -- is
   * linked after these with one comparison instead of a search. Writer
   * only, like rnd. */
  mt_node *tail[MAX_HEIGHT];
  uint64_t first_seq; /* see st_memtable_set_first_sequence; 0: unknown */
  st_arena arena;
};

static inline mt_link *link_at(mt_node *n, int level) { return (mt_link *)n - level; }

static inline mt_node *next_of(mt_node *n, int level) {
  return atomic_load_explicit(link_at(n, level), memory_order_acquire);
}

/* The entry bytes, right after the level-0 link. */
static inline char *entry_of(mt_node *n) { return (char *)n + sizeof(mt_link); }

/* The internal key of an entry. Entries were encoded by add, so the varint
 * is well formed; ST_MAX_VARINT32 bounds the decoder. */
static inline st_slice entry_ikey(const char *e) {
  uint32_t n;
  const char *p = st_get_varint32(e, e + ST_MAX_VARINT32, &n);
  return st_slice_make(p, n);
}

static inline st_slice entry_value(st_slice ikey) {
  const char *p = ikey.data + ikey.size;
  uint32_t n;
  p = st_get_varint32(p, p + ST_MAX_VARINT32, &n);
  return st_slice_make(p, n);
}

/* Internal-key order between node n (not the head) and key. */
static inline int node_cmp(const st_memtable *m, mt_node *n, st_slice key) {
  return st_icmp(m->ucmp, entry_ikey(entry_of(n)), key);
}

/* First node >= key, or NULL. When prev is not NULL it receives, for every
 * level, the last node < key at that level (the head if none). */
static mt_node *find_ge(const st_memtable *m, st_slice key, mt_node **prev) {
  mt_node *x = m->head;
  int level = atomic_load_explicit(&m->max_height, memory_order_relaxed) - 1;
  for (;;) {
    mt_node *next = next_of(x, level);
    if (next && node_cmp(m, next, key) < 0) {
      x = next;
      continue;
    }
    if (prev) prev[level] = x;
    if (level == 0) return next;
    level--;
  }
}

/* Last node < key, or the head if none. */
static mt_node *find_lt(const st_memtable *m, st_slice key) {
  mt_node *x = m->head;
  int level = atomic_load_explicit(&m->max_height, memory_order_relaxed) - 1;
  for (;;) {
    mt_node *next = next_of(x, level);
    if (next && node_cmp(m, next, key) < 0) {
      x = next;
      continue;
    }
    if (level == 0) return x;
    level--;
  }
}

/* Last node, or the head when empty. */
static mt_node *find_last(const st_memtable *m) {
  mt_node *x = m->head;
  int level = atomic_load_explicit(&m->max_height, memory_order_relaxed) - 1;
  for (;;) {
    mt_node *next = next_of(x, level);
    if (next) {
      x = next;
      continue;
    }
    if (level == 0) return x;
    level--;
  }
}

/* Allocates a node of `height` links followed by entry_len bytes; the links
 * are left for the caller to set. */
static mt_node *alloc_node(st_memtable *m, int height, size_t entry_len) {
  size_t links = (size_t)height * sizeof(mt_link);
  if (entry_len > SIZE_MAX - links) return NULL;
  char *mem = st_arena_alloc_aligned(&m->arena, links + entry_len);
  if (!mem) return NULL;
  return (mt_node *)(mem + links - sizeof(mt_link));
}

st_memtable *st_memtable_new(const st_comparator *ucmp) {
  st_memtable *m = malloc(sizeof *m);
  if (!m) goto oom;
  m->ucmp = ucmp;
  m->first_seq = 0;
  atomic_init(&m->refs, 1);
  atomic_init(&m->max_height, 1);
  atomic_init(&m->count, 0);
  st_random_init(&m->rnd, 0xdeadbeef);
  st_arena_init(&m->arena);
  m->head = alloc_node(m, MAX_HEIGHT, 0);
  if (!m->head) {
    st_arena_free(&m->arena);
    free(m);
    goto oom;
  }
  for (int i = 0; i < MAX_HEIGHT; i++) {
    atomic_init(link_at(m->head, i), NULL);
    m->tail[i] = m->head;
  }
  return m;
oom:
  st_err(STRATA_ENOMEM, "cannot allocate memtable");
  return NULL;
}

void st_memtable_ref(st_memtable *m) {
  atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void st_memtable_unref(st_memtable *m) {
  if (!m) return;
  /* acq_rel: every use by other holders happens before the free. */
  if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1) return;
  st_arena_free(&m->arena);
  free(m);
}

size_t st_memtable_memory_usage(const st_memtable *m) { return st_arena_memory_usage(&m->arena); }

uint64_t st_memtable_count(const st_memtable *m) {
  return atomic_load_explicit(&m->count, memory_order_relaxed);
}

static int random_height(st_memtable *m) {
  int h = 1;
  while (h < MAX_HEIGHT && st_random_one_in(&m->rnd, BRANCHING))
    h++;
  return h;
}

int st_memtable_add(st_memtable *m, uint64_t seq, int type, st_slice key, st_slice value) {
  if (key.size > UINT32_MAX - 8 || value.size > UINT32_MAX)
    return st_err(STRATA_EINVAL, "memtable entry: key or value larger than 4 GiB");
  uint32_t ikey_len = (uint32_t)key.size + 8;
  size_t entry_len = (size_t)st_varint_length(ikey_len) + ikey_len +
                     (size_t)st_varint_length(value.size) + value.size;

  int height = random_height(m);
  mt_node *x = alloc_node(m, height, entry_len);
  if (!x) return st_err(STRATA_ENOMEM, "memtable: cannot allocate %zu bytes", entry_len);

  char *p = entry_of(x);
  p = st_put_varint32(p, ikey_len);
  if (key.size) memcpy(p, key.data, key.size);
  p += key.size;
  st_put_fixed64(p, st_pack_tag(seq, type));
  st_slice ikey = st_slice_make(p - key.size, ikey_len);
  p = st_put_varint32(p + 8, (uint32_t)value.size);
  if (value.size) memcpy(p, value.data, value.size);

  mt_node *prev[MAX_HEIGHT];
  mt_node *last = m->tail[0];
  if (last == m->head || node_cmp(m, last, ikey) < 0) {
    /* Past every entry: it goes after each level's last node. */
    memcpy(prev, m->tail, sizeof prev);
  } else {
    find_ge(m, ikey, prev);
  }
  int cur = atomic_load_explicit(&m->max_height, memory_order_relaxed);
  if (height > cur) {
    for (int i = cur; i < height; i++)
      prev[i] = m->head;
    atomic_store_explicit(&m->max_height, height, memory_order_relaxed);
  }
  for (int i = 0; i < height; i++) {
    /* Nobody follows x's level-i link before x is published on level i,
     * so the link itself needs no ordering; the release store that
     * publishes x orders the link and the entry before it. */
    mt_node *next = atomic_load_explicit(link_at(prev[i], i), memory_order_relaxed);
    atomic_store_explicit(link_at(x, i), next, memory_order_relaxed);
    atomic_store_explicit(link_at(prev[i], i), x, memory_order_release);
    if (!next) m->tail[i] = x;
  }
  atomic_store_explicit(&m->count, atomic_load_explicit(&m->count, memory_order_relaxed) + 1,
                        memory_order_relaxed);
  return 0;
}

/* The newest entry of key with sequence <= seq; its sequence number in
 * *found_seq when found_seq is not NULL, its value in *val when val is not
 * NULL. */
static inline int lookup(st_memtable *m, st_slice key, uint64_t seq, st_buf *val,
                         uint64_t *found_seq) {
  char stack[STACK_KEY];
  char *buf = stack;
  size_t n = key.size + 8;
  if (n < key.size) return st_err(STRATA_ENOMEM, "memtable lookup key too large");
  if (n > sizeof stack) {
    buf = malloc(n);
    if (!buf) return st_err(STRATA_ENOMEM, "memtable: cannot allocate a %zu-byte lookup key", n);
  }
  if (key.size) memcpy(buf, key.data, key.size);
  if (seq > ST_MAX_SEQUENCE) seq = ST_MAX_SEQUENCE;
  st_put_fixed64(buf + key.size, st_pack_tag(seq, ST_TYPE_FOR_SEEK));

  mt_node *x = find_ge(m, st_slice_make(buf, n), NULL);
  if (buf != stack) free(buf);
  if (!x) return ST_MEM_ABSENT;

  st_slice ikey = entry_ikey(entry_of(x));
  if (st_ucmp(m->ucmp, st_ikey_user(ikey), key) != 0) return ST_MEM_ABSENT;
  uint64_t tag = st_ikey_tag(ikey);
  if (found_seq) *found_seq = tag >> 8;
  switch ((int)(tag & 0xff)) {
  case ST_TYPE_VALUE: {
    if (!val) return ST_MEM_FOUND;
    st_slice v = entry_value(ikey);
    return st_buf_set(val, v.data, v.size) ? STRATA_ENOMEM : ST_MEM_FOUND;
  }
  case ST_TYPE_DELETION: return ST_MEM_DELETED;
  default: return ST_MEM_ABSENT;
  }
}

int st_memtable_get(st_memtable *m, st_slice key, uint64_t seq, st_buf *val) {
  return lookup(m, key, seq, val, NULL);
}

void st_memtable_set_first_sequence(st_memtable *m, uint64_t seq) { m->first_seq = seq; }

uint64_t st_memtable_first_sequence(const st_memtable *m) { return m->first_seq; }

int st_memtable_newest(st_memtable *m, st_slice key, uint64_t *seq) {
  return lookup(m, key, ST_MAX_SEQUENCE, NULL, seq);
}

/* ------------------------------------------------------------------------ */
/* Iterator                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct mem_iter {
  st_iter base;
  const st_memtable *m;
  mt_node *node; /* NULL when not valid */
} mem_iter;

static int mi_valid(const st_iter *it) { return ((const mem_iter *)it)->node != NULL; }

static void mi_seek_to_first(st_iter *it) {
  mem_iter *mi = (mem_iter *)it;
  mi->node = next_of(mi->m->head, 0);
}

static void mi_seek_to_last(st_iter *it) {
  mem_iter *mi = (mem_iter *)it;
  mt_node *x = find_last(mi->m);
  mi->node = x == mi->m->head ? NULL : x;
}

static void mi_seek(st_iter *it, st_slice target) {
  mem_iter *mi = (mem_iter *)it;
  mi->node = find_ge(mi->m, target, NULL);
}

static void mi_next(st_iter *it) {
  mem_iter *mi = (mem_iter *)it;
  mi->node = next_of(mi->node, 0);
}

static void mi_prev(st_iter *it) {
  /* No back links: search for the last node before the current key. */
  mem_iter *mi = (mem_iter *)it;
  mt_node *x = find_lt(mi->m, entry_ikey(entry_of(mi->node)));
  mi->node = x == mi->m->head ? NULL : x;
}

static st_slice mi_key(const st_iter *it) {
  return entry_ikey(entry_of(((const mem_iter *)it)->node));
}

static st_slice mi_value(const st_iter *it) { return entry_value(mi_key(it)); }

static int mi_status(const st_iter *it) {
  (void)it;
  return 0;
}

static void mi_destroy(st_iter *it) { free(it); }

static const st_iter_ops mem_iter_ops = {
    mi_valid, mi_seek_to_first, mi_seek_to_last, mi_seek,    mi_next, mi_prev,
    mi_key,   mi_value,         mi_status,       mi_destroy, NULL};

st_iter *st_memtable_iter(st_memtable *m) {
  mem_iter *mi = malloc(sizeof *mi);
  if (!mi) {
    st_err(STRATA_ENOMEM, "cannot allocate memtable iterator");
    return NULL;
  }
  st_iter_init(&mi->base, &mem_iter_ops);
  mi->m = m;
  mi->node = NULL;
  return &mi->base;
}
