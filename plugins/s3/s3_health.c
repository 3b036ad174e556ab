/* s3_health.c — `arca health TARGET [--into WHERE]` for the bucket target:
 * is the bucket serving the prefix as an application would read it? One
 * ListObjectsV2 of at most one key under the prefix (the request `arca
 * check` makes, with the target's credentials), then a HEAD of the key it
 * names: listing and reading are separate permissions. The target's own
 * request function retries transient failures (s3t_request), and its error
 * mapping (s3_http_error) says what a wrong key, region or bucket is.
 * --into looks at a restored copy instead: a bucket as `arca restore
 * --into` takes it (s3://..., a [destination] NAME: s3_into.c), or the
 * directory of a restore to files, whose %manifest.jsonl, written last,
 * says the restore finished. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "s3.h"
#include "s3_target.h"
#include "s3_xml.h"

/* never in a format string: "%m" is one */
#define MANIFEST "%manifest.jsonl"

/* A key for a log line: bytes below 0x20, 0x7f and '\' as \xHH (keys
 * are the server's, any bytes), at most 200 of them. */
static void shown(const char *key, char *out, size_t n)
{
	size_t o = 0, i = 0;
	for (; key[i] && i < 200 && o + 5 < n; i++) {
		unsigned char c = (unsigned char)key[i];
		if (c < 0x20 || c == 0x7f || c == '\\')
			o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	snprintf(out + o, n - o, "%s", key[i] ? "..." : "");
}

/* --into DIR: the manifest a finished restore into files wrote last. */
static int health_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd = dfd < 0 ? -1 : openat(dfd, MANIFEST, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int err = errno;
	if (dfd >= 0)
		close(dfd);
	if (fd < 0)
		return s3_host->error(
		    err == ENOENT ? ARCA_ERR_NOT_FOUND
		                  : (err == EACCES ? ARCA_ERR_AUTH : ARCA_ERR_IO),
		    "s3: --into %s: %s%s: %s%s", dir, dfd < 0 ? "" : MANIFEST " in ",
		    dfd < 0 ? "the directory" : "it", strerror(err),
		    dfd >= 0 && err == ENOENT
		        ? " (a restore into files writes it last: this one did not finish)"
		        : "");
	char buf[65536];
	uint64_t lines = 0;
	ssize_t k;
	while ((k = read(fd, buf, sizeof buf)) > 0 || (k < 0 && errno == EINTR))
		for (ssize_t i = 0; i < k; i++)
			lines += buf[i] == '\n';
	err = errno;
	close(fd);
	if (k < 0)
		return s3_host->error(ARCA_ERR_IO, "s3: --into %s: reading %s: %s", dir, MANIFEST,
		                      strerror(err));
	s3_host->log(ARCA_LOG_INFO, "s3: %s: %s names %" PRIu64 " object(s)", dir, MANIFEST, lines);
	return ARCA_OK;
}

/* The first key listed answers a HEAD: the credentials may read objects. */
static int head_first(struct s3_inst *b, const char *key, const char *where)
{
	char what[300], k[1024];
	shown(key, k, sizeof k);
	snprintf(what, sizeof what, "reading object %.200s", k);
	struct s3_req rq = {.method = "HEAD", .key = key};
	struct s3_resp r = {0};
	struct s3_fail f = {0};
	int rc = s3t_request(b, &rq, &r, what, &f);
	if (rc != ARCA_OK)
		rc = s3_report(NULL, &f);
	else if (r.status == 404) /* deleted since the listing: a live bucket */
		s3_host->log(ARCA_LOG_INFO, "s3: %s: first key %s, deleted since it was listed",
		             where, k);
	else
		s3_host->log(ARCA_LOG_INFO, "s3: %s: first key %s (%" PRId64 " bytes) reads", where,
		             k, r.content_length);
	s3_resp_free(&r);
	return rc;
}

int s3t_health(void *instance, struct arca_ctx *ctx)
{
	struct s3_inst *s = instance, *d = NULL;
	const char *into = s3_host->option(ctx, "into");
	int rc = ARCA_OK, repo_dest = 0;
	if (into && strncmp(into, "s3://", 5) && strchr(into, '/'))
		return health_dir(into);
	if (into && (rc = s3_into_open(s, ctx, into, "looking at", &d, &repo_dest)) != ARCA_OK)
		return rc;
	struct s3_inst *b = d ? d : s;
	char where[400], what[300];
	snprintf(where, sizeof where, "bucket %s prefix \"%s\" at %s", b->bucket, b->prefix,
	         b->scheme_host);
	snprintf(what, sizeof what, "listing bucket %s", b->bucket);
	const char *q[] = {"list-type", "2", "prefix", b->prefix, "max-keys", "1"};
	struct s3_req rq = {.method = "GET", .query = q, .n_query = 3};
	struct s3_resp r = {0};
	struct s3_fail f = {0};
	rc = s3t_request(b, &rq, &r, what, &f);
	if (rc == ARCA_OK && r.status == 404) /* NoSuchBucket: said as everywhere */
		rc = s3_http_error(b, &r, what, &f);
	if (rc != ARCA_OK)
		rc = s3_report(NULL, &f);
	const char *p = r.body ? r.body : "", *end = p + r.body_len, *a, *e;
	char *key = NULL;
	if (rc == ARCA_OK && s3_xml_find(p, end, "ListBucketResult", &a, &e))
		rc = s3_host->error(ARCA_ERR_IO,
		                    "s3 %s: %s: the answer (HTTP %ld, %zu bytes) is not a listing: "
		                    "is endpoint = an S3 server?",
		                    b->scheme_host, what, r.status, r.body_len);
	else if (rc == ARCA_OK && !s3_xml_find(a, e, "Contents", &a, &e))
		key = s3_xml_text(a, e, "Key");
	/* the server's names are hostile: only a key under the prefix */
	if (key && strncmp(key, b->prefix, strlen(b->prefix)))
		rc = s3_host->error(ARCA_ERR_IO, "s3 %s: %s: it lists a key outside prefix \"%s\"",
		                    b->scheme_host, what, b->prefix);
	if (rc == ARCA_OK && key)
		rc = head_first(b, key, where);
	else if (rc == ARCA_OK)
		s3_host->log(ARCA_LOG_INFO,
		             "s3: %s: serving, and empty (no object under the prefix)", where);
	free(key);
	s3_resp_free(&r);
	if (d)
		s3_inst_close(d);
	return rc;
}

const struct arca_op_option s3t_health_options[] = {
    {"into", 1,
     "look at this bucket instead of the target's: s3://BUCKET[/PREFIX][?endpoint=URL&...] or "
     "the NAME of a [destination] of driver s3, as restore --into takes them; or a directory a "
     "restore wrote files into (its " MANIFEST ")",
     NULL, NULL},
    {NULL, 0, NULL, NULL, NULL},
};
