/* s3_extras.c — the keys --delete-extra removes (s3_extras.h). Whatever
 * lists them (a bucket of millions of keys, or a hostile server paging
 * without end) costs disk in TMPDIR, not memory. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "s3_extras.h"

void s3x_init(struct s3x_extras *x)
{
	memset(x, 0, sizeof *x);
}

static void batch_free(struct s3x_extras *x)
{
	for (size_t i = 0; i < x->nb; i++)
		free(x->b[i]);
	x->nb = 0;
}

void s3x_free(struct s3x_extras *x)
{
	batch_free(x);
	if (x->spill)
		fclose(x->spill);
	x->spill = NULL;
}

static int spill_error(const char *doing)
{
	return s3_host->error(ARCA_ERR_IO,
	                      "s3: %s the keys to delete (a temporary file in %s): %s; "
	                      "set TMPDIR to a directory with room",
	                      doing, getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", strerror(errno));
}

/* The full batch appended to the temporary file (made at the first). */
static int flush(struct s3x_extras *x)
{
	if (!x->spill) {
		const char *dir = getenv("TMPDIR");
		char path[4096];
		snprintf(path, sizeof path, "%s/arca-s3-extra.XXXXXX", dir && *dir ? dir : "/tmp");
		int fd = mkstemp(path);
		if (fd < 0)
			return spill_error("keeping");
		unlink(path);
		if (!(x->spill = fdopen(fd, "w+b"))) {
			close(fd);
			return spill_error("keeping");
		}
	}
	for (size_t i = 0; i < x->nb; i++) {
		size_t n = strlen(x->b[i]);
		uint32_t l = (uint32_t)n;
		if (n > UINT32_MAX || fwrite(&l, sizeof l, 1, x->spill) != 1 ||
		    fwrite(x->b[i], 1, n, x->spill) != n)
			return spill_error("keeping");
	}
	batch_free(x);
	return ARCA_OK;
}

int s3x_add(struct s3x_extras *x, const char *name)
{
	/* a listing repeating a key (a hostile or buggy server): once */
	if (x->nb && !strcmp(x->b[x->nb - 1], name))
		return ARCA_OK;
	if (x->nb == S3X_BATCH && flush(x) != ARCA_OK)
		return ARCA_ERR_IO;
	if (!(x->b[x->nb] = strdup(name)))
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	x->nb++, x->n++;
	return ARCA_OK;
}

/* The next batch from the temporary file into b (emptied first). */
static int read_batch(struct s3x_extras *x, int *more)
{
	batch_free(x);
	*more = 0;
	while (x->nb < S3X_BATCH) {
		uint32_t l;
		if (fread(&l, sizeof l, 1, x->spill) != 1) {
			if (ferror(x->spill))
				return spill_error("reading back");
			return ARCA_OK;
		}
		char *s = malloc((size_t)l + 1);
		if (!s)
			return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
		if (fread(s, 1, l, x->spill) != l) {
			free(s);
			errno = ferror(x->spill) ? errno : EIO;
			return spill_error("reading back");
		}
		s[l] = '\0';
		x->b[x->nb++] = s;
	}
	*more = 1;
	return ARCA_OK;
}

/* A call for s3_remove_call, so that its failure says whether it is
 * transient (5xx, 429, reset: SlowDown is common on mass deletes) and the
 * user's interrupt reaches it. */
struct xcall {
	struct arca_dest_call call; /* first: what s3_remove_call is given */
	struct arca_ctx *ctx;
	int transient;
	int64_t retry_after_ms;
};

static int xc_cancelled(struct arca_dest_call *c)
{
	return s3_host->cancelled(((struct xcall *)(void *)c)->ctx);
}

static void xc_transient(struct arca_dest_call *c, int64_t retry_after_ms)
{
	struct xcall *x = (struct xcall *)(void *)c;
	x->transient = 1, x->retry_after_ms = retry_after_ms;
}

static int xc_error(struct arca_dest_call *c, int status, const char *fmt, ...)
{
	char m[1024];
	va_list ap;
	(void)c;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	return s3_host->error(status, "%s", m);
}

/* One batch deleted; tried again on a transient failure as the target's
 * other requests are (s3_retry_pause): deleting twice is harmless. */
static int remove_batch(struct s3_inst *d, struct arca_ctx *ctx, struct s3x_extras *x,
                        uint64_t *logged)
{
	for (size_t i = 0; i < x->nb && *logged < 5; i++, (*logged)++)
		s3_host->log(ARCA_LOG_INFO, "s3: deleting %s%s (not in the snapshot)", d->prefix,
		             x->b[i]);
	for (int t = 0; x->nb; t++) {
		struct xcall xc = {.call = {.struct_size = sizeof xc.call,
		                            .attempt = t + 1,
		                            .cancelled = xc_cancelled,
		                            .transient = xc_transient,
		                            .error = xc_error},
		                   .ctx = ctx};
		int rc = s3_remove_call(d, &xc.call, (const char *const *)x->b, x->nb);
		if (rc == ARCA_OK)
			return rc;
		struct s3_fail f = {
		    .status = rc, .transient = xc.transient, .retry_after_ms = xc.retry_after_ms};
		snprintf(f.msg, sizeof f.msg, "%s", s3_host->error_message());
		char what[80];
		snprintf(what, sizeof what, "deleting %zu object(s) not in the snapshot", x->nb);
		if (!s3_retry_pause(&f, t, what))
			return rc;
	}
	return ARCA_OK;
}

int s3x_delete(struct s3_inst *d, struct arca_ctx *ctx, struct s3x_extras *x)
{
	int rc = ARCA_OK;
	uint64_t logged = 0;
	if (x->spill) {
		/* the batch being filled goes last: the file first, in listing order */
		if (flush(x) != ARCA_OK)
			return ARCA_ERR_IO;
		if (fflush(x->spill) || fseek(x->spill, 0, SEEK_SET))
			return spill_error("reading back");
		for (int more = 1; rc == ARCA_OK && more;) {
			if (s3_host->cancelled(ctx))
				return s3_host->error(ARCA_ERR_CANCELLED, "interrupted");
			rc = read_batch(x, &more);
			if (rc == ARCA_OK)
				rc = remove_batch(d, ctx, x, &logged);
		}
	} else
		rc = remove_batch(d, ctx, x, &logged);
	batch_free(x);
	if (rc == ARCA_OK && x->n)
		s3_host->log(ARCA_LOG_INFO, "s3: %" PRIu64 " object(s) not in the snapshot deleted",
		             x->n);
	return rc;
}
