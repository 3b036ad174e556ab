/* test_repo_dest.h — a small destination over a local directory for the
 * repository's unit tests (atomic puts by rename, exclusive puts by link). */
#ifndef TEST_REPO_DEST_H
#define TEST_REPO_DEST_H

#include "repo.h"

extern const struct arca_dest_ops test_dir_ops;
/* A fresh temp directory; free with test_dir_remove. */
char *test_dir_new(void);
void test_dir_remove(char *dir);
/* Path of object `name` inside dir (malloc'd). */
char *test_dir_path(const char *dir, const char *name);

/* Deterministic pseudo-random bytes. */
void test_fill_random(unsigned char *p, size_t n, uint64_t seed);

#endif
