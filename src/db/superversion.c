/*
 * superversion.c - reference-counted superversions and the per-thread
 * slots that cache them (see superversion.h for the protocol and the
 * lifetimes).
 *
 * Per-thread table (one per thread that has read, found through g_key):
 *   entries[i] = {id: registry id (0 = free entry), slot}
 * Only its thread reads it, without a lock. Its thread grows it and fills
 * entries under g_mu; a closing database clears its entries' ids under
 * g_mu (an atomic store, since the thread may be scanning the table).
 */
#include "db/superversion.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct sv_table sv_table;

struct st_sv_slot {
  _Alignas(64) _Atomic(void *) sv; /* st_superversion *, IN_USE or OBSOLETE */
  st_sv_registry *reg;             /* [g_mu] */
  st_sv_slot *prev, *next;         /* in reg->slots [g_mu] */
  sv_table *table;                 /* owning thread's table [g_mu] */
  int index;                       /* entry in table [g_mu] */
};

typedef struct sv_entry {
  _Atomic uint64_t id; /* registry id; 0 = free */
  st_sv_slot *slot;
} sv_entry;

struct sv_table {
  sv_entry *entries;
  int n, cap;
  /* All tables [g_mu]: the main thread's is never destroyed (exit() runs
   * no key destructors), and a leak checker should see it as reachable. */
  sv_table *prev, *next;
};

/* Slot markers: addresses that are never superversions. */
static char in_use_marker, obsolete_marker;
#define IN_USE ((void *)&in_use_marker)
#define OBSOLETE ((void *)&obsolete_marker)

static int is_sv(void *p) { return p != NULL && p != IN_USE && p != OBSOLETE; }

/* Guards every slot list, every table's entries and the list of tables. */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static sv_table g_tables = {NULL, 0, 0, &g_tables, &g_tables};
static pthread_key_t g_key;
static int g_key_ok; /* written once under g_once */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t g_next_id = 1;

/* ------------------------------------------------------------------------ */
/* Superversions                                                            */
/* ------------------------------------------------------------------------ */

st_superversion *st_sv_new(void) {
  st_superversion *sv = aligned_alloc(_Alignof(st_superversion), sizeof *sv);
  if (sv) memset(sv, 0, sizeof *sv);
  return sv;
}

void st_sv_ref(st_superversion *sv) {
  atomic_fetch_add_explicit(&sv->refs, 1, memory_order_relaxed);
}

int st_sv_refs(const st_superversion *sv) {
  return atomic_load_explicit(&((st_superversion *)sv)->refs, memory_order_acquire);
}

/* acq_rel: every use of sv by other holders happens before the free. */
static int drop(st_superversion *sv) {
  int before = atomic_fetch_sub_explicit(&sv->refs, 1, memory_order_acq_rel);
  assert(before >= 1);
  return before == 1;
}

void st_sv_unref(st_superversion *sv) {
  if (!drop(sv)) return;
  st_memtable_unref(sv->mem);
  st_memtable_unref(sv->imm);
  st_version_unref(sv->current);
  free(sv);
}

void st_sv_unref_unlocked(st_superversion *sv) {
  if (!drop(sv)) return;
  st_memtable_unref(sv->mem);
  st_memtable_unref(sv->imm);
  st_version_unref_unlocked(sv->current, sv->mu);
  free(sv);
}

/* Drops a reference unless it is the last one; returns 0 (and keeps the
 * reference) if it was. For callers that may not take the db mutex. */
static int unref_if_not_last(st_superversion *sv) {
  int r = atomic_load_explicit(&sv->refs, memory_order_relaxed);
  while (r > 1) {
    if (atomic_compare_exchange_weak_explicit(&sv->refs, &r, r - 1, memory_order_acq_rel,
                                              memory_order_relaxed))
      return 1;
  }
  return 0;
}

/* Takes a reference on the installed superversion (the slow path). */
static st_superversion *ref_current(st_sv_registry *r) {
  pthread_mutex_lock(&r->mu);
  st_superversion *sv = r->current;
  st_sv_ref(sv);
  pthread_mutex_unlock(&r->mu);
  return sv;
}

/* ------------------------------------------------------------------------ */
/* Slots and thread tables                                                  */
/* ------------------------------------------------------------------------ */

/* Unlinks a slot from its registry and its table, and frees it.
 * REQUIRE: g_mu held, the slot holds no superversion. */
static void slot_free(st_sv_slot *s) {
  st_sv_registry *r = s->reg;
  if (s->prev)
    s->prev->next = s->next;
  else
    r->slots = s->next;
  if (s->next) s->next->prev = s->prev;
  r->nslots--;
  if (s->table) atomic_store_explicit(&s->table->entries[s->index].id, 0, memory_order_relaxed);
  free(s);
}

/* The key's destructor: runs at the exit of a thread that has read. */
static void table_destroy(void *arg) {
  sv_table *t = arg;
  pthread_mutex_lock(&g_mu);
  for (int i = 0; i < t->n; i++) {
    if (atomic_load_explicit(&t->entries[i].id, memory_order_relaxed) == 0) continue;
    st_sv_slot *s = t->entries[i].slot;
    void *p = atomic_exchange_explicit(&s->sv, OBSOLETE, memory_order_acq_rel);
    assert(p != IN_USE);
    if (is_sv(p) && !unref_if_not_last(p)) {
      /* Cannot happen (superversion.h): leave the slot, and the freeing,
       * to the next install or the close, which hold the db mutex. */
      atomic_store_explicit(&s->sv, p, memory_order_release);
      s->table = NULL;
      continue;
    }
    s->table = NULL;
    slot_free(s);
  }
  t->prev->next = t->next;
  t->next->prev = t->prev;
  pthread_mutex_unlock(&g_mu);
  free(t->entries);
  free(t);
}

static void make_key(void) { g_key_ok = pthread_key_create(&g_key, table_destroy) == 0; }

/* This thread's slot for r, or NULL if it has none. */
static st_sv_slot *find_slot(st_sv_registry *r) {
  if (!g_key_ok) return NULL;
  sv_table *t = pthread_getspecific(g_key);
  if (!t) return NULL;
  for (int i = 0; i < t->n; i++)
    if (atomic_load_explicit(&t->entries[i].id, memory_order_relaxed) == r->id)
      return t->entries[i].slot;
  return NULL;
}

/* Creates this thread's slot for r (and its table, the first time). NULL
 * when out of memory. */
static st_sv_slot *register_slot(st_sv_registry *r) {
  if (!g_key_ok) return NULL;
  sv_table *t = pthread_getspecific(g_key);
  if (!t) {
    t = calloc(1, sizeof *t);
    if (!t) return NULL;
    if (pthread_setspecific(g_key, t) != 0) {
      free(t);
      return NULL;
    }
    pthread_mutex_lock(&g_mu);
    t->next = &g_tables;
    t->prev = g_tables.prev;
    t->prev->next = t;
    t->next->prev = t;
    pthread_mutex_unlock(&g_mu);
  }
  st_sv_slot *s = aligned_alloc(_Alignof(st_sv_slot), sizeof *s);
  if (!s) return NULL;
  memset(s, 0, sizeof *s);
  atomic_init(&s->sv, OBSOLETE);
  s->reg = r;
  s->table = t;

  pthread_mutex_lock(&g_mu);
  int i = 0;
  while (i < t->n && atomic_load_explicit(&t->entries[i].id, memory_order_relaxed) != 0)
    i++;
  if (i == t->cap) {
    int cap = t->cap ? t->cap * 2 : 4;
    sv_entry *e = realloc(t->entries, (size_t)cap * sizeof *e);
    if (!e) {
      pthread_mutex_unlock(&g_mu);
      free(s);
      return NULL;
    }
    t->entries = e;
    t->cap = cap;
  }
  if (i == t->n) t->n++;
  t->entries[i].slot = s;
  atomic_store_explicit(&t->entries[i].id, r->id, memory_order_relaxed);
  s->index = i;
  s->prev = NULL;
  s->next = r->slots;
  if (r->slots) r->slots->prev = s;
  r->slots = s;
  r->nslots++;
  pthread_mutex_unlock(&g_mu);
  return s;
}

/* ------------------------------------------------------------------------ */
/* Registry                                                                 */
/* ------------------------------------------------------------------------ */

void st_sv_registry_init(st_sv_registry *r, pthread_mutex_t *db_mu) {
  pthread_once(&g_once, make_key);
  memset(r, 0, sizeof *r);
  atomic_init(&r->number, 0);
  r->id = atomic_fetch_add_explicit(&g_next_id, 1, memory_order_relaxed);
  pthread_mutex_init(&r->mu, NULL);
  r->db_mu = db_mu;
}

void st_sv_registry_destroy(st_sv_registry *r) {
  pthread_mutex_lock(&g_mu);
  while (r->slots) {
    st_sv_slot *s = r->slots;
    void *p = atomic_exchange_explicit(&s->sv, OBSOLETE, memory_order_acq_rel);
    assert(p != IN_USE); /* a read still in flight at close */
    if (is_sv(p)) st_sv_unref(p);
    slot_free(s);
  }
  pthread_mutex_unlock(&g_mu);
  if (r->current) st_sv_unref(r->current);
  r->current = NULL;
  pthread_mutex_destroy(&r->mu);
}

int st_sv_registry_nslots(st_sv_registry *r) {
  pthread_mutex_lock(&g_mu);
  int n = r->nslots;
  pthread_mutex_unlock(&g_mu);
  return n;
}

void st_sv_install(st_sv_registry *r, st_superversion *fresh, st_memtable *mem, st_memtable *imm,
                   st_version *v) {
  fresh->mem = mem;
  fresh->imm = imm;
  fresh->current = v;
  fresh->mu = r->db_mu;
  st_memtable_ref(mem);
  if (imm) st_memtable_ref(imm);
  st_version_ref(v);
  atomic_init(&fresh->refs, 1); /* the registry's */

  pthread_mutex_lock(&r->mu);
  st_superversion *old = r->current;
  fresh->number = atomic_load_explicit(&r->number, memory_order_relaxed) + 1;
  r->current = fresh;
  atomic_store_explicit(&r->number, fresh->number, memory_order_release);
  pthread_mutex_unlock(&r->mu);

  /* Take every cached superversion out of the slots, so that no idle
   * thread pins an old memtable or version, and so that each reader's next
   * st_sv_get sees OBSOLETE (and its st_sv_put, if it is reading now,
   * fails and drops the reference). Slots of exited threads left behind
   * (see table_destroy) are freed here. */
  pthread_mutex_lock(&g_mu);
  for (st_sv_slot *s = r->slots, *next; s; s = next) {
    next = s->next;
    void *p = atomic_exchange_explicit(&s->sv, OBSOLETE, memory_order_acq_rel);
    if (is_sv(p)) st_sv_unref(p);
    if (!s->table) slot_free(s);
  }
  pthread_mutex_unlock(&g_mu);
  if (old) st_sv_unref(old);
}

/* ------------------------------------------------------------------------ */
/* Reads                                                                    */
/* ------------------------------------------------------------------------ */

st_superversion *st_sv_acquire(st_sv_registry *r) { return ref_current(r); }

st_superversion *st_sv_get(st_sv_registry *r) {
  st_sv_slot *s = find_slot(r);
  if (!s) s = register_slot(r);
  if (!s) return ref_current(r); /* no slot: plain reference */
  void *p = atomic_exchange_explicit(&s->sv, IN_USE, memory_order_acq_rel);
  if (is_sv(p)) {
    st_superversion *sv = p;
    if (sv->number == atomic_load_explicit(&r->number, memory_order_acquire)) return sv;
    st_sv_unref_unlocked(sv);
  }
  /* OBSOLETE (an install came, or first use), a stale superversion, or
   * IN_USE (a nested get on this thread: its put will simply fail or
   * succeed like any other, and the outer put then drops its reference). */
  return ref_current(r);
}

void st_sv_put(st_sv_registry *r, st_superversion *sv) {
  st_sv_slot *s = find_slot(r);
  if (s) {
    void *expected = IN_USE;
    if (atomic_compare_exchange_strong_explicit(&s->sv, &expected, sv, memory_order_acq_rel,
                                                memory_order_acquire))
      return;
  }
  /* An install marked the slot OBSOLETE meanwhile (or there is no slot). */
  st_sv_unref_unlocked(sv);
}
