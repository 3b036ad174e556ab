/* health.c — `arca health TARGET [--into URL|DIR] [--index UID,...]
 * [--wait-tasks SECONDS]`: is Meilisearch serving as a search client would
 * use it? GET /health says "available"; with the target's key (restore_api_key
 * for --into, as restore --into uses) GET /stats answers, and names every
 * index asked for; the task queue is empty, or its enqueued and processing
 * tasks are named (a restore's documents may still be indexing: searches
 * then miss them), a warning unless --wait-tasks bounds a wait for them.
 * --into DIR: the .dump a restore wrote there (health_dump.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "meili.h"

#define MAX_WAIT (7 * 86400)

/* --wait-tasks: seconds, or a number with s, m or h. -1 when invalid. */
static int64_t parse_wait(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	int64_t mul = !strcmp(end, "") || !strcmp(end, "s") ? 1
	              : !strcmp(end, "m")                   ? 60
	              : !strcmp(end, "h")                   ? 3600
	                                                    : 0;
	if (end == s || v < 0 || !mul || v > MAX_WAIT / mul)
		return -1;
	return (int64_t)v * mul;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The tasks still enqueued or processing: *n (the server's total, else
 * what one page holds), and the newest in `newest`. */
static int pending_tasks(struct meili *m, int64_t *n, char *newest, size_t cap)
{
	json_t *r;
	int rc = meili_call(m, "GET", "/tasks?statuses=enqueued,processing&limit=20", NULL, NULL, 0,
	                    "tasks.get", &r);
	if (rc != ARCA_OK)
		return rc;
	json_t *res = json_object_get(r, "results"), *total = json_object_get(r, "total");
	if (!json_is_array(res)) {
		json_decref(r);
		return MEILI_ERR(ARCA_ERR_IO,
		                 "Meilisearch at %s: GET /tasks answers without results", m->url);
	}
	*n = json_is_integer(total) ? json_integer_value(total) : (int64_t)json_array_size(res);
	json_t *t = json_array_get(res, 0);
	const char *type = json_string_value(json_object_get(t, "type")),
	           *st = json_string_value(json_object_get(t, "status")),
	           *ix = json_string_value(json_object_get(t, "indexUid"));
	snprintf(newest, cap, "task %lld (%.60s of index %.100s, %.20s)",
	         (long long)json_integer_value(json_object_get(t, "uid")), type ? type : "?",
	         ix ? ix : "none", st ? st : "?");
	json_decref(r);
	return ARCA_OK;
}

/* The queue: empty; or waited for, up to `wait` seconds (-1: not at all). */
static int queue(struct meili *m, struct arca_ctx *ctx, int64_t wait)
{
	char newest[256];
	int64_t n = 0;
	double start = now_s();
	long delay_ms = 20;
	int rc;
	while ((rc = pending_tasks(m, &n, newest, sizeof newest)) == ARCA_OK && n > 0 &&
	       wait >= 0 && now_s() - start < (double)wait) {
		if (meili_host->cancelled(ctx))
			return MEILI_ERR(ARCA_ERR_CANCELLED, "interrupted");
		struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		if (delay_ms < 500)
			delay_ms *= 2;
	}
	if (rc != ARCA_OK || n == 0)
		return rc;
	if (wait >= 0)
		return MEILI_ERR(
		    ARCA_ERR_IO,
		    "Meilisearch at %s still has %lld task(s) enqueued or processing "
		    "after %llds (--wait-tasks), the newest %s: searches miss what they "
		    "add; see GET %s/tasks?statuses=enqueued,processing",
		    m->url, (long long)n, (long long)wait, newest, m->url);
	MEILI_LOG(ARCA_LOG_WARN,
	          "Meilisearch at %s has %lld task(s) enqueued or processing, the newest %s: "
	          "searches miss what they add until they finish (--wait-tasks SECONDS waits "
	          "for them)",
	          m->url, (long long)n, newest);
	return ARCA_OK;
}

/* "books, movies, ..." of stats' "indexes", bounded. */
static const char *index_names(json_t *idx, char *out, size_t cap)
{
	const char *k;
	json_t *x;
	size_t at = 0;
	out[0] = 0;
	json_object_foreach(idx, k, x)
	{
		if (at + strlen(k) + 8 >= cap) {
			snprintf(out + at, cap - at, ", ...");
			break;
		}
		at += (size_t)snprintf(out + at, cap - at, "%s%s", at ? ", " : "", k);
	}
	return out;
}

/* Each of the comma-separated uids is an index of stats' "indexes". */
static int named_indexes(struct meili *m, json_t *idx, const char *list)
{
	char *copy = strdup(list), *save = NULL, names[512];
	if (!copy)
		return MEILI_ERR(ARCA_ERR_INTERNAL, "out of memory");
	int rc = ARCA_OK;
	for (char *u = strtok_r(copy, ",", &save); u && rc == ARCA_OK;
	     u = strtok_r(NULL, ",", &save)) {
		json_t *x = json_object_get(idx, u);
		if (!meili_valid_uid(u))
			rc = MEILI_ERR(ARCA_ERR_CONFIG,
			               "--index %s: \"%.100s\" is not an index uid", list, u);
		else if (!x)
			rc = MEILI_ERR(ARCA_ERR_NOT_FOUND,
			               "Meilisearch at %s has no index %s (it has %zu%s%s)%s",
			               m->url, u, json_object_size(idx),
			               json_object_size(idx) ? ": " : "",
			               index_names(idx, names, sizeof names), meili_way_out(m));
		else
			MEILI_LOG(
			    ARCA_LOG_INFO, "index %s: %lld document(s)%s", u,
			    (long long)json_integer_value(json_object_get(x, "numberOfDocuments")),
			    json_is_true(json_object_get(x, "isIndexing")) ? ", indexing" : "");
	}
	free(copy);
	return rc;
}

static int look(struct meili *m, struct arca_ctx *ctx, const char *only, int64_t wait)
{
	json_t *h = NULL, *st = NULL;
	char version[64];
	int rc = meili_call(m, "GET", "/health", NULL, NULL, 0, "health", &h);
	const char *status = json_string_value(json_object_get(h, "status"));
	if (rc == ARCA_ERR_NOT_FOUND) /* a web server, but not Meilisearch */
		rc =
		    MEILI_ERR(ARCA_ERR_IO,
		              "%s answers GET /health with 404: is it a Meilisearch server (url in "
		              "[target %s], or --into)?",
		              m->url, m->name);
	else if (rc == ARCA_OK && (!status || strcmp(status, "available")))
		rc = MEILI_ERR(ARCA_ERR_IO, "Meilisearch at %s: GET /health says status \"%.60s\"",
		               m->url, status ? status : "(none)");
	json_decref(h);
	if (rc == ARCA_OK)
		rc = meili_server_version(m, version, sizeof version);
	if (rc == ARCA_OK)
		rc = queue(m, ctx, wait);
	/* after the queue: the counts of what it finished */
	if (rc == ARCA_OK)
		rc = meili_call(m, "GET", "/stats", NULL, NULL, 0, "stats.get", &st);
	json_t *idx = json_object_get(st, "indexes");
	if (rc == ARCA_OK && !json_is_object(idx))
		rc = MEILI_ERR(ARCA_ERR_IO, "Meilisearch at %s: GET /stats answers without indexes",
		               m->url);
	if (rc == ARCA_OK && only)
		rc = named_indexes(m, idx, only);
	if (rc == ARCA_OK) {
		const char *k;
		json_t *x;
		long long docs = 0;
		json_object_foreach(idx, k, x)
		{
			docs += json_integer_value(json_object_get(x, "numberOfDocuments"));
		}
		MEILI_LOG(json_object_size(idx) ? ARCA_LOG_INFO : ARCA_LOG_WARN,
		          "Meilisearch %s at %s: available, %zu index(es), %lld document(s)",
		          version, m->url, json_object_size(idx), docs);
	}
	json_decref(st);
	return rc;
}

int meili_health(struct meili *m, struct arca_ctx *ctx)
{
	const char *into = meili_host->option(ctx, "into");
	const char *only = meili_host->option(ctx, "index");
	const char *w = meili_host->option(ctx, "wait-tasks");
	int64_t wait = w ? parse_wait(w) : -1;
	if (w && wait < 0)
		return MEILI_ERR(
		    ARCA_ERR_CONFIG,
		    "--wait-tasks %s: give seconds (or N with s, m or h), at most 7 days", w);
	if (into && into[0] == '/' && w)
		return MEILI_ERR(ARCA_ERR_CONFIG,
		                 "--wait-tasks looks at a running server's task queue, not at the "
		                 ".dump in --into %s",
		                 into);
	if (into && into[0] == '/')
		return meili_health_dump(m, ctx, into, only);
	if (into && strncmp(into, "http://", 7) && strncmp(into, "https://", 8))
		return MEILI_ERR(ARCA_ERR_CONFIG,
		                 "--into takes http(s)://HOST:PORT (a running Meilisearch: the one "
		                 "restore --into URL wrote into, or one started with --import-dump "
		                 "on the .dump restore --into DIR wrote) or the absolute directory "
		                 "restore --into DIR wrote a .dump into, not '%s'",
		                 into);
	/* --into URL: the key of restore_api_key, as restore --into; the
	 * instance's own url is kept for its next op */
	char own[sizeof m->url_buf];
	memcpy(own, m->url_buf, sizeof own);
	int rc = meili_connect(m, ctx, into, into ? "restore_api_key" : "api_key");
	if (rc == ARCA_OK)
		rc = look(m, ctx, only, wait);
	meili_disconnect(m);
	memcpy(m->url_buf, own, sizeof own);
	m->url = m->url_buf;
	return rc;
}
