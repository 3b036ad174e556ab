/* s3_versions.c — a versioned bucket as the target sees it (`versions =
 * yes`): whether versioning is on (GetBucketVersioning), and every
 * version and delete marker under a prefix (ListObjectVersions, page by
 * page with key-marker and version-id-marker), in the listing's order:
 * keys in order, the versions of a key newest first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_target.h"
#include "s3_xml.h"

#define VLIST_BODY_MAX (16 * 1024 * 1024)

int s3v_versioning(struct s3_inst *s, int *state, struct s3_fail *f)
{
	static const char *const q[] = {"versioning", ""};
	struct s3_req rq = {.method = "GET", .query = q, .n_query = 1};
	struct s3_resp r;
	char what[300];
	snprintf(what, sizeof what, "reading the versioning of bucket %s", s->bucket);
	/* a first try alone: NotImplemented is a 5xx, which s3t_request
	 * would retry 6 times */
	int rc = s3_request(s, NULL, &rq, &r, f);
	int done = rc == ARCA_OK && ((r.status >= 200 && r.status < 300) || r.status == 404 ||
	                             r.status == 501 || r.status == 405);
	if (!done) {
		s3_resp_free(&r);
		rc = s3t_request(s, &rq, &r, what, f);
	}
	*state = 0;
	if (r.status == 501 || r.status == 405) {
		/* NotImplemented, MethodNotAllowed: a server without versioning */
		*state = -1;
		rc = ARCA_OK;
	} else if (rc == ARCA_OK && r.status == 404)
		rc = s3_http_error(s, &r, what, f);
	else if (rc == ARCA_OK && r.body) {
		/* Enabled or Suspended: versions exist (Suspended keeps the
		 * older ones and writes "null" versions); absent: never on */
		char *st = s3_xml_text(r.body, r.body + r.body_len, "Status");
		if (st && (!strcmp(st, "Enabled") || !strcmp(st, "Suspended")))
			*state = 1;
		free(st);
	}
	s3_resp_free(&r);
	return rc;
}

/* The next <Version> or <DeleteMarker> in [p, end), whichever is first. */
static int next_entry(const char *p, const char *end, const char **a, const char **b, int *marker)
{
	const char *va, *vb, *da, *db;
	int v = !s3_xml_find(p, end, "Version", &va, &vb);
	int d = !s3_xml_find(p, end, "DeleteMarker", &da, &db);
	if (!v && !d)
		return -1;
	*marker = d && (!v || da < va);
	*a = *marker ? da : va;
	*b = *marker ? db : vb;
	return 0;
}

int s3v_list(struct s3_inst *s, const char *prefix, int (*cb)(void *arg, const struct s3_ver *v),
             void *arg, const char *max_keys, struct s3_fail *f)
{
	char *km = NULL, *vm = NULL;
	int rc = ARCA_OK;
	for (;;) {
		const char *q[10] = {"versions", "", "prefix", prefix, "max-keys", max_keys};
		size_t nq = 3;
		if (km) {
			q[6] = "key-marker", q[7] = km, nq++;
			if (vm)
				q[8] = "version-id-marker", q[9] = vm, nq++;
		}
		struct s3_req rq = {
		    .method = "GET", .query = q, .n_query = nq, .max_body = VLIST_BODY_MAX};
		struct s3_resp r;
		char what[600];
		snprintf(what, sizeof what, "listing the versions under %s", prefix);
		rc = s3t_request(s, &rq, &r, what, f);
		if (rc == ARCA_OK && r.status == 404)
			rc = s3_http_error(s, &r, what, f);
		if (rc != ARCA_OK) {
			s3_resp_free(&r);
			break;
		}
		const char *p = r.body ? r.body : "", *end = p + r.body_len, *a, *b;
		int marker;
		while (rc == ARCA_OK && !next_entry(p, end, &a, &b, &marker)) {
			char *key = s3_xml_text(a, b, "Key"), *vid = s3_xml_text(a, b, "VersionId");
			char *latest = s3_xml_text(a, b, "IsLatest"),
			     *lm = s3_xml_text(a, b, "LastModified");
			char *etag = marker ? NULL : s3_xml_text(a, b, "ETag"),
			     *size = marker ? NULL : s3_xml_text(a, b, "Size");
			/* the server's names are hostile: only what is under the
			 * prefix (the callback bounds the version id) */
			if (key && vid && *vid && (marker || size) &&
			    !strncmp(key, prefix, strlen(prefix))) {
				struct s3_ver v = {.key = key,
				                   .version_id = vid,
				                   .latest = latest && !strcmp(latest, "true"),
				                   .marker = marker,
				                   .etag = etag ? etag : "",
				                   .last_modified = lm ? lm : "",
				                   .size = size ? strtoull(size, NULL, 10) : 0};
				rc = cb(arg, &v);
			}
			free(key), free(vid), free(latest), free(lm), free(etag), free(size);
			p = b;
		}
		char *trunc = s3_xml_text(r.body ? r.body : "", end, "IsTruncated");
		int more = trunc && !strcmp(trunc, "true");
		free(trunc);
		char *asked_km = km, *asked_vm = vm;
		km = vm = NULL;
		if (more && rc == ARCA_OK) {
			km = s3_xml_text(r.body, end, "NextKeyMarker");
			vm = s3_xml_text(r.body, end, "NextVersionIdMarker");
			if (!km || !*km)
				rc =
				    s3_fail_set(f, ARCA_ERR_IO, 1,
				                "s3 %s: %s: a truncated page without NextKeyMarker",
				                s->scheme_host, what);
			/* the markers it was given back: the same page forever */
			else if (asked_km && !strcmp(km, asked_km) &&
			         !strcmp(vm ? vm : "", asked_vm ? asked_vm : ""))
				rc = s3_fail_set(f, ARCA_ERR_CORRUPT, 0,
				                 "s3 %s: %s: the server answered a page with the "
				                 "markers it was asked for, so the listing would "
				                 "never end",
				                 s->scheme_host, what);
		}
		free(asked_km), free(asked_vm);
		s3_resp_free(&r);
		if (rc != ARCA_OK || !more)
			break;
	}
	free(km), free(vm);
	return rc;
}
