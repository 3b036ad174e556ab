/* test_s3_restore_dir.c — the s3 target's restore into a local directory
 * (plugins/s3/s3_restore.c, s3_local.c) on a snapshot the snapshot side
 * cannot make yet: a key stored several times (versions) and delete
 * markers (ARCA_ITEM_TOMBSTONE). A fake engine serves the items; the test
 * checks the newest state of each key is written, a deleted key is not,
 * and each item is read once by item_next (the restore summary's count)
 * but for versions stored after an older one of their key.
 * The bucket calls fail the test if reached: a restore into a directory
 * must make no request. test_bucket_listing restores into a bucket whose
 * fake listing is hostile (out of order, keys repeated with two answers,
 * 2,500 other keys): what differs is refused, what is the same is not
 * written, --delete-extra deletes each other key once, in batches of at most
 * 1000 (one failing for now is sent again), and never the prefix's own key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "s3.h"
#include "s3_target.h"
#include "s3_xml.h"

struct fitem {
	const char *name;
	int type;
	int64_t mtime;
	const char *meta, *data;
};
static const struct fitem *items;
static size_t n_items, cur, pos;
static int have_cur, nexts;
static const char *opt_into, *opt_prefix, *opt_overwrite, *opt_delete_extra;

static int f_item_next(struct arca_ctx *ctx, struct arca_item_info *info)
{
	(void)ctx;
	if (cur >= n_items)
		return ARCA_ERR_NOT_FOUND;
	const struct fitem *it = &items[cur++];
	nexts++;
	*info = (struct arca_item_info){.struct_size = sizeof *info,
	                                .name = it->name,
	                                .type = (enum arca_item_type)it->type,
	                                .mtime_sec = it->mtime,
	                                .size = strlen(it->data),
	                                .meta = it->meta,
	                                .flags = ARCA_ITEM_KEY_NAME};
	have_cur = 1, pos = 0;
	return ARCA_OK;
}

static int f_item_open(struct arca_ctx *ctx, const char *name, struct arca_item_info *info)
{
	for (size_t i = 0; i < n_items; i++)
		if (!strcmp(items[i].name, name)) {
			cur = i;
			int rc = f_item_next(ctx, info);
			nexts--; /* the engine counts item_next, not item_open */
			return rc;
		}
	return ARCA_ERR_NOT_FOUND;
}

static int f_item_read(struct arca_ctx *ctx, void *buf, size_t cap, size_t *got)
{
	(void)ctx;
	assert_true(have_cur);
	const char *d = items[cur - 1].data;
	size_t left = strlen(d) - pos;
	*got = left < cap ? left : cap;
	memcpy(buf, d + pos, *got);
	pos += *got;
	return ARCA_OK;
}

static const char *f_option(struct arca_ctx *ctx, const char *name)
{
	(void)ctx;
	return !strcmp(name, "into")           ? opt_into
	       : !strcmp(name, "prefix")       ? opt_prefix
	       : !strcmp(name, "overwrite")    ? opt_overwrite
	       : !strcmp(name, "delete-extra") ? opt_delete_extra
	       : !strcmp(name, "jobs")         ? "1"
	                                       : NULL;
}

static int f_cancelled(struct arca_ctx *ctx)
{
	(void)ctx;
	return 0;
}

static void f_log(enum arca_log_level l, const char *fmt, ...)
{
	(void)l, (void)fmt;
}

static int f_error(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/* what f_error printed last is not kept: the driver only quotes it */
static const char *f_error_message(void)
{
	return "failed";
}

static struct arca_host host = {.struct_size = sizeof host,
                                .abi_major = 1,
                                .abi_minor = 1,
                                .log = f_log,
                                .error = f_error,
                                .error_message = f_error_message,
                                .item_next = f_item_next,
                                .item_open = f_item_open,
                                .item_read = f_item_read,
                                .option = f_option,
                                .cancelled = f_cancelled};
const struct arca_host *s3_host = &host;

/* the bucket side, never reached here */
int s3t_request(struct s3_inst *s, const struct s3_req *rq, struct s3_resp *r, const char *what,
                struct s3_fail *f)
{
	(void)s, (void)rq, (void)r, (void)what, (void)f;
	fail();
	return 1;
}
/* The bucket of test_bucket_listing: a listing (key below "p/", ETag,
 * size) given as is; the objects written and the keys deleted, recorded. */
struct lobj {
	const char *name, *etag;
	uint64_t size;
};
static const struct lobj *listing;
static size_t n_listing;
static int bucket_mode;
static char *puts_[16], **dels;
static size_t n_puts, n_dels, cap_dels, max_batch;
static int remove_fail; /* the next remove fails, transiently */

int s3_put_object(struct s3_inst *s, struct arca_dest_call *call, const char *key, const void *data,
                  uint64_t size, arca_source_fn source, void *arg, int if_none_match,
                  const char *const (*hdrs)[2], size_t nh, unsigned how, struct s3_fail *f)
{
	(void)s, (void)call, (void)data, (void)if_none_match, (void)hdrs, (void)nh, (void)how;
	(void)f;
	if (!bucket_mode)
		fail();
	char buf[64] = "";
	assert_true(size < sizeof buf);
	assert_int_equal(source(arg, 0, buf, (size_t)size), ARCA_OK);
	/* what is written is the item's data (the key is "p/" + its name) */
	assert_string_equal(buf, items[cur - 1].data);
	assert_string_equal(key + 2, items[cur - 1].name);
	assert_true(n_puts < 16);
	puts_[n_puts++] = strdup(key);
	return ARCA_OK;
}
int s3_list_objects(struct s3_inst *s, struct arca_dest_call *call, const char *key_prefix,
                    int (*cb)(void *arg, const struct s3_obj *o), void *arg, struct s3_fail *f)
{
	(void)s, (void)call, (void)f;
	if (!bucket_mode)
		fail();
	assert_string_equal(key_prefix, "p/");
	for (size_t i = 0; i < n_listing; i++) {
		char key[300];
		snprintf(key, sizeof key, "p/%s", listing[i].name);
		struct s3_obj o = {key, listing[i].size, listing[i].etag, ""};
		int rc = cb(arg, &o);
		if (rc)
			return rc;
	}
	return ARCA_OK;
}
int s3_remove_call(void *instance, struct arca_dest_call *call, const char *const *names, size_t n)
{
	(void)instance;
	if (!bucket_mode)
		fail();
	if (remove_fail) {
		remove_fail = 0;
		assert_non_null(call);
		call->transient(call, 1);
		return ARCA_ERR_IO;
	}
	if (n > max_batch)
		max_batch = n;
	for (size_t i = 0; i < n; i++) {
		if (n_dels == cap_dels) {
			cap_dels = cap_dels ? 2 * cap_dels : 1024;
			dels = realloc(dels, cap_dels * sizeof *dels);
			assert_non_null(dels);
		}
		dels[n_dels++] = strdup(names[i]);
	}
	return ARCA_OK;
}
int s3_report(struct arca_dest_call *call, const struct s3_fail *f)
{
	(void)call;
	return f->status;
}
int s3_fail_set(struct s3_fail *f, int status, int transient, const char *fmt, ...)
{
	(void)transient, (void)fmt;
	f->status = status;
	return status;
}
void s3_resp_free(struct s3_resp *r)
{
	(void)r;
}
char *s3_xml_escape(const char *s)
{
	return strdup(s);
}
int s3_creds_load(const struct arca_config *cfg, struct s3_creds *c)
{
	(void)cfg, (void)c;
	fail();
	return 1;
}
void s3_inst_close(void *instance)
{
	(void)instance;
}
int s3_into_open(struct s3_inst *s, struct arca_ctx *ctx, const char *into, const char *doing,
                 struct s3_inst **out, int *is_repo_dest)
{
	(void)s, (void)ctx, (void)into, (void)doing, (void)out, (void)is_repo_dest;
	fail();
	return 1;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *b = calloc(1, 4096);
	size_t n = fread(b, 1, 4095, f);
	b[n] = '\0';
	fclose(f);
	return b;
}

static void test_versions(void **state)
{
	(void)state;
	static const struct fitem snap[] = {
	    {"keep", 0, 100, "etag: \"1\"\n", "plain"},
	    /* versions, newest first as S3 lists them */
	    {"doc", 0, 300, "etag: \"3\"\n", "v3"},
	    {"doc", 0, 200, "etag: \"2\"\n", "v2"},
	    {"doc", 0, 100, "etag: \"1\"\n", "v1"},
	    /* deleted as of the snapshot */
	    {"gone", ARCA_ITEM_TOMBSTONE, 500, "delete-marker: yes\n", ""},
	    {"gone", 0, 400, "etag: \"4\"\n", "was here"},
	    /* the listing's word */
	    {"lat", 0, 100, "etag: \"a\"\nis-latest: true\n", "latest"},
	    {"lat", 0, 900, "etag: \"b\"\n", "clock says newer"},
	    /* oldest first: the newest is the last one */
	    {"up", 0, 100, "etag: \"u1\"\n", "old"},
	    {"up", 0, 200, "etag: \"u2\"\n", "new"},
	    /* a key and its "folder" */
	    {"dir", 0, 100, "etag: \"d\"\n", "self"},
	    {"dir/x", 0, 100, "etag: \"x\"\n", "child"},
	};
	items = snap, n_items = sizeof snap / sizeof *snap, cur = 0, nexts = 0;
	char tmpl[] = "/tmp/test_s3_restore_dir.XXXXXX", dir[300];
	assert_non_null(mkdtemp(tmpl));
	snprintf(dir, sizeof dir, "%s/out", tmpl);
	opt_into = dir, opt_prefix = NULL;
	assert_int_equal(s3t_restore(NULL, NULL), ARCA_OK);
	/* each item read once, but for "up"'s newest version: stored after
	 * its older one, it is reached from there with one more item_next */
	assert_int_equal(nexts, (int)n_items + 1);
	const char *want[][2] = {{"keep", "plain"}, {"doc", "v3"},         {"lat", "latest"},
	                         {"up", "new"},     {"dir/%self", "self"}, {"dir/x", "child"}};
	char p[600];
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, want[i][0]);
		char *got = slurp(p);
		if (!got || strcmp(got, want[i][1]))
			fail_msg("%s holds %s, not %s", want[i][0], got ? got : "(nothing)",
			         want[i][1]);
		free(got);
		struct stat st;
		assert_int_equal(stat(p, &st), 0);
	}
	snprintf(p, sizeof p, "%s/gone", dir);
	assert_int_equal(access(p, F_OK), -1);
	snprintf(p, sizeof p, "%s/%%manifest.jsonl", dir);
	char *m = slurp(p);
	assert_non_null(m);
	int lines = 0;
	for (char *c = m; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, 6);
	assert_null(strstr(m, "\"gone\""));
	assert_non_null(strstr(m, "{\"key\":\"doc\",\"path\":\"doc\",\"size\":2,"));
	free(m);
	/* --prefix: only what is under it; a non-empty directory refused */
	cur = 0, nexts = 0, opt_prefix = "d";
	assert_int_equal(s3t_restore(NULL, NULL), ARCA_ERR_EXISTS);
	snprintf(dir, sizeof dir, "%s/part", tmpl);
	cur = 0, nexts = 0;
	assert_int_equal(s3t_restore(NULL, NULL), ARCA_OK);
	snprintf(p, sizeof p, "%s/doc", dir);
	char *got = slurp(p);
	assert_string_equal(got, "v3");
	free(got);
	snprintf(p, sizeof p, "%s/keep", dir);
	assert_int_equal(access(p, F_OK), -1);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
	assert_int_equal(system(cmd), 0);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void bucket_reset(void)
{
	for (size_t i = 0; i < n_puts; i++)
		free(puts_[i]);
	for (size_t i = 0; i < n_dels; i++)
		free(dels[i]);
	n_puts = n_dels = max_batch = 0;
	cur = 0, nexts = 0;
}

static void test_bucket_listing(void **state)
{
	(void)state;
	static const struct fitem snap[] = {
	    {"same", 0, 100, "etag: \"s\"\n", "aaaa"},
	    {"dup", 0, 100, "etag: \"d\"\n", "dd"},
	    {"dupsame", 0, 100, "etag: \"q\"\n", "q"},
	    {"sized", 0, 100, "etag: \"z\"\n", "zzz"},
	    {"absent", 0, 100, "etag: \"a\"\n", "abc"},
	    {"gone", ARCA_ITEM_TOMBSTONE, 500, "delete-marker: yes\n", ""},
	    {"gone", 0, 400, "etag: \"g\"\n", "was here"},
	};
	items = snap, n_items = sizeof snap / sizeof *snap;
	/* out of order; "dup" listed twice with two ETags, "dupsame" twice the
	 * same; "sized" with its ETag but another size; "zz" twice in a row;
	 * "" is the prefix's own key; 2,500 others, backwards */
	enum { OTHERS = 2500 };
	static struct lobj l[OTHERS + 16];
	static char names[OTHERS][16];
	size_t n = 0;
	l[n++] = (struct lobj){"zz", "\"1\"", 1};
	l[n++] = (struct lobj){"zz", "\"1\"", 1};
	l[n++] = (struct lobj){"same", "\"s\"", 4};
	l[n++] = (struct lobj){"dup", "\"x\"", 2};
	for (int i = OTHERS - 1; i >= 0; i--) {
		snprintf(names[i], sizeof names[i], "e%04d", i);
		l[n++] = (struct lobj){names[i], "\"e\"", 1};
	}
	l[n++] = (struct lobj){"dupsame", "\"q\"", 1};
	l[n++] = (struct lobj){"dup", "\"d\"", 2};
	l[n++] = (struct lobj){"dupsame", "\"q\"", 1};
	l[n++] = (struct lobj){"sized", "\"z\"", 5};
	l[n++] = (struct lobj){"gone", "\"g\"", 8};
	l[n++] = (struct lobj){"", "\"p\"", 0};
	listing = l, n_listing = n, bucket_mode = 1;
	struct s3_inst s = {.bucket = "b", .prefix = "p/", .creds_loaded = 1};
	pthread_mutex_init(&s.creds_mu, NULL);
	opt_into = opt_prefix = opt_delete_extra = NULL;

	/* "dup" and "sized" differ: refused, nothing written or deleted */
	opt_overwrite = NULL, opt_delete_extra = "";
	bucket_reset();
	assert_int_equal(s3t_restore(&s, NULL), ARCA_ERR_EXISTS);
	assert_int_equal(n_puts, 0);
	assert_int_equal(n_dels, 0);

	/* --overwrite: those two and the absent one written, in the
	 * snapshot's order; "same" and "dupsame" not */
	opt_overwrite = "", opt_delete_extra = NULL;
	bucket_reset();
	assert_int_equal(s3t_restore(&s, NULL), ARCA_OK);
	assert_int_equal(n_puts, 3);
	assert_string_equal(puts_[0], "p/dup");
	assert_string_equal(puts_[1], "p/sized");
	assert_string_equal(puts_[2], "p/absent");
	assert_int_equal(n_dels, 0);

	/* --delete-extra: every other key once ("gone" is deleted as of the
	 * snapshot), 1000 at most at once, past the batch kept on disk; a
	 * batch whose DeleteObjects fails for now is sent again */
	opt_delete_extra = "";
	bucket_reset();
	remove_fail = 1;
	assert_int_equal(s3t_restore(&s, NULL), ARCA_OK);
	assert_int_equal(n_puts, 3);
	assert_int_equal(n_dels, OTHERS + 2);
	assert_true(max_batch <= 1000);
	qsort(dels, n_dels, sizeof *dels, cmp_str);
	for (size_t i = 0; i < OTHERS; i++)
		assert_string_equal(dels[i], names[i]);
	assert_string_equal(dels[OTHERS], "gone");
	assert_string_equal(dels[OTHERS + 1], "zz");
	bucket_reset();
	free(dels);
	dels = NULL, cap_dels = 0;
	bucket_mode = 0;
	opt_overwrite = opt_delete_extra = NULL;
	pthread_mutex_destroy(&s.creds_mu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_versions),
	    cmocka_unit_test(test_bucket_listing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
