/* dir_read.c — reading the repository directory: get (with byte ranges),
 * list (recursive, by name prefix), stat and remove. Everything is reached
 * from directory descriptors without following symlinks (see dir.h). */
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

static int not_found(const struct dir_inst *d, const char *name)
{
	return dir_host->error(ARCA_ERR_NOT_FOUND, "dir %s: object %s not found", d->root, name);
}

/* Look at object `name` (`base` in directory dfd) without following a
 * symlink: ARCA_OK with *st only for a regular file. */
static int stat_object(const struct dir_inst *d, int dfd, const char *name, const char *base,
                       const char *path, struct stat *st)
{
	if (fstatat(dfd, base, st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? not_found(d, name) : dir_errno(d, errno, "stat", path);
	if (!S_ISREG(st->st_mode))
		return dir_not_regular(d, name, st->st_mode);
	return ARCA_OK;
}

/* Open object `name` for reading: a regular file only, checked before the
 * open (a device is not even opened) and again on the descriptor, as it
 * may have been swapped meanwhile; O_NONBLOCK so a FIFO cannot hang us. */
static int open_object(const struct dir_inst *d, int dfd, const char *name, const char *base,
                       const char *path, int *out, struct stat *st)
{
	int fd, rc, e;

	rc = stat_object(d, dfd, name, base, path, st);
	if (rc != ARCA_OK)
		return rc;
	fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return not_found(d, name);
		if (errno == ELOOP)
			return dir_not_regular(d, name, S_IFLNK);
		return dir_errno(d, errno, "read", path);
	}
	if (fstat(fd, st) != 0) {
		e = errno;
		close(fd);
		return dir_errno(d, e, "read", path);
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return dir_not_regular(d, name, st->st_mode);
	}
	*out = fd;
	return ARCA_OK;
}

/* Check `name`, build its path (for messages) and open its directory. */
static int locate(struct dir_inst *d, const char *name, char *path, int *dfd, const char **base)
{
	int rc = dir_check_name(d, name);

	if (rc == ARCA_OK)
		rc = dir_object_path(d, name, path, PATH_MAX);
	if (rc == ARCA_OK)
		rc = dir_parent(d, name, 0, dfd, base);
	return rc;
}

/* Send bytes [offset, end) of the open object to sink. */
static int send_range(const struct dir_inst *d, int fd, const char *path, uint64_t offset,
                      uint64_t end, arca_sink_fn sink, void *arg)
{
	unsigned char *buf;
	int rc = ARCA_OK;

	if (end > offset)
		posix_fadvise(fd, (off_t)offset, (off_t)(end - offset), POSIX_FADV_SEQUENTIAL);
	buf = malloc(DIR_IO_BLOCK);
	if (!buf)
		return dir_host->error(ARCA_ERR_INTERNAL, "dir: out of memory reading %s", path);
	while (offset < end) {
		size_t want = end - offset < DIR_IO_BLOCK ? (size_t)(end - offset) : DIR_IO_BLOCK;
		ssize_t n = pread_full(fd, buf, want, (off_t)offset);

		if (n < 0) {
			rc = dir_errno(d, errno, "read", path);
			break;
		}
		if ((size_t)n < want) {
			rc = dir_host->error(
			    ARCA_ERR_CORRUPT, "dir %s: %s ended at byte %llu while being read",
			    d->root, path, (unsigned long long)(offset + (uint64_t)n));
			break;
		}
		rc = sink(arg, buf, (size_t)n);
		if (rc != 0)
			break;
		offset += (uint64_t)n;
		dir_call_progress((uint64_t)n);
		if (dir_call_cancelled()) {
			rc = dir_host->error(ARCA_ERR_CANCELLED, "interrupted");
			break;
		}
	}
	free(buf);
	return rc;
}

int dir_get(void *instance, const char *name, uint64_t offset, uint64_t length, arca_sink_fn sink,
            void *arg)
{
	struct dir_inst *d = instance;
	char path[PATH_MAX];
	const char *base;
	struct stat st;
	uint64_t size, end;
	int dfd, fd = -1, rc, e;

	rc = locate(d, name, path, &dfd, &base);
	if (rc == ARCA_ERR_NOT_FOUND)
		return not_found(d, name);
	if (rc != ARCA_OK)
		return rc;
	rc = open_object(d, dfd, name, base, path, &fd, &st);
	dir_release(d, dfd);
	if (rc != ARCA_OK)
		return rc;
	size = (uint64_t)st.st_size;
	end = length == UINT64_MAX ? size : offset + length;
	if (offset > size || end < offset || end > size) {
		/* the caller knows the object's length from the index */
		rc = dir_host->error(
		    ARCA_ERR_CORRUPT,
		    "dir %s: %s has %llu bytes but bytes up to %llu were "
		    "requested: the object is truncated",
		    d->root, path, (unsigned long long)size,
		    (unsigned long long)(end < offset || offset > size ? offset : end));
	} else {
		rc = send_range(d, fd, path, offset, end, sink, arg);
		/* a pack's bytes are read once per restore or verify: they leave
		 * the page cache as they were written (option drop_cache) */
		if (rc == ARCA_OK && d->drop_cache && size >= DIR_DROP_CACHE_MIN)
			posix_fadvise(fd, (off_t)offset, (off_t)(end - offset),
			              POSIX_FADV_DONTNEED);
	}
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

int dir_stat_st(void *instance, const char *name, struct stat *st)
{
	struct dir_inst *d = instance;
	char path[PATH_MAX];
	const char *base;
	int dfd, rc;

	rc = locate(d, name, path, &dfd, &base);
	if (rc == ARCA_ERR_NOT_FOUND)
		return not_found(d, name);
	if (rc != ARCA_OK)
		return rc;
	rc = stat_object(d, dfd, name, base, path, st);
	dir_release(d, dfd);
	return rc;
}

int dir_stat(void *instance, const char *name, uint64_t *size)
{
	struct stat st;
	int rc = dir_stat_st(instance, name, &st);

	if (rc == ARCA_OK)
		*size = (uint64_t)st.st_size;
	return rc;
}

/* Removing is not flushed: a removed object that comes back after a crash
 * is unreferenced (prune deletes only what the new index no longer needs)
 * and the next prune removes it again. Only a regular file is removed: a
 * symlink in its place is reported, not removed (nor anything it names). */
int dir_remove(void *instance, const char *name)
{
	struct dir_inst *d = instance;
	char path[PATH_MAX];
	const char *base;
	struct stat st;
	int dfd, rc;

	rc = locate(d, name, path, &dfd, &base);
	if (rc == ARCA_ERR_NOT_FOUND)
		return ARCA_OK;
	if (rc != ARCA_OK)
		return rc;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0)
		rc = errno == ENOENT ? ARCA_OK : dir_errno(d, errno, "remove", path);
	else if (!S_ISREG(st.st_mode))
		rc = dir_not_regular(d, name, st.st_mode);
	else if (unlinkat(dfd, base, 0) != 0 && errno != ENOENT)
		rc = dir_errno(d, errno, "remove", path);
	dir_release(d, dfd);
	return rc;
}

/* ---- list ---------------------------------------------------------- */

struct lister {
	const struct dir_inst *d;
	const char *prefix;
	size_t prefix_len;
	int (*cb)(void *arg, const char *name, uint64_t size);
	void *arg;
	char name[PATH_MAX]; /* object name of the entry being looked at */
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

static int list_dir(struct lister *l, int fd, size_t len);

/* An entry list does not follow. A symlink is worth a warning (someone
 * put it there); nothing else that is not a file or directory is. */
static void skip_entry(const struct lister *l, size_t len, mode_t mode)
{
	if (S_ISLNK(mode) && dir_may_match(l, len) && dir_host->log)
		dir_host->log(ARCA_LOG_WARN,
		              "dir %s: skipping %s: a symbolic link, never followed inside "
		              "the repository; the repository may have been tampered with",
		              l->d->root, l->name);
}

/* Look at entry l->name[len..len+n), named `base`, in directory dfd. */
static int list_entry(struct lister *l, int dfd, const char *base, size_t len, size_t n)
{
	struct stat st;
	int sub;

	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT) /* removed while listing */
			return ARCA_OK;
		return dir_errno(l->d, errno, "list", l->name);
	}
	if (S_ISREG(st.st_mode)) {
		if (len + n < l->prefix_len || memcmp(l->name, l->prefix, l->prefix_len) != 0)
			return ARCA_OK;
		return l->cb(l->arg, l->name, (uint64_t)st.st_size);
	}
	if (!S_ISDIR(st.st_mode)) {
		skip_entry(l, len + n, st.st_mode);
		return ARCA_OK;
	}
	l->name[len + n] = '/';
	l->name[len + n + 1] = '\0';
	if (!dir_may_match(l, len + n + 1))
		return ARCA_OK;
	sub = openat(dfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0) {
		/* removed, or swapped for something else, while listing */
		if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR)
			return ARCA_OK;
		return dir_errno(l->d, errno, "list", l->name);
	}
	return list_dir(l, sub, len + n + 1);
}

/* List the directory open as `fd` whose object-name prefix is l->name[0..len)
 * (empty, or ending in '/'). Takes ownership of fd. */
static int list_dir(struct lister *l, int fd, size_t len)
{
	DIR *dir = fdopendir(fd);
	struct dirent *de;
	int rc = ARCA_OK;
	size_t n;

	if (!dir) {
		close(fd);
		return dir_errno(l->d, errno, "list", l->d->root);
	}
	for (;;) {
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
			continue; /* put could never have created it */
		memcpy(l->name + len, de->d_name, n + 1);
		rc = list_entry(l, dirfd(dir), de->d_name, len, n);
		if (rc != 0)
			break;
	}
	closedir(dir);
	return rc;
}

int dir_list(void *instance, const char *prefix,
             int (*cb)(void *arg, const char *name, uint64_t size), void *arg)
{
	struct dir_inst *d = instance;
	struct lister *l;
	const char *slash;
	size_t len = 0;
	int fd, rc;

	if (!prefix)
		prefix = "";
	/* start at the deepest directory the prefix names in full */
	slash = strrchr(prefix, '/');
	if (slash)
		len = (size_t)(slash - prefix) + 1;
	if (len + 1 > PATH_MAX)
		return ARCA_OK; /* no object can have such a long name */
	l = calloc(1, sizeof(*l));
	if (!l)
		return dir_host->error(ARCA_ERR_INTERNAL, "dir: out of memory listing %s", d->root);
	l->d = d;
	l->prefix = prefix;
	l->prefix_len = strlen(prefix);
	l->cb = cb;
	l->arg = arg;
	memcpy(l->name, prefix, len);
	l->name[len] = '\0';
	rc = ARCA_OK;
	if (len > 0) {
		/* the directory part follows the object name rules: no escaping */
		l->name[len - 1] = '\0';
		rc = dir_check_name(d, l->name);
		l->name[len - 1] = '/';
	}
	if (rc == ARCA_OK)
		rc = dir_open_dirs(d, l->name, len ? len - 1 : 0, 0, &fd);
	if (rc == ARCA_OK && len == 0) {
		/* readdir moves the offset: never share it with other threads */
		fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			rc = dir_errno(d, errno, "list", d->root);
	}
	if (rc == ARCA_OK)
		rc = list_dir(l, fd, len);
	else if (rc == ARCA_ERR_NOT_FOUND)
		rc = ARCA_OK; /* a directory that does not exist holds no objects */
	free(l);
	return rc;
}
