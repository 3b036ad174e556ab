/* crypto.c — SHA-256, HMAC, AES-256-GCM and scrypt over OpenSSL 3 libcrypto. */
#include "repo/crypto.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

/* Fetched once: EVP_MAC_fetch and EVP_CIPHER_fetch are not free. */
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac_alg;
static EVP_CIPHER *gcm_alg;
static EVP_MD *sha256_alg;

static void fetch_algorithms(void)
{
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	gcm_alg = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	sha256_alg = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void sha256(const void *data, size_t len, unsigned char out[ID_LEN])
{
	pthread_once(&fetch_once, fetch_algorithms);
	unsigned int n = ID_LEN;
	if (!sha256_alg || !EVP_Digest(data, len, out, &n, sha256_alg, NULL))
		abort(); /* SHA-256 cannot fail unless libcrypto is broken */
}

void sha256_parts(const void *const *parts, const size_t *lens, int n, unsigned char out[ID_LEN])
{
	pthread_once(&fetch_once, fetch_algorithms);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int outl = ID_LEN;
	int ok = ctx && sha256_alg && EVP_DigestInit_ex2(ctx, sha256_alg, NULL);
	for (int i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(ctx, parts[i], lens[i]);
	ok = ok && EVP_DigestFinal_ex(ctx, out, &outl);
	EVP_MD_CTX_free(ctx);
	if (!ok)
		abort(); /* as sha256() */
}

void *sha256_begin(void)
{
	pthread_once(&fetch_once, fetch_algorithms);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || !sha256_alg || !EVP_DigestInit_ex2(ctx, sha256_alg, NULL))
		abort(); /* as sha256() */
	return ctx;
}

void sha256_update(void *ctx, const void *data, size_t len)
{
	if (len && !EVP_DigestUpdate(ctx, data, len))
		abort();
}

void sha256_end(void *ctx, unsigned char out[ID_LEN])
{
	unsigned int outl = ID_LEN;
	if (!EVP_DigestFinal_ex(ctx, out, &outl))
		abort();
	EVP_MD_CTX_free(ctx);
}

int hmac_sha256(const unsigned char *key, size_t keylen, const void *data, size_t len,
                unsigned char out[ID_LEN])
{
	pthread_once(&fetch_once, fetch_algorithms);
	if (!hmac_alg)
		return -1;
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac_alg);
	if (!ctx)
		return -1;
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
	    OSSL_PARAM_construct_end(),
	};
	size_t outl = 0;
	int ok = EVP_MAC_init(ctx, key, keylen, params) && EVP_MAC_update(ctx, data, len) &&
	         EVP_MAC_final(ctx, out, &outl, ID_LEN) && outl == ID_LEN;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : -1;
}

int chunk_id(const struct repo_keys *keys, const void *data, size_t len, unsigned char out[ID_LEN])
{
	if (keys->encrypted)
		return hmac_sha256(keys->mac, KEY_LEN, data, len, out);
	sha256(data, len, out);
	return 0;
}

/* HKDF-SHA-256 (RFC 5869) for one 32-byte block: PRK = HMAC(salt, key),
 * OKM = HMAC(PRK, info || 0x01). */
int hkdf_sha256_32(const unsigned char *key, size_t keylen, const unsigned char *salt,
                   size_t saltlen, const void *info, size_t infolen, unsigned char out[KEY_LEN])
{
	unsigned char prk[ID_LEN], msg[256];
	if (infolen + 1 > sizeof msg || hmac_sha256(salt, saltlen, key, keylen, prk))
		return -1;
	memcpy(msg, info, infolen);
	msg[infolen] = 1;
	int rc = hmac_sha256(prk, sizeof prk, msg, infolen + 1, out);
	secure_wipe(prk, sizeof prk);
	return rc;
}

int random_bytes(void *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

int gcm_seal(const unsigned char key[KEY_LEN], const void *aad, size_t aadlen, const void *a,
             size_t alen, const void *b, size_t blen, unsigned char *out)
{
	pthread_once(&fetch_once, fetch_algorithms);
	if (!gcm_alg || alen > INT32_MAX || blen > INT32_MAX || aadlen > INT32_MAX ||
	    random_bytes(out, GCM_NONCE_LEN))
		return -1;
	unsigned char *ct = out + GCM_NONCE_LEN;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -1;
	int l0 = 0, l1 = 0, l2 = 0, l3 = 0;
	int ok = EVP_EncryptInit_ex2(ctx, gcm_alg, key, out, NULL) &&
	         (!aadlen || EVP_EncryptUpdate(ctx, NULL, &l0, aad, (int)aadlen)) &&
	         (!alen || EVP_EncryptUpdate(ctx, ct, &l1, a, (int)alen)) &&
	         (!blen || EVP_EncryptUpdate(ctx, ct + l1, &l2, b, (int)blen)) &&
	         EVP_EncryptFinal_ex(ctx, ct + l1 + l2, &l3) &&
	         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, ct + alen + blen);
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

struct gcm_open_ctx {
	EVP_CIPHER_CTX *ctx;
	int failed;
};

struct gcm_open_ctx *gcm_open_begin(const unsigned char key[KEY_LEN],
                                    const unsigned char nonce[GCM_NONCE_LEN], const void *aad,
                                    size_t aadlen)
{
	pthread_once(&fetch_once, fetch_algorithms);
	struct gcm_open_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->ctx = EVP_CIPHER_CTX_new();
	int l0 = 0;
	if (!gcm_alg || !c->ctx || aadlen > INT32_MAX ||
	    !EVP_DecryptInit_ex2(c->ctx, gcm_alg, key, nonce, NULL) ||
	    (aadlen && !EVP_DecryptUpdate(c->ctx, NULL, &l0, aad, (int)aadlen)))
		c->failed = 1;
	return c;
}

int gcm_open_update(struct gcm_open_ctx *c, const unsigned char *in, size_t len, unsigned char *out)
{
	int outl = 0;
	if (!c)
		return -1;
	if (c->failed || len > INT32_MAX ||
	    (len && !EVP_DecryptUpdate(c->ctx, out, &outl, in, (int)len)))
		c->failed = 1;
	return c->failed ? -1 : 0;
}

int gcm_open_end(struct gcm_open_ctx *c, const unsigned char tag[GCM_TAG_LEN])
{
	if (!c)
		return -1;
	unsigned char t[GCM_TAG_LEN], fin[16];
	memcpy(t, tag, GCM_TAG_LEN);
	int outl = 0;
	int ok = !c->failed && EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN, t) &&
	         EVP_DecryptFinal_ex(c->ctx, fin, &outl) > 0;
	EVP_CIPHER_CTX_free(c->ctx);
	free(c);
	return ok ? 0 : -1;
}

int scrypt_derive(const char *pass, const unsigned char *salt, size_t saltlen, uint64_t n,
                  uint64_t r, uint64_t p, unsigned char out[KEY_LEN])
{
	/* 128*N*r bytes of memory, plus slack; refuse absurd stored parameters. */
	uint64_t maxmem = 1024ull * 1024 * 1024;
	if (n < 2 || (n & (n - 1)) || r == 0 || p == 0 || r > 64 || p > 64 ||
	    128 * n * r > maxmem / 2)
		return -1;
	return EVP_PBE_scrypt(pass, strlen(pass), salt, saltlen, n, r, p, maxmem, out, KEY_LEN) == 1
	           ? 0
	           : -1;
}

void secure_wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}

void *secure_alloc(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = (n + page - 1) / page * page;
	void *p = mmap(NULL, len ? len : page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	               -1, 0);
	if (p == MAP_FAILED)
		abort();
	/* Best effort: RLIMIT_MEMLOCK may forbid locking; DONTDUMP still holds. */
	(void)mlock(p, len ? len : page);
	(void)madvise(p, len ? len : page, MADV_DONTDUMP);
	return p;
}

void secure_free(void *p, size_t n)
{
	if (!p)
		return;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = (n + page - 1) / page * page;
	OPENSSL_cleanse(p, n);
	(void)munlock(p, len ? len : page);
	munmap(p, len ? len : page);
}

/* SipHash-2-4 (Aumasson and Bernstein, 2012) of exactly 32 bytes. */
static uint64_t sip_key[2];
static pthread_once_t sip_once = PTHREAD_ONCE_INIT;

static void sip_init(void)
{
	if (random_bytes(sip_key, sizeof sip_key))
		abort();
}

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = ROTL(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = ROTL(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = ROTL(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = ROTL(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = ROTL(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = ROTL(v2, 32);                                                                 \
	} while (0)

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint64_t id_hash64(const unsigned char id[ID_LEN])
{
	pthread_once(&sip_once, sip_init);
	uint64_t v0 = sip_key[0] ^ 0x736f6d6570736575ull, v1 = sip_key[1] ^ 0x646f72616e646f6dull;
	uint64_t v2 = sip_key[0] ^ 0x6c7967656e657261ull, v3 = sip_key[1] ^ 0x7465646279746573ull;
	for (int i = 0; i < ID_LEN; i += 8) {
		uint64_t m = le64(id + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	uint64_t b = (uint64_t)ID_LEN << 56;
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}
