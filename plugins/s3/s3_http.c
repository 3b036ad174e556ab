/* s3_http.c — one signed S3 request over libcurl (s3.h): URL and Host for
 * path-style or virtual-host addressing, SigV4 headers (every header sent
 * is signed, the payload hash included: no aws-chunked, no trailers),
 * Content-MD5 on every body, TLS verified (ca_file), bounded collected
 * bodies, and S3's errors turned into statuses and messages. Connections are
 * reused through a small pool of curl handles per instance. */
#include <ctype.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3.h"
#include "s3_xml.h"
#include "sigv4.h"

#define BODY_MAX_DEFAULT (1024 * 1024)
/* A transfer slower than 1 byte/s for this long is a timeout (transient). */
#define LOW_SPEED_SEC 60

struct s3_conn {
	CURL *h;
	struct s3_conn *next;
};

int s3_fail_set(struct s3_fail *f, int status, int transient, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof f->msg, fmt, ap);
	va_end(ap);
	f->status = status;
	f->transient = transient;
	return status;
}

int s3_report(struct arca_dest_call *call, const struct s3_fail *f)
{
	if (f->transient && call && call->transient)
		call->transient(call, f->retry_after_ms);
	/* no message: whoever failed (a sink, a source, the credentials) set it */
	return f->msg[0] ? s3_host->error(f->status, "%s", f->msg) : f->status;
}

/* Credentials are read at the first request, not at open: validating a
 * config reads no secret, and a host that gets its key later still starts. */
static int creds_ready(struct s3_inst *s, struct s3_fail *f)
{
	pthread_mutex_lock(&s->creds_mu);
	int rc = s->creds_loaded ? ARCA_OK : s3_creds_load(s->cfg, &s->creds);
	if (rc == ARCA_OK)
		s->creds_loaded = 1;
	pthread_mutex_unlock(&s->creds_mu);
	if (rc != ARCA_OK) {
		f->status = rc;
		f->transient = 0;
		f->msg[0] = '\0';
	}
	return rc;
}

void s3_resp_free(struct s3_resp *r)
{
	free(r->body);
	r->body = NULL;
}

void s3_md5(const void *data, size_t len, char b64[25], char hex[33])
{
	unsigned char md[16];
	unsigned int n = 16;
	EVP_Digest(data, len, md, &n, EVP_md5(), NULL);
	EVP_EncodeBlock((unsigned char *)b64, md, 16);
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* A piece a time: big enough that hashing dominates the calls, small enough
 * to stay in the cache and on the heap (no fresh pages per object). */
#define SRC_PIECE (96u * 1024)

int s3_source_hashes(arca_source_fn src, void *arg, uint64_t off, size_t len, char sha[65],
                     char md5_b64[25], char md5_hex[33])
{
	unsigned char *buf = malloc(SRC_PIECE);
	EVP_MD_CTX *hs = EVP_MD_CTX_new(), *hm = EVP_MD_CTX_new();
	int rc = buf && hs && hm && EVP_DigestInit_ex(hs, EVP_sha256(), NULL) &&
	                 EVP_DigestInit_ex(hm, EVP_md5(), NULL)
	             ? ARCA_OK
	             : ARCA_ERR_INTERNAL;
	for (size_t done = 0; rc == ARCA_OK && done < len;) {
		size_t n = len - done < SRC_PIECE ? len - done : SRC_PIECE;
		rc = src(arg, off + done, buf, n);
		if (rc == ARCA_OK &&
		    (!EVP_DigestUpdate(hs, buf, n) || !EVP_DigestUpdate(hm, buf, n)))
			rc = ARCA_ERR_INTERNAL;
		done += n;
	}
	unsigned char ds[32], dm[16];
	unsigned int ls = 0, lm = 0;
	if (rc == ARCA_OK && (!EVP_DigestFinal_ex(hs, ds, &ls) || !EVP_DigestFinal_ex(hm, dm, &lm)))
		rc = ARCA_ERR_INTERNAL;
	if (rc == ARCA_OK) {
		for (int i = 0; i < 32; i++)
			snprintf(sha + 2 * i, 3, "%02x", ds[i]);
		EVP_EncodeBlock((unsigned char *)md5_b64, dm, 16);
		for (int i = 0; i < 16; i++)
			snprintf(md5_hex + 2 * i, 3, "%02x", dm[i]);
	}
	EVP_MD_CTX_free(hs);
	EVP_MD_CTX_free(hm);
	free(buf);
	return rc;
}

static CURL *conn_get(struct s3_inst *s, struct s3_conn **c)
{
	pthread_mutex_lock(&s->pool_mu);
	*c = s->pool;
	if (*c)
		s->pool = (*c)->next;
	pthread_mutex_unlock(&s->pool_mu);
	if (*c) {
		curl_easy_reset((*c)->h); /* keeps its connections */
		return (*c)->h;
	}
	*c = calloc(1, sizeof **c);
	if (!*c)
		return NULL;
	(*c)->h = curl_easy_init();
	if (!(*c)->h) {
		free(*c);
		*c = NULL;
		return NULL;
	}
	return (*c)->h;
}

static void conn_put(struct s3_inst *s, struct s3_conn *c, int keep)
{
	if (!keep) {
		curl_easy_cleanup(c->h);
		free(c);
		return;
	}
	pthread_mutex_lock(&s->pool_mu);
	c->next = s->pool;
	s->pool = c;
	pthread_mutex_unlock(&s->pool_mu);
}

void s3_pool_free(struct s3_inst *s)
{
	while (s->pool) {
		struct s3_conn *c = s->pool;
		s->pool = c->next;
		curl_easy_cleanup(c->h);
		free(c);
	}
}

struct xfer {
	const struct s3_req *rq;
	struct s3_resp *resp;
	struct arca_dest_call *call;
	size_t sent;
	size_t cap;
	int src_rc; /* the body's source failed: its status */
};

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t want = size * n, left = x->rq->body_len - x->sent;
	if (want > left)
		want = left;
	if (want && x->rq->body_src) {
		int rc =
		    x->rq->body_src(x->rq->body_src_arg, x->rq->body_src_off + x->sent, buf, want);
		if (rc != ARCA_OK) {
			x->src_rc = rc;
			return CURL_READFUNC_ABORT;
		}
	} else if (want) {
		memcpy(buf, (const char *)x->rq->body + x->sent, want);
	}
	x->sent += want;
	return want;
}

/* curl resends a body when a reused connection turned out closed. */
static int on_seek(void *arg, curl_off_t offset, int origin)
{
	struct xfer *x = arg;
	if (origin != SEEK_SET || offset < 0 || (size_t)offset > x->rq->body_len)
		return CURL_SEEKFUNC_FAIL;
	x->sent = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	struct s3_resp *r = x->resp;
	size_t len = size * n;
	if (x->rq->sink && r->status >= 200 && r->status < 300) {
		r->sink_rc = x->rq->sink(x->rq->sink_arg, data, len);
		if (r->sink_rc)
			return 0; /* aborts the transfer */
		r->delivered += len;
		if (x->call && x->call->progress)
			x->call->progress(x->call, len);
		return len;
	}
	size_t max = x->rq->max_body ? x->rq->max_body : BODY_MAX_DEFAULT;
	if (r->body_len + len > max) {
		r->over = 1;
		return 0;
	}
	if (r->body_len + len + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		while (cap < r->body_len + len + 1)
			cap *= 2;
		char *b = realloc(r->body, cap);
		if (!b)
			return 0;
		r->body = b;
		x->cap = cap;
	}
	memcpy(r->body + r->body_len, data, len);
	r->body_len += len;
	r->body[r->body_len] = '\0';
	return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	struct s3_resp *r = x->resp;
	size_t len = size * n;
	char line[512];
	if (len >= sizeof line)
		return len;
	memcpy(line, data, len);
	line[len] = '\0';
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		line[--len] = '\0';
	if (!strncmp(line, "HTTP/", 5)) {
		/* a new response (after 100 Continue or a redirect): start over */
		r->status = strtol(strchr(line, ' ') ? strchr(line, ' ') + 1 : "0", NULL, 10);
		r->etag[0] = '\0';
		r->content_length = -1;
		r->meta_len = 0;
		r->meta[0] = '\0';
		r->tag_count = -1;
		r->sse_etag = 0;
		return size * n;
	}
	char *colon = strchr(line, ':');
	if (!colon)
		return size * n;
	*colon = '\0';
	char *v = colon + 1;
	while (*v == ' ')
		v++;
	if (!strcasecmp(line, "ETag"))
		snprintf(r->etag, sizeof r->etag, "%s", v);
	else if (!strcasecmp(line, "Content-Length"))
		r->content_length = strtoll(v, NULL, 10);
	else if (!strcasecmp(line, "Last-Modified"))
		r->last_modified = (int64_t)curl_getdate(v, NULL);
	else if (!strcasecmp(line, "x-amz-tagging-count") && isdigit((unsigned char)*v))
		r->tag_count = strtoll(v, NULL, 10);
	else if (!strcasecmp(line, "Retry-After") && isdigit((unsigned char)*v))
		r->retry_after_ms = strtoll(v, NULL, 10) * 1000;
	else if ((!strcasecmp(line, "x-amz-server-side-encryption") &&
	          !strncasecmp(v, "aws:kms", 7)) ||
	         !strcasecmp(line, "x-amz-server-side-encryption-customer-algorithm"))
		r->sse_etag = 1;
	if (!strcasecmp(line, "Content-Type") || !strcasecmp(line, "Content-Encoding") ||
	    !strcasecmp(line, "Content-Disposition") || !strcasecmp(line, "Content-Language") ||
	    !strcasecmp(line, "Cache-Control") || !strcasecmp(line, "Expires") ||
	    !strncasecmp(line, "x-amz-meta-", 11) || !strcasecmp(line, "x-amz-storage-class")) {
		size_t need = strlen(line) + strlen(v) + 3;
		if (r->meta_len + need >= sizeof r->meta) {
			r->meta_over = 1;
		} else {
			for (char *p = line; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			r->meta_len +=
			    (size_t)snprintf(r->meta + r->meta_len, sizeof r->meta - r->meta_len,
			                     "%s: %s\n", line, v);
		}
	}
	return size * n;
}

static int progress_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	struct xfer *x = arg;
	return x->call && x->call->cancelled && x->call->cancelled(x->call);
}

/* The decoded path ("/bucket/key" or "/key") and the URL. */
static int make_url(const struct s3_inst *s, const struct s3_req *rq, char **path, char **url)
{
	const char *key = rq->key ? rq->key : "";
	size_t n = strlen(s->base_path) + strlen(key) + 2;
	*path = malloc(n);
	if (!*path)
		return -1;
	snprintf(*path, n, "%s/%s", s->base_path, key);
	char *enc = sigv4_uri_encode(*path, 1);
	size_t qn = 1;
	for (size_t i = 0; i < rq->n_query; i++)
		qn += 3 * (strlen(rq->query[2 * i]) + strlen(rq->query[2 * i + 1])) + 2;
	char *q = malloc(qn), *o = q;
	if (!enc || !q) {
		free(enc);
		free(q);
		return -1;
	}
	*o = '\0';
	for (size_t i = 0; i < rq->n_query; i++) {
		char *k = sigv4_uri_encode(rq->query[2 * i], 0);
		char *v = sigv4_uri_encode(rq->query[2 * i + 1], 0);
		if (k && v)
			o += sprintf(o, "%s%s%s%s", i ? "&" : "?", k,
			             *rq->query[2 * i + 1] ? "=" : "", v);
		free(k);
		free(v);
	}
	size_t un = strlen(s->scheme_host) + strlen(enc) + strlen(q) + 1;
	*url = malloc(un);
	if (*url)
		snprintf(*url, un, "%s%s%s", s->scheme_host, enc, q);
	free(enc);
	free(q);
	return *url ? 0 : -1;
}

/* Transport failures worth another try. */
static int curl_transient(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SEND_FAIL_REWIND:
		return 1;
	default:
		return 0;
	}
}

int s3_request(struct s3_inst *s, struct arca_dest_call *call, const struct s3_req *rq,
               struct s3_resp *resp, struct s3_fail *f)
{
	memset(resp, 0, sizeof *resp);
	resp->content_length = -1;
	resp->tag_count = -1;
	if (creds_ready(s, f) != ARCA_OK)
		return f->status;
	char *path = NULL, *url = NULL;
	if (make_url(s, rq, &path, &url)) {
		free(path);
		return s3_fail_set(f, ARCA_ERR_INTERNAL, 0, "s3: out of memory");
	}
	/* the body's hashes: SHA-256 signed, MD5 checked by the server */
	char sha[65], md5b64[25], md5hex[33];
	const void *body = rq->body ? rq->body : "";
	int has_body = !strcmp(rq->method, "PUT") || !strcmp(rq->method, "POST");
	if (rq->body_src && (!rq->body_sha256 || !rq->body_md5_b64 || strcmp(rq->method, "PUT"))) {
		free(path);
		free(url);
		return s3_fail_set(f, ARCA_ERR_INTERNAL, 0, "s3: a source body without its hashes");
	}
	if (rq->body_sha256)
		snprintf(sha, sizeof sha, "%s", rq->body_sha256);
	else
		sigv4_sha256_hex(body, rq->body_len, sha);
	if (has_body && !rq->body_md5_b64)
		s3_md5(body, rq->body_len, md5b64, md5hex);
	char date[20];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &tm);

	struct sigv4_header h[S3_MAX_EXTRA + 6];
	size_t nh = 0;
	h[nh++] = (struct sigv4_header){"host", s->host};
	h[nh++] = (struct sigv4_header){"x-amz-date", date};
	h[nh++] = (struct sigv4_header){"x-amz-content-sha256", sha};
	if (s->creds.token)
		h[nh++] = (struct sigv4_header){"x-amz-security-token", s->creds.token};
	if (has_body)
		h[nh++] = (struct sigv4_header){"content-md5",
		                                rq->body_md5_b64 ? rq->body_md5_b64 : md5b64};
	for (size_t i = 0; i < rq->n_extra; i++)
		h[nh++] = (struct sigv4_header){rq->extra[i][0], rq->extra[i][1]};
	struct sigv4_req sr = {.method = rq->method,
	                       .path = path,
	                       .query = rq->query,
	                       .n_query = rq->n_query,
	                       .headers = h,
	                       .n_headers = nh,
	                       .payload_sha256 = sha,
	                       .amz_date = date,
	                       .region = s->region,
	                       .service = "s3",
	                       .access_key = s->creds.access_key,
	                       .secret_key = s->creds.secret_key};
	char *authz = sigv4_authorization(&sr, NULL, NULL);
	free(path);
	struct curl_slist *hl = NULL;
	char line[2048];
	int oom = !authz;
	for (size_t i = 1; i < nh && !oom; i++) { /* curl sends Host itself */
		snprintf(line, sizeof line, "%s: %s", h[i].name, h[i].value);
		struct curl_slist *t = curl_slist_append(hl, line);
		oom = !t;
		hl = t ? t : hl;
	}
	if (!oom) {
		snprintf(line, sizeof line, "Authorization: %s", authz);
		struct curl_slist *t = curl_slist_append(hl, line);
		oom = !t;
		hl = t ? t : hl;
		/* no "Expect: 100-continue" round trip; no default content type */
		hl = curl_slist_append(hl, "Expect:");
		if (has_body && !rq->n_extra)
			hl = curl_slist_append(hl, "Content-Type:");
	}
	free(authz);
	struct s3_conn *conn = NULL;
	CURL *c = oom ? NULL : conn_get(s, &conn);
	if (!c) {
		curl_slist_free_all(hl);
		free(url);
		return s3_fail_set(f, ARCA_ERR_INTERNAL, 0, "s3: out of memory");
	}
	struct xfer x = {.rq = rq, .resp = resp, .call = call};
	curl_easy_setopt(c, CURLOPT_URL, url);
	/* keys "..", "." and "a/./b" are names, not dot-segments to resolve */
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* Object bodies move in 256 KiB reads and sends, not curl's 16 and 64
	 * KiB: a GiB of objects is ~4,000 recv calls, not ~65,000. (Set per
	 * request: curl_easy_reset puts the defaults back.) */
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 256L * 1024);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, s->connect_timeout);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)LOW_SPEED_SEC);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (s->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	if (!strcmp(rq->method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(rq->method, "PUT")) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &x);
		curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(c, CURLOPT_SEEKDATA, &x);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
	} else if (!strcmp(rq->method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
	} else if (strcmp(rq->method, "GET")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_slist_free_all(hl);
	conn_put(s, conn, cc == CURLE_OK);
	int rc = ARCA_OK;
	if (cc == CURLE_WRITE_ERROR && resp->sink_rc) {
		rc = resp->sink_rc; /* the sink's own value, its own message */
		f->status = rc;
		f->msg[0] = '\0';
	} else if (cc == CURLE_WRITE_ERROR && resp->over) {
		rc = s3_fail_set(f, ARCA_ERR_CORRUPT, 0,
		                 "s3 %s: the answer to %s %s is larger than %zu bytes (not an S3 "
		                 "server?)",
		                 s->scheme_host, rq->method, url,
		                 rq->max_body ? rq->max_body : BODY_MAX_DEFAULT);
	} else if (cc == CURLE_ABORTED_BY_CALLBACK && x.src_rc) {
		rc = x.src_rc; /* the source's status; its message (its thread) or the caller's */
		f->status = rc;
		f->msg[0] = '\0';
	} else if (cc == CURLE_ABORTED_BY_CALLBACK) {
		rc = s3_fail_set(f, ARCA_ERR_CANCELLED, 0, "s3: interrupted");
	} else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
	           cc == CURLE_SSL_CONNECT_ERROR) {
		rc = s3_fail_set(f, ARCA_ERR_CONNECT, cc == CURLE_SSL_CONNECT_ERROR,
		                 "s3 %s: TLS: %s; the server's certificate is not trusted: give "
		                 "the CA that signed it in ca_file, or fix the endpoint's name",
		                 s->scheme_host, errbuf[0] ? errbuf : curl_easy_strerror(cc));
	} else if (cc != CURLE_OK) {
		rc = s3_fail_set(f, ARCA_ERR_CONNECT, curl_transient(cc), "s3 %s: %s %s: %s",
		                 s->scheme_host, rq->method, rq->key ? rq->key : "(bucket)",
		                 errbuf[0] ? errbuf : curl_easy_strerror(cc));
		if (cc != CURLE_COULDNT_CONNECT && cc != CURLE_COULDNT_RESOLVE_HOST)
			f->status = rc = ARCA_ERR_IO;
	}
	f->retry_after_ms = resp->retry_after_ms;
	free(url);
	return rc;
}

int s3_http_error(struct s3_inst *s, const struct s3_resp *r, const char *what, struct s3_fail *f)
{
	const char *b = r->body ? r->body : "", *e = b + r->body_len;
	char *code = s3_xml_text(b, e, "Code"), *msg = s3_xml_text(b, e, "Message");
	char *region = s3_xml_text(b, e, "Region");
	const char *cd = code ? code : "", *m = msg ? msg : "";
	int transient = r->status >= 500 || r->status == 429 || r->status == 408 ||
	                !strcmp(cd, "SlowDown") || !strcmp(cd, "RequestTimeout") ||
	                !strcmp(cd, "InternalError");
	f->retry_after_ms = r->retry_after_ms;
	if (!strcmp(cd, "InvalidAccessKeyId"))
		s3_fail_set(f, ARCA_ERR_AUTH, 0,
		            "s3 %s: %s: the server does not know access key id %s (from %s): set "
		            "access_key_id to a key of this server",
		            s->scheme_host, what, s->creds.access_key, s->creds.source);
	else if (!strcmp(cd, "SignatureDoesNotMatch"))
		s3_fail_set(f, ARCA_ERR_AUTH, 0,
		            "s3 %s: %s: the signature does not match: the secret access key (from "
		            "%s) is wrong for access key id %s",
		            s->scheme_host, what, s->creds.source, s->creds.access_key);
	else if (!strcmp(cd, "RequestTimeTooSkewed"))
		s3_fail_set(f, ARCA_ERR_CONNECT, 0,
		            "s3 %s: %s: the server refuses requests from this host because its "
		            "clock is off by more than 15 minutes: set the clock (NTP) and retry",
		            s->scheme_host, what);
	else if (!strcmp(cd, "AuthorizationHeaderMalformed") || !strcmp(cd, "PermanentRedirect") ||
	         !strcmp(cd, "IllegalLocationConstraintException") || r->status == 301)
		s3_fail_set(f, ARCA_ERR_CONFIG, 0,
		            "s3 %s: %s: bucket %s is not in region %s%s%s: set region = %s in "
		            "section [%s]",
		            s->scheme_host, what, s->bucket, s->region,
		            region ? "; the server says " : "", region ? region : "",
		            region ? region : "THE-BUCKET'S-REGION", s->section);
	else if (!strcmp(cd, "NoSuchBucket"))
		s3_fail_set(f, ARCA_ERR_NOT_FOUND, 0,
		            "s3 %s: %s: bucket %s does not exist: create it (arca does not create "
		            "buckets) or fix bucket = in section [%s]",
		            s->scheme_host, what, s->bucket, s->section);
	else if (r->status == 403 && (f->denied = 1))
		s3_fail_set(f, ARCA_ERR_AUTH, 0,
		            "s3 %s: %s: access denied (%s%s%s) for access key id %s: grant it "
		            "s3:GetObject, PutObject, DeleteObject and ListBucket on %s",
		            s->scheme_host, what, cd[0] ? cd : "403", m[0] ? ": " : "", m,
		            s->creds.access_key, s->bucket);
	else if (r->status == 404)
		s3_fail_set(f, ARCA_ERR_NOT_FOUND, 0, "s3 %s: %s: not found", s->scheme_host, what);
	else if (r->status == 412)
		s3_fail_set(f, ARCA_ERR_EXISTS, 0, "s3 %s: %s: the object exists", s->scheme_host,
		            what);
	else if (r->status == 507 || !strcmp(cd, "QuotaExceeded"))
		s3_fail_set(f, ARCA_ERR_NOSPACE, 0, "s3 %s: %s: no space (%s)", s->scheme_host,
		            what, m);
	else
		s3_fail_set(f, ARCA_ERR_IO, transient, "s3 %s: %s: HTTP %ld%s%s%s%s",
		            s->scheme_host, what, r->status, cd[0] ? " " : "", cd, m[0] ? ": " : "",
		            m);
	free(code);
	free(msg);
	free(region);
	return f->status;
}
