/* crypto.h — the repository's primitives over libcrypto: SHA-256, HMAC-SHA-256,
 * AES-256-GCM, scrypt, random bytes. Nothing here knows about objects. */
#ifndef ARCA_REPO_CRYPTO_H
#define ARCA_REPO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define ID_LEN        32 /* chunk, pack, index and snapshot ids */
#define KEY_LEN       32
#define GCM_NONCE_LEN 12
#define GCM_TAG_LEN   16

/* The master keys of a repository (FORMAT.md, "Keys"). */
struct repo_keys {
	int encrypted;                  /* 0: plain SHA-256 ids, no AEAD */
	unsigned char enc[KEY_LEN];     /* AES-256-GCM key for every sealed blob */
	unsigned char mac[KEY_LEN];     /* HMAC-SHA-256 key for chunk ids */
	unsigned char chunker[KEY_LEN]; /* seed of the FastCDC gear table */
};

void sha256(const void *data, size_t len, unsigned char out[ID_LEN]);
/* SHA-256 of the concatenation of n parts. */
void sha256_parts(const void *const *parts, const size_t *lens, int n, unsigned char out[ID_LEN]);
/* HMAC-SHA-256 via EVP_MAC. Returns 0, or -1 when libcrypto fails. */
/* SHA-256 of data given in pieces: begin, update..., end (frees ctx). */
void *sha256_begin(void);
void sha256_update(void *ctx, const void *data, size_t len);
void sha256_end(void *ctx, unsigned char out[ID_LEN]);
int hmac_sha256(const unsigned char *key, size_t keylen, const void *data, size_t len,
                unsigned char out[ID_LEN]);
/* Chunk id: HMAC-SHA-256 under keys->mac when encrypted, else SHA-256. */
int chunk_id(const struct repo_keys *keys, const void *data, size_t len, unsigned char out[ID_LEN]);

/* Fill with cryptographically secure random bytes; 0 or -1. */
/* HKDF-SHA-256 (RFC 5869) with a 32-byte output. 0 or -1. */
int hkdf_sha256_32(const unsigned char *key, size_t keylen, const unsigned char *salt,
                   size_t saltlen, const void *info, size_t infolen, unsigned char out[KEY_LEN]);
int random_bytes(void *buf, size_t n);

/*
 * AES-256-GCM under a fresh random nonce of the concatenation a || b
 * (either may be empty), with additional authenticated data `aad`, written
 * to out as nonce(12) | ciphertext(alen+blen) | tag(16). `b` may not overlap
 * `out`. Returns 0 or -1.
 */
int gcm_seal(const unsigned char key[KEY_LEN], const void *aad, size_t aadlen, const void *a,
             size_t alen, const void *b, size_t blen, unsigned char *out);

/* Streaming decryption, so the caller can choose where the plaintext of
 * each part goes. Nothing is authentic until gcm_open_end returns 0. */
struct gcm_open_ctx;
struct gcm_open_ctx *gcm_open_begin(const unsigned char key[KEY_LEN],
                                    const unsigned char nonce[GCM_NONCE_LEN], const void *aad,
                                    size_t aadlen);
int gcm_open_update(struct gcm_open_ctx *c, const unsigned char *in, size_t len,
                    unsigned char *out);
/* Check the tag and free the context: 0 when authentic, -1 otherwise. */
int gcm_open_end(struct gcm_open_ctx *c, const unsigned char tag[GCM_TAG_LEN]);

/* scrypt(passphrase, salt, N, r, p) -> 32 bytes. 0 or -1. */
int scrypt_derive(const char *pass, const unsigned char *salt, size_t saltlen, uint64_t n,
                  uint64_t r, uint64_t p, unsigned char out[KEY_LEN]);

/* Wipe secrets so the compiler cannot elide it. */
void secure_wipe(void *p, size_t n);

/* Memory for keys: its own pages, locked against swap (when the limit
 * allows), left out of core dumps, wiped on free. Never NULL (aborts). */
void *secure_alloc(size_t n);
void secure_free(void *p, size_t n);

/* SipHash-2-4 of 32 bytes under a per-process random key: the chunk
 * index's hash. Ids come from storage an attacker may write (unencrypted
 * repositories), so a fixed slice of the id would let crafted ids collide. */
uint64_t id_hash64(const unsigned char id[ID_LEN]);

#endif
