/* blobs.c — named blobs outside snapshots (e.g. WAL segments): one object
 * per name under blobs/<target>/<name>, sealed like a chunk. */
#include "repo/internal.h"

#include <string.h>
#include "log.h"
#include "repo/blob.h"

static char *blob_object(const char *target, const char *name)
{
	char *t = name_encode(target), *n = name_encode(name);
	char *s = xasprintf("blobs/%s/%s", t, n);
	free(t);
	free(n);
	return s;
}

static int check_names(const char *target, const char *name)
{
	if (!target || !*target || strlen(target) > TARGET_NAME_MAX)
		return err_set(ARCA_ERR_INTERNAL,
		               "blob operation without a target name, or "
		               "one longer than %d bytes",
		               TARGET_NAME_MAX);
	if (!name || !*name || strlen(name) > 512)
		return err_set(ARCA_ERR_INTERNAL, "blob name is empty or longer than 512 bytes");
	return ARCA_OK;
}

int repo_blob_put(struct repo *r, const char *target, const char *name, const void *data,
                  size_t len, int exclusive)
{
	int rc = check_names(target, name);
	if (rc != ARCA_OK)
		return rc;
	if (len > MAX_OBJECT_RAW)
		return err_set(ARCA_ERR_UNSUPPORTED,
		               "blob %s of %s is %zu bytes; the limit is "
		               "1 GiB",
		               name, target, len);
	char *obj = blob_object(target, name);
	struct buf sealed = {0};
	struct aad aad;
	repo_aad(r, BK_NAMED, obj, strlen(obj), &aad);
	rc = blob_seal(r->keys, &aad, NULL, r->zstd_level, data, len, &sealed);
	if (rc == ARCA_OK)
		rc = dest_put(r, obj, sealed.data, sealed.len, exclusive ? ARCA_PUT_EXCLUSIVE : 0);
	buf_free(&sealed);
	if (rc == ARCA_ERR_EXISTS) {
		/* Identical content is success (a retried archive_command). */
		void *old;
		size_t old_len;
		rc = repo_blob_get(r, target, name, &old, &old_len);
		if (rc == ARCA_OK) {
			int same = old_len == len && !memcmp(old, data, len);
			free(old);
			rc = same ? ARCA_OK
			          : err_set(ARCA_ERR_EXISTS,
			                    "blob %s of target %s already "
			                    "exists in destination %s with different "
			                    "content; refusing to overwrite it",
			                    name, target, r->dest_name);
		}
	}
	free(obj);
	return rc;
}

int repo_blob_get(struct repo *r, const char *target, const char *name, void **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	int rc = check_names(target, name);
	if (rc != ARCA_OK)
		return rc;
	char *obj = blob_object(target, name);
	struct buf raw = {0}, plain = {0};
	rc = named_blob_read(r, obj, &raw, &plain);
	if (rc == ARCA_ERR_NOT_FOUND)
		rc = err_set(ARCA_ERR_NOT_FOUND, "blob %s of target %s is not in destination %s",
		             name, target, r->dest_name);
	buf_free(&raw);
	free(obj);
	if (rc != ARCA_OK) {
		buf_free(&plain);
		return rc;
	}
	*len = plain.len;
	*data = plain.data ? plain.data : xmalloc(1);
	return ARCA_OK;
}

int named_blob_read(struct repo *r, const char *obj, struct buf *raw, struct buf *plain)
{
	if (strlen(obj) > AAD_MAX - 64)
		return err_set(ARCA_ERR_CORRUPT,
		               "destination %s: object %s has a name longer "
		               "than any blob arca writes",
		               r->dest_name, obj);
	raw->len = 0;
	int rc = dest_get_bounded(r, obj, MAX_OBJECT_RAW + blob_overhead(r->keys), raw);
	if (rc != ARCA_OK)
		return rc;
	char what[AAD_MAX];
	struct aad aad;
	repo_aad(r, BK_NAMED, obj, strlen(obj), &aad);
	snprintf(what, sizeof what, "destination %s: object %s", r->dest_name, obj);
	return blob_open(r->keys, &aad, raw->data, raw->len, MAX_OBJECT_RAW, plain, what);
}

struct list_ctx {
	size_t skip;
	int (*cb)(void *arg, const char *name);
	void *arg;
	int stopped;
};

static int list_cb(void *arg, const char *name, uint64_t size)
{
	(void)size;
	struct list_ctx *c = arg;
	char *dec = name_decode(name + c->skip);
	if (!dec)
		return 0; /* not a name we wrote */
	int stop = c->cb(c->arg, dec);
	free(dec);
	if (stop)
		c->stopped = 1;
	return stop ? 1 : 0;
}

int repo_blob_list(struct repo *r, const char *target, const char *prefix,
                   int (*cb)(void *arg, const char *name), void *arg)
{
	int rc = check_names(target, "x");
	if (rc != ARCA_OK)
		return rc;
	char *t = name_encode(target), *p = name_encode(prefix ? prefix : "");
	char *dir = xasprintf("blobs/%s/", t);
	char *full = xasprintf("%s%s", dir, p);
	struct list_ctx c = {strlen(dir), cb, arg, 0};
	rc = dest_list(r, full, list_cb, &c);
	if (c.stopped)
		rc = ARCA_OK;
	free(t);
	free(p);
	free(dir);
	free(full);
	return rc;
}

int repo_blob_remove(struct repo *r, const char *target, const char *name)
{
	int rc = check_names(target, name);
	if (rc != ARCA_OK)
		return rc;
	char *obj = blob_object(target, name);
	rc = dest_remove(r, obj);
	free(obj);
	return rc;
}
