/* compat10.c — a driver built against the ABI 1.0 header (plugin_v1_0.h,
 * kept as it shipped), to prove that this engine still loads and runs one
 * (issue 15, item 10). Both kinds in one module:
 *
 *   target:      one STREAM item "data", the bytes of the file `path`;
 *                restore writes them to the file named by --into (or
 *                `path`); option secret_then_cancel makes the snapshot ask
 *                host->secret for the unset `token` (an expected NOT_FOUND)
 *                and then stop as if cancelled, without a message (item 7).
 *   destination: objects as files below `path`.
 *
 * The ops tables are copied to malloc'd blocks of exactly their 1.0 size at
 * entry, so under ASan the engine reading a 1.1 member of them is a
 * heap-buffer-overflow. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "plugin_v1_0.h"

#if ARCA_ABI_MINOR != 0
#error "compat10 must be built against the ABI 1.0 header"
#endif

static const struct arca_host *host;

struct inst {
	const struct arca_config *cfg;
	char *path;
};

static int c_open(const struct arca_config *cfg, void **out)
{
	struct inst *in = calloc(1, sizeof *in);
	if (!in)
		return host->error(ARCA_ERR_INTERNAL, "out of memory");
	in->cfg = cfg;
	in->path = strdup(host->config_get(cfg, "path"));
	*out = in;
	return ARCA_OK;
}

static void c_close(void *p)
{
	struct inst *in = p;
	free(in->path);
	free(in);
}

/* ---- target ------------------------------------------------------------ */

static int t_check(void *p, struct arca_ctx *ctx)
{
	struct inst *in = p;
	(void)ctx;
	if (access(in->path, R_OK) < 0)
		return host->error(ARCA_ERR_CONNECT, "compat10: %s: %s", in->path, strerror(errno));
	return ARCA_OK;
}

static int t_snapshot(void *p, struct arca_ctx *ctx)
{
	struct inst *in = p;
	if (host->config_bool(in->cfg, "secret_then_cancel", 0)) {
		char *s = NULL;
		if (host->secret(in->cfg, "token", &s) == ARCA_OK)
			free(s);   /* NOT_FOUND expected: the token is optional */
		return ARCA_ERR_CANCELLED;   /* as after host->cancelled(), no message */
	}
	int fd = open(in->path, O_RDONLY);
	if (fd < 0)
		return host->error(ARCA_ERR_IO, "compat10: %s: %s", in->path, strerror(errno));
	struct arca_item_info info = {.struct_size = sizeof info, .name = "data",
				      .type = ARCA_ITEM_STREAM, .mode = 0644, .size = UINT64_MAX};
	int rc = host->item_begin(ctx, &info);
	char buf[4096];
	ssize_t n;
	while (rc == ARCA_OK && (n = read(fd, buf, sizeof buf)) > 0)
		rc = host->item_write(ctx, buf, (size_t)n);
	close(fd);
	if (rc == ARCA_OK)
		rc = host->item_end(ctx);
	return rc;
}

static int t_restore(void *p, struct arca_ctx *ctx)
{
	struct inst *in = p;
	const char *into = host->option(ctx, "into");
	const char *to = into ? into : in->path;
	struct arca_item_info info;
	int rc = host->item_open(ctx, "data", &info);
	if (rc != ARCA_OK)
		return rc;
	int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return host->error(ARCA_ERR_IO, "compat10: %s: %s", to, strerror(errno));
	char buf[4096];
	size_t got;
	while ((rc = host->item_read(ctx, buf, sizeof buf, &got)) == ARCA_OK && got)
		if (write(fd, buf, got) != (ssize_t)got) {
			rc = host->error(ARCA_ERR_IO, "compat10: %s: %s", to, strerror(errno));
			break;
		}
	if (close(fd) < 0 && rc == ARCA_OK)
		rc = host->error(ARCA_ERR_IO, "compat10: %s: %s", to, strerror(errno));
	return rc;
}

static const struct arca_target_ops target_ops = {
	.struct_size = sizeof(struct arca_target_ops),
	.open = c_open,
	.check = t_check,
	.snapshot = t_snapshot,
	.restore = t_restore,
	.close = c_close,
};

/* ---- destination --------------------------------------------------------- */

static char *obj_path(struct inst *in, const char *name)
{
	size_t n = strlen(in->path) + strlen(name) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", in->path, name);
	return p;
}

static int d_check(void *p)
{
	struct inst *in = p;
	struct stat st;
	if (stat(in->path, &st) < 0 || !S_ISDIR(st.st_mode))
		return host->error(ARCA_ERR_CONNECT, "compat10: %s is not a directory", in->path);
	return ARCA_OK;
}

static void make_parents(char *path)
{
	for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		mkdir(path, 0755);
		*s = '/';
	}
}

static int d_put(void *p, const char *name, const void *data, size_t len, unsigned flags)
{
	static unsigned long seq;
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	struct inst *in = p;
	char *path = obj_path(in, name);
	char tmp[4200];
	pthread_mutex_lock(&mu);
	snprintf(tmp, sizeof tmp, "%s.tmp-%ld-%lu", path, (long)getpid(), seq++);
	pthread_mutex_unlock(&mu);
	make_parents(path);
	int rc = ARCA_OK;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || fsync(fd) < 0)
		rc = host->error(ARCA_ERR_IO, "compat10: writing %s: %s", tmp, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (rc == ARCA_OK && (flags & ARCA_PUT_EXCLUSIVE)) {
		if (link(tmp, path) < 0)
			rc = errno == EEXIST
				     ? host->error(ARCA_ERR_EXISTS, "compat10: %s exists", name)
				     : host->error(ARCA_ERR_IO, "compat10: %s: %s", path, strerror(errno));
		unlink(tmp);
	} else if (rc == ARCA_OK) {
		if (rename(tmp, path) < 0)
			rc = host->error(ARCA_ERR_IO, "compat10: %s: %s", path, strerror(errno));
	} else {
		unlink(tmp);
	}
	free(path);
	return rc;
}

static int not_found(const char *name)
{
	return host->error(ARCA_ERR_NOT_FOUND, "compat10: object %s not found", name);
}

static int d_get(void *p, const char *name, uint64_t offset, uint64_t length, arca_sink_fn sink,
		 void *arg)
{
	char *path = obj_path(p, name);
	int fd = open(path, O_RDONLY);
	free(path);
	if (fd < 0)
		return errno == ENOENT ? not_found(name)
				       : host->error(ARCA_ERR_IO, "compat10: %s: %s", name, strerror(errno));
	char buf[8192];
	int rc = ARCA_OK;
	while (length > 0) {
		size_t want = length < sizeof buf ? (size_t)length : sizeof buf;
		ssize_t n = pread(fd, buf, want, (off_t)offset);
		if (n < 0) {
			rc = host->error(ARCA_ERR_IO, "compat10: reading %s: %s", name, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if ((rc = sink(arg, buf, (size_t)n)) != 0)
			break;
		offset += (uint64_t)n;
		if (length != UINT64_MAX)
			length -= (uint64_t)n;
	}
	close(fd);
	return rc;
}

static int walk(const char *dir, const char *rel, const char *prefix,
		int (*cb)(void *, const char *, uint64_t), void *arg)
{
	DIR *d = opendir(dir);
	if (!d)
		return ARCA_OK;
	struct dirent *de;
	int rc = ARCA_OK;
	while (rc == ARCA_OK && (de = readdir(d))) {
		if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp-"))
			continue;
		char full[4200], name[4200];
		snprintf(full, sizeof full, "%s/%s", dir, de->d_name);
		snprintf(name, sizeof name, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		struct stat st;
		if (stat(full, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			rc = walk(full, name, prefix, cb, arg);
		else if (!strncmp(name, prefix, strlen(prefix)))
			rc = cb(arg, name, (uint64_t)st.st_size);
	}
	closedir(d);
	return rc;
}

static int d_list(void *p, const char *prefix, int (*cb)(void *, const char *, uint64_t), void *arg)
{
	struct inst *in = p;
	return walk(in->path, "", prefix, cb, arg);
}

static int d_remove(void *p, const char *name)
{
	char *path = obj_path(p, name);
	int rc = ARCA_OK;
	if (unlink(path) < 0 && errno != ENOENT)
		rc = host->error(ARCA_ERR_IO, "compat10: removing %s: %s", name, strerror(errno));
	free(path);
	return rc;
}

static int d_stat(void *p, const char *name, uint64_t *size)
{
	char *path = obj_path(p, name);
	struct stat st;
	int r = stat(path, &st);
	free(path);
	if (r < 0)
		return not_found(name);
	*size = (uint64_t)st.st_size;
	return ARCA_OK;
}

static const struct arca_dest_ops dest_ops = {
	.struct_size = sizeof(struct arca_dest_ops),
	.caps = ARCA_CAP_ATOMIC_PUT | ARCA_CAP_EXCLUSIVE | ARCA_CAP_RANGE_GET,
	.open = c_open,
	.check = d_check,
	.put = d_put,
	.get = d_get,
	.list = d_list,
	.remove = d_remove,
	.stat = d_stat,
	.close = c_close,
};

static const struct arca_option target_options[] = {
	{"path", ARCA_OPT_PATH, ARCA_OPT_REQUIRED, NULL, "the file to back up", NULL, 0, 0},
	{"secret_then_cancel", ARCA_OPT_BOOL, 0, "no", "test: secret NOT_FOUND, then cancel",
	 NULL, 0, 0},
	{"token", ARCA_OPT_STRING, ARCA_OPT_SECRET, NULL, "an optional secret", NULL, 0, 0},
	{NULL, 0, 0, NULL, NULL, NULL, 0, 0},
};

static const struct arca_option dest_options[] = {
	{"path", ARCA_OPT_PATH, ARCA_OPT_REQUIRED, NULL, "directory of the objects", NULL, 0, 0},
	{NULL, 0, 0, NULL, NULL, NULL, 0, 0},
};

static struct arca_driver driver = {
	.abi_major = ARCA_ABI_MAJOR,
	.struct_size = sizeof(struct arca_driver),
	.name = "compat10",
	.version = "1.0.0",
	.description = "a driver built against the ABI 1.0 header (test)",
	.target_options = target_options,
	.dest_options = dest_options,
};

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *h);

const struct arca_driver *arca_driver_entry(const struct arca_host *h)
{
	/* Exactly the 1.0 sizes, on the heap: nothing after them is readable
	 * under ASan. Kept for the life of the process (reachable: no leak). */
	static struct arca_target_ops *t;
	static struct arca_dest_ops *d;
	host = h;
	if (!t) {
		t = malloc(sizeof *t);
		d = malloc(sizeof *d);
		if (!t || !d)
			return NULL;
		memcpy(t, &target_ops, sizeof *t);
		memcpy(d, &dest_ops, sizeof *d);
	}
	driver.target = t;
	driver.dest = d;
	return &driver;
}
