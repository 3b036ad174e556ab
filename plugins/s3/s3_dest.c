/* s3_dest.c — the destination ops on S3 (s3.h): objects are keys under the
 * configured prefix. Every PUT carries Content-MD5 and its signed SHA-256;
 * the ETag the server answers must be the MD5 we sent (single PUT, each
 * part) and a completed multipart object must have the size we sent, or
 * the put fails (and is retried by the engine). Objects larger than
 * part_size go up in parts of exactly part_size (the last one smaller),
 * `parallel_parts` at a time. */
#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3.h"
#include "s3_xml.h"
#include "sigv4.h"

/* A listing page or an error is small; more is not S3 talking. */
#define LIST_BODY_MAX (16 * 1024 * 1024)

static char *full_key(const struct s3_inst *s, const char *name)
{
	size_t n = strlen(s->prefix) + strlen(name) + 1;
	char *k = malloc(n);
	if (k)
		snprintf(k, n, "%s%s", s->prefix, name);
	return k;
}

/* The ETag is "<hex md5>" for a single PUT or part (quotes optional). */
static int etag_is(const char *etag, const char *hex)
{
	const char *e = etag[0] == '"' ? etag + 1 : etag;
	return !strncmp(e, hex, 32) && (e[32] == '\0' || e[32] == '"');
}

/* One request answered 2xx, else a failure in f. */
static int req_ok(struct s3_inst *s, struct arca_dest_call *call, const struct s3_req *rq,
                  struct s3_resp *resp, const char *what, struct s3_fail *f)
{
	int rc = s3_request(s, call, rq, resp, f);
	if (rc != ARCA_OK)
		return rc;
	if (resp->status < 200 || resp->status >= 300)
		return s3_http_error(s, resp, what, f);
	return ARCA_OK;
}

/* Add the encryption asked for (sse =), if-none-match and the caller's
 * headers to rq (a PUT or the start of a multipart upload). */
static void add_headers(const struct s3_inst *s, struct s3_req *rq, int if_none_match,
                        const char *const (*hdrs)[2], size_t nh)
{
	if (s->sse) {
		rq->extra[rq->n_extra][0] = "x-amz-server-side-encryption";
		rq->extra[rq->n_extra++][1] = s->sse;
	}
	if (s->sse && s->sse_kms_key) {
		rq->extra[rq->n_extra][0] = "x-amz-server-side-encryption-aws-kms-key-id";
		rq->extra[rq->n_extra++][1] = s->sse_kms_key;
	}
	if (if_none_match) {
		rq->extra[rq->n_extra][0] = "if-none-match";
		rq->extra[rq->n_extra++][1] = "*";
	}
	for (size_t i = 0; i < nh && rq->n_extra < S3_MAX_EXTRA; i++) {
		rq->extra[rq->n_extra][0] = hdrs[i][0];
		rq->extra[rq->n_extra++][1] = hdrs[i][1];
	}
}

/* A PUT body: bytes in memory, or `len` bytes of a source at `off` read as
 * curl sends them (hashed first in a pass of their own). */
struct body {
	const void *data;
	arca_source_fn src;
	void *arg;
	uint64_t off;
	size_t len;
};

/* Point rq at b with its Content-MD5 (b64) and, for a source, its SHA-256;
 * hex: the MD5 the ETag must be. */
static int body_set(struct s3_req *rq, const struct body *b, char b64[25], char hex[33],
                    char sha[65], const char *what, struct s3_fail *f)
{
	rq->body_len = b->len;
	rq->body_md5_b64 = b64;
	if (!b->src) {
		rq->body = b->data;
		s3_md5(b->data, b->len, b64, hex);
		return ARCA_OK;
	}
	int rc = s3_source_hashes(b->src, b->arg, b->off, b->len, sha, b64, hex);
	if (rc == ARCA_ERR_INTERNAL)
		return s3_fail_set(f, rc, 0, "s3: %s: hashing the body failed (libcrypto)", what);
	if (rc != ARCA_OK) /* the source's failure, its message */
		return f->status = rc, f->msg[0] = '\0', rc;
	rq->body_src = b->src;
	rq->body_src_arg = b->arg;
	rq->body_src_off = b->off;
	rq->body_sha256 = sha;
	return ARCA_OK;
}

/* A single PUT. The ETag must be the MD5 of what was sent, except where the
 * server encrypts with KMS or a customer key (its ETag is no MD5 there):
 * then the server's check of our Content-MD5 stands for it. */
static int put_single_h(struct s3_inst *s, struct arca_dest_call *call, const char *key,
                        const struct body *b, int if_none_match, const char *const (*hdrs)[2],
                        size_t nh, struct s3_fail *f)
{
	char b64[25], hex[33], sha[65], what[600];
	snprintf(what, sizeof what, "writing %s", key);
	struct s3_req rq = {.method = "PUT", .key = key};
	int rc = body_set(&rq, b, b64, hex, sha, what, f);
	if (rc != ARCA_OK)
		return rc;
	add_headers(s, &rq, if_none_match, hdrs, nh);
	struct s3_resp resp;
	rc = req_ok(s, call, &rq, &resp, what, f);
	if (rc == ARCA_OK && !resp.sse_etag && !etag_is(resp.etag, hex))
		rc = s3_fail_set(
		    f, ARCA_ERR_IO, 1,
		    "s3 %s: writing %s: the server answered ETag %s, not the MD5 %s of "
		    "the %zu bytes sent: it did not store them as sent",
		    s->scheme_host, key, resp.etag[0] ? resp.etag : "(none)", hex, b->len);
	s3_resp_free(&resp);
	return rc;
}

static int put_single(struct s3_inst *s, struct arca_dest_call *call, const char *key,
                      const void *data, size_t len, int if_none_match, struct s3_fail *f)
{
	struct body b = {.data = data, .len = len};
	return put_single_h(s, call, key, &b, if_none_match, NULL, 0, f);
}

/* Without a conditional create the server honours: look first (not atomic;
 * README.md, "Locks and exclusive writes"). */
static int absent_first(struct s3_inst *s, struct arca_dest_call *call, const char *key,
                        struct s3_fail *f)
{
	struct s3_req rq = {.method = "HEAD", .key = key};
	struct s3_resp resp;
	char what[600];
	snprintf(what, sizeof what, "looking at %s", key);
	/* A transient failure of the HEAD (s3rver answers 500 to a HEAD that
	 * meets a PUT of the same key) is marked so by req_ok and reported
	 * through the call: the engine's retry policy tries the put again. */
	int rc = req_ok(s, call, &rq, &resp, what, f);
	s3_resp_free(&resp);
	if (rc == ARCA_OK)
		return s3_fail_set(f, ARCA_ERR_EXISTS, 0, "s3 %s: object %s already exists",
		                   s->scheme_host, key);
	return rc == ARCA_ERR_NOT_FOUND ? ARCA_OK : rc;
}

/* ---- multipart ---- */

struct mp {
	struct s3_inst *s;
	struct arca_dest_call *call;
	const char *key, *upload_id;
	uint64_t size;
	arca_source_fn source;
	void *arg;
	int reread; /* parts are read from the source as sent: no part buffer */
	uint64_t nparts;
	pthread_mutex_t mu;
	uint64_t next;     /* next part to send (0-based) */
	char (*etags)[40]; /* each part's MD5 (hex), or the server's ETag under KMS */
	int failed;
	struct s3_fail f;
};

static void mp_fail(struct mp *m, const struct s3_fail *f)
{
	pthread_mutex_lock(&m->mu);
	if (!m->failed) {
		m->failed = 1;
		m->f = *f;
	}
	pthread_mutex_unlock(&m->mu);
}

/* A part's ETag from a server that encrypts with KMS or a customer key
 * (not an MD5; it checked our Content-MD5): kept for the completion, which
 * must name it. Only [0-9A-Za-z-], as it goes into XML. */
static int server_etag(struct s3_inst *s, const struct s3_resp *resp, const char *what,
                       char out[40], struct s3_fail *f)
{
	const char *e = resp->etag[0] == '"' ? resp->etag + 1 : resp->etag;
	size_t n = strcspn(e, "\"");
	size_t ok = 0;
	while (ok < n && (isalnum((unsigned char)e[ok]) || e[ok] == '-'))
		ok++;
	if (!n || n >= 40 || ok != n)
		return s3_fail_set(f, ARCA_ERR_IO, 1, "s3 %s: %s: the server answered ETag \"%s\"",
		                   s->scheme_host, what, resp->etag);
	memcpy(out, e, n);
	out[n] = '\0';
	return ARCA_OK;
}

static void *mp_worker(void *arg)
{
	struct mp *m = arg;
	unsigned char *buf = m->reread ? NULL : malloc(m->s->part_size);
	struct s3_fail f = {0};
	if (!buf && !m->reread) {
		s3_fail_set(&f, ARCA_ERR_INTERNAL, 0, "s3: out of memory for a part");
		mp_fail(m, &f);
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&m->mu);
		uint64_t i = m->failed ? m->nparts : m->next++;
		pthread_mutex_unlock(&m->mu);
		if (i >= m->nparts)
			break;
		uint64_t off = i * m->s->part_size;
		size_t len =
		    (size_t)(m->size - off < m->s->part_size ? m->size - off : m->s->part_size);
		struct body b = {.src = m->source, .arg = m->arg, .off = off, .len = len};
		int rc = ARCA_OK;
		if (buf) {
			rc = m->source(m->arg, off, buf, len);
			b = (struct body){.data = buf, .len = len};
		}
		char b64[25], sha[65], num[24], what[600];
		snprintf(num, sizeof num, "%" PRIu64, i + 1);
		snprintf(what, sizeof what, "writing part %s of %s", num, m->key);
		const char *q[] = {"partNumber", num, "uploadId", m->upload_id};
		struct s3_req rq = {.method = "PUT", .key = m->key, .query = q, .n_query = 2};
		if (rc == ARCA_OK)
			rc = body_set(&rq, &b, b64, m->etags[i], sha, what, &f);
		if (rc != ARCA_OK) {
			/* a message the source set stays on this thread: say what failed */
			if (!f.msg[0])
				s3_fail_set(&f, rc, 0,
				            "s3: writing %s: reading part %" PRIu64
				            " of the object failed (status %d)",
				            m->key, i + 1, rc);
			mp_fail(m, &f);
			break;
		}
		struct s3_resp resp;
		rc = req_ok(m->s, m->call, &rq, &resp, what, &f);
		if (rc != ARCA_OK && !f.msg[0])
			s3_fail_set(&f, rc, 0,
			            "s3: writing %s: reading part %" PRIu64 " of the object failed "
			            "(status %d)",
			            m->key, i + 1, rc);
		if (rc == ARCA_OK && resp.sse_etag)
			rc = server_etag(m->s, &resp, what, m->etags[i], &f);
		else if (rc == ARCA_OK && !etag_is(resp.etag, m->etags[i]))
			rc = s3_fail_set(
			    &f, ARCA_ERR_IO, 1,
			    "s3 %s: %s: the server answered ETag %s, not the MD5 %s of the "
			    "part sent",
			    m->s->scheme_host, what, resp.etag, m->etags[i]);
		s3_resp_free(&resp);
		if (rc != ARCA_OK) {
			mp_fail(m, &f);
			break;
		}
	}
	free(buf);
	return NULL;
}

static void mp_abort(struct s3_inst *s, const char *key, const char *upload_id)
{
	const char *q[] = {"uploadId", upload_id};
	struct s3_req rq = {.method = "DELETE", .key = key, .query = q, .n_query = 1};
	struct s3_resp resp;
	struct s3_fail f;
	if (s3_request(s, NULL, &rq, &resp, &f) == ARCA_OK && resp.status >= 300)
		s3_host->log(ARCA_LOG_WARN,
		             "s3 %s: could not abort the unfinished upload of %s (HTTP %ld); a "
		             "lifecycle rule AbortIncompleteMultipartUpload cleans such uploads",
		             s->scheme_host, key, resp.status);
	s3_resp_free(&resp);
}

static int put_multipart(struct s3_inst *s, struct arca_dest_call *call, const char *key,
                         uint64_t size, arca_source_fn source, void *arg, int if_none_match,
                         const char *const (*hdrs)[2], size_t nh, unsigned how, struct s3_fail *f)
{
	int sequential = (how & S3_PUT_SEQUENTIAL) != 0;
	char what[600];
	const char *q[] = {"uploads", ""};
	struct s3_req rq = {.method = "POST", .key = key, .query = q, .n_query = 1};
	add_headers(s, &rq, 0, hdrs, nh);
	struct s3_resp resp;
	snprintf(what, sizeof what, "starting the upload of %s", key);
	int rc = req_ok(s, call, &rq, &resp, what, f);
	char *upload_id = rc == ARCA_OK && resp.body
	                      ? s3_xml_text(resp.body, resp.body + resp.body_len, "UploadId")
	                      : NULL;
	s3_resp_free(&resp);
	if (rc != ARCA_OK)
		return rc;
	if (!upload_id || !*upload_id) {
		free(upload_id);
		return s3_fail_set(f, ARCA_ERR_IO, 1, "s3 %s: %s: no UploadId in the answer",
		                   s->scheme_host, what);
	}
	struct mp m = {.s = s,
	               .call = call,
	               .key = key,
	               .upload_id = upload_id,
	               .size = size,
	               .source = source,
	               .arg = arg,
	               .reread = (how & S3_PUT_REREAD) != 0,
	               .nparts = (size + s->part_size - 1) / s->part_size};
	pthread_mutex_init(&m.mu, NULL);
	m.etags = calloc(m.nparts, sizeof *m.etags);
	int nth = sequential ? 1 : s->parallel < (int)m.nparts ? s->parallel : (int)m.nparts;
	pthread_t th[64];
	int started = 0;
	if (!m.etags) {
		s3_fail_set(&m.f, ARCA_ERR_INTERNAL, 0, "s3: out of memory");
		m.failed = 1;
	}
	for (int i = 0; !m.failed && i < nth; i++)
		if (pthread_create(&th[i], NULL, mp_worker, &m) == 0)
			started++;
	if (!started && !m.failed)
		mp_worker(&m); /* no threads: in this one */
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	rc = m.failed ? m.f.status : ARCA_OK;
	if (m.failed)
		*f = m.f;
	/* complete: the parts in order, with the ETags we expect */
	char *xml = NULL;
	if (rc == ARCA_OK) {
		size_t cap = 64 + m.nparts * 96;
		xml = malloc(cap);
		if (!xml) {
			rc = s3_fail_set(f, ARCA_ERR_INTERNAL, 0, "s3: out of memory");
		} else {
			size_t o = (size_t)snprintf(xml, cap, "<CompleteMultipartUpload>");
			for (uint64_t i = 0; i < m.nparts; i++)
				o += (size_t)snprintf(xml + o, cap - o,
				                      "<Part><PartNumber>%" PRIu64
				                      "</PartNumber><ETag>\"%s\"</ETag></Part>",
				                      i + 1, m.etags[i]);
			o += (size_t)snprintf(xml + o, cap - o, "</CompleteMultipartUpload>");
			const char *cq[] = {"uploadId", upload_id};
			struct s3_req c = {.method = "POST",
			                   .key = key,
			                   .query = cq,
			                   .n_query = 1,
			                   .body = xml,
			                   .body_len = o};
			if (if_none_match) {
				c.extra[0][0] = "if-none-match";
				c.extra[0][1] = "*";
				c.n_extra = 1;
			}
			snprintf(what, sizeof what, "completing the upload of %s", key);
			rc = req_ok(s, call, &c, &resp, what, f);
			/* S3 may answer 200 with an <Error> body here */
			if (rc == ARCA_OK && resp.body &&
			    s3_xml_find(resp.body, resp.body + resp.body_len, "Error",
			                &(const char *){0}, &(const char *){0}) == 0) {
				resp.status = 500;
				rc = s3_http_error(s, &resp, what, f);
			}
			s3_resp_free(&resp);
		}
	}
	if (rc != ARCA_OK)
		mp_abort(s, key, upload_id);
	/* what the server says it stored */
	if (rc == ARCA_OK) {
		struct s3_req h = {.method = "HEAD", .key = key};
		snprintf(what, sizeof what, "checking the upload of %s", key);
		rc = req_ok(s, call, &h, &resp, what, f);
		if (rc == ARCA_OK && (uint64_t)resp.content_length != size)
			rc = s3_fail_set(f, ARCA_ERR_IO, 1,
			                 "s3 %s: %s was stored with %" PRId64
			                 " bytes, not the %" PRIu64 " sent",
			                 s->scheme_host, key, resp.content_length, size);
		s3_resp_free(&resp);
	}
	free(xml);
	free(m.etags);
	free(upload_id);
	pthread_mutex_destroy(&m.mu);
	return rc;
}

static int mem_read(void *arg, uint64_t off, void *buf, size_t len)
{
	memcpy(buf, (const unsigned char *)arg + off, len);
	return ARCA_OK;
}

int s3_put_object(struct s3_inst *s, struct arca_dest_call *call, const char *key, const void *data,
                  uint64_t size, arca_source_fn source, void *arg, int if_none_match,
                  const char *const (*hdrs)[2], size_t nh, unsigned how, struct s3_fail *f)
{
	if (data) { /* memory: read in place, as often as needed */
		source = mem_read;
		arg = (void *)(uintptr_t)data;
		how |= S3_PUT_REREAD;
	}
	int reread = (how & S3_PUT_REREAD) != 0;
	/* One PUT is one write for the server; parts are written, then copied
	 * into the object. Where the body need not be held in memory (a source
	 * read as sent) up to multipart_threshold goes in one PUT. */
	if (size > (reread ? s->mp_threshold : s->part_size))
		return put_multipart(s, call, key, size, source, arg, if_none_match, hdrs, nh, how,
		                     f);
	struct body b = {.src = source, .arg = arg, .len = (size_t)size};
	if (data)
		b = (struct body){.data = data, .len = (size_t)size};
	void *buf = NULL;
	int rc = ARCA_OK;
	if (!reread) { /* read once, into memory (at most part_size) */
		buf = malloc(size ? (size_t)size : 1);
		if (!buf)
			return s3_fail_set(f, ARCA_ERR_INTERNAL, 0, "s3: out of memory");
		if ((rc = source(arg, 0, buf, (size_t)size)) != ARCA_OK)
			f->status = rc, f->msg[0] = '\0';
		b = (struct body){.data = buf, .len = (size_t)size};
	}
	if (rc == ARCA_OK)
		rc = put_single_h(s, call, key, &b, if_none_match, hdrs, nh, f);
	free(buf);
	return rc;
}

/* put of data (memory) or of a source: single PUT up to part_size. */
static int put_any(struct s3_inst *s, struct arca_dest_call *call, const char *name,
                   const void *data, uint64_t size, arca_source_fn source, void *arg,
                   unsigned flags)
{
	struct s3_fail f = {0};
	char *key = full_key(s, name);
	if (!key)
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	int excl = (flags & ARCA_PUT_EXCLUSIVE) != 0, cond = excl && atomic_load(&s->cond_create);
	int rc = excl && !cond ? absent_first(s, call, key, &f) : ARCA_OK;
	if (rc == ARCA_OK)
		/* the engine's sources may be read again (plugin.h) */
		rc = s3_put_object(s, call, key, data, size, source, arg, cond, NULL, 0,
		                   S3_PUT_REREAD, &f);
	free(key);
	if (rc == ARCA_OK)
		return rc;
	if (!f.msg[0]) /* a source's or a sink's own failure: its message stands */
		return rc;
	return s3_report(call, &f);
}

int s3_put_call(void *instance, struct arca_dest_call *call, const char *name, const void *data,
                size_t len, unsigned flags, const char *if_version)
{
	if (if_version)
		return s3_host->error(ARCA_ERR_UNSUPPORTED,
		                      "s3: conditional replace is not offered by this driver");
	return put_any(instance, call, name, data, len, NULL, NULL, flags);
}

int s3_put_stream(void *instance, struct arca_dest_call *call, const char *name, uint64_t size,
                  arca_source_fn source, void *arg, unsigned flags)
{
	return put_any(instance, call, name, NULL, size, source, arg, flags);
}

/* ---- get, stat, remove, list ---- */

struct counted {
	arca_sink_fn sink;
	void *arg;
};

int s3_get_call(void *instance, struct arca_dest_call *call, const char *name, uint64_t offset,
                uint64_t length, arca_sink_fn sink, void *arg)
{
	struct s3_inst *s = instance;
	struct s3_fail f = {0};
	char *key = full_key(s, name), range[64], what[600];
	if (!key)
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	if (length == 0)
		length = 0; /* an empty range: still check the object is there */
	struct s3_req rq = {.method = "GET", .key = key, .sink = sink, .sink_arg = arg};
	int ranged = offset > 0 || length != UINT64_MAX;
	if (ranged && length == 0) {
		rq.method = "HEAD";
		rq.sink = NULL;
	} else if (ranged) {
		if (length == UINT64_MAX)
			snprintf(range, sizeof range, "bytes=%" PRIu64 "-", offset);
		else
			snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, offset,
			         offset + length - 1);
		rq.extra[0][0] = "range";
		rq.extra[0][1] = range;
		rq.n_extra = 1;
	}
	snprintf(what, sizeof what, "reading %s", key);
	struct s3_resp resp;
	int rc = s3_request(s, call, &rq, &resp, &f);
	if (rc == ARCA_OK && resp.status == 416)
		rc = s3_fail_set(&f, ARCA_ERR_CORRUPT, 0,
		                 "s3 %s: %s: bytes from %" PRIu64 " were asked, but the object is "
		                 "shorter: it is truncated",
		                 s->scheme_host, what, offset);
	else if (rc == ARCA_OK && (resp.status < 200 || resp.status >= 300))
		rc = s3_http_error(s, &resp, what, &f);
	else if (rc == ARCA_OK && ranged && length && resp.status != 206)
		rc = s3_fail_set(&f, ARCA_ERR_IO, 0,
		                 "s3 %s: %s: the server ignored the byte range (HTTP %ld)",
		                 s->scheme_host, what, resp.status);
	else if (rc == ARCA_OK && length != UINT64_MAX && length && resp.delivered != length)
		rc = s3_fail_set(&f, ARCA_ERR_CORRUPT, 0,
		                 "s3 %s: %s: %" PRIu64 " bytes were asked at offset %" PRIu64
		                 ", %" PRIu64 " came: the object is truncated",
		                 s->scheme_host, what, length, offset, resp.delivered);
	else if (rc == ARCA_OK && resp.content_length >= 0 && rq.sink &&
	         resp.delivered != (uint64_t)resp.content_length)
		rc = s3_fail_set(&f, ARCA_ERR_IO, 1, "s3 %s: %s: the answer was cut short",
		                 s->scheme_host, what);
	s3_resp_free(&resp);
	free(key);
	if (rc == ARCA_OK || !f.msg[0])
		return rc;
	return s3_report(call, &f);
}

int s3_stat_call(void *instance, struct arca_dest_call *call, const char *name,
                 struct arca_dest_stat *st)
{
	struct s3_inst *s = instance;
	struct s3_fail f = {0};
	char *key = full_key(s, name), what[600];
	if (!key)
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	struct s3_req rq = {.method = "HEAD", .key = key};
	struct s3_resp resp;
	snprintf(what, sizeof what, "looking at %s", key);
	int rc = req_ok(s, call, &rq, &resp, what, &f);
	if (rc == ARCA_OK && resp.content_length < 0)
		rc = s3_fail_set(&f, ARCA_ERR_IO, 1, "s3 %s: %s: no Content-Length", s->scheme_host,
		                 what);
	if (rc == ARCA_OK) {
		if (st->struct_size >= offsetof(struct arca_dest_stat, size) + sizeof st->size)
			st->size = (uint64_t)resp.content_length;
		if (st->struct_size >= offsetof(struct arca_dest_stat, mtime_sec) + 8)
			st->mtime_sec = resp.last_modified;
		if (st->struct_size >=
		    offsetof(struct arca_dest_stat, version) + sizeof st->version)
			snprintf(st->version, sizeof st->version, "%s", resp.etag);
	}
	s3_resp_free(&resp);
	free(key);
	return rc == ARCA_OK ? rc : s3_report(call, &f);
}

static int remove_one(struct s3_inst *s, struct arca_dest_call *call, const char *name,
                      struct s3_fail *f)
{
	char *key = full_key(s, name), what[600];
	if (!key)
		return s3_fail_set(f, ARCA_ERR_INTERNAL, 0, "s3: out of memory");
	struct s3_req rq = {.method = "DELETE", .key = key};
	struct s3_resp resp;
	snprintf(what, sizeof what, "removing %s", key);
	int rc = req_ok(s, call, &rq, &resp, what, f);
	s3_resp_free(&resp);
	free(key);
	return rc == ARCA_ERR_NOT_FOUND && !strstr(f->msg, "bucket") ? ARCA_OK : rc;
}

/* DeleteObjects of up to 1000 names; ARCA_ERR_UNSUPPORTED when the server
 * has no such call (the caller falls back to single deletes). */
static int remove_batch(struct s3_inst *s, struct arca_dest_call *call, const char *const *names,
                        size_t n, struct s3_fail *f)
{
	size_t cap = 64, o = 0;
	for (size_t i = 0; i < n; i++)
		cap += 6 * (strlen(s->prefix) + strlen(names[i])) + 40;
	char *xml = malloc(cap);
	if (!xml)
		return s3_fail_set(f, ARCA_ERR_INTERNAL, 0, "s3: out of memory");
	o += (size_t)snprintf(xml, cap, "<Delete><Quiet>true</Quiet>");
	for (size_t i = 0; i < n; i++) {
		char *k = full_key(s, names[i]);
		char *e = k ? s3_xml_escape(k) : NULL;
		if (e)
			o +=
			    (size_t)snprintf(xml + o, cap - o, "<Object><Key>%s</Key></Object>", e);
		free(k);
		free(e);
	}
	o += (size_t)snprintf(xml + o, cap - o, "</Delete>");
	const char *q[] = {"delete", ""};
	struct s3_req rq = {.method = "POST", .query = q, .n_query = 1, .body = xml, .body_len = o};
	struct s3_resp resp;
	int rc = s3_request(s, call, &rq, &resp, f);
	if (rc == ARCA_OK &&
	    (resp.status == 501 || resp.status == 405 ||
	     (resp.status == 400 && resp.body && strstr(resp.body, "NotImplemented"))))
		rc = ARCA_ERR_UNSUPPORTED;
	else if (rc == ARCA_OK && resp.status >= 300)
		rc = s3_http_error(s, &resp, "removing objects", f);
	else if (rc == ARCA_OK && resp.body) {
		const char *a, *b;
		if (!s3_xml_find(resp.body, resp.body + resp.body_len, "Error", &a, &b)) {
			char *key = s3_xml_text(a, b, "Key"), *code = s3_xml_text(a, b, "Code");
			char *msg = s3_xml_text(a, b, "Message");
			rc = s3_fail_set(f, ARCA_ERR_IO, code && !strcmp(code, "InternalError"),
			                 "s3 %s: removing %s: %s %s", s->scheme_host,
			                 key ? key : "?", code ? code : "", msg ? msg : "");
			free(key);
			free(code);
			free(msg);
		}
	}
	s3_resp_free(&resp);
	free(xml);
	return rc;
}

/* At most S3's DeleteObjects limit of keys (the engine sends no more; a
 * caller that does gets several requests, not a 400 from Amazon). */
#define DELETE_BATCH_MAX 1000

static int remove_some(struct s3_inst *s, struct arca_dest_call *call, const char *const *names,
                       size_t n);

int s3_remove_call(void *instance, struct arca_dest_call *call, const char *const *names, size_t n)
{
	int rc = ARCA_OK;
	for (size_t at = 0; at < n && rc == ARCA_OK; at += DELETE_BATCH_MAX) {
		if (at && call && call->cancelled && call->cancelled(call))
			return s3_host->error(ARCA_ERR_CANCELLED, "s3: interrupted");
		rc = remove_some(instance, call, names + at,
		                 n - at < DELETE_BATCH_MAX ? n - at : DELETE_BATCH_MAX);
	}
	return rc;
}

static int remove_some(struct s3_inst *s, struct arca_dest_call *call, const char *const *names,
                       size_t n)
{
	struct s3_fail f = {0};
	int rc = ARCA_ERR_UNSUPPORTED;
	if (n > 1 && !atomic_load(&s->no_batch_del)) {
		rc = remove_batch(s, call, names, n, &f);
		/* s3rver answers 500 to a batch naming an absent key: one by one
		 * then (a real 5xx is retried there as anywhere) */
		if (rc != ARCA_OK && f.transient)
			rc = ARCA_ERR_UNSUPPORTED, f.transient = 0;
		else if (rc == ARCA_ERR_UNSUPPORTED) {
			atomic_store(&s->no_batch_del, 1);
			s3_host->log(ARCA_LOG_INFO,
			             "s3 %s: the server has no DeleteObjects; removing one by one",
			             s->scheme_host);
		}
	}
	if (rc == ARCA_ERR_UNSUPPORTED) {
		rc = ARCA_OK;
		for (size_t i = 0; i < n && rc == ARCA_OK; i++) {
			if (call && call->cancelled && call->cancelled(call))
				return s3_host->error(ARCA_ERR_CANCELLED, "s3: interrupted");
			rc = remove_one(s, call, names[i], &f);
		}
	}
	return rc == ARCA_OK ? rc : s3_report(call, &f);
}

int s3_list_objects(struct s3_inst *s, struct arca_dest_call *call, const char *key_prefix,
                    int (*cb)(void *arg, const struct s3_obj *o), void *arg, struct s3_fail *f)
{
	char *token = NULL;
	int rc = ARCA_OK;
	for (;;) {
		const char *q[8] = {"list-type", "2", "prefix", key_prefix, "max-keys", "1000"};
		size_t nq = 3;
		if (token) {
			q[6] = "continuation-token";
			q[7] = token;
			nq = 4;
		}
		struct s3_req rq = {
		    .method = "GET", .query = q, .n_query = nq, .max_body = LIST_BODY_MAX};
		struct s3_resp resp;
		char what[600];
		snprintf(what, sizeof what, "listing %s", key_prefix);
		rc = req_ok(s, call, &rq, &resp, what, f);
		/* without the engine's call (the bucket target) a page is tried
		 * again here, by the target's policy */
		for (int t = 0; !call && rc != ARCA_OK && s3_retry_pause(f, t, what); t++) {
			s3_resp_free(&resp);
			memset(f, 0, sizeof *f);
			rc = req_ok(s, call, &rq, &resp, what, f);
		}
		if (rc != ARCA_OK) {
			s3_resp_free(&resp);
			break;
		}
		const char *p = resp.body ? resp.body : "", *end = p + resp.body_len, *a, *b;
		while (rc == ARCA_OK && !s3_xml_find(p, end, "Contents", &a, &b)) {
			char *key = s3_xml_text(a, b, "Key"), *size = s3_xml_text(a, b, "Size");
			char *etag = s3_xml_text(a, b, "ETag"),
			     *lm = s3_xml_text(a, b, "LastModified");
			/* the server's names are hostile: only what is under the prefix */
			if (key && size && !strncmp(key, key_prefix, strlen(key_prefix))) {
				struct s3_obj o = {key, strtoull(size, NULL, 10), etag ? etag : "",
				                   lm ? lm : ""};
				rc = cb(arg, &o);
			}
			free(key);
			free(size);
			free(etag);
			free(lm);
			p = b;
		}
		char *trunc = s3_xml_text(resp.body ? resp.body : "", end, "IsTruncated");
		char *asked = token;
		token = trunc && !strcmp(trunc, "true")
		            ? s3_xml_text(resp.body, end, "NextContinuationToken")
		            : NULL;
		if (trunc && !strcmp(trunc, "true") && !token && rc == ARCA_OK)
			rc = s3_fail_set(
			    f, ARCA_ERR_IO, 1,
			    "s3 %s: listing %s: a truncated page without a continuation "
			    "token",
			    s->scheme_host, key_prefix);
		/* a server that hands back the token it was given would page
		 * forever over the same keys */
		if (rc == ARCA_OK && token && asked && !strcmp(token, asked))
			rc = s3_fail_set(f, ARCA_ERR_CORRUPT, 0,
			                 "s3 %s: listing %s: the server answered a page with the "
			                 "continuation token it was asked for, so the listing "
			                 "would never end; nothing of it is used",
			                 s->scheme_host, key_prefix);
		free(asked);
		free(trunc);
		s3_resp_free(&resp);
		if (rc != ARCA_OK || !token)
			break;
	}
	free(token);
	return rc;
}

struct name_lister {
	size_t plen;
	int (*cb)(void *arg, const char *name, uint64_t size);
	void *arg;
};

static int name_cb(void *arg, const struct s3_obj *o)
{
	struct name_lister *l = arg;
	return l->cb(l->arg, o->key + l->plen, o->size);
}

int s3_list_call(void *instance, struct arca_dest_call *call, const char *prefix,
                 int (*cb)(void *arg, const char *name, uint64_t size), void *arg)
{
	struct s3_inst *s = instance;
	struct s3_fail f = {0};
	char *kp = full_key(s, prefix ? prefix : "");
	if (!kp)
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	struct name_lister l = {strlen(s->prefix), cb, arg};
	int rc = s3_list_objects(s, call, kp, name_cb, &l, &f);
	free(kp);
	if (rc == ARCA_OK || !f.msg[0])
		return rc; /* a callback's own value, as it is */
	return s3_report(call, &f);
}

/* ---- probe and check ---- */

/* Reach the bucket (auth, region, existence) reading only. */
static int reach(struct s3_inst *s, struct arca_dest_call *call, struct s3_fail *f)
{
	const char *q[] = {"list-type", "2", "prefix", s->prefix, "max-keys", "1"};
	struct s3_req rq = {.method = "GET", .query = q, .n_query = 3};
	struct s3_resp resp;
	char what[300];
	snprintf(what, sizeof what, "listing bucket %s", s->bucket);
	int rc = req_ok(s, call, &rq, &resp, what, f);
	s3_resp_free(&resp);
	return rc;
}

/* The probe object: written once under the prefix and kept (README.md,
 * "Locks and exclusive writes"). Each open sends it again with If-None-Match:
 * *, so that a server honouring the condition proves it with one 412, now,
 * instead of a remembered answer that may have gone stale. */
#define PROBE_NAME "probe/if-none-match"
#define PROBE_BODY "arca: the conditional-create probe (kept on purpose)\n"

int s3_probe(void *instance, struct arca_dest_call *call, unsigned *caps)
{
	struct s3_inst *s = instance;
	struct s3_fail f = {0};
	char *key = full_key(s, PROBE_NAME);
	if (!key)
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	int honoured = 0, tries = 0;
	/* 412: it was there and the server refused to replace it. 200: it was
	 * created just now, or the server ignored the condition; the second
	 * try tells which. */
	int rc;
	do
		rc = put_single(s, call, key, PROBE_BODY, strlen(PROBE_BODY), 1, &f);
	while (rc == ARCA_OK && ++tries < 2);
	free(key);
	if (rc == ARCA_ERR_EXISTS) {
		honoured = 1;
		rc = ARCA_OK;
	}
	if (rc != ARCA_OK && !f.denied)
		return s3_report(call, &f); /* a wrong key, region, bucket; or retried */
	if (rc != ARCA_OK) {
		/* not allowed to write: fine for restore and verify with a
		 * read-only key, if it may read */
		memset(&f, 0, sizeof f);
		if (reach(s, call, &f) != ARCA_OK)
			return s3_report(call, &f);
	}
	atomic_store(&s->cond_create, honoured);
	if (honoured)
		*caps |= ARCA_CAP_COND_CREATE | ARCA_CAP_EXCLUSIVE;
	*caps |= ARCA_CAP_STREAM_PUT;
	s3_host->log(ARCA_LOG_DEBUG, "s3 %s: conditional create %s", s->scheme_host,
	             honoured ? "honoured" : "not honoured (exclusive puts look first)");
	return ARCA_OK;
}

int s3_check(void *instance)
{
	struct s3_fail f = {0};
	int rc = reach(instance, NULL, &f);
	return rc == ARCA_OK ? rc : s3_report(NULL, &f);
}
