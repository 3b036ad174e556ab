/* blob.c — seal and open one blob (FORMAT.md, "Sealed blobs"). */
#include "repo/blob.h"

#include <string.h>
#include "log.h"

size_t blob_overhead(const struct repo_keys *k)
{
	return 1 + (k->encrypted ? GCM_NONCE_LEN + GCM_TAG_LEN : PLAIN_CHECK_LEN);
}

int blob_seal(const struct repo_keys *k, ZSTD_CCtx *cctx, int level, const void *data,
	      size_t len, struct buf *out)
{
	size_t bound = len;
	if (level > 0)
		bound = ZSTD_compressBound(len);
	buf_reserve(out, bound + blob_overhead(k));
	unsigned char *start = out->data + out->len;
	unsigned char *flag = k->encrypted ? start + GCM_NONCE_LEN : start;
	size_t body = 0;
	*flag = BLOB_RAW;
	if (level > 0 && len > 0) {
		ZSTD_CCtx *own = cctx ? NULL : ZSTD_createCCtx();
		size_t c = ZSTD_compressCCtx(cctx ? cctx : own, flag + 1, bound, data, len, level);
		ZSTD_freeCCtx(own);
		if (!ZSTD_isError(c) && c < len) {
			*flag = BLOB_ZSTD;
			body = c;
		}
	}
	if (*flag == BLOB_RAW) {
		if (len)
			memcpy(flag + 1, data, len);
		body = len;
	}
	if (k->encrypted) {
		if (gcm_seal_inplace(k->enc, start, 1 + body))
			return err_set(
			    ARCA_ERR_INTERNAL,
			    "AES-256-GCM encryption failed in libcrypto (out of memory?)");
	} else {
		unsigned char check[ID_LEN];
		sha256(flag, 1 + body, check);
		memcpy(flag + 1 + body, check, PLAIN_CHECK_LEN);
	}
	out->len += body + blob_overhead(k);
	return ARCA_OK;
}

int blob_open(const struct repo_keys *k, const void *sealed, size_t len, size_t max_raw,
	      struct buf *out, const char *what)
{
	size_t over = blob_overhead(k);
	if (len < over)
		return err_set(ARCA_ERR_CORRUPT, "%s is corrupt: %zu bytes is shorter than any "
			       "sealed blob", what, len);
	size_t plain_len = len - over + 1;      /* flag + body */
	unsigned char *plain;
	unsigned char *tmp = NULL;
	if (k->encrypted) {
		tmp = xmalloc(plain_len);
		if (gcm_open(k->enc, sealed, plain_len, tmp)) {
			free(tmp);
			return err_set(ARCA_ERR_CORRUPT, "%s is corrupt: AES-256-GCM "
				       "authentication failed (damaged or tampered with)", what);
		}
		plain = tmp;
	} else {
		unsigned char check[ID_LEN];
		sha256(sealed, plain_len, check);
		if (memcmp(check, (const unsigned char *)sealed + plain_len, PLAIN_CHECK_LEN))
			return err_set(ARCA_ERR_CORRUPT, "%s is corrupt: its SHA-256 check value "
				       "does not match (damaged data)", what);
		plain = (unsigned char *)sealed;
	}
	int rc = ARCA_OK;
	out->len = 0;
	if (plain[0] == BLOB_RAW) {
		if (plain_len - 1 > max_raw)
			rc = err_set(ARCA_ERR_CORRUPT, "%s is corrupt: %zu bytes exceeds the "
				     "limit of %zu", what, plain_len - 1, max_raw);
		else
			buf_append(out, plain + 1, plain_len - 1);
	} else if (plain[0] == BLOB_ZSTD) {
		unsigned long long raw = ZSTD_getFrameContentSize(plain + 1, plain_len - 1);
		if (raw == ZSTD_CONTENTSIZE_ERROR || raw == ZSTD_CONTENTSIZE_UNKNOWN ||
		    raw > max_raw) {
			rc =
			    err_set(ARCA_ERR_CORRUPT, "%s is corrupt: bad zstd frame header", what);
		} else {
			buf_reserve(out, (size_t)raw + 1);
			size_t d = ZSTD_decompress(out->data, (size_t)raw + 1, plain + 1,
						   plain_len - 1);
			if (ZSTD_isError(d) || d != raw)
				rc =
				    err_set(ARCA_ERR_CORRUPT, "%s is corrupt: zstd: %s", what,
				            ZSTD_isError(d) ? ZSTD_getErrorName(d) : "short frame");
			else
				out->len = d;
		}
	} else {
		rc = err_set(ARCA_ERR_CORRUPT, "%s is corrupt: unknown blob flag %u", what,
			     plain[0]);
	}
	if (tmp) {
		secure_wipe(tmp, plain_len);
		free(tmp);
	}
	return rc;
}
