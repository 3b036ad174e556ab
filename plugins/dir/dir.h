/* dir.h — the `dir` destination driver: a repository in a local (or
 * mounted) directory. Shared between dir.c (descriptor, open, check, name
 * rules, errno mapping), dir_walk.c (reaching directories below the root),
 * dir_put.c (durable atomic writes) and dir_read.c (get, list, stat,
 * remove).
 *
 * Other people may be able to write the repository directory, so nothing
 * below the root is trusted. The driver works from one descriptor of the
 * root (opened at open time with O_DIRECTORY; the configured path itself
 * may be a symlink, that one is followed) and reaches every directory and
 * object by openat/mkdirat/fstatat/renameat/linkat/unlinkat relative to
 * descriptors, one component at a time, with O_NOFOLLOW or
 * AT_SYMLINK_NOFOLLOW. A symlink, FIFO, device or socket where a directory
 * or object should be is an error naming it (ARCA_ERR_CORRUPT), never
 * followed, opened for reading or deleted through; list skips such entries
 * (warning about symlinks). Objects are opened with O_NONBLOCK and checked
 * with fstat before a byte is read, and no error quotes file content.
 *
 * Every op may run concurrently on one instance: the instance is read-only
 * after open, except that a root missing at open (before `arca init`) is
 * opened, once, by the first op that finds it (created by the first put),
 * and every call keeps its state on its own stack. */
#ifndef ARCA_DIR_H
#define ARCA_DIR_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "arca/plugin.h"

/* Objects are read and written in pieces of this size. */
#define DIR_IO_BLOCK (1024 * 1024)
/* An object this large leaves the page cache once flushed, or once a get
 * read it (option drop_cache). */
#define DIR_DROP_CACHE_MIN (1024 * 1024)
/* Temporary files of an unfinished put start with this; list skips them. */
#define DIR_TMP_PREFIX ".tmp."

struct dir_inst {
	char *root;         /* the configured path, without trailing '/' */
	int fsync;          /* fsync files and directories (option fsync) */
	int drop_cache;     /* drop flushed large objects from the page cache */
	atomic_int root_fd; /* the root directory; -1 until it exists */
	char host_tag[9];   /* dir_host_tag of this host, in temp file names */
};

/* Set once by arca_driver_entry, read-only afterwards. */
extern const struct arca_host *dir_host;

/* Checks an object name: non-empty, relative, no empty, "." or ".." parts,
 * no temp-file names. Returns ARCA_OK or ARCA_ERR_INTERNAL (recorded). */
int dir_check_name(const struct dir_inst *d, const char *name);
/* root + "/" + name into out (PATH_MAX bytes); ARCA_ERR_IO if too long. */
int dir_object_path(const struct dir_inst *d, const char *name, char *out, size_t cap);
/* Map errno to a status and record "dir ROOT: cannot VERB PATH: strerror". */
int dir_errno(const struct dir_inst *d, int err, const char *verb, const char *path);

/* Open the root or a directory below it: the '/'-separated components
 * path[0..len), each a directory reached with O_NOFOLLOW from the one
 * before (len 0: the root). With `create`, missing ones are made (0700)
 * and their parents flushed if the fsync option is on. Returns ARCA_OK
 * with *fd (give it back with dir_release), ARCA_ERR_NOT_FOUND without a
 * recorded message when something is missing, or a recorded error. */
int dir_open_dirs(struct dir_inst *d, const char *path, size_t len, int create, int *fd);
/* dir_open_dirs of the directory holding object `name` (a checked name);
 * *base points at the object's last component inside `name`. */
int dir_parent(struct dir_inst *d, const char *name, int create, int *fd, const char **base);
/* Close a descriptor from dir_open_dirs (the shared root fd stays open). */
void dir_release(struct dir_inst *d, int fd);
/* fsync a directory; 0, or -1 with errno (EINVAL, no dir fsync, is 0). */
int dir_sync(int fd);
/* "a FIFO", "a symbolic link", ...: what a file of this mode is. */
const char *dir_kind(mode_t mode);
/* Record that object `name` is not a regular file but of `mode`:
 * ARCA_ERR_CORRUPT. */
int dir_not_regular(const struct dir_inst *d, const char *name, mode_t mode);

int dir_put(void *instance, const char *name, const void *data, size_t len, unsigned flags);
int dir_get(void *instance, const char *name, uint64_t offset, uint64_t length, arca_sink_fn sink,
            void *arg);
int dir_list(void *instance, const char *prefix,
             int (*cb)(void *arg, const char *name, uint64_t size), void *arg);
int dir_remove(void *instance, const char *name);
int dir_stat(void *instance, const char *name, uint64_t *size);
/* stat of a regular object, not following links (dir_stat's work). */
int dir_stat_st(void *instance, const char *name, struct stat *st);
int dir_sweep(void *instance, const char *hostname, int64_t max_age_sec, unsigned *removed);
/* The host part of a temporary file's name: 8 hex digits of a hash of
 * the host name, so a sweep can tell this host's files from others'. */
void dir_host_tag(const char *hostname, char out[9]);

/* ---- ABI 1.1 ops with a per-call context (dir_call.c) ---- */

/* The call context of the op running on this thread, for dir_errno (which
 * marks timeouts and stale NFS handles transient), progress and
 * cancellation; NULL when a 1.0 op runs. enter returns the outer one for
 * leave to put back. */
struct arca_dest_call *dir_call_enter(struct arca_dest_call *call);
void dir_call_leave(struct arca_dest_call *outer);
void dir_call_transient(int err);
void dir_call_progress(uint64_t bytes);
int dir_call_cancelled(void);

int dir_probe(void *instance, struct arca_dest_call *call, unsigned *caps);
int dir_put_call(void *instance, struct arca_dest_call *call, const char *name, const void *data,
                 size_t len, unsigned flags, const char *if_version);
int dir_put_stream(void *instance, struct arca_dest_call *call, const char *name, uint64_t size,
                   arca_source_fn source, void *arg, unsigned flags);
int dir_get_call(void *instance, struct arca_dest_call *call, const char *name, uint64_t offset,
                 uint64_t length, arca_sink_fn sink, void *arg);
int dir_list_call(void *instance, struct arca_dest_call *call, const char *prefix,
                  int (*cb)(void *arg, const char *name, uint64_t size), void *arg);
int dir_remove_call(void *instance, struct arca_dest_call *call, const char *const *names,
                    size_t n);
int dir_stat_call(void *instance, struct arca_dest_call *call, const char *name,
                  struct arca_dest_stat *st);

#endif
