/* crypto.h — the repository's primitives over libcrypto: SHA-256, HMAC-SHA-256,
 * AES-256-GCM, scrypt, random bytes. Nothing here knows about objects. */
#ifndef ARCA_REPO_CRYPTO_H
#define ARCA_REPO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define ID_LEN 32           /* chunk, pack, index and snapshot ids */
#define KEY_LEN 32
#define GCM_NONCE_LEN 12
#define GCM_TAG_LEN 16

/* The master keys of a repository (FORMAT.md, "Keys"). */
struct repo_keys {
	int encrypted;                    /* 0: plain SHA-256 ids, no AEAD */
	unsigned char enc[KEY_LEN];       /* AES-256-GCM key for every sealed blob */
	unsigned char mac[KEY_LEN];       /* HMAC-SHA-256 key for chunk ids */
	unsigned char chunker[KEY_LEN];   /* seed of the FastCDC gear table */
};

void sha256(const void *data, size_t len, unsigned char out[ID_LEN]);
/* HMAC-SHA-256 via EVP_MAC. Returns 0, or -1 when libcrypto fails. */
int hmac_sha256(const unsigned char *key, size_t keylen, const void *data, size_t len,
		unsigned char out[ID_LEN]);
/* Chunk id: HMAC-SHA-256 under keys->mac when encrypted, else SHA-256. */
int chunk_id(const struct repo_keys *keys, const void *data, size_t len,
	     unsigned char out[ID_LEN]);

/* Fill with cryptographically secure random bytes; 0 or -1. */
int random_bytes(void *buf, size_t n);

/*
 * AES-256-GCM of [data, data+len) in place under a fresh random nonce.
 * The caller lays out nonce(12) | data(len) | tag(16): `nonce` points at the
 * first byte, the data follows it, and the tag is written after the data.
 * Returns 0 or -1.
 */
int gcm_seal_inplace(const unsigned char key[KEY_LEN], unsigned char *nonce, size_t len);
/* Decrypt `len` bytes of ciphertext following the nonce into out (len
 * bytes); the tag follows the ciphertext. Returns 0, or -1 when the tag
 * does not authenticate (wrong key or damaged data). */
int gcm_open(const unsigned char key[KEY_LEN], const unsigned char *nonce, size_t len,
	     unsigned char *out);

/* scrypt(passphrase, salt, N, r, p) -> 32 bytes. 0 or -1. */
int scrypt_derive(const char *pass, const unsigned char *salt, size_t saltlen,
		  uint64_t n, uint64_t r, uint64_t p, unsigned char out[KEY_LEN]);

/* Wipe secrets so the compiler cannot elide it. */
void secure_wipe(void *p, size_t n);

#endif
