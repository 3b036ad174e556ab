/* dir_put.c — durable, atomic object writes.
 *
 * An object is written to a temporary file next to its final name, flushed
 * with fsync, then renamed into place (or, for exclusive puts, hard-linked,
 * which fails if the name exists), and the directory is flushed so the new
 * name survives a crash. A reader therefore sees either no object or the
 * whole object, never a prefix of it.
 *
 * All of it happens inside the object's directory, held open by descriptor
 * (dir_parent): the temporary file is created there with O_EXCL and
 * O_NOFOLLOW, and linkat/renameat never follow a symlink, so a writer of
 * the repository cannot redirect a put elsewhere. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dir.h"

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

/* Write `len` bytes to fd: from `data`, or (data NULL) read from `src` in
 * DIR_IO_BLOCK pieces. 0, or -1 with errno, or a status (> 0) from src or
 * a cancellation. */
static int write_all(int fd, const unsigned char *data, arca_source_fn src, void *arg, uint64_t len)
{
	unsigned char *buf = data ? NULL : malloc(len < DIR_IO_BLOCK ? (size_t)len : DIR_IO_BLOCK);
	uint64_t off = 0;
	int rc = 0;

	if (!data && len && !buf)
		return dir_host->error(ARCA_ERR_INTERNAL, "dir: out of memory");
	while (off < len && rc == 0) {
		size_t piece = len - off < DIR_IO_BLOCK ? (size_t)(len - off) : DIR_IO_BLOCK;
		const unsigned char *p = data ? data + off : buf;

		if (dir_call_cancelled()) {
			rc = dir_host->error(ARCA_ERR_CANCELLED, "interrupted");
			break;
		}
		if (!data && (rc = src(arg, off, buf, piece)) != ARCA_OK)
			break;
		for (size_t done = 0; done < piece;) {
			ssize_t n = write(fd, p + done, piece - done);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				rc = -1;
				break;
			}
			done += (size_t)n;
		}
		if (rc)
			break;
		off += piece;
		dir_call_progress(piece);
	}
	free(buf);
	return rc;
}

/* Create a temporary file for object `base` in directory `dfd`; its name
 * goes to tmp. Returns the fd or -status. */
static int open_tmp(const struct dir_inst *d, int dfd, const char *base, const char *full,
                    char *tmp, size_t cap)
{
	int tries = 0, fd, n;

	for (;;) {
		n = snprintf(tmp, cap, "%s%.120s.%s.%ld.%016llx", DIR_TMP_PREFIX, base, d->host_tag,
		             (long)getpid(), (unsigned long long)tmp_random());
		if (n < 0 || (size_t)n >= cap)
			return -dir_host->error(ARCA_ERR_IO, "dir %s: path for %s is too long",
			                        d->root, full);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		if (errno == EEXIST && ++tries < 16)
			continue;
		return -dir_errno(d, errno, "write", full);
	}
}

/* Put `tmp` in place as `base` (both in `dfd`) only if no object of that
 * name exists. A symlink of that name counts as existing: linkat and a
 * no-replace rename never follow it. */
static int publish_exclusive(const struct dir_inst *d, int dfd, const char *tmp, const char *base,
                             const char *full)
{
	int e;

	if (linkat(dfd, tmp, dfd, base, 0) == 0) {
		unlinkat(dfd, tmp, 0);
		return ARCA_OK;
	}
	e = errno;
	if (e == EPERM || e == EOPNOTSUPP || e == EMLINK || e == ENOSYS) {
		/* filesystems without hard links (vfat, some FUSE): no-replace rename */
		if (renameat2(dfd, tmp, dfd, base, RENAME_NOREPLACE) == 0)
			return ARCA_OK;
		e = errno;
		if (e == EINVAL || e == ENOSYS) {
			unlinkat(dfd, tmp, 0);
			return dir_host->error(ARCA_ERR_UNSUPPORTED,
			                       "dir %s: the filesystem supports neither hard links "
			                       "nor no-replace renames, so exclusive writes of %s "
			                       "cannot be atomic; use a local filesystem "
			                       "(ext4, xfs, btrfs, zfs) or NFS",
			                       d->root, full);
		}
	}
	unlinkat(dfd, tmp, 0);
	if (e == EEXIST)
		return dir_host->error(ARCA_ERR_EXISTS, "dir %s: object %s already exists", d->root,
		                       full);
	return dir_errno(d, e, "write", full);
}

/* The bytes of a put: in memory, or read from a source (put_stream). */
struct put_src {
	const void *data;
	arca_source_fn src;
	void *arg;
	uint64_t len;
};

/* Write data to a new temporary file in dfd and put it in place as base. */
static int put_in(const struct dir_inst *d, int dfd, const char *name, const char *base,
                  const char *full, const struct put_src *ps, unsigned flags)
{
	char tmp[NAME_MAX + 1];
	int fd, e, w;

	fd = open_tmp(d, dfd, base, full, tmp, sizeof(tmp));
	if (fd < 0)
		return -fd;
	w = write_all(fd, ps->src ? NULL : ps->data ? ps->data : "", ps->src, ps->arg, ps->len);
	if (w != 0 || (d->fsync && fsync(fd) != 0)) {
		e = errno;
		close(fd);
		unlinkat(dfd, tmp, 0);
		return w > 0 ? w : dir_errno(d, e, "write", full);
	}
	/* flushed, so its pages are clean and can go at once; the next pack's
	 * writes reuse them instead of taking fresh memory */
	if (d->fsync && d->drop_cache && ps->len >= DIR_DROP_CACHE_MIN)
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (close(fd) != 0) { /* NFS reports deferred write errors here */
		e = errno;
		unlinkat(dfd, tmp, 0);
		return dir_errno(d, e, "write", full);
	}
	if (flags & ARCA_PUT_EXCLUSIVE)
		return publish_exclusive(d, dfd, tmp, base, full);
	if (renameat(dfd, tmp, dfd, base) != 0) {
		e = errno;
		unlinkat(dfd, tmp, 0);
		if (e == EISDIR || e == ENOTEMPTY || e == EEXIST) /* a directory there */
			return dir_not_regular(d, name, S_IFDIR);
		return dir_errno(d, e, "write", full);
	}
	return ARCA_OK;
}

static int put_any(void *instance, const char *name, const struct put_src *ps, unsigned flags)
{
	struct dir_inst *d = instance;
	char full[PATH_MAX];
	const char *base;
	int dfd, rc;

	rc = dir_check_name(d, name);
	if (rc == ARCA_OK)
		rc = dir_object_path(d, name, full, sizeof(full));
	if (rc == ARCA_OK)
		rc = dir_parent(d, name, 1, &dfd, &base);
	if (rc == ARCA_ERR_NOT_FOUND) /* removed again while being made */
		return dir_errno(d, ENOENT, "write", full);
	if (rc != ARCA_OK)
		return rc;
	rc = put_in(d, dfd, name, base, full, ps, flags);
	if (rc == ARCA_OK && d->fsync && dir_sync(dfd) != 0) {
		full[strlen(full) - strlen(base) - 1] = '\0';
		rc = dir_errno(d, errno, "flush directory", full);
	}
	dir_release(d, dfd);
	return rc;
}

int dir_put(void *instance, const char *name, const void *data, size_t len, unsigned flags)
{
	struct put_src ps = {.data = data, .len = len};

	return put_any(instance, name, &ps, flags);
}

int dir_put_stream(void *instance, struct arca_dest_call *call, const char *name, uint64_t size,
                   arca_source_fn source, void *arg, unsigned flags)
{
	struct put_src ps = {.src = source, .arg = arg, .len = size};
	struct arca_dest_call *outer = dir_call_enter(call);
	int rc = put_any(instance, name, &ps, flags);

	dir_call_leave(outer);
	return rc;
}
