/*
 * merger.c - the merging iterator (see merger.h).
 *
 * The current entry is the smallest (forward) or largest (reverse) key
 * among the valid children; ties go to the lowest-numbered child going
 * forward and the highest going backward, so the reverse order is exactly
 * the forward order reversed. Every child's validity and key are cached
 * after each move of that child, so comparisons are inline, without
 * indirect calls. Going forward -- scans, compactions -- the live children
 * are kept in a binary min-heap, so each step costs O(log n) comparisons
 * rather than n; going backward (rarer) a linear scan picks the largest.
 *
 * Changing direction: going forward, every non-current child is positioned
 * past the current entry; going backward, before it. So on a switch each
 * other child is re-sought to the current key and stepped once if needed,
 * as LevelDB's MergingIterator does, with the tie rule above applied to
 * equal keys so that duplicates come out in the same order both ways.
 *
 * Errors: a child that stops on an error (invalid, status set) stops the
 * merged iterator at once, forward and backward -- not valid, its status
 * the child's error, and sticky (every later move leaves it so). Treating
 * the child as exhausted instead would let an older version of a key from
 * another child (a deeper level) show through in place of the entry the
 * failed child could not read. The check costs nothing while children
 * stay valid: a child's status is read only when it stops.
 */
#include "table/merger.h"

#include <assert.h>
#include <stdlib.h>

#include "util/error.h"
#include "util/internal_key.h"

typedef struct merging_iter {
  st_iter base;
  const st_comparator *ucmp;
  int n;
  st_iter **child;
  st_slice *key; /* key[i] is child i's key when live[i] */
  char *live;    /* live[i]: child i is valid */
  int *heap;     /* forward: live children, heap-ordered by (key, index) */
  int hn;        /* entries in heap */
  int current;   /* index of the current child, -1 when invalid */
  int forward;   /* direction of the last move */
  st_error err;  /* the first error a child stopped on (code 0: none) */
} merging_iter;

/* Child i stopped: an error stops the merge (see the top of the file). */
static void child_stopped(merging_iter *m, int i) {
  int rc = st_iter_status(m->child[i]);
  if (rc && !m->err.code) st_error_capture(&m->err, rc);
}

static inline void refresh(merging_iter *m, int i) {
  m->live[i] = (char)st_iter_valid(m->child[i]);
  if (m->live[i])
    m->key[i] = st_iter_key(m->child[i]);
  else
    child_stopped(m, i);
}

/* After a move: no current entry once a child has failed. */
static inline void settle(merging_iter *m) {
  if (m->err.code) m->current = -1;
}

/* Forward order of children a and b: by key, ties to the lower index. */
static inline int before(const merging_iter *m, int a, int b) {
  int r = st_icmp(m->ucmp, m->key[a], m->key[b]);
  return r < 0 || (r == 0 && a < b);
}

static void sift_down(merging_iter *m, int pos) {
  int *h = m->heap, n = m->hn, x = h[pos];
  for (;;) {
    int c = 2 * pos + 1;
    if (c >= n) break;
    if (c + 1 < n && before(m, h[c + 1], h[c])) c++;
    if (!before(m, h[c], x)) break;
    h[pos] = h[c];
    pos = c;
  }
  h[pos] = x;
}

/* Rebuilds the heap from every live child; the smallest becomes current. */
static void find_smallest(merging_iter *m) {
  m->hn = 0;
  for (int i = 0; i < m->n; i++)
    if (m->live[i]) m->heap[m->hn++] = i;
  for (int pos = m->hn / 2 - 1; pos >= 0; pos--)
    sift_down(m, pos);
  m->current = m->hn ? m->heap[0] : -1;
}

/* After the current child (the heap's root) moved forward. */
static void advance_smallest(merging_iter *m) {
  if (!m->live[m->heap[0]]) m->heap[0] = m->heap[--m->hn];
  if (m->hn) sift_down(m, 0);
  m->current = m->hn ? m->heap[0] : -1;
}

static void find_largest(merging_iter *m) {
  int best = -1;
  for (int i = m->n - 1; i >= 0; i--) {
    if (m->live[i] && (best < 0 || st_icmp(m->ucmp, m->key[i], m->key[best]) > 0)) best = i;
  }
  m->current = best;
}

static int mi_valid(const st_iter *base) { return ((const merging_iter *)base)->current >= 0; }

static void mi_seek_to_first(st_iter *base) {
  merging_iter *m = (merging_iter *)base;
  for (int i = 0; i < m->n && !m->err.code; i++) {
    st_iter_seek_to_first(m->child[i]);
    refresh(m, i);
  }
  find_smallest(m);
  m->forward = 1;
  settle(m);
}

static void mi_seek_to_last(st_iter *base) {
  merging_iter *m = (merging_iter *)base;
  for (int i = 0; i < m->n && !m->err.code; i++) {
    st_iter_seek_to_last(m->child[i]);
    refresh(m, i);
  }
  find_largest(m);
  m->forward = 0;
  settle(m);
}

static void mi_seek(st_iter *base, st_slice target) {
  merging_iter *m = (merging_iter *)base;
  for (int i = 0; i < m->n && !m->err.code; i++) {
    st_iter_seek(m->child[i], target);
    refresh(m, i);
  }
  find_smallest(m);
  m->forward = 1;
  settle(m);
}

static void mi_next(st_iter *base) {
  merging_iter *m = (merging_iter *)base;
  assert(m->current >= 0);
  int cur = m->current;
  if (!m->forward) {
    /* Other children sit before the current key. Move each to the entry
     * that follows the current one in forward order: the first key >= the
     * current key for children after cur (an equal key of theirs comes
     * later, ties going to the lowest index), the first key > it for
     * children before cur. Only the others move, so k stays valid. */
    st_slice k = m->key[cur];
    for (int i = 0; i < m->n; i++) {
      if (i == cur) continue;
      st_iter_seek(m->child[i], k);
      refresh(m, i);
      if (i < cur && m->live[i] && st_icmp(m->ucmp, m->key[i], k) == 0) {
        st_iter_next(m->child[i]);
        refresh(m, i);
      }
    }
    m->forward = 1;
    /* Every other child is now after cur's entry, so cur is the root. */
    find_smallest(m);
    if (m->err.code) {
      settle(m);
      return;
    }
  }
  st_iter_next(m->child[cur]);
  refresh(m, cur);
  advance_smallest(m);
  settle(m);
}

static void mi_prev(st_iter *base) {
  merging_iter *m = (merging_iter *)base;
  assert(m->current >= 0);
  int cur = m->current;
  if (m->forward) {
    /* Other children sit after the current key. Move each to the entry
     * that precedes the current one in forward order: the last key <= the
     * current key for children before cur (their equal key came first),
     * the last key < it for children after cur. */
    st_slice k = m->key[cur];
    for (int i = 0; i < m->n; i++) {
      if (i == cur) continue;
      st_iter *c = m->child[i];
      st_iter_seek(c, k);
      if (!st_iter_valid(c) && !st_iter_status(c))
        st_iter_seek_to_last(c);
      else if (st_iter_valid(c) && (i > cur || st_icmp(m->ucmp, st_iter_key(c), k) != 0))
        st_iter_prev(c);
      refresh(m, i);
    }
    m->forward = 0;
    if (m->err.code) {
      settle(m);
      return;
    }
  }
  st_iter_prev(m->child[cur]);
  refresh(m, cur);
  find_largest(m);
  settle(m);
}

static st_slice mi_key(const st_iter *base) {
  const merging_iter *m = (const merging_iter *)base;
  assert(m->current >= 0);
  return m->key[m->current];
}

static st_slice mi_value(const st_iter *base) {
  const merging_iter *m = (const merging_iter *)base;
  assert(m->current >= 0);
  return st_iter_value(m->child[m->current]);
}

static int mi_status(const st_iter *base) {
  const merging_iter *m = (const merging_iter *)base;
  if (m->err.code) return st_error_raise(&m->err);
  for (int i = 0; i < m->n; i++) {
    int rc = st_iter_status(m->child[i]);
    if (rc) return rc;
  }
  return 0;
}

static int mi_stored(const st_iter *base, st_stored_entry *out) {
  const merging_iter *m = (const merging_iter *)base;
  return st_iter_stored(m->child[m->current], out);
}

static void mi_destroy(st_iter *base) {
  merging_iter *m = (merging_iter *)base;
  for (int i = 0; i < m->n; i++)
    st_iter_destroy(m->child[i]);
  free(m);
}

static const st_iter_ops merging_ops = {mi_valid,  mi_seek_to_first, mi_seek_to_last, mi_seek,
                                        mi_next,   mi_prev,          mi_key,          mi_value,
                                        mi_status, mi_destroy,       mi_stored};

st_iter *st_merging_iter_new(const st_comparator *ucmp, st_iter **children, int n) {
  if (n == 1) return children[0];
  if (n <= 0) return st_iter_empty(0);
  /* One allocation: the struct, then the child, key, heap and live arrays. */
  size_t size =
      sizeof(merging_iter) + (size_t)n * (sizeof(st_iter *) + sizeof(st_slice) + sizeof(int) + 1);
  merging_iter *m = malloc(size);
  if (!m) {
    for (int i = 0; i < n; i++)
      st_iter_destroy(children[i]);
    return NULL;
  }
  st_iter_init(&m->base, &merging_ops);
  m->ucmp = ucmp;
  m->n = n;
  m->child = (st_iter **)(m + 1);
  m->key = (st_slice *)(m->child + n);
  m->heap = (int *)(m->key + n);
  m->live = (char *)(m->heap + n);
  m->hn = 0;
  for (int i = 0; i < n; i++) {
    m->child[i] = children[i];
    m->live[i] = 0;
  }
  m->current = -1;
  m->forward = 1;
  m->err.code = 0;
  m->err.msg[0] = '\0';
  return &m->base;
}
