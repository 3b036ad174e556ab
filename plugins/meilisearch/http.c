/* http.c — Meilisearch's HTTP API through libcurl: requests, error
 * objects mapped to arca statuses, and waiting for asynchronous tasks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "meili.h"

int mbuf_add(struct mbuf *b, const void *data, size_t len, size_t bound)
{
	if (len > bound || b->len > bound - len)
		return -1;
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = 0;
	return 0;
}

void mbuf_free(struct mbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	/* a body over the bound stops the transfer (CURLE_WRITE_ERROR) */
	return mbuf_add(arg, data, size * n, MEILI_MAX_RESPONSE) ? 0 : size * n;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct meili *m = arg;
	return m->ctx && meili_host->cancelled(m->ctx);
}

int meili_connect(struct meili *m, struct arca_ctx *ctx, const char *url, const char *key_opt)
{
	m->ctx = ctx;
	if (url) {
		size_t n = strlen(url);
		while (n && url[n - 1] == '/')
			n--;
		if (n >= sizeof m->url_buf)
			return MEILI_ERR(ARCA_ERR_CONFIG, "the Meilisearch URL is too long");
		memcpy(m->url_buf, url, n);
		m->url_buf[n] = 0;
		m->url = m->url_buf;
	}
	if (!m->key) {
		int rc = meili_host->secret(m->cfg, key_opt, &m->key);
		if (rc != ARCA_OK && rc != ARCA_ERR_NOT_FOUND)
			return rc;
	}
	if (!m->curl) {
		m->curl = curl_easy_init();
		if (!m->curl)
			return MEILI_ERR(ARCA_ERR_INTERNAL, "curl_easy_init failed");
	}
	return ARCA_OK;
}

void meili_disconnect(struct meili *m)
{
	if (m->curl)
		curl_easy_cleanup(m->curl);
	m->curl = NULL;
	if (m->key) {
		explicit_bzero(m->key, strlen(m->key));
		free(m->key);
		m->key = NULL;
	}
	m->key_worked = 0;
}

/* Meilisearch's error object {message, code, type, link} as a status. */
static int api_error(struct meili *m, long http, const char *method, const char *path,
                     const char *action, const struct mbuf *body)
{
	json_t *j = body->p ? json_loadb(body->p, body->len, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(j, "message"));
	const char *code = json_string_value(json_object_get(j, "code"));
	char what[512];
	snprintf(what, sizeof what, "%.300s (%.100s)", msg ? msg : "no message",
	         code ? code : "no code");
	int rc;
	if (http == 401 || (code && !strcmp(code, "missing_authorization_header")))
		rc = MEILI_ERR(ARCA_ERR_AUTH,
		               "Meilisearch at %s wants an API key for %s %s: %s; set api_key_file "
		               "or api_key_env in [target %s]",
		               m->url, method, path, what, m->name);
	else if (http == 403 && m->key_worked)
		rc = MEILI_ERR(ARCA_ERR_AUTH,
		               "Meilisearch at %s refused %s %s: %s; the API key lacks the `%s` "
		               "action: give a key whose actions include %s (or *)",
		               m->url, method, path, what, action, action);
	else if (http == 403)
		rc = MEILI_ERR(ARCA_ERR_AUTH,
		               "Meilisearch at %s refused the API key for %s %s: %s; the key is "
		               "wrong, or lacks the `%s` action",
		               m->url, method, path, what, action);
	else if (http == 404)
		rc = MEILI_ERR(ARCA_ERR_NOT_FOUND, "Meilisearch at %s: %s %s: %s", m->url, method,
		               path, what);
	else
		rc = MEILI_ERR(ARCA_ERR_IO, "Meilisearch at %s answered %s %s with HTTP %ld: %s",
		               m->url, method, path, http, what);
	json_decref(j);
	return rc;
}

int meili_call(struct meili *m, const char *method, const char *path, const char *ctype,
               const void *body, size_t len, const char *action, json_t **out)
{
	char url[2048], auth[1100], ct[128];
	struct mbuf resp = {0};
	struct curl_slist *hdr = NULL;
	if (out)
		*out = NULL;
	if (snprintf(url, sizeof url, "%s%s", m->url, path) >= (int)sizeof url)
		return MEILI_ERR(ARCA_ERR_INTERNAL, "URL too long: %s%s", m->url, path);
	if (m->key) {
		if (snprintf(auth, sizeof auth, "Authorization: Bearer %s", m->key) >=
		    (int)sizeof auth)
			return MEILI_ERR(ARCA_ERR_CONFIG, "the API key of [target %s] is too long",
			                 m->name);
		hdr = curl_slist_append(hdr, auth);
	}
	if (body) {
		snprintf(ct, sizeof ct, "Content-Type: %s", ctype ? ctype : "application/json");
		hdr = curl_slist_append(hdr, ct);
	}
	hdr = curl_slist_append(hdr, "Expect:");
	CURL *c = m->curl;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
	/* a server that accepted but stopped answering: give up after 5 min */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 300L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (m->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, m->ca_file);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, m);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else if (!strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	CURLcode cc = curl_easy_perform(c);
	curl_slist_free_all(hdr);
	explicit_bzero(auth, sizeof auth);
	int rc = ARCA_OK;
	long http = 0;
	if (cc == CURLE_ABORTED_BY_CALLBACK)
		rc = MEILI_ERR(ARCA_ERR_CANCELLED, "interrupted");
	else if (cc == CURLE_WRITE_ERROR)
		rc = MEILI_ERR(ARCA_ERR_IO, "Meilisearch at %s: the answer to %s %s exceeds %u MiB",
		               m->url, method, path, MEILI_MAX_RESPONSE >> 20);
	else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
	         cc == CURLE_SSL_CONNECT_ERROR)
		rc = MEILI_ERR(ARCA_ERR_CONNECT,
		               "cannot reach Meilisearch at %s over TLS: %s; the certificate is "
		               "verified: give its CA with ca_file in [target %s]",
		               m->url, curl_easy_strerror(cc), m->name);
	else if (cc != CURLE_OK)
		rc = MEILI_ERR(ARCA_ERR_CONNECT,
		               "cannot reach Meilisearch at %s (%s %s): %s; is the server running "
		               "and url in [target %s] right?",
		               m->url, method, path, curl_easy_strerror(cc), m->name);
	if (rc == ARCA_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
		if (http < 200 || http > 299)
			rc = api_error(m, http, method, path, action, &resp);
	}
	if (rc == ARCA_OK) {
		/* /health is public: its answer says nothing of the key */
		if (m->key && strcmp(path, "/health"))
			m->key_worked = 1;
		if (out) {
			json_error_t e;
			*out = json_loadb(resp.p ? resp.p : "", resp.len, JSON_DECODE_ANY, &e);
			if (!*out)
				rc = MEILI_ERR(
				    ARCA_ERR_IO,
				    "Meilisearch at %s: the answer to %s %s is not JSON: %s",
				    m->url, method, path, e.text);
		}
	}
	mbuf_free(&resp);
	return rc;
}

int meili_task_uid(json_t *accepted, int64_t *uid)
{
	json_t *v = json_object_get(accepted, "taskUid");
	if (!json_is_integer(v))
		v = json_object_get(accepted, "uid");
	if (!json_is_integer(v))
		return MEILI_ERR(ARCA_ERR_IO, "Meilisearch's answer names no taskUid");
	*uid = json_integer_value(v);
	return ARCA_OK;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int meili_wait_task(struct meili *m, int64_t uid, const char *what, json_t **task)
{
	char path[64];
	snprintf(path, sizeof path, "/tasks/%lld", (long long)uid);
	double start = now_s(), last_log = start;
	long delay_ms = 5;
	for (;;) {
		json_t *t;
		int rc = meili_call(m, "GET", path, NULL, NULL, 0, "tasks.get", &t);
		if (rc != ARCA_OK)
			return rc;
		char st[32];
		snprintf(st, sizeof st, "%s",
		         json_string_value(json_object_get(t, "status"))
		             ? json_string_value(json_object_get(t, "status"))
		             : "?");
		if (!strcmp(st, "succeeded")) {
			if (task)
				*task = t;
			else
				json_decref(t);
			return ARCA_OK;
		}
		if (!strcmp(st, "failed") || !strcmp(st, "canceled")) {
			json_t *e = json_object_get(t, "error");
			const char *msg = json_string_value(json_object_get(e, "message"));
			const char *code = json_string_value(json_object_get(e, "code"));
			rc = MEILI_ERR(ARCA_ERR_IO, "Meilisearch task %lld (%s) %s: %.500s (%s)%s",
			               (long long)uid, what, st, msg ? msg : "no message",
			               code ? code : "no code", meili_way_out(m));
			json_decref(t);
			return rc;
		}
		json_decref(t);
		double now = now_s();
		if (now - start > (double)m->task_timeout)
			return MEILI_ERR(ARCA_ERR_IO,
			                 "Meilisearch task %lld (%s) is still %s after %llds "
			                 "(task_timeout in [target %s]); see GET %s/tasks/%lld",
			                 (long long)uid, what, st, (long long)m->task_timeout,
			                 m->name, m->url, (long long)uid);
		if (now - last_log > 10) {
			MEILI_LOG(ARCA_LOG_INFO, "waiting for task %lld (%s): %s, %.0fs",
			          (long long)uid, what, st, now - start);
			last_log = now;
		}
		if (m->ctx && meili_host->cancelled(m->ctx))
			return MEILI_ERR(ARCA_ERR_CANCELLED, "interrupted");
		struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		if (delay_ms < 500)
			delay_ms *= 2;
	}
}

int meili_server_version(struct meili *m, char *out, size_t cap)
{
	json_t *v;
	int rc = meili_call(m, "GET", "/version", NULL, NULL, 0, "version", &v);
	if (rc != ARCA_OK)
		return rc;
	const char *s = json_string_value(json_object_get(v, "pkgVersion"));
	snprintf(out, cap, "%s", s ? s : "unknown");
	json_decref(v);
	return ARCA_OK;
}
