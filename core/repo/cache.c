/* cache.c — the local cache in state_dir/<repository id>/: copies of
 * content-addressed objects (index/, snapshots/) exactly as stored, so
 * they stay encrypted at rest and every read re-checks their hash against
 * their name. Losing or damaging the cache loses nothing: a miss or a bad
 * copy is fetched again from the destination. Cache errors are never fatal. */
#include "repo/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"

static char *cache_path(struct repo *r, const char *name)
{
	return xasprintf("%s/%s", r->cache_dir, name);
}

int cache_get(struct repo *r, const char *name, struct buf *out)
{
	if (!r->cache_dir)
		return -1;
	char *path = cache_path(r, name), *data;
	size_t len;
	int rc = read_file(path, &data, &len);
	free(path);
	if (rc)
		return -1;
	out->len = 0;
	buf_append(out, data, len);
	free(data);
	return 0;
}

void cache_put(struct repo *r, const char *name, const void *data, size_t len)
{
	if (!r->cache_dir)
		return;
	char *path = cache_path(r, name);
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	char *slash = strrchr(path, '/');
	*slash = 0;
	if (mkdir_p(path, 0700)) {
		log_debug("cache: cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	*slash = '/';
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	const unsigned char *p = data;
	size_t left = len;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		p += w;
		left -= (size_t)w;
	}
	if (close(fd) || left || rename(tmp, path))
		unlink(tmp);
out:
	free(tmp);
	free(path);
}

void cache_remove(struct repo *r, const char *name)
{
	if (!r->cache_dir)
		return;
	char *path = cache_path(r, name);
	unlink(path);
	free(path);
}

static int cmp_obj_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct obj *)elem)->name);
}

void cache_sync(struct repo *r, const char *prefix, const struct obj_list *keep)
{
	if (!r->cache_dir)
		return;
	char *dir = cache_path(r, prefix);
	size_t dl = strlen(dir);
	if (dl && dir[dl - 1] == '/')
		dir[dl - 1] = 0;
	DIR *d = opendir(dir);
	if (!d) {
		free(dir);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char *name = xasprintf("%s%s", prefix, de->d_name);
		if (!keep->n || !bsearch(name, keep->v, keep->n, sizeof *keep->v, cmp_obj_name)) {
			char *path = cache_path(r, name);
			unlink(path);
			free(path);
		}
		free(name);
	}
	closedir(d);
	free(dir);
}
