/* jobs.h — the operations the CLI runs on targets. Each opens what it needs,
 * takes the right repository lock, runs the driver inside an arca_ctx and
 * reports. */
#ifndef ARCA_JOBS_H
#define ARCA_JOBS_H

#include "engine.h"
#include "host.h"

struct snapshot_result {
	char id[65];
	uint64_t items, bytes, new_bytes;
	uint64_t skipped; /* items the driver left out: a partial snapshot */
	double seconds;
};

int job_snapshot(struct engine *e, struct engine_target *t, const char *recovery_point,
                 const struct ctx_option *options, struct snapshot_result *res);
/* snapshot_id: full id, unique prefix, or "latest"/NULL. from: destination
 * name or NULL (first that works). */
int job_restore(struct engine *e, struct engine_target *t, const char *snapshot_id,
                const char *from, const struct ctx_option *options);
int job_verify_target(struct engine *e, struct engine_target *t, const char *snapshot_id,
                      const struct ctx_option *options);
int job_check_target(struct engine *e, struct engine_target *t, const struct ctx_option *options);
/* The driver's health op (ABI 1.1): is the store serving? No repository is
 * opened. ARCA_ERR_UNSUPPORTED for a driver without one. */
int job_health(struct engine *e, struct engine_target *t, const struct ctx_option *options);
int job_command(struct engine *e, struct engine_target *t, const char *verb, int argc, char **argv,
                const struct ctx_option *options);
/* The driver's after_forget op (ABI 1.1; nothing for a driver without
 * one), with snapshot snapshot_id (a full id, the oldest kept) of
 * destination d open for reading, whose repository is open. */
int job_after_forget(struct engine *e, struct engine_target *t, struct engine_dest *d,
                     const char *snapshot_id);

/* Resolve "latest"/prefix to a snapshot of target t in repo r. */
int job_resolve_snapshot(struct repo *r, const char *target, const char *id, char out[65]);

#endif
