/* files.c — the `files` target driver: descriptor, options, open, check,
 * and the rules shared by snapshot, restore and verify. */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"

const struct arca_host *files_host;

static const struct arca_option files_options[] = {
    {.name = "path",
     .type = ARCA_OPT_PATH,
     .flags = ARCA_OPT_REQUIRED,
     .help = "directory tree to protect (symlinks inside it are stored, not followed)"},
    {.name = "exclude",
     .type = ARCA_OPT_LIST,
     .help = "glob patterns (fnmatch) matched against each path relative to `path` "
             "and against its base name; a leading '/' anchors a pattern to the top; "
             "an excluded directory is skipped whole"},
    {.name = "one_file_system",
     .type = ARCA_OPT_BOOL,
     .default_value = "no",
     .help = "do not descend into directories on other filesystems (mount points "
             "are stored empty)"},
    {.name = "jobs",
     .type = ARCA_OPT_INT,
     .default_value = "4",
     .min = 1,
     .max = FILES_JOBS_MAX,
     .help = "files read (snapshot) or written (restore, unless --jobs) at once by worker "
             "threads; 1: one at a time, in the walk's order"},
    {.name = NULL},
};

/* ---- shared helpers ------------------------------------------------ */

size_t pathbuf_push(struct pathbuf *p, const char *name)
{
	size_t old = p->len, n = strlen(name), need = p->len + n + 2;

	if (need > p->cap) {
		size_t cap = p->cap ? p->cap : 256;
		char *s;

		while (cap < need)
			cap *= 2;
		s = realloc(p->s, cap);
		if (!s)
			return (size_t)-1;
		p->s = s;
		p->cap = cap;
	}
	if (p->len > 0)
		p->s[p->len++] = '/';
	memcpy(p->s + p->len, name, n + 1);
	p->len += n;
	return old;
}

void pathbuf_cut(struct pathbuf *p, size_t len)
{
	p->len = len;
	if (p->s)
		p->s[len] = '\0';
}

void pathbuf_free(struct pathbuf *p)
{
	free(p->s);
	p->s = NULL;
	p->len = p->cap = 0;
}

int files_name_safe(const char *name)
{
	const char *p = name, *slash;
	size_t n;

	if (!name || name[0] == '\0' || name[0] == '/')
		return 0;
	for (;;) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n > NAME_MAX)
			return 0;
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (!slash)
			return 1;
		p = slash + 1;
	}
}

const char *files_hardlink_target(const char *meta, int *known)
{
	size_t n = sizeof(FILES_HARDLINK_META) - 1;

	*known = 1;
	if (!meta)
		return NULL;
	if (strncmp(meta, FILES_HARDLINK_META, n) == 0)
		return meta + n;
	*known = 0;
	return NULL;
}

int files_rdev_parse(const char *meta, unsigned *major_out, unsigned *minor_out)
{
	size_t n = sizeof(FILES_RDEV_META) - 1;
	unsigned long long ma, mi;
	char *end;

	if (!meta || strncmp(meta, FILES_RDEV_META, n) != 0 || meta[n] < '0' || meta[n] > '9')
		return -1;
	errno = 0;
	ma = strtoull(meta + n, &end, 10);
	if (errno || *end != ':' || end[1] < '0' || end[1] > '9' || ma > 0xffffffffull)
		return -1;
	mi = strtoull(end + 1, &end, 10);
	if (errno || *end || mi > 0xffffffffull)
		return -1;
	*major_out = (unsigned)ma;
	*minor_out = (unsigned)mi;
	return 0;
}

int files_excluded(const struct files_inst *fi, const char *relpath, const char *base)
{
	size_t i;

	for (i = 0; i < fi->n_exclude; i++) {
		const char *pat = fi->exclude[i];

		if (pat[0] == '/') {
			if (fnmatch(pat + 1, relpath, FNM_PATHNAME) == 0)
				return 1;
		} else if (fnmatch(pat, relpath, FNM_PATHNAME) == 0 || fnmatch(pat, base, 0) == 0) {
			return 1;
		}
	}
	return 0;
}

/* ---- open / close -------------------------------------------------- */

static void files_close(void *instance)
{
	struct files_inst *fi = instance;
	size_t i;

	if (!fi)
		return;
	for (i = 0; i < fi->n_exclude; i++)
		free(fi->exclude[i]);
	free(fi->exclude);
	free(fi->root);
	free(fi->name);
	free(fi);
}

/* Split the comma-separated exclude list; blanks around items and trailing
 * slashes ("cache/") are dropped. */
static int parse_excludes(struct files_inst *fi, const char *list)
{
	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *s = p;
		char **grown, *pat;

		while (n > 0 && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		while (n > 1 && s[n - 1] == '/')
			n--;
		if (n > 0) {
			grown = realloc(fi->exclude, (fi->n_exclude + 1) * sizeof(*grown));
			if (!grown)
				return -1;
			fi->exclude = grown;
			pat = strndup(s, n);
			if (!pat)
				return -1;
			fi->exclude[fi->n_exclude++] = pat;
		}
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
}

static int files_open(const struct arca_config *cfg, void **instance)
{
	const char *path = files_host->config_get(cfg, "path");
	const char *exclude = files_host->config_get(cfg, "exclude");
	struct files_inst *fi;
	size_t n;

	if (!path || path[0] != '/')
		return files_host->error(ARCA_ERR_CONFIG,
		                         "files: path must be an absolute directory, got \"%s\"",
		                         path ? path : "");
	fi = calloc(1, sizeof(*fi));
	if (!fi || !(fi->root = strdup(path)) ||
	    !(fi->name = strdup(files_host->config_section(cfg))) ||
	    (exclude && parse_excludes(fi, exclude) != 0)) {
		files_close(fi);
		return files_host->error(ARCA_ERR_INTERNAL, "files: out of memory");
	}
	n = strlen(fi->root);
	while (n > 1 && fi->root[n - 1] == '/')
		fi->root[--n] = '\0';
	fi->one_file_system = files_host->config_bool(cfg, "one_file_system", 0);
	fi->jobs = (int)files_host->config_int(cfg, "jobs", 4);
	*instance = fi;
	return ARCA_OK;
}

static int files_check(void *instance, struct arca_ctx *ctx)
{
	struct files_inst *fi = instance;
	struct stat st;

	(void)ctx;
	if (stat(fi->root, &st) != 0) {
		if (errno == ENOENT)
			return files_host->error(ARCA_ERR_CONNECT,
			                         "files %s: does not exist; fix path or create "
			                         "the directory",
			                         fi->root);
		return files_host->error(errno == EACCES ? ARCA_ERR_AUTH : ARCA_ERR_IO,
		                         "files %s: cannot reach: %s", fi->root, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return files_host->error(ARCA_ERR_CONFIG,
		                         "files %s: is not a directory; path must name the "
		                         "top of the tree to protect",
		                         fi->root);
	if (access(fi->root, R_OK | X_OK) != 0)
		return files_host->error(ARCA_ERR_AUTH,
		                         "files %s: not readable by uid %u: %s; run arca as a "
		                         "user who can read the whole tree (often root)",
		                         fi->root, (unsigned)geteuid(), strerror(errno));
	return ARCA_OK;
}

int files_each_item(struct arca_ctx *ctx, const char *what,
                    int (*fn)(void *arg, const struct arca_item_info *info), void *arg)
{
	struct arca_item_info info;
	int rc;

	for (;;) {
		if (files_host->cancelled(ctx))
			return files_host->error(ARCA_ERR_CANCELLED, "files: %s interrupted", what);
		memset(&info, 0, sizeof(info));
		info.struct_size = sizeof(info);
		rc = files_host->item_next(ctx, &info);
		if (rc == ARCA_ERR_NOT_FOUND)
			return ARCA_OK;
		if (rc == ARCA_OK)
			rc = fn(arg, &info);
		if (rc != ARCA_OK)
			return rc;
	}
}

static const struct arca_op_option files_restore_options[] = {
    {"into", 1, "a directory to restore into instead of path", NULL, NULL},
    {"overwrite", 0,
     "restore over existing files (staged beside the directory, merged into it when complete)",
     NULL, NULL},
    {"jobs", 1, "files written at once (default: the target's jobs option)", NULL, NULL},
    {NULL, 0, NULL, NULL, NULL},
};

static const struct arca_op_option files_health_options[] = {
    {"into", 1, "look at this directory (a restored copy) instead of path", NULL, NULL},
    {NULL, 0, NULL, NULL, NULL},
};

static const struct arca_target_ops files_target_ops = {
    .struct_size = sizeof(struct arca_target_ops),
    .restore_options = files_restore_options,
    .open = files_open,
    .check = files_check,
    .snapshot = files_snapshot,
    .restore = files_restore,
    .verify = files_verify,
    .close = files_close,
    .command = NULL,
    .health_options = files_health_options,
    .health = files_health,
};

static const struct arca_driver files_driver = {
    .abi_major = ARCA_ABI_MAJOR,
    .struct_size = sizeof(struct arca_driver),
    .name = "files",
    /* 1.1: hard-link items (files.h); 1.0 would restore them as empty files.
     * 1.2: fifo and device items, partial snapshots; 1.1 refuses those items */
    .version = "1.2.0",
    .description = "directory trees: files (hard links kept), directories, symlinks, fifos and "
                   "device nodes with their metadata",
    .target_options = files_options,
    .target = &files_target_ops,
};

/* Exported with a prototype so -Wmissing-prototypes stays quiet. */
ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *host);

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *host)
{
	files_host = host;
	return &files_driver;
}
