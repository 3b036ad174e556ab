/* test_repo_chunker.c — FastCDC: bounds, determinism, independence from how
 * the stream is split into writes, resynchronisation after an insertion,
 * and keyed gear tables. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include "repo/chunker.h"
#include "test_repo_dest.h"

#define DATA_LEN (24u * 1024 * 1024)

static const struct cdc_params P = {CDC_MIN_DEFAULT, CDC_AVG_DEFAULT, CDC_MAX_DEFAULT};

/* Cut a buffer, feeding it in pieces of `piece` bytes (0: all at once).
 * Returns the number of chunks; lengths go to lens. */
static size_t cut_all(struct cdc *c, const unsigned char *p, size_t n, size_t piece,
		      size_t *lens, size_t max_chunks)
{
	size_t count = 0, cur = 0, off = 0;
	cdc_reset(c);
	while (off < n) {
		size_t want = piece ? piece : n - off;
		if (want > n - off)
			want = n - off;
		size_t done = 0;
		while (done < want) {
			int cut;
			size_t k = cdc_feed(c, p + off + done, want - done, &cut);
			done += k;
			cur += k;
			if (cut) {
				assert_true(count < max_chunks);
				lens[count++] = cur;
				cur = 0;
			}
		}
		off += want;
	}
	if (cur)
		lens[count++] = cur;
	return count;
}

static void test_bounds_and_average(void **state)
{
	(void)state;
	unsigned char *d = malloc(DATA_LEN);
	test_fill_random(d, DATA_LEN, 1);
	struct cdc c;
	assert_int_equal(cdc_init(&c, &P, NULL), 0);
	size_t lens[256];
	size_t n = cut_all(&c, d, DATA_LEN, 0, lens, 256);
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		total += lens[i];
		assert_true(lens[i] <= CDC_MAX_DEFAULT);
		if (i + 1 < n)
			assert_true(lens[i] >= CDC_MIN_DEFAULT);
	}
	assert_int_equal(total, DATA_LEN);
	/* Normalized chunking keeps the mean near the target (1 MiB). */
	double mean = (double)DATA_LEN / (double)n;
	assert_true(mean > 600.0 * 1024 && mean < 1800.0 * 1024);
	free(d);
}

static void test_zeros_cut_at_max(void **state)
{
	(void)state;
	unsigned char *d = calloc(1, 10 * 1024 * 1024);
	struct cdc c;
	assert_int_equal(cdc_init(&c, &P, NULL), 0);
	size_t lens[16];
	size_t n = cut_all(&c, d, 10 * 1024 * 1024, 0, lens, 16);
	/* No content boundaries in zeros: hard cuts at the maximum. */
	assert_int_equal(n, 3);
	assert_int_equal(lens[0], CDC_MAX_DEFAULT);
	assert_int_equal(lens[1], CDC_MAX_DEFAULT);
	assert_int_equal(lens[2], 2 * 1024 * 1024);
	free(d);
}

/* The cut points of FastCDC as specified, a byte at a time (what cdc_feed
 * computed before it was unrolled): the unrolled scan must cut exactly
 * there, or every repository's chunks would change. */
static size_t reference_cuts(const struct cdc *c, const unsigned char *p, size_t n, size_t *lens,
                             size_t max_chunks)
{
	size_t count = 0, pos = 0;
	uint64_t fp = 0;
	for (size_t i = 0; i < n; i++) {
		pos++;
		int cut = 0;
		if (pos > c->min) {
			fp = (fp << 1) + c->gear[p[i]];
			cut = pos <= c->avg ? !(fp & c->mask_small)
			                    : !(fp & c->mask_large) || pos >= c->max;
		}
		if (cut) {
			assert_true(count < max_chunks);
			lens[count++] = pos;
			pos = 0;
			fp = 0;
		}
	}
	if (pos)
		lens[count++] = pos;
	return count;
}

static void test_same_cuts_as_reference(void **state)
{
	(void)state;
	unsigned char *d = malloc(DATA_LEN);
	test_fill_random(d, DATA_LEN, 7);
	/* runs of one byte too: long stretches with no cut, cut at max */
	memset(d + DATA_LEN / 3, 0, 9u * 1024 * 1024);
	struct cdc c;
	unsigned char seed[32];
	memset(seed, 0x5a, sizeof seed);
	for (int keyed = 0; keyed < 2; keyed++) {
		assert_int_equal(cdc_init(&c, &P, keyed ? seed : NULL), 0);
		size_t want[512], got[512];
		size_t nw = reference_cuts(&c, d, DATA_LEN, want, 512);
		static const size_t pieces[] = {0, 1, 3, 4093, 65536, 1000003};
		for (size_t k = 0; k < sizeof pieces / sizeof *pieces; k++) {
			size_t ng = cut_all(&c, d, DATA_LEN, pieces[k], got, 512);
			assert_int_equal(ng, nw);
			assert_memory_equal(got, want, nw * sizeof *want);
		}
	}
	free(d);
}

static void test_split_independent(void **state)
{
	(void)state;
	unsigned char *d = malloc(DATA_LEN);
	test_fill_random(d, DATA_LEN, 2);
	struct cdc c;
	assert_int_equal(cdc_init(&c, &P, NULL), 0);
	size_t a[256], b[256], e[256];
	size_t na = cut_all(&c, d, DATA_LEN, 0, a, 256);
	size_t nb = cut_all(&c, d, DATA_LEN, 4093, b, 256);
	size_t ne = cut_all(&c, d, DATA_LEN, 1, e, 256) ;
	assert_int_equal(na, nb);
	assert_int_equal(na, ne);
	assert_memory_equal(a, b, na * sizeof *a);
	assert_memory_equal(a, e, na * sizeof *a);
	free(d);
}

static void test_resync_after_insert(void **state)
{
	(void)state;
	unsigned char *d = malloc(DATA_LEN + 100);
	test_fill_random(d + 100, DATA_LEN, 3);
	test_fill_random(d, 100, 4);
	struct cdc c;
	assert_int_equal(cdc_init(&c, &P, NULL), 0);
	size_t a[256], b[256];
	size_t na = cut_all(&c, d + 100, DATA_LEN, 0, a, 256);
	size_t nb = cut_all(&c, d, DATA_LEN + 100, 0, b, 256);
	/* After the first chunk, the boundaries line up again: the last
	 * chunks are identical. */
	assert_true(na > 8 && nb > 8);
	size_t same = 0;
	for (size_t i = 1; i <= na - 1 && i <= nb - 1; i++)
		same += a[na - i] == b[nb - i];
	assert_true(same >= na - 3);
	free(d);
}

static void test_keyed_gear_differs(void **state)
{
	(void)state;
	unsigned char *d = malloc(DATA_LEN);
	test_fill_random(d, DATA_LEN, 5);
	unsigned char k1[32], k2[32];
	memset(k1, 1, 32);
	memset(k2, 2, 32);
	struct cdc c1, c2, c3;
	assert_int_equal(cdc_init(&c1, &P, k1), 0);
	assert_int_equal(cdc_init(&c2, &P, k2), 0);
	assert_int_equal(cdc_init(&c3, &P, k1), 0);
	assert_memory_not_equal(c1.gear, c2.gear, sizeof c1.gear);
	assert_memory_equal(c1.gear, c3.gear, sizeof c1.gear);
	size_t a[256], b[256];
	size_t na = cut_all(&c1, d, DATA_LEN, 0, a, 256);
	size_t nb = cut_all(&c2, d, DATA_LEN, 0, b, 256);
	assert_false(na == nb && !memcmp(a, b, na * sizeof *a));
	free(d);
}

static void test_bad_params(void **state)
{
	(void)state;
	struct cdc c;
	struct cdc_params bad1 = {1024, 3000, 8192};         /* avg not a power of two */
	struct cdc_params bad2 = {8192, 4096, 16384};        /* min >= avg */
	struct cdc_params bad3 = {1024, 4096, 4096};         /* max <= avg */
	assert_int_equal(cdc_init(&c, &bad1, NULL), -1);
	assert_int_equal(cdc_init(&c, &bad2, NULL), -1);
	assert_int_equal(cdc_init(&c, &bad3, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounds_and_average),
		cmocka_unit_test(test_zeros_cut_at_max),
		cmocka_unit_test(test_split_independent),
		cmocka_unit_test(test_same_cuts_as_reference),
		cmocka_unit_test(test_resync_after_insert),
		cmocka_unit_test(test_keyed_gear_differs),
		cmocka_unit_test(test_bad_params),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
