/* dir_put.c — durable, atomic object writes.
 *
 * An object is written to a temporary file next to its final name, flushed
 * with fsync, then renamed into place (or, for exclusive puts, hard-linked,
 * which fails if the name exists), and the directory is flushed so the new
 * name survives a crash. A reader therefore sees either no object or the
 * whole object, never a prefix of it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dir.h"

/* Flush a directory so the names created in it are durable. */
static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int saved;

	if (fd < 0)
		return -1;
	if (fsync(fd) != 0 && errno != EINVAL) {   /* EINVAL: fs without dir fsync */
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	return 0;
}

/* mkdir -p for `path` (a directory under the root) with mode 0700; each
 * parent of a directory created here is flushed. */
static int make_dirs(const struct dir_inst *d, char *path)
{
	char *slash;
	int rc;

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
	rc = make_dirs(d, path);
	*slash = '/';
	if (rc != ARCA_OK)
		return rc;
	if (mkdir(path, 0700) != 0) {
		if (errno == EEXIST)   /* another thread made it meanwhile */
			return ARCA_OK;
		return dir_errno(d, errno, "create directory", path);
	}
created:
	if (!d->fsync)
		return ARCA_OK;
	slash = strrchr(path, '/');
	if (slash && slash != path) {
		*slash = '\0';
		rc = fsync_dir(path);
		*slash = '/';
		if (rc != 0)
			return dir_errno(d, errno, "flush directory", path);
	}
	return ARCA_OK;
}

static uint64_t tmp_random(void)
{
	uint64_t r;
	struct timespec ts;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	/* O_EXCL catches collisions; this only has to make them rare */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)&r;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		size_t chunk = len < DIR_IO_BLOCK ? len : DIR_IO_BLOCK;
		ssize_t n = write(fd, p, chunk);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Create the temporary file in `dirpath` (made if missing); fd or -status. */
static int open_tmp(const struct dir_inst *d, char *dirpath, const char *base, const char *full,
		    char *tmp, size_t cap)
{
	int made = 0, tries = 0, fd, rc, n;

	for (;;) {
		n = snprintf(tmp, cap, "%s/%s%.120s.%ld.%016llx", dirpath, DIR_TMP_PREFIX, base,
			     (long)getpid(), (unsigned long long)tmp_random());
		if (n < 0 || (size_t)n >= cap)
			return -dir_host->error(ARCA_ERR_IO, "dir %s: path for %s is too long",
						d->root, full);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		if (errno == EEXIST && ++tries < 16)
			continue;
		if (errno == ENOENT && !made) {
			made = 1;
			rc = make_dirs(d, dirpath);
			if (rc != ARCA_OK)
				return -rc;
			continue;
		}
		return -dir_errno(d, errno, "write", full);
	}
}

/* Put `tmp` in place as `full` only if no object of that name exists. */
static int publish_exclusive(const struct dir_inst *d, const char *tmp, const char *full)
{
	int e;

	if (link(tmp, full) == 0) {
		unlink(tmp);
		return ARCA_OK;
	}
	e = errno;
	if (e == EPERM || e == EOPNOTSUPP || e == EMLINK || e == ENOSYS) {
		/* filesystems without hard links (vfat, some FUSE): no-replace rename */
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, full, RENAME_NOREPLACE) == 0)
			return ARCA_OK;
		e = errno;
		if (e == EINVAL || e == ENOSYS) {
			unlink(tmp);
			return dir_host->error(ARCA_ERR_UNSUPPORTED,
					       "dir %s: the filesystem supports neither hard links "
					       "nor no-replace renames, so exclusive writes of %s "
					       "cannot be atomic; use a local filesystem "
					       "(ext4, xfs, btrfs, zfs) or NFS",
					       d->root, full);
		}
	}
	unlink(tmp);
	if (e == EEXIST)
		return dir_host->error(ARCA_ERR_EXISTS, "dir %s: object %s already exists",
				       d->root, full);
	return dir_errno(d, e, "write", full);
}

int dir_put(void *instance, const char *name, const void *data, size_t len, unsigned flags)
{
	const struct dir_inst *d = instance;
	char full[PATH_MAX], dirpath[PATH_MAX], tmp[PATH_MAX];
	const char *base;
	char *slash;
	int fd, rc, e;

	rc = dir_check_name(d, name);
	if (rc == ARCA_OK)
		rc = dir_object_path(d, name, full, sizeof(full));
	if (rc != ARCA_OK)
		return rc;
	memcpy(dirpath, full, strlen(full) + 1);
	slash = strrchr(dirpath, '/');   /* exists: full is root + "/" + name */
	*slash = '\0';
	base = full + (slash - dirpath) + 1;

	fd = open_tmp(d, dirpath, base, full, tmp, sizeof(tmp));
	if (fd < 0)
		return -fd;
	if (write_all(fd, data, len) != 0 || (d->fsync && fsync(fd) != 0)) {
		e = errno;
		close(fd);
		unlink(tmp);
		return dir_errno(d, e, "write", full);
	}
	if (close(fd) != 0) {   /* NFS reports deferred write errors here */
		e = errno;
		unlink(tmp);
		return dir_errno(d, e, "write", full);
	}

	if (flags & ARCA_PUT_EXCLUSIVE) {
		rc = publish_exclusive(d, tmp, full);
		if (rc != ARCA_OK)
			return rc;
	} else if (rename(tmp, full) != 0) {
		e = errno;
		unlink(tmp);
		return dir_errno(d, e, "write", full);
	}
	if (d->fsync && fsync_dir(dirpath) != 0)
		return dir_errno(d, errno, "flush directory", dirpath);
	return ARCA_OK;
}
