/*
 * replay_main.c - the standalone driver of the fuzzers: a main() that runs
 * a fuzzer's LLVMFuzzerTestOneInput once on each file named on the command
 * line, or on each file under each directory named (recursively, in name
 * order). Built with any C compiler (no libFuzzer needed), it is how
 * `make test` replays the seed corpora and the crash reproducers through
 * every fuzzer, in the plain and the ASan+UBSan builds.
 *
 * Exit status: 0 when every input ran (a crash or a sanitizer report ends
 * the process before); 2 on a usage or file error. A missing directory is
 * not an error (a fuzzer may have no crash reproducers yet).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path, unsigned long *count) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return 2;
  }
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (n == cap) buf = realloc(buf, cap *= 2);
    size_t got = fread(buf + n, 1, cap - n, f);
    if (got == 0) break;
    n += got;
  }
  fclose(f);
  /* A copy of exactly n bytes, so a read past the input is caught. */
  uint8_t *exact = malloc(n ? n : 1);
  memcpy(exact, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  (*count)++;
  return 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, unsigned long *count) {
  struct stat st;
  if (stat(path, &st) != 0) return 0; /* missing: nothing to replay */
  if (!S_ISDIR(st.st_mode)) return run_file(path, count);
  DIR *d = opendir(path);
  if (!d) {
    perror(path);
    return 2;
  }
  char **names = NULL;
  size_t nn = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.') continue; /* ., .. and hidden files (.gitkeep) */
    if (nn == cap) names = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
    names[nn++] = strdup(de->d_name);
  }
  closedir(d);
  if (nn) qsort(names, nn, sizeof *names, cmp_names);
  int rc = 0;
  for (size_t i = 0; i < nn; i++) {
    char child[4096];
    snprintf(child, sizeof child, "%s/%s", path, names[i]);
    if (!rc) rc = run_path(child, count);
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
    return 2;
  }
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  unsigned long count = 0;
  for (int i = 1; i < argc; i++) {
    int rc = run_path(argv[i], &count);
    if (rc) return rc;
  }
  printf("%s: %lu inputs replayed\n", argv[0], count);
  return 0;
}
