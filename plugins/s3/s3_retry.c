/* s3_retry.c — the s3 driver's one retry policy for requests made without
 * the engine's call (s3.h: s3_retry_pause). The engine's own policy
 * (core/repo/retry.c) covers every request that comes with a call. */
#include <inttypes.h>
#include <time.h>

#include "s3.h"

int s3_retry_pause(const struct s3_fail *f, int attempt, const char *what)
{
	if (!f->transient || attempt + 1 >= S3_TRIES)
		return 0;
	int64_t ms = 200LL << attempt;
	if (f->retry_after_ms > 0)
		ms = f->retry_after_ms < 60000 ? f->retry_after_ms : 60000;
	s3_host->log(ARCA_LOG_INFO, "s3: %s: %s; trying again in %" PRId64 " ms", what, f->msg, ms);
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	return 1;
}
