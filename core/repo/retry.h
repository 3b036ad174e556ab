/* retry.h — the one retry policy of every destination call (ABI 1.1,
 * struct arca_dest_call): a failure the driver marks transient is tried
 * again after an exponential backoff with jitter, within a bounded number
 * of tries and a bounded total time; each retry is logged. */
#ifndef ARCA_REPO_RETRY_H
#define ARCA_REPO_RETRY_H

#include <stdint.h>
#include "arca/plugin.h"

struct retry_policy {
	unsigned max_tries;   /* tries in all, the first included */
	int64_t max_total_ms; /* no retry starts after this much time */
	int64_t base_ms;      /* backoff before the second try */
	int64_t cap_ms;       /* no single wait is longer */
	/* Cleanup that must run after ^C too (removing the command's lock):
	 * neither the driver's call->cancelled nor the waits see the request;
	 * instead call->cancelled turns true once max_total_ms has passed, so
	 * a hung request is cut there. */
	int uncancellable;
	/* Clock and sleep; NULL: the real ones (tests give fakes). The sleep
	 * returns nonzero when interrupted (cancellation). */
	int (*sleep_ms)(void *arg, int64_t ms);
	int64_t (*now_ms)(void *arg);
	void *clock_arg;
};

/* 8 tries within 5 minutes, waits from 0.25 s doubling up to 30 s.
 * ARCA_RETRY_BASE_MS in the environment scales the waits (tests). */
void retry_policy_default(struct retry_policy *p);

/* One destination operation: called with a fresh context per try. */
typedef int (*retry_op_fn)(void *arg, struct arca_dest_call *call);
/* Called before each retry to drop what the failed try delivered
 * (the bytes a sink got); NULL: nothing to drop. */
typedef void (*retry_reset_fn)(void *arg);

/*
 * Run `op` until it succeeds, fails without being marked transient, the
 * user cancels, or the policy runs out. `what` names the operation in log
 * lines ("destination s3: writing packs/ab/ab12.."). Returns op's last
 * status with its message in err_*() (set through call->error or
 * host->error), with " (gave up after N tries in T s)" appended when retries
 * ran out. *tries (if non-NULL) gets the number of tries made.
 */
int retry_run(const struct retry_policy *p, const char *what, retry_op_fn op, void *arg,
              retry_reset_fn reset, unsigned *tries);

/* The wait before try number `attempt` (>= 2) given the random value
 * r in [0, 1): half the exponential step plus a jittered half. */
int64_t retry_backoff_ms(const struct retry_policy *p, unsigned attempt, double r);

#endif
