/* s3_restore.c — the `s3` target's restore (README.md, "The bucket as a
 * target"): the objects of a snapshot written back into the bucket, or
 * --into another bucket or prefix, with their headers and tags; refusing,
 * before writing anything, to replace objects that differ unless
 * --overwrite; --prefix restores part; --delete-extra removes what the
 * snapshot does not have. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "s3_target.h"
#include "s3_xml.h"

/* The headers to send back, from an item's metadata ("name: value" lines),
 * and its tags as the body of a PutObjectTagging. */
struct hdrs {
	char *text;
	const char *h[S3_MAX_EXTRA][2];
	size_t n;
	char etag[160];
	char *tagging; /* <Tagging> XML, NULL: no tags */
};

/* Percent-decoding in place (what get_tags encoded). */
static void pct_decode(char *v)
{
	char *o = v;
	for (const char *p = v; *p; p++) {
		unsigned x;
		if (*p == '%' && p[1] && p[2] && sscanf(p + 1, "%2x", &x) == 1)
			*o++ = (char)x, p += 2;
		else
			*o++ = *p;
	}
	*o = '\0';
}

static void add_tag(struct hdrs *h, char *kv)
{
	char *eq = strchr(kv, '=');
	if (!eq)
		return;
	*eq = '\0';
	pct_decode(kv);
	pct_decode(eq + 1);
	char *k = s3_xml_escape(kv), *v = s3_xml_escape(eq + 1);
	size_t old = h->tagging ? strlen(h->tagging) : 0;
	size_t n = old + (k ? strlen(k) : 0) + (v ? strlen(v) : 0) + 64;
	char *t = k && v ? realloc(h->tagging, n) : NULL;
	if (t) {
		if (!old)
			t[0] = '\0';
		snprintf(t + strlen(t), n - strlen(t), "<Tag><Key>%s</Key><Value>%s</Value></Tag>",
		         k, v);
		h->tagging = t;
	}
	free(k);
	free(v);
}

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
		else if (!strcmp(l, "tag"))
			add_tag(h, c + 2);
		else if (strcmp(l, "last-modified") && strcmp(l, "x-amz-storage-class") &&
		         h->n < S3_MAX_EXTRA - 2)
			h->h[h->n][0] = l, h->h[h->n++][1] = c + 2;
	}
}

static void hdrs_free(struct hdrs *h)
{
	free(h->text);
	free(h->tagging);
}

/* PutObjectTagging of what parse_meta gathered. */
static int put_tags(struct s3_inst *s, const char *key, const struct hdrs *h, struct s3_fail *f)
{
	static const char *const q[] = {"tagging", ""};
	size_t n = strlen(h->tagging) + 64;
	char *body = malloc(n), what[600];
	if (!body)
		return s3_fail_set(f, ARCA_ERR_INTERNAL, 0, "s3: out of memory");
	snprintf(body, n, "<Tagging><TagSet>%s</TagSet></Tagging>", h->tagging);
	snprintf(what, sizeof what, "writing the tags of %s", key);
	struct s3_req rq = {.method = "PUT",
	                    .key = key,
	                    .query = q,
	                    .n_query = 1,
	                    .body = body,
	                    .body_len = strlen(body)};
	struct s3_resp r;
	int rc = s3t_request(s, &rq, &r, what, f);
	if (rc == ARCA_OK && r.status == 404)
		rc = s3_fail_set(f, ARCA_ERR_IO, 0, "s3 %s: %s: the object vanished",
		                 s->scheme_host, what);
	s3_resp_free(&r);
	free(body);
	return rc;
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
	int rc = s3t_request(s, &head, &r, what, f);
	*exists = *same = 0;
	if (rc == ARCA_OK && r.status != 404) {
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

/* --into s3://BUCKET[/PREFIX]: a second instance on the same section (same
 * endpoint and credentials) aimed at another bucket or prefix. */
static int open_into(struct s3_inst *s, const char *into, struct s3_inst **out)
{
	if (strncmp(into, "s3://", 5))
		return s3_host->error(
		    ARCA_ERR_UNSUPPORTED,
		    "s3: --into %s: only s3://BUCKET[/PREFIX] is offered (a local "
		    "directory is not yet)",
		    into);
	const char *bk = into + 5, *sl = strchr(bk, '/');
	size_t bl = sl ? (size_t)(sl - bk) : strlen(bk);
	const char *pf = sl ? sl + 1 : "";
	if (!bl || bl > 63)
		return s3_host->error(ARCA_ERR_CONFIG, "s3: --into %s: no bucket name", into);
	void *v;
	int rc = s3_inst_open(s->cfg, &v);
	if (rc != ARCA_OK)
		return rc;
	struct s3_inst *d = v;
	char bucket[64], host[600];
	snprintf(bucket, sizeof bucket, "%.*s", (int)bl, bk);
	if (d->path_style)
		snprintf(host, sizeof host, "%s", d->host);
	else /* "oldbucket.endpoint" -> "bucket.endpoint" */
		snprintf(host, sizeof host, "%s%s", bucket, d->host + strlen(d->bucket));
	size_t pl = strlen(pf), n = strlen(host) + 9;
	free(d->bucket), free(d->prefix), free(d->host), free(d->scheme_host), free(d->base_path);
	d->bucket = strdup(bucket);
	d->prefix = malloc(pl + 2);
	if (d->prefix)
		snprintf(d->prefix, pl + 2, "%s%s", pf, pl && pf[pl - 1] != '/' ? "/" : "");
	d->host = strdup(host);
	d->scheme_host = malloc(n);
	if (d->scheme_host)
		snprintf(d->scheme_host, n, "%s://%s", d->https ? "https" : "http", host);
	d->base_path = malloc(bl + 2);
	if (d->base_path)
		snprintf(d->base_path, bl + 2, "%s%s", d->path_style ? "/" : "",
		         d->path_style ? bucket : "");
	if (!d->bucket || !d->prefix || !d->host || !d->scheme_host || !d->base_path) {
		s3_inst_close(d);
		return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
	}
	*out = d;
	return ARCA_OK;
}

static int in_scope(const struct arca_item_info *info, const char *pfx)
{
	return info->type == ARCA_ITEM_STREAM && (!pfx || !strncmp(info->name, pfx, strlen(pfx)));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* --delete-extra: the keys under the restored prefix the snapshot lacks. */
struct extra {
	struct s3_inst *d;
	char **names;
	size_t n;
	char **del;
	size_t nd, cap;
};

static int extra_cb(void *arg, const struct s3_obj *o)
{
	struct extra *x = arg;
	const char *name = o->key + strlen(x->d->prefix);
	if (!*name || bsearch(&name, x->names, x->n, sizeof *x->names, cmp_str))
		return 0;
	if (x->nd == x->cap) {
		size_t c = x->cap ? 2 * x->cap : 256;
		char **g = realloc(x->del, c * sizeof *g);
		if (!g)
			return s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
		x->del = g, x->cap = c;
	}
	return (x->del[x->nd] = strdup(name)) ? (x->nd++, 0) : ARCA_ERR_INTERNAL;
}

static int delete_extra(struct s3_inst *d, const char *pfx, char **names, size_t n,
                        struct s3_fail *f)
{
	qsort(names, n, sizeof *names, cmp_str);
	struct extra x = {.d = d, .names = names, .n = n};
	char *kp = key_of(d, pfx ? pfx : "");
	int rc = kp ? s3_list_objects(d, NULL, kp, extra_cb, &x, f) : ARCA_ERR_INTERNAL;
	free(kp);
	if (rc == ARCA_OK && x.nd) {
		for (size_t i = 0; i < x.nd && i < 5; i++)
			s3_host->log(ARCA_LOG_INFO, "s3: deleting %s%s (not in the snapshot)",
			             d->prefix, x.del[i]);
		rc = s3_remove_call(d, NULL, (const char *const *)x.del, x.nd);
		if (rc == ARCA_OK)
			s3_host->log(ARCA_LOG_INFO, "s3: %zu object(s) not in the snapshot deleted",
			             x.nd);
	} else if (rc != ARCA_OK && f->msg[0] && f->status == rc)
		rc = s3_report(NULL, f);
	for (size_t i = 0; i < x.nd; i++)
		free(x.del[i]);
	free(x.del);
	return rc;
}

static int restore_into(struct s3_inst *s, struct arca_ctx *ctx)
{
	struct s3_fail f = {0};
	int overwrite = s3_host->option(ctx, "overwrite") != NULL;
	int del_extra = s3_host->option(ctx, "delete-extra") != NULL;
	const char *pfx = s3_host->option(ctx, "prefix");
	struct arca_item_info info = {.struct_size = sizeof info};
	char first[ARCA_KEY_NAME_MAX + 1] = "";
	char **names = NULL;
	size_t nn = 0, ncap = 0;
	int rc, conflicts = 0;
	/* pass 1: nothing is written when something differs (without
	 * --overwrite); the names kept for --delete-extra */
	while ((info.struct_size = sizeof info, rc = s3_host->item_next(ctx, &info)) == ARCA_OK) {
		if (!first[0])
			snprintf(first, sizeof first, "%s", info.name);
		if (!in_scope(&info, pfx))
			continue;
		if (del_extra) {
			if (nn == ncap) {
				size_t c = ncap ? 2 * ncap : 1024;
				char **g = realloc(names, c * sizeof *g);
				if (!g) {
					rc = s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
					break;
				}
				names = g, ncap = c;
			}
			if (!(names[nn] = strdup(info.name))) {
				rc = s3_host->error(ARCA_ERR_INTERNAL, "s3: out of memory");
				break;
			}
			nn++;
		}
		if (overwrite)
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
		hdrs_free(&h);
		if (rc != ARCA_OK) {
			rc = f.msg[0] ? s3_report(NULL, &f) : rc;
			break;
		}
	}
	if (rc == ARCA_ERR_NOT_FOUND && conflicts)
		rc = s3_host->error(ARCA_ERR_EXISTS,
		                    "s3: %d object(s) in bucket %s differ from the snapshot (named "
		                    "above); nothing was written: --overwrite replaces them",
		                    conflicts, s->bucket);
	/* pass 2: write */
	uint64_t n = 0;
	if (rc == ARCA_ERR_NOT_FOUND && first[0]) {
		info.struct_size = sizeof info;
		rc = s3_host->item_open(ctx, first, &info);
	}
	while (rc == ARCA_OK) {
		if (in_scope(&info, pfx)) {
			struct hdrs h;
			parse_meta(info.meta, &h);
			char *key = key_of(s, info.name);
			int exists = 0, same = 0;
			rc = key ? differs(s, key, h.etag, &exists, &same, &f) : ARCA_ERR_INTERNAL;
			if (rc == ARCA_OK && !same) {
				struct reader rd = {ctx, 0};
				rc = s3_put_object(s, NULL, key, NULL, info.size, item_source, &rd,
				                   0, (const char *const(*)[2])h.h, h.n, 1, &f);
				if (rc == ARCA_OK && h.tagging)
					rc = put_tags(s, key, &h, &f);
				n++;
			}
			free(key);
			hdrs_free(&h);
			if (rc != ARCA_OK) {
				rc = f.msg[0] && f.status == rc ? s3_report(NULL, &f) : rc;
				break;
			}
		}
		info.struct_size = sizeof info;
		rc = s3_host->item_next(ctx, &info);
	}
	if (rc == ARCA_ERR_NOT_FOUND) {
		s3_host->log(ARCA_LOG_INFO, "s3: %" PRIu64 " object(s) written to bucket %s", n,
		             s->bucket);
		rc = del_extra ? delete_extra(s, pfx, names, nn, &f) : ARCA_OK;
	}
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* Back into the bucket, or --into s3://another/prefix; --prefix restores
 * the objects below it only; --delete-extra removes what the snapshot
 * does not have (else objects created since are kept). */
int s3t_restore(void *instance, struct arca_ctx *ctx)
{
	struct s3_inst *s = instance, *d = NULL;
	const char *into = s3_host->option(ctx, "into");
	if (into) {
		int rc = open_into(s, into, &d);
		if (rc != ARCA_OK)
			return rc;
		s3_host->log(ARCA_LOG_INFO, "s3: restoring into bucket %s, prefix \"%s\"",
		             d->bucket, d->prefix);
	}
	int rc = restore_into(d ? d : s, ctx);
	if (d)
		s3_inst_close(d);
	return rc;
}

const struct arca_op_option s3t_restore_options[] = {
    {"into", 1,
     "s3://BUCKET[/PREFIX]: restore into another bucket or prefix (same endpoint and "
     "credentials)",
     NULL, NULL},
    {"overwrite", 0, "replace objects that differ from the snapshot", NULL, NULL},
    {"prefix", 1, "restore only the objects whose key (below the target's prefix) starts so", NULL,
     NULL},
    {"delete-extra", 0, "delete the objects (under the restored prefix) the snapshot does not have",
     NULL, NULL},
    {NULL, 0, NULL, NULL, NULL},
};
