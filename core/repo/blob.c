/* blob.c — seal and open one blob (FORMAT.md, "Sealed blobs"). */
#include "repo/blob.h"

#include <string.h>
#include "log.h"

void aad_make(struct aad *a, enum blob_kind kind, const unsigned char repo_id[ID_LEN],
              const void *ctx, size_t ctxlen)
{
	a->len = 0;
	aad_add(a, AAD_MAGIC, strlen(AAD_MAGIC));
	unsigned char k = (unsigned char)kind;
	aad_add(a, &k, 1);
	aad_add(a, repo_id, ID_LEN);
	aad_add(a, ctx, ctxlen);
}

void aad_add(struct aad *a, const void *p, size_t n)
{
	if (n > AAD_MAX - a->len)
		abort(); /* callers bound every name they bind */
	if (n)
		memcpy(a->b + a->len, p, n);
	a->len += n;
}

/* The check value of an unencrypted blob: SHA-256(u32 aad_len || aad ||
 * flag || body), truncated. */
static void plain_check(const struct aad *aad, const unsigned char *flag_body, size_t len,
                        unsigned char out[ID_LEN])
{
	unsigned char l4[4];
	for (int i = 0; i < 4; i++)
		l4[i] = (unsigned char)(aad->len >> (8 * i));
	const void *parts[] = {l4, aad->b, flag_body};
	size_t lens[] = {4, aad->len, len};
	sha256_parts(parts, lens, 3, out);
}

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

int blob_seal(const struct repo_keys *k, const struct aad *aad, ZSTD_CCtx *cctx, int level,
              const void *data, size_t len, struct buf *out)
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
		if (gcm_seal(k->enc, aad->b, aad->len, &flag, 1, src, body_len, start))
			return err_set(
			    ARCA_ERR_INTERNAL,
			    "AES-256-GCM encryption failed in libcrypto (out of memory?)");
	} else {
		start[0] = flag;
		if (flag == BLOB_RAW && len)
			memcpy(body, data, len);
		unsigned char check[ID_LEN];
		plain_check(aad, start, 1 + body_len, check);
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

static int open_encrypted(const struct repo_keys *k, const struct aad *aad,
                          const unsigned char *sealed, size_t body_len, size_t max_raw,
                          struct buf *out, const char *what)
{
	const unsigned char *ct = sealed + GCM_NONCE_LEN;
	const unsigned char *tag = ct + 1 + body_len;
	unsigned char flag;
	struct gcm_open_ctx *c = gcm_open_begin(k->enc, sealed, aad->b, aad->len);
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
	/* Bounded before allocating: a raw body is at most max_raw, and a zstd
	 * frame never needs more than the bound of max_raw bytes. */
	if (body_len > ZSTD_compressBound(max_raw) + 64) {
		gcm_open_end(c, tag);
		return too_big(body_len, max_raw, what);
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
	return err_set(ARCA_ERR_CORRUPT,
	               "%s is corrupt: AES-256-GCM authentication failed "
	               "(damaged, tampered with, or moved from another object)",
	               what);
}

int blob_open(const struct repo_keys *k, const struct aad *aad, const void *sealed, size_t len,
              size_t max_raw, struct buf *out, const char *what)
{
	size_t over = blob_overhead(k);
	out->len = 0;
	if (len < over)
		return err_set(ARCA_ERR_CORRUPT,
		               "%s is corrupt: %zu bytes is shorter than any sealed blob", what,
		               len);
	size_t body_len = len - over;
	if (k->encrypted)
		return open_encrypted(k, aad, sealed, body_len, max_raw, out, what);
	const unsigned char *plain = sealed;
	unsigned char check[ID_LEN];
	plain_check(aad, plain, 1 + body_len, check);
	if (memcmp(check, plain + 1 + body_len, PLAIN_CHECK_LEN))
		return err_set(ARCA_ERR_CORRUPT,
		               "%s is corrupt: its SHA-256 check value does not "
		               "match (damaged data, or moved from another object)",
		               what);
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
