/* dir_walk.c — reaching directories below the repository root by
 * descriptor, one component at a time, never following a symlink: a
 * writer of the repository directory must not be able to send a read, a
 * write or a delete anywhere else. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dir.h"

int dir_sync(int fd)
{
	if (fsync(fd) != 0 && errno != EINVAL) /* EINVAL: fs without dir fsync */
		return -1;
	return 0;
}

const char *dir_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFDIR:
		return "a directory";
	case S_IFLNK:
		return "a symbolic link";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	default:
		return "of unknown type";
	}
}

int dir_not_regular(const struct dir_inst *d, const char *name, mode_t mode)
{
	return dir_host->error(ARCA_ERR_CORRUPT,
	                       "dir %s: %s is not a regular file (%s); the repository may have "
	                       "been tampered with",
	                       d->root, name, dir_kind(mode));
}

/* path[0..len) is something other than a directory, of `mode`. */
static int not_dir(const struct dir_inst *d, const char *path, size_t len, mode_t mode)
{
	return dir_host->error(ARCA_ERR_CORRUPT,
	                       "dir %s: %.*s is not a directory (%s); the repository may have "
	                       "been tampered with",
	                       d->root, (int)len, path, dir_kind(mode));
}

/* dir_errno for the directory path[0..len) below the root. */
static int dir_errno_at(const struct dir_inst *d, int err, const char *verb, const char *path,
                        size_t len)
{
	char full[PATH_MAX];

	snprintf(full, sizeof(full), "%s%s%.*s", d->root, len ? "/" : "", (int)len, path);
	return dir_errno(d, err, verb, full);
}

/* mkdir -p for `path` (the configured root, which may lead through
 * symlinks the admin set up) with mode 0700; each parent of a directory
 * created here is flushed. */
static int make_root(const struct dir_inst *d, char *path)
{
	char *slash;
	int rc, fd;

	if (mkdir(path, 0700) == 0)
		goto created;
	if (errno == EEXIST)
		return ARCA_OK;
	if (errno != ENOENT)
		return dir_errno(d, errno, "create directory", path);
	slash = strrchr(path, '/');
	if (!slash || slash == path)
		return dir_errno(d, ENOENT, "create directory", path);
	*slash = '\0';
	rc = make_root(d, path);
	*slash = '/';
	if (rc != ARCA_OK)
		return rc;
	if (mkdir(path, 0700) != 0) {
		if (errno == EEXIST) /* another thread made it meanwhile */
			return ARCA_OK;
		return dir_errno(d, errno, "create directory", path);
	}
created:
	slash = strrchr(path, '/');
	if (!d->fsync || !slash || slash == path)
		return ARCA_OK;
	*slash = '\0';
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = fd >= 0 && dir_sync(fd) == 0 ? ARCA_OK : dir_errno(d, errno, "flush directory", path);
	if (fd >= 0)
		close(fd);
	*slash = '/';
	return rc;
}

/* The root's descriptor. A root missing at open is looked for again (and
 * made, with `create`); the first descriptor installed is kept for good. */
static int root_fd(struct dir_inst *d, int create, int *out)
{
	char path[PATH_MAX];
	int fd = atomic_load(&d->root_fd), none = -1, rc;

	if (fd >= 0) {
		*out = fd;
		return ARCA_OK;
	}
	fd = open(d->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		snprintf(path, sizeof(path), "%s", d->root);
		rc = make_root(d, path);
		if (rc != ARCA_OK)
			return rc;
		fd = open(d->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0) {
		if (errno == ENOENT)
			return ARCA_ERR_NOT_FOUND;
		return dir_errno(d, errno, "open", d->root);
	}
	if (!atomic_compare_exchange_strong(&d->root_fd, &none, fd)) {
		close(fd); /* another thread was first */
		fd = none;
	}
	*out = fd;
	return ARCA_OK;
}

void dir_release(struct dir_inst *d, int fd)
{
	if (fd >= 0 && fd != atomic_load(&d->root_fd))
		close(fd);
}

/* Open directory path[start..len) inside `at`, the directory path[0..start). */
static int open_sub(struct dir_inst *d, int at, const char *path, size_t start, size_t len,
                    int create, int *out)
{
	char comp[NAME_MAX + 1];
	struct stat st;
	int fd, e, made = 0;

	if (len - start > NAME_MAX)
		return dir_errno_at(d, ENAMETOOLONG, "open directory", path, len);
	memcpy(comp, path + start, len - start);
	comp[len - start] = '\0';
	for (;;) {
		fd = openat(at, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			*out = fd;
			return ARCA_OK;
		}
		if (errno != ENOENT || !create || made)
			break;
		made = 1;
		if (mkdirat(at, comp, 0700) == 0) {
			if (d->fsync && dir_sync(at) != 0)
				return dir_errno_at(d, errno, "flush directory", path,
				                    start ? start - 1 : 0);
		} else if (errno != EEXIST) { /* EEXIST: another thread made it */
			return dir_errno_at(d, errno, "create directory", path, len);
		}
	}
	e = errno;
	if (e == ENOENT)
		return ARCA_ERR_NOT_FOUND;
	/* O_NOFOLLOW gives ELOOP on a symlink, O_DIRECTORY ENOTDIR on the rest */
	if ((e == ELOOP || e == ENOTDIR) && fstatat(at, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISDIR(st.st_mode))
		return not_dir(d, path, len, st.st_mode);
	return dir_errno_at(d, e, "open directory", path, len);
}

int dir_open_dirs(struct dir_inst *d, const char *path, size_t len, int create, int *fd)
{
	size_t start = 0, end;
	const char *slash;
	int at, sub, rc;

	rc = root_fd(d, create, &at);
	while (rc == ARCA_OK && start < len) {
		slash = memchr(path + start, '/', len - start);
		end = slash ? (size_t)(slash - path) : len;
		rc = open_sub(d, at, path, start, end, create, &sub);
		dir_release(d, at);
		if (rc != ARCA_OK)
			return rc;
		at = sub;
		start = end + 1;
	}
	if (rc == ARCA_OK)
		*fd = at;
	return rc;
}

int dir_parent(struct dir_inst *d, const char *name, int create, int *fd, const char **base)
{
	const char *slash = strrchr(name, '/');

	*base = slash ? slash + 1 : name;
	return dir_open_dirs(d, name, slash ? (size_t)(slash - name) : 0, create, fd);
}
