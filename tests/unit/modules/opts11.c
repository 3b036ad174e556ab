/* opts11.c — a target driver that declares an option for every operation
 * (ABI 1.1) and writes what it was handed, so that tests/integration/
 * cli_op_options.sh can check the engine's generic option parsing without
 * PostgreSQL:
 *
 *   snapshot: --label VALUE, --fast (only where mode=quick; not with
 *             --label); stores two STREAM items, "a" and "b";
 *   restore:  --into FILE; reads the items, rewinds (host->item_rewind)
 *             and reads the first one again;
 *   verify:   --deep; sees the engine's --snapshot and --read-data too;
 *   check:    --probe VALUE;
 *   health:   --into FILE: healthy when FILE exists.
 *
 * Each op appends "OP name=value ..." to the file named by `log`. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "arca/plugin.h"

static const struct arca_host *host;

static const struct arca_option options[] = {
    {"log", ARCA_OPT_PATH, ARCA_OPT_REQUIRED, NULL, "where each op writes what it saw", NULL, 0, 0},
    {"mode", ARCA_OPT_ENUM, 0, "full", "quick takes --fast", "full|quick", 0, 0},
    {NULL, 0, 0, NULL, NULL, NULL, 0, 0},
};

static int t_open(const struct arca_config *cfg, void **instance)
{
	*instance = (void *)cfg;
	return ARCA_OK;
}

static void t_close(void *instance)
{
	(void)instance;
}

/* "OP a=1 b=yes" for the options of `names` that were given. */
static int note(void *instance, struct arca_ctx *ctx, const char *op, const char *const *names)
{
	const char *path = host->config_get(instance, "log");
	FILE *f = fopen(path, "a");
	if (!f)
		return host->error(ARCA_ERR_IO, "opts11: %s: %s", path, strerror(errno));
	fprintf(f, "%s", op);
	for (; *names; names++) {
		const char *v = host->option(ctx, *names);
		if (v)
			fprintf(f, " %s=%s", *names, v);
	}
	fputc('\n', f);
	return fclose(f) == 0 ? ARCA_OK : host->error(ARCA_ERR_IO, "opts11: %s", path);
}

static int item(struct arca_ctx *ctx, const char *name, const char *text)
{
	struct arca_item_info info = {.struct_size = sizeof info,
	                              .name = name,
	                              .type = ARCA_ITEM_STREAM,
	                              .mode = 0644,
	                              .size = strlen(text)};
	int rc = host->item_begin(ctx, &info);
	if (rc == ARCA_OK)
		rc = host->item_write(ctx, text, strlen(text));
	return rc == ARCA_OK ? host->item_end(ctx) : rc;
}

static int t_snapshot(void *instance, struct arca_ctx *ctx)
{
	static const char *const names[] = {"label", "fast", NULL};
	int rc = note(instance, ctx, "snapshot", names);
	if (rc == ARCA_OK)
		rc = item(ctx, "a", "first item\n");
	return rc == ARCA_OK ? item(ctx, "b", "second item\n") : rc;
}

/* The current item's content into buf (NUL-terminated). */
static int slurp(struct arca_ctx *ctx, char *buf, size_t cap)
{
	size_t have = 0, got;
	int rc;
	while ((rc = host->item_read(ctx, buf + have, cap - 1 - have, &got)) == ARCA_OK && got)
		have += got;
	buf[have] = 0;
	return rc;
}

/* Every item's name and content; then, after item_rewind, the first item's
 * again: "a:first item\nb:second item\nrewound a:first item\n". */
static int t_restore(void *instance, struct arca_ctx *ctx)
{
	static const char *const names[] = {"into", "snapshot", NULL};
	int rc = note(instance, ctx, "restore", names);
	char out[4096] = "", buf[256];
	struct arca_item_info info;
	while (rc == ARCA_OK && (rc = host->item_next(ctx, &info)) == ARCA_OK &&
	       (rc = slurp(ctx, buf, sizeof buf)) == ARCA_OK)
		snprintf(out + strlen(out), sizeof out - strlen(out), "%s:%s", info.name, buf);
	if (rc == ARCA_ERR_NOT_FOUND)
		rc = host->item_rewind(ctx);
	if (rc == ARCA_OK && (rc = host->item_next(ctx, &info)) == ARCA_OK &&
	    (rc = slurp(ctx, buf, sizeof buf)) == ARCA_OK)
		snprintf(out + strlen(out), sizeof out - strlen(out), "rewound %s:%s", info.name,
		         buf);
	const char *into = host->option(ctx, "into");
	int fd = rc == ARCA_OK && into ? open(into, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
	if (rc == ARCA_OK && into &&
	    (fd < 0 || write(fd, out, strlen(out)) != (ssize_t)strlen(out)))
		rc = host->error(ARCA_ERR_IO, "opts11: %s: %s", into, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

static int t_verify(void *instance, struct arca_ctx *ctx)
{
	static const char *const names[] = {"deep", "snapshot", "read-data", NULL};
	return note(instance, ctx, "verify", names);
}

static int t_check(void *instance, struct arca_ctx *ctx)
{
	static const char *const names[] = {"probe", NULL};
	return note(instance, ctx, "check", names);
}

static int t_health(void *instance, struct arca_ctx *ctx)
{
	static const char *const names[] = {"into", NULL};
	int rc = note(instance, ctx, "health", names);
	const char *into = host->option(ctx, "into");
	if (rc == ARCA_OK && into && access(into, F_OK) != 0)
		rc = host->error(ARCA_ERR_NOT_FOUND, "opts11: %s is not there", into);
	return rc;
}

/* Written on few lines: tables like every driver's, the rest of the suite
 * has plenty of them. */
#define END {NULL, 0, NULL, NULL, NULL}
static const struct arca_op_option snapshot_options[] = {
    {"label", 1, "a label for the snapshot", NULL, "fast"},
    {"fast", 0, "skip the slow parts", "mode=quick", "label"}, END};
static const struct arca_op_option restore_options[] = {{"into", 1, "a file to write what was read", NULL, NULL}, END};
static const struct arca_op_option verify_options[] = {{"deep", 0, "look harder", NULL, NULL}, END};
static const struct arca_op_option check_options[] = {{"probe", 1, "what to probe", NULL, NULL}, END};
static const struct arca_op_option health_options[] = {{"into", 1, "the file that must exist", NULL, NULL}, END};

static const struct arca_target_ops target_ops = {
    .struct_size = sizeof(struct arca_target_ops), .open = t_open, .check = t_check,
    .snapshot = t_snapshot, .restore = t_restore, .verify = t_verify, .close = t_close,
    .restore_options = restore_options, .snapshot_options = snapshot_options,
    .verify_options = verify_options, .check_options = check_options,
    .health_options = health_options, .health = t_health};

static const struct arca_driver driver = {
    .abi_major = ARCA_ABI_MAJOR, .struct_size = sizeof(struct arca_driver), .name = "opts11",
    .version = "1.1.0", .description = "test: an option for every operation",
    .target_options = options, .target = &target_ops};

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *h);

const struct arca_driver *arca_driver_entry(const struct arca_host *h)
{
	if (!ARCA_HOST_HAS(h, item_rewind))
		return NULL;
	host = h;
	return &driver;
}
