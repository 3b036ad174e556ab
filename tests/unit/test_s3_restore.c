/* test_s3_restore.c — the pure parts of the s3 target's restore:
 * plugins/s3/s3_keypath.c (keys as paths under a local directory: never
 * escaping it, never colliding, reversible) and plugins/s3/s3_select.c
 * (the newest state of each key as of a snapshot, delete markers
 * included). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "s3_keypath.h"
#include "s3_select.h"

/* Every component is a safe name: not empty, not "." or "..", short, no
 * control byte. */
static void assert_safe(const char *path)
{
	char *p = strdup(path), *save = NULL;
	assert_true(path[0] && path[0] != '/' && path[strlen(path) - 1] != '/');
	assert_null(strstr(path, "//"));
	for (char *c = strtok_r(p, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		assert_true(strcmp(c, ".") && strcmp(c, ".."));
		assert_true(strlen(c) <= S3K_NAME_MAX + 2);
		for (const unsigned char *b = (const unsigned char *)c; *b; b++)
			assert_true(*b >= 0x20 && *b != 0x7f);
	}
	free(p);
}

static void round_trip(const char *key, int self, const char *want)
{
	char *p = s3k_path(key, self);
	assert_non_null(p);
	if (want)
		assert_string_equal(p, want);
	assert_safe(p);
	char *k = s3k_key(p);
	assert_non_null(k);
	assert_string_equal(k, key);
	free(k);
	free(p);
}

static void test_paths(void **state)
{
	(void)state;
	round_trip("img/a.jpg", 0, "img/a.jpg");
	round_trip("/a", 0, "%/a");
	round_trip("a//b", 0, "a/%/b");
	round_trip("..", 0, "%2E%2E");
	round_trip(".", 0, "%2E");
	round_trip("../../etc/passwd", 0, "%2E%2E/%2E%2E/etc/passwd");
	round_trip("a/./b/../c", 0, "a/%2E/b/%2E%2E/c");
	round_trip("photos/", 0, "photos/%");
	round_trip("/", 0, "%/%");
	round_trip("...", 0, "...");
	round_trip("100%", 0, "100%25");
	round_trip("%self", 0, "%25self");
	round_trip("%manifest.jsonl", 0, "%25manifest.jsonl");
	round_trip("a\nb\tc\x7f", 0, "a%0Ab%09c%7F");
	round_trip("\xc3\xb1"
	           "and\xc3\xba.txt",
	           0,
	           "\xc3\xb1"
	           "and\xc3\xba.txt");
	round_trip("bad\xff\xc3(", 0, "bad%FF%C3(");
	round_trip("trailing space ", 0, "trailing space ");
	round_trip("a", 1, "a/%self");
	round_trip("a/", 1, "a/%/%self");
	round_trip("/", 1, "%/%/%self");
	/* long segments go on in the next component; a last piece "." or ".."
	 * is escaped */
	char key[5000];
	memset(key, 'x', 4096);
	key[4096] = '\0';
	round_trip(key, 0, NULL);
	memset(key, 'x', S3K_NAME_MAX);
	strcpy(key + S3K_NAME_MAX, "..");
	round_trip(key, 0, NULL);
	char *p = s3k_path(key, 0);
	assert_non_null(strstr(p, "%+/%2E%2E"));
	free(p);
	memset(key, 0, sizeof key);
	for (int i = 0; i < 1500; i++)
		strcat(key, "\xe2\x82\xac"); /* never cut inside a character */
	round_trip(key, 0, NULL);
	for (int i = 0; i < 1365; i++)
		memcpy(key + 3 * i, "%/.", 3);
	key[4095] = '\0';
	round_trip(key, 0, NULL);
	/* what no key makes */
	const char *bad[] = {"%", "a/%self/b", "%self", "a/%2", "a/%zz", "a//b", "a%+", "a/%00"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char *k = s3k_key(bad[i]);
		if (k)
			fail_msg("s3k_key(%s) gave %s", bad[i], k);
	}
}

/* Distinct keys, distinct paths: every pair of a set of nasty keys. */
static void test_no_collision(void **state)
{
	(void)state;
	const char *keys[] = {"a",   "a/",    "a//", "/a",     "a/%", "a/%25", "a%2F",
	                      ".",   "..",    "%2E", "%2E%2E", "%",   "%self", "a/%self",
	                      "x%+", "x%+/y", "xy",  " ",      "",    "\xff",  "%FF"};
	size_t n = sizeof keys / sizeof *keys - 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			for (int si = 0; si < 2; si++)
				for (int sj = 0; sj < 2; sj++) {
					if (!keys[i][0] || !keys[j][0] || (i == j && si == sj))
						continue;
					char *a = s3k_path(keys[i], si), *b = s3k_path(keys[j], sj);
					if (i != j && !strcmp(a, b))
						fail_msg("%s and %s both map to %s", keys[i],
						         keys[j], a);
					free(a), free(b);
				}
}

static struct s3s_entry E(const char *name, uint64_t ord, int64_t sec, int tomb, int latest) {
	struct s3s_entry e = {.name = (char *)name,
	                      .etag = (char *)"",
	                      .ord = ord,
	                      .sec = sec,
	                      .tomb = tomb,
	                      .latest = latest};
	return e;
}

static const struct s3s_entry *
winner(const struct s3s_entry *e, size_t n, const char *name)
{
	const struct s3s_entry *w = NULL;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(e[i].name, name) && e[i].win) {
			assert_null(w); /* exactly one */
			w = &e[i];
		}
	assert_non_null(w);
	return w;
}

static void test_select(void **state)
{
	(void)state;
	struct s3s_entry e[] = {
	    E("plain", 0, 100, 0, 0),
	    /* newest first, as a versioned listing gives them */
	    E("v", 1, 300, 0, 0),
	    E("v", 2, 200, 0, 0),
	    E("v", 3, 100, 0, 0),
	    /* deleted: the delete marker is the newest */
	    E("gone", 4, 500, 1, 0),
	    E("gone", 5, 400, 0, 0),
	    /* deleted and written again */
	    E("back", 6, 700, 0, 0),
	    E("back", 7, 600, 1, 0),
	    E("back", 8, 500, 0, 0),
	    /* oldest first: the newest still wins */
	    E("up", 9, 100, 0, 0),
	    E("up", 10, 200, 0, 0),
	    /* the listing's word wins over the clock */
	    E("lat", 11, 100, 0, 1),
	    E("lat", 12, 900, 0, 0),
	    /* same second: the first stored */
	    E("tie", 13, 50, 0, 0),
	    E("tie", 14, 50, 1, 0),
	    /* not adjacent in the snapshot */
	    E("spread", 15, 10, 0, 0),
	    E("other", 16, 1, 0, 0),
	    E("spread", 17, 20, 1, 0),
	};
	size_t n = sizeof e / sizeof *e;
	e[16].nsec = 0;
	s3s_select(e, n);
	assert_int_equal(winner(e, n, "plain")->ord, 0);
	assert_int_equal(winner(e, n, "v")->ord, 1);
	assert_true(winner(e, n, "gone")->tomb);
	assert_int_equal(winner(e, n, "back")->ord, 6);
	assert_int_equal(winner(e, n, "up")->ord, 10);
	assert_int_equal(winner(e, n, "lat")->ord, 11);
	assert_int_equal(winner(e, n, "tie")->ord, 13);
	assert_true(winner(e, n, "spread")->tomb);
	assert_int_equal(winner(e, n, "other")->ord, 16);
	s3s_sort_ord(e, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(e[i].ord, i);
	/* nanoseconds break a tie of seconds */
	struct s3s_entry f[] = {E("k", 0, 5, 0, 0), E("k", 1, 5, 1, 0)};
	f[1].nsec = 1;
	s3s_select(f, 2);
	assert_true(f[1].win && f[1].tomb);
	assert_true(s3s_meta_latest("etag: x\nis-latest: true\n"));
	assert_false(s3s_meta_latest("etag: x\nis-latest: false\nx-amz-meta-a: is-latest: true"));
	assert_true(s3s_sig(0, 1, 0, "a", "b") != s3s_sig(7, 1, 0, "a", "b"));
	assert_true(s3s_sig(0, 1, 0, "ab", "") != s3s_sig(0, 1, 0, "a", "b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_no_collision),
	    cmocka_unit_test(test_select),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
