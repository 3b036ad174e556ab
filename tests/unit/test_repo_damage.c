/* test_repo_damage.c — every single-byte flip and every truncation of every
 * pack, index and snapshot object of a small repository is detected by
 * repo_verify(read_data = 100%) and the report names the damaged object.
 * Also: restore of a damaged chunk fails with ARCA_ERR_CORRUPT naming the
 * pack and the chunk. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "repo.h"
#include "repo_fixture.h"
#include "util.h"

struct fixture {
	struct repo_fixture rf;
	struct repo *r;
	char snap[65];
};

static int setup_common(void **state, int encrypt)
{
	struct fixture *f = calloc(1, sizeof *f);
	repo_fixture_init(&f->rf, &(struct repo_params){.passphrase = "pw-long-enough", .encrypt = encrypt,
							.workers = 1, .hostname = "h"});
	assert_int_equal(repo_open(&f->rf.d, &f->rf.p, &f->r), ARCA_OK);
	struct snap_writer *w;
	assert_int_equal(repo_snap_begin(f->r, "t", "unit", NULL, &w), ARCA_OK);
	for (int i = 0; i < 3; i++) {
		char name[16], data[200];
		snprintf(name, sizeof name, "item%d", i);
		memset(data, 'a' + i, sizeof data);
		struct arca_item_info info = {.struct_size = sizeof info, .name = name};
		assert_int_equal(snap_item_begin(w, &info), ARCA_OK);
		assert_int_equal(snap_item_write(w, data, sizeof data), ARCA_OK);
		assert_int_equal(snap_item_end(w), ARCA_OK);
	}
	struct repo_snapshot s;
	assert_int_equal(repo_snap_commit(w, &s), ARCA_OK);
	memcpy(f->snap, s.id, 65);
	repo_snapshot_clear(&s);
	*state = f;
	return 0;
}

static int setup_enc(void **state)
{
	return setup_common(state, 1);
}

static int setup_plain(void **state)
{
	return setup_common(state, 0);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	repo_close(f->r);
	repo_fixture_clear(&f->rf);
	free(f);
	return 0;
}

struct report {
	int n;
	const char *want;
	int named;
};

static void on_problem(void *arg, const char *problem)
{
	struct report *rp = arg;
	rp->n++;
	if (strstr(problem, rp->want))
		rp->named = 1;
}

static void expect_detected(struct fixture *f, const char *base, const char *what)
{
	struct report rp = {0, base, 0};
	int rc = repo_verify(f->r, 100, on_problem, &rp);
	if (rc != ARCA_ERR_CORRUPT || !rp.named)
		fail_msg("%s of %s: verify returned %d with %d problem(s), named=%d", what, base,
			 rc, rp.n, rp.named);
}

static void damage_all(struct fixture *f, const char *sub)
{
	char *cmd = xasprintf("find %s/%s -type f", f->rf.dir, sub);
	FILE *p = popen(cmd, "r");
	free(cmd);
	char path[4096];
	int objects = 0;
	while (fgets(path, sizeof path, p)) {
		path[strcspn(path, "\n")] = 0;
		const char *base = strrchr(path, '/') + 1;
		char *orig;
		size_t len;
		assert_int_equal(read_file(path, &orig, &len), 0);
		unsigned char *copy = malloc(len);
		for (size_t i = 0; i < len; i++) {
			memcpy(copy, orig, len);
			copy[i] ^= (unsigned char)(1u << (i % 8));
			FILE *w = fopen(path, "wb");
			fwrite(copy, 1, len, w);
			fclose(w);
			char what[64];
			snprintf(what, sizeof what, "flip at %zu", i);
			expect_detected(f, base, what);
		}
		for (size_t n = 0; n < len; n++) {
			FILE *w = fopen(path, "wb");
			fwrite(orig, 1, n, w);
			fclose(w);
			char what[64];
			snprintf(what, sizeof what, "truncation to %zu", n);
			expect_detected(f, base, what);
		}
		FILE *w = fopen(path, "wb");
		fwrite(orig, 1, len, w);
		fclose(w);
		free(orig);
		free(copy);
		objects++;
	}
	pclose(p);
	assert_true(objects > 0);
	assert_int_equal(repo_verify(f->r, 100, NULL, NULL), ARCA_OK);
}

static void test_packs(void **state)
{
	damage_all(*state, "packs");
}

static void test_index(void **state)
{
	damage_all(*state, "index");
}

static void test_snapshots(void **state)
{
	damage_all(*state, "snapshots");
}

static void test_restore_names_chunk(void **state)
{
	struct fixture *f = *state;
	char *cmd = xasprintf("find %s/packs -type f", f->rf.dir);
	FILE *p = popen(cmd, "r");
	free(cmd);
	char path[4096];
	assert_non_null(fgets(path, sizeof path, p));
	pclose(p);
	path[strcspn(path, "\n")] = 0;
	FILE *w = fopen(path, "r+b");
	fseek(w, 20, SEEK_SET);
	fputc(0, w);
	fputc(1, w);
	fclose(w);
	struct snap_reader *rd;
	struct arca_item_info info;
	assert_int_equal(repo_snap_open(f->r, f->snap, &rd), ARCA_OK);
	assert_int_equal(snap_next(rd, &info), ARCA_OK);
	char buf[512];
	size_t got;
	assert_int_equal(snap_read(rd, buf, sizeof buf, &got), ARCA_ERR_CORRUPT);
	assert_non_null(strstr(err_msg(), strrchr(path, '/') + 1));
	assert_non_null(strstr(err_msg(), "item 'item0'"));
	assert_non_null(strstr(err_msg(), "chunk "));
	snap_close(rd);
}

int main(void)
{
	log_level = -1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_packs, setup_enc, teardown),
		cmocka_unit_test_setup_teardown(test_index, setup_enc, teardown),
		cmocka_unit_test_setup_teardown(test_snapshots, setup_enc, teardown),
		cmocka_unit_test_setup_teardown(test_packs, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_index, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_snapshots, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_restore_names_chunk, setup_enc, teardown),
		cmocka_unit_test_setup_teardown(test_restore_names_chunk, setup_plain, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
