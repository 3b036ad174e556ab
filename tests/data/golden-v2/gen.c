/* gen.c — writes the vectors of tests/data/golden-v2 with the code of the
 * build it is linked against (make.sh compiles it; make check does not).
 *
 *   gen chunks                     print chunks.txt
 *   gen sealed                     print sealed.txt
 *   gen blob REPO KEYFILE FILE     store FILE as the named blob BLOB_NAME of
 *                                  target BLOB_TARGET in the repository in
 *                                  directory REPO (repo_blob_put)
 *
 * What each file holds is described in README.md; tests/unit/test_repo_golden.c
 * reads them back. Changing the output is a change of the repository format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "log.h"
#include "repo.h"
#include "repo/blob.h"
#include "repo/chunker.h"
#include "repo/index.h"
#include "repo/snapshot.h"
#include "test_repo_dest.h"
#include "util.h"

#define BLOB_TARGET "golden"
#define BLOB_NAME "00000001000000000000000A"            /* a WAL segment name */
#define BLOB_OBJECT "blobs/golden/00000001000000000000000_41"  /* its object name */
#define CHUNK_INPUT_LABEL "arca-golden-v2 chunker input"
#define CHUNK_INPUT_RANDOM (8u << 20)
#define CHUNK_INPUT_ZEROS (5u << 20)

/* SHA-256(label || u64 LE counter) blocks, concatenated (make_tree.py's stream). */
static void stream(const char *label, unsigned char *out, size_t n)
{
	size_t ll = strlen(label);
	unsigned char msg[256], blk[ID_LEN];
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

static void seq_bytes(unsigned char *p, size_t n, unsigned char first)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(first + i);
}

static void print_hex(const char *prefix, const void *p, size_t n)
{
	char *h = xmalloc(2 * n + 1);
	hex_encode(p, n, h);
	printf("%s%s", prefix, n ? h : "-");
	free(h);
}

static void die(const char *what)
{
	fprintf(stderr, "gen: %s: %s\n", what, err_msg());
	exit(1);
}

/* ---- chunks ---- */

static void cut(const char *mode, const struct repo_keys *k, const unsigned char *seed,
		const unsigned char *d, size_t n)
{
	struct cdc c;
	struct cdc_params p = {CDC_MIN_DEFAULT, CDC_AVG_DEFAULT, CDC_MAX_DEFAULT};
	if (cdc_init(&c, &p, seed))
		exit(1);
	size_t start = 0, off = 0;
	while (off < n) {
		int is_cut;
		off += cdc_feed(&c, d + off, n - off, &is_cut);
		if (is_cut || off == n) {
			unsigned char id[ID_LEN];
			chunk_id(k, d + start, off - start, id);
			printf("chunk %s %zu %zu", mode, start, off - start);
			print_hex(" ", id, ID_LEN);
			printf("\n");
			start = off;
		}
	}
}

static int gen_chunks(void)
{
	size_t n = CHUNK_INPUT_RANDOM + CHUNK_INPUT_ZEROS;
	unsigned char *d = calloc(1, n), seed[KEY_LEN], sum[ID_LEN];
	struct repo_keys keyed = {.encrypted = 1}, plain = {0};
	stream(CHUNK_INPUT_LABEL, d, CHUNK_INPUT_RANDOM);
	seq_bytes(seed, KEY_LEN, 0x00);
	seq_bytes(keyed.mac, KEY_LEN, 0x20);
	sha256(d, n, sum);
	printf("# Chunk boundaries of arca repository format 2 (tests/data/golden-v2/README.md).\n"
	       "# input: %u bytes of SHA-256(\"%s\" || u64 LE counter), concatenated,\n"
	       "#        then %u zero bytes\n"
	       "# params: min %u avg %u max %u (the defaults)\n"
	       "# keyed: gear table from HMAC-SHA-256(chunker_key),\n"
	       "#        id HMAC-SHA-256(mac_key, chunk) (encrypted repositories);\n"
	       "# plain: gear from SHA-256, id SHA-256(chunk) (unencrypted ones)\n"
	       "# lines: chunk MODE OFFSET LENGTH ID\n",
	       CHUNK_INPUT_RANDOM, CHUNK_INPUT_LABEL, CHUNK_INPUT_ZEROS, CDC_MIN_DEFAULT,
	       CDC_AVG_DEFAULT, CDC_MAX_DEFAULT);
	printf("input_label %s\ninput_random %u\ninput_zeros %u\n", CHUNK_INPUT_LABEL,
	       CHUNK_INPUT_RANDOM, CHUNK_INPUT_ZEROS);
	print_hex("input_sha256 ", sum, ID_LEN);
	print_hex("\nchunker_key ", seed, KEY_LEN);
	print_hex("\nmac_key ", keyed.mac, KEY_LEN);
	printf("\n");
	cut("keyed", &keyed, seed, d, n);
	cut("plain", &plain, NULL, d, n);
	free(d);
	return 0;
}

/* ---- sealed blobs ---- */

static unsigned char repo_id[ID_LEN];

/* One vector: label kind mode flag context aad plain sealed. */
static void vector(const char *label, const char *mode, const struct repo_keys *k,
		   enum blob_kind kind, const void *ctx, size_t ctxlen, int level,
		   const void *plain, size_t len, struct buf *sealed_out)
{
	struct aad aad;
	struct buf sealed = {0}, back = {0};
	aad_make(&aad, kind, repo_id, ctx, ctxlen);
	if (blob_seal(k, &aad, NULL, level, plain, len, &sealed) != ARCA_OK)
		die("blob_seal");
	if (blob_open(k, &aad, sealed.data, sealed.len, len, &back, label) != ARCA_OK ||
	    back.len != len || memcmp(back.data, plain, len))
		die("blob_open of a vector just sealed");
	/* The flag is known here without decrypting: compressed data is shorter. */
	int zstd = sealed.len < len + blob_overhead(k);
	printf("vector %s %c %s %s", label, (char)kind, mode, zstd ? "zstd" : "raw");
	print_hex(" ", ctx, ctxlen);
	print_hex(" ", aad.b, aad.len);
	print_hex(" ", plain, len);
	print_hex(" ", sealed.data, sealed.len);
	printf("\n");
	if (sealed_out) {
		sealed_out->len = 0;
		buf_append(sealed_out, sealed.data, sealed.len);
	}
	buf_free(&sealed);
	buf_free(&back);
}

static void hex_of(const unsigned char *p, size_t n, char *out)
{
	hex_encode(p, n, out);
}

/* Every kind of sealed object of one repository mode, with plaintexts laid
 * out as the repository writes them. */
static void vectors_for(const char *mode, const struct repo_keys *k)
{
	enum { RAW_LEN = 1000, TEXT_LEN = 4096 };
	unsigned char raw[RAW_LEN], text[TEXT_LEN], id_raw[ID_LEN], id_text[ID_LEN];
	stream("arca-golden-v2 sealed chunk", raw, RAW_LEN);
	for (size_t i = 0; i < TEXT_LEN; i++)
		text[i] = (unsigned char)"golden chunk text, compressible. "[i % 33];
	chunk_id(k, raw, RAW_LEN, id_raw);
	chunk_id(k, text, TEXT_LEN, id_text);
	char label[64];
	struct buf s1 = {0}, s2 = {0}, fr = {0};
	snprintf(label, sizeof label, "chunk-raw-%s", mode);
	vector(label, mode, k, BK_CHUNK, id_raw, ID_LEN, 3, raw, RAW_LEN, &s1);
	snprintf(label, sizeof label, "chunk-zstd-%s", mode);
	vector(label, mode, k, BK_CHUNK, id_text, ID_LEN, 3, text, TEXT_LEN, &s2);

	/* The pack those two chunks would make: header entries, then its id. */
	struct pack_info pi = {.n = 2};
	struct pack_entry e[2] = {
		{.offset = 0, .length = (uint32_t)s1.len, .raw_length = RAW_LEN},
		{.offset = s1.len, .length = (uint32_t)s2.len, .raw_length = TEXT_LEN},
	};
	memcpy(e[0].id, id_raw, ID_LEN);
	memcpy(e[1].id, id_text, ID_LEN);
	struct buf h = {0};
	unsigned char head[8];
	memcpy(head, "APH1", 4);
	put_le32(head + 4, 2);
	buf_append(&h, head, 8);
	for (int i = 0; i < 2; i++) {
		unsigned char q[ID_LEN + 16];
		memcpy(q, e[i].id, ID_LEN);
		put_le64(q + ID_LEN, e[i].offset);
		put_le32(q + ID_LEN + 8, e[i].length);
		put_le32(q + ID_LEN + 12, e[i].raw_length);
		buf_append(&h, q, sizeof q);
	}
	snprintf(label, sizeof label, "pack-header-%s", mode);
	vector(label, mode, k, BK_PACK_HEADER, NULL, 0, 0, h.data, h.len, NULL);

	stream("arca-golden-v2 pack id", pi.id, ID_LEN);
	pi.size = s1.len + s2.len + 4096;
	pi.e = e;
	struct buf idx = {0};
	idx_encode(&pi, 1, &idx);
	snprintf(label, sizeof label, "index-%s", mode);
	vector(label, mode, k, BK_INDEX, NULL, 0, 3, idx.data, idx.len, NULL);

	/* Frames 0 and 1 of target "golden": one item each. */
	struct buf frames = {0};
	for (uint32_t seq = 0; seq < 2; seq++) {
		struct arca_item_info info = {
			.struct_size = sizeof info, .name = seq ? "caf\xe9" : "hello.txt",
			.type = ARCA_ITEM_FILE, .mode = 0644, .mtime_sec = 1700000000,
			.mtime_nsec = 123456789};
		json_t *item = item_to_json(&info, RAW_LEN + TEXT_LEN);
		char ids[4 * ID_LEN + 1];
		hex_of(id_raw, ID_LEN, ids);
		hex_of(id_text, ID_LEN, ids + 2 * ID_LEN);
		json_object_set_new(item, "chunks", json_string(ids));
		json_t *f = json_pack("{s:I,s:[o]}", "seq", (json_int_t)seq, "items", item);
		char *t = json_dumps(f, JSON_COMPACT);
		json_decref(f);
		unsigned char ctx[4 + 6];
		put_le32(ctx, seq);
		memcpy(ctx + 4, "golden", 6);
		snprintf(label, sizeof label, "frame%u-%s", seq, mode);
		vector(label, mode, k, BK_FRAME, ctx, sizeof ctx, 2, t, strlen(t), &fr);
		free(t);
		unsigned char l4[4];
		put_le32(l4, (uint32_t)fr.len);
		buf_append(&frames, l4, 4);
		buf_append(&frames, fr.data, fr.len);
	}
	/* The summary of a snapshot made of exactly those two frames. */
	unsigned char fh[ID_LEN];
	char fhex[65];
	sha256(frames.data, frames.len, fh);
	hex_of(fh, ID_LEN, fhex);
	json_t *sum = json_pack("{s:i,s:s,s:s,s:s,s:I,s:i,s:I,s:I,s:I,s:i,s:s}", "version", 2,
				"target", "golden", "driver", "files", "host", "golden", "time",
				(json_int_t)1700000000, "time_nsec", 5, "items", (json_int_t)2,
				"bytes", (json_int_t)(2 * (RAW_LEN + TEXT_LEN)), "new_bytes",
				(json_int_t)(s1.len + s2.len), "frames", 2, "frames_sha256", fhex);
	char *st = json_dumps(sum, JSON_COMPACT);
	json_decref(sum);
	snprintf(label, sizeof label, "summary-%s", mode);
	vector(label, mode, k, BK_SUMMARY, NULL, 0, 2, st, strlen(st), NULL);
	free(st);

	const char *obj = BLOB_OBJECT;
	char blob[600];
	int bl = snprintf(blob, sizeof blob, "a named blob, e.g. WAL segment %s of target %s; "
			  "sealed whole, bound to its object name\n", BLOB_NAME, BLOB_TARGET);
	snprintf(label, sizeof label, "named-%s", mode);
	vector(label, mode, k, BK_NAMED, obj, strlen(obj), 2, blob, (size_t)bl, NULL);

	buf_free(&s1);
	buf_free(&s2);
	buf_free(&fr);
	buf_free(&h);
	buf_free(&idx);
	buf_free(&frames);
}

static int gen_sealed(void)
{
	struct repo_keys enc = {.encrypted = 1}, plain = {0}, kek = {.encrypted = 1};
	unsigned char gen_key[KEY_LEN], salt[32], cfg_sha[ID_LEN];
	seq_bytes(repo_id, ID_LEN, 0x80);
	seq_bytes(enc.enc, KEY_LEN, 0x40);
	seq_bytes(enc.mac, KEY_LEN, 0x60);
	seq_bytes(enc.chunker, KEY_LEN, 0xc0);
	seq_bytes(gen_key, KEY_LEN, 0x00);
	seq_bytes(salt, sizeof salt, 0xa0);
	const char *info = "arca key object v1";
	if (hkdf_sha256_32(gen_key, KEY_LEN, salt, sizeof salt, info, strlen(info), kek.enc))
		exit(1);
	printf("# Sealed blobs of arca repository format 2 (tests/data/golden-v2/README.md).\n"
	       "# AAD = \"arca-aad2\" || kind || repository id || context.\n"
	       "# Modes: enc (AES-256-GCM under enc_key), plain (SHA-256 check value),\n"
	       "# kek (a key payload, sealed under kek = HKDF-SHA-256(the generated\n"
	       "# key's 32 bytes, kek_salt, \"%s\")).\n"
	       "# lines: vector LABEL KIND MODE FLAG CONTEXT AAD PLAINTEXT SEALED\n"
	       "#        (hex; - = empty)\n",
	       info);
	print_hex("repo_id ", repo_id, ID_LEN);
	print_hex("\nenc_key ", enc.enc, KEY_LEN);
	print_hex("\nmac_key ", enc.mac, KEY_LEN);
	print_hex("\nchunker_key ", enc.chunker, KEY_LEN);
	print_hex("\nsecret arca-key1-", gen_key, KEY_LEN);
	print_hex("\nkek_salt ", salt, sizeof salt);
	printf("\nkek_info %s", info);
	print_hex("\nkek ", kek.enc, KEY_LEN);
	printf("\n");
	vectors_for("enc", &enc);
	vectors_for("plain", &plain);

	/* The key payload that key object would wrap, for a config of this text. */
	const char *config = "{\"version\": 2}";
	sha256(config, strlen(config), cfg_sha);
	char rid[65], cfg[65], e[65], m[65], c[65];
	hex_of(repo_id, ID_LEN, rid);
	hex_of(cfg_sha, ID_LEN, cfg);
	hex_of(enc.enc, KEY_LEN, e);
	hex_of(enc.mac, KEY_LEN, m);
	hex_of(enc.chunker, KEY_LEN, c);
	json_t *master = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s}", "version", 2, "repository", rid,
				   "config", cfg, "encrypt", e, "mac", m, "chunker", c);
	char *mt = json_dumps(master, JSON_COMPACT);
	json_decref(master);
	vector("key-payload", "kek", &kek, BK_KEY, NULL, 0, 0, mt, strlen(mt), NULL);
	free(mt);
	return 0;
}

/* ---- the named blob of the golden repository ---- */

static int gen_blob(const char *dir, const char *keyfile, const char *file)
{
	char *key, *data;
	size_t klen, dlen;
	if (read_file(keyfile, &key, &klen) || read_file(file, &data, &dlen)) {
		perror("gen: read");
		return 1;
	}
	key[strcspn(key, "\n")] = 0;
	struct repo_dest d = {"golden", &test_dir_ops, (void *)dir};
	struct repo_params p = {.passphrase = key, .hostname = "golden", .workers = 1};
	struct repo *r;
	if (repo_open(&d, &p, &r) != ARCA_OK)
		die("repo_open");
	if (repo_blob_put(r, BLOB_TARGET, BLOB_NAME, data, dlen, 1) != ARCA_OK)
		die("repo_blob_put");
	char *path = test_dir_path(dir, BLOB_OBJECT);
	if (access(path, F_OK)) {
		fprintf(stderr, "gen: the blob is not stored as %s\n", BLOB_OBJECT);
		return 1;
	}
	free(path);
	repo_close(r);
	free(key);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "chunks"))
		return gen_chunks();
	if (argc == 2 && !strcmp(argv[1], "sealed"))
		return gen_sealed();
	if (argc == 5 && !strcmp(argv[1], "blob"))
		return gen_blob(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: gen chunks | gen sealed | gen blob REPO KEYFILE FILE\n");
	return 2;
}
