/* files_health.c — `arca health TARGET [--into DIR]`: the tree (path, or
 * the restored copy in DIR) exists and every directory and regular file in
 * it can be opened for reading, as the application that uses it would. No
 * content is read; excluded paths are not looked at. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "files.h"

/* Directories open at once during the walk: one per level. */
#define MAX_DEPTH 256

struct health {
	const struct files_inst *fi;
	struct arca_ctx *ctx;
	const char *root;
	struct pathbuf rel;
	unsigned long long dirs, files;
};

static int unreadable(const struct health *h, const char *rel, int err)
{
	return files_host->error(err == EACCES || err == EPERM ? ARCA_ERR_AUTH : ARCA_ERR_IO,
	                         "files %s%s%s: cannot be opened: %s", h->root, rel[0] ? "/" : "",
	                         rel, strerror(err));
}

/* Everything below the directory open as dfd (h->rel names it). */
static int walk(struct health *h, int dfd, int depth)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		int err = errno;
		close(dfd);
		return unreadable(h, h->rel.s, err);
	}
	int rc = ARCA_OK;
	struct dirent *de;
	h->dirs++;
	errno = 0;
	while (rc == ARCA_OK && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		size_t mark = pathbuf_push(&h->rel, de->d_name);
		if (mark == (size_t)-1)
			rc = files_host->error(ARCA_ERR_INTERNAL, "out of memory");
		struct stat st;
		if (rc != ARCA_OK || files_excluded(h->fi, h->rel.s, de->d_name))
			goto next;
		if (files_host->cancelled(h->ctx)) {
			rc = files_host->error(ARCA_ERR_CANCELLED, "interrupted");
		} else if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			rc = unreadable(h, h->rel.s, errno);
		} else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
			int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
			            (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0);
			int fd = openat(dirfd(d), de->d_name, flags);
			if (fd < 0) {
				rc = unreadable(h, h->rel.s, errno);
			} else if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH) {
				rc = walk(h, fd, depth + 1); /* closes fd */
			} else {
				close(fd);
				h->files += !S_ISDIR(st.st_mode);
				if (S_ISDIR(st.st_mode))
					rc = files_host->error(
					    ARCA_ERR_IO, "files %s/%s: more than %d levels deep",
					    h->root, h->rel.s, MAX_DEPTH);
			}
		}
	next:
		if (mark != (size_t)-1)
			pathbuf_cut(&h->rel, mark);
		errno = 0;
	}
	if (rc == ARCA_OK && errno)
		rc = unreadable(h, h->rel.s, errno);
	closedir(d);
	return rc;
}

int files_health(void *instance, struct arca_ctx *ctx)
{
	const struct files_inst *fi = instance;
	const char *into = files_host->option(ctx, "into");
	struct health h = {.fi = fi, .ctx = ctx, .root = into ? into : fi->root};
	int fd = open(h.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return files_host->error(errno == ENOENT
		                             ? ARCA_ERR_NOT_FOUND
		                             : (errno == EACCES ? ARCA_ERR_AUTH : ARCA_ERR_IO),
		                         "files %s: %s%s", h.root, strerror(errno),
		                         errno == ENOTDIR ? " (the tree must be a directory)" : "");
	if (pathbuf_push(&h.rel, "") == (size_t)-1) {
		close(fd);
		return files_host->error(ARCA_ERR_INTERNAL, "out of memory");
	}
	int rc = walk(&h, fd, 0);
	if (rc == ARCA_OK)
		files_host->log(ARCA_LOG_INFO,
		                "files %s: %llu directories and %llu files, every one opens",
		                h.root, h.dirs, h.files);
	pathbuf_free(&h.rel);
	return rc;
}
