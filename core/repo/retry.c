/* retry.c — the retry policy shared by every destination (retry.h). */
#include "repo/retry.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "host.h"
#include "log.h"
#include "repo/crypto.h"
#include "util.h"

/* One try's state behind struct arca_dest_call.engine. */
struct try_state {
	pthread_mutex_t mu;
	int transient;
	int64_t retry_after_ms;
	int status; /* of the first message set through call->error */
	char msg[1024];
	uint64_t bytes;
	/* uncancellable cleanup: the time (now_fn's) past which a try in
	 * flight is cut all the same, so one hung request cannot hold the
	 * command past the policy's max_total_ms */
	int64_t (*now_fn)(void *);
	void *clock_arg;
	int64_t deadline_ms;
};

static int call_cancelled(struct arca_dest_call *call)
{
	(void)call;
	return arca_cancel_requested;
}

static int call_cancelled_past_deadline(struct arca_dest_call *call)
{
	struct try_state *t = call->engine;
	return t->now_fn(t->clock_arg) >= t->deadline_ms;
}

static void call_progress(struct arca_dest_call *call, uint64_t bytes)
{
	struct try_state *t = call->engine;
	pthread_mutex_lock(&t->mu);
	t->bytes += bytes;
	pthread_mutex_unlock(&t->mu);
}

static void call_transient(struct arca_dest_call *call, int64_t retry_after_ms)
{
	struct try_state *t = call->engine;
	pthread_mutex_lock(&t->mu);
	t->transient = 1;
	if (retry_after_ms > t->retry_after_ms)
		t->retry_after_ms = retry_after_ms;
	pthread_mutex_unlock(&t->mu);
}

static int call_error(struct arca_dest_call *call, int status, const char *fmt, ...)
{
	struct try_state *t = call->engine;
	pthread_mutex_lock(&t->mu);
	if (!t->msg[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(t->msg, sizeof t->msg, fmt, ap);
		va_end(ap);
		t->status = status;
	}
	pthread_mutex_unlock(&t->mu);
	return status;
}

static int real_sleep(void *arg, int64_t ms)
{
	(void)arg;
	/* in slices, so ^C is not held up by a long backoff */
	while (ms > 0 && !arca_cancel_requested) {
		int64_t step = ms < 100 ? ms : 100;
		struct timespec ts = {(time_t)(step / 1000), (long)(step % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return arca_cancel_requested;
}

static int plain_sleep(void *arg, int64_t ms)
{
	(void)arg;
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	return 0;
}

static int64_t real_now(void *arg)
{
	(void)arg;
	return (int64_t)(now_monotonic() * 1000.0);
}

void retry_policy_default(struct retry_policy *p)
{
	*p = (struct retry_policy){
	    .max_tries = 8, .max_total_ms = 300000, .base_ms = 250, .cap_ms = 30000};
	const char *s = getenv("ARCA_RETRY_BASE_MS");
	if (s && *s) {
		long v = strtol(s, NULL, 10);
		if (v >= 1 && v <= 60000) {
			p->cap_ms = p->cap_ms * v / p->base_ms;
			p->base_ms = v;
		}
	}
}

int64_t retry_backoff_ms(const struct retry_policy *p, unsigned attempt, double r)
{
	int64_t step = p->base_ms;
	for (unsigned i = 2; i < attempt && step < p->cap_ms; i++)
		step *= 2;
	if (step > p->cap_ms)
		step = p->cap_ms;
	return step / 2 + (int64_t)(r * (double)(step - step / 2));
}

static double jitter(void)
{
	uint32_t v = 0;
	if (random_bytes(&v, sizeof v))
		v = (uint32_t)rand();
	return (double)v / 4294967296.0;
}

int retry_run(const struct retry_policy *p, const char *what, retry_op_fn op, void *arg,
              retry_reset_fn reset, unsigned *tries)
{
	int (*sleep_fn)(void *, int64_t) = p->sleep_ms        ? p->sleep_ms
	                                   : p->uncancellable ? plain_sleep
	                                                      : real_sleep;
	int64_t (*now_fn)(void *) = p->now_ms ? p->now_ms : real_now;
	int64_t start = now_fn(p->clock_arg);
	int rc = ARCA_OK;
	unsigned attempt = 0;

	for (;;) {
		struct try_state t = {.now_fn = now_fn,
		                      .clock_arg = p->clock_arg,
		                      .deadline_ms = start + p->max_total_ms};
		pthread_mutex_init(&t.mu, NULL);
		struct arca_dest_call call = {
		    .struct_size = sizeof call,
		    .attempt = ++attempt,
		    .cancelled = p->uncancellable ? call_cancelled_past_deadline : call_cancelled,
		    .progress = call_progress,
		    .transient = call_transient,
		    .error = call_error,
		    .engine = &t,
		};
		err_clear();
		rc = op(arg, &call);
		pthread_mutex_destroy(&t.mu);
		/* a message set through the call (any thread) is the reason,
		 * unless the driver set one for this status itself */
		if (rc != ARCA_OK && t.msg[0] && t.status == rc &&
		    !(err_status() == rc && err_msg()[0]))
			err_set(rc, "%s", t.msg);
		if (rc == ARCA_OK || !t.transient || rc == ARCA_ERR_CANCELLED)
			break;
		if (arca_cancel_requested && !p->uncancellable) {
			rc = err_set(ARCA_ERR_CANCELLED, "%s: interrupted (after: %s)", what,
			             err_msg());
			break;
		}
		int64_t wait = retry_backoff_ms(p, attempt + 1, jitter());
		if (t.retry_after_ms > wait)
			wait = t.retry_after_ms < p->cap_ms ? t.retry_after_ms : p->cap_ms;
		int64_t spent = now_fn(p->clock_arg) - start;
		if (attempt >= p->max_tries || spent + wait > p->max_total_ms) {
			char msg[1024];
			snprintf(msg, sizeof msg, "%s", err_msg());
			err_set(rc, "%s (gave up after %u tries in %.1f s)", msg, attempt,
			        (double)spent / 1000.0);
			break;
		}
		char moved[48] = "";
		if (t.bytes) /* what the failed try had moved (call->progress) */
			snprintf(moved, sizeof moved, " after %.1f MiB",
			         (double)t.bytes / 1048576.0);
		log_warn("%s failed%s (%s); try %u of %u in %.1f s", what, moved, err_msg(),
		         attempt + 1, p->max_tries, (double)wait / 1000.0);
		if (sleep_fn(p->clock_arg, wait)) {
			rc = err_set(ARCA_ERR_CANCELLED, "%s: interrupted while waiting to retry",
			             what);
			break;
		}
		if (reset)
			reset(arg);
	}
	if (tries)
		*tries = attempt;
	return rc;
}
