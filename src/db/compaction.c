/*
 * compaction.c - what to compact (LevelDB's leveled policy): size- and
 * seek-triggered picking, manual ranges, the overlap queries they rest on,
 * and the per-key decisions a running compaction asks (see version_set.h).
 * Called with the database mutex held, except the decisions, which only
 * read the compaction's own input version.
 */
#include "db/version_set.h"

#include <stdlib.h>
#include <string.h>

#include "db/version_internal.h"
#include "util/error.h"
#include "util/internal_key.h"

/* ------------------------------------------------------------------------ */
/* Overlap queries                                                          */
/* ------------------------------------------------------------------------ */

static int after_file(const st_comparator *ucmp, const st_slice *user_key, const st_file_meta *f) {
  return user_key && st_ucmp(ucmp, *user_key, st_ikey_user(f->largest)) > 0;
}

static int before_file(const st_comparator *ucmp, const st_slice *user_key, const st_file_meta *f) {
  return user_key && st_ucmp(ucmp, *user_key, st_ikey_user(f->smallest)) < 0;
}

int st_version_overlap_in_level(st_version *v, int level, const st_slice *smallest_user,
                                const st_slice *largest_user) {
  const st_comparator *ucmp = v->vset->ucmp;
  st_file_meta **files = v->files[level];
  int n = v->nfiles[level];
  if (level == 0) {
    for (int i = 0; i < n; i++)
      if (!after_file(ucmp, smallest_user, files[i]) && !before_file(ucmp, largest_user, files[i]))
        return 1;
    return 0;
  }
  int idx = 0;
  if (smallest_user) {
    /* The smallest internal key for this user key. */
    char stackbuf[256];
    st_buf k = ST_BUF_INIT;
    st_slice key;
    if (smallest_user->size + 8 <= sizeof stackbuf) {
      memcpy(stackbuf, smallest_user->data, smallest_user->size);
      st_put_fixed64(stackbuf + smallest_user->size,
                     st_pack_tag(ST_MAX_SEQUENCE, ST_TYPE_FOR_SEEK));
      key = st_slice_make(stackbuf, smallest_user->size + 8);
    } else {
      if (st_ikey_append(&k, *smallest_user, ST_MAX_SEQUENCE, ST_TYPE_FOR_SEEK)) return 1;
      key = st_buf_slice(&k);
    }
    idx = find_file(ucmp, files, n, key);
    st_buf_free(&k);
  }
  if (idx >= n) return 0;
  return !before_file(ucmp, largest_user, files[idx]);
}

int st_version_pick_level_for_memtable_output(st_version *v, st_slice smallest_user,
                                              st_slice largest_user) {
  int level = 0;
  if (st_version_overlap_in_level(v, 0, &smallest_user, &largest_user)) return 0;
  /* Push to the next level if it does not overlap there and the level
   * after it does not overlap too much (so a later compaction of it stays
   * cheap): saves rewriting the data through L0 and L1. */
  char sb[256], lb[256];
  st_buf sbig = ST_BUF_INIT, lbig = ST_BUF_INIT;
  st_slice start, limit;
  if (smallest_user.size + 8 <= sizeof sb && largest_user.size + 8 <= sizeof lb) {
    memcpy(sb, smallest_user.data, smallest_user.size);
    st_put_fixed64(sb + smallest_user.size, st_pack_tag(ST_MAX_SEQUENCE, ST_TYPE_FOR_SEEK));
    memcpy(lb, largest_user.data, largest_user.size);
    st_put_fixed64(lb + largest_user.size, st_pack_tag(0, 0));
    start = st_slice_make(sb, smallest_user.size + 8);
    limit = st_slice_make(lb, largest_user.size + 8);
  } else {
    if (st_ikey_append(&sbig, smallest_user, ST_MAX_SEQUENCE, ST_TYPE_FOR_SEEK) ||
        st_ikey_append(&lbig, largest_user, 0, 0)) {
      st_buf_free(&sbig);
      st_buf_free(&lbig);
      return 0;
    }
    start = st_buf_slice(&sbig);
    limit = st_buf_slice(&lbig);
  }
  while (level < ST_MAX_MEM_COMPACT_LEVEL) {
    if (st_version_overlap_in_level(v, level + 1, &smallest_user, &largest_user)) break;
    if (level + 2 < ST_NUM_LEVELS) {
      /* Collect overlapping grandparent bytes. */
      int64_t sum = 0;
      st_file_meta **files = v->files[level + 2];
      for (int i = 0; i < v->nfiles[level + 2]; i++) {
        if (st_icmp(v->vset->ucmp, files[i]->largest, start) < 0) continue;
        if (st_icmp(v->vset->ucmp, files[i]->smallest, limit) > 0) continue;
        sum += (int64_t)files[i]->file_size;
      }
      if (sum > max_grandparent_overlap(v->vset)) break;
    }
    level++;
  }
  st_buf_free(&sbig);
  st_buf_free(&lbig);
  return level;
}

/* Files of `level` overlapping the user-key range of [begin, end] (internal
 * keys; NULL = open). For level 0, whose files may overlap each other, the
 * range grows to cover every file it touches, repeatedly. */
static int get_overlapping_inputs(st_version *v, int level, const st_slice *begin,
                                  const st_slice *end, file_list *out) {
  const st_comparator *ucmp = v->vset->ucmp;
  out->n = 0;
  st_slice user_begin = begin ? st_ikey_user(*begin) : st_slice_make("", 0);
  st_slice user_end = end ? st_ikey_user(*end) : st_slice_make("", 0);
  int has_begin = begin != NULL, has_end = end != NULL;
  for (int i = 0; i < v->nfiles[level];) {
    st_file_meta *f = v->files[level][i++];
    st_slice fs = st_ikey_user(f->smallest), fl = st_ikey_user(f->largest);
    if (has_begin && st_ucmp(ucmp, fl, user_begin) < 0) continue;
    if (has_end && st_ucmp(ucmp, fs, user_end) > 0) continue;
    if (list_push(out, f)) return STRATA_ENOMEM;
    if (level == 0) {
      if (has_begin && st_ucmp(ucmp, fs, user_begin) < 0) {
        user_begin = fs;
        out->n = 0;
        i = 0;
      } else if (has_end && st_ucmp(ucmp, fl, user_end) > 0) {
        user_end = fl;
        out->n = 0;
        i = 0;
      }
    }
  }
  return 0;
}

/* Smallest and largest internal keys of the files in lists a and b. */
static void get_range(const st_comparator *ucmp, const file_list *a, const file_list *b,
                      st_slice *smallest, st_slice *largest) {
  int first = 1;
  const file_list *lists[2] = {a, b};
  for (int k = 0; k < 2; k++) {
    if (!lists[k]) continue;
    for (int i = 0; i < lists[k]->n; i++) {
      st_file_meta *f = lists[k]->v[i];
      if (first || st_icmp(ucmp, f->smallest, *smallest) < 0) *smallest = f->smallest;
      if (first || st_icmp(ucmp, f->largest, *largest) > 0) *largest = f->largest;
      first = 0;
    }
  }
}

/* If a user key's entries are split across two files of a level and only
 * the first is compacted down, a read would find the older entry in this
 * level first. So pull in every file whose smallest key shares the user key
 * of the compaction's largest key (LevelDB 1.23's AddBoundaryInputs). */
static int add_boundary_inputs(const st_comparator *ucmp, st_version *v, int level,
                               file_list *files) {
  if (files->n == 0) return 0;
  st_slice largest = files->v[0]->largest;
  for (int i = 1; i < files->n; i++)
    if (st_icmp(ucmp, files->v[i]->largest, largest) > 0) largest = files->v[i]->largest;
  for (;;) {
    st_file_meta *best = NULL;
    for (int i = 0; i < v->nfiles[level]; i++) {
      st_file_meta *f = v->files[level][i];
      if (st_icmp(ucmp, f->smallest, largest) > 0 &&
          st_ucmp(ucmp, st_ikey_user(f->smallest), st_ikey_user(largest)) == 0) {
        if (!best || st_icmp(ucmp, f->smallest, best->smallest) < 0) best = f;
      }
    }
    if (!best) return 0;
    if (list_push(files, best)) return STRATA_ENOMEM;
    largest = best->largest;
  }
}

static st_compaction *compaction_new(st_version_set *vs, int level) {
  st_compaction *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->level = level;
  c->max_output_file_size = vs->max_file_size;
  st_edit_init(&c->edit);
  c->input_version = vs->current;
  st_version_ref(c->input_version);
  return c;
}

void st_compaction_free(st_compaction *c) {
  if (!c) return;
  if (c->input_version) st_version_unref(c->input_version);
  free(c->inputs[0]);
  free(c->inputs[1]);
  free(c->grandparents);
  st_edit_clear(&c->edit);
  free(c);
}

static void take_list(st_file_meta ***dst, int *n, file_list *src) {
  free(*dst);
  *dst = src->v;
  *n = src->n;
  src->v = NULL;
  src->n = src->cap = 0;
}

static int setup_other_inputs(st_version_set *vs, st_compaction *c, file_list *in0) {
  const st_comparator *ucmp = vs->ucmp;
  st_version *v = c->input_version;
  int level = c->level;
  file_list in1 = {0}, exp0 = {0}, exp1 = {0}, grand = {0};
  int rc = add_boundary_inputs(ucmp, v, level, in0);
  st_slice smallest, largest, all_start, all_limit;
  if (!rc) {
    get_range(ucmp, in0, NULL, &smallest, &largest);
    rc = get_overlapping_inputs(v, level + 1, &smallest, &largest, &in1);
  }
  if (!rc) rc = add_boundary_inputs(ucmp, v, level + 1, &in1);
  if (!rc) {
    get_range(ucmp, in0, &in1, &all_start, &all_limit);
    /* Grow the level-L inputs if that pulls in no more level-L+1 files. */
    if (in1.n > 0) {
      rc = get_overlapping_inputs(v, level, &all_start, &all_limit, &exp0);
      if (!rc) rc = add_boundary_inputs(ucmp, v, level, &exp0);
      int64_t in1_size = total_file_size(in1.v, in1.n);
      int64_t exp0_size = total_file_size(exp0.v, exp0.n);
      if (!rc && exp0.n > in0->n && in1_size + exp0_size < expanded_compaction_limit(vs)) {
        st_slice new_start, new_limit;
        get_range(ucmp, &exp0, NULL, &new_start, &new_limit);
        rc = get_overlapping_inputs(v, level + 1, &new_start, &new_limit, &exp1);
        if (!rc) rc = add_boundary_inputs(ucmp, v, level + 1, &exp1);
        if (!rc && exp1.n == in1.n) {
          smallest = new_start;
          largest = new_limit;
          file_list t = *in0;
          *in0 = exp0;
          exp0 = t;
          t = in1;
          in1 = exp1;
          exp1 = t;
          get_range(ucmp, in0, &in1, &all_start, &all_limit);
        }
      }
    }
  }
  if (!rc && level + 2 < ST_NUM_LEVELS)
    rc = get_overlapping_inputs(v, level + 2, &all_start, &all_limit, &grand);
  if (!rc) {
    /* Start the next compaction of this level after this one's range, so
     * compactions rotate through the key space. */
    rc = st_buf_set(&vs->compact_pointer[level], largest.data, largest.size);
    if (!rc) rc = st_edit_set_compact_pointer(&c->edit, level, largest);
  }
  if (!rc) {
    take_list(&c->inputs[0], &c->ninputs[0], in0);
    take_list(&c->inputs[1], &c->ninputs[1], &in1);
    take_list(&c->grandparents, &c->ngrandparents, &grand);
  }
  list_free(&in1);
  list_free(&exp0);
  list_free(&exp1);
  list_free(&grand);
  return rc;
}

st_compaction *st_vset_pick_compaction(st_version_set *vs, int *rc) {
  st_version *cur = vs->current;
  *rc = 0;
  int level;
  file_list in0 = {0};
  st_compaction *c;
  if (cur->compaction_score >= 1) {
    level = cur->compaction_level;
    c = compaction_new(vs, level);
    if (!c) goto oom;
    /* First file after the level's compaction pointer, else wrap around. */
    for (int i = 0; i < cur->nfiles[level]; i++) {
      st_file_meta *f = cur->files[level][i];
      if (vs->compact_pointer[level].size == 0 ||
          st_icmp(vs->ucmp, f->largest, st_buf_slice(&vs->compact_pointer[level])) > 0) {
        if (list_push(&in0, f)) goto oom;
        break;
      }
    }
    if (in0.n == 0 && list_push(&in0, cur->files[level][0])) goto oom;
  } else if (cur->file_to_compact) {
    level = cur->file_to_compact_level;
    c = compaction_new(vs, level);
    if (!c || list_push(&in0, cur->file_to_compact)) goto oom;
  } else {
    return NULL;
  }
  if (level == 0) {
    /* L0 files overlap: take every one overlapping the chosen one. */
    st_slice smallest, largest;
    get_range(vs->ucmp, &in0, NULL, &smallest, &largest);
    if (get_overlapping_inputs(cur, 0, &smallest, &largest, &in0)) goto oom;
  }
  if ((*rc = setup_other_inputs(vs, c, &in0)) != 0) {
    list_free(&in0);
    st_compaction_free(c);
    return NULL;
  }
  list_free(&in0);
  return c;
oom:
  list_free(&in0);
  st_compaction_free(c);
  *rc = st_err(STRATA_ENOMEM, "picking compaction");
  return NULL;
}

st_compaction *st_vset_compact_range(st_version_set *vs, int level, const st_slice *begin,
                                     const st_slice *end, int *rc) {
  *rc = 0;
  file_list in = {0};
  if ((*rc = get_overlapping_inputs(vs->current, level, begin, end, &in)) != 0) return NULL;
  if (in.n == 0) {
    list_free(&in);
    return NULL;
  }
  /* Compact at most about one output file's worth of a deeper level at a
   * time, so a huge range does not become one huge compaction; the caller
   * loops. Level 0 files overlap, so all of them go. */
  if (level > 0) {
    int64_t total = 0;
    for (int i = 0; i < in.n; i++) {
      total += (int64_t)in.v[i]->file_size;
      if (total >= (int64_t)vs->max_file_size) {
        in.n = i + 1;
        break;
      }
    }
  }
  st_compaction *c = compaction_new(vs, level);
  if (!c) {
    list_free(&in);
    *rc = st_err(STRATA_ENOMEM, "compaction");
    return NULL;
  }
  if ((*rc = setup_other_inputs(vs, c, &in)) != 0) {
    st_compaction_free(c);
    c = NULL;
  }
  list_free(&in);
  return c;
}

int st_compaction_is_trivial_move(const st_compaction *c) {
  /* A single file with nothing to merge with can move down as it is --
   * unless that would leave it overlapping so much of level+2 that the
   * next compaction becomes expensive. */
  return c->ninputs[0] == 1 && c->ninputs[1] == 0 &&
         total_file_size(c->grandparents, c->ngrandparents) <=
             max_grandparent_overlap(c->input_version->vset);
}

int st_compaction_add_input_deletions(st_compaction *c) {
  for (int w = 0; w < 2; w++)
    for (int i = 0; i < c->ninputs[w]; i++)
      if (st_edit_delete_file(&c->edit, c->level + w, c->inputs[w][i]->number))
        return STRATA_ENOMEM;
  return 0;
}

void st_compaction_cursor_init(st_compaction_cursor *cur) { memset(cur, 0, sizeof *cur); }

int st_compaction_is_base_level_for_key(const st_compaction *c, st_compaction_cursor *cur,
                                        st_slice user_key) {
  st_version *v = c->input_version;
  const st_comparator *ucmp = v->vset->ucmp;
  /* Keys arrive in increasing order, so each level's pointer only moves
   * forward. */
  for (int lvl = c->level + 2; lvl < ST_NUM_LEVELS; lvl++) {
    st_file_meta **files = v->files[lvl];
    while (cur->level_ptrs[lvl] < v->nfiles[lvl]) {
      st_file_meta *f = files[cur->level_ptrs[lvl]];
      if (st_ucmp(ucmp, user_key, st_ikey_user(f->largest)) <= 0) {
        if (st_ucmp(ucmp, user_key, st_ikey_user(f->smallest)) >= 0) return 0;
        break;
      }
      cur->level_ptrs[lvl]++;
    }
  }
  return 1;
}

int st_compaction_should_stop_before(const st_compaction *c, st_compaction_cursor *cur,
                                     st_slice ikey) {
  const st_comparator *ucmp = c->input_version->vset->ucmp;
  while (cur->grandparent_index < c->ngrandparents &&
         st_icmp(ucmp, ikey, c->grandparents[cur->grandparent_index]->largest) > 0) {
    if (cur->seen_key)
      cur->overlapped_bytes += (int64_t)c->grandparents[cur->grandparent_index]->file_size;
    cur->grandparent_index++;
  }
  cur->seen_key = 1;
  if (cur->overlapped_bytes > max_grandparent_overlap(c->input_version->vset)) {
    cur->overlapped_bytes = 0;
    return 1;
  }
  return 0;
}
