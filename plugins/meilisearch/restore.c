/* restore.c — a stored snapshot back into a running Meilisearch through
 * its API: each index created with its primary key, its settings applied,
 * its documents sent as NDJSON in batches of at most batch_size bytes,
 * and every task waited for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "meili.h"

#define MAX_PENDING 8 /* batches in the server's queue before we wait */

struct sender {
	struct meili *m;
	struct arca_ctx *ctx;
	const char *uid;
	char path[700];
	struct mbuf batch;
	int64_t pending[MAX_PENDING];
	int n_pending;
	uint64_t docs;
};

static int wait_pending(struct sender *s)
{
	for (int i = 0; i < s->n_pending; i++) {
		char what[600];
		snprintf(what, sizeof what, "documents into index %s", s->uid);
		int rc = meili_wait_task(s->m, s->pending[i], what, NULL);
		if (rc != ARCA_OK)
			return rc;
	}
	s->n_pending = 0;
	return ARCA_OK;
}

static int flush(struct sender *s)
{
	if (!s->batch.len)
		return ARCA_OK;
	if (s->n_pending == MAX_PENDING) {
		int rc = wait_pending(s);
		if (rc != ARCA_OK)
			return rc;
	}
	json_t *acc;
	int rc = meili_call(s->m, "POST", s->path, "application/x-ndjson", s->batch.p, s->batch.len,
	                    "documents.add", &acc);
	s->batch.len = 0;
	if (rc != ARCA_OK)
		return rc;
	rc = meili_task_uid(acc, &s->pending[s->n_pending]);
	json_decref(acc);
	if (rc == ARCA_OK)
		s->n_pending++;
	return rc;
}

static int on_doc(void *arg, const char *line, size_t len)
{
	struct sender *s = arg;
	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (!len)
		return ARCA_OK;
	if (s->batch.len && s->batch.len + len + 1 > (size_t)s->m->batch_bytes) {
		int rc = flush(s);
		if (rc != ARCA_OK)
			return rc;
	}
	if (mbuf_add(&s->batch, line, len, MEILI_MAX_LINE + (size_t)s->m->batch_bytes) ||
	    mbuf_add(&s->batch, "\n", 1, MEILI_MAX_LINE + (size_t)s->m->batch_bytes + 1))
		return MEILI_ERR(ARCA_ERR_INTERNAL, "out of memory");
	s->docs++;
	if (meili_host->cancelled(s->ctx))
		return MEILI_ERR(ARCA_ERR_CANCELLED, "interrupted");
	return ARCA_OK;
}

static int call_wait(struct meili *m, const char *method, const char *path, json_t *body,
                     const char *action, const char *what)
{
	char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_t *acc;
	int rc =
	    meili_call(m, method, path, "application/json", s, s ? strlen(s) : 0, action, &acc);
	free(s);
	if (rc != ARCA_OK)
		return rc;
	int64_t uid;
	rc = meili_task_uid(acc, &uid);
	json_decref(acc);
	return rc == ARCA_OK ? meili_wait_task(m, uid, what, NULL) : rc;
}

/* An index that exists and holds documents is replaced only on request. */
static int prepare_index(struct meili *m, struct arca_ctx *ctx, const struct meili_index *x)
{
	char path[700], what[600];
	snprintf(path, sizeof path, "/indexes/%s/stats", x->uid);
	json_t *st;
	int rc = meili_call(m, "GET", path, NULL, NULL, 0, "stats.get", &st);
	if (rc == ARCA_ERR_NOT_FOUND)
		return ARCA_OK;
	if (rc != ARCA_OK)
		return rc;
	json_int_t n = json_integer_value(json_object_get(st, "numberOfDocuments"));
	json_decref(st);
	if (n > 0 && !meili_host->option(ctx, "overwrite"))
		return MEILI_ERR(ARCA_ERR_EXISTS,
		                 "index %s on %s holds %lld documents; give --overwrite to replace "
		                 "it, or --index NAME to restore another one%s",
		                 x->uid, m->url, (long long)n, meili_way_out(m));
	snprintf(path, sizeof path, "/indexes/%s", x->uid);
	snprintf(what, sizeof what, "deleting index %s", x->uid);
	return call_wait(m, "DELETE", path, NULL, "indexes.delete", what);
}

static int restore_index(struct meili *m, struct arca_ctx *ctx, const struct meili_index *x)
{
	char path[700], what[600];
	int rc = prepare_index(m, ctx, x);
	if (rc != ARCA_OK)
		return rc;
	json_t *b = json_pack("{s:s, s:s?}", "uid", x->uid, "primaryKey", x->pk);
	snprintf(what, sizeof what, "creating index %s", x->uid);
	rc = call_wait(m, "POST", "/indexes", b, "indexes.create", what);
	json_decref(b);
	if (rc == ARCA_OK && x->settings) {
		snprintf(path, sizeof path, "/indexes/%s/settings", x->uid);
		snprintf(what, sizeof what, "settings of index %s", x->uid);
		rc = call_wait(m, "PATCH", path, x->settings, "settings.update", what);
	}
	if (rc != ARCA_OK || !x->docs)
		return rc;
	struct sender s = {.m = m, .ctx = ctx, .uid = x->uid};
	if (x->pk) {
		char *pk = curl_easy_escape(m->curl, x->pk, 0);
		if (!pk)
			return MEILI_ERR(ARCA_ERR_INTERNAL, "out of memory");
		snprintf(s.path, sizeof s.path, "/indexes/%s/documents?primaryKey=%.400s", x->uid,
		         pk);
		curl_free(pk);
	} else
		snprintf(s.path, sizeof s.path, "/indexes/%s/documents", x->uid);
	struct arca_item_info info;
	rc = meili_host->item_open(ctx, x->docs, &info);
	if (rc == ARCA_OK)
		rc = meili_read_lines(ctx, on_doc, &s);
	if (rc == ARCA_OK)
		rc = flush(&s);
	if (rc == ARCA_OK)
		rc = wait_pending(&s);
	mbuf_free(&s.batch);
	if (rc == ARCA_OK)
		MEILI_LOG(ARCA_LOG_INFO, "index %s: %llu documents restored", x->uid,
		          (unsigned long long)s.docs);
	return rc;
}

static int has_scheme(const char *s)
{
	return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

int meili_restore(struct meili *m, struct arca_ctx *ctx)
{
	const char *into = meili_host->option(ctx, "into");
	const char *only = meili_host->option(ctx, "index");
	if (meili_host->option(ctx, "rebuild"))
		return meili_rebuild(m);
	if (into && !has_scheme(into)) {
		if (into[0] != '/')
			return MEILI_ERR(
			    ARCA_ERR_CONFIG,
			    "--into takes http(s)://HOST:PORT (a running Meilisearch) or "
			    "an absolute directory (a .dump file), not '%s'",
			    into);
		return meili_restore_file(m, ctx, into);
	}
	struct meili_layout l;
	int rc = meili_layout_load(ctx, &l);
	if (rc != ARCA_OK)
		return rc;
	/* --into URL: the key of restore_api_key, not the target's own */
	rc = meili_connect(m, ctx, into ? into : m->url, into ? "restore_api_key" : "api_key");
	char version[64];
	if (rc == ARCA_OK)
		rc = meili_server_version(m, version, sizeof version);
	/* the settings and document formats arca sends are those of 1.x */
	if (rc == ARCA_OK && !strncmp(version, "0.", 2))
		rc = MEILI_ERR(ARCA_ERR_UNSUPPORTED,
		               "Meilisearch %s at %s predates 1.0; arca restores into 1.x servers: "
		               "upgrade it, or write a .dump with --into DIR%s",
		               version, m->url, meili_way_out(m));
	size_t done = 0;
	for (size_t i = 0; rc == ARCA_OK && i < l.n; i++) {
		if (only && strcmp(only, l.idx[i].uid))
			continue;
		rc = restore_index(m, ctx, &l.idx[i]);
		done++;
	}
	if (rc == ARCA_OK && only && !done) {
		char names[1024] = "";
		size_t at = 0;
		for (size_t i = 0; i < l.n && at < sizeof names; i++)
			at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", i ? ", " : "",
			                       l.idx[i].uid);
		rc = MEILI_ERR(ARCA_ERR_NOT_FOUND, "the snapshot has no index %s (it has: %s)",
		               only, l.n ? names : "none");
	}
	if (rc == ARCA_OK)
		MEILI_LOG(ARCA_LOG_INFO, "restored %zu index(es) into Meilisearch %s at %s", done,
		          version, m->url);
	meili_layout_free(&l);
	return rc;
}
