/* sigv4.h — AWS Signature Version 4 on libcrypto (README.md says why not
 * CURLOPT_AWS_SIGV4). Pure functions, no I/O: tested against the AWS SigV4
 * test suite (tests/unit/test_s3_sigv4.c, cases in tests/data/). */
#ifndef ARCA_S3_SIGV4_H
#define ARCA_S3_SIGV4_H

#include <stddef.h>

struct sigv4_header {
	const char *name, *value;
};

struct sigv4_req {
	const char *method;
	const char *path;         /* decoded, starts with '/'; encoded here once, '/' kept */
	const char *const *query; /* decoded key, value, key, value...; value NULL = "" */
	size_t n_query;           /* pairs */
	const struct sigv4_header *headers; /* every header to sign, host and x-amz-date too */
	size_t n_headers;
	const char *payload_sha256; /* lower-case hex of the body's SHA-256 */
	const char *amz_date;       /* "20150830T123600Z" */
	const char *region, *service;
	const char *access_key, *secret_key;
};

/* The Authorization header value (malloc'd) or NULL (out of memory); the
 * canonical request and string to sign too when creq/sts are non-NULL. */
char *sigv4_authorization(const struct sigv4_req *rq, char **creq, char **sts);

/* URI-encode s as SigV4 wants: A-Z a-z 0-9 - _ . ~ as they are, '/' as is
 * when keep_slash, every other byte %XX (upper-case hex). malloc'd. */
char *sigv4_uri_encode(const char *s, int keep_slash);

/* Lower-case hex of SHA-256(data): out has 65 bytes. */
void sigv4_sha256_hex(const void *data, size_t len, char out[65]);

#endif
