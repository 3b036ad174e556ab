/* test_repo_damage.c — every single-byte flip and every truncation of every
 * pack, index, snapshot and named blob object of a small repository is
 * detected by repo_verify(read_data = 100%) and the report names the
 * damaged object; every flip and truncation of the config refuses the
 * repository naming config (the key payload binds its hash; unencrypted,
 * the local pin does); one of a key object either refuses it or leaves the
 * master keys as they were (only unauthenticated members like "host" may
 * change). Objects crafted to claim huge sizes (index and pack header
 * entries beyond the chunker's maximum, a summary trailer, zstd frames, a
 * frame of too many JSON values, objects beyond their bounds) are refused
 * with ARCA_ERR_CORRUPT before anything of that size is allocated or read
 * (a key object beyond its bound is skipped unread, as a key that does
 * not open).
 * Also: restore of a damaged chunk fails with ARCA_ERR_CORRUPT naming the
 * pack and the chunk. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "log.h"
#include "repo.h"
#include "repo/blob.h"
#include "repo/internal.h"
#include "repo/snapshot.h"
#include "repo_fixture.h"
#include "test_repo_dest.h"
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
	/* A named blob (object blobs/t/_53eg_201: its name needs encoding). */
	char blob[300];
	memset(blob, 'b', sizeof blob);
	assert_int_equal(repo_blob_put(f->r, "t", "Seg 1", blob, sizeof blob, 1), ARCA_OK);
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

static void test_blobs(void **state)
{
	damage_all(*state, "blobs");
}

/* ---- helpers for objects written by hand ---- */

static char *obj_path(struct fixture *f, const char *name)
{
	return test_dir_path(f->rf.dir, name);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	FILE *w = fopen(path, "wb");
	assert_non_null(w);
	assert_int_equal(fwrite(p, 1, n, w), n);
	assert_int_equal(fclose(w), 0);
}

/* The one object under `dir` (e.g. "keys"), its name relative to the repository. */
static char *only_object(struct fixture *f, const char *dir)
{
	struct obj_list l;
	assert_int_equal(dest_list_all(f->r, dir, &l), ARCA_OK);
	assert_int_equal(l.n, 1);
	char *name = xstrdup(l.v[0].name);
	obj_list_free(&l);
	return name;
}

static double now_sec(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Refusals of the size bounds must be immediate: nothing of the claimed
 * size is allocated or read (a read of 4 GiB, or a parse of a frame of
 * millions of values, would not be). Generous for ASan on a busy host. */
#define QUICK_SEC 2.0

/* rc must be ARCA_ERR_CORRUPT with a message holding both strings. */
static void expect_corrupt(int rc, const char *want1, const char *want2, double started)
{
	double took = now_sec() - started;
	if (rc != ARCA_ERR_CORRUPT || !strstr(err_msg(), want1) ||
	    (want2 && !strstr(err_msg(), want2)))
		fail_msg("expected ARCA_ERR_CORRUPT naming '%s'%s%s, got %d: %s", want1,
			 want2 ? " and " : "", want2 ? want2 : "", rc, err_msg());
	if (took > QUICK_SEC)
		fail_msg("refusing took %.1f s: %s", took, err_msg());
}

struct problems {
	struct buf all;    /* every problem, one per line */
};

static void collect(void *arg, const char *problem)
{
	struct problems *p = arg;
	buf_append(&p->all, problem, strlen(problem));
	buf_append(&p->all, "\n", 1);
}

/* repo_verify reports a problem line holding both strings, quickly. */
static void expect_verify_names(struct fixture *f, const char *want1, const char *want2)
{
	struct problems p = {0};
	double t0 = now_sec();
	int rc = repo_verify(f->r, 100, collect, &p);
	buf_append(&p.all, "", 1);
	const char *text = (const char *)p.all.data, *line = text;
	int found = 0;
	for (const char *nl; !found && (nl = strchr(line, '\n')); line = nl + 1) {
		char *one = xstrndup(line, (size_t)(nl - line));
		found = strstr(one, want1) && strstr(one, want2);
		free(one);
	}
	if (rc != ARCA_ERR_CORRUPT || !found)
		fail_msg("verify returned %d; no problem names '%s' and '%s':\n%s", rc, want1,
			 want2, text);
	if (now_sec() - t0 > QUICK_SEC * 5)
		fail_msg("verify took %.1f s", now_sec() - t0);
	buf_free(&p.all);
}

/* A sparse object of `size` bytes: nothing reads it unless it is read. */
static int sparse_object(struct fixture *f, const char *name, uint64_t size)
{
	char *path = obj_path(f, name);
	char *dir = xstrdup(path);
	*strrchr(dir, '/') = 0;
	mkdir_p(dir, 0700);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int ok = fd >= 0 && ftruncate(fd, (off_t)size) == 0;
	if (fd >= 0)
		close(fd);
	free(dir);
	free(path);
	return ok ? 0 : -1;
}

/* Seal `body` with the given flag byte, bypassing blob_seal's choices: a
 * zstd frame whose header claims what the attacker likes. */
static void seal_flag(const struct repo_keys *k, const struct aad *aad, unsigned char flag,
		      const void *body, size_t len, struct buf *out)
{
	size_t at = out->len, over = blob_overhead(k);
	buf_reserve(out, len + over);
	unsigned char *p = out->data + at;
	if (k->encrypted) {
		assert_int_equal(gcm_seal(k->enc, aad->b, aad->len, &flag, 1, body, len, p), 0);
	} else {
		p[0] = flag;
		memcpy(p + 1, body, len);
		unsigned char l4[4], check[ID_LEN];
		put_le32(l4, (uint32_t)aad->len);
		const void *parts[] = {l4, aad->b, p};
		size_t lens[] = {4, aad->len, 1 + len};
		sha256_parts(parts, lens, 3, check);
		memcpy(p + 1 + len, check, PLAIN_CHECK_LEN);
	}
	out->len += len + over;
}

/* A zstd frame header claiming 2^40 bytes of content, and an empty last block. */
static const unsigned char zstd_huge[] = {
	0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 0x01, 0x00, 0x00,
};

static void frame_aad(struct repo *r, uint32_t seq, struct aad *a)
{
	unsigned char s4[4];
	put_le32(s4, seq);
	repo_aad(r, BK_FRAME, s4, 4, a);
	aad_add(a, "t", 1);
}

/* Store a snapshot object of target "t" made of `n` sealed frames and a
 * summary over them (summary_sealed: sealed by the caller instead); its
 * id in id_out. */
static void put_manifest(struct fixture *f, const struct buf *frames, uint32_t n,
			 const struct buf *summary_sealed, char id_out[65])
{
	struct repo *r = f->r;
	struct buf obj = {0}, sum = {0};
	unsigned char l4[4], h[ID_LEN];
	for (uint32_t i = 0; i < n; i++) {
		put_le32(l4, (uint32_t)frames[i].len);
		buf_append(&obj, l4, 4);
		buf_append(&obj, frames[i].data, frames[i].len);
	}
	char hex[65], name[128];
	sha256(obj.data, obj.len, h);
	id_hex(h, hex);
	if (summary_sealed) {
		buf_append(&sum, summary_sealed->data, summary_sealed->len);
	} else {
		json_t *s = json_pack("{s:i,s:s,s:s,s:s,s:I,s:i,s:i,s:i,s:i,s:s}", "version",
				      REPO_FORMAT_VERSION, "target", "t", "driver", "unit", "host",
				      "h", "time", (json_int_t)1700000000, "items", 0, "bytes", 0,
				      "new_bytes", 0, "frames", (int)n, "frames_sha256", hex);
		char *text = json_dumps(s, JSON_COMPACT);
		json_decref(s);
		struct aad aad;
		repo_aad(r, BK_SUMMARY, NULL, 0, &aad);
		assert_int_equal(blob_seal(r->keys, &aad, NULL, 3, text, strlen(text), &sum),
				 ARCA_OK);
		free(text);
	}
	put_le32(l4, (uint32_t)sum.len);
	buf_append(&obj, l4, 4);
	buf_append(&obj, sum.data, sum.len);
	unsigned char trailer[8];
	put_le32(trailer, (uint32_t)sum.len);
	memcpy(trailer + 4, "ASN1", 4);
	buf_append(&obj, trailer, 8);
	sha256(obj.data, obj.len, h);
	id_hex(h, id_out);
	snprintf(name, sizeof name, "snapshots/%s", id_out);
	assert_int_equal(dest_put(r, name, obj.data, obj.len, 0), ARCA_OK);
	buf_free(&obj);
	buf_free(&sum);
}

/* ---- keys and config ---- */

/* Open the repository anew (the fixture's params; state_dir NULL: no pin). */
static int open_again(struct fixture *f, int with_pin, struct repo **out)
{
	struct repo_params p = f->rf.p;
	if (!with_pin)
		p.state_dir = NULL;
	*out = NULL;
	return repo_open(&f->rf.d, &p, out);
}

/* [*from, *to): the bytes of member `key` of a JSON text (from its name's
 * opening quote to the end of its value), found by a plain scan: the texts
 * are arca's own pretty-printed ones. */
static void member_range(const char *text, const char *key, size_t *from, size_t *to)
{
	char *pat = xasprintf("\"%s\":", key);
	const char *at = strstr(text, pat);
	assert_non_null(at);
	const char *v = at + strlen(pat);
	while (*v == ' ')
		v++;
	const char *end;
	if (*v == '"') {
		end = strchr(v + 1, '"') + 1;
	} else if (*v == '{') {
		end = strchr(v, '}') + 1;
	} else {
		end = v;
		while (*end && *end != ',' && *end != '\n' && *end != '}')
			end++;
	}
	*from = (size_t)(at - text);
	*to = (size_t)(end - text);
	free(pat);
}

/* Each flip and truncation of the key object: the repository does not open
 * (ARCA_ERR_AUTH: no key opens; damage and a wrong passphrase look alike
 * with one key), or it opens with the very same master keys and the flip
 * was outside "kdf" and "data" (unauthenticated members such as "host"),
 * or turned a hex digit a-f into A-F there (the same bytes). */
static void test_keys(void **state)
{
	struct fixture *f = *state;
	char *name = only_object(f, "keys/"), *path = obj_path(f, name);
	char *orig;
	size_t len, from_kdf, to_kdf, from_data, to_data;
	assert_int_equal(read_file(path, &orig, &len), 0);
	member_range(orig, "kdf", &from_kdf, &to_kdf);
	member_range(orig, "data", &from_data, &to_data);
	unsigned char *copy = malloc(len);
	size_t opened = 0;
	for (size_t i = 0; i < len + len; i++) {
		size_t n = len, at = i;
		memcpy(copy, orig, len);
		if (i < len)
			copy[i] ^= (unsigned char)(1u << (i % 8));
		else
			n = at = i - len;   /* truncation to `at` bytes */
		write_bytes(path, copy, n);
		struct repo *r2;
		int rc = open_again(f, 0, &r2);
		/* Hex is read in either case: a-f to A-F changes no byte. */
		int same_hex = i < len && orig[at] >= 'a' && orig[at] <= 'f' &&
			       copy[at] == orig[at] - 32;
		if (rc == ARCA_OK) {
			if (i >= len || (!same_hex && ((at >= from_kdf && at < to_kdf) ||
						       (at >= from_data && at < to_data))))
				fail_msg("key object %s: %s at %zu still opens", name,
					 i < len ? "flip" : "truncation", at);
			assert_memory_equal(r2->keys, f->r->keys, sizeof *r2->keys);
			opened++;
			repo_close(r2);
		} else if (rc != ARCA_ERR_AUTH) {
			fail_msg("key object %s: %s at %zu gave %d: %s", name,
				 i < len ? "flip" : "truncation", at, rc, err_msg());
		}
	}
	write_bytes(path, orig, len);
	/* Some flips are harmless ("host", "created"), most are not. */
	assert_true(opened > 0 && opened < len / 4);
	struct repo *r2;
	assert_int_equal(open_again(f, 0, &r2), ARCA_OK);
	repo_close(r2);
	free(copy);
	free(orig);
	free(path);
	free(name);
}

/* Each flip and truncation of config refuses the repository, naming config
 * (or the format version a flipped "version" claims). Encrypted, without a
 * pin: the key payload binds the config's hash. Unencrypted, nothing
 * secret can: this host's pin does. A flip in the id makes it another
 * repository: no key opens (encrypted), or the pin names the id. */
static void damage_config(struct fixture *f, int with_pin)
{
	char *path = obj_path(f, "config"), *orig;
	size_t len, from_id, to_id;
	assert_int_equal(read_file(path, &orig, &len), 0);
	member_range(orig, "id", &from_id, &to_id);
	unsigned char *copy = malloc(len);
	for (size_t i = 0; i < len + len; i++) {
		size_t n = len, at = i;
		memcpy(copy, orig, len);
		if (i < len)
			copy[i] ^= (unsigned char)(1u << (i % 8));
		else
			n = at = i - len;
		write_bytes(path, copy, n);
		struct repo *r2;
		int rc = open_again(f, with_pin, &r2);
		const char *what = i < len ? "flip" : "truncation";
		if (rc == ARCA_OK)
			fail_msg("config: %s at %zu still opens", what, at);
		int in_id = i < len && at >= from_id && at < to_id;
		int ok = rc == ARCA_ERR_UNSUPPORTED ? strstr(err_msg(), "format version") != NULL
			 : rc == ARCA_ERR_CORRUPT   ? strstr(err_msg(), "config") || in_id
			 : rc == ARCA_ERR_AUTH      ? in_id
						    : 0;
		if (!ok)
			fail_msg("config: %s at %zu gave %d: %s", what, at, rc, err_msg());
	}
	write_bytes(path, orig, len);
	struct repo *r2;
	assert_int_equal(open_again(f, with_pin, &r2), ARCA_OK);
	repo_close(r2);
	free(copy);
	free(orig);
	free(path);
}

static void test_config_enc(void **state)
{
	damage_config(*state, 0);
}

static void test_config_plain(void **state)
{
	damage_config(*state, 1);
}

/* ---- crafted objects that claim huge sizes ---- */

static void test_bound_index(void **state)
{
	struct fixture *f = *state;
	struct repo *r = f->r;
	uint32_t over = (uint32_t)blob_overhead(r->keys), max = r->cdc.max;
	/* An entry claiming a chunk beyond the chunker's maximum, and one whose
	 * sealed length exceeds what its raw length can seal to. */
	struct pack_entry e[2] = {{.offset = 0, .length = max + 1 + over, .raw_length = max + 1},
				  {.offset = 0, .length = 1000 + over + 1, .raw_length = 1000}};
	for (int k = 0; k < 2; k++) {
		memset(e[k].id, 0x11 * (k + 1), ID_LEN);
		struct pack_info pi = {.size = 64ull << 20, .e = &e[k], .n = 1};
		memset(pi.id, 0x22 * (k + 1), ID_LEN);
		struct buf plain = {0};
		idx_encode(&pi, 1, &plain);
		struct pack_info *out;
		size_t np;
		double t0 = now_sec();
		char *claim = xasprintf("claims a chunk of %u bytes (%u sealed)", e[k].raw_length,
					e[k].length);
		expect_corrupt(idx_decode(plain.data, plain.len, "crafted index", max, over, &out,
					  &np), "crafted index", claim, t0);
		free(claim);
		unsigned char id[ID_LEN];
		char hex[65];
		assert_int_equal(
		    put_sealed_object(r, "index/", BK_INDEX, plain.data, plain.len, id), ARCA_OK);
		id_hex(id, hex);
		expect_verify_names(f, hex, "chunks are at most");
		char *name = xasprintf("index/%s", hex);
		assert_int_equal(dest_remove(r, name), ARCA_OK);
		free(name);
		buf_free(&plain);
	}
	/* A pack count, an entry count that cannot fit. */
	unsigned char bad[8 + ID_LEN + 12] = "AIX1";
	struct pack_info *out;
	size_t np;
	put_le32(bad + 4, UINT32_MAX);
	double t0 = now_sec();
	expect_corrupt(idx_decode(bad, 8, "crafted index", max, over, &out, &np), "crafted index",
		       "cannot fit", t0);
	put_le32(bad + 4, 1);
	put_le32(bad + 8 + ID_LEN + 8, UINT32_MAX);
	expect_corrupt(idx_decode(bad, sizeof bad, "crafted index", max, over, &out, &np),
		       "crafted index", "truncated", t0);
	/* Plaintext beyond the index bound: a zstd frame claiming 2^40 bytes. */
	struct aad aad;
	struct buf sealed = {0};
	repo_aad(r, BK_INDEX, NULL, 0, &aad);
	seal_flag(r->keys, &aad, BLOB_ZSTD, zstd_huge, sizeof zstd_huge, &sealed);
	unsigned char id[ID_LEN];
	char hex[65], *name;
	sha256(sealed.data, sealed.len, id);
	id_hex(id, hex);
	name = xasprintf("index/%s", hex);
	assert_int_equal(dest_put(r, name, sealed.data, sealed.len, 0), ARCA_OK);
	expect_verify_names(f, hex, "bad zstd frame header");
	assert_int_equal(dest_remove(r, name), ARCA_OK);
	free(name);
	buf_free(&sealed);
	/* An index object beyond its bound is not even read (sparse: 64 MiB). */
	name = xasprintf("index/%064d", 7);
	if (sparse_object(f, name, INDEX_OBJECT_MAX_RAW + blob_overhead(r->keys) + 1) == 0)
		expect_verify_names(f, name, "more than the");
	free(name);
}

/* Write `data` as a pack object under its hash; its name out. */
static void put_pack(struct repo *r, const struct buf *data, char name[96])
{
	unsigned char id[ID_LEN];
	sha256(data->data, data->len, id);
	pack_name(id, name);
	assert_int_equal(dest_put(r, name, data->data, data->len, 0), ARCA_OK);
}

static void test_bound_pack(void **state)
{
	struct fixture *f = *state;
	struct repo *r = f->r;
	uint32_t max = r->cdc.max;
	struct pack_entry *e;
	size_t n;
	char name[96];
	double t0;
	/* A header entry claiming a chunk beyond the chunker's maximum. */
	struct pack_builder b = {0};
	unsigned char cid[ID_LEN], junk[200] = {0};
	memset(cid, 0x33, ID_LEN);
	pack_builder_add(&b, cid, junk, sizeof junk, max + 1);
	unsigned char pid[ID_LEN];
	assert_int_equal(pack_builder_finish(r, &b, pid), ARCA_OK);
	put_pack(r, &b.data, name);
	char *claim = xasprintf("claims a chunk of %u bytes; chunks are at most %u", max + 1, max);
	t0 = now_sec();
	expect_corrupt(pack_read_header(r, name, b.data.len, &e, &n), name, claim, t0);
	free(claim);
	/* A trailer claiming a header of 4 GiB. */
	struct buf p = {0};
	buf_append(&p, b.data.data, b.data.len);
	put_le32(p.data + p.len - 8, UINT32_MAX - 15);
	put_pack(r, &p, name);
	t0 = now_sec();
	expect_corrupt(pack_read_header(r, name, p.len, &e, &n), name, "largest header", t0);
	/* A header claiming 2^32 - 1 entries, holding one. */
	struct buf h = {0};
	unsigned char head[8 + ID_LEN + 16] = "APH1";
	put_le32(head + 4, UINT32_MAX);
	memcpy(head + 8, cid, ID_LEN);
	put_le32(head + 8 + ID_LEN + 8, 10);
	buf_append(&h, junk, 10);
	size_t hstart = h.len;
	struct aad aad;
	repo_aad(r, BK_PACK_HEADER, NULL, 0, &aad);
	assert_int_equal(blob_seal(r->keys, &aad, NULL, 0, head, sizeof head, &h), ARCA_OK);
	unsigned char trailer[8];
	put_le32(trailer, (uint32_t)(h.len - hstart));
	memcpy(trailer + 4, "ARP1", 4);
	buf_append(&h, trailer, 8);
	put_pack(r, &h, name);
	t0 = now_sec();
	expect_corrupt(pack_read_header(r, name, h.len, &e, &n), name, "malformed entry table",
		       t0);
	/* A header whose zstd frame claims 2^40 bytes. */
	h.len = 10;
	seal_flag(r->keys, &aad, BLOB_ZSTD, zstd_huge, sizeof zstd_huge, &h);
	put_le32(trailer, (uint32_t)(h.len - 10));
	buf_append(&h, trailer, 8);
	put_pack(r, &h, name);
	t0 = now_sec();
	expect_corrupt(pack_read_header(r, name, h.len, &e, &n), name, "bad zstd frame header",
		       t0);
	pack_builder_free(&b);
	buf_free(&p);
	buf_free(&h);
}

static void test_bound_snapshot(void **state)
{
	struct fixture *f = *state;
	struct repo *r = f->r;
	char name[128], id[65];
	struct repo_snapshot s;
	double t0;
	/* The real snapshot with a trailer claiming a 4 GiB summary. */
	struct buf obj = {0};
	snprintf(name, sizeof name, "snapshots/%s", f->snap);
	assert_int_equal(dest_get(r, name, 0, UINT64_MAX, &obj), ARCA_OK);
	put_le32(obj.data + obj.len - 8, UINT32_MAX - 7);
	unsigned char h[ID_LEN];
	sha256(obj.data, obj.len, h);
	id_hex(h, id);
	snprintf(name, sizeof name, "snapshots/%s", id);
	assert_int_equal(dest_put(r, name, obj.data, obj.len, 0), ARCA_OK);
	t0 = now_sec();
	expect_corrupt(snapshot_read_summary(r, name, obj.len, &s), id,
		       "more than a summary can have", t0);
	expect_verify_names(f, id, "more than a summary can have");
	assert_int_equal(dest_remove(r, name), ARCA_OK);
	buf_free(&obj);

	/* A frame of more than FRAME_MAX_TOKENS JSON values, well formed and
	 * authentic (anyone can write one into an unencrypted repository):
	 * refused before jansson builds it; one value fewer is read. */
	for (int extra = 0; extra < 2; extra++) {
		struct buf text = {0}, frame = {0};
		const char *head = "{\"seq\":0,\"items\":[],\"pad\":[";
		buf_append(&text, head, strlen(head));   /* 7 values with the pad's [ */
		for (size_t i = 0; i < FRAME_MAX_TOKENS - 7 + (size_t)extra; i++)
			buf_append(&text, i ? ",0" : "0", i ? 2 : 1);
		buf_append(&text, "]}", 2);
		struct aad aad;
		frame_aad(r, 0, &aad);
		assert_int_equal(blob_seal(r->keys, &aad, NULL, 3, text.data, text.len, &frame),
				 ARCA_OK);
		put_manifest(f, &frame, 1, NULL, id);
		struct manifest m;
		assert_int_equal(manifest_load(r, id, &m), ARCA_OK);
		json_t *items = NULL;
		t0 = now_sec();
		int rc = manifest_frame(r, &m, 0, &items);
		if (!extra) {
			assert_int_equal(rc, ARCA_OK);
			assert_int_equal(json_array_size(items), 0);
			json_decref(items);
		} else {
			expect_corrupt(rc, "frame 0", "more than 262144 JSON values", t0);
			expect_verify_names(f, id, "JSON values");
		}
		manifest_free(&m);
		snprintf(name, sizeof name, "snapshots/%s", id);
		assert_int_equal(dest_remove(r, name), ARCA_OK);
		buf_free(&text);
		buf_free(&frame);
	}

	/* A frame, then a summary, whose zstd frame claims 2^40 bytes. */
	struct buf frame = {0}, sum = {0};
	struct aad aad;
	frame_aad(r, 0, &aad);
	seal_flag(r->keys, &aad, BLOB_ZSTD, zstd_huge, sizeof zstd_huge, &frame);
	put_manifest(f, &frame, 1, NULL, id);
	struct manifest m;
	assert_int_equal(manifest_load(r, id, &m), ARCA_OK);
	json_t *items;
	t0 = now_sec();
	expect_corrupt(manifest_frame(r, &m, 0, &items), "frame 0", "bad zstd frame header", t0);
	manifest_free(&m);
	snprintf(name, sizeof name, "snapshots/%s", id);
	assert_int_equal(dest_remove(r, name), ARCA_OK);
	repo_aad(r, BK_SUMMARY, NULL, 0, &aad);
	seal_flag(r->keys, &aad, BLOB_ZSTD, zstd_huge, sizeof zstd_huge, &sum);
	put_manifest(f, &frame, 0, &sum, id);
	snprintf(name, sizeof name, "snapshots/%s", id);
	t0 = now_sec();
	uint64_t size;
	assert_int_equal(dest_stat(r, name, &size), ARCA_OK);
	expect_corrupt(snapshot_read_summary(r, name, size, &s), id, "bad zstd frame header", t0);
	assert_int_equal(dest_remove(r, name), ARCA_OK);
	buf_free(&frame);
	buf_free(&sum);

	/* A snapshot object beyond its bound (4 GiB, sparse) is not read. */
	snprintf(id, sizeof id, "%064d", 5);
	snprintf(name, sizeof name, "snapshots/%s", id);
	if (sparse_object(f, name, SNAPSHOT_OBJECT_MAX + 1) == 0) {
		struct manifest big;
		t0 = now_sec();
		expect_corrupt(manifest_load(r, id, &big), name, "more than the", t0);
		manifest_free(&big);
		expect_verify_names(f, id, "more than the");
	}
}

/* Objects beyond their bounds: config, key objects, named blobs. */
static void test_bound_objects(void **state)
{
	struct fixture *f = *state;
	struct repo *r2;
	double t0;
	/* A config of CONFIG_MAX_BYTES + 1, valid JSON but for its size. */
	char *path = obj_path(f, "config"), *orig;
	size_t len;
	assert_int_equal(read_file(path, &orig, &len), 0);
	char *big = malloc(CONFIG_MAX_BYTES + 1);
	memcpy(big, orig, len);
	memset(big + len, ' ', CONFIG_MAX_BYTES + 1 - len);
	write_bytes(path, big, CONFIG_MAX_BYTES + 1);
	t0 = now_sec();
	expect_corrupt(open_again(f, 0, &r2), "object config is 65537 bytes", "more than", t0);
	write_bytes(path, orig, len);
	free(big);
	free(orig);
	free(path);
	/* A named blob beyond 1 GiB (sparse) is not read. */
	if (sparse_object(f, "blobs/t/huge", MAX_OBJECT_RAW + blob_overhead(f->r->keys) + 1) == 0) {
		void *data;
		size_t n;
		t0 = now_sec();
		expect_corrupt(repo_blob_get(f->r, "t", "huge", &data, &n), "blobs/t/huge",
			       "more than the", t0);
		expect_verify_names(f, "blobs/t/huge", "more than the");
	}
}

/* A key object of KEY_OBJECT_MAX_BYTES + 1 (the real one, padded with JSON
 * whitespace) is skipped unread: with it alone nothing opens; with another
 * key the repository opens and key list names it unreadable. At exactly
 * the bound it still opens. */
static int unreadable_keys;

static void count_unreadable(void *arg, const char *id, const char *host, int64_t created,
			     int current)
{
	(void)arg;
	(void)id;
	(void)created;
	(void)current;
	unreadable_keys += !strcmp(host, "(unreadable key object)");
}

static void test_bound_key(void **state)
{
	struct fixture *f = *state;
	char *name = only_object(f, "keys/"), *path = obj_path(f, name), *orig;
	size_t len;
	assert_int_equal(read_file(path, &orig, &len), 0);
	char *big = malloc(KEY_OBJECT_MAX_BYTES + 1);
	memcpy(big, orig, len);
	memset(big + len, '\n', KEY_OBJECT_MAX_BYTES + 1 - len);
	struct repo *r2;
	write_bytes(path, big, KEY_OBJECT_MAX_BYTES);
	assert_int_equal(open_again(f, 0, &r2), ARCA_OK);
	repo_close(r2);
	write_bytes(path, big, KEY_OBJECT_MAX_BYTES + 1);
	double t0 = now_sec();
	assert_int_equal(open_again(f, 0, &r2), ARCA_ERR_AUTH);
	assert_true(now_sec() - t0 < QUICK_SEC);
	write_bytes(path, orig, len);
	assert_int_equal(repo_key_add(f->r, "another passphrase", NULL), ARCA_OK);
	write_bytes(path, big, KEY_OBJECT_MAX_BYTES + 1);
	struct repo_params p = f->rf.p;
	p.state_dir = NULL;
	p.passphrase = "another passphrase";
	assert_int_equal(repo_open(&f->rf.d, &p, &r2), ARCA_OK);
	unreadable_keys = 0;
	assert_int_equal(repo_key_list(r2, count_unreadable, NULL), ARCA_OK);
	assert_int_equal(unreadable_keys, 1);
	repo_close(r2);
	write_bytes(path, orig, len);
	free(big);
	free(orig);
	free(path);
	free(name);
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
		cmocka_unit_test_setup_teardown(test_blobs, setup_enc, teardown),
		cmocka_unit_test_setup_teardown(test_blobs, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_keys, setup_enc, teardown),
		cmocka_unit_test_setup_teardown(test_config_enc, setup_enc, teardown),
		cmocka_unit_test_setup_teardown(test_config_plain, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_bound_index, setup_enc, teardown),
		cmocka_unit_test_setup_teardown(test_bound_index, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_bound_pack, setup_enc, teardown),
		cmocka_unit_test_setup_teardown(test_bound_pack, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_bound_snapshot, setup_enc, teardown),
		cmocka_unit_test_setup_teardown(test_bound_snapshot, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_bound_objects, setup_enc, teardown),
		cmocka_unit_test_setup_teardown(test_bound_objects, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_bound_key, setup_enc, teardown),
		cmocka_unit_test_setup_teardown(test_restore_names_chunk, setup_enc, teardown),
		cmocka_unit_test_setup_teardown(test_restore_names_chunk, setup_plain, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
