/* blob.h — one sealed blob: optional zstd, then AES-256-GCM (or a SHA-256
 * check value in unencrypted repositories), bound to what it is by its
 * additional authenticated data. Every chunk, pack header, index, manifest
 * frame, summary, key payload and named blob is stored in this form
 * (FORMAT.md, "Sealed blobs" and "Binding"). */
#ifndef ARCA_REPO_BLOB_H
#define ARCA_REPO_BLOB_H

#include <stddef.h>
#include <stdlib.h>
#include <zstd.h>
#include "repo/crypto.h"
#include "util.h"

#define BLOB_RAW        0  /* flag byte: body is the data as is */
#define BLOB_ZSTD       1  /* flag byte: body is one zstd frame */
#define PLAIN_CHECK_LEN 16 /* truncated SHA-256 of an unencrypted blob */

/* The kind of object a sealed blob is (the AAD's kind byte). A blob sealed
 * as one kind never opens as another, so a chunk cannot pose as a manifest
 * frame nor one WAL segment as another. */
enum blob_kind {
	BK_KEY = 'k',         /* key payload; context: none */
	BK_CHUNK = 'c',       /* context: the chunk id (32 bytes) */
	BK_PACK_HEADER = 'h', /* context: none */
	BK_INDEX = 'i',       /* context: none */
	BK_FRAME = 'f',       /* context: u32 frame number, then the target name */
	BK_SUMMARY = 's',     /* context: none */
	BK_NAMED = 'b',       /* context: the object name ("blobs/<t>/<n>") */
};

#define AAD_MAGIC "arca-aad2"
#define AAD_MAX   4096
struct aad {
	size_t len;
	unsigned char b[AAD_MAX];
};
/* AAD = "arca-aad2" || kind (1 byte) || repository id (32 bytes) || context.
 * The context must fit (callers bound names); aborts otherwise. */
void aad_make(struct aad *a, enum blob_kind kind, const unsigned char repo_id[ID_LEN],
              const void *ctx, size_t ctxlen);
/* Append to the context (after aad_make). */
void aad_add(struct aad *a, const void *p, size_t n);

/* Bytes a sealed blob adds to its body (flag byte + nonce/tag or check). */
size_t blob_overhead(const struct repo_keys *k);

/*
 * Seal `len` bytes bound to `aad` and append the result to `out`. level > 0
 * compresses with zstd at that level (kept only when it shrinks the data);
 * level <= 0 stores raw. cctx may be NULL (a temporary one is made).
 * Returns ARCA_OK or an error with err_set().
 */
int blob_seal(const struct repo_keys *k, const struct aad *aad, ZSTD_CCtx *cctx, int level,
              const void *data, size_t len, struct buf *out);

/*
 * Open a sealed blob into `out` (replacing its content); it must have been
 * sealed with the same `aad`. max_raw bounds the decompressed size (corrupt
 * input must not make us allocate gigabytes). `what` names the object in
 * the error: "chunk X in pack Y". Returns ARCA_OK or ARCA_ERR_CORRUPT.
 */
int blob_open(const struct repo_keys *k, const struct aad *aad, const void *sealed, size_t len,
              size_t max_raw, struct buf *out, const char *what);

#endif
