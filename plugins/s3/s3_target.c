/* s3_target.c — the `s3` driver as a target: a bucket, or a prefix of one,
 * as the data to protect (issue 16 part 2; started, see README.md "The
 * bucket as a target"). Each object is a STREAM item named by its key below
 * the prefix, with its ETag, Last-Modified and headers (Content-Type,
 * -Encoding, -Disposition, -Language, Cache-Control, Expires, x-amz-meta-*,
 * storage class) in the item's metadata, and "ETag size Last-Modified" as
 * its fingerprint, so an unchanged object is not downloaded again.
 * Restore writes the objects back into the bucket with their headers, and
 * refuses, before writing anything, to replace objects that differ unless
 * --overwrite. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

struct snap {
	struct s3_inst *s;
	struct arca_ctx *ctx;
	size_t plen;
	struct s3_fail f;
};

static int to_item(void *arg, const void *data, size_t len)
{
	return s3_host->item_write(arg, data, len);
}

static int snap_object(void *arg, const struct s3_obj *o)
{
	struct snap *sn = arg;
	struct s3_inst *s = sn->s;
	const char *name = o->key + sn->plen;
	if (s3_host->cancelled(sn->ctx))
		return s3_host->error(ARCA_ERR_CANCELLED, "interrupted");
	/* Any key is an item name as it is (ABI 1.1 byte-string names): "/a",
	 * "a//b", "..", folder markers "photos/". Only the prefix's own folder
	 * marker has no name below the prefix. */
	if (!*name)
		return ARCA_OK;
	if (strlen(name) > ARCA_KEY_NAME_MAX)
		return s3_host->item_skipped(sn->ctx, name, "key longer than 4096 bytes");
	struct s3_req head = {.method = "HEAD", .key = o->key};
	struct s3_resp r;
	char what[600];
	snprintf(what, sizeof what, "looking at %s", o->key);
	int rc = s3_request(s, NULL, &head, &r, &sn->f);
	if (rc == ARCA_OK && r.status == 404) { /* removed since the listing */
		s3_resp_free(&r);
		return ARCA_OK;
	}
	if (rc == ARCA_OK && (r.status < 200 || r.status >= 300))
		rc = s3_http_error(s, &r, what, &sn->f);
	if (rc != ARCA_OK) {
		s3_resp_free(&r);
		return s3_report(NULL, &sn->f);
	}
	if (r.meta_over)
		s3_host->log(ARCA_LOG_WARN, "s3: %s: headers over 8 KiB left out", o->key);
	size_t mlen = r.meta_len + strlen(r.etag) + 64;
	char *meta = malloc(mlen), fp[512];
	if (!meta) {
		s3_resp_free(&r);
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	}
	snprintf(meta, mlen, "etag: %s\nlast-modified: %" PRId64 "\n%s", r.etag, r.last_modified,
	         r.meta);
	snprintf(fp, sizeof fp, "%s %" PRIu64 " %s", r.etag, o->size, o->last_modified);
	struct arca_item_info info = {.struct_size = sizeof info,
	                              .name = name,
	                              .type = ARCA_ITEM_STREAM,
	                              .size = r.content_length >= 0 ? (uint64_t)r.content_length
	                                                            : UINT64_MAX,
	                              .mtime_sec = r.last_modified,
	                              .meta = meta,
	                              .fingerprint = fp,
	                              .flags = ARCA_ITEM_KEY_NAME};
	char etag[160];
	snprintf(etag, sizeof etag, "%s", r.etag);
	s3_resp_free(&r);
	rc = s3_host->item_begin(sn->ctx, &info);
	free(meta);
	if (rc == ARCA_ITEM_UNCHANGED)
		return s3_host->item_end(sn->ctx);
	if (rc != ARCA_OK)
		return rc;
	struct s3_req get = {.method = "GET", .key = o->key, .sink = to_item, .sink_arg = sn->ctx};
	snprintf(what, sizeof what, "reading %s", o->key);
	rc = s3_request(s, NULL, &get, &r, &sn->f);
	if (rc == ARCA_OK && (r.status < 200 || r.status >= 300))
		rc = s3_http_error(s, &r, what, &sn->f);
	else if (rc == ARCA_OK && r.content_length >= 0 &&
	         r.delivered != (uint64_t)r.content_length)
		rc = s3_fail_set(&sn->f, ARCA_ERR_IO, 1, "s3 %s: %s: the answer was cut short",
		                 s->scheme_host, what);
	else if (rc == ARCA_OK && strcmp(r.etag, etag))
		s3_host->log(ARCA_LOG_WARN,
		             "s3: %s changed while it was read; stored as read, the next snapshot "
		             "reads it again",
		             o->key);
	s3_resp_free(&r);
	if (rc != ARCA_OK)
		return sn->f.msg[0] ? s3_report(NULL, &sn->f) : rc;
	return s3_host->item_end(sn->ctx);
}

static int t_snapshot(void *instance, struct arca_ctx *ctx)
{
	if (s3_host->abi_minor < 1 || !ARCA_HOST_HAS(s3_host, item_end_info))
		return s3_host->error(ARCA_ERR_UNSUPPORTED,
		                      "s3: the bucket target needs an engine of ABI 1.1 "
		                      "(byte-string item names)");
	struct snap sn = {
	    .s = instance, .ctx = ctx, .plen = strlen(((struct s3_inst *)instance)->prefix)};
	int rc = s3_list_objects(sn.s, NULL, sn.s->prefix, snap_object, &sn, &sn.f);
	if (rc != ARCA_OK && sn.f.msg[0] && sn.f.status == rc)
		return s3_report(NULL, &sn.f);
	return rc;
}

static int t_check(void *instance, struct arca_ctx *ctx)
{
	(void)ctx;
	return s3_check(instance);
}

/* ---- restore ---- */

/* The headers to send back, from an item's metadata ("name: value" lines). */
struct hdrs {
	char *text;
	const char *h[S3_MAX_EXTRA][2];
	size_t n;
	char etag[160];
};

static void parse_meta(const char *meta, struct hdrs *h)
{
	memset(h, 0, sizeof *h);
	h->text = strdup(meta ? meta : "");
	for (char *save, *l = h->text ? strtok_r(h->text, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save)) {
		char *c = strstr(l, ": ");
		if (!c)
			continue;
		*c = '\0';
		if (!strcmp(l, "etag"))
			snprintf(h->etag, sizeof h->etag, "%s", c + 2);
		else if (strcmp(l, "last-modified") && strcmp(l, "x-amz-storage-class") &&
		         h->n < S3_MAX_EXTRA - 2)
			h->h[h->n][0] = l, h->h[h->n++][1] = c + 2;
	}
}

struct reader {
	struct arca_ctx *ctx;
	uint64_t pos;
};

/* put_stream's source over item_read: parts are asked for in order. */
static int item_source(void *arg, uint64_t off, void *buf, size_t len)
{
	struct reader *rd = arg;
	if (off != rd->pos)
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: restore read out of order");
	for (size_t got = 0; got < len;) {
		size_t n = 0;
		int rc = s3_host->item_read(rd->ctx, (char *)buf + got, len - got, &n);
		if (rc != ARCA_OK)
			return rc;
		if (!n)
			return s3_host->error(ARCA_ERR_CORRUPT,
			                      "s3: stored object shorter than its size");
		got += n;
	}
	rd->pos += len;
	return ARCA_OK;
}

/* Does `key` exist with other content than the stored ETag? */
static int differs(struct s3_inst *s, const char *key, const char *etag, int *exists, int *same,
                   struct s3_fail *f)
{
	struct s3_req head = {.method = "HEAD", .key = key};
	struct s3_resp r;
	char what[600];
	snprintf(what, sizeof what, "looking at %s", key);
	int rc = s3_request(s, NULL, &head, &r, f);
	*exists = *same = 0;
	if (rc == ARCA_OK && r.status == 404)
		rc = ARCA_OK;
	else if (rc == ARCA_OK && (r.status < 200 || r.status >= 300))
		rc = s3_http_error(s, &r, what, f);
	else if (rc == ARCA_OK) {
		*exists = 1;
		*same = etag[0] && !strcmp(r.etag, etag);
	}
	s3_resp_free(&r);
	return rc;
}

static char *key_of(const struct s3_inst *s, const char *name)
{
	size_t n = strlen(s->prefix) + strlen(name) + 1;
	char *k = malloc(n);
	if (k)
		snprintf(k, n, "%s%s", s->prefix, name);
	return k;
}

static int t_restore(void *instance, struct arca_ctx *ctx)
{
	struct s3_inst *s = instance;
	struct s3_fail f = {0};
	int overwrite = s3_host->option(ctx, "overwrite") != NULL;
	if (s3_host->option(ctx, "into"))
		return s3_host->error(ARCA_ERR_UNSUPPORTED,
		                      "s3: restore --into is not offered yet; the objects go back "
		                      "into bucket %s under prefix \"%s\"",
		                      s->bucket, s->prefix);
	struct arca_item_info info = {.struct_size = sizeof info};
	char first[ARCA_KEY_NAME_MAX + 1] = "";
	int rc, conflicts = 0;
	/* pass 1: nothing is written when something differs (without --overwrite) */
	while ((info.struct_size = sizeof info, rc = s3_host->item_next(ctx, &info)) == ARCA_OK) {
		if (!first[0])
			snprintf(first, sizeof first, "%s", info.name);
		if (info.type != ARCA_ITEM_STREAM || overwrite)
			continue;
		struct hdrs h;
		parse_meta(info.meta, &h);
		char *key = key_of(s, info.name);
		int exists, same;
		rc = key ? differs(s, key, h.etag, &exists, &same, &f) : ARCA_ERR_INTERNAL;
		if (rc == ARCA_OK && exists && !same && conflicts++ < 5)
			s3_host->log(ARCA_LOG_ERROR, "s3: %s exists and differs from the snapshot",
			             key);
		free(key);
		free(h.text);
		if (rc != ARCA_OK)
			return f.msg[0] ? s3_report(NULL, &f) : rc;
	}
	if (rc != ARCA_ERR_NOT_FOUND)
		return rc;
	if (conflicts)
		return s3_host->error(
		    ARCA_ERR_EXISTS,
		    "s3: %d object(s) in bucket %s differ from the snapshot (named "
		    "above); nothing was written: --overwrite replaces them",
		    conflicts, s->bucket);
	if (!first[0])
		return ARCA_OK;
	/* pass 2: write */
	info.struct_size = sizeof info;
	rc = s3_host->item_open(ctx, first, &info);
	uint64_t n = 0;
	while (rc == ARCA_OK) {
		if (info.type == ARCA_ITEM_STREAM) {
			struct hdrs h;
			parse_meta(info.meta, &h);
			char *key = key_of(s, info.name);
			int exists = 0, same = 0;
			rc = key ? differs(s, key, h.etag, &exists, &same, &f) : ARCA_ERR_INTERNAL;
			if (rc == ARCA_OK && !same) {
				struct reader rd = {ctx, 0};
				rc = s3_put_object(s, NULL, key, NULL, info.size, item_source, &rd,
				                   0, (const char *const(*)[2])h.h, h.n, 1, &f);
				n++;
			}
			free(key);
			free(h.text);
			if (rc != ARCA_OK)
				return f.msg[0] && f.status == rc ? s3_report(NULL, &f) : rc;
		}
		info.struct_size = sizeof info;
		rc = s3_host->item_next(ctx, &info);
	}
	if (rc != ARCA_ERR_NOT_FOUND)
		return rc;
	s3_host->log(ARCA_LOG_INFO, "s3: %" PRIu64 " object(s) written to bucket %s", n, s->bucket);
	return ARCA_OK;
}

static int t_open(const struct arca_config *cfg, void **instance)
{
	return s3_inst_open(cfg, instance);
}

const struct arca_target_ops s3_target_ops = {
    .struct_size = sizeof(struct arca_target_ops),
    .open = t_open,
    .check = t_check,
    .snapshot = t_snapshot,
    .restore = t_restore,
    .close = s3_inst_close,
};
