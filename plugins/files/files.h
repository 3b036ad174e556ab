/* files.h — the `files` target driver: a directory tree with its metadata.
 *
 *   files.c           descriptor, options, open/close/check, item name rules
 *   files_walk.c      deterministic tree walk (openat, no symlinks followed)
 *   files_snapshot.c  snapshot: the walk streamed as items
 *   files_restore.c   restore: items written back under a root, never outside
 *   files_stage.c     restore: the staging directory and its move into place
 *   files_verify.c    verify: every item read back and checked
 *   files_pool.c      worker threads: files read and written in parallel
 *
 * The engine calls the target ops of one instance from one thread at a time;
 * an operation keeps its state on its own stack, the instance is read-only.
 *
 * Hard links: the first path of a multiply-linked file is stored as a plain
 * FILE item; each later path of the same inode is a FILE item without
 * content (size 0, no fingerprint) whose driver metadata is exactly
 * "hardlink=" followed by the first path's item name, verbatim (no quoting:
 * the rest of the string, which may hold any byte but NUL). Restore links
 * it to the first path, or copies that file when a link cannot be made.
 * A FILE item with any other metadata is refused, never restored empty.
 *
 * Special files (with an engine of ABI 1.1 or later): a FIFO is a FIFO
 * item, a device node a CHARDEV or BLOCKDEV item whose driver metadata is
 * exactly "rdev=MAJOR:MINOR" (decimal); both without content, with mode,
 * owner and mtime. Restore makes them again (a device only as root: as
 * anyone else it is named and left out). Sockets are never stored: one is
 * made by the program that listens on it; each is named at normal
 * verbosity and counted.
 *
 * What cannot be read (a file or directory arca may not open, a read that
 * fails) is left out with host->item_skipped: the snapshot is recorded,
 * marked partial, naming it. A file that changes size while it is read is
 * stored as read, with a warning. */
#ifndef ARCA_FILES_H
#define ARCA_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include "arca/plugin.h"

/* Content is read and written in pieces of this size. */
#define FILES_IO_BLOCK (1024 * 1024)

struct files_inst {
	char *name;     /* the [target NAME] section, for commands we print */
	char *root;     /* option path, without trailing '/' */
	char **exclude; /* option exclude: fnmatch patterns */
	size_t n_exclude;
	int one_file_system; /* option one_file_system */
	int jobs;            /* option jobs: files read or written at once */
};

/* The most worker threads the jobs option may ask for. */
#define FILES_JOBS_MAX 64

/* Set once by arca_driver_entry, read-only afterwards. */
extern const struct arca_host *files_host;

/* The driver metadata of a hard-link item (see the top of this file) and
 * the ABI's limit on metadata, terminating NUL included. */
#define FILES_HARDLINK_META "hardlink="
#define FILES_META_MAX      65536

/* A growable relative path ("a/b/c"). */
struct pathbuf {
	char *s;
	size_t len, cap;
};
/* Appends "/name" (or "name" when empty); returns the old length to pass
 * to pathbuf_cut, or (size_t)-1 when out of memory. */
size_t pathbuf_push(struct pathbuf *p, const char *name);
void pathbuf_cut(struct pathbuf *p, size_t len);
void pathbuf_free(struct pathbuf *p);

/* An item name the ABI allows and restore may write: relative, no empty,
 * "." or ".." parts, each part at most NAME_MAX bytes. */
int files_name_safe(const char *name);
/* The first path named by a FILE item's metadata: NULL for a plain file
 * (no metadata), *known = 0 when the metadata is not a hard link's. */
const char *files_hardlink_target(const char *meta, int *known);
/* The device number in a device item's metadata ("rdev=MAJOR:MINOR");
 * -1 when the metadata is not that. */
int files_rdev_parse(const char *meta, unsigned *major_out, unsigned *minor_out);
#define FILES_RDEV_META "rdev="
/* Does an exclude pattern match this relative path? */
int files_excluded(const struct files_inst *fi, const char *relpath, const char *base);

/* ---- the walk ---- */

struct walk_entry {
	const char *relpath;   /* path below the root, "a/b/c" */
	const char *name;      /* last part, "c" */
	int parent_fd;         /* the directory that holds it */
	int fd;                /* a directory's own open fd; -1 for the rest */
	const struct stat *st; /* lstat of the entry (fstat of fd for dirs) */
};

struct walker {
	const struct files_inst *fi;
	struct arca_ctx *ctx;
	int quiet; /* pre-count: no messages, skip what fails */
	int (*visit)(struct walker *w, const struct walk_entry *e);
	void *arg;
	dev_t root_dev;
	struct pathbuf path;
	int par; /* items go by handle (host->item_begin_h): workers are writing */
};

/* Walk fi->root in name order, parents before children, calling w->visit
 * for every entry except the root itself. Stops at the first error. */
int files_walk(struct walker *w);
/* May an entry that failed with errno `err` be left out (or is the host
 * itself out of memory or descriptors)? */
int files_skippable(int err);
/* Leave `relpath` out of the snapshot, which failed with errno `err` as
 * arca tried to `what` it ("open", "read"): host->item_skipped, after which
 * the snapshot is recorded partial, and ARCA_OK. An item still open is
 * dropped. With an engine older than ABI 1.1 the snapshot fails instead:
 * the error (never ARCA_OK). */
int files_skip(struct walker *w, const char *relpath, int err, const char *what);
/* The same from any thread when items go by handle; h: the item open by
 * handle for relpath, dropped and released (NULL: none). */
int files_skip_h(struct walker *w, struct arca_item *h, const char *relpath, int err,
                 const char *what);

/* ---- worker threads (files_pool.c) ---- */

/* A job; run frees it (and returns a status whose message it set), drop
 * frees it unrun once the pool has failed. */
struct fjob {
	struct fjob *next;
	int (*run)(struct fjob *j, unsigned char *buf); /* buf: FILES_IO_BLOCK bytes */
	void (*drop)(struct fjob *j);
};
struct fpool;
/* Start n workers. */
int fpool_start(struct fpool **out, int n);
/* Queue a job (blocks while the queue is full). After a failure of the
 * pool the job is dropped and that failure returned, as this thread's. */
int fpool_submit(struct fpool *p, struct fjob *j);
/* Wait until every queued job ran; the pool's failure, if any. */
int fpool_wait(struct fpool *p);
/* Run what is queued, stop the workers, free the pool (NULL: nothing);
 * the pool's failure, if any. */
int fpool_stop(struct fpool *p);
/* The workers an operation uses: restore's --jobs, else the jobs option;
 * 1 (no workers) with an engine without items by handle. */
int files_jobs(const struct files_inst *fi, struct arca_ctx *ctx);

/* Call fn for each item of the snapshot being read, in stored order, until
 * it fails; stops with ARCA_ERR_CANCELLED ("files: WHAT interrupted") when
 * the user asks. ARCA_OK after the last item. */
int files_each_item(struct arca_ctx *ctx, const char *what,
                    int (*fn)(void *arg, const struct arca_item_info *info), void *arg);

/* ---- staging (files_stage.c) ---- */

enum stage_kind {
	STAGE_IN_PLACE, /* no staging: items go straight into DIR */
	STAGE_BESIDE,   /* a staging directory in DIR's parent */
	STAGE_INSIDE,   /* a staging directory in DIR itself */
};

enum stage_dest {
	STAGE_DEST_ABSENT, /* DIR did not exist */
	STAGE_DEST_EMPTY,  /* DIR was an empty directory */
	STAGE_DEST_USED,   /* DIR held entries (--overwrite) */
};

struct stage {
	struct arca_ctx *ctx;
	const struct files_inst *fi;
	enum stage_kind kind;
	enum stage_dest state;
	char *dest;       /* DIR: as given, trailing '/' dropped, a symlink resolved */
	char *path;       /* where items are written: the staging directory, or DIR */
	int pfd;          /* the directory holding the staging directory, or -1 */
	char *name;       /* the staging directory's name in pfd */
	int destfd;       /* DIR, when it existed before the restore, else -1 */
	mode_t dest_mode; /* a new DIR's mode when the snapshot has no "." item */
	char *made;       /* topmost directory made for DIR (mkdir -p), or NULL */
	char *why;        /* in place: why there is no staging directory */
	int merging;      /* a merge into DIR began: DIR is no longer as it was */
	int committed;    /* the restored tree is in DIR: nothing to undo */
};

/* Decide where the restore into `root` writes (see files_stage.c), refusing
 * a non-empty root without --overwrite, and open it: *fd is the directory to
 * write items into, owned by the caller. On failure nothing is left. */
int stage_open(struct stage *sg, struct arca_ctx *ctx, const struct files_inst *fi,
               const char *root, int overwrite, int *fd);
/* Does the commit move the written directory itself (or is the restore in
 * place)? Then directory metadata is applied before stage_commit, where the
 * items were written; otherwise after it, in *final_fd. */
int stage_renames(const struct stage *sg);
/* Move what was written into fd into DIR. has_root_item: the snapshot gave
 * DIR's own metadata ("."); without it DIR keeps the mode it would have had.
 * *final_fd: DIR, when it differs from fd (a merge), else -1. */
int stage_commit(struct stage *sg, int fd, int has_root_item, int *final_fd);
/* After a failure: remove the staging directory, undo mkdir -p, and log what
 * is left in DIR and the command that resumes or cleans it. */
void stage_abort(struct stage *sg);
void stage_free(struct stage *sg);

/* rm -rf of `name` in dfd without following symlinks; 0 or -1 (errno). */
int files_remove_tree(int dfd, const char *name);
/* The status for a failed system call and a hint for the user ("" if none). */
int files_errno_status(int err, const char **hint);

int files_snapshot(void *instance, struct arca_ctx *ctx);
int files_restore(void *instance, struct arca_ctx *ctx);
int files_verify(void *instance, struct arca_ctx *ctx);
/* files_health.c: the health op (option "into"). */
int files_health(void *instance, struct arca_ctx *ctx);

#endif
