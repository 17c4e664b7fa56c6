/*
 * fuzz_batch.c - write-batch decoding (db/write_batch.c): the input is a
 * batch's encoding (LevelDB's WriteBatch rep). It is iterated, validated,
 * inserted into a memtable (whose contents are then read back in order),
 * appended to another batch and measured; any outcome but a crash, a
 * sanitizer report, a leak or a hang is fine, and an accepted batch must
 * insert exactly as many entries as it counts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db/memtable.h"
#include "db/write_batch.h"
#include "strata.h"
#include "table/iterator.h"
#include "util/comparator.h"
#include "util/error.h"

typedef struct counts {
  uint64_t puts, dels, bytes;
} counts;

static void on_put(void *arg, const char *k, size_t kl, const char *v, size_t vl) {
  counts *c = arg;
  c->puts++;
  c->bytes += kl + vl + (kl ? (unsigned char)k[0] : 0) + (vl ? (unsigned char)v[vl - 1] : 0);
}

static void on_del(void *arg, const char *k, size_t kl) {
  counts *c = arg;
  c->dels++;
  c->bytes += kl + (kl ? (unsigned char)k[kl - 1] : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  strata_batch b;
  if (st_batch_init(&b)) return 0;
  if (st_batch_set_contents(&b, st_slice_make((const char *)data, size)) == 0) {
    counts c = {0, 0, 0};
    int it_rc = strata_batch_iterate(&b, &c, on_put, on_del);
    int val_rc = st_batch_validate(&b);
    if ((it_rc == 0) != (val_rc == 0)) abort(); /* both read the same grammar */
    if (it_rc == 0 && c.puts + c.dels != strata_batch_count(&b)) abort();

    st_memtable *mem = st_memtable_new(&st_bytewise_comparator);
    if (mem) {
      if (st_batch_insert_into(&b, mem) == 0) {
        if (val_rc) abort(); /* inserted what validate refused */
        st_iter *it = st_memtable_iter(mem);
        uint64_t n = 0;
        if (it) {
          for (st_iter_seek_to_first(it); st_iter_valid(it); st_iter_next(it))
            n++;
          for (st_iter_seek_to_last(it); st_iter_valid(it); st_iter_prev(it))
            n--;
          st_iter_destroy(it);
        }
        if (n != 0) abort(); /* forward and backward saw the same entries */
      }
      st_memtable_unref(mem);
    }

    strata_batch *copy;
    if (strata_batch_create(&copy) == 0) {
      if (strata_batch_append(copy, &b) == 0 && val_rc == 0 &&
          strata_batch_count(copy) != strata_batch_count(&b))
        abort();
      strata_batch_size(copy);
      strata_batch_destroy(copy);
    }
  }
  st_batch_release(&b);
  st_err_clear();
  return 0;
}
