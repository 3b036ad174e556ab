/* dir_call.c — the ABI 1.1 destination ops of `dir`: the 1.0 ops run with
 * the call's context at hand (per thread while the op runs), so errors
 * that may pass (a timed-out or stale NFS handle) are marked transient for
 * the engine's retry policy, and long reads and writes report progress and
 * stop on cancellation. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "dir.h"

/* A pthread key, not _Thread_local: a thread-local variable of a dlopen'ed
 * module lives in dynamic TLS, which LeakSanitizer's exit-time scan of the
 * engine's worker threads crashed on (tests/run, ASan build). */
static pthread_key_t cur_key;
static pthread_once_t cur_once = PTHREAD_ONCE_INIT;

static void cur_key_make(void)
{
	(void)pthread_key_create(&cur_key, NULL);
}

static struct arca_dest_call *cur_get(void)
{
	pthread_once(&cur_once, cur_key_make);
	return pthread_getspecific(cur_key);
}

struct arca_dest_call *dir_call_enter(struct arca_dest_call *call)
{
	struct arca_dest_call *outer = cur_get();

	pthread_setspecific(cur_key, call);
	return outer;
}

void dir_call_leave(struct arca_dest_call *outer)
{
	pthread_setspecific(cur_key, outer);
}

void dir_call_transient(int err)
{
	struct arca_dest_call *cur = cur_get();

	/* what a network filesystem reports for a hiccup; a full disk or a
	 * refused permission is no better a second later */
	if (cur && (err == ETIMEDOUT || err == ESTALE || err == EAGAIN || err == EINTR ||
	            err == ECONNRESET || err == EHOSTUNREACH || err == ENETUNREACH))
		cur->transient(cur, 0);
}

void dir_call_progress(uint64_t bytes)
{
	struct arca_dest_call *cur = cur_get();

	if (cur && cur->progress)
		cur->progress(cur, bytes);
}

int dir_call_cancelled(void)
{
	struct arca_dest_call *cur = cur_get();

	return cur && cur->cancelled && cur->cancelled(cur);
}

int dir_probe(void *instance, struct arca_dest_call *call, unsigned *caps)
{
	(void)instance;
	(void)call;
	/* link(2) and rename(2) are atomic on the filesystems dir_put accepts;
	 * no compare-and-swap of a file's content, no server-side copy */
	*caps |= ARCA_CAP_COND_CREATE | ARCA_CAP_STREAM_PUT;
	return ARCA_OK;
}

int dir_put_call(void *instance, struct arca_dest_call *call, const char *name, const void *data,
                 size_t len, unsigned flags, const char *if_version)
{
	const struct dir_inst *d = instance;

	if (if_version)
		return dir_host->error(ARCA_ERR_UNSUPPORTED,
		                       "dir %s: conditional replace of %s is not supported",
		                       d->root, name);
	struct arca_dest_call *outer = dir_call_enter(call);
	int rc = dir_put(instance, name, data, len, flags);

	dir_call_leave(outer);
	return rc;
}

int dir_get_call(void *instance, struct arca_dest_call *call, const char *name, uint64_t offset,
                 uint64_t length, arca_sink_fn sink, void *arg)
{
	struct arca_dest_call *outer = dir_call_enter(call);
	int rc = dir_get(instance, name, offset, length, sink, arg);

	dir_call_leave(outer);
	return rc;
}

int dir_list_call(void *instance, struct arca_dest_call *call, const char *prefix,
                  int (*cb)(void *arg, const char *name, uint64_t size), void *arg)
{
	struct arca_dest_call *outer = dir_call_enter(call);
	int rc = dir_list(instance, prefix, cb, arg);

	dir_call_leave(outer);
	return rc;
}

int dir_remove_call(void *instance, struct arca_dest_call *call, const char *const *names, size_t n)
{
	struct arca_dest_call *outer = dir_call_enter(call);
	int rc = ARCA_OK;

	for (size_t i = 0; i < n && rc == ARCA_OK; i++)
		rc = dir_remove(instance, names[i]);
	dir_call_leave(outer);
	return rc;
}

int dir_stat_call(void *instance, struct arca_dest_call *call, const char *name,
                  struct arca_dest_stat *st)
{
	struct arca_dest_call *outer = dir_call_enter(call);
	struct stat sb;
	int rc = dir_stat_st(instance, name, &sb);

	dir_call_leave(outer);
	if (rc != ARCA_OK)
		return rc;
	/* the engine's struct may be older (shorter) than ours */
	if (st->struct_size >= offsetof(struct arca_dest_stat, size) + sizeof(st->size))
		st->size = (uint64_t)sb.st_size;
	if (st->struct_size >= offsetof(struct arca_dest_stat, mtime_sec) + sizeof(st->mtime_sec))
		st->mtime_sec = (int64_t)sb.st_mtim.tv_sec;
	if (st->struct_size >= offsetof(struct arca_dest_stat, version) + sizeof(st->version))
		snprintf(st->version, sizeof st->version, "%llx:%llx:%lld.%09ld",
		         (unsigned long long)sb.st_ino, (unsigned long long)sb.st_size,
		         (long long)sb.st_mtim.tv_sec, (long)sb.st_mtim.tv_nsec);
	return ARCA_OK;
}
