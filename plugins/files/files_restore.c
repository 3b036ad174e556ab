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
 * and left out, and the restore goes on.
 *
 * Parallel (jobs > 1, an engine with items by handle): the items are read
 * in order on the engine's thread, which makes directories, links and the
 * rest itself and hands each plain file, with its parent directory open and
 * a read handle on its content, to a worker (files_pool.c) that writes it
 * under a temporary name and renames it into place. A hard link waits for
 * every file before it; with --overwrite, a file whose place a directory
 * holds is renamed over it by the engine's thread afterwards (it alone
 * removes trees, so its cached parent never points into a removed one).
 * Directory metadata waits for every worker. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
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
	unsigned char *buf;    /* FILES_IO_BLOCK bytes */
	unsigned long tmp_seq; /* atomic: workers name files too */
	struct fpool *pool;    /* workers writing files; NULL: one at a time */
	pthread_mutex_t mu;
	struct write_job *deferred; /* renames over a directory, for this thread */
};

/* Where content comes from: a read handle (h), the current item (fd < 0),
 * or the restored file fd; `name` names it in messages. */
struct source {
	struct arca_item *h;
	int fd;
	const char *name;
	unsigned char *buf; /* FILES_IO_BLOCK bytes */
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
	snprintf(tmp, cap, ".arca-restore.%ld.%lu", (long)getpid(),
	         __atomic_fetch_add(&rs->tmp_seq, 1, __ATOMIC_RELAXED));
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

/* Next piece of content from src into src->buf; *got == 0 at the end. */
static int read_piece(struct restore *rs, const struct source *src, size_t *got)
{
	ssize_t n;

	*got = 0;
	if (src->h)
		return files_host->item_read_h(src->h, src->buf, FILES_IO_BLOCK, got);
	if (src->fd < 0)
		return files_host->item_read(rs->ctx, src->buf, FILES_IO_BLOCK, got);
	if (files_host->cancelled(rs->ctx))
		return interrupted(rs);
	do
		n = read(src->fd, src->buf, FILES_IO_BLOCK);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return rs_errno(rs, errno, "read", src->name);
	*got = (size_t)n;
	return ARCA_OK;
}

/* Write file item `info` (name and metadata) into a new temporary file
 * `tmp` in pfd, with content from src (it must be `want` bytes long unless
 * that is UINT64_MAX). On failure nothing is left. */
static int write_tmp(struct restore *rs, int pfd, const struct arca_item_info *info,
                     const struct source *src, uint64_t want, char *tmp, size_t cap)
{
	struct timespec ts[2];
	uint64_t total = 0;
	int fd, rc, err;

	fd = make_tmp(rs, pfd, info->name, NULL, tmp, cap);
	if (fd < 0)
		return -fd;
	for (;;) {
		size_t got;

		rc = read_piece(rs, src, &got);
		if (rc != ARCA_OK)
			goto fail;
		if (got == 0)
			break;
		if (write_sparse(fd, src->buf, got) != 0) {
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
		                       src->name, total, want);
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
	return ARCA_OK;
fail:
	err = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(pfd, tmp, 0);
	errno = err;
	return rc;
}

/* write_tmp, then into place, on this (the engine's) thread. */
static int write_file(struct restore *rs, const struct arca_item_info *info,
                      const struct source *src, uint64_t want)
{
	const char *base;
	char tmp[64];
	int pfd, rc;

	pfd = open_parent(rs, info->name, &base);
	if (pfd < 0)
		return -pfd;
	rc = write_tmp(rs, pfd, info, src, want, tmp, sizeof(tmp));
	if (rc != ARCA_OK)
		return rc;
	return put_in_place(rs, pfd, tmp, base, info->name);
}

static int restore_file(struct restore *rs, const struct arca_item_info *info)
{
	struct source src = {.fd = -1, .name = info->name, .buf = rs->buf};

	return write_file(rs, info, &src, info->size);
}

/* A plain file for a worker: its parent directory open, its content by
 * read handle. */
struct write_job {
	struct fjob base;
	struct restore *rs;
	struct arca_item *h;
	struct arca_item_info info; /* name: below; no other strings */
	int dfd;
	const char *leaf; /* last part of name */
	char tmp[64];
	struct write_job *next_deferred;
	char name[];
};

static void free_write_job(struct write_job *j)
{
	if (j->h)
		files_host->item_close_h(j->h);
	if (j->dfd >= 0)
		close(j->dfd);
	free(j);
}

static void drop_write(struct fjob *fj)
{
	free_write_job((struct write_job *)fj);
}

static int run_write(struct fjob *fj, unsigned char *buf)
{
	struct write_job *j = (struct write_job *)fj;
	struct restore *rs = j->rs;
	struct source src = {.h = j->h, .fd = -1, .name = j->name, .buf = buf};
	int rc = write_tmp(rs, j->dfd, &j->info, &src, j->info.size, j->tmp, sizeof(j->tmp));

	files_host->item_close_h(j->h);
	j->h = NULL;
	if (rc == ARCA_OK && renameat(j->dfd, j->tmp, j->dfd, j->leaf) != 0) {
		if (rs->overwrite && (errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST ||
		                      errno == ENOTDIR)) {
			/* a directory is in the way: removing it is the engine thread's */
			pthread_mutex_lock(&rs->mu);
			j->next_deferred = rs->deferred;
			rs->deferred = j;
			pthread_mutex_unlock(&rs->mu);
			return ARCA_OK;
		}
		rc = put_in_place(rs, j->dfd, j->tmp, j->leaf, j->name); /* says why */
	}
	free_write_job(j);
	return rc;
}

static int queue_write(struct restore *rs, const struct arca_item_info *info)
{
	size_t n = strlen(info->name) + 1;
	struct write_job *j = calloc(1, sizeof(*j) + n);
	const char *leaf;
	int pfd, rc;

	if (!j)
		return rs_errno(rs, ENOMEM, "restore", info->name);
	j->base.run = run_write;
	j->base.drop = drop_write;
	j->rs = rs;
	j->dfd = -1;
	memcpy(j->name, info->name, n);
	j->info = *info;
	j->info.name = j->name;
	j->info.link_target = j->info.meta = j->info.fingerprint = NULL;
	pfd = open_parent(rs, info->name, &leaf);
	if (pfd < 0) {
		free_write_job(j);
		return -pfd;
	}
	j->leaf = j->name + (leaf - info->name);
	j->dfd = fcntl(pfd, F_DUPFD_CLOEXEC, 0);
	if (j->dfd < 0) {
		rc = rs_errno(rs, errno, "open directory of", info->name);
		free_write_job(j);
		return rc;
	}
	rc = files_host->item_open_h(rs->ctx, NULL, NULL, &j->h);
	if (rc != ARCA_OK) {
		free_write_job(j);
		return rc;
	}
	return fpool_submit(rs->pool, &j->base);
}

/* Every file handed to a worker is in place (with --overwrite, the ones a
 * directory was in the way of are put there now). stop: and the workers
 * are gone. */
static int settle(struct restore *rs, int stop)
{
	struct write_job *j;
	int rc;

	if (!rs->pool)
		return ARCA_OK;
	rc = stop ? fpool_stop(rs->pool) : fpool_wait(rs->pool);
	if (stop)
		rs->pool = NULL;
	while ((j = rs->deferred)) {
		rs->deferred = j->next_deferred;
		if (rc == ARCA_OK)
			rc = put_in_place(rs, j->dfd, j->tmp, j->leaf, j->name);
		else
			unlinkat(j->dfd, j->tmp, 0);
		free_write_job(j);
	}
	return rc;
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
	rc = write_file(rs, &link, &(struct source){.fd = -1, .name = from, .buf = rs->buf},
	                src.size);
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
	rc = write_file(rs, info, &(struct source){.fd = src, .name = first, .buf = rs->buf},
	                UINT64_MAX);
	close(src);
	return rc;
}

/* As root, give the fresh `tmp` in pfd (never followed) the item's owner;
 * on failure tmp is removed. */
static int own_tmp(struct restore *rs, int pfd, const char *tmp, const struct arca_item_info *info)
{
	int rc;

	if (rs->as_root && fchownat(pfd, tmp, info->uid, info->gid, AT_SYMLINK_NOFOLLOW) != 0 &&
	    errno != EPERM && errno != EINVAL) {
		rc = rs_errno(rs, errno, "set the owner of", info->name);
		unlinkat(pfd, tmp, 0);
		return rc;
	}
	return ARCA_OK;
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
	rc = own_tmp(rs, pfd, tmp, info);
	if (rc != ARCA_OK)
		return rc;
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
	rc = own_tmp(rs, pfd, tmp, info);
	if (rc != ARCA_OK)
		return rc;
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

static int restore_item(void *arg, const struct arca_item_info *info)
{
	struct restore *rs = arg;
	const char *first;
	int known, rc;

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
		if (!first)
			return rs->pool ? queue_write(rs, info) : restore_file(rs, info);
		rc = settle(rs, 0); /* the file it links to is in place */
		return rc != ARCA_OK ? rc : restore_hardlink(rs, info, first);
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
	struct stage sg;
	const char *into = files_host->option(ctx, "into");
	size_t i;
	int rc, stop_rc, jobs = files_jobs(fi, ctx);

	rs.overwrite = files_host->option(ctx, "overwrite") != NULL;
	rs.as_root = geteuid() == 0;
	rs.buf = malloc(FILES_IO_BLOCK);
	if (!rs.buf)
		return files_host->error(ARCA_ERR_INTERNAL, "files: out of memory");
	rc = stage_open(&sg, ctx, fi, into && into[0] ? into : fi->root, rs.overwrite, &rs.rootfd);
	rs.root = sg.path;
	rs.dest = sg.dest;
	pthread_mutex_init(&rs.mu, NULL);
	if (rc == ARCA_OK && jobs > 1)
		rc = fpool_start(&rs.pool, jobs);
	if (rc == ARCA_OK) {
		char *what = malloc(strlen(rs.dest) + 16);

		if (!what)
			rc = rs_errno(&rs, ENOMEM, "restore", "");
		else {
			sprintf(what, "restore into %s", rs.dest);
			rc = files_each_item(ctx, what, restore_item, &rs);
			free(what);
		}
	}
	/* every worker done (its failure first) before anything is undone */
	stop_rc = settle(&rs, 1);
	if (rc == ARCA_OK || rc == ARCA_ERR_CANCELLED)
		rc = stop_rc ? stop_rc : rc;
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
	pthread_mutex_destroy(&rs.mu);
	return rc;
}
