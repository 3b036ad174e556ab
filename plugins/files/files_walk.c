/* files_walk.c — a deterministic walk of the tree.
 *
 * Entries are visited in byte order of their names, each directory before
 * its contents, so two snapshots of one tree list items in the same order.
 * Everything is opened relative to its parent's fd with O_NOFOLLOW: a
 * directory swapped for a symlink during the walk is never followed out of
 * the tree. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files.h"

struct names {
	char **v;
	size_t n, cap;
};

static void names_free(struct names *ns)
{
	size_t i;

	for (i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read and sort the names in dir; errno set on failure. */
static int read_names(DIR *dir, struct names *ns)
{
	struct dirent *de;

	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de)
			break;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (ns->n == ns->cap) {
			size_t cap = ns->cap ? ns->cap * 2 : 64;
			char **v = realloc(ns->v, cap * sizeof(*v));

			if (!v)
				return -1;
			ns->v = v;
			ns->cap = cap;
		}
		if (!(ns->v[ns->n] = strdup(de->d_name)))
			return -1;
		ns->n++;
	}
	if (errno != 0)
		return -1;
	if (ns->n > 1)
		qsort(ns->v, ns->n, sizeof(*ns->v), name_cmp);
	return 0;
}

/* An entry that vanished or changed type between readdir and open: the
 * tree is live, so say so and go on. */
static void vanished(struct walker *w, const char *what)
{
	if (!w->quiet)
		files_host->log(ARCA_LOG_WARN, "files %s: %s %s while it was being read; skipped",
		                w->fi->root, w->path.s, what);
}

static int walk_error(struct walker *w, int err, const char *what)
{
	const char *where = w->path.s && w->path.s[0] ? w->path.s : ".";

	if (err == EACCES || err == EPERM)
		return files_host->error(ARCA_ERR_AUTH,
		                         "files %s: cannot %s %s: %s; the snapshot would be "
		                         "incomplete: run arca as a user who can read the whole "
		                         "tree (often root) or add it to exclude",
		                         w->fi->root, what, where, strerror(err));
	if (err == ENOMEM)
		return files_host->error(ARCA_ERR_INTERNAL, "files %s: out of memory at %s",
		                         w->fi->root, where);
	return files_host->error(ARCA_ERR_IO, "files %s: cannot %s %s: %s", w->fi->root, what,
	                         where, strerror(err));
}

int files_skippable(int err)
{
	/* out of memory or descriptors: the host is in trouble, not the file */
	return err != ENOMEM && err != EMFILE && err != ENFILE;
}

int files_skip(struct walker *w, const char *relpath, int err, const char *what)
{
	return files_skip_h(w, NULL, relpath, err, what);
}

int files_skip_h(struct walker *w, struct arca_item *h, const char *relpath, int err,
                 const char *what)
{
	char reason[256];

	if (!ARCA_HOST_HAS(files_host, item_skipped)) {
		/* an engine before ABI 1.1 cannot record a partial snapshot */
		if (err == EACCES || err == EPERM)
			return files_host->error(ARCA_ERR_AUTH,
			                         "files %s: cannot %s %s: %s; the snapshot would "
			                         "be incomplete: run arca as a user who can read "
			                         "the whole tree (often root) or add it to exclude",
			                         w->fi->root, what, relpath, strerror(err));
		return files_host->error(ARCA_ERR_IO, "files %s: cannot %s %s: %s", w->fi->root,
		                         what, relpath, strerror(err));
	}
	snprintf(reason, sizeof(reason), "cannot %s: %s%s", what, strerror(err),
	         err == EACCES || err == EPERM ? " (run arca as a user who can read it, or "
	                                         "add it to exclude)"
	                                       : "");
	if (w->par)
		return files_host->item_skipped_h(w->ctx, h, relpath, reason);
	return files_host->item_skipped(w->ctx, relpath, reason);
}

static int walk_dir(struct walker *w, int fd);

/* One name in the directory open as dfd; w->path already names it. */
static int walk_entry(struct walker *w, int dfd, const char *name)
{
	struct walk_entry e = {.relpath = w->path.s, .name = name, .parent_fd = dfd, .fd = -1};
	struct stat st;
	int rc, sub;

	if (files_excluded(w->fi, w->path.s, name)) {
		if (!w->quiet)
			files_host->log(ARCA_LOG_DEBUG, "files: %s excluded", w->path.s);
		return ARCA_OK;
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT) {
			vanished(w, "disappeared");
			return ARCA_OK;
		}
		if (w->quiet)
			return ARCA_OK;
		if (files_skippable(errno))
			return files_skip(w, w->path.s, errno, "stat");
		return walk_error(w, errno, "stat");
	}
	e.st = &st;
	if (!S_ISDIR(st.st_mode))
		return w->visit(w, &e);

	sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0) {
		if (errno == ENOENT) {
			vanished(w, "disappeared");
			return ARCA_OK;
		}
		if (errno == ENOTDIR || errno == ELOOP) {
			vanished(w, "stopped being a directory");
			return ARCA_OK;
		}
		if (w->quiet)
			return ARCA_OK;
		/* not stored at all: an empty directory would look complete */
		if (files_skippable(errno))
			return files_skip(w, w->path.s, errno, "open directory");
		return walk_error(w, errno, "open directory");
	}
	if (fstat(sub, &st) != 0) {
		int err = errno;

		close(sub);
		if (w->quiet)
			return ARCA_OK;
		return files_skippable(err) ? files_skip(w, w->path.s, err, "stat")
		                            : walk_error(w, err, "stat");
	}
	e.fd = sub;
	rc = w->visit(w, &e);
	if (rc != ARCA_OK) {
		close(sub);
		return rc;
	}
	if (w->fi->one_file_system && st.st_dev != w->root_dev) {
		if (!w->quiet)
			files_host->log(ARCA_LOG_INFO,
			                "files %s: %s is on another filesystem; stored empty "
			                "(one_file_system = yes)",
			                w->fi->root, w->path.s);
		close(sub);
		return ARCA_OK;
	}
	return walk_dir(w, sub);
}

/* The directory w->path cannot be listed. Its item is stored already: its
 * contents are what is left out (not the root's: that is the whole tree). */
static int list_error(struct walker *w, int err)
{
	if (w->path.s && w->path.s[0] && files_skippable(err))
		return files_skip(w, w->path.s, err, "read directory (stored empty)");
	return walk_error(w, err, "read directory");
}

/* Visit everything in the directory open as fd (closed here). */
static int walk_dir(struct walker *w, int fd)
{
	struct names ns = {0};
	DIR *dir = fdopendir(fd);
	size_t i;
	int rc = ARCA_OK;

	if (!dir) {
		rc = w->quiet ? ARCA_OK : list_error(w, errno);
		close(fd);
		return rc;
	}
	if (read_names(dir, &ns) != 0) {
		rc = w->quiet ? ARCA_OK : list_error(w, errno);
		goto out;
	}
	for (i = 0; i < ns.n && rc == ARCA_OK; i++) {
		size_t mark;

		if (!w->quiet && files_host->cancelled(w->ctx)) {
			rc = files_host->error(ARCA_ERR_CANCELLED, "files %s: snapshot interrupted",
			                       w->fi->root);
			break;
		}
		mark = pathbuf_push(&w->path, ns.v[i]);
		if (mark == (size_t)-1) {
			rc = walk_error(w, ENOMEM, "walk");
			break;
		}
		rc = walk_entry(w, dirfd(dir), ns.v[i]);
		pathbuf_cut(&w->path, mark);
	}
out:
	names_free(&ns);
	closedir(dir);
	return rc;
}

int files_walk(struct walker *w)
{
	struct stat st;
	int fd;

	/* the root itself may be a symlink (/var/www -> /srv/www): follow it */
	fd = open(w->fi->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		if (e == ENOENT)
			return files_host->error(ARCA_ERR_CONNECT,
			                         "files %s: does not exist; fix path in the "
			                         "target's section",
			                         w->fi->root);
		if (pathbuf_push(&w->path, "") == (size_t)-1)
			return walk_error(w, ENOMEM, "walk");
		return walk_error(w, e, "open");
	}
	w->root_dev = st.st_dev;
	if (pathbuf_push(&w->path, "") == (size_t)-1) {
		close(fd);
		return walk_error(w, ENOMEM, "walk");
	}
	return walk_dir(w, fd);
}
