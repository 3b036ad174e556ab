/* files.h — the `files` target driver: a directory tree with its metadata.
 *
 *   files.c           descriptor, options, open/close/check, item name rules
 *   files_walk.c      deterministic tree walk (openat, no symlinks followed)
 *   files_snapshot.c  snapshot: the walk streamed as items
 *   files_restore.c   restore: items written back under a root, never outside
 *   files_verify.c    verify: every item read back and checked
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
 * A FILE item with any other metadata is refused, never restored empty. */
#ifndef ARCA_FILES_H
#define ARCA_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include "arca/plugin.h"

/* Content is read and written in pieces of this size. */
#define FILES_IO_BLOCK (1024 * 1024)

struct files_inst {
	char *root;             /* option path, without trailing '/' */
	char **exclude;         /* option exclude: fnmatch patterns */
	size_t n_exclude;
	int one_file_system;    /* option one_file_system */
};

/* Set once by arca_driver_entry, read-only afterwards. */
extern const struct arca_host *files_host;

/* The driver metadata of a hard-link item (see the top of this file) and
 * the ABI's limit on metadata, terminating NUL included. */
#define FILES_HARDLINK_META "hardlink="
#define FILES_META_MAX 65536

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
/* Does an exclude pattern match this relative path? */
int files_excluded(const struct files_inst *fi, const char *relpath, const char *base);

/* ---- the walk ---- */

struct walk_entry {
	const char *relpath;    /* path below the root, "a/b/c" */
	const char *name;       /* last part, "c" */
	int parent_fd;          /* the directory that holds it */
	int fd;                 /* a directory's own open fd; -1 for the rest */
	const struct stat *st;  /* lstat of the entry (fstat of fd for dirs) */
};

struct walker {
	const struct files_inst *fi;
	struct arca_ctx *ctx;
	int quiet;              /* pre-count: no messages, skip what fails */
	int (*visit)(struct walker *w, const struct walk_entry *e);
	void *arg;
	dev_t root_dev;
	struct pathbuf path;
};

/* Walk fi->root in name order, parents before children, calling w->visit
 * for every entry except the root itself. Stops at the first error. */
int files_walk(struct walker *w);

int files_snapshot(void *instance, struct arca_ctx *ctx);
int files_restore(void *instance, struct arca_ctx *ctx);
int files_verify(void *instance, struct arca_ctx *ctx);

#endif
