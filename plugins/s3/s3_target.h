/* s3_target.h — what the `s3` target's snapshot (s3_target.c) and restore
 * (s3_restore.c) share; internal to the driver. */
#ifndef ARCA_S3_TARGET_H
#define ARCA_S3_TARGET_H

#include "s3.h"

/* One request of the target's own, retried on transient failures (5xx,
 * 429, resets, timeouts, truncated answers) with backoff (0.2 s doubling,
 * or the server's Retry-After; 6 tries). A GET into a sink is retried only
 * while nothing reached the sink. ARCA_OK with a 2xx or 404 in r (which
 * the caller frees either way), else the failure in f. */
int s3t_request(struct s3_inst *s, const struct s3_req *rq, struct s3_resp *r, const char *what,
                struct s3_fail *f);

/* The target's restore op and its options (s3_restore.c). */
int s3t_restore(void *instance, struct arca_ctx *ctx);
extern const struct arca_op_option s3t_restore_options[];

#endif
