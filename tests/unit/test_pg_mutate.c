/* Mutation tests of the postgres driver's parsers of outside bytes: the
 * tar stream of BASE_BACKUP, backup_manifest, pg_dump custom-format
 * archives (dumpfmt.c, dumpframe.c, dumpfix.c) and WAL segment headers.
 *
 * Each parser gets a valid input and then thousands of variants of it:
 * every single-bit flip over its first bytes (up to 2 KiB), every
 * truncation over a range, "interesting" values written at every offset
 * of a range, and random overwrites, insertions and deletions. The seed is fixed, so every run
 * tries the same variants. Every variant must be accepted or refused
 * cleanly: no crash, hang or leak (the sanitizer build checks those). The
 * streaming parsers must give the same result however the bytes are split
 * into reads. Where the format has a checksum or a length, damage it
 * covers must be reported, and what is accepted must be what was meant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dumpfmt.h"
#include "pg.h"
#include "pg_fixtures.h"

/* ---- a host that records errors and keeps the WAL cluster blob ------------ */

static uint64_t rng; /* the variants' randomness, seeded per test */
static struct dbuf cluster_blob;
static int have_cluster;

static int fake_blob_get(struct arca_ctx *ctx, const char *name, void **data, size_t *len)
{
	(void)ctx;
	if (strcmp(name, "wal/cluster") != 0 || !have_cluster)
		return ARCA_ERR_NOT_FOUND;
	*data = malloc(cluster_blob.len + 1);
	memcpy(*data, cluster_blob.p, cluster_blob.len);
	*len = cluster_blob.len;
	return ARCA_OK;
}

/* Segments are accepted and dropped; only "wal/cluster" is kept. */
static int fake_blob_put(struct arca_ctx *ctx, const char *name, const void *data, size_t len,
                         int exclusive)
{
	(void)ctx;
	(void)exclusive;
	if (strcmp(name, "wal/cluster") != 0)
		return ARCA_OK;
	if (have_cluster)
		return cluster_blob.len == len && memcmp(cluster_blob.p, data, len) == 0
		           ? ARCA_OK
		           : ARCA_ERR_EXISTS;
	dbuf_put(&cluster_blob, data, len);
	have_cluster = 1;
	return ARCA_OK;
}


static int setup(void **state)
{
	(void)state;
	fake_host_reset();
	fake_host.blob_get = fake_blob_get;
	fake_host.blob_put = fake_blob_put;
	rng = 20260401; /* each test tries the same variants, alone or not */
	return 0;
}

/* ---- deterministic randomness --------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t rnd(size_t n)
{
	return n ? (size_t)(splitmix(&rng) % n) : 0;
}

/* The size of the next read of a split feed: most variants arrive in a
 * few large pieces, one in eight in pieces of 1-16 bytes. */
static size_t next_piece(uint64_t *s, int fine, size_t total, size_t left)
{
	size_t k =
	    fine ? 1 + (size_t)(splitmix(s) % 16) : 1 + (size_t)(splitmix(s) % (total / 3 + 1));
	return k < left ? k : left;
}

/* ---- mutations ------------------------------------------------------------ */

enum mut_kind { MUT_NONE, MUT_FLIP, MUT_TRUNC, MUT_WORD, MUT_EDIT };
static const char *const kind_name[] = {"original", "bit flip", "truncation", "word", "edit"};

struct mutation {
	enum mut_kind kind;
	/* The original's bytes [lo, hi) were changed (an insertion at p
	 * counts as [p, p]); those before lo are unchanged. */
	size_t lo, hi;
	unsigned bit;  /* MUT_FLIP */
	uint64_t seed; /* for split feeds */
	unsigned id;
};

struct plan {
	size_t flip_bytes;           /* every bit of the first flip_bytes bytes */
	size_t trunc_from, trunc_to; /* every length in [from, to) */
	const struct dbuf *words;    /* written at every offset below word_span */
	size_t n_words, word_span;
	unsigned edits; /* random edits, at offsets below edit_span */
	size_t edit_span;
};

typedef void (*mut_check_fn)(void *arg, const struct dbuf *orig, const struct dbuf *m,
                             const struct mutation *how);

static const char *cur_what;
static const struct mutation *cur_how;

/* An assertion that names the variant that broke it. */
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fail_msg("%s: variant %u (%s at %zu..%zu): %s; last error: %s", cur_what,  \
			         cur_how->id, kind_name[cur_how->kind], cur_how->lo, cur_how->hi,  \
			         #cond, fake_last_error);                                               \
	} while (0)

static void run_check(mut_check_fn fn, void *arg, const struct dbuf *orig, const struct dbuf *m,
                      struct mutation *how, unsigned *id)
{
	how->id = (*id)++;
	how->seed = splitmix(&rng);
	cur_how = how;
	fake_last_error[0] = 0;
	fn(arg, orig, m, how);
}

/* Apply 1-4 random overwrites, insertions or deletions to `m` (a copy of
 * orig), at offsets below `span`, highest first so that each offset still
 * means the original's byte. */
static void random_edit(struct dbuf *m, size_t span, struct mutation *how)
{
	static const unsigned char special[] = {0, 0xff, 0x7f, 0x80, '\n', '"', '0', '/'};
	size_t pos[4];
	int k = 1 + (int)rnd(4);
	for (int i = 0; i < k; i++)
		pos[i] = rnd(span + 1);
	for (int i = 0; i < k; i++) /* descending */
		for (int j = i + 1; j < k; j++)
			if (pos[j] > pos[i]) {
				size_t t = pos[i];
				pos[i] = pos[j];
				pos[j] = t;
			}
	how->lo = SIZE_MAX;
	how->hi = 0;
	for (int i = 0; i < k; i++) {
		size_t p = pos[i] < m->len ? pos[i] : m->len;
		size_t n = 1 + rnd(8), end = p;
		switch (rnd(3)) {
		case 0: /* overwrite one byte with another value */
			if (p == m->len)
				continue;
			m->p[p] ^= (unsigned char)(1 + rnd(255));
			end = p + 1;
			break;
		case 1: { /* insert n bytes */
			unsigned char ins[8];
			for (size_t j = 0; j < n; j++)
				ins[j] =
				    rnd(2) ? (unsigned char)rnd(256) : special[rnd(sizeof special)];
			dbuf_put(m, ins, n); /* grow, then move the tail up */
			memmove(m->p + p + n, m->p + p, m->len - n - p);
			memcpy(m->p + p, ins, n);
			break;
		}
		default: /* delete n bytes */
			if (n > m->len - p)
				n = m->len - p;
			if (!n)
				continue;
			memmove(m->p + p, m->p + p + n, m->len - p - n);
			m->len -= n;
			end = p + n;
		}
		how->lo = p < how->lo ? p : how->lo;
		how->hi = end > how->hi ? end : how->hi;
	}
	if (how->lo == SIZE_MAX) { /* nothing applied: change the first byte */
		m->p[0] ^= 1;
		how->lo = 0;
		how->hi = 1;
	}
}

static unsigned mutate_all(const struct dbuf *orig, const struct plan *pl, mut_check_fn fn,
                           void *arg)
{
	struct dbuf m = {NULL, 0, 0};
	struct mutation how;
	unsigned id = 0;
	dbuf_put(&m, orig->p, orig->len);

	size_t nb = pl->flip_bytes < orig->len ? pl->flip_bytes : orig->len;
	for (size_t b = 0; b < nb; b++)
		for (unsigned bit = 0; bit < 8; bit++) {
			memcpy(m.p, orig->p, orig->len);
			m.len = orig->len;
			m.p[b] ^= (unsigned char)(1u << bit);
			how = (struct mutation){MUT_FLIP, b, b + 1, bit, 0, 0};
			run_check(fn, arg, orig, &m, &how, &id);
		}

	for (size_t l = pl->trunc_from; l < pl->trunc_to && l < orig->len; l++) {
		memcpy(m.p, orig->p, orig->len);
		m.len = l;
		how = (struct mutation){MUT_TRUNC, l, orig->len, 0, 0, 0};
		run_check(fn, arg, orig, &m, &how, &id);
	}

	for (size_t o = 0; o < pl->word_span && o < orig->len; o++)
		for (size_t w = 0; w < pl->n_words; w++) {
			const struct dbuf *word = &pl->words[w];
			if (o + word->len > orig->len ||
			    memcmp(orig->p + o, word->p, word->len) == 0)
				continue;
			memcpy(m.p, orig->p, orig->len);
			m.len = orig->len;
			memcpy(m.p + o, word->p, word->len);
			how = (struct mutation){MUT_WORD, o, o + word->len, 0, 0, 0};
			run_check(fn, arg, orig, &m, &how, &id);
		}

	for (unsigned e = 0; e < pl->edits; e++) {
		m.len = 0;
		dbuf_put(&m, orig->p, orig->len);
		how = (struct mutation){MUT_EDIT, 0, 0, 0, 0, 0};
		random_edit(&m, pl->edit_span < orig->len ? pl->edit_span : orig->len, &how);
		run_check(fn, arg, orig, &m, &how, &id);
	}
	free(m.p);
	return id;
}

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 16777619u;
	return h;
}

static void dbuf_printf(struct dbuf *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dbuf_printf(struct dbuf *d, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	dbuf_put(d, tmp, n < (int)sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* memcmp that may be given NULL for no bytes */
static int bytes_eq(const void *a, const void *b, size_t n)
{
	return n == 0 || memcmp(a, b, n) == 0;
}

static int dbuf_eq(const struct dbuf *a, const struct dbuf *b)
{
	return a->len == b->len && bytes_eq(a->p, b->p, a->len);
}

/* ---- tar -------------------------------------------------------------------- */

struct tar_run {
	struct dbuf shape;  /* "[type name mode ...]" per entry, "$" at its end */
	struct dbuf hashes; /* the content hash of each file */
	int open;           /* between begin and end */
	uint64_t want, got;
	uint32_t hash;
	int rc;      /* of the first failing tar_feed, else of tar_finish */
	int fed_all; /* every tar_feed succeeded */
};

/* The sink checks the reader's contract: begin/data/end in order, only
 * safe names and known types, exactly `size` bytes of content. */
static int sink_begin(void *arg, const struct tar_entry *e)
{
	struct tar_run *t = arg;
	CHECK(!t->open);
	CHECK(strlen(e->name) < sizeof e->name);
	CHECK(pg_path_safe(e->name));
	CHECK(e->type == '0' || e->type == '5' || e->type == '2');
	CHECK(e->type == '0' || e->size == 0);
	dbuf_printf(&t->shape, "[%c %s %o %u %u %llu %lld %s]", e->type, e->name, e->mode, e->uid,
	            e->gid, (unsigned long long)e->size, (long long)e->mtime, e->link);
	t->open = 1;
	t->want = e->size;
	t->got = 0;
	t->hash = 2166136261u;
	return ARCA_OK;
}

static int sink_data(void *arg, const void *p, size_t n)
{
	struct tar_run *t = arg;
	CHECK(t->open && n > 0 && t->got + n <= t->want);
	t->got += n;
	t->hash = fnv(t->hash, p, n);
	return ARCA_OK;
}

static int sink_end(void *arg)
{
	struct tar_run *t = arg;
	CHECK(t->open && t->got == t->want);
	t->open = 0;
	dbuf_put(&t->shape, "$", 1);
	dbuf_printf(&t->hashes, "%08x ", t->hash);
	return ARCA_OK;
}

/* Feed the whole buffer at once (seed 0) or in random pieces. */
static void run_tar(const struct dbuf *in, uint64_t seed, struct tar_run *t)
{
	static const struct tar_sink sink_tmpl = {NULL, sink_begin, sink_data, sink_end};
	struct tar_sink sink = sink_tmpl;
	struct tar_reader r;
	memset(t, 0, sizeof *t);
	sink.arg = t;
	tar_init(&r, &sink, "base.tar");
	uint64_t s = seed;
	int fine = seed && (splitmix(&s) & 7) == 0;
	int rc = ARCA_OK;
	for (size_t off = 0; off < in->len && rc == ARCA_OK;) {
		size_t k = seed ? next_piece(&s, fine, in->len, in->len - off) : in->len;
		rc = tar_feed(&r, in->p + off, k);
		off += k;
	}
	t->fed_all = rc == ARCA_OK;
	t->rc = rc == ARCA_OK ? tar_finish(&r) : rc;
	if (t->rc == ARCA_OK)
		CHECK(!t->open);
	else
		CHECK(fake_last_error[0]); /* every refusal says why */
}

static void tar_run_free(struct tar_run *t)
{
	free(t->shape.p);
	free(t->hashes.p);
}

/* Where each entry's header, content and padding are. */
#define TAR_ENTRIES 8
struct tar_fixture {
	struct dbuf tar;
	size_t hdr[TAR_ENTRIES], data[TAR_ENTRIES], end[TAR_ENTRIES];
	uint64_t size[TAR_ENTRIES];
	int n;
	struct tar_run whole; /* the original, read whole */
	unsigned accepted, refused;
};

static void tar_add(struct tar_fixture *fx, const char *prefix, const char *name, char type,
                    unsigned mode, size_t size, const char *link)
{
	unsigned char h[512];
	tar_header(h, name, type, mode, size, link);
	if (prefix) {
		memcpy(h + 345, prefix, strlen(prefix));
		tar_set_checksum(h);
	}
	fx->hdr[fx->n] = fx->tar.len;
	dbuf_put(&fx->tar, h, 512);
	fx->data[fx->n] = fx->tar.len;
	for (size_t i = 0; i < size; i++) {
		unsigned char c = (unsigned char)(i * 31 + (size_t)fx->n);
		dbuf_put(&fx->tar, &c, 1);
	}
	fx->size[fx->n] = size;
	static const unsigned char zero[512];
	dbuf_put(&fx->tar, zero, (512 - size % 512) % 512);
	fx->end[fx->n] = fx->tar.len;
	fx->n++;
}

/* Read a variant whole and in pieces: the same result either way. */
static void tar_both(struct tar_fixture *fx, const struct dbuf *m, const struct mutation *how,
                     struct tar_run *w, char *err, size_t err_len)
{
	struct tar_run s;
	run_tar(m, 0, w);
	snprintf(err, err_len, "%s", fake_last_error);
	run_tar(m, how->seed, &s);
	CHECK(w->rc == s.rc && w->fed_all == s.fed_all);
	CHECK(dbuf_eq(&w->shape, &s.shape) && dbuf_eq(&w->hashes, &s.hashes));
	CHECK(w->rc == ARCA_OK || w->rc == ARCA_ERR_CORRUPT);
	CHECK(w->rc == ARCA_OK || strcmp(err, fake_last_error) == 0);
	if (w->rc == ARCA_OK)
		fx->accepted++;
	else
		fx->refused++;
	tar_run_free(&s);
}

/* The entry whose header, content or padding holds byte b (n if none). */
static int tar_entry_at(const struct tar_fixture *fx, size_t b)
{
	int i = 0;
	while (i < fx->n && b >= fx->end[i])
		i++;
	return i;
}

static void tar_check(void *arg, const struct dbuf *orig, const struct dbuf *m,
                      const struct mutation *how)
{
	struct tar_fixture *fx = arg;
	struct tar_run w;
	char err[sizeof fake_last_error];
	(void)orig;
	tar_both(fx, m, how, &w, err, sizeof err);

	int same_shape = dbuf_eq(&w.shape, &fx->whole.shape);
	int same_data = dbuf_eq(&w.hashes, &fx->whole.hashes);
	if (how->kind == MUT_FLIP) {
		int i = tar_entry_at(fx, how->lo);
		size_t b = how->lo;
		if (b < fx->data[i]) {
			/* a header: its checksum covers all but the checksum field */
			size_t o = b - fx->hdr[i];
			if (o < 148 || o >= 156)
				CHECK(!w.fed_all && w.rc == ARCA_ERR_CORRUPT &&
				      strstr(err, "checksum"));
			else
				CHECK(w.rc == ARCA_ERR_CORRUPT || (same_shape && same_data));
		} else if (b < fx->data[i] + fx->size[i]) {
			CHECK(w.rc == ARCA_OK && same_shape && !same_data); /* content */
		} else {
			CHECK(w.rc == ARCA_OK && same_shape && same_data); /* padding */
		}
	} else if (how->kind == MUT_TRUNC) {
		/* accepted exactly at entry boundaries, with the entries before */
		int boundary = m->len == 0;
		for (int i = 0; i < fx->n; i++)
			boundary |= m->len == fx->end[i];
		CHECK(w.fed_all);
		CHECK(boundary ? w.rc == ARCA_OK : w.rc == ARCA_ERR_CORRUPT);
		CHECK(w.shape.len <= fx->whole.shape.len &&
		      bytes_eq(w.shape.p, fx->whole.shape.p, w.shape.len));
	}
	tar_run_free(&w);
}

/* A header field changed and the header's checksum made right again: the
 * reader's handling of sizes, names and types gets the damage. */
static void tar_resum_check(void *arg, const struct dbuf *orig, const struct dbuf *m,
                            const struct mutation *how)
{
	struct tar_fixture *fx = arg;
	int i = tar_entry_at(fx, how->lo);
	(void)orig;
	if (i == fx->n || how->lo >= fx->data[i])
		return; /* content: tar_check covers it */
	struct dbuf c = {NULL, 0, 0};
	struct tar_run w;
	char err[sizeof fake_last_error];
	dbuf_put(&c, m->p, m->len);
	tar_set_checksum(c.p + fx->hdr[i]);
	tar_both(fx, &c, how, &w, err, sizeof err);
	tar_run_free(&w);
	free(c.p);
}

static void test_tar_mutations(void **state)
{
	(void)state;
	struct tar_fixture fx;
	memset(&fx, 0, sizeof fx);
	cur_what = "tar";
	/* the small entries first: the bit flips cover their headers */
	tar_add(&fx, NULL, "base/1", '5', 0700, 0, NULL);
	tar_add(&fx, NULL, "pg_tblspc/16384", '2', 0777, 0, "/srv/ts1");
	tar_add(&fx, NULL, "PG_VERSION", '0', 0600, 3, NULL);
	tar_add(&fx, NULL, "./backup_label", '0', 0600, 40, NULL);
	tar_add(&fx, NULL, "pg_wal/", '5', 0700, 0, NULL);
	/* a long name split into the ustar prefix field */
	tar_add(&fx, "base/16384/a_directory_name_long_enough_for_the_prefix_field", "2619_fsm",
	        '0', 0600, 700, NULL);
	tar_add(&fx, NULL, "global/pg_control", '0', 0600, 512, NULL); /* no padding */
	tar_add(&fx, NULL, "base/1/112", '0', 0600, 1000, NULL);
	struct mutation none = {MUT_NONE, 0, 0, 0, 0, 0};
	cur_how = &none;
	run_tar(&fx.tar, 0, &fx.whole);
	assert_int_equal(fx.whole.rc, ARCA_OK);
	assert_non_null(strstr((char *)fx.whole.shape.p, "base/16384/a_directory_name"));
	assert_non_null(strstr((char *)fx.whole.shape.p, " backup_label "));
	assert_non_null(strstr((char *)fx.whole.shape.p, "[5 pg_wal 700"));

	static const char *const octal[] = {
	    "77777777777", "\x80\xff\xff\xff\xff\xff\xff\xff", "0000000", " ", "\0", "-1", ".."};
	struct dbuf words[7];
	for (int i = 0; i < 7; i++)
		words[i] =
		    (struct dbuf){(unsigned char *)octal[i], i == 4 ? 1 : strlen(octal[i]), 0};
	struct plan pl = {2048, 0, fx.tar.len + 1, words, 7, 512, 1000, fx.tar.len};
	unsigned n = mutate_all(&fx.tar, &pl, tar_check, &fx);
	print_message("tar: %u variants, %u accepted, %u refused\n", n, fx.accepted, fx.refused);
	assert_true(fx.accepted > 1000 && fx.refused > 1000);

	cur_what = "tar re-checksummed";
	fx.accepted = fx.refused = 0;
	struct plan rs = {1024, 0, 0, words, 7, 1536, 0, 0};
	n = mutate_all(&fx.tar, &rs, tar_resum_check, &fx);
	print_message("tar re-checksummed: %u variants, %u accepted, %u refused\n", n, fx.accepted,
	              fx.refused);
	assert_true(fx.accepted > 1000 && fx.refused > 100);

	cur_what = "tar with end blocks";
	fx.accepted = fx.refused = 0;
	/* the classic two zero blocks at the end, then random damage */
	static const unsigned char zero[1024];
	dbuf_put(&fx.tar, zero, sizeof zero);
	fx.n = 0; /* no layout checks for this one */
	struct plan tail = {0, 0, 0, NULL, 0, 0, 300, fx.tar.len};
	n = mutate_all(&fx.tar, &tail, tar_check, &fx);
	print_message("tar with end blocks: %u variants, %u accepted, %u refused\n", n, fx.accepted,
	              fx.refused);
	assert_true(fx.accepted > 10 && fx.refused > 100);
	tar_run_free(&fx.whole);
	free(fx.tar.p);
}

/* ---- backup_manifest -------------------------------------------------------- */

struct manifest_fixture {
	struct manifest want; /* the original, parsed */
	size_t covered;       /* bytes the Manifest-Checksum covers */
	unsigned accepted, refused;
};

static int manifest_eq(const struct manifest *a, const struct manifest *b)
{
	if (a->n_files != b->n_files || a->timeline != b->timeline ||
	    a->start_lsn != b->start_lsn || a->end_lsn != b->end_lsn)
		return 0;
	for (size_t i = 0; i < a->n_files; i++) {
		const struct manifest_file *x = &a->files[i], *y = &b->files[i];
		if (strcmp(x->path, y->path) != 0 || x->size != y->size ||
		    !x->algorithm != !y->algorithm ||
		    (x->algorithm && strcmp(x->algorithm, y->algorithm) != 0) ||
		    x->checksum_len != y->checksum_len ||
		    memcmp(x->checksum, y->checksum, x->checksum_len) != 0)
			return 0;
	}
	return 1;
}

/* Check some content against every entry of an accepted manifest. */
static void manifest_use(const struct manifest *m)
{
	for (size_t i = 0; i < m->n_files; i++) {
		const struct manifest_file *f = &m->files[i];
		CHECK(f->path && f->checksum_len <= sizeof f->checksum);
		struct file_check *fc = file_check_new(f);
		CHECK(fc);
		file_check_update(fc, "15\n", 3);
		char why[256] = "";
		if (file_check_done(fc, why, sizeof why) != 0)
			CHECK(why[0]);
	}
}

static int parse_variant(struct manifest_fixture *fx, const void *text, size_t len,
                         struct manifest *m)
{
	int rc = manifest_parse(text, len, m);
	CHECK(rc == ARCA_OK || rc == ARCA_ERR_CORRUPT);
	if (rc != ARCA_OK) {
		CHECK(fake_last_error[0] && m->files == NULL && m->n_files == 0);
		fx->refused++;
	} else {
		fx->accepted++;
	}
	return rc;
}

/* The manifest as written: its checksum covers everything before its line. */
static void manifest_check(void *arg, const struct dbuf *orig, const struct dbuf *mv,
                           const struct mutation *how)
{
	struct manifest_fixture *fx = arg;
	struct manifest m;
	int rc = parse_variant(fx, mv->p, mv->len, &m);
	if (how->kind == MUT_TRUNC || mv->len < fx->covered ||
	    memcmp(mv->p, orig->p, fx->covered) != 0)
		CHECK(rc == ARCA_ERR_CORRUPT);
	if (rc == ARCA_OK) {
		/* only the checksum line changed (hex case, spacing): same content */
		CHECK(manifest_eq(&m, &fx->want));
		manifest_free(&m);
	}
}

/* A changed body with a checksum that matches it: the parser past the
 * checksum gets the damage. */
static void manifest_resigned_check(void *arg, const struct dbuf *orig, const struct dbuf *body,
                                    const struct mutation *how)
{
	struct manifest_fixture *fx = arg;
	struct manifest m;
	(void)orig;
	(void)how;
	char *text = manifest_sign_n(body->p, body->len);
	if (parse_variant(fx, text, body->len + 89, &m) == ARCA_OK) {
		manifest_use(&m);
		manifest_free(&m);
	}
	free(text);
}

static void test_manifest_mutations(void **state)
{
	(void)state;
	char crc_hex[9];
	pg_version_crc_hex(crc_hex);
	char body[4096];
	snprintf(
	    body, sizeof body,
	    "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n"
	    "\"Files\": [\n"
	    "{ \"Path\": \"backup_label\", \"Size\": 225, \"Last-Modified\": \"2026-01-01 "
	    "00:00:00 GMT\", \"Checksum-Algorithm\": \"CRC32C\", \"Checksum\": \"c3f1c2d1\" },\n"
	    "{ \"Path\": \"PG_VERSION\", \"Size\": 3, \"Last-Modified\": \"2026-01-01 00:00:00 "
	    "GMT\", \"Checksum-Algorithm\": \"CRC32C\", \"Checksum\": \"%s\" },\n"
	    "{ \"Path\": \"base/1/112\", \"Size\": 3, \"Last-Modified\": \"2026-01-01 00:00:00 "
	    "GMT\", \"Checksum-Algorithm\": \"SHA256\", \"Checksum\": "
	    "\"f0b3b2d51a51fbc1b1c0d1e6bf2f0f7a0a5f3c4e0c97fbc1d12fa3fe1a4e2b36\" },\n"
	    "{ \"Encoded-Path\": \"626173652f31\", \"Size\": 0, \"Last-Modified\": \"2026-01-01 "
	    "00:00:00 GMT\" },\n"
	    "{ \"Path\": \"global/pg_control\", \"Size\": 8192, \"Last-Modified\": "
	    "\"2026-01-01 00:00:00 GMT\", \"Checksum-Algorithm\": \"NONE\" }\n"
	    "],\n"
	    "\"WAL-Ranges\": [\n"
	    "{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\", \"End-LSN\": \"0/2000100\" },\n"
	    "{ \"Timeline\": 2, \"Start-LSN\": \"0/2000100\", \"End-LSN\": \"0/3000000\" }\n"
	    "],\n",
	    crc_hex);
	struct manifest_fixture fx;
	memset(&fx, 0, sizeof fx);
	struct dbuf text = {(unsigned char *)manifest_sign(body), 0, 0};
	text.len = strlen((char *)text.p);
	fx.covered = strlen(body);
	assert_int_equal(manifest_parse((char *)text.p, text.len, &fx.want), ARCA_OK);
	assert_int_equal(fx.want.n_files, 5);
	assert_string_equal(fx.want.files[3].path, "base/1");
	assert_int_equal(fx.want.end_lsn, 0x2000100);

	cur_what = "backup_manifest";
	struct plan pl = {text.len, 0, text.len, NULL, 0, 0, 1000, text.len};
	unsigned n = mutate_all(&text, &pl, manifest_check, &fx);
	print_message("manifest: %u variants, %u accepted, %u refused\n", n, fx.accepted,
	              fx.refused);
	assert_true(fx.accepted > 10 && fx.refused > 5000);

	cur_what = "backup_manifest re-signed";
	fx.accepted = fx.refused = 0;
	static const char *const tokens[] = {
	    "\"", "-1", "1e999", "null", "{}", "\\u0000", "99999999999999999999"};
	struct dbuf words[7];
	for (int i = 0; i < 7; i++)
		words[i] = (struct dbuf){(unsigned char *)tokens[i], strlen(tokens[i]), 0};
	struct dbuf bbody = {(unsigned char *)body, strlen(body), 0};
	struct plan rs = {bbody.len, 0, 0, words, 7, bbody.len, 1000, bbody.len};
	n = mutate_all(&bbody, &rs, manifest_resigned_check, &fx);
	print_message("manifest re-signed: %u variants, %u accepted, %u refused\n", n, fx.accepted,
	              fx.refused);
	assert_true(fx.accepted > 1000 && fx.refused > 1000);
	manifest_free(&fx.want);
	free(text.p);
}

/* ---- custom-format dumps ---------------------------------------------------- */

static uint64_t le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void canon_tok(struct dbuf *out, char tag, const void *p, size_t n)
{
	unsigned char len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)n >> (8 * i));
	dbuf_put(out, &tag, 1);
	dbuf_put(out, len, 8);
	dbuf_put(out, p, n);
}

/* The data blocks from `at` on with the chunk framing taken out (all that
 * dumpframe.c may change), read the way it reads them: tokens for block
 * types, ids, OIDs and ends, each object's content in one piece. -1 at a
 * negative chunk length; else 0 (the walk stops at the end of the bytes or
 * at a block type it does not know, whose bytes it keeps as they are). */
static int dump_canon(const unsigned char *p, size_t len, size_t at, int is, struct dbuf *out)
{
	enum { C_TYPE, C_ID, C_OID, C_LEN } st = C_TYPE;
	struct dbuf pay = {NULL, 0, 0};
	size_t pos = at, w = (size_t)is + 1;
	int blobs = 0, rc = 0;
	for (;;) {
		if (st == C_TYPE) {
			if (pos >= len)
				break;
			if (p[pos] != DUMP_BLK_DATA && p[pos] != DUMP_BLK_BLOBS) {
				canon_tok(out, 'R', p + pos, len - pos);
				break;
			}
			blobs = p[pos] == DUMP_BLK_BLOBS;
			canon_tok(out, 'B', p + pos, 1);
			pos++;
			st = C_ID;
			continue;
		}
		if (len - pos < w) {
			/* Cut short. dumpframe.c ends a cut chunk as a whole one, so
			 * "cut after a chunk" and "cut inside it" are the same here. */
			canon_tok(out, 'P', pay.p, pay.len);
			if (len > pos)
				canon_tok(out, 'r', p + pos, len - pos);
			break;
		}
		const unsigned char *num = p + pos;
		uint64_t mag = le(num + 1, is);
		int64_t v = num[0] || mag > INT64_MAX ? -1 : (int64_t)mag;
		pos += w;
		if (st == C_ID) {
			canon_tok(out, 'I', num, w);
			st = blobs ? C_OID : C_LEN;
		} else if (st == C_OID) {
			canon_tok(out, 'O', num, w);
			st = v == 0 ? C_TYPE : C_LEN;
		} else if (v < 0) {
			rc = -1;
			break;
		} else if (v == 0) {
			canon_tok(out, 'P', pay.p, pay.len);
			canon_tok(out, 'E', NULL, 0);
			pay.len = 0;
			st = blobs ? C_OID : C_TYPE;
		} else {
			size_t k = (uint64_t)v < len - pos ? (size_t)v : len - pos;
			dbuf_put(&pay, p + pos, k);
			pos += k;
			if (k < (uint64_t)v) {
				canon_tok(out, 'P', pay.p, pay.len);
				break;
			}
		}
	}
	free(pay.p);
	return rc;
}

struct frame_run {
	struct fbuf out;
	int rc;
	char note[160];
};

static void run_frame(const struct dbuf *in, uint64_t seed, struct frame_run *fr)
{
	struct dump_frame *f = dump_frame_new();
	assert_non_null(f);
	memset(fr, 0, sizeof *fr);
	uint64_t s = seed;
	int fine = seed && (splitmix(&s) & 7) == 0;
	int rc = 0;
	for (size_t off = 0; off < in->len && rc == 0;) {
		size_t k = seed ? next_piece(&s, fine, in->len, in->len - off) : in->len;
		rc = dump_frame_feed(f, in->p + off, k, &fr->out);
		off += k;
	}
	if (rc == 0)
		rc = dump_frame_finish(f, &fr->out);
	fr->rc = rc;
	snprintf(fr->note, sizeof fr->note, "%s", dump_frame_note(f) ? dump_frame_note(f) : "");
	dump_frame_free(f);
}

struct dump_fixture {
	const char *name;
	struct dbuf dump;
	size_t data_at;
	int int_size;
	char path[64]; /* scratch file for dump_fix_offsets */
	unsigned prefix_ok, framed, frame_failed, passed, fixed, fix_refused, planned;
};

static void dump_check_prefix(struct dump_fixture *fx, const struct dbuf *m,
                              const struct mutation *how, int *prc, struct dump_prefix *pre)
{
	char why[160] = "";
	*prc = dump_parse_prefix(m->p, m->len, pre, why, sizeof why);
	CHECK(*prc == -1 || *prc == 0 || *prc == 1);
	CHECK(*prc != -1 || why[0]);
	CHECK(*prc == 1 || (pre->toc == NULL && pre->n_toc == 0));
	if (*prc == 1) {
		fx->prefix_ok++;
		CHECK(pre->toc_end <= m->len);
		for (size_t i = 0; i < pre->n_toc; i++) {
			const struct dump_toc_entry *e = &pre->toc[i];
			CHECK(e->dump_id > 0 && e->flag >= 1 && e->flag <= 3);
			CHECK(e->flag_pos + 1 + (size_t)pre->off_size <= pre->toc_end);
		}
	}
	if (how->kind == MUT_TRUNC) /* a cut TOC only ever asks for more bytes */
		CHECK(m->len < fx->data_at ? *prc == 0 : *prc == 1 && pre->toc_end == fx->data_at);
	if (how->kind == MUT_FLIP && how->lo < 5)
		CHECK(*prc == -1 && strstr(why, "PGDMP"));
}

static void dump_check_frame(struct dump_fixture *fx, const struct dbuf *m,
                             const struct mutation *how, int prc, const struct dump_prefix *pre)
{
	struct frame_run w, s;
	run_frame(m, 0, &w);
	run_frame(m, how->seed, &s);
	/* frames are chosen by content, never by how the pipe split the bytes */
	CHECK(w.rc == s.rc && strcmp(w.note, s.note) == 0);
	CHECK(w.rc == 0 || w.rc == -1);
	if (w.rc == 0)
		CHECK(w.out.len == s.out.len && bytes_eq(w.out.data, s.out.data, w.out.len));
	int offsets_set = 0;
	for (size_t i = 0; prc == 1 && i < pre->n_toc; i++)
		offsets_set |= pre->toc[i].flag == DUMP_OFFSET_SET;
	if (prc != 1 || offsets_set) {
		/* not something to regroup: passed on byte for byte */
		CHECK(w.rc == 0 && w.out.len == m->len && bytes_eq(w.out.data, m->p, m->len));
		CHECK((prc == -1 || offsets_set) == (w.note[0] != 0));
		fx->passed++;
	} else {
		struct dbuf cin = {NULL, 0, 0}, cout = {NULL, 0, 0};
		int crc = dump_canon(m->p, m->len, pre->toc_end, pre->int_size, &cin);
		CHECK(!w.note[0]);
		if (crc < 0) {
			/* a negative chunk length is refused */
			CHECK(w.rc == -1);
			fx->frame_failed++;
		} else {
			/* the same header, TOC, blocks and content, in other chunks */
			CHECK(w.rc == 0);
			CHECK(w.out.len >= pre->toc_end &&
			      memcmp(w.out.data, m->p, pre->toc_end) == 0);
			CHECK(dump_canon(w.out.data, w.out.len, pre->toc_end, pre->int_size,
			                 &cout) == 0);
			CHECK(dbuf_eq(&cin, &cout));
			fx->framed++;
		}
		free(cin.p);
		free(cout.p);
	}
	free(w.out.data);
	free(s.out.data);
}

static void write_file(const char *path, const struct dbuf *d)
{
	/* a new file each time: ext4 flushes a file truncated and rewritten
	 * on close, which made this test wait for the disk */
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, d->p, d->len), (ssize_t)d->len);
	close(fd);
}

static struct dbuf read_file(const char *path)
{
	struct dbuf d = {NULL, 0, 0};
	unsigned char buf[65536];
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		dbuf_put(&d, buf, (size_t)n);
	close(fd);
	return d;
}

static void dump_check_fix(struct dump_fixture *fx, const struct dbuf *m,
                           const struct mutation *how, int prc, const struct dump_prefix *pre)
{
	char why[256] = "";
	write_file(fx->path, m);
	int rc = dump_fix_offsets(fx->path, why, sizeof why);
	struct dbuf f = read_file(fx->path);
	CHECK(rc == 0 || rc == -1);
	CHECK(why[0] && f.len == m->len);
	if (rc != 0) {
		CHECK(bytes_eq(f.p, m->p, m->len)); /* left alone */
		fx->fix_refused++;
	} else {
		/* only the offsets that were not set changed, each to the start
		 * of the block of its entry */
		CHECK(prc == 1);
		for (size_t i = 0; i < pre->n_toc; i++) {
			const struct dump_toc_entry *e = &pre->toc[i];
			size_t fp = e->flag_pos, n = 1 + (size_t)pre->off_size;
			if (e->flag != DUMP_OFFSET_NOT_SET || memcmp(f.p + fp, m->p + fp, n) == 0)
				continue;
			uint64_t o = le(f.p + fp + 1, pre->off_size);
			size_t w = 1 + (size_t)pre->int_size;
			CHECK(f.p[fp] == DUMP_OFFSET_SET);
			CHECK(o >= pre->toc_end && o + 1 + w <= m->len);
			CHECK(m->p[o] == DUMP_BLK_DATA || m->p[o] == DUMP_BLK_BLOBS);
			CHECK(m->p[o + 1] == 0 &&
			      le(m->p + o + 2, pre->int_size) == (uint64_t)e->dump_id);
			memcpy(f.p + fp, m->p + fp, n);
		}
		CHECK(bytes_eq(f.p, m->p, m->len));
		fx->fixed++;
	}
	free(f.p);
}

/* The planned copy (holes after the blocks): whatever the bytes, writing
 * them where dump_offsets_place says never overlaps two pieces, and when
 * the plan is applied every offset it set points at its entry's block. */
static void dump_check_plan(struct dump_fixture *fx, const struct dbuf *m, int prc,
                            const struct dump_prefix *pre)
{
	char why[256] = "";
	int fd = open(fx->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	struct dump_offsets *o = dump_offsets_new();
	dump_offsets_plan(o);
	uint64_t last_end = 0;
	size_t half = m->len / 2;
	for (size_t in = 0; in < m->len;) {
		size_t n = in < half ? half - in : m->len - in;
		dump_offsets_feed(o, m->p + in, n);
		for (size_t done = 0; done < n;) {
			uint64_t out;
			size_t k = dump_offsets_place(o, in + done, n - done, &out);
			CHECK(k > 0 && k <= n - done && out >= last_end);
			last_end = out + k;
			CHECK(pwrite(fd, m->p + in + done, k, (off_t)out) == (ssize_t)k);
			done += k;
		}
		in += n;
	}
	int rc = dump_offsets_apply(o, fd, why, sizeof why);
	dump_offsets_free(o);
	if (rc == 0) {
		CHECK(prc == 1);
		for (size_t i = 0; i < pre->n_toc; i++) {
			const struct dump_toc_entry *e = &pre->toc[i];
			unsigned char f[9], h[10];
			CHECK(pread(fd, f, 9, (off_t)e->flag_pos) == 9);
			if (e->flag != DUMP_OFFSET_NOT_SET || f[0] == DUMP_OFFSET_NOT_SET)
				continue;
			size_t w = 1 + (size_t)pre->int_size;
			CHECK(f[0] == DUMP_OFFSET_SET);
			CHECK(pread(fd, h, 1 + w, (off_t)le(f + 1, pre->off_size)) ==
			      (ssize_t)(1 + w));
			CHECK(h[0] == DUMP_BLK_DATA || h[0] == DUMP_BLK_BLOBS);
			CHECK(h[1] == 0 && le(h + 2, pre->int_size) == (uint64_t)e->dump_id);
		}
		fx->planned++;
	}
	close(fd);
}

static void dump_check(void *arg, const struct dbuf *orig, const struct dbuf *m,
                       const struct mutation *how)
{
	struct dump_fixture *fx = arg;
	struct dump_prefix pre;
	int prc;
	(void)orig;
	dump_check_prefix(fx, m, how, &prc, &pre);
	dump_check_frame(fx, m, how, prc, &pre);
	/* dump_fix_offsets starts with dump_parse_prefix: past a TOC that does
	 * not parse it does nothing more, so one such variant in 16 is enough */
	if (prc == 1 || how->kind == MUT_NONE || how->id % 16 == 0) {
		dump_check_fix(fx, m, how, prc, &pre);
		dump_check_plan(fx, m, prc, &pre);
	}
	free(pre.toc);
}

/* Archive ints at every offset: limits of the sign and the magnitude. */
static size_t int_words(int is, struct dbuf *words)
{
	static const uint64_t mags[] = {
	    0,          1,         5,          0x7fffffffull, 0x80000000ull, 0xffffffffull,
	    1ull << 32, INT64_MAX, 1ull << 63, UINT64_MAX};
	size_t n = 0;
	for (unsigned sign = 0; sign < 2; sign++)
		for (size_t i = 0; i < sizeof mags / sizeof mags[0]; i++) {
			if (is == 4 && mags[i] > UINT32_MAX)
				continue;
			unsigned char *b = calloc(1, 9);
			b[0] = (unsigned char)sign;
			for (int k = 0; k < is; k++)
				b[1 + k] = (unsigned char)(mags[i] >> (8 * k));
			words[n++] = (struct dbuf){b, (size_t)is + 1, 0};
		}
	return n;
}

/* How much of each kind a dump gets. Under ASan every variant costs about
 * a millisecond (dumpframe.c's 256 KiB frame buffer is mapped and unmapped
 * twice, the scratch file once), which sets these counts. */
struct dump_budget {
	size_t flip_bytes;                /* every bit of the first ... bytes */
	size_t trunc_before, trunc_after; /* every length around the end of the TOC */
	size_t word_span;                 /* archive ints written at every offset below */
	unsigned edits;
};

static void dump_mutations(const char *name, const struct dump_spec *spec,
                           const struct dump_budget *bu)
{
	struct dump_fixture fx;
	memset(&fx, 0, sizeof fx);
	fx.name = name;
	fx.int_size = spec->int_size;
	fx.dump = make_dump_spec(spec, &fx.data_at);
	snprintf(fx.path, sizeof fx.path, "/tmp/arca-test-mutate-XXXXXX");
	int fd = mkstemp(fx.path);
	assert_true(fd >= 0);
	close(fd);
	cur_what = name;

	/* the original: its offsets all repaired, and regrouped */
	char why[160];
	write_file(fx.path, &fx.dump);
	assert_int_equal(dump_fix_offsets(fx.path, why, sizeof why), 0);
	assert_string_equal(why, spec->blobs ? "2 data offsets set" : "1 data offsets set");
	struct mutation none = {MUT_NONE, 0, 0, 0, 12345, 0};
	cur_how = &none;
	dump_check(&fx, &fx.dump, &fx.dump, &none);
	assert_int_equal(fx.framed, 1);
	assert_int_equal(fx.fixed, 1);

	/* every cut of the header, down to no bytes at all */
	struct plan head = {0, 0, 32, NULL, 0, 0, 0, 0};
	unsigned n = mutate_all(&fx.dump, &head, dump_check, &fx);
	struct dbuf words[20];
	size_t n_words = int_words(spec->int_size, words);
	struct plan pl = {bu->flip_bytes,
	                  fx.data_at - bu->trunc_before,
	                  fx.data_at + bu->trunc_after,
	                  words,
	                  n_words,
	                  bu->word_span,
	                  bu->edits,
	                  fx.dump.len};
	n += mutate_all(&fx.dump, &pl, dump_check, &fx);
	print_message("%s: %u variants; TOC parsed %u; regrouped %u, refused %u, passed on %u; "
	              "offsets fixed %u, refused %u; planned %u\n",
	              name, n, fx.prefix_ok, fx.framed, fx.frame_failed, fx.passed, fx.fixed,
	              fx.fix_refused, fx.planned);
	/* every outcome was reached */
	assert_true(fx.framed > 50 && fx.frame_failed > 5 && fx.passed > 50);
	assert_true(fx.fixed > 50 && fx.fix_refused > 50 && fx.planned > 50);
	for (size_t i = 0; i < n_words; i++)
		free(words[i].p);
	unlink(fx.path);
	free(fx.dump.p);
}

static void test_dump_mutations(void **state)
{
	(void)state;
	/* pg_dump 15's archive 1.14 with a large-object block */
	struct dump_spec a = {14, 4, 40, 0, 1};
	struct dump_budget ba = {256, 32, 160, 64, 400};
	dump_mutations("dump 1.14", &a, &ba);
	/* 1.16 (relkind in the TOC) with 8-byte ints */
	struct dump_spec b = {16, 8, 20, 0, 1};
	struct dump_budget bb = {64, 8, 56, 80, 200};
	dump_mutations("dump 1.16 int8", &b, &bb);
	/* 1.15 (a compression byte), no large objects */
	struct dump_spec c = {15, 4, 20, 0, 0};
	struct dump_budget bc = {64, 8, 56, 32, 200};
	dump_mutations("dump 1.15", &c, &bc);
}

/* Large enough for frames to close inside a block (16 KiB), with a row
 * wider than a frame (256 KiB) that passes as its own chunk. */
static void test_dump_mutations_large(void **state)
{
	(void)state;
	struct dump_spec l = {14, 4, 3000, (256u << 10) + 1000, 1};
	struct dump_fixture fx;
	memset(&fx, 0, sizeof fx);
	fx.dump = make_dump_spec(&l, &fx.data_at);
	fx.int_size = 4;
	snprintf(fx.path, sizeof fx.path, "/tmp/arca-test-mutate-XXXXXX");
	int fd = mkstemp(fx.path);
	assert_true(fd >= 0);
	close(fd);
	cur_what = "large dump";
	struct mutation none = {MUT_NONE, 0, 0, 0, 777, 0};
	cur_how = &none;
	dump_check(&fx, &fx.dump, &fx.dump, &none);
	assert_int_equal(fx.framed, 1);
	struct plan pl = {0, fx.data_at, fx.data_at + 24, NULL, 0, 0, 60, fx.dump.len};
	unsigned n = mutate_all(&fx.dump, &pl, dump_check, &fx);
	print_message("large dump: %u variants; regrouped %u, refused %u, passed on %u\n", n,
	              fx.framed, fx.frame_failed, fx.passed);
	assert_true(fx.framed > 20 && fx.frame_failed > 5);
	unlink(fx.path);
	free(fx.dump.p);
}

/* ---- WAL segment headers ---------------------------------------------------- */

/* wal-push takes the segment size from the long page header and checks the
 * file's length against it, so a 1 MiB segment (the smallest initdb makes)
 * goes through the same code as a 16 MiB one while keeping hundreds of
 * pushes cheap under ASan. */
#define WAL_SEG (1u << 20)

struct wal_fixture {
	char dir[64], path[128];
	uint64_t sysid;
	int full; /* the file holds a whole segment */
	unsigned ok, corrupt, exists;
};

/* A variant as long as a segment differs from it in its first 256 bytes
 * at most (the edits stay in the first 64): rewrite only those. */
static void wal_write(struct wal_fixture *fx, const struct dbuf *m)
{
	if (m->len == WAL_SEG && fx->full) {
		int fd = open(fx->path, O_WRONLY);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, m->p, 256, 0), 256);
		close(fd);
		return;
	}
	write_file(fx->path, m);
	fx->full = m->len == WAL_SEG;
}

static int wal_push_variant(struct wal_fixture *fx, const struct dbuf *m)
{
	struct pg_target t;
	memset(&t, 0, sizeof t);
	t.name = "app-wal";
	wal_write(fx, m);
	char *argv[] = {fx->path, NULL};
	int rc = wal_push(&t, NULL, 1, argv);
	CHECK(rc == ARCA_OK || fake_last_error[0]);
	return rc;
}

static void wal_check(void *arg, const struct dbuf *orig, const struct dbuf *m,
                      const struct mutation *how)
{
	struct wal_fixture *fx = arg;
	int rc = wal_push_variant(fx, m);
	CHECK(rc == ARCA_OK || rc == ARCA_ERR_CORRUPT || rc == ARCA_ERR_EXISTS);
	fx->ok += rc == ARCA_OK;
	fx->corrupt += rc == ARCA_ERR_CORRUPT;
	fx->exists += rc == ARCA_ERR_EXISTS;
	uint16_t info = 0;
	uint32_t seg = 0;
	uint64_t sysid = 0;
	if (m->len >= 40) {
		memcpy(&info, m->p + 2, 2);
		memcpy(&sysid, m->p + 24, 8);
		memcpy(&seg, m->p + 32, 4);
	}
	if (how->kind == MUT_FLIP) {
		if (!(info & 0x0002) || (how->lo >= 32 && how->lo < 36))
			CHECK(rc == ARCA_ERR_CORRUPT); /* no long header; not its length */
		else if (how->lo >= 24 && how->lo < 32)
			CHECK(rc == ARCA_ERR_EXISTS &&
			      strstr(fake_last_error, "system_identifier=")); /* another cluster */
		else if (how->lo >= 36)
			CHECK(rc == ARCA_OK); /* past the fields wal-push reads */
	} else if (how->kind == MUT_TRUNC) {
		CHECK(rc == ARCA_ERR_CORRUPT);
	} else {
		/* accepted only when the length matches the header and the
		 * cluster is the archived one */
		if (rc == ARCA_OK)
			CHECK(m->len == seg && (info & 0x0002) && sysid == fx->sysid &&
			      memcmp(m->p + 24, orig->p + 24, 12) == 0);
		if (m->len != orig->len)
			CHECK(rc == ARCA_ERR_CORRUPT);
	}
}

static void test_wal_mutations(void **state)
{
	(void)state;
	struct wal_fixture fx;
	memset(&fx, 0, sizeof fx);
	snprintf(fx.dir, sizeof fx.dir, "/tmp/arca-test-wal-XXXXXX");
	assert_non_null(mkdtemp(fx.dir));
	snprintf(fx.path, sizeof fx.path, "%s/000000010000000000000001", fx.dir);
	cur_what = "WAL segment";

	/* a first page with a long header: magic, info, timeline, page
	 * address, remaining length, system identifier, segment and block size */
	struct dbuf seg = {calloc(1, WAL_SEG), WAL_SEG, 0};
	uint16_t magic = 0xD110, info = 0x0002;
	uint32_t tli = 1, segsz = WAL_SEG, blcksz = 8192;
	uint64_t pageaddr = WAL_SEG;
	fx.sysid = 7350123456789012345ull;
	memcpy(seg.p, &magic, 2);
	memcpy(seg.p + 2, &info, 2);
	memcpy(seg.p + 4, &tli, 4);
	memcpy(seg.p + 8, &pageaddr, 8);
	memcpy(seg.p + 24, &fx.sysid, 8);
	memcpy(seg.p + 32, &segsz, 4);
	memcpy(seg.p + 36, &blcksz, 4);
	for (size_t i = 64; i < WAL_SEG; i++)
		seg.p[i] = (unsigned char)(i * 131 >> 3);
	struct mutation none = {MUT_NONE, 0, 0, 0, 0, 0};
	cur_how = &none;
	assert_int_equal(wal_push_variant(&fx, &seg), ARCA_OK);
	assert_true(have_cluster);

	struct plan pl = {48, 0, 48, NULL, 0, 0, 150, 64};
	unsigned n = mutate_all(&seg, &pl, wal_check, &fx);
	/* cut near the end */
	struct mutation how = {MUT_TRUNC, 0, WAL_SEG, 0, 0, n};
	cur_how = &how;
	for (size_t l = WAL_SEG - 16; l < WAL_SEG; l++) {
		struct dbuf m = {seg.p, l, 0};
		how.lo = l;
		fake_last_error[0] = 0;
		wal_check(&fx, &seg, &m, &how);
	}
	/* a header and length that agree, on a size PostgreSQL cannot have */
	struct dbuf small = {seg.p, 64u << 10, 0};
	uint32_t small_size = 64u << 10;
	uint32_t keep;
	memcpy(&keep, seg.p + 32, 4);
	memcpy(seg.p + 32, &small_size, 4);
	fake_last_error[0] = 0;
	assert_int_equal(wal_push_variant(&fx, &small), ARCA_ERR_CORRUPT);
	assert_non_null(strstr(fake_last_error, "segment size of 65536 bytes"));
	memcpy(seg.p + 32, &keep, 4);
	print_message("WAL: %u variants, %u archived, %u refused as damaged, %u as another "
	              "cluster\n",
	              n + 16, fx.ok, fx.corrupt, fx.exists);
	assert_true(fx.ok > 100 && fx.corrupt > 100 && fx.exists > 10);
	unlink(fx.path);
	rmdir(fx.dir);
	free(seg.p);
	free(cluster_blob.p);
	cluster_blob = (struct dbuf){NULL, 0, 0};
	have_cluster = 0;
}

/* WAL file names with a flipped bit: accepted exactly when the flip
 * turned a hex digit into another one. */
static void test_wal_name_mutations(void **state)
{
	(void)state;
	static const char *const names[] = {"000000010000000000000001", "0000000A.history",
	                                    "000000010000000000000002.00000028.backup",
	                                    "00000001000000000000000A.partial"};
	static const char hex_runs[][41] = {"xxxxxxxxxxxxxxxxxxxxxxxx", "xxxxxxxx........",
	                                    "xxxxxxxxxxxxxxxxxxxxxxxx.xxxxxxxx.......",
	                                    "xxxxxxxxxxxxxxxxxxxxxxxx........"};
	unsigned accepted = 0, refused = 0;
	for (size_t k = 0; k < 4; k++) {
		assert_true(wal_is_archivable(names[k]));
		for (size_t i = 0; names[k][i]; i++)
			for (unsigned bit = 0; bit < 8; bit++) {
				char name[64], blob[64];
				snprintf(name, sizeof name, "%s", names[k]);
				name[i] ^= (char)(1u << bit);
				int hex = strchr("0123456789abcdefABCDEF", name[i]) && name[i];
				int want = hex_runs[k][i] == 'x' && hex;
				if (wal_is_archivable(name) != want)
					fail_msg("%s with bit %u of byte %zu flipped (%s): %s",
					         names[k], bit, i, name,
					         want ? "refused" : "accepted");
				if (want) {
					wal_blob_name(name, blob, sizeof blob);
					assert_int_equal(strlen(blob), 4 + strlen(names[k]));
				}
				accepted += want;
				refused += !want;
			}
	}
	assert_true(accepted > 100 && refused > 500);
}

/* A segment size PostgreSQL cannot have (from damaged or crafted metadata)
 * is refused before any arithmetic divides by it. */
static void test_wal_chain_bad_segment_size(void **state)
{
	(void)state;
	char last[WAL_NAME_LEN + 1], hole[WAL_NAME_LEN + 1], newest[WAL_NAME_LEN + 1];
	const uint64_t bad[] = {0, 3, (16u << 20) + 1, 2ull << 30, 1ull << 33, 1ull << 63};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		fake_last_error[0] = 0;
		assert_int_equal(wal_chain(NULL, "000000010000000000000001", bad[i], last, hole,
		                           newest),
		                 ARCA_ERR_CORRUPT);
		assert_non_null(strstr(fake_last_error, "not a PostgreSQL segment size"));
	}
}

int main(void)
{
	/* a hang is a failure, not a stuck CI job */
	alarm(300);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_tar_mutations, setup),
	    cmocka_unit_test_setup(test_manifest_mutations, setup),
	    cmocka_unit_test_setup(test_dump_mutations, setup),
	    cmocka_unit_test_setup(test_dump_mutations_large, setup),
	    cmocka_unit_test_setup(test_wal_mutations, setup),
	    cmocka_unit_test_setup(test_wal_name_mutations, setup),
	    cmocka_unit_test_setup(test_wal_chain_bad_segment_size, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
