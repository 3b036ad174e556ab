/* files_restore.c — writing a stored tree back.
 *
 * The restore root is --into, else the configured path. A non-empty root is
 * refused unless --overwrite is given; with it, files and symlinks from the
 * snapshot replace what is there and everything else is left alone. Items
 * are written into a staging directory that reaches the root only once the
 * whole snapshot was read (files_stage.c): a failed or interrupted restore
 * leaves the root as it was.
 *
 * Safety: every item name is checked, and every directory is opened
 * relative to its parent with O_NOFOLLOW, so neither a hostile snapshot nor
 * a symlink already in the target can make a write land outside the root.
 * Files are written under a temporary name and renamed into place.
 * Directory modes and mtimes are applied last, deepest first: a read-only
 * directory cannot receive its files, and each file written into a
 * directory changes the directory's mtime.
 *
 * A hard-link item (metadata "hardlink=FIRST", see files.h) is linked to
 * FIRST, which an earlier item restored, under a temporary name that is
 * then renamed into place like a file. When the link cannot be made (the
 * filesystem refuses links, FIRST is on another mount or is missing) it is
 * restored as a copy, with a warning: of FIRST as restored, else of FIRST's
 * content read from the snapshot.
 *
 * A fifo or device item (files.h) is made under a temporary name (mkfifoat,
 * mknodat), given its owner, mode and mtime, and renamed into place. Only
 * root may make a device node: as anyone else each is named in a warning
 * and left out, and the restore goes on. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "files.h"

struct dir_meta {
	char *name;
	size_t depth, order;
	uint32_t mode, uid, gid;
	int64_t mtime_sec;
	int32_t mtime_nsec;
};

struct restore {
	struct arca_ctx *ctx;
	const char *root; /* where items are written, shown in messages */
	const char *dest; /* the restore root the user named */
	int rootfd;
	int overwrite, as_root;
	char *cur_parent; /* relpath of the cached parent directory */
	int cur_fd;
	struct dir_meta *dirs;
	size_t n_dirs, cap_dirs;
	unsigned char *buf; /* FILES_IO_BLOCK bytes */
	unsigned long tmp_seq;
};

static int rs_errno(const struct restore *rs, int err, const char *verb, const char *name)
{
	const char *hint;
	int status = files_errno_status(err, &hint);

	return files_host->error(status, "files: cannot %s %s%s%s: %s%s", verb, rs->root,
	                         name[0] ? "/" : "", name, strerror(err), hint);
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

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

#define HOLE_GRAIN 4096

static int all_zero(const unsigned char *p, size_t n)
{
	return n > 0 && p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

/* Write, seeking over runs of zeroed 4 KiB pieces instead, so sparse files
 * (VM images, database files) stay sparse. The caller sets the final length
 * with ftruncate, which covers a trailing hole. */
static int write_sparse(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		size_t run = 0, k;
		int zero = all_zero(p, len < HOLE_GRAIN ? len : HOLE_GRAIN);

		while (run < len) {
			k = len - run < HOLE_GRAIN ? len - run : HOLE_GRAIN;
			if (all_zero(p + run, k) != zero)
				break;
			run += k;
		}
		if (zero ? lseek(fd, (off_t)run, SEEK_CUR) < 0 : write_all(fd, p, run) != 0)
			return -1;
		p += run;
		len -= run;
	}
	return 0;
}

static void forget_parent(struct restore *rs)
{
	if (rs->cur_fd >= 0 && rs->cur_fd != rs->rootfd)
		close(rs->cur_fd);
	rs->cur_fd = -1;
	free(rs->cur_parent);
	rs->cur_parent = NULL;
}

/* The directory that holds item `name` (opened, made if missing); *base is
 * set to the last part of name. Returns an fd owned by rs, or -status. */
static int open_parent(struct restore *rs, const char *name, const char **base)
{
	const char *slash = strrchr(name, '/');
	char *parent, *part, *next;
	int fd, nfd;

	if (!slash) {
		*base = name;
		return rs->rootfd;
	}
	*base = slash + 1;
	if (rs->cur_parent && strlen(rs->cur_parent) == (size_t)(slash - name) &&
	    memcmp(rs->cur_parent, name, (size_t)(slash - name)) == 0)
		return rs->cur_fd;

	forget_parent(rs);
	parent = strndup(name, (size_t)(slash - name));
	if (!parent)
		return -rs_errno(rs, ENOMEM, "restore", name);
	fd = rs->rootfd;
	for (part = parent; part; part = next) {
		next = strchr(part, '/');
		if (next)
			*next = '\0';
		nfd = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT) {
			/* the snapshot lacks this directory's item: make it private */
			if (mkdirat(fd, part, 0700) != 0 && errno != EEXIST)
				goto fail;
			nfd = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (nfd < 0)
			goto fail;
		if (fd != rs->rootfd)
			close(fd);
		fd = nfd;
		if (next)
			*next++ = '/';
	}
	rs->cur_parent = parent;
	rs->cur_fd = fd;
	return fd;
fail : {
	int err = errno, rc;

	if (fd != rs->rootfd)
		close(fd);
	if (err == ENOTDIR || err == ELOOP)
		rc = files_host->error(ARCA_ERR_EXISTS,
		                       "files: cannot restore %s/%s: %s is not a "
		                       "directory (a file or a symlink); refusing to write "
		                       "through it",
		                       rs->root, name, parent);
	else
		rc = rs_errno(rs, err, "open directory", parent);
	free(parent);
	return -rc;
}
}

static void tmp_name(struct restore *rs, char *tmp, size_t cap)
{
	snprintf(tmp, cap, ".arca-restore.%ld.%lu", (long)getpid(), rs->tmp_seq++);
}

/* Create a unique temporary name next to the item; fd or -status. */
static int make_tmp(struct restore *rs, int pfd, const char *name, const char *link_target,
                    char *tmp, size_t cap)
{
	for (;;) {
		int fd = 0;

		tmp_name(rs, tmp, cap);
		if (link_target) {
			if (symlinkat(link_target, pfd, tmp) != 0)
				fd = -1;
		} else {
			fd = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			            0600);
		}
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return -rs_errno(rs, errno, "create", name);
	}
}

/* Rename tmp over base; with --overwrite a directory in the way goes. */
static int put_in_place(struct restore *rs, int pfd, const char *tmp, const char *base,
                        const char *name)
{
	int err;

	if (renameat(pfd, tmp, pfd, base) == 0)
		return ARCA_OK;
	err = errno;
	if (rs->overwrite && (err == EISDIR || err == ENOTEMPTY || err == EEXIST)) {
		/* the cache may sit inside what goes, unless it is pfd itself
		 * (base's parent), which must stay open for the rename */
		if (pfd != rs->cur_fd)
			forget_parent(rs);
		if (files_remove_tree(pfd, base) == 0 && renameat(pfd, tmp, pfd, base) == 0)
			return ARCA_OK;
		err = errno;
	}
	unlinkat(pfd, tmp, 0);
	if (err == EISDIR || err == ENOTEMPTY || err == EEXIST)
		return files_host->error(ARCA_ERR_EXISTS,
		                         "files: cannot restore %s/%s: a directory is in the way; "
		                         "pass --overwrite to replace it",
		                         rs->root, name);
	return rs_errno(rs, err, "rename into", name);
}

static void item_times(const struct arca_item_info *info, struct timespec ts[2])
{
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT; /* atime: leave as the restore made it */
	ts[1].tv_sec = (time_t)info->mtime_sec;
	ts[1].tv_nsec = info->mtime_nsec;
}

static int interrupted(const struct restore *rs)
{
	return files_host->error(ARCA_ERR_CANCELLED, "files: restore into %s interrupted",
	                         rs->dest);
}

/* Next piece of content: from the current item (src < 0) or read from the
 * restored file src (src_name, for messages); *got == 0 at the end. */
static int read_piece(struct restore *rs, int src, const char *src_name, size_t *got)
{
	ssize_t n;

	*got = 0;
	if (src < 0)
		return files_host->item_read(rs->ctx, rs->buf, FILES_IO_BLOCK, got);
	if (files_host->cancelled(rs->ctx))
		return interrupted(rs);
	do
		n = read(src, rs->buf, FILES_IO_BLOCK);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return rs_errno(rs, errno, "read", src_name);
	*got = (size_t)n;
	return ARCA_OK;
}

/* Write file item `info` (name and metadata) with content from the current
 * item (src < 0; it must be `want` bytes long unless that is UINT64_MAX,
 * src_name names it in messages) or copied from the open file src. */
static int write_file(struct restore *rs, const struct arca_item_info *info, int src,
                      const char *src_name, uint64_t want)
{
	struct timespec ts[2];
	const char *base;
	char tmp[64];
	uint64_t total = 0;
	int pfd, fd, rc, err;

	pfd = open_parent(rs, info->name, &base);
	if (pfd < 0)
		return -pfd;
	fd = make_tmp(rs, pfd, info->name, NULL, tmp, sizeof(tmp));
	if (fd < 0)
		return -fd;
	for (;;) {
		size_t got;

		rc = read_piece(rs, src, src_name, &got);
		if (rc != ARCA_OK)
			goto fail;
		if (got == 0)
			break;
		if (write_sparse(fd, rs->buf, got) != 0) {
			rc = rs_errno(rs, errno, "write", info->name);
			goto fail;
		}
		total += got;
	}
	if (ftruncate(fd, (off_t)total) != 0) { /* the length a trailing hole left out */
		rc = rs_errno(rs, errno, "write", info->name);
		goto fail;
	}
	if (want != UINT64_MAX && total != want) {
		rc = files_host->error(ARCA_ERR_CORRUPT,
		                       "files: item %s has %" PRIu64 " bytes of content but the "
		                       "snapshot recorded %" PRIu64,
		                       src_name, total, want);
		goto fail;
	}
	/* owner first: chown clears set-id bits that chmod then sets */
	if (rs->as_root && fchown(fd, info->uid, info->gid) != 0 && errno != EPERM &&
	    errno != EINVAL) {
		rc = rs_errno(rs, errno, "set the owner of", info->name);
		goto fail;
	}
	item_times(info, ts);
	if (fchmod(fd, info->mode & 07777) != 0 || futimens(fd, ts) != 0) {
		rc = rs_errno(rs, errno, "set the metadata of", info->name);
		goto fail;
	}
	if (close(fd) != 0) { /* deferred write errors (NFS, quotas) */
		fd = -1;
		rc = rs_errno(rs, errno, "write", info->name);
		goto fail;
	}
	return put_in_place(rs, pfd, tmp, base, info->name);
fail:
	err = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(pfd, tmp, 0);
	errno = err;
	return rc;
}

static int restore_file(struct restore *rs, const struct arca_item_info *info)
{
	return write_file(rs, info, -1, info->name, info->size);
}

/* The directory holding `name` below the root, opened without creating
 * or following anything and without touching the parent cache; *base is
 * set to the last part. A new fd, or -1 with errno set. */
static int open_dir_of(struct restore *rs, const char *name, const char **base)
{
	const char *slash = strrchr(name, '/');
	char *parent, *part, *next;
	int fd, nfd, err = 0;

	*base = slash ? slash + 1 : name;
	fd = fcntl(rs->rootfd, F_DUPFD_CLOEXEC, 0);
	if (!slash || fd < 0)
		return fd;
	parent = strndup(name, (size_t)(slash - name));
	if (!parent) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	for (part = parent; part; part = next) {
		next = strchr(part, '/');
		if (next)
			*next++ = '\0';
		nfd = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		err = errno;
		close(fd);
		fd = nfd;
		if (fd < 0)
			break;
	}
	free(parent);
	errno = err;
	return fd;
}

/* The fallback of last resort: `first`'s content read from the snapshot.
 * The item is reopened afterwards, so item_next goes on after it. */
static int copy_from_snapshot(struct restore *rs, const struct arca_item_info *info,
                              const char *first)
{
	struct arca_item_info link = *info, src;
	char *name = strdup(info->name), *from = strdup(first);
	int rc;

	if (!name || !from) {
		rc = rs_errno(rs, ENOMEM, "restore", info->name);
		goto out;
	}
	/* info's strings die with the next item_open */
	link.name = name;
	link.meta = NULL;
	link.link_target = NULL;
	link.fingerprint = NULL;
	memset(&src, 0, sizeof(src));
	src.struct_size = sizeof(src);
	rc = files_host->item_open(rs->ctx, from, &src);
	if (rc == ARCA_ERR_NOT_FOUND) {
		rc = files_host->error(ARCA_ERR_CORRUPT,
		                       "files: item %s is a hard link to %s, which the snapshot "
		                       "does not hold; the snapshot is damaged",
		                       name, from);
		goto out;
	}
	if (rc != ARCA_OK)
		goto out;
	if (src.type != ARCA_ITEM_FILE || src.meta) {
		rc = files_host->error(ARCA_ERR_CORRUPT,
		                       "files: item %s is a hard link to %s, which is not a "
		                       "file with content in the snapshot; the snapshot is "
		                       "damaged",
		                       name, from);
		goto out;
	}
	rc = write_file(rs, &link, -1, from, src.size);
	if (rc == ARCA_OK) {
		memset(&src, 0, sizeof(src));
		src.struct_size = sizeof(src);
		rc = files_host->item_open(rs->ctx, name, &src);
	}
out:
	free(name);
	free(from);
	return rc;
}

/* A later path of a file stored once: link it to `first`, restored before
 * it; copy when that cannot be done. The inode already carries the item's
 * metadata (the snapshot links only an unchanged inode). */
static int restore_hardlink(struct restore *rs, const struct arca_item_info *info,
                            const char *first)
{
	struct stat st, cur;
	const char *base, *fbase, *why = NULL;
	char tmp[64];
	int sdfd, pfd, src, rc;

	if (info->size != 0)
		return files_host->error(ARCA_ERR_CORRUPT,
		                         "files: hard-link item %s records %" PRIu64 " bytes of "
		                         "content; the snapshot is damaged",
		                         info->name, info->size);
	if (!files_name_safe(first) || !strcmp(first, info->name))
		return files_host->error(ARCA_ERR_CORRUPT,
		                         "files: refusing hard-link item %s: it names \"%s\" as "
		                         "its first path, which is %s; the snapshot is damaged "
		                         "or hostile",
		                         info->name, first,
		                         strcmp(first, info->name) ? "not a safe relative path"
		                                                   : "itself");
	pfd = open_parent(rs, info->name, &base);
	if (pfd < 0)
		return -pfd;
	sdfd = open_dir_of(rs, first, &fbase);
	if (sdfd < 0) {
		why = strerror(errno);
		goto copy;
	}
	for (;;) {
		tmp_name(rs, tmp, sizeof(tmp));
		if (linkat(sdfd, fbase, pfd, tmp, 0) == 0)
			break;
		if (errno != EEXIST) {
			why = strerror(errno);
			goto copy;
		}
	}
	/* a link to a symlink or a directory would not be the file */
	if (fstatat(pfd, tmp, &st, AT_SYMLINK_NOFOLLOW) != 0)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "it is not a regular file";
	if (why) {
		unlinkat(pfd, tmp, 0);
		goto copy;
	}
	close(sdfd);
	/* rename() does nothing when both names are links of one inode */
	if (fstatat(pfd, base, &cur, AT_SYMLINK_NOFOLLOW) == 0 && cur.st_dev == st.st_dev &&
	    cur.st_ino == st.st_ino) {
		unlinkat(pfd, tmp, 0);
		return ARCA_OK;
	}
	return put_in_place(rs, pfd, tmp, base, info->name);
copy:
	src = -1;
	if (sdfd >= 0) {
		src = openat(sdfd, fbase, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (src >= 0 && (fstat(src, &st) != 0 || !S_ISREG(st.st_mode))) {
			close(src);
			src = -1;
		}
		close(sdfd);
	}
	files_host->log(ARCA_LOG_WARN,
	                "files: cannot restore %s/%s as a hard link to %s: %s; restoring it "
	                "as a separate copy of %s",
	                rs->root, info->name, first, why,
	                src >= 0 ? "that file" : "its content in the snapshot");
	if (src < 0)
		return copy_from_snapshot(rs, info, first);
	rc = write_file(rs, info, src, first, UINT64_MAX);
	close(src);
	return rc;
}

static int restore_symlink(struct restore *rs, const struct arca_item_info *info)
{
	struct timespec ts[2];
	const char *base;
	char tmp[64];
	int pfd, rc;

	if (!info->link_target || !info->link_target[0])
		return files_host->error(ARCA_ERR_CORRUPT,
		                         "files: symlink item %s has no target; the snapshot is "
		                         "damaged",
		                         info->name);
	pfd = open_parent(rs, info->name, &base);
	if (pfd < 0)
		return -pfd;
	rc = make_tmp(rs, pfd, info->name, info->link_target, tmp, sizeof(tmp));
	if (rc < 0)
		return -rc;
	if (rs->as_root && fchownat(pfd, tmp, info->uid, info->gid, AT_SYMLINK_NOFOLLOW) != 0 &&
	    errno != EPERM && errno != EINVAL) {
		rc = rs_errno(rs, errno, "set the owner of", info->name);
		unlinkat(pfd, tmp, 0);
		return rc;
	}
	item_times(info, ts);
	if (utimensat(pfd, tmp, ts, AT_SYMLINK_NOFOLLOW) != 0) {
		rc = rs_errno(rs, errno, "set the mtime of", info->name);
		unlinkat(pfd, tmp, 0);
		return rc;
	}
	return put_in_place(rs, pfd, tmp, base, info->name);
}

/* chmod of `name` in dfd, never through a symlink. A C library that
 * cannot do that without /proc (ENOTSUP, also its answer for a symlink)
 * gets a plain chmod once lstat says it is no symlink. */
static int chmod_nofollow(int dfd, const char *name, mode_t mode)
{
	struct stat st;

	if (fchmodat(dfd, name, mode, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOTSUP && errno != EOPNOTSUPP && errno != ENOSYS)
		return -1;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return -1;
	if (S_ISLNK(st.st_mode)) {
		errno = ELOOP;
		return -1;
	}
	return fchmodat(dfd, name, mode, 0);
}

/* A fifo or a device node. Its metadata is set by name with nothing
 * followed: it is ours (made with O_EXCL semantics under a fresh name) in a
 * directory opened without following symlinks. */
static int restore_special(struct restore *rs, const struct arca_item_info *info)
{
	struct timespec ts[2];
	const char *base;
	char tmp[64];
	unsigned maj = 0, min = 0;
	mode_t kind = info->type == ARCA_ITEM_FIFO      ? S_IFIFO
	              : info->type == ARCA_ITEM_CHARDEV ? S_IFCHR
	                                                : S_IFBLK;
	int pfd, rc;

	if (kind != S_IFIFO && files_rdev_parse(info->meta, &maj, &min) != 0)
		return files_host->error(ARCA_ERR_CORRUPT,
		                         "files: device item %s has no device number (metadata "
		                         "\"%.40s\"); the snapshot is damaged",
		                         info->name, info->meta ? info->meta : "");
	pfd = open_parent(rs, info->name, &base);
	if (pfd < 0)
		return -pfd;
	for (;;) {
		tmp_name(rs, tmp, sizeof(tmp));
		if (kind == S_IFIFO ? mkfifoat(pfd, tmp, 0600) == 0
		                    : mknodat(pfd, tmp, kind | 0600, makedev(maj, min)) == 0)
			break;
		if (errno == EEXIST)
			continue;
		if (kind != S_IFIFO && (errno == EPERM || errno == EACCES)) {
			files_host->log(ARCA_LOG_WARN,
			                "files: %s/%s is a %s device (%u:%u) and cannot be made "
			                "here: %s; not restored (restore as root to have it)",
			                rs->dest, info->name,
			                kind == S_IFCHR ? "character" : "block", maj, min,
			                strerror(errno));
			return ARCA_OK;
		}
		return rs_errno(rs, errno, "create", info->name);
	}
	if (rs->as_root && fchownat(pfd, tmp, info->uid, info->gid, AT_SYMLINK_NOFOLLOW) != 0 &&
	    errno != EPERM && errno != EINVAL) {
		rc = rs_errno(rs, errno, "set the owner of", info->name);
		unlinkat(pfd, tmp, 0);
		return rc;
	}
	item_times(info, ts);
	if (chmod_nofollow(pfd, tmp, info->mode & 07777) != 0 ||
	    utimensat(pfd, tmp, ts, AT_SYMLINK_NOFOLLOW) != 0) {
		rc = rs_errno(rs, errno, "set the metadata of", info->name);
		unlinkat(pfd, tmp, 0);
		return rc;
	}
	return put_in_place(rs, pfd, tmp, base, info->name);
}

static int remember_dir(struct restore *rs, const struct arca_item_info *info)
{
	struct dir_meta *m;
	const char *p;

	if (rs->n_dirs == rs->cap_dirs) {
		size_t cap = rs->cap_dirs ? rs->cap_dirs * 2 : 64;
		struct dir_meta *grown = realloc(rs->dirs, cap * sizeof(*grown));

		if (!grown)
			return rs_errno(rs, ENOMEM, "restore", info->name);
		rs->dirs = grown;
		rs->cap_dirs = cap;
	}
	m = &rs->dirs[rs->n_dirs];
	memset(m, 0, sizeof(*m));
	if (!(m->name = strdup(info->name)))
		return rs_errno(rs, ENOMEM, "restore", info->name);
	for (p = info->name; *p; p++)
		m->depth += *p == '/';
	m->order = rs->n_dirs;
	m->mode = info->mode & 07777;
	m->uid = info->uid;
	m->gid = info->gid;
	m->mtime_sec = info->mtime_sec;
	m->mtime_nsec = info->mtime_nsec;
	rs->n_dirs++;
	return ARCA_OK;
}

static int restore_dir(struct restore *rs, const struct arca_item_info *info)
{
	const char *base;
	struct stat st;
	int pfd;

	pfd = open_parent(rs, info->name, &base);
	if (pfd < 0)
		return -pfd;
	if (mkdirat(pfd, base, 0700) != 0) {
		if (errno != EEXIST)
			return rs_errno(rs, errno, "create directory", info->name);
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0)
			return rs_errno(rs, errno, "stat", info->name);
		if (S_ISDIR(st.st_mode)) {
			/* an existing directory must take the files restored into it */
			if (!rs->as_root && (st.st_mode & 0700) != 0700 &&
			    fchmodat(pfd, base, (st.st_mode & 07777) | 0700, 0) != 0)
				return rs_errno(rs, errno, "make writable", info->name);
		} else if (!rs->overwrite) {
			return files_host->error(ARCA_ERR_EXISTS,
			                         "files: cannot restore directory %s/%s: something "
			                         "else is in the way; pass --overwrite to replace "
			                         "it",
			                         rs->root, info->name);
		} else if (unlinkat(pfd, base, 0) != 0 || mkdirat(pfd, base, 0700) != 0) {
			return rs_errno(rs, errno, "replace with a directory", info->name);
		}
	}
	return remember_dir(rs, info);
}

static int deepest_first(const void *a, const void *b)
{
	const struct dir_meta *x = a, *y = b;

	if (x->depth != y->depth)
		return x->depth < y->depth ? 1 : -1;
	return x->order < y->order ? 1 : (x->order > y->order ? -1 : 0);
}

static int apply_one_dir(struct restore *rs, const struct dir_meta *m)
{
	struct timespec ts[2] = {{0, UTIME_OMIT}, {(time_t)m->mtime_sec, m->mtime_nsec}};
	const char *base;
	int pfd, fd, rc = ARCA_OK;

	if (!strcmp(m->name, ".")) {
		fd = dup(rs->rootfd);
	} else {
		pfd = open_parent(rs, m->name, &base);
		if (pfd < 0)
			return -pfd;
		fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return rs_errno(rs, errno, "open directory", m->name);
	if (rs->as_root && fchown(fd, m->uid, m->gid) != 0 && errno != EPERM && errno != EINVAL)
		rc = rs_errno(rs, errno, "set the owner of", m->name);
	else if (fchmod(fd, m->mode) != 0 || futimens(fd, ts) != 0)
		rc = rs_errno(rs, errno, "set the metadata of", m->name);
	close(fd);
	return rc;
}

static int apply_dir_metadata(struct restore *rs)
{
	size_t i;
	int rc = ARCA_OK;

	if (rs->n_dirs > 1)
		qsort(rs->dirs, rs->n_dirs, sizeof(*rs->dirs), deepest_first);
	for (i = 0; i < rs->n_dirs && rc == ARCA_OK; i++)
		rc = apply_one_dir(rs, &rs->dirs[i]);
	return rc;
}

/* The root's own item ("."), or NULL when the snapshot has none. */
static const struct dir_meta *root_meta(const struct restore *rs)
{
	size_t i;

	for (i = 0; i < rs->n_dirs; i++)
		if (!strcmp(rs->dirs[i].name, "."))
			return &rs->dirs[i];
	return NULL;
}

static int restore_item(struct restore *rs, const struct arca_item_info *info)
{
	const char *first;
	int known;

	if (!strcmp(info->name, ".") && info->type == ARCA_ITEM_DIR)
		return remember_dir(rs, info); /* the root: metadata applied last */
	if (!files_name_safe(info->name))
		return files_host->error(ARCA_ERR_CORRUPT,
		                         "files: refusing item \"%s\": not a safe relative "
		                         "path, it could write outside %s; the snapshot is "
		                         "damaged or hostile",
		                         info->name, rs->root);
	switch (info->type) {
	case ARCA_ITEM_FILE:
		first = files_hardlink_target(info->meta, &known);
		if (!known)
			return files_host->error(ARCA_ERR_CORRUPT,
			                         "files: item %s carries driver metadata this "
			                         "version of the files driver does not know "
			                         "(\"%.40s\"); restore it with a newer arca",
			                         info->name, info->meta);
		return first ? restore_hardlink(rs, info, first) : restore_file(rs, info);
	case ARCA_ITEM_DIR:
		return restore_dir(rs, info);
	case ARCA_ITEM_SYMLINK:
		return restore_symlink(rs, info);
	case ARCA_ITEM_FIFO:
	case ARCA_ITEM_CHARDEV:
	case ARCA_ITEM_BLOCKDEV:
		return restore_special(rs, info);
	default:
		return files_host->error(ARCA_ERR_CORRUPT,
		                         "files: item %s has type %d, which the files driver "
		                         "never stores",
		                         info->name, (int)info->type);
	}
}

/* Every byte read and written: metadata, a flush, and into place. Where the
 * commit renames the written directory, its metadata is set first (the tree
 * appears complete) and the root's again after the rename; a merge needs
 * the staged directories writable, so it goes first there. */
static int finish(struct restore *rs, struct stage *sg)
{
	const struct dir_meta *root;
	int rc, final_fd;

	if (stage_renames(sg)) {
		rc = apply_dir_metadata(rs);
		root = root_meta(rs); /* after the sort */
		/* durable before it appears under DIR's name */
		if (rc == ARCA_OK && syncfs(rs->rootfd) != 0)
			rc = rs_errno(rs, errno, "flush", "");
		if (rc == ARCA_OK)
			rc = stage_commit(sg, rs->rootfd, root != NULL, &final_fd);
		rs->root = sg->dest;
		if (rc == ARCA_OK && root && sg->kind != STAGE_IN_PLACE)
			rc = apply_one_dir(rs, root);
		return rc;
	}
	if (syncfs(rs->rootfd) != 0)
		return rs_errno(rs, errno, "flush", "");
	forget_parent(rs);
	rc = stage_commit(sg, rs->rootfd, root_meta(rs) != NULL, &final_fd);
	if (rc != ARCA_OK)
		return rc;
	close(rs->rootfd);
	rs->rootfd = final_fd;
	rs->root = sg->dest;
	rc = apply_dir_metadata(rs);
	if (rc == ARCA_OK && syncfs(rs->rootfd) != 0)
		rc = rs_errno(rs, errno, "flush", "");
	return rc;
}

int files_restore(void *instance, struct arca_ctx *ctx)
{
	const struct files_inst *fi = instance;
	struct restore rs = {.ctx = ctx, .rootfd = -1, .cur_fd = -1};
	struct arca_item_info info;
	struct stage sg;
	const char *into = files_host->option(ctx, "into");
	size_t i;
	int rc;

	rs.overwrite = files_host->option(ctx, "overwrite") != NULL;
	rs.as_root = geteuid() == 0;
	rs.buf = malloc(FILES_IO_BLOCK);
	if (!rs.buf)
		return files_host->error(ARCA_ERR_INTERNAL, "files: out of memory");
	rc = stage_open(&sg, ctx, fi, into && into[0] ? into : fi->root, rs.overwrite, &rs.rootfd);
	rs.root = sg.path;
	rs.dest = sg.dest;
	while (rc == ARCA_OK) {
		if (files_host->cancelled(ctx)) {
			rc = interrupted(&rs);
			break;
		}
		memset(&info, 0, sizeof(info));
		info.struct_size = sizeof(info);
		rc = files_host->item_next(ctx, &info);
		if (rc == ARCA_ERR_NOT_FOUND) {
			rc = ARCA_OK;
			break;
		}
		if (rc == ARCA_OK)
			rc = restore_item(&rs, &info);
	}
	/* the last moment to stop with DIR as it was */
	if (rc == ARCA_OK && sg.kind != STAGE_IN_PLACE && files_host->cancelled(ctx))
		rc = interrupted(&rs);
	if (rc == ARCA_OK)
		rc = finish(&rs, &sg);
	forget_parent(&rs);
	if (rs.rootfd >= 0)
		close(rs.rootfd);
	if (rc != ARCA_OK && rs.root) /* stage_open failed: it left nothing */
		stage_abort(&sg);
	stage_free(&sg);
	for (i = 0; i < rs.n_dirs; i++)
		free(rs.dirs[i].name);
	free(rs.dirs);
	free(rs.buf);
	return rc;
}
