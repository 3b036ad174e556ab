/* blob.c — seal and open one blob (FORMAT.md, "Sealed blobs"). */
#include "repo/blob.h"

#include <string.h>
#include "log.h"

size_t blob_overhead(const struct repo_keys *k)
{
	return 1 + (k->encrypted ? GCM_NONCE_LEN + GCM_TAG_LEN : PLAIN_CHECK_LEN);
}

/* Whether zstd is worth trying: a 64 KiB sample from the middle must
 * shrink by 2% at level 1. Saves compressing already-compressed data
 * (media, archives) at the full level only to throw the result away. */
static int looks_compressible(ZSTD_CCtx *cctx, const unsigned char *data, size_t len)
{
	enum { SAMPLE = 65536 };
	if (len < 4 * SAMPLE)
		return 1;
	unsigned char out[SAMPLE + 1024];
	size_t c = ZSTD_compressCCtx(cctx, out, sizeof out, data + len / 2 - SAMPLE / 2, SAMPLE, 1);
	return ZSTD_isError(c) || c < SAMPLE - SAMPLE / 50;
}

int blob_seal(const struct repo_keys *k, ZSTD_CCtx *cctx, int level, const void *data,
	      size_t len, struct buf *out)
{
	size_t bound = len;
	ZSTD_CCtx *own = NULL;
	if (level > 0 && len > 0) {
		if (!cctx)
			cctx = own = ZSTD_createCCtx();
		if (!looks_compressible(cctx, data, len))
			level = 0;
		else
			bound = ZSTD_compressBound(len);
	}
	buf_reserve(out, bound + blob_overhead(k));
	unsigned char *start = out->data + out->len;
	unsigned char *body = start + (k->encrypted ? GCM_NONCE_LEN : 0) + 1;
	unsigned char flag = BLOB_RAW;
	size_t body_len = len;
	if (level > 0 && len > 0) {
		size_t c = ZSTD_compressCCtx(cctx, body, bound, data, len, level);
		if (!ZSTD_isError(c) && c < len) {
			flag = BLOB_ZSTD;
			body_len = c;
		}
	}
	ZSTD_freeCCtx(own);
	/* Raw data is encrypted straight from the caller's buffer; compressed
	 * data in place, where it was compressed to. */
	const void *src = flag == BLOB_ZSTD ? body : data;
	if (k->encrypted) {
		if (gcm_seal(k->enc, &flag, 1, src, body_len, start))
			return err_set(ARCA_ERR_INTERNAL,
				       "AES-256-GCM encryption failed in libcrypto (out of memory?)");
	} else {
		start[0] = flag;
		if (flag == BLOB_RAW && len)
			memcpy(body, data, len);
		unsigned char check[ID_LEN];
		sha256(start, 1 + body_len, check);
		memcpy(body + body_len, check, PLAIN_CHECK_LEN);
	}
	out->len += body_len + blob_overhead(k);
	return ARCA_OK;
}

static int decompress(const unsigned char *z, size_t zlen, size_t max_raw, struct buf *out,
		      const char *what)
{
	unsigned long long raw = ZSTD_getFrameContentSize(z, zlen);
	if (raw == ZSTD_CONTENTSIZE_ERROR || raw == ZSTD_CONTENTSIZE_UNKNOWN || raw > max_raw)
		return err_set(ARCA_ERR_CORRUPT, "%s is corrupt: bad zstd frame header", what);
	buf_reserve(out, (size_t)raw + 1);
	size_t d = ZSTD_decompress(out->data, (size_t)raw + 1, z, zlen);
	if (ZSTD_isError(d) || d != raw)
		return err_set(ARCA_ERR_CORRUPT, "%s is corrupt: zstd: %s", what,
			       ZSTD_isError(d) ? ZSTD_getErrorName(d) : "short frame");
	out->len = d;
	return ARCA_OK;
}

static int too_big(size_t n, size_t max_raw, const char *what)
{
	return err_set(ARCA_ERR_CORRUPT, "%s is corrupt: %zu bytes exceeds the limit of %zu", what,
		       n, max_raw);
}

static int open_encrypted(const struct repo_keys *k, const unsigned char *sealed,
			  size_t body_len, size_t max_raw, struct buf *out, const char *what)
{
	const unsigned char *ct = sealed + GCM_NONCE_LEN;
	const unsigned char *tag = ct + 1 + body_len;
	unsigned char flag;
	struct gcm_open_ctx *c = gcm_open_begin(k->enc, sealed);
	gcm_open_update(c, ct, 1, &flag);
	int rc = ARCA_OK;
	if (flag == BLOB_RAW && body_len <= max_raw) {
		/* Straight into the caller's buffer; discarded unless authentic. */
		buf_reserve(out, body_len + 1);
		gcm_open_update(c, ct + 1, body_len, out->data);
		if (gcm_open_end(c, tag))
			goto auth;
		out->len = body_len;
		return ARCA_OK;
	}
	unsigned char *tmp = xmalloc(body_len + 1);
	gcm_open_update(c, ct + 1, body_len, tmp);
	if (gcm_open_end(c, tag)) {
		free(tmp);
		goto auth;
	}
	if (flag == BLOB_ZSTD)
		rc = decompress(tmp, body_len, max_raw, out, what);
	else if (flag == BLOB_RAW)
		rc = too_big(body_len, max_raw, what);
	else
		rc = err_set(ARCA_ERR_CORRUPT, "%s is corrupt: unknown blob flag %u", what, flag);
	free(tmp);
	return rc;
auth:
	return err_set(ARCA_ERR_CORRUPT, "%s is corrupt: AES-256-GCM authentication failed "
		       "(damaged or tampered with)", what);
}

int blob_open(const struct repo_keys *k, const void *sealed, size_t len, size_t max_raw,
	      struct buf *out, const char *what)
{
	size_t over = blob_overhead(k);
	out->len = 0;
	if (len < over)
		return err_set(ARCA_ERR_CORRUPT,
			       "%s is corrupt: %zu bytes is shorter than any sealed blob", what,
			       len);
	size_t body_len = len - over;
	if (k->encrypted)
		return open_encrypted(k, sealed, body_len, max_raw, out, what);
	const unsigned char *plain = sealed;
	unsigned char check[ID_LEN];
	sha256(plain, 1 + body_len, check);
	if (memcmp(check, plain + 1 + body_len, PLAIN_CHECK_LEN))
		return err_set(ARCA_ERR_CORRUPT, "%s is corrupt: its SHA-256 check value does not "
			       "match (damaged data)", what);
	if (plain[0] == BLOB_RAW) {
		if (body_len > max_raw)
			return too_big(body_len, max_raw, what);
		buf_append(out, plain + 1, body_len);
		return ARCA_OK;
	}
	if (plain[0] == BLOB_ZSTD)
		return decompress(plain + 1, body_len, max_raw, out, what);
	return err_set(ARCA_ERR_CORRUPT, "%s is corrupt: unknown blob flag %u", what, plain[0]);
}
