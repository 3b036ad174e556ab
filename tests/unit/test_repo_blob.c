/* test_repo_blob.c — sealed blobs: round trips (compressed and raw,
 * encrypted and plain), every single-byte flip and every truncation is
 * detected, the wrong key is refused, nonces are fresh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "repo/blob.h"
#include "test_repo_dest.h"

static const unsigned char repo_id[ID_LEN] = {1, 2, 3};
static struct aad aad_x;

static struct repo_keys enc_keys(unsigned char fill)
{
	struct repo_keys k = {.encrypted = 1};
	memset(k.enc, fill, KEY_LEN);
	memset(k.mac, fill + 1, KEY_LEN);
	return k;
}

static void roundtrip(const struct repo_keys *k, const unsigned char *data, size_t len,
		      int expect_flag)
{
	struct buf sealed = {0}, plain = {0};
	assert_int_equal(blob_seal(k, &aad_x, NULL, 3, data, len, &sealed), ARCA_OK);
	size_t flag_at = k->encrypted ? GCM_NONCE_LEN : 0;
	if (!k->encrypted)
		assert_int_equal(sealed.data[flag_at], expect_flag);
	if (expect_flag == BLOB_RAW)
		assert_int_equal(sealed.len, len + blob_overhead(k));
	else
		assert_true(sealed.len < len);
	assert_int_equal(blob_open(k, &aad_x, sealed.data, sealed.len, len, &plain, "t"), ARCA_OK);
	assert_int_equal(plain.len, len);
	if (len)
		assert_memory_equal(plain.data, data, len);
	buf_free(&sealed);
	buf_free(&plain);
}

static void test_roundtrips(void **state)
{
	(void)state;
	struct repo_keys e = enc_keys(7), p = {0};
	unsigned char rnd[70000], zeros[70000] = {0};
	test_fill_random(rnd, sizeof rnd, 1);
	for (int i = 0; i < 2; i++) {
		const struct repo_keys *k = i ? &p : &e;
		roundtrip(k, rnd, sizeof rnd, BLOB_RAW);
		roundtrip(k, zeros, sizeof zeros, BLOB_ZSTD);
		roundtrip(k, rnd, 0, BLOB_RAW);
		roundtrip(k, rnd, 1, BLOB_RAW);
	}
}

static void every_flip_and_cut(const struct repo_keys *k)
{
	unsigned char data[3000];
	test_fill_random(data, sizeof data, 2);
	memset(data, 'x', 1000);
	struct buf sealed = {0}, plain = {0};
	assert_int_equal(blob_seal(k, &aad_x, NULL, 3, data, sizeof data, &sealed), ARCA_OK);
	for (size_t i = 0; i < sealed.len; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			sealed.data[i] ^= (unsigned char)(1 << bit);
			assert_int_equal(
			    blob_open(k, &aad_x, sealed.data, sealed.len, 1 << 20, &plain, "t"),
			    ARCA_ERR_CORRUPT);
			sealed.data[i] ^= (unsigned char)(1 << bit);
		}
	}
	for (size_t n = 0; n < sealed.len; n++)
		assert_int_equal(blob_open(k, &aad_x, sealed.data, n, 1 << 20, &plain, "t"),
				 ARCA_ERR_CORRUPT);
	assert_int_equal(blob_open(k, &aad_x, sealed.data, sealed.len, 1 << 20, &plain, "t"), ARCA_OK);
	buf_free(&sealed);
	buf_free(&plain);
}

static void test_tamper_detected(void **state)
{
	(void)state;
	struct repo_keys e = enc_keys(9), p = {0};
	every_flip_and_cut(&e);
	every_flip_and_cut(&p);
}

static void test_wrong_key_and_limits(void **state)
{
	(void)state;
	struct repo_keys a = enc_keys(1), b = enc_keys(2);
	unsigned char zeros[100000] = {0};
	struct buf s1 = {0}, s2 = {0}, plain = {0};
	assert_int_equal(blob_seal(&a, &aad_x, NULL, 3, zeros, sizeof zeros, &s1), ARCA_OK);
	assert_int_equal(blob_open(&b, &aad_x, s1.data, s1.len, sizeof zeros, &plain, "chunk X"),
			 ARCA_ERR_CORRUPT);
	assert_non_null(strstr(err_msg(), "chunk X"));
	/* The declared size is bounded before allocating. */
	assert_int_equal(blob_open(&a, &aad_x, s1.data, s1.len, 1000, &plain, "t"), ARCA_ERR_CORRUPT);
	/* Fresh nonce: the same plaintext seals differently each time. */
	assert_int_equal(blob_seal(&a, &aad_x, NULL, 3, zeros, sizeof zeros, &s2), ARCA_OK);
	assert_int_equal(s1.len, s2.len);
	assert_memory_not_equal(s1.data, s2.data, s1.len);
	buf_free(&s1);
	buf_free(&s2);
	buf_free(&plain);
}

static void test_chunk_ids(void **state)
{
	(void)state;
	struct repo_keys e = enc_keys(3), p = {0};
	unsigned char a[ID_LEN], b[ID_LEN];
	/* Unencrypted: plain SHA-256 ("abc" test vector). */
	assert_int_equal(chunk_id(&p, "abc", 3, a), 0);
	char hex[65];
	hex_encode(a, ID_LEN, hex);
	assert_string_equal(hex,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* Encrypted: keyed, so ids differ from SHA-256 and between keys. */
	assert_int_equal(chunk_id(&e, "abc", 3, b), 0);
	assert_memory_not_equal(a, b, ID_LEN);
	/* RFC 4231 test case 2: HMAC-SHA-256 with key "Jefe". */
	const char *msg = "what do ya want for nothing?";
	assert_int_equal(hmac_sha256((const unsigned char *)"Jefe", 4, msg, strlen(msg), a), 0);
	hex_encode(a, ID_LEN, hex);
	assert_string_equal(hex,
	                    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

/* A blob opens only under the AAD it was sealed with: another kind, another
 * chunk id, another repository or another frame number is refused. */
static void test_binding(void **state)
{
	(void)state;
	struct repo_keys e = enc_keys(5), p = {0};
	unsigned char id1[ID_LEN] = {9}, id2[ID_LEN] = {8}, other_repo[ID_LEN] = {7};
	struct aad chunk1, chunk2, frame0, frame1, named, foreign;
	aad_make(&chunk1, BK_CHUNK, repo_id, id1, ID_LEN);
	aad_make(&chunk2, BK_CHUNK, repo_id, id2, ID_LEN);
	aad_make(&frame0, BK_FRAME, repo_id, "\0\0\0\0t", 5);
	aad_make(&frame1, BK_FRAME, repo_id, "\1\0\0\0t", 5);
	aad_make(&named, BK_NAMED, repo_id, "blobs/t/a", 9);
	aad_make(&foreign, BK_CHUNK, other_repo, id1, ID_LEN);
	for (int i = 0; i < 2; i++) {
		const struct repo_keys *k = i ? &p : &e;
		struct buf s1 = {0}, s2 = {0}, plain = {0};
		assert_int_equal(blob_seal(k, &chunk1, NULL, 3, "{\"seq\":0}", 9, &s1), ARCA_OK);
		assert_int_equal(blob_open(k, &chunk1, s1.data, s1.len, 100, &plain, "t"), ARCA_OK);
		assert_int_equal(blob_open(k, &chunk2, s1.data, s1.len, 100, &plain, "t"),
				 ARCA_ERR_CORRUPT);
		assert_int_equal(blob_open(k, &frame0, s1.data, s1.len, 100, &plain, "t"),
				 ARCA_ERR_CORRUPT);
		assert_int_equal(blob_open(k, &named, s1.data, s1.len, 100, &plain, "t"),
				 ARCA_ERR_CORRUPT);
		assert_int_equal(blob_open(k, &foreign, s1.data, s1.len, 100, &plain, "t"),
				 ARCA_ERR_CORRUPT);
		assert_int_equal(blob_seal(k, &frame0, NULL, 3, "x", 1, &s2), ARCA_OK);
		assert_int_equal(blob_open(k, &frame1, s2.data, s2.len, 100, &plain, "t"),
				 ARCA_ERR_CORRUPT);
		buf_free(&s1);
		buf_free(&s2);
		buf_free(&plain);
	}
}

/* RFC 5869, test case 1: the first 32 bytes of its 42-byte OKM are T(1),
 * which is what hkdf_sha256_32 computes. */
static void test_hkdf_rfc5869(void **state)
{
	(void)state;
	unsigned char ikm[22], salt[13], info[10], out[KEY_LEN], want[KEY_LEN];
	memset(ikm, 0x0b, sizeof ikm);
	for (int i = 0; i < 13; i++)
		salt[i] = (unsigned char)i;
	for (int i = 0; i < 10; i++)
		info[i] = (unsigned char)(0xf0 + i);
	assert_int_equal(hex_decode("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf",
				    want, sizeof want), 0);
	assert_int_equal(hkdf_sha256_32(ikm, sizeof ikm, salt, sizeof salt, info, sizeof info, out), 0);
	assert_memory_equal(out, want, sizeof want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrips),
		cmocka_unit_test(test_tamper_detected),
		cmocka_unit_test(test_wrong_key_and_limits),
		cmocka_unit_test(test_chunk_ids),
		cmocka_unit_test(test_hkdf_rfc5869),
		cmocka_unit_test(test_binding),
	};
	aad_make(&aad_x, BK_CHUNK, repo_id, "x", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
