/* cache.c — the local cache in state_dir/<repository id>/: copies of
 * content-addressed objects (index/, snapshots/) exactly as stored, so
 * they stay encrypted at rest and every read re-checks their hash against
 * their name. Losing or damaging the cache loses nothing: a miss or a bad
 * copy is fetched again from the destination. Cache errors are never fatal.
 *
 * The engine checked state_dir (only root or this user can change it).
 * Below it nothing is followed: every directory is opened O_NOFOLLOW from
 * state_dir down (open_dir_nofollow), files are read O_NOFOLLOW with a
 * size bound and written under a new random name then renamed (see
 * read_file_at/write_file_at), so a symlink planted anywhere in the cache
 * leads nowhere. */
#include "repo/internal.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "log.h"

/* Summaries are the tail JSON of a manifest (< 64 KiB). Index objects are
 * one sealed blob (at most MAX_OBJECT_RAW). Manifests have no bound of
 * their own: 4 GiB is far beyond any a host could hold in memory. A larger
 * file is never read; the object is fetched from the destination. */
#define CACHE_MAX_SUMMARY (1ull << 20)
#define CACHE_MAX_INDEX   (MAX_OBJECT_RAW + (1ull << 20))
#define CACHE_MAX_OBJECT  (4ull << 30)

static size_t cache_max(const char *name)
{
	uint64_t max = str_starts(name, "summaries/") ? CACHE_MAX_SUMMARY
	               : str_starts(name, "index/")   ? CACHE_MAX_INDEX
	                                              : CACHE_MAX_OBJECT;
	return max < SIZE_MAX ? (size_t)max : SIZE_MAX;
}

/* The directory holding cache entry `name` ("index/<hex>"), opened from
 * state_dir down with <repository id>/ and every part of name not followed
 * if a symlink; *base is name's last part. -1: no cache this time. */
static int entry_dir(struct repo *r, const char *name, int create, const char **base)
{
	const char *slash = strrchr(name, '/');
	*base = slash ? slash + 1 : name;
	if (!**base || !strcmp(*base, ".") || !strcmp(*base, "..")) {
		errno = EINVAL;
		return -1;
	}
	int depth = 1;
	for (const char *p = name; p < *base; p++)
		depth += *p == '/';
	char *dir = slash ? xasprintf("%s/%.*s", r->cache_dir, (int)(slash - name), name)
	                  : xstrdup(r->cache_dir);
	int dfd = open_dir_nofollow(dir, depth, create);
	free(dir);
	return dfd;
}

int cache_get(struct repo *r, const char *name, struct buf *out)
{
	const char *base;
	int dfd = r->cache_dir ? entry_dir(r, name, 0, &base) : -1;
	if (dfd < 0)
		return -1;
	char *data;
	size_t len;
	int rc = read_file_at(dfd, base, cache_max(name), &data, &len);
	if (rc < 0 && errno != ENOENT)
		log_debug("cache: not using %s/%s: %s", r->cache_dir, name, strerror(errno));
	close(dfd);
	if (rc < 0)
		return -1;
	out->len = 0;
	buf_append(out, data, len);
	free(data);
	return 0;
}

void cache_put(struct repo *r, const char *name, const void *data, size_t len)
{
	const char *base;
	if (!r->cache_dir || len > cache_max(name))
		return;
	int dfd = entry_dir(r, name, 1, &base);
	if (dfd < 0) {
		log_debug("cache: cannot open the directory of %s/%s: %s", r->cache_dir, name,
		          strerror(errno));
		return;
	}
	if (write_file_at(dfd, base, data, len) < 0)
		log_debug("cache: cannot write %s/%s: %s", r->cache_dir, name, strerror(errno));
	close(dfd);
}

void cache_remove(struct repo *r, const char *name)
{
	const char *base;
	int dfd = r->cache_dir ? entry_dir(r, name, 0, &base) : -1;
	if (dfd < 0)
		return;
	unlinkat(dfd, base, 0);
	close(dfd);
}

static int cmp_obj_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct obj *)elem)->name);
}

void cache_sync(struct repo *r, const char *prefix, const struct obj_list *keep)
{
	/* the directory of prefix "index/" is that of entry "index/x" */
	const char *base;
	char *probe = xasprintf("%sx", prefix);
	int dfd = r->cache_dir ? entry_dir(r, probe, 0, &base) : -1;
	free(probe);
	if (dfd < 0)
		return;
	int lfd = dup(dfd);
	DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
	if (!d) {
		if (lfd >= 0)
			close(lfd);
		close(dfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char *name = xasprintf("%s%s", prefix, de->d_name);
		if (!keep->n || !bsearch(name, keep->v, keep->n, sizeof *keep->v, cmp_obj_name))
			unlinkat(dfd, de->d_name, 0);
		free(name);
	}
	closedir(d);
	close(dfd);
}
