/* dir.c — the `dir` destination driver: descriptor, options, open, check,
 * and the rules shared by every op (object names, errno -> status). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dir.h"

const struct arca_host *dir_host;

static const struct arca_option dir_options[] = {
    {.name = "path",
     .type = ARCA_OPT_PATH,
     .flags = ARCA_OPT_REQUIRED,
     .help = "directory that holds the repository (local disk or a mount)"},
    {.name = "fsync",
     .type = ARCA_OPT_BOOL,
     .default_value = "yes",
     .help = "fsync every object and directory before a put returns (crash safety)"},
    {.name = "drop_cache",
     .type = ARCA_OPT_BOOL,
     .default_value = "yes",
     .help = "drop objects of 1 MiB or more (packs) from the page cache once flushed, and "
             "what a restore or verify read of them: a backup does not push the host's "
             "working set (a database's cache) out of memory for data it seldom reads again"},
    {.name = NULL},
};

int dir_errno(const struct dir_inst *d, int err, const char *verb, const char *path)
{
	int status;
	const char *hint = "";

	switch (err) {
	case ENOSPC:
	case EDQUOT:
		status = ARCA_ERR_NOSPACE;
		hint = "; free space or raise the quota on that filesystem (arca prune "
		       "removes what failed snapshots left)";
		break;
	case EACCES:
	case EPERM:
		status = ARCA_ERR_AUTH;
		hint = "; check the owner and permissions of the directory";
		break;
	case EROFS:
		status = ARCA_ERR_IO;
		hint = "; the filesystem is mounted read-only";
		break;
	case ENOENT:
		status = ARCA_ERR_NOT_FOUND;
		break;
	default:
		status = ARCA_ERR_IO;
		break;
	}
	dir_call_transient(err);
	return dir_host->error(status, "dir %s: cannot %s %s: %s%s", d->root, verb, path,
	                       strerror(err), hint);
}

int dir_check_name(const struct dir_inst *d, const char *name)
{
	const char *p = name, *slash;
	size_t n;

	if (name[0] == '\0' || name[0] == '/')
		goto bad;
	for (;;) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n > NAME_MAX)
			goto bad;
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			goto bad;
		/* would be hidden by list and collide with an unfinished put */
		if (strncmp(p, DIR_TMP_PREFIX, strlen(DIR_TMP_PREFIX)) == 0)
			goto bad;
		if (!slash)
			return ARCA_OK;
		p = slash + 1;
	}
bad:
	return dir_host->error(ARCA_ERR_INTERNAL,
	                       "dir %s: refusing object name \"%s\": names are relative, "
	                       "'/'-separated, without empty, \".\", \"..\" or \"%s*\" parts",
	                       d->root, name, DIR_TMP_PREFIX);
}

int dir_object_path(const struct dir_inst *d, const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s", d->root, name);

	if (n < 0 || (size_t)n >= cap)
		return dir_host->error(ARCA_ERR_IO, "dir %s: object path for %s is too long",
		                       d->root, name);
	return ARCA_OK;
}

static int dir_open(const struct arca_config *cfg, void **instance)
{
	const char *path = dir_host->config_get(cfg, "path");
	struct dir_inst *d;
	size_t n;

	if (!path || path[0] != '/')
		return dir_host->error(ARCA_ERR_CONFIG,
		                       "dir: path must be an absolute directory, got \"%s\"",
		                       path ? path : "");
	d = calloc(1, sizeof(*d));
	if (!d || !(d->root = strdup(path))) {
		free(d);
		return dir_host->error(ARCA_ERR_INTERNAL, "dir: out of memory");
	}
	n = strlen(d->root);
	while (n > 1 && d->root[n - 1] == '/')
		d->root[--n] = '\0';
	d->fsync = dir_host->config_bool(cfg, "fsync", 1);
	d->drop_cache = dir_host->config_bool(cfg, "drop_cache", 1);
	char host[256] = "";
	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "localhost");
	dir_host_tag(host, d->host_tag);
	/* The configured path may be a symlink; nothing below it is followed.
	 * Missing (before init) or unusable: ops retry, check reports why. */
	atomic_init(&d->root_fd, open(d->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	*instance = d;
	return ARCA_OK;
}

static int dir_check(void *instance)
{
	struct dir_inst *d = instance;
	struct stat st;

	if (stat(d->root, &st) != 0) {
		if (errno == ENOENT)
			return dir_host->error(ARCA_ERR_CONNECT,
			                       "dir %s: the directory does not exist; `arca init` "
			                       "creates it (if a backup disk belongs there, mount "
			                       "it first)",
			                       d->root);
		return dir_errno(d, errno, "reach", d->root);
	}
	if (!S_ISDIR(st.st_mode))
		return dir_host->error(ARCA_ERR_CONFIG,
		                       "dir %s: exists but is not a directory; point path at "
		                       "a directory",
		                       d->root);
	if (access(d->root, W_OK | X_OK) != 0) {
		if (errno == EROFS)
			return dir_host->error(ARCA_ERR_IO,
			                       "dir %s: the filesystem is mounted read-only; "
			                       "remount it read-write",
			                       d->root);
		return dir_host->error(ARCA_ERR_AUTH,
		                       "dir %s: not writable by uid %u: %s; run arca as the "
		                       "directory's owner (uid %u) or fix its permissions",
		                       d->root, (unsigned)geteuid(), strerror(errno),
		                       (unsigned)st.st_uid);
	}
	return ARCA_OK;
}

static void dir_close(void *instance)
{
	struct dir_inst *d = instance;

	if (!d)
		return;
	if (atomic_load(&d->root_fd) >= 0)
		close(atomic_load(&d->root_fd));
	free(d->root);
	free(d);
}

static const struct arca_dest_ops dir_dest_ops = {
    .struct_size = sizeof(struct arca_dest_ops),
    .caps = ARCA_CAP_ATOMIC_PUT | ARCA_CAP_EXCLUSIVE | ARCA_CAP_RANGE_GET,
    .open = dir_open,
    .check = dir_check,
    .put = dir_put,
    .get = dir_get,
    .list = dir_list,
    .remove = dir_remove,
    .stat = dir_stat,
    .close = dir_close,
    .sweep = dir_sweep,
    .probe = dir_probe,
    .put_call = dir_put_call,
    .put_stream = dir_put_stream,
    .get_call = dir_get_call,
    .list_call = dir_list_call,
    .remove_call = dir_remove_call,
    .stat_call = dir_stat_call,
};

static const struct arca_driver dir_driver = {
    .abi_major = ARCA_ABI_MAJOR,
    .struct_size = sizeof(struct arca_driver),
    .name = "dir",
    .version = "1.0.0",
    .description = "repository in a local or mounted directory",
    .dest_options = dir_options,
    .dest = &dir_dest_ops,
};

/* Exported with a prototype so -Wmissing-prototypes stays quiet. */
ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *host);

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *host)
{
	dir_host = host;
	return &dir_driver;
}
