/* chunker.c — FastCDC with normalized chunking, resumable across writes. */
#include "repo/chunker.h"

#include <stdio.h>
#include <string.h>
#include "repo/crypto.h"

static int log2_exact(uint32_t v)
{
	if (!v || (v & (v - 1)))
		return -1;
	int b = 0;
	while (v >>= 1)
		b++;
	return b;
}

int cdc_params_valid(const struct cdc_params *p)
{
	int bits = log2_exact(p->avg);
	if (bits < 8 || bits > 28 || p->min < 64 || p->min >= p->avg || p->max <= p->avg ||
	    p->max > 64u * 1024 * 1024)
		return -1;
	return 0;
}

/* A mask of `bits` one bits at the top of the word: the gear hash shifts
 * left, so its high bits depend on the last 64 bytes, the low bits on few. */
static uint64_t top_mask(int bits)
{
	return bits >= 64 ? ~0ull : ~0ull << (64 - bits);
}

int cdc_init(struct cdc *c, const struct cdc_params *p, const unsigned char *seed)
{
	if (cdc_params_valid(p))
		return -1;
	memset(c, 0, sizeof *c);
	c->min = p->min;
	c->avg = p->avg;
	c->max = p->max;
	int bits = log2_exact(p->avg);
	c->mask_small = top_mask(bits + 2);
	c->mask_large = top_mask(bits - 2);
	/* gear[i] = first 8 bytes (little endian) of H("arca-gear-v1" || i),
	 * H = HMAC-SHA-256(seed) when keyed, SHA-256 otherwise. */
	for (int i = 0; i < 256; i++) {
		unsigned char msg[13], out[ID_LEN];
		memcpy(msg, "arca-gear-v1", 12);
		msg[12] = (unsigned char)i;
		if (seed) {
			if (hmac_sha256(seed, KEY_LEN, msg, sizeof msg, out))
				return -1;
		} else {
			sha256(msg, sizeof msg, out);
		}
		uint64_t g = 0;
		for (int b = 7; b >= 0; b--)
			g = g << 8 | out[b];
		c->gear[i] = g;
	}
	return 0;
}

void cdc_reset(struct cdc *c)
{
	c->pos = 0;
	c->fp = 0;
}

/* Roll the gear hash over p[i..lim) until, after some byte, fp & mask is 0:
 * returns the index just past that byte with *found set, or lim. Unrolled
 * with one bound check per 4 bytes: the hash's add-shift chain is then all
 * the loop does (this is the hottest loop of a snapshot). */
static inline size_t gear_scan(const uint64_t *gear, const unsigned char *p, size_t i, size_t lim,
                               uint64_t mask, uint64_t *fpp, int *found)
{
	uint64_t fp = *fpp;
#define GEAR_STEP(k)                                                                               \
	fp = (fp << 1) + gear[p[i + (k)]];                                                         \
	if (!(fp & mask)) {                                                                        \
		i += (k) + 1;                                                                      \
		goto hit;                                                                          \
	}
	for (; i + 4 <= lim; i += 4) {
		GEAR_STEP(0)
		GEAR_STEP(1)
		GEAR_STEP(2)
		GEAR_STEP(3)
	}
	for (; i < lim; i++) {
		GEAR_STEP(0)
	}
#undef GEAR_STEP
	*fpp = fp;
	*found = 0;
	return lim;
hit:
	*fpp = fp;
	*found = 1;
	return i;
}

size_t cdc_feed(struct cdc *c, const unsigned char *p, size_t n, int *cut)
{
	size_t i = 0;
	*cut = 0;
	/* The first `min` bytes of a chunk are never a cut point: skip hashing. */
	if (c->pos < c->min) {
		size_t skip = c->min - c->pos;
		if (skip > n)
			skip = n;
		c->pos += skip;
		i = skip;
		if (c->pos < c->min)
			return i;
	}
	uint64_t fp = c->fp;
	size_t pos = c->pos;
	int found = 0;
	/* Below the average size: the strict mask. */
	if (pos < c->avg) {
		size_t lim = n - i < c->avg - pos ? n : i + (c->avg - pos);
		size_t j = gear_scan(c->gear, p, i, lim, c->mask_small, &fp, &found);
		pos += j - i;
		i = j;
		if (found)
			goto found;
	}
	/* From the average on: the loose mask, up to the hard maximum. */
	if (i < n && pos >= c->avg) {
		size_t lim = n - i < c->max - pos ? n : i + (c->max - pos);
		size_t j = gear_scan(c->gear, p, i, lim, c->mask_large, &fp, &found);
		pos += j - i;
		i = j;
		if (found || pos >= c->max)
			goto found;
	}
	c->fp = fp;
	c->pos = pos;
	return i;
found:
	*cut = 1;
	cdc_reset(c);
	return i;
}
