/* s3.h — the `s3` destination: a repository in an S3 bucket (AWS, MinIO,
 * s3rver...), optionally under a key prefix. The HTTP and signing client
 * (s3_http.c, sigv4.c, s3_xml.c) knows nothing of repositories, so a bucket
 * target can use it too. README.md here: options, credentials, errors,
 * locks, and why the signer is our own. */
#ifndef ARCA_S3_H
#define ARCA_S3_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "arca/plugin.h"

extern const struct arca_host *s3_host;

struct s3_creds {
	char *access_key, *secret_key, *token; /* token NULL: none */
	char source[160];                      /* where they came from, for messages */
};

struct s3_conn; /* a pooled curl handle */

struct s3_inst {
	char *section;
	char *scheme_host; /* "https://host:port" (no trailing '/') */
	char *host;        /* "host:port" as the Host header says it */
	char *base_path;   /* "" or "/bucket" (path-style) */
	char *bucket, *prefix, *region, *ca_file;
	int path_style, https;
	int amazon;        /* the endpoint is Amazon S3's (*.amazonaws.com) */
	const char *sse;   /* NULL, "AES256", "aws:kms": x-amz-server-side-encryption to ask */
	char *sse_kms_key; /* x-amz-server-side-encryption-aws-kms-key-id, or NULL */
	uint64_t part_size;
	uint64_t mp_threshold; /* multipart_threshold, >= part_size */
	int parallel;
	long connect_timeout;
	const struct arca_config *cfg; /* for the credentials, read at first use */
	pthread_mutex_t creds_mu;
	int creds_loaded;
	struct s3_creds creds;
	atomic_int cond_create;  /* the server honours If-None-Match: * (probed) */
	atomic_int no_batch_del; /* DeleteObjects refused once: single deletes */
	pthread_mutex_t pool_mu;
	struct s3_conn *pool;
};

/* Why an operation failed, filled on whatever thread met it and reported
 * (host->error, call->transient) on the op's thread by s3_report. */
struct s3_fail {
	int status;
	int transient;
	int64_t retry_after_ms;
	int denied; /* a 403 that is no wrong key, signature or clock: a missing permission */
	char msg[768];
};
int s3_fail_set(struct s3_fail *f, int status, int transient, const char *fmt, ...)
    ARCA_PRINTF(4, 5);
int s3_report(struct arca_dest_call *call, const struct s3_fail *f);
/* The one retry policy of requests made without the engine's call (the
 * bucket target's, which no arca_dest_call carries): S3_TRIES tries in all;
 * between two, the server's Retry-After (at most a minute) or 0.2 s
 * doubling. After try `attempt` (0-based) failed with f: 1 once it has
 * logged why (`what`: the operation) and waited, 0 when f is permanent or
 * the tries are spent (the caller returns f's status). */
#define S3_TRIES 6
int s3_retry_pause(const struct s3_fail *f, int attempt, const char *what);

/* Credentials in the documented order (README.md): the section's
 * access_key_id + secret_access_key(_file/_env) [+ session_token], else
 * AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY[/AWS_SESSION_TOKEN], else the
 * shared credentials file's profile. ARCA_ERR_CONFIG naming what to set. */
int s3_creds_load(const struct arca_config *cfg, struct s3_creds *c);
void s3_creds_free(struct s3_creds *c);

/* ---- the HTTP client (s3_http.c) ---- */

#define S3_MAX_EXTRA 40
struct s3_req {
	const char *method;       /* GET PUT HEAD POST DELETE */
	const char *key;          /* full object key (prefix included), NULL: the bucket */
	const char *const *query; /* decoded key, value pairs */
	size_t n_query;
	const char *extra[S3_MAX_EXTRA][2]; /* more headers, all signed */
	size_t n_extra;
	const void *body; /* PUT/POST body */
	size_t body_len;
	/* PUT body read from a source instead (body_len bytes at body_src_off),
	 * a piece at a time as curl sends it: no copy of the object in memory.
	 * body_md5_b64 and body_sha256 must then be given (s3_source_hashes). */
	arca_source_fn body_src;
	void *body_src_arg;
	uint64_t body_src_off;
	const char *body_md5_b64; /* Content-MD5 of body (PUT/POST), NULL: made here */
	const char *body_sha256;  /* hex, NULL: made here */
	arca_sink_fn sink;        /* a 2xx body goes here; else it is collected */
	void *sink_arg;
	size_t max_body; /* collected body bound (default 1 MiB) */
};

struct s3_resp {
	long status;
	char *body; /* collected body (NUL-terminated), or NULL */
	size_t body_len;
	char etag[160];
	int64_t content_length; /* -1: not given */
	int64_t last_modified;  /* epoch seconds, 0 unknown */
	int64_t retry_after_ms;
	uint64_t delivered; /* bytes handed to the sink */
	int sink_rc;        /* nonzero: the sink stopped the transfer */
	int over;           /* the collected body passed max_body */
	/* The server encrypts with a key of KMS's or the client's
	 * (x-amz-server-side-encryption: aws:kms or aws:kms:dsse, or an
	 * x-amz-server-side-encryption-customer-algorithm): its ETag is then
	 * not the MD5 of the content. */
	int sse_etag;
	/* The object's headers a bucket target keeps, "name: value\n" each
	 * (names lower-cased): Content-Type, -Encoding, -Disposition,
	 * -Language, Cache-Control, Expires, x-amz-meta-*, x-amz-storage-class.
	 * Bounded; meta_over when some did not fit. */
	char meta[8192];
	size_t meta_len;
	int meta_over;
	int64_t tag_count; /* x-amz-tagging-count; -1: not given */
};
void s3_resp_free(struct s3_resp *r);

/* One request. ARCA_OK when an HTTP response came back (any status: see
 * s3_http_error), else the transport failure in f (timeouts, resets and
 * refused connections transient; TLS verification not). */
int s3_request(struct s3_inst *s, struct arca_dest_call *call, const struct s3_req *rq,
               struct s3_resp *resp, struct s3_fail *f);
/* An HTTP status >= 300 as a failure in f: S3's error code read from the
 * body, mapped to a status and a message saying what to do (README.md,
 * "Errors"); 5xx and 429 transient. `what` names the operation. Returns
 * f->status. */
int s3_http_error(struct s3_inst *s, const struct s3_resp *resp, const char *what,
                  struct s3_fail *f);
void s3_pool_free(struct s3_inst *s);

/* base64 of MD5(data) into out (25 bytes), and lower-case hex into hex (33). */
void s3_md5(const void *data, size_t len, char b64[25], char hex[33]);
/* SHA-256 (hex) and MD5 (base64 and hex) of `len` bytes of a source at
 * `off`, read in pieces: the hashes a source-backed PUT body is signed and
 * checked with. ARCA_OK, the source's status, or ARCA_ERR_INTERNAL. */
int s3_source_hashes(arca_source_fn src, void *arg, uint64_t off, size_t len, char sha[65],
                     char md5_b64[25], char md5_hex[33]);

/* ---- objects (s3_dest.c) ---- */

struct s3_obj {
	const char *key; /* full key */
	uint64_t size;
	const char *etag, *last_modified; /* as listed ("" when not given) */
};
/* ListObjectsV2 of every key starting with key_prefix, page by page
 * (continuation tokens); cb's nonzero return stops and is returned. */
int s3_list_objects(struct s3_inst *s, struct arca_dest_call *call, const char *key_prefix,
                    int (*cb)(void *arg, const struct s3_obj *o), void *arg, struct s3_fail *f);

/* Store an object: from data, or `size` bytes read from source, with more
 * headers (Content-Type, x-amz-meta-*...); a conditional create when
 * if_none_match. ETag and size checked as every put. `how`:
 * S3_PUT_SEQUENTIAL: the source is read once, at increasing offsets (parts
 * one at a time; a body up to part_size is read into memory first);
 * S3_PUT_REREAD: the source may be read again and in any order (a body is
 * read as curl sends it, after a pass that hashes it: no copy in memory; up
 * to multipart_threshold in one PUT). Neither: parallel parts, each read
 * once into a part buffer. */
#define S3_PUT_SEQUENTIAL 1u
#define S3_PUT_REREAD     2u
int s3_put_object(struct s3_inst *s, struct arca_dest_call *call, const char *key, const void *data,
                  uint64_t size, arca_source_fn source, void *arg, int if_none_match,
                  const char *const (*hdrs)[2], size_t nh, unsigned how, struct s3_fail *f);
/* Open an instance on a section (the destination's and the target's
 * options are the same); s3_inst_close frees it. */
int s3_inst_open(const struct arca_config *cfg, void **instance);
void s3_inst_close(void *instance);
extern const struct arca_option s3_options[];

/* ---- the bucket as a target (s3_target.c) ---- */
extern const struct arca_target_ops s3_target_ops;

/* ---- the destination ops (s3_dest.c) ---- */
int s3_probe(void *instance, struct arca_dest_call *call, unsigned *caps);
int s3_check(void *instance);
int s3_put_call(void *instance, struct arca_dest_call *call, const char *name, const void *data,
                size_t len, unsigned flags, const char *if_version);
int s3_put_stream(void *instance, struct arca_dest_call *call, const char *name, uint64_t size,
                  arca_source_fn source, void *arg, unsigned flags);
int s3_get_call(void *instance, struct arca_dest_call *call, const char *name, uint64_t offset,
                uint64_t length, arca_sink_fn sink, void *arg);
int s3_list_call(void *instance, struct arca_dest_call *call, const char *prefix,
                 int (*cb)(void *arg, const char *name, uint64_t size), void *arg);
int s3_remove_call(void *instance, struct arca_dest_call *call, const char *const *names, size_t n);
int s3_stat_call(void *instance, struct arca_dest_call *call, const char *name,
                 struct arca_dest_stat *st);

#endif
