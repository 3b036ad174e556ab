/* blob.h — one sealed blob: optional zstd, then AES-256-GCM (or a SHA-256
 * check value in unencrypted repositories). Every chunk, pack header,
 * index, manifest frame and named blob is stored in this form (FORMAT.md,
 * "Sealed blobs"). */
#ifndef ARCA_REPO_BLOB_H
#define ARCA_REPO_BLOB_H

#include <stddef.h>
#include <stdlib.h>
#include <zstd.h>
#include "repo/crypto.h"
#include "util.h"

#define BLOB_RAW 0          /* flag byte: body is the data as is */
#define BLOB_ZSTD 1         /* flag byte: body is one zstd frame */
#define PLAIN_CHECK_LEN 16  /* truncated SHA-256 of an unencrypted blob */

/* Bytes a sealed blob adds to its body (flag byte + nonce/tag or check). */
size_t blob_overhead(const struct repo_keys *k);

/*
 * Seal `len` bytes and append the result to `out`. level > 0 compresses with
 * zstd at that level (kept only when it shrinks the data); level <= 0 stores
 * raw. cctx may be NULL (a temporary one is made). Returns ARCA_OK or an
 * error with err_set().
 */
int blob_seal(const struct repo_keys *k, ZSTD_CCtx *cctx, int level, const void *data,
	      size_t len, struct buf *out);

/*
 * Open a sealed blob into `out` (replacing its content). max_raw bounds the
 * decompressed size (corrupt input must not make us allocate gigabytes).
 * `what` names the object in the error: "chunk X in pack Y". Returns ARCA_OK
 * or ARCA_ERR_CORRUPT.
 */
int blob_open(const struct repo_keys *k, const void *sealed, size_t len, size_t max_raw,
	      struct buf *out, const char *what);

#endif
