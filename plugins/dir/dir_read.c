/* dir_read.c — reading the repository directory: get (with byte ranges),
 * list (recursive, by name prefix), stat and remove. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dir.h"

static ssize_t pread_full(int fd, unsigned char *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, off + (off_t)got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int dir_get(void *instance, const char *name, uint64_t offset, uint64_t length,
	    arca_sink_fn sink, void *arg)
{
	const struct dir_inst *d = instance;
	char path[PATH_MAX];
	unsigned char *buf = NULL;
	struct stat st;
	uint64_t size, end;
	int fd, rc, e;

	rc = dir_check_name(d, name);
	if (rc == ARCA_OK)
		rc = dir_object_path(d, name, path, sizeof(path));
	if (rc != ARCA_OK)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return dir_host->error(ARCA_ERR_NOT_FOUND, "dir %s: object %s not found",
					       d->root, name);
		return dir_errno(d, errno, "read", path);
	}
	if (fstat(fd, &st) != 0) {
		rc = dir_errno(d, errno, "read", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = dir_host->error(ARCA_ERR_CORRUPT,
				     "dir %s: %s is not a regular file; something other than "
				     "arca changed the repository",
				     d->root, path);
		goto out;
	}
	size = (uint64_t)st.st_size;
	end = length == UINT64_MAX ? size : offset + length;
	if (offset > size || end < offset || end > size) {
		/* the caller knows the object's length from the index */
		rc = dir_host->error(ARCA_ERR_CORRUPT,
				     "dir %s: %s has %llu bytes but bytes up to %llu were "
				     "requested: the object is truncated",
				     d->root, path, (unsigned long long)size,
				     (unsigned long long)(end < offset || offset > size ? offset
											: end));
		goto out;
	}
	if (end > offset)
		posix_fadvise(fd, (off_t)offset, (off_t)(end - offset), POSIX_FADV_SEQUENTIAL);
	buf = malloc(DIR_IO_BLOCK);
	if (!buf) {
		rc = dir_host->error(ARCA_ERR_INTERNAL, "dir: out of memory reading %s", path);
		goto out;
	}
	while (offset < end) {
		size_t want = end - offset < DIR_IO_BLOCK ? (size_t)(end - offset) : DIR_IO_BLOCK;
		ssize_t n = pread_full(fd, buf, want, (off_t)offset);

		if (n < 0) {
			rc = dir_errno(d, errno, "read", path);
			goto out;
		}
		if ((size_t)n < want) {
			rc = dir_host->error(ARCA_ERR_CORRUPT,
					     "dir %s: %s ended at byte %llu while being read",
					     d->root, path,
					     (unsigned long long)(offset + (uint64_t)n));
			goto out;
		}
		rc = sink(arg, buf, (size_t)n);
		if (rc != 0)
			goto out;
		offset += (uint64_t)n;
	}
	rc = ARCA_OK;
out:
	e = errno;
	free(buf);
	close(fd);
	errno = e;
	return rc;
}

int dir_stat(void *instance, const char *name, uint64_t *size)
{
	const struct dir_inst *d = instance;
	char path[PATH_MAX];
	struct stat st;
	int rc;

	rc = dir_check_name(d, name);
	if (rc == ARCA_OK)
		rc = dir_object_path(d, name, path, sizeof(path));
	if (rc != ARCA_OK)
		return rc;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return dir_host->error(ARCA_ERR_NOT_FOUND, "dir %s: object %s not found",
					       d->root, name);
		return dir_errno(d, errno, "stat", path);
	}
	if (!S_ISREG(st.st_mode))
		return dir_host->error(ARCA_ERR_CORRUPT,
				       "dir %s: %s is not a regular file; something other "
				       "than arca changed the repository",
				       d->root, path);
	*size = (uint64_t)st.st_size;
	return ARCA_OK;
}

/* Removing is not flushed: a removed object that comes back after a crash
 * is unreferenced (prune deletes only what the new index no longer needs)
 * and the next prune removes it again. */
int dir_remove(void *instance, const char *name)
{
	const struct dir_inst *d = instance;
	char path[PATH_MAX];
	int rc;

	rc = dir_check_name(d, name);
	if (rc == ARCA_OK)
		rc = dir_object_path(d, name, path, sizeof(path));
	if (rc != ARCA_OK)
		return rc;
	if (unlink(path) != 0 && errno != ENOENT)
		return dir_errno(d, errno, "remove", path);
	return ARCA_OK;
}

/* ---- list ---------------------------------------------------------- */

struct lister {
	const struct dir_inst *d;
	const char *prefix;
	size_t prefix_len;
	int (*cb)(void *arg, const char *name, uint64_t size);
	void *arg;
	char name[PATH_MAX];   /* object name of the entry being looked at */
};

/* Could an object under directory `name` (ending in '/') match the prefix? */
static int dir_may_match(const struct lister *l, size_t len)
{
	size_t n = len < l->prefix_len ? len : l->prefix_len;

	return memcmp(l->name, l->prefix, n) == 0;
}

static int is_tmp_name(const char *base)
{
	return strncmp(base, DIR_TMP_PREFIX, strlen(DIR_TMP_PREFIX)) == 0;
}

/* List the directory open as `fd` whose object-name prefix is l->name[0..len)
 * (empty, or ending in '/'). Takes ownership of fd. */
static int list_dir(struct lister *l, int fd, size_t len)
{
	DIR *dir = fdopendir(fd);
	struct dirent *de;
	struct stat st;
	int rc = ARCA_OK;

	if (!dir) {
		close(fd);
		return dir_errno(l->d, errno, "list", l->d->root);
	}
	for (;;) {
		size_t n;

		errno = 0;
		de = readdir(dir);
		if (!de) {
			if (errno != 0)
				rc = dir_errno(l->d, errno, "list", l->d->root);
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    is_tmp_name(de->d_name))
			continue;
		n = strlen(de->d_name);
		if (len + n + 2 > sizeof(l->name))
			continue;   /* put could never have created it */
		memcpy(l->name + len, de->d_name, n + 1);

		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)   /* removed while listing */
				continue;
			rc = dir_errno(l->d, errno, "list", l->name);
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			/* a symlinked object is listed; symlinked dirs are not followed */
			if (fstatat(dirfd(dir), de->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
				continue;
		} else if (S_ISDIR(st.st_mode)) {
			int sub;

			l->name[len + n] = '/';
			l->name[len + n + 1] = '\0';
			if (!dir_may_match(l, len + n + 1))
				continue;
			sub = openat(dirfd(dir), de->d_name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				if (errno == ENOENT)
					continue;
				rc = dir_errno(l->d, errno, "list", l->name);
				break;
			}
			rc = list_dir(l, sub, len + n + 1);
			if (rc != 0)
				break;
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (len + n < l->prefix_len || memcmp(l->name, l->prefix, l->prefix_len) != 0)
			continue;
		rc = l->cb(l->arg, l->name, (uint64_t)st.st_size);
		if (rc != 0)
			break;
	}
	closedir(dir);
	return rc;
}

int dir_list(void *instance, const char *prefix,
	     int (*cb)(void *arg, const char *name, uint64_t size), void *arg)
{
	const struct dir_inst *d = instance;
	struct lister *l;
	char start[PATH_MAX];
	const char *slash;
	size_t len = 0;
	int fd, rc, n;

	if (!prefix)
		prefix = "";
	l = calloc(1, sizeof(*l));
	if (!l)
		return dir_host->error(ARCA_ERR_INTERNAL, "dir: out of memory listing %s", d->root);
	l->d = d;
	l->prefix = prefix;
	l->prefix_len = strlen(prefix);
	l->cb = cb;
	l->arg = arg;

	/* start at the deepest directory the prefix names in full */
	slash = strrchr(prefix, '/');
	if (slash)
		len = (size_t)(slash - prefix) + 1;
	if (len + 1 > sizeof(l->name)) {
		free(l);
		return ARCA_OK;   /* no object can have such a long name */
	}
	memcpy(l->name, prefix, len);
	l->name[len] = '\0';
	if (len > 0) {
		/* the directory part follows the object name rules: no escaping */
		l->name[len - 1] = '\0';
		rc = dir_check_name(d, l->name);
		l->name[len - 1] = '/';
		if (rc != ARCA_OK) {
			free(l);
			return rc;
		}
	}
	n = snprintf(start, sizeof(start), "%s/%s", d->root, l->name);
	if (n < 0 || (size_t)n >= sizeof(start)) {
		free(l);
		return ARCA_OK;
	}
	fd = open(start, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		free(l);
		/* a directory that does not exist holds no objects */
		if (e == ENOENT || (e == ENOTDIR && len > 0))
			return ARCA_OK;
		return dir_errno(d, e, "list", start);
	}
	rc = list_dir(l, fd, len);
	free(l);
	return rc;
}
