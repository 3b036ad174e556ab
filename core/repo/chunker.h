/* chunker.h — FastCDC content-defined chunking (Xia et al., 2016) with
 * normalized chunking: a stricter mask below the average size, a looser one
 * above it, a hard cut at the maximum. The gear table is derived from the
 * repository's chunker key when the repository is encrypted, so chunk
 * boundaries do not reveal content (FORMAT.md, "Chunking"). */
#ifndef ARCA_REPO_CHUNKER_H
#define ARCA_REPO_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#define CDC_MIN_DEFAULT (256u * 1024)
#define CDC_AVG_DEFAULT (1024u * 1024)
#define CDC_MAX_DEFAULT (4096u * 1024)

struct cdc_params {
	uint32_t min, avg, max; /* avg a power of two; min < avg < max */
};

struct cdc {
	uint64_t gear[256];
	uint32_t min, avg, max;
	uint64_t mask_small; /* used below avg: more one bits, cuts rarer */
	uint64_t mask_large; /* used from avg on: fewer one bits */
	size_t pos;          /* bytes in the current chunk so far */
	uint64_t fp;         /* rolling gear fingerprint */
};

/* 0, or -1 when the parameters are not usable. seed: 32 bytes or NULL. */
int cdc_params_valid(const struct cdc_params *p);
int cdc_init(struct cdc *c, const struct cdc_params *p, const unsigned char *seed);
/* Start a new stream (a new item). */
void cdc_reset(struct cdc *c);
/*
 * Feed bytes of the current chunk. Returns how many of the n bytes belong to
 * it; sets *cut when the chunk ends right after them (the state is then
 * reset for the next chunk). At the end of a stream the caller ends the last
 * chunk itself.
 */
size_t cdc_feed(struct cdc *c, const unsigned char *p, size_t n, int *cut);

#endif
