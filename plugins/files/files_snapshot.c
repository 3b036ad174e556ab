/* files_snapshot.c — the tree streamed to the engine as items.
 *
 * Directories, regular files, symlinks, fifos and device nodes are stored
 * with their permission bits, owner, group and mtime (a device also with
 * its number, files.h); a socket is not stored (the program listening on
 * it makes it): each is named at normal verbosity and counted. With an
 * engine older than ABI 1.1, fifos and devices are named and counted too.
 * A regular file carries a fingerprint (dev:ino:size:mtime_ns:ctime_ns), so
 * the engine's metadata cache can skip reading files that did not change.
 * An entry that vanishes mid-walk is a warning (the tree is live). One that
 * cannot be read (open or read fails, a directory cannot be opened) is left
 * out with host->item_skipped: the snapshot is recorded, marked partial,
 * naming it. A file is read to its end whatever its size was when it was
 * opened, and stored as read: one that shrank or grew meanwhile is named in
 * a warning (it is read again next time: its fingerprint changed).
 *
 * Hard links: a regular file with st_nlink > 1 is remembered by (st_dev,
 * st_ino) once it is stored. A later path of the same inode is sent as a
 * FILE item without content (size 0, no fingerprint) and with the driver
 * metadata "hardlink=FIRST", FIRST being the first path's item name (format
 * in files.h); restore links it to FIRST. A later path is linked only while
 * the inode's ctime and size are those FIRST was stored with: if the file
 * changed in between, or the inode number was reused, it is stored whole
 * (and becomes the path later links name). A file whose first path was
 * skipped, or whose partners are all outside the tree, is stored normally.
 * The pre-count counts the bytes of each inode once.
 *
 * Parallel (option jobs > 1, an engine with items by handle): the walk
 * stays on the engine's thread and sends directories, symlinks, specials
 * and multiply-linked files itself; each other regular file is opened
 * there and handed to a worker (files_pool.c), which reads it and sends it
 * by handle. A file is recorded when it is read to its end, so the order of
 * items follows the workers, with each directory before what it holds. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "files.h"

/* An inode with more than one link, seen in this snapshot. */
struct link {
	dev_t dev;
	ino_t ino;
	int used;              /* the slot holds an entry */
	char *path;            /* item stored with the content; NULL: none yet */
	off_t size;            /* size and ctime as stored: a later path is */
	struct timespec ctime; /* linked only while both still match */
};

/* Open addressing, linear probing, at most half full. */
struct link_map {
	struct link *v;
	size_t n, cap; /* cap: 0 or a power of two */
};

struct snap {
	unsigned char *buf;    /* FILES_IO_BLOCK bytes */
	struct fpool *pool;    /* workers reading files; NULL: one at a time */
	uint64_t items, bytes; /* pre-count for the progress bar */
	uint64_t not_stored;   /* sockets (and, for an old engine, fifos, devices) */
	int specials;          /* the engine takes fifo and device items (ABI 1.1) */
	struct link_map links;
};

static size_t link_slot(const struct link_map *m, dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino ^ ((uint64_t)dev * 0x9e3779b97f4a7c15u);

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdu;
	h ^= h >> 33;
	return (size_t)h & (m->cap - 1);
}

/* The entry of (dev, ino), added if missing; NULL when out of memory. */
static struct link *link_get(struct link_map *m, dev_t dev, ino_t ino)
{
	size_t i;

	if (m->cap > 0) {
		for (i = link_slot(m, dev, ino); m->v[i].used; i = (i + 1) & (m->cap - 1))
			if (m->v[i].dev == dev && m->v[i].ino == ino)
				return &m->v[i];
	}
	if (2 * (m->n + 1) > m->cap) {
		struct link_map g = {.cap = m->cap ? 2 * m->cap : 256};
		size_t k;

		g.v = calloc(g.cap, sizeof(*g.v));
		if (!g.v)
			return NULL;
		for (k = 0; k < m->cap; k++) {
			if (!m->v[k].used)
				continue;
			for (i = link_slot(&g, m->v[k].dev, m->v[k].ino); g.v[i].used;
			     i = (i + 1) & (g.cap - 1))
				;
			g.v[i] = m->v[k];
		}
		g.n = m->n;
		free(m->v);
		*m = g;
	}
	for (i = link_slot(m, dev, ino); m->v[i].used; i = (i + 1) & (m->cap - 1))
		;
	m->v[i].used = 1;
	m->v[i].dev = dev;
	m->v[i].ino = ino;
	m->n++;
	return &m->v[i];
}

static void link_map_free(struct link_map *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		free(m->v[i].path);
	free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
}

static int count_visit(struct walker *w, const struct walk_entry *e)
{
	struct snap *s = w->arg;
	mode_t m = e->st->st_mode;

	if (S_ISREG(m) || S_ISDIR(m) || S_ISLNK(m) ||
	    (s->specials && (S_ISFIFO(m) || S_ISCHR(m) || S_ISBLK(m))))
		s->items++;
	if (S_ISREG(m)) {
		if (e->st->st_nlink > 1) {
			size_t before = s->links.n;

			if (!link_get(&s->links, e->st->st_dev, e->st->st_ino))
				return files_host->error(ARCA_ERR_INTERNAL, "files: out of memory");
			if (s->links.n == before)
				return ARCA_OK; /* another path of a counted inode */
		}
		s->bytes += (uint64_t)e->st->st_size;
	}
	return ARCA_OK;
}

static void fill_info(struct arca_item_info *info, const char *name, const struct stat *st,
                      enum arca_item_type type)
{
	memset(info, 0, sizeof(*info));
	info->struct_size = sizeof(*info);
	info->name = name;
	info->type = type;
	info->mode = (uint32_t)(st->st_mode & 07777);
	info->uid = (uint32_t)st->st_uid;
	info->gid = (uint32_t)st->st_gid;
	info->mtime_sec = (int64_t)st->st_mtim.tv_sec;
	info->mtime_nsec = (int32_t)st->st_mtim.tv_nsec;
	info->size = type == ARCA_ITEM_FILE ? (uint64_t)st->st_size : 0;
}

/* The item calls: the 1.0 ones, or by handle while workers write (w->par). */
static int item_begin(struct walker *w, const struct arca_item_info *info, struct arca_item **h)
{
	*h = NULL;
	if (w->par)
		return files_host->item_begin_h(w->ctx, info, h);
	return files_host->item_begin(w->ctx, info);
}

static int item_write(struct walker *w, struct arca_item *h, const void *data, size_t len)
{
	return h ? files_host->item_write_h(h, data, len)
	         : files_host->item_write(w->ctx, data, len);
}

static int item_end(struct walker *w, struct arca_item *h)
{
	return h ? files_host->item_end_h(h) : files_host->item_end(w->ctx);
}

/* An item without content (directory, symlink, unchanged file). */
static int send_bare(struct walker *w, const struct arca_item_info *info)
{
	struct arca_item *h;
	int rc = item_begin(w, info, &h);

	if (rc != ARCA_OK && rc != ARCA_ITEM_UNCHANGED)
		return rc;
	return item_end(w, h);
}

static int snap_symlink(struct walker *w, const struct walk_entry *e)
{
	struct arca_item_info info;
	size_t cap = (size_t)e->st->st_size + 1;
	char *target = NULL;
	ssize_t n;
	int rc;

	if (cap < 64)
		cap = 64; /* st_size is 0 on some filesystems */
	for (;;) {
		char *grown = realloc(target, cap);

		if (!grown) {
			free(target);
			return files_host->error(ARCA_ERR_INTERNAL, "files: out of memory");
		}
		target = grown;
		n = readlinkat(e->parent_fd, e->name, target, cap);
		if (n < 0) {
			int err = errno;

			free(target);
			if (err == ENOENT || err == EINVAL) {
				files_host->log(ARCA_LOG_WARN,
				                "files %s: %s changed while it was being read; "
				                "skipped",
				                w->fi->root, e->relpath);
				return ARCA_OK;
			}
			return files_host->error(ARCA_ERR_IO,
			                         "files %s: cannot read symlink %s: %s",
			                         w->fi->root, e->relpath, strerror(err));
		}
		if ((size_t)n < cap)
			break;
		cap *= 2;
	}
	target[n] = '\0';
	fill_info(&info, e->relpath, e->st, ARCA_ITEM_SYMLINK);
	info.link_target = target;
	rc = send_bare(w, &info);
	free(target);
	return rc;
}

static int open_file(const struct walk_entry *e)
{
	/* O_NONBLOCK: if a fifo took the file's place, do not hang on it */
	int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	int fd = openat(e->parent_fd, e->name, flags | O_NOATIME);

	if (fd < 0 && errno == EPERM) /* O_NOATIME needs ownership or root */
		fd = openat(e->parent_fd, e->name, flags);
	return fd;
}

/* Send the file's content to its end. What is stored is what was read:
 * a file that shrank or grew since it was opened is stored at its new
 * length, and named in a warning. A read that fails leaves the file out of
 * the snapshot (*dropped; the engine drops the open item). */
static int stream_content(struct walker *w, unsigned char *buf, int fd, const char *relpath,
                          const struct stat *before, struct arca_item *h, int *dropped)
{
	uint64_t size = (uint64_t)before->st_size, done = 0;
	struct stat after;
	int rc;

	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (;;) {
		ssize_t n;

		if (files_host->cancelled(w->ctx))
			return files_host->error(ARCA_ERR_CANCELLED,
			                         "files %s: snapshot interrupted", w->fi->root);
		n = read(fd, buf, FILES_IO_BLOCK);
		if (n < 0) {
			int err = errno;

			if (err == EINTR || err == EAGAIN)
				continue;
			if (files_skippable(err)) {
				char what[64];

				snprintf(what, sizeof(what), "read at byte %" PRIu64, done);
				rc = files_skip_h(w, h, relpath, err, what);
				if (rc == ARCA_OK)
					*dropped = 1;
				return rc;
			}
			return files_host->error(ARCA_ERR_IO,
			                         "files %s: cannot read %s at byte %" PRIu64 ": %s",
			                         w->fi->root, relpath, done, strerror(err));
		}
		if (n == 0)
			break;
		rc = item_write(w, h, buf, (size_t)n);
		if (rc != ARCA_OK)
			return rc;
		done += (uint64_t)n;
	}
	if (done != size)
		files_host->log(ARCA_LOG_WARN,
		                "files %s: %s %s while it was being read: stored the %" PRIu64
		                " bytes read, not the %" PRIu64 " it had when opened (it is "
		                "read again next time)",
		                w->fi->root, relpath, done < size ? "shrank" : "grew", done, size);
	else if (fstat(fd, &after) == 0 && (after.st_size != before->st_size ||
	                                    after.st_mtim.tv_sec != before->st_mtim.tv_sec ||
	                                    after.st_mtim.tv_nsec != before->st_mtim.tv_nsec))
		files_host->log(ARCA_LOG_WARN,
		                "files %s: %s changed while it was being read; the stored copy "
		                "may mix old and new content (it is read again next time)",
		                w->fi->root, relpath);
	/* a backup should not push the working set out of the page cache */
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	return ARCA_OK;
}

/* A later path of an inode already stored under link->path: an item
 * without content that names it (format in files.h). */
static int snap_hardlink(struct walker *w, const struct walk_entry *e, const struct stat *st,
                         const struct link *link)
{
	struct arca_item_info info;
	size_t n = strlen(link->path);
	char *meta = malloc(sizeof(FILES_HARDLINK_META) + n);
	int rc;

	if (!meta)
		return files_host->error(ARCA_ERR_INTERNAL, "files: out of memory");
	memcpy(meta, FILES_HARDLINK_META, sizeof(FILES_HARDLINK_META) - 1);
	memcpy(meta + sizeof(FILES_HARDLINK_META) - 1, link->path, n + 1);
	fill_info(&info, e->relpath, st, ARCA_ITEM_FILE);
	info.size = 0;
	info.meta = meta;
	rc = send_bare(w, &info);
	free(meta);
	return rc;
}

/* Remember a stored multiply-linked file as the path later links name. */
static int remember_link(struct link *link, const char *relpath, const struct stat *st)
{
	char *path;

	/* a name too long for the metadata is never named: later paths are
	 * stored whole */
	if (sizeof(FILES_HARDLINK_META) + strlen(relpath) > FILES_META_MAX)
		return ARCA_OK;
	path = strdup(relpath);
	if (!path)
		return files_host->error(ARCA_ERR_INTERNAL, "files: out of memory");
	free(link->path);
	link->path = path;
	link->size = st->st_size;
	link->ctime = st->st_ctim;
	return ARCA_OK;
}

/* Send the open file fd as item `relpath`, stat `st`; closes fd. *dropped:
 * left out of the snapshot (a read failed). */
static int send_file(struct walker *w, unsigned char *buf, int fd, const char *relpath,
                     const struct stat *st, const char *fingerprint, int *dropped)
{
	struct arca_item_info info;
	struct arca_item *h;
	int rc;

	fill_info(&info, relpath, st, ARCA_ITEM_FILE);
	info.fingerprint = fingerprint;
	rc = item_begin(w, &info, &h);
	if (rc == ARCA_OK)
		rc = stream_content(w, buf, fd, relpath, st, h, dropped);
	else if (rc == ARCA_ITEM_UNCHANGED)
		rc = ARCA_OK;
	else
		h = NULL;
	close(fd);
	if (*dropped)
		return rc;
	if (rc != ARCA_OK) {
		if (h) /* released; the snapshot fails anyway */
			item_end(w, h);
		return rc;
	}
	return item_end(w, h);
}

/* A file a worker reads and sends (see the top of this file). */
struct file_job {
	struct fjob base;
	struct walker *w; /* only its constant parts are read */
	int fd;
	struct stat st;
	char fingerprint[128];
	char relpath[];
};

static int run_file(struct fjob *j, unsigned char *buf)
{
	struct file_job *fj = (struct file_job *)j;
	int dropped = 0;
	int rc = send_file(fj->w, buf, fj->fd, fj->relpath, &fj->st, fj->fingerprint, &dropped);

	free(fj);
	return rc;
}

static void drop_file(struct fjob *j)
{
	struct file_job *fj = (struct file_job *)j;

	close(fj->fd);
	free(fj);
}

static int queue_file(struct walker *w, struct snap *s, int fd, const char *relpath,
                      const struct stat *st, const char *fingerprint)
{
	size_t n = strlen(relpath) + 1;
	struct file_job *fj = malloc(sizeof(*fj) + n);

	if (!fj) {
		close(fd);
		return files_host->error(ARCA_ERR_INTERNAL, "files: out of memory");
	}
	fj->base.run = run_file;
	fj->base.drop = drop_file;
	fj->w = w;
	fj->fd = fd;
	fj->st = *st;
	snprintf(fj->fingerprint, sizeof(fj->fingerprint), "%s", fingerprint);
	memcpy(fj->relpath, relpath, n);
	return fpool_submit(s->pool, &fj->base);
}

static int snap_file(struct walker *w, const struct walk_entry *e)
{
	struct snap *s = w->arg;
	struct stat st;
	struct link *link = NULL;
	char fingerprint[128];
	int fd, rc, dropped = 0;

	fd = open_file(e);
	if (fd < 0) {
		if (errno == ENOENT || errno == ELOOP) {
			files_host->log(ARCA_LOG_WARN,
			                "files %s: %s %s while it was being read; skipped",
			                w->fi->root, e->relpath,
			                errno == ENOENT ? "disappeared" : "became a symlink");
			return ARCA_OK;
		}
		if (files_skippable(errno))
			return files_skip(w, e->relpath, errno, "open");
		return files_host->error(ARCA_ERR_IO, "files %s: cannot open %s: %s", w->fi->root,
		                         e->relpath, strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		files_host->log(ARCA_LOG_WARN,
		                "files %s: %s stopped being a regular file while it was being "
		                "read; skipped",
		                w->fi->root, e->relpath);
		close(fd);
		return ARCA_OK;
	}
	if (st.st_nlink > 1) {
		link = link_get(&s->links, st.st_dev, st.st_ino);
		if (!link) {
			close(fd);
			return files_host->error(ARCA_ERR_INTERNAL, "files: out of memory");
		}
		/* unchanged since its first path was stored: the same content */
		if (link->path && link->size == st.st_size &&
		    link->ctime.tv_sec == st.st_ctim.tv_sec &&
		    link->ctime.tv_nsec == st.st_ctim.tv_nsec) {
			close(fd);
			return snap_hardlink(w, e, &st, link);
		}
	}
	snprintf(fingerprint, sizeof(fingerprint), "%ju:%ju:%jd:%jd:%jd", (uintmax_t)st.st_dev,
	         (uintmax_t)st.st_ino, (intmax_t)st.st_size,
	         (intmax_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
	         (intmax_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec);
	/* a multiply-linked file is stored here, before any later path of it */
	if (s->pool && !link)
		return queue_file(w, s, fd, e->relpath, &st, fingerprint);
	rc = send_file(w, s->buf, fd, e->relpath, &st, fingerprint, &dropped);
	if (rc == ARCA_OK && link && !dropped)
		rc = remember_link(link, e->relpath, &st);
	return rc;
}

static const char *kind_name(mode_t m)
{
	if (S_ISSOCK(m))
		return "socket";
	if (S_ISFIFO(m))
		return "fifo";
	if (S_ISCHR(m))
		return "character device";
	if (S_ISBLK(m))
		return "block device";
	return "special file";
}

/* A fifo or a device node: metadata only (a device's number in meta). */
static int snap_special(struct walker *w, const struct walk_entry *e)
{
	struct arca_item_info info;
	mode_t m = e->st->st_mode;
	char meta[64];

	fill_info(&info, e->relpath, e->st,
	          S_ISFIFO(m)  ? ARCA_ITEM_FIFO
	          : S_ISCHR(m) ? ARCA_ITEM_CHARDEV
	                       : ARCA_ITEM_BLOCKDEV);
	if (!S_ISFIFO(m)) {
		snprintf(meta, sizeof(meta), FILES_RDEV_META "%u:%u", major(e->st->st_rdev),
		         minor(e->st->st_rdev));
		info.meta = meta;
	}
	return send_bare(w, &info);
}

static int snap_visit(struct walker *w, const struct walk_entry *e)
{
	struct snap *s = w->arg;
	struct arca_item_info info;
	mode_t m = e->st->st_mode;

	if (S_ISREG(m))
		return snap_file(w, e);
	if (S_ISDIR(m)) {
		fill_info(&info, e->relpath, e->st, ARCA_ITEM_DIR);
		return send_bare(w, &info);
	}
	if (S_ISLNK(m))
		return snap_symlink(w, e);
	if (s->specials && (S_ISFIFO(m) || S_ISCHR(m) || S_ISBLK(m)))
		return snap_special(w, e);
	s->not_stored++;
	files_host->log(ARCA_LOG_INFO, "files %s: %s is a %s; not stored (%s)", w->fi->root,
	                e->relpath, kind_name(m),
	                S_ISSOCK(m) ? "the program listening on a socket makes it again"
	                            : "this arca engine is older than driver ABI 1.1");
	return ARCA_OK;
}

int files_snapshot(void *instance, struct arca_ctx *ctx)
{
	struct snap s = {0};
	struct walker w = {.fi = instance, .ctx = ctx, .arg = &s};
	int rc, stop_rc, jobs = files_jobs(instance, ctx);

	/* an older engine would store other item types as plain streams */
	s.specials = files_host->abi_major == 1 && files_host->abi_minor >= 1;
	/* a stat-only pass first: cheap next to reading, and it warms the
	 * inode cache for the real pass */
	w.quiet = 1;
	w.visit = count_visit;
	rc = files_walk(&w);
	pathbuf_free(&w.path);
	if (rc != ARCA_OK) {
		link_map_free(&s.links);
		return rc;
	}
	files_host->progress_total(ctx, s.bytes, s.items);

	/* the root's own metadata, as item "." (restore applies it last) */
	struct stat root_st;
	struct arca_item_info root;
	if (lstat(w.fi->root, &root_st) != 0)
		rc = files_host->error(ARCA_ERR_IO, "files: cannot stat %s: %s", w.fi->root,
		                       strerror(errno));
	if (rc == ARCA_OK) {
		fill_info(&root, ".", &root_st, ARCA_ITEM_DIR);
		rc = send_bare(&w, &root);
	}
	if (rc == ARCA_OK && !(s.buf = malloc(FILES_IO_BLOCK)))
		rc = files_host->error(ARCA_ERR_INTERNAL, "files: out of memory");
	if (rc == ARCA_OK && jobs > 1 && (rc = fpool_start(&s.pool, jobs)) == ARCA_OK)
		w.par = 1;
	if (rc == ARCA_OK) {
		w.quiet = 0;
		w.visit = snap_visit;
		rc = files_walk(&w);
		pathbuf_free(&w.path);
	}
	/* every worker done (its failure first) before the op returns */
	stop_rc = fpool_stop(s.pool);
	if (rc == ARCA_OK || rc == ARCA_ERR_CANCELLED)
		rc = stop_rc ? stop_rc : rc;
	if (rc == ARCA_OK && s.not_stored)
		files_host->log(ARCA_LOG_INFO,
		                "files %s: %" PRIu64 " special file%s not stored "
		                "(named above)",
		                w.fi->root, s.not_stored, s.not_stored == 1 ? "" : "s");
	free(s.buf);
	link_map_free(&s.links);
	return rc;
}
