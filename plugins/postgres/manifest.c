/* manifest.c — the backup_manifest of a base backup, checked the way
 * pg_verifybackup does: the manifest's own SHA-256 first, then each file's
 * size and checksum (CRC32C by default; SHA-224/256/384/512 when the
 * backup asked for them).
 *
 * The manifest checksum covers the text up to and including the newline
 * before the "Manifest-Checksum" line. File checksums are written as the
 * hex of the checksum's bytes; for CRC32C those are the uint32 in the
 * server's byte order (PostgreSQL copies it with memcpy), which is the
 * order of this machine for a backup taken on the same architecture. */
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pg.h"

/* ---- CRC-32C (Castagnoli), slicing-by-8 ---------------------------------- */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] =
			    (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <nmmintrin.h>
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const unsigned char *p,
                                                            size_t n)
{
	uint64_t c = crc;
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
		p += 8;
		n -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	while (n--)
		c32 = _mm_crc32_u8(c32, *p++);
	return c32;
}
#endif

/* Raw update (no pre/post inversion): crc = crc32c_update(crc, ...). */
static uint32_t crc32c_raw(uint32_t crc, const unsigned char *p, size_t n)
{
#if defined(__x86_64__) && defined(__GNUC__)
	if (__builtin_cpu_supports("sse4.2"))
		return crc32c_hw(crc, p, n);
#endif
	pthread_once(&crc_once, crc_init);
	while (n >= 8) {
		uint32_t lo, hi;
		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
		lo ^= crc;
		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		      crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		      crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
		      crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return crc;
}

uint32_t crc32c_update(uint32_t crc, const void *p, size_t n)
{
	return ~crc32c_raw(~crc, p, n);
}

/* ---- parsing ------------------------------------------------------------- */

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int hex_decode_str(const char *hex, unsigned char *out, size_t cap, size_t *len)
{
	size_t n = strlen(hex);
	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	*len = n / 2;
	return 0;
}

static int check_manifest_checksum(const char *text, size_t len, const char *want_hex)
{
	/* The last newline ends the checksum line; the one before it ends
	 * the covered text. */
	size_t end = len;
	while (end > 0 && text[end - 1] != '\n')
		end--;
	if (end == 0)
		return -1;
	end--;
	while (end > 0 && text[end - 1] != '\n')
		end--;
	if (end == 0)
		return -1;
	unsigned char want[32], got[32];
	size_t wlen;
	unsigned glen = 0;
	if (hex_decode_str(want_hex, want, sizeof want, &wlen) != 0 || wlen != 32)
		return -1;
	if (!EVP_Digest(text, end, got, &glen, EVP_sha256(), NULL) || glen != 32)
		return -1;
	return memcmp(want, got, 32) == 0 ? 0 : -1;
}

int manifest_parse(const char *text, size_t len, struct manifest *m)
{
	json_error_t jerr;
	memset(m, 0, sizeof *m);
	json_t *root = json_loadb(text, len, 0, &jerr);
	if (!root)
		return PG_ERR(ARCA_ERR_CORRUPT, "backup_manifest is not valid JSON (line %d: %s)",
		              jerr.line, jerr.text);
	int rc = ARCA_OK;
	json_t *version = json_object_get(root, "PostgreSQL-Backup-Manifest-Version");
	json_t *files = json_object_get(root, "Files");
	json_t *sum = json_object_get(root, "Manifest-Checksum");
	if (!json_is_integer(version) || json_integer_value(version) != 1 ||
	    !json_is_array(files)) {
		rc = PG_ERR(ARCA_ERR_CORRUPT, "backup_manifest: not a version 1 backup manifest");
		goto out;
	}
	if (!json_is_string(sum) ||
	    check_manifest_checksum(text, len, json_string_value(sum)) != 0) {
		rc = PG_ERR(ARCA_ERR_CORRUPT,
		            "backup_manifest: its Manifest-Checksum does not match "
		            "its content (the manifest was altered or truncated)");
		goto out;
	}
	m->files = calloc(json_array_size(files) + 1, sizeof *m->files);
	if (!m->files) {
		rc = PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
		goto out;
	}
	size_t i;
	json_t *f;
	json_array_foreach(files, i, f)
	{
		struct manifest_file *mf = &m->files[m->n_files];
		json_t *path = json_object_get(f, "Path");
		json_t *epath = json_object_get(f, "Encoded-Path");
		json_t *size = json_object_get(f, "Size");
		json_t *alg = json_object_get(f, "Checksum-Algorithm");
		json_t *cks = json_object_get(f, "Checksum");
		if (json_is_string(path)) {
			mf->path = strdup(json_string_value(path));
		} else if (json_is_string(epath)) {
			const char *h = json_string_value(epath);
			size_t plen = 0;
			mf->path = malloc(strlen(h) / 2 + 1);
			if (mf->path &&
			    hex_decode_str(h, (unsigned char *)mf->path, strlen(h) / 2, &plen) == 0)
				mf->path[plen] = 0;
			else {
				free(mf->path);
				mf->path = NULL;
			}
		}
		if (!mf->path || !json_is_integer(size)) {
			free(mf->path); /* not counted in n_files: manifest_free misses it */
			mf->path = NULL;
			rc = PG_ERR(ARCA_ERR_CORRUPT,
			            "backup_manifest: file entry %zu has no path or "
			            "size",
			            i);
			goto out;
		}
		m->n_files++;
		mf->size = (uint64_t)json_integer_value(size);
		if (json_is_string(alg) && strcmp(json_string_value(alg), "NONE") != 0) {
			mf->algorithm = strdup(json_string_value(alg));
			if (!json_is_string(cks) ||
			    hex_decode_str(json_string_value(cks), mf->checksum,
			                   sizeof mf->checksum, &mf->checksum_len) != 0) {
				rc = PG_ERR(ARCA_ERR_CORRUPT,
				            "backup_manifest: bad checksum for %s", mf->path);
				goto out;
			}
		}
	}
	json_t *ranges = json_object_get(root, "WAL-Ranges");
	json_t *r0 = json_is_array(ranges) ? json_array_get(ranges, 0) : NULL;
	if (r0) {
		json_t *tl = json_object_get(r0, "Timeline");
		json_t *s = json_object_get(r0, "Start-LSN");
		json_t *e = json_object_get(r0, "End-LSN");
		m->timeline = json_is_integer(tl) ? (uint32_t)json_integer_value(tl) : 0;
		if (json_is_string(s))
			wal_parse_lsn(json_string_value(s), &m->start_lsn);
		if (json_is_string(e))
			wal_parse_lsn(json_string_value(e), &m->end_lsn);
	}
out:
	json_decref(root);
	if (rc != ARCA_OK)
		manifest_free(m);
	return rc;
}

void manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < m->n_files; i++) {
		free(m->files[i].path);
		free(m->files[i].algorithm);
	}
	free(m->files);
	memset(m, 0, sizeof *m);
}

/* ---- per-file checks ------------------------------------------------------ */

struct file_check {
	const struct manifest_file *f;
	uint64_t seen;
	uint32_t crc;
	EVP_MD_CTX *md;
	int unknown; /* algorithm we cannot compute */
};

struct file_check *file_check_new(const struct manifest_file *f)
{
	struct file_check *fc = calloc(1, sizeof *fc);
	if (!fc)
		return NULL;
	fc->f = f;
	fc->crc = 0;
	if (!f->algorithm || strcmp(f->algorithm, "CRC32C") == 0)
		return fc;
	const EVP_MD *md = strcmp(f->algorithm, "SHA224") == 0   ? EVP_sha224()
	                   : strcmp(f->algorithm, "SHA256") == 0 ? EVP_sha256()
	                   : strcmp(f->algorithm, "SHA384") == 0 ? EVP_sha384()
	                   : strcmp(f->algorithm, "SHA512") == 0 ? EVP_sha512()
	                                                         : NULL;
	if (!md) {
		fc->unknown = 1;
		return fc;
	}
	fc->md = EVP_MD_CTX_new();
	if (!fc->md || !EVP_DigestInit_ex(fc->md, md, NULL)) {
		EVP_MD_CTX_free(fc->md);
		free(fc);
		return NULL;
	}
	return fc;
}

void file_check_update(struct file_check *fc, const void *p, size_t n)
{
	fc->seen += n;
	if (fc->md)
		EVP_DigestUpdate(fc->md, p, n);
	else if (fc->f->algorithm && !fc->unknown)
		fc->crc = crc32c_update(fc->crc, p, n);
}

int file_check_done(struct file_check *fc, char *why, size_t n)
{
	int rc = 0;
	unsigned char got[EVP_MAX_MD_SIZE];
	unsigned glen = 0;
	if (fc->md) {
		EVP_DigestFinal_ex(fc->md, got, &glen);
		EVP_MD_CTX_free(fc->md);
	} else {
		memcpy(got, &fc->crc, sizeof fc->crc);
		glen = sizeof fc->crc;
	}
	if (fc->seen != fc->f->size) {
		snprintf(why, n, "size is %llu, the manifest says %llu",
		         (unsigned long long)fc->seen, (unsigned long long)fc->f->size);
		rc = -1;
	} else if (fc->unknown) {
		snprintf(why, n, "unknown checksum algorithm %s", fc->f->algorithm);
		rc = -1;
	} else if (fc->f->algorithm &&
	           (glen != fc->f->checksum_len || memcmp(got, fc->f->checksum, glen) != 0)) {
		snprintf(why, n, "%s checksum mismatch", fc->f->algorithm);
		rc = -1;
	}
	free(fc);
	return rc;
}
