/* s3_extras.h — the keys `arca restore --delete-extra` removes (s3_restore.c):
 * those the listing made before writing showed and the snapshot lacks. A
 * batch of names is kept in memory, earlier batches in an unlinked temporary
 * file: memory bounded whatever the bucket holds. Engine thread only. */
#ifndef ARCA_S3_EXTRAS_H
#define ARCA_S3_EXTRAS_H

#include <stdint.h>
#include <stdio.h>

#include "s3.h"

/* Names per DeleteObjects request (S3 takes at most 1000). */
#define S3X_BATCH 1000

struct s3x_extras {
	char *b[S3X_BATCH]; /* the batch being filled (owned) */
	size_t nb;
	FILE *spill; /* full batches: (uint32 length, bytes) records; NULL: none */
	uint64_t n;  /* names added in all */
};

void s3x_init(struct s3x_extras *x);
/* One more name (a key below the instance's prefix). ARCA_OK, or an error
 * set (out of memory, the temporary file). */
int s3x_add(struct s3x_extras *x, const char *name);
/* Remove every name added from d (DeleteObjects, S3X_BATCH at once; the
 * first five logged, then the count; between batches, ctx's cancellation
 * stops it). ARCA_OK or the error reported. */
int s3x_delete(struct s3_inst *d, struct arca_ctx *ctx, struct s3x_extras *x);
void s3x_free(struct s3x_extras *x);

#endif
