/* dir.h — the `dir` destination driver: a repository in a local (or
 * mounted) directory. Shared between dir.c (descriptor, open, check, name
 * rules, errno mapping), dir_put.c (durable atomic writes) and dir_read.c
 * (get, list, stat, remove).
 *
 * Every op may run concurrently on one instance: the instance is read-only
 * after open and every call keeps its state on its own stack. */
#ifndef ARCA_DIR_H
#define ARCA_DIR_H

#include <stddef.h>
#include <stdint.h>
#include "arca/plugin.h"

/* Objects are read and written in pieces of this size. */
#define DIR_IO_BLOCK (1024 * 1024)
/* Temporary files of an unfinished put start with this; list skips them. */
#define DIR_TMP_PREFIX ".tmp."

struct dir_inst {
	char *root;         /* the configured path, without trailing '/' */
	int fsync;          /* fsync files and directories (option fsync) */
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

int dir_put(void *instance, const char *name, const void *data, size_t len, unsigned flags);
int dir_get(void *instance, const char *name, uint64_t offset, uint64_t length,
	    arca_sink_fn sink, void *arg);
int dir_list(void *instance, const char *prefix,
	     int (*cb)(void *arg, const char *name, uint64_t size), void *arg);
int dir_remove(void *instance, const char *name);
int dir_stat(void *instance, const char *name, uint64_t *size);

#endif
