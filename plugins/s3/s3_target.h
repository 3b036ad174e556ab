/* s3_target.h — what the `s3` target's snapshot (s3_target.c) and restore
 * (s3_restore.c) share; internal to the driver. */
#ifndef ARCA_S3_TARGET_H
#define ARCA_S3_TARGET_H

#include "s3.h"

/* One request of the target's own, retried on transient failures (5xx,
 * 429, resets, timeouts, truncated answers) with backoff (0.2 s doubling,
 * or the server's Retry-After; 6 tries). A GET into a sink is retried only
 * while nothing reached the sink. ARCA_OK with a 2xx or 404 in r (which
 * the caller frees either way), else the failure in f. */
int s3t_request(struct s3_inst *s, const struct s3_req *rq, struct s3_resp *r, const char *what,
                struct s3_fail *f);

/* The target's restore op and its options (s3_restore.c). */
int s3t_restore(void *instance, struct arca_ctx *ctx);
extern const struct arca_op_option s3t_restore_options[];

/* The target's health op and its options (s3_health.c). */
int s3t_health(void *instance, struct arca_ctx *ctx);
extern const struct arca_op_option s3t_health_options[];

/* --into s3://BUCKET[/PREFIX][?KEY=VALUE...] or the NAME of a [destination]
 * of driver s3 (s3_into.c): an instance of the target's aimed there, with
 * the credentials that go there, logged as "s3: DOING bucket B, ..."
 * ("restoring into", "looking at"). *is_repo_dest: a [destination] section
 * (a repository may live at its prefix). */
int s3_into_open(struct s3_inst *s, struct arca_ctx *ctx, const char *into, const char *doing,
                 struct s3_inst **out, int *is_repo_dest);
/* A profile's keys from a shared credentials file (s3_creds.c):
 * ARCA_ERR_NOT_FOUND (no message) when it lacks them. */
int s3_creds_from_file(const char *path, const char *profile, struct s3_creds *c);
/* AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
 * ARCA_ERR_NOT_FOUND when the two are not both set. */
int s3_creds_from_env(struct s3_creds *c);
/* A profile of the shared credentials file, with AWS's defaults for a NULL
 * file (AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials) or profile
 * (AWS_PROFILE, "default"); what was used, for messages, in file_used and
 * *profile_used. ARCA_ERR_NOT_FOUND, no error set, when it has no keys. */
int s3_creds_from_profile(const char *file, const char *profile, struct s3_creds *c,
                          char *file_used, size_t n, const char **profile_used);

/* ---- a versioned bucket (s3_versions.c) ---- */

/* GetBucketVersioning: *state 1 Enabled or Suspended (versions exist), 0
 * never enabled, -1 the server has no versioning (NotImplemented,
 * MethodNotAllowed). */
int s3v_versioning(struct s3_inst *s, int *state, struct s3_fail *f);
/* One entry of ListObjectVersions: a version or a delete marker. */
struct s3_ver {
	const char *key, *version_id;
	int latest, marker;
	const char *etag, *last_modified; /* "" when not given (markers: no ETag) */
	uint64_t size;
};
/* Every version and delete marker under prefix, page by page (max_keys a
 * page: "1000"); cb's nonzero return stops and is returned. */
int s3v_list(struct s3_inst *s, const char *prefix, int (*cb)(void *arg, const struct s3_ver *v),
             void *arg, const char *max_keys, struct s3_fail *f);

struct s3s_entry;
/* Make the stored item `w` (found by restore's first pass) the current
 * one, its attributes in *info (s3_restore.c). */
int s3r_position(struct arca_ctx *ctx, const struct s3s_entry *w, struct arca_item_info *info);
/* --into DIR (s3_local.c): the winners of e (s3s_select'ed, sorted by
 * name) that are objects, as files under DIR, with DIR/%manifest.jsonl. */
int s3_restore_local(const char *dir, struct arca_ctx *ctx, struct s3s_entry *e, size_t n);

#endif
