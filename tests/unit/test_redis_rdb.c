/* Unit tests of the redis driver's RDB walker (plugins/redis/rdb_walk.c).
 *
 * Every RDB in tests/data/redis-rdb walks clean (the public rdbtools
 * fixtures, versions 2 to 9, and one written by Debian's Redis 7.0 with
 * every value type), whatever sizes the source reads come in. In every
 * file that carries a CRC-64, each single flipped byte is refused, and so
 * is every truncation. Bytes handed to `tee` are exactly the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arca/plugin.h>
#include "rdb.h"

struct src {
	const unsigned char *p;
	size_t n, off, step;
};

static int src_read(void *arg, void *buf, size_t cap, size_t *got)
{
	struct src *s = arg;
	size_t k = s->n - s->off;
	if (k > cap)
		k = cap;
	if (s->step && k > s->step)
		k = s->step;
	memcpy(buf, s->p + s->off, k);
	s->off += k;
	*got = k;
	return ARCA_OK;
}

struct copy {
	unsigned char *p;
	size_t n;
};

static int tee_copy(void *arg, const void *data, size_t len)
{
	struct copy *c = arg;
	c->p = realloc(c->p, c->n + len);
	memcpy(c->p + c->n, data, len);
	c->n += len;
	return ARCA_OK;
}

static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *p = malloc((size_t)sz + 1);
	assert_int_equal(fread(p, 1, (size_t)sz, f), (size_t)sz);
	fclose(f);
	*n = (size_t)sz;
	return p;
}

/* Walk p[0..n); the status, with w kept for inspection (caller frees). */
static int walk(const unsigned char *p, size_t n, size_t step, struct rdb_walker *w, struct copy *c)
{
	static struct src s;
	s = (struct src){p, n, 0, step};
	memset(w, 0, sizeof *w);
	w->read = src_read;
	w->read_arg = &s;
	if (c) {
		w->tee = tee_copy;
		w->tee_arg = c;
	}
	return rdb_walk(w);
}

static int is_rdb(const char *name)
{
	size_t l = strlen(name);
	return l > 4 && strcmp(name + l - 4, ".rdb") == 0;
}

static void test_crc64_check_value(void **state)
{
	(void)state;
	assert_true(rdb_crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9caull);
	/* split updates give the same value */
	assert_true(rdb_crc64(rdb_crc64(0, "1234", 4), "56789", 5) == 0xe9c6d914c4b8d9caull);
}

static void test_fixtures_walk(void **state)
{
	(void)state;
	DIR *d = opendir(RDB_DIR);
	assert_non_null(d);
	struct dirent *e;
	int files = 0;
	while ((e = readdir(d))) {
		if (!is_rdb(e->d_name))
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", RDB_DIR, e->d_name);
		size_t n;
		unsigned char *p = slurp(path, &n);
		static const size_t steps[] = {0, 1, 7, 4096};
		for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
			struct rdb_walker w;
			struct copy c = {0};
			int rc = walk(p, n, steps[i], &w, &c);
			if (rc != ARCA_OK)
				fail_msg("%s (reads of %zu): %s", e->d_name, steps[i], w.err);
			const unsigned char *lo;
			size_t ln;
			rdb_walk_leftover(&w, &lo, &ln);
			/* what was walked is the file up to its end (one fixture
			 * was captured with a diskless EOF mark after it) */
			assert_int_equal(c.n, w.offset);
			assert_true(w.offset + ln <= n);
			assert_memory_equal(c.p, p, c.n);
			if (strcmp(e->d_name, "redis_40_with_module.rdb") != 0)
				assert_int_equal(w.offset, n);
			free(c.p);
			rdb_walker_free(&w);
		}
		free(p);
		files++;
	}
	closedir(d);
	assert_true(files >= 29);
}

/* Every flipped byte and every truncation of a file with a CRC-64 fails. */
static void test_fixtures_flips(void **state)
{
	(void)state;
	DIR *d = opendir(RDB_DIR);
	assert_non_null(d);
	struct dirent *e;
	int with_crc = 0;
	while ((e = readdir(d))) {
		if (!is_rdb(e->d_name))
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", RDB_DIR, e->d_name);
		size_t n;
		unsigned char *p = slurp(path, &n);
		struct rdb_walker w;
		assert_int_equal(walk(p, n, 0, &w, NULL), ARCA_OK);
		int crc = w.crc_present;
		size_t end = (size_t)w.offset;
		rdb_walker_free(&w);
		if (crc) {
			with_crc++;
			for (size_t i = 0; i < end; i++) {
				p[i] ^= 0xff;
				int rc = walk(p, end, 0, &w, NULL);
				if (rc == ARCA_OK)
					fail_msg("%s: flipped byte %zu was not detected", e->d_name,
					         i);
				assert_int_equal(rc, ARCA_ERR_CORRUPT);
				assert_true(strstr(w.err, "at byte offset") != NULL);
				rdb_walker_free(&w);
				p[i] ^= 0xff;
			}
		}
		for (size_t cut = 0; cut < end; cut += 1 + cut / 64) {
			int rc = walk(p, cut, 0, &w, NULL);
			if (rc != ARCA_ERR_CORRUPT)
				fail_msg("%s: cut at %zu gave %d", e->d_name, cut, rc);
			rdb_walker_free(&w);
		}
		free(p);
	}
	closedir(d);
	assert_true(with_crc >= 6);
}

static void test_message_names_offset(void **state)
{
	(void)state;
	struct rdb_walker w;
	static const unsigned char bad[] = "REDIS0009\xfe\x00\x00\x03key\x05value\x42";
	assert_int_equal(walk(bad, sizeof bad - 1, 0, &w, NULL), ARCA_ERR_CORRUPT);
	assert_non_null(strstr(w.err, "at byte offset 22"));
	assert_non_null(strstr(w.err, "unknown opcode or value type 0x42"));
	rdb_walker_free(&w);
	static const unsigned char newer[] = "REDIS0099\xff";
	assert_int_equal(walk(newer, sizeof newer - 1, 0, &w, NULL), ARCA_ERR_CORRUPT);
	assert_non_null(strstr(w.err, "RDB version 99"));
	rdb_walker_free(&w);
}

static void test_blob_checks(void **state)
{
	(void)state;
	char why[200];
	/* an empty listpack: 7 bytes, 0 entries */
	static const unsigned char lp[] = {7, 0, 0, 0, 0, 0, 0xff};
	assert_int_equal(rdb_check_listpack(lp, sizeof lp, why, sizeof why), 0);
	static const unsigned char lp1[] = {9, 0, 0, 0, 1, 0, 0x05, 0x01, 0xff};
	assert_int_equal(rdb_check_listpack(lp1, sizeof lp1, why, sizeof why), 0);
	unsigned char bad[sizeof lp1];
	memcpy(bad, lp1, sizeof bad);
	bad[7] = 2; /* wrong back-length */
	assert_int_equal(rdb_check_listpack(bad, sizeof bad, why, sizeof why), -1);
	static const unsigned char is[] = {2, 0, 0, 0, 1, 0, 0, 0, 5, 0};
	assert_int_equal(rdb_check_intset(is, sizeof is, why, sizeof why), 0);
	assert_int_equal(rdb_check_intset(is, sizeof is - 1, why, sizeof why), -1);
	assert_int_equal(rdb_version_of_server("7.0.15"), 10);
	assert_int_equal(rdb_version_of_server("7.2.4"), 11);
	assert_int_equal(rdb_version_of_server("7.4.1"), 12);
	assert_int_equal(rdb_version_of_server("6.2.6"), 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crc64_check_value), cmocka_unit_test(test_fixtures_walk),
	    cmocka_unit_test(test_fixtures_flips),    cmocka_unit_test(test_message_names_offset),
	    cmocka_unit_test(test_blob_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
