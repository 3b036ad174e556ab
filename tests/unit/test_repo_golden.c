/* test_repo_golden.c — the checked-in vectors of repository format 2
 * (tests/data/golden-v2, README.md there): chunk boundaries and ids of a
 * fixed input, sealed blobs of every kind with their AAD, and the golden
 * repository's named blob. They were written once by an earlier arca; every
 * later one must read and reproduce them, or existing backups become
 * unreadable or stop deduplicating. A failure here is a format change:
 * fix the code, or (deliberately) regenerate the data with make.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "log.h"
#include "repo.h"
#include "repo/blob.h"
#include "repo/chunker.h"
#include "repo/index.h"
#include "repo/snapshot.h"
#include "test_repo_dest.h"
#include "util.h"

#ifndef GOLDEN_DIR
#error "GOLDEN_DIR (tests/data/golden-v2 in the source tree) must be defined"
#endif

static char *golden_path(const char *name)
{
	return xasprintf("%s/%s", GOLDEN_DIR, name);
}

/* The lines of a golden file, comments and blank lines left out, each
 * split at spaces into at most 10 fields. */
struct line {
	char *f[10];
	int n;
};
struct lines {
	struct line *v;
	size_t n;
	char *text;
};

static void lines_read(const char *name, struct lines *out)
{
	char *path = golden_path(name);
	size_t len;
	memset(out, 0, sizeof *out);
	if (read_file(path, &out->text, &len))
		fail_msg("cannot read %s", path);
	free(path);
	for (char *save = NULL, *l = strtok_r(out->text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		if (*l == '#')
			continue;
		out->v = realloc(out->v, (out->n + 1) * sizeof *out->v);
		struct line *ln = &out->v[out->n++];
		ln->n = 0;
		for (char *s2 = NULL, *w = strtok_r(l, " ", &s2); w && ln->n < 10;
		     w = strtok_r(NULL, " ", &s2))
			ln->f[ln->n++] = w;
	}
}

static void lines_free(struct lines *l)
{
	free(l->v);
	free(l->text);
}

/* The rest of the line after `key` (single value), or fail. */
static const char *value(const struct lines *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].n == 2 && !strcmp(l->v[i].f[0], key))
			return l->v[i].f[1];
	fail_msg("golden file lacks '%s'", key);
	return NULL;
}

/* Hex ("-" = empty) into a malloc'd buffer. */
static unsigned char *unhex(const char *h, size_t *n)
{
	if (!strcmp(h, "-")) {
		*n = 0;
		return malloc(1);
	}
	size_t len = strlen(h);
	assert_int_equal(len % 2, 0);
	unsigned char *p = malloc(len / 2 + 1);
	assert_int_equal(hex_decode(h, p, len / 2), 0);
	*n = len / 2;
	return p;
}

static void unhex_fixed(const char *h, unsigned char *out, size_t n)
{
	assert_int_equal(strlen(h), 2 * n);
	assert_int_equal(hex_decode(h, out, n), 0);
}

/* SHA-256(label || u64 LE counter) blocks, concatenated (make_tree.py). */
static void stream(const char *label, unsigned char *out, size_t n)
{
	size_t ll = strlen(label);
	unsigned char msg[256], blk[ID_LEN];
	assert_true(ll + 8 <= sizeof msg);
	memcpy(msg, label, ll);
	for (uint64_t i = 0; n; i++) {
		put_le64(msg + ll, i);
		sha256(msg, ll + 8, blk);
		size_t k = n < ID_LEN ? n : ID_LEN;
		memcpy(out, blk, k);
		out += k;
		n -= k;
	}
}

/* ---- chunk boundaries ---- */

/* Cut d feeding `piece` bytes at a time (0: all) and compare every chunk
 * with the golden lines of `mode`. */
static void check_cuts(const struct lines *l, const char *mode, const unsigned char *seed,
		       const struct repo_keys *k, const unsigned char *d, size_t n, size_t piece)
{
	struct cdc c;
	struct cdc_params p = {CDC_MIN_DEFAULT, CDC_AVG_DEFAULT, CDC_MAX_DEFAULT};
	assert_int_equal(cdc_init(&c, &p, seed), 0);
	size_t start = 0, off = 0, next = 0, got = 0;
	while (off < n) {
		size_t want = piece && piece < n - off ? piece : n - off;
		int cut;
		off += cdc_feed(&c, d + off, want, &cut);
		if (!cut && off < n)
			continue;
		/* the next golden line of this mode */
		while (next < l->n && (l->v[next].n != 5 || strcmp(l->v[next].f[0], "chunk") ||
				       strcmp(l->v[next].f[1], mode)))
			next++;
		if (next == l->n)
			fail_msg("%s: chunk at %zu (%zu bytes) is not in chunks.txt", mode, start,
				 off - start);
		const struct line *ln = &l->v[next++];
		unsigned char id[ID_LEN], want_id[ID_LEN];
		assert_int_equal(chunk_id(k, d + start, off - start, id), 0);
		unhex_fixed(ln->f[4], want_id, ID_LEN);
		if (strtoull(ln->f[2], NULL, 10) != start ||
		    strtoull(ln->f[3], NULL, 10) != off - start)
			fail_msg("%s chunk %zu: cut at %zu+%zu, golden %s+%s (piece %zu)", mode,
				 got, start, off - start, ln->f[2], ln->f[3], piece);
		assert_memory_equal(id, want_id, ID_LEN);
		got++;
		start = off;
	}
	for (; next < l->n; next++)
		if (l->v[next].n == 5 && !strcmp(l->v[next].f[1], mode))
			fail_msg("%s: chunks.txt has more chunks than the %zu cut", mode, got);
	assert_true(got >= 6);
}

static void test_chunk_boundaries(void **state)
{
	(void)state;
	struct lines l;
	lines_read("chunks.txt", &l);
	size_t nrand = strtoull(value(&l, "input_random"), NULL, 10);
	size_t nzero = strtoull(value(&l, "input_zeros"), NULL, 10);
	/* The input label has spaces: its words, joined again. */
	char label[128] = "";
	for (size_t i = 0; i < l.n; i++)
		if (!strcmp(l.v[i].f[0], "input_label"))
			for (int w = 1; w < l.v[i].n; w++)
				snprintf(label + strlen(label), sizeof label - strlen(label),
					 "%s%s", w > 1 ? " " : "", l.v[i].f[w]);
	assert_string_equal(label, "arca-golden-v2 chunker input");
	assert_int_equal(nrand, 8u << 20);
	unsigned char *d = calloc(1, nrand + nzero), sum[ID_LEN], want[ID_LEN];
	stream(label, d, nrand);
	sha256(d, nrand + nzero, sum);
	unhex_fixed(value(&l, "input_sha256"), want, ID_LEN);
	assert_memory_equal(sum, want, ID_LEN);

	unsigned char seed[KEY_LEN];
	struct repo_keys keyed = {.encrypted = 1}, plain = {0};
	unhex_fixed(value(&l, "chunker_key"), seed, KEY_LEN);
	unhex_fixed(value(&l, "mac_key"), keyed.mac, KEY_LEN);
	/* Whole, and in pieces that do not line up with anything. */
	check_cuts(&l, "keyed", seed, &keyed, d, nrand + nzero, 0);
	check_cuts(&l, "keyed", seed, &keyed, d, nrand + nzero, 65521);
	check_cuts(&l, "plain", NULL, &plain, d, nrand + nzero, 0);
	check_cuts(&l, "plain", NULL, &plain, d, nrand + nzero, 4099);
	free(d);
	lines_free(&l);
}

/* ---- sealed blobs ---- */

struct vec {
	const char *label;
	enum blob_kind kind;
	const char *mode;        /* enc, plain, kek */
	int zstd;
	unsigned char *ctx, *aad, *plain, *sealed;
	size_t ctx_len, aad_len, plain_len, sealed_len;
};

struct vectors {
	struct lines l;
	struct vec *v;
	size_t n;
	unsigned char repo_id[ID_LEN];
	struct repo_keys enc, plain, kek;
};

static void vectors_load(struct vectors *vs)
{
	memset(vs, 0, sizeof *vs);
	lines_read("sealed.txt", &vs->l);
	unhex_fixed(value(&vs->l, "repo_id"), vs->repo_id, ID_LEN);
	vs->enc.encrypted = vs->kek.encrypted = 1;
	unhex_fixed(value(&vs->l, "enc_key"), vs->enc.enc, KEY_LEN);
	unhex_fixed(value(&vs->l, "mac_key"), vs->enc.mac, KEY_LEN);
	unhex_fixed(value(&vs->l, "chunker_key"), vs->enc.chunker, KEY_LEN);
	/* The key-encryption key of a generated key: HKDF-SHA-256 with this info. */
	const char *secret = value(&vs->l, "secret");
	unsigned char gen[KEY_LEN], salt[32], kek[KEY_LEN];
	assert_int_equal(strncmp(secret, "arca-key1-", 10), 0);
	unhex_fixed(secret + 10, gen, KEY_LEN);
	unhex_fixed(value(&vs->l, "kek_salt"), salt, sizeof salt);
	unhex_fixed(value(&vs->l, "kek"), kek, KEY_LEN);
	const char *info = "arca key object v1";
	assert_int_equal(hkdf_sha256_32(gen, KEY_LEN, salt, sizeof salt, info, strlen(info),
					vs->kek.enc), 0);
	assert_memory_equal(vs->kek.enc, kek, KEY_LEN);
	for (size_t i = 0; i < vs->l.n; i++) {
		const struct line *ln = &vs->l.v[i];
		if (strcmp(ln->f[0], "vector"))
			continue;
		assert_int_equal(ln->n, 9);
		vs->v = realloc(vs->v, (vs->n + 1) * sizeof *vs->v);
		struct vec *v = &vs->v[vs->n++];
		v->label = ln->f[1];
		assert_int_equal(strlen(ln->f[2]), 1);
		v->kind = (enum blob_kind)ln->f[2][0];
		v->mode = ln->f[3];
		v->zstd = !strcmp(ln->f[4], "zstd");
		v->ctx = unhex(ln->f[5], &v->ctx_len);
		v->aad = unhex(ln->f[6], &v->aad_len);
		v->plain = unhex(ln->f[7], &v->plain_len);
		v->sealed = unhex(ln->f[8], &v->sealed_len);
	}
}

static void vectors_free(struct vectors *vs)
{
	for (size_t i = 0; i < vs->n; i++) {
		free(vs->v[i].ctx);
		free(vs->v[i].aad);
		free(vs->v[i].plain);
		free(vs->v[i].sealed);
	}
	free(vs->v);
	lines_free(&vs->l);
}

static const struct repo_keys *keys_of(struct vectors *vs, const struct vec *v)
{
	if (!strcmp(v->mode, "enc"))
		return &vs->enc;
	if (!strcmp(v->mode, "kek"))
		return &vs->kek;
	assert_string_equal(v->mode, "plain");
	return &vs->plain;
}

static const struct vec *find(const struct vectors *vs, const char *label)
{
	for (size_t i = 0; i < vs->n; i++)
		if (!strcmp(vs->v[i].label, label))
			return &vs->v[i];
	fail_msg("sealed.txt has no vector %s", label);
	return NULL;
}

static void test_sealed_open(void **state)
{
	(void)state;
	struct vectors vs;
	vectors_load(&vs);
	static const char kinds[] = {BK_KEY, BK_CHUNK, BK_PACK_HEADER, BK_INDEX, BK_FRAME,
				     BK_SUMMARY, BK_NAMED};
	int seen[256] = {0};
	struct buf out = {0};
	for (size_t i = 0; i < vs.n; i++) {
		const struct vec *v = &vs.v[i];
		const struct repo_keys *k = keys_of(&vs, v);
		struct aad aad;
		/* The AAD is magic || kind || repository id || context. */
		aad_make(&aad, v->kind, vs.repo_id, v->ctx, v->ctx_len);
		assert_int_equal(aad.len, v->aad_len);
		assert_memory_equal(aad.b, v->aad, aad.len);
		assert_memory_equal(aad.b, "arca-aad2", 9);
		if (blob_open(k, &aad, v->sealed, v->sealed_len, v->plain_len, &out, v->label) !=
		    ARCA_OK)
			fail_msg("%s: %s", v->label, err_msg());
		assert_int_equal(out.len, v->plain_len);
		assert_memory_equal(out.data, v->plain, v->plain_len);
		/* Unencrypted: the flag byte is visible, and sealing is deterministic. */
		if (!k->encrypted) {
			assert_int_equal(v->sealed[0], v->zstd ? BLOB_ZSTD : BLOB_RAW);
			if (!v->zstd) {
				assert_int_equal(v->sealed_len, v->plain_len + blob_overhead(k));
				struct buf again = {0};
				assert_int_equal(blob_seal(k, &aad, NULL, 0, v->plain, v->plain_len,
							   &again), ARCA_OK);
				assert_int_equal(again.len, v->sealed_len);
				assert_memory_equal(again.data, v->sealed, again.len);
				buf_free(&again);
			}
		}
		/* Under every other kind (same repository and context), another
		 * repository, another context, another vector's AAD: refused. */
		for (size_t j = 0; j < sizeof kinds; j++) {
			if (kinds[j] == (char)v->kind)
				continue;
			struct aad other;
			aad_make(&other, (enum blob_kind)kinds[j], vs.repo_id, v->ctx, v->ctx_len);
			if (blob_open(k, &other, v->sealed, v->sealed_len, 1 << 20, &out, "t") !=
			    ARCA_ERR_CORRUPT)
				fail_msg("%s opens as kind '%c'", v->label, kinds[j]);
		}
		unsigned char rid[ID_LEN];
		memcpy(rid, vs.repo_id, ID_LEN);
		rid[31] ^= 1;
		struct aad foreign;
		aad_make(&foreign, v->kind, rid, v->ctx, v->ctx_len);
		assert_int_equal(blob_open(k, &foreign, v->sealed, v->sealed_len, 1 << 20, &out,
					   "t"), ARCA_ERR_CORRUPT);
		if (v->ctx_len) {
			struct aad moved = aad;
			moved.b[moved.len - 1] ^= 1;
			assert_int_equal(blob_open(k, &moved, v->sealed, v->sealed_len, 1 << 20,
						   &out, "t"), ARCA_ERR_CORRUPT);
		}
		for (size_t j = 0; j < vs.n; j++) {
			const struct vec *w = &vs.v[j];
			if (j == i || keys_of(&vs, w) != k || (w->aad_len == v->aad_len &&
							      !memcmp(w->aad, v->aad, v->aad_len)))
				continue;
			struct aad other;
			aad_make(&other, w->kind, vs.repo_id, w->ctx, w->ctx_len);
			if (blob_open(k, &other, v->sealed, v->sealed_len, 1 << 20, &out, "t") !=
			    ARCA_ERR_CORRUPT)
				fail_msg("%s opens under the AAD of %s", v->label, w->label);
		}
		/* A plaintext bound is enforced before anything is allocated. */
		if (v->plain_len)
			assert_int_equal(blob_open(k, &aad, v->sealed, v->sealed_len,
						   v->plain_len - 1, &out, "t"), ARCA_ERR_CORRUPT);
		seen[v->kind] = 1;
	}
	for (size_t j = 0; j < sizeof kinds; j++)
		if (!seen[(unsigned char)kinds[j]])
			fail_msg("sealed.txt has no vector of kind '%c'", kinds[j]);
	assert_true(find(&vs, "chunk-raw-enc") && find(&vs, "chunk-zstd-enc"));
	buf_free(&out);
	vectors_free(&vs);
}

/* The plaintexts are laid out as the repository writes them: check them
 * with the codecs (a change to one is a format change too). */
static void check_layouts(struct vectors *vs, const char *mode)
{
	char l[64];
	const struct repo_keys *k = !strcmp(mode, "enc") ? &vs->enc : &vs->plain;
	const struct vec *c[2], *h, *ix, *f[2], *s, *b;
	snprintf(l, sizeof l, "chunk-raw-%s", mode);
	c[0] = find(vs, l);
	snprintf(l, sizeof l, "chunk-zstd-%s", mode);
	c[1] = find(vs, l);
	assert_false(c[0]->zstd);
	assert_true(c[1]->zstd);
	for (int i = 0; i < 2; i++) {
		unsigned char id[ID_LEN];
		assert_int_equal(chunk_id(k, c[i]->plain, c[i]->plain_len, id), 0);
		assert_int_equal(c[i]->ctx_len, ID_LEN);
		assert_memory_equal(id, c[i]->ctx, ID_LEN);
	}
	/* Pack header: "APH1", u32 count, then (id, u64 offset, u32 length,
	 * u32 raw length) per chunk, little endian. */
	snprintf(l, sizeof l, "pack-header-%s", mode);
	h = find(vs, l);
	assert_int_equal(h->plain_len, 8 + 2 * 48);
	assert_memory_equal(h->plain, "APH1", 4);
	assert_int_equal(get_le32(h->plain + 4), 2);
	/* Index: "AIX1", u32 packs, per pack (id, u64 size, u32 n, entries). */
	snprintf(l, sizeof l, "index-%s", mode);
	ix = find(vs, l);
	struct pack_info *pi;
	size_t np;
	assert_int_equal(idx_decode(ix->plain, ix->plain_len, "golden index", CDC_MAX_DEFAULT,
				    (uint32_t)blob_overhead(k), &pi, &np), ARCA_OK);
	assert_int_equal(np, 1);
	assert_int_equal(pi[0].n, 2);
	uint64_t off = 0;
	for (int i = 0; i < 2; i++) {
		const unsigned char *q = h->plain + 8 + 48 * i;
		assert_memory_equal(pi[0].e[i].id, c[i]->ctx, ID_LEN);
		assert_memory_equal(q, c[i]->ctx, ID_LEN);
		assert_int_equal(pi[0].e[i].offset, off);
		assert_int_equal(get_le64(q + 32), off);
		assert_int_equal(pi[0].e[i].length, c[i]->sealed_len);
		assert_int_equal(get_le32(q + 40), c[i]->sealed_len);
		assert_int_equal(pi[0].e[i].raw_length, c[i]->plain_len);
		assert_int_equal(get_le32(q + 44), c[i]->plain_len);
		off += c[i]->sealed_len;
	}
	pack_info_free(pi, np);
	/* Frames: {"seq":N,"items":[...]}, bound to u32 LE N || target; an
	 * item's chunks are one string of concatenated hex ids; a name that is
	 * not UTF-8 is "name_hex". */
	struct buf frames = {0};
	for (int i = 0; i < 2; i++) {
		snprintf(l, sizeof l, "frame%d-%s", i, mode);
		f[i] = find(vs, l);
		assert_int_equal(f[i]->ctx_len, 4 + 6);
		assert_int_equal(get_le32(f[i]->ctx), i);
		assert_memory_equal(f[i]->ctx + 4, "golden", 6);
		json_t *doc = json_loadb((const char *)f[i]->plain, f[i]->plain_len, 0, NULL);
		assert_non_null(doc);
		assert_int_equal(json_integer_value(json_object_get(doc, "seq")), i);
		json_t *item = json_array_get(json_object_get(doc, "items"), 0);
		struct arca_item_info info;
		assert_int_equal(item_from_json(item, &info), 0);
		assert_string_equal(info.name, i ? "caf\xe9" : "hello.txt");
		assert_int_equal(info.type, ARCA_ITEM_FILE);
		assert_int_equal(info.mode, 0644);
		assert_int_equal(info.mtime_sec, 1700000000);
		assert_int_equal(info.mtime_nsec, 123456789);
		assert_int_equal(info.size, c[0]->plain_len + c[1]->plain_len);
		assert_int_equal(item_chunk_count(item), 2);
		for (int j = 0; j < 2; j++) {
			unsigned char id[ID_LEN];
			assert_int_equal(item_chunk(item, (size_t)j, id), 0);
			assert_memory_equal(id, c[j]->ctx, ID_LEN);
		}
		json_decref(doc);
		unsigned char l4[4];
		put_le32(l4, (uint32_t)f[i]->sealed_len);
		buf_append(&frames, l4, 4);
		buf_append(&frames, f[i]->sealed, f[i]->sealed_len);
	}
	/* Summary: version 2, its target, frames_sha256 over all bytes before
	 * the summary frame's length prefix. */
	snprintf(l, sizeof l, "summary-%s", mode);
	s = find(vs, l);
	json_t *sum = json_loadb((const char *)s->plain, s->plain_len, 0, NULL);
	assert_non_null(sum);
	assert_int_equal(json_integer_value(json_object_get(sum, "version")), 2);
	assert_string_equal(json_string_value(json_object_get(sum, "target")), "golden");
	assert_int_equal(json_integer_value(json_object_get(sum, "frames")), 2);
	unsigned char fh[ID_LEN];
	char fhex[65];
	sha256(frames.data, frames.len, fh);
	hex_encode(fh, ID_LEN, fhex);
	assert_string_equal(json_string_value(json_object_get(sum, "frames_sha256")), fhex);
	struct repo_snapshot snap;
	assert_int_equal(summary_to_snapshot(sum, "x", &snap), ARCA_OK);
	assert_int_equal(snap.time, 1700000000);
	assert_int_equal(snap.items, 2);
	repo_snapshot_clear(&snap);
	json_decref(sum);
	buf_free(&frames);
	/* Named blob: bound to its object name, "blobs/<enc target>/<enc name>". */
	snprintf(l, sizeof l, "named-%s", mode);
	b = find(vs, l);
	char *t = name_encode("golden"), *n = name_encode("00000001000000000000000A");
	char *obj = xasprintf("blobs/%s/%s", t, n);
	assert_string_equal(obj, "blobs/golden/00000001000000000000000_41");
	assert_int_equal(b->ctx_len, strlen(obj));
	assert_memory_equal(b->ctx, obj, b->ctx_len);
	free(t);
	free(n);
	free(obj);
}

static void test_sealed_layouts(void **state)
{
	(void)state;
	struct vectors vs;
	vectors_load(&vs);
	check_layouts(&vs, "enc");
	check_layouts(&vs, "plain");
	/* Key payload: version 2, the repository, the config's SHA-256 and
	 * the three master keys, in hex. */
	const struct vec *k = find(&vs, "key-payload");
	json_t *m = json_loadb((const char *)k->plain, k->plain_len, 0, NULL);
	assert_non_null(m);
	char hex[65];
	assert_int_equal(json_integer_value(json_object_get(m, "version")), 2);
	hex_encode(vs.repo_id, ID_LEN, hex);
	assert_string_equal(json_string_value(json_object_get(m, "repository")), hex);
	hex_encode(vs.enc.enc, KEY_LEN, hex);
	assert_string_equal(json_string_value(json_object_get(m, "encrypt")), hex);
	hex_encode(vs.enc.mac, KEY_LEN, hex);
	assert_string_equal(json_string_value(json_object_get(m, "mac")), hex);
	hex_encode(vs.enc.chunker, KEY_LEN, hex);
	assert_string_equal(json_string_value(json_object_get(m, "chunker")), hex);
	unsigned char cfg[ID_LEN];
	sha256("{\"version\": 2}", 14, cfg);
	hex_encode(cfg, ID_LEN, hex);
	assert_string_equal(json_string_value(json_object_get(m, "config")), hex);
	json_decref(m);
	vectors_free(&vs);
}

/* ---- the golden repository, through the C API ---- */

static char *copy_repo(const char *name)
{
	char *dir = test_dir_new(), *src = golden_path(name);
	char *cmd = xasprintf("cp -R '%s/.' '%s/' && chmod -R u+w '%s'", src, dir, dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(src);
	return dir;
}

static char *golden_key(void)
{
	char *path = golden_path("key"), *key;
	size_t len;
	assert_int_equal(read_file(path, &key, &len), 0);
	free(path);
	key[strcspn(key, "\n")] = 0;
	return key;
}

static void test_golden_repository(void **state)
{
	(void)state;
	char *dir = copy_repo("repo"), *state_dir = test_dir_new(), *key = golden_key();
	struct repo_dest d = {"golden", &test_dir_ops, dir};
	struct repo_params p = {.passphrase = key, .workers = 1, .hostname = "unit",
				.state_dir = state_dir};
	struct repo *r;
	if (repo_open(&d, &p, &r) != ARCA_OK)
		fail_msg("the golden repository does not open: %s", err_msg());
	/* The named blob, byte for byte. */
	char *want, *path = golden_path("named-blob.txt");
	size_t want_len, got_len;
	void *got;
	assert_int_equal(read_file(path, &want, &want_len), 0);
	free(path);
	if (repo_blob_get(r, "golden", "00000001000000000000000A", &got, &got_len) != ARCA_OK)
		fail_msg("golden named blob: %s", err_msg());
	assert_int_equal(got_len, want_len);
	assert_memory_equal(got, want, want_len);
	free(got);
	free(want);
	/* One snapshot of target golden, every object intact. */
	struct repo_snapshot *list;
	size_t n;
	assert_int_equal(repo_snapshots(r, NULL, &list, &n), ARCA_OK);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].target, "golden");
	assert_string_equal(list[0].driver, "files");
	assert_int_equal(list[0].items, 10);
	/* hello.txt, read through the snapshot reader. */
	struct snap_reader *rd;
	struct arca_item_info info;
	assert_int_equal(repo_snap_open(r, list[0].id, &rd), ARCA_OK);
	assert_int_equal(snap_open_item(rd, "hello.txt", &info), ARCA_OK);
	char text[128];
	size_t tl;
	assert_int_equal(snap_read(rd, text, sizeof text, &tl), ARCA_OK);
	const char *hello = "Hello from the arca golden repository, format version 2.\n";
	assert_int_equal(tl, strlen(hello));
	assert_memory_equal(text, hello, tl);
	snap_close(rd);
	repo_snapshots_free(list, n);
	if (repo_verify(r, 100, NULL, NULL) != ARCA_OK)
		fail_msg("verify of the golden repository: %s", err_msg());
	repo_close(r);
	test_dir_remove(dir);
	test_dir_remove(state_dir);
	free(key);
}

/* A repository of format version 1 (written by arca 68ecab2) is refused by
 * its config, naming the version, before any key is tried. */
static void test_v1_refused(void **state)
{
	(void)state;
	char *dir = copy_repo("v1-repo"), *key = golden_key();
	struct repo_dest d = {"old", &test_dir_ops, dir};
	struct repo_params p = {.passphrase = key, .workers = 1, .hostname = "unit"};
	struct repo *r = NULL;
	assert_int_equal(repo_open(&d, &p, &r), ARCA_ERR_UNSUPPORTED);
	assert_null(r);
	assert_non_null(strstr(err_msg(), "format version 1"));
	test_dir_remove(dir);
	free(key);
}

int main(void)
{
	log_level = -1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunk_boundaries),
		cmocka_unit_test(test_sealed_open),
		cmocka_unit_test(test_sealed_layouts),
		cmocka_unit_test(test_golden_repository),
		cmocka_unit_test(test_v1_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
