/* host.c — the host services table handed to every driver.
 *
 * Drivers reach the engine only through these functions; each one checks
 * that it is called in the right kind of operation, so a driver bug gives a
 * clear error rather than a crash. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "autoconf.h"
#include "config.h"
#include "host.h"
#include "loader.h"
#include "items_parallel.h"
#include "log.h"
#include "util.h"

/* atomic: set in a signal handler, read by engine and driver threads */
volatile _Atomic int arca_cancel_requested;

/* The first SIGINT or SIGTERM asks everything to stop cleanly: requests in
 * flight end, the lock is removed, exit 10. That cleanup may take seconds
 * on a slow server (removing the lock is tried for up to 10 s); a second
 * signal, more than a moment after the first (one ^C delivered twice, as a
 * relaying parent may, must not count), exits at once. Exiting here is as
 * safe for the repository as kill -9, which it survives: what is committed
 * stays so, and at most the lock is left for `arca unlock`. */
static struct timespec first_signal_at;

static void on_signal(int sig)
{
	(void)sig;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!arca_cancel_requested) {
		first_signal_at = now;
		arca_cancel_requested = 1;
		return;
	}
	long ms = (now.tv_sec - first_signal_at.tv_sec) * 1000 +
	          (now.tv_nsec - first_signal_at.tv_nsec) / 1000000;
	if (ms < 300)
		return;
	static const char msg[] =
	    "\narca: interrupted again: exiting now, without cleaning up. The repository is "
	    "consistent: nothing uncommitted counts. A lock left behind is stale at once for "
	    "commands on this host, and for other hosts after 30 minutes or `arca unlock`.\n";
	ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
	(void)w;
	_exit(ARCA_ERR_CANCELLED);
}

void host_install_signal_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a dead child or socket is an error code */
	signal(SIGXFSZ, SIG_IGN); /* so is a file grown past RLIMIT_FSIZE (EFBIG) */
}

static void host_log(enum arca_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

static int host_error(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vset(status, fmt, ap);
	va_end(ap);
	return status;
}

static const char *host_config_get(const struct arca_config *cfg, const char *key)
{
	return cfg_get(cfg, key);
}

static int64_t host_config_int(const struct arca_config *cfg, const char *key, int64_t dflt)
{
	return cfg_get_int(cfg, key, dflt);
}

static int host_config_bool(const struct arca_config *cfg, const char *key, int dflt)
{
	return cfg_get_bool(cfg, key, dflt);
}

static const char *host_config_section(const struct arca_config *cfg)
{
	return cfg->name;
}

static const struct arca_config *host_config_named(struct arca_ctx *ctx, const char *name,
                                                   const char **kind)
{
	struct cfg_file *cf = ctx && ctx->e ? ctx->e->cf : NULL;
	const struct arca_config *c = NULL;
	if (cf && name) {
		c = cfg_section(cf, CFG_DESTINATION, name);
		if (!c)
			c = cfg_section(cf, CFG_TARGET, name);
	}
	if (kind)
		*kind = c ? cfg_kind_name(c->kind) : NULL;
	return c;
}

/* Adds `name` to the NULL-terminated list *v (n names so far) unless it is
 * there or empty; returns the new count. */
static size_t add_env_name(char ***v, size_t n, const char *name)
{
	if (!name || !*name)
		return n;
	for (size_t i = 0; i < n; i++)
		if (!strcmp((*v)[i], name))
			return n;
	*v = xrealloc(*v, (n + 2) * sizeof **v);
	(*v)[n++] = xstrdup(name);
	(*v)[n] = NULL;
	return n;
}

static const char *const *host_config_env_names(struct arca_ctx *ctx)
{
	static const char *const none[] = {CFG_PASSPHRASE_FALLBACK_ENV, NULL};
	struct engine *e = ctx ? ctx->e : NULL;
	if (!e || !e->cf)
		return none;
	if (!e->env_names) {
		char **v = NULL;
		size_t n = add_env_name(&v, 0, CFG_PASSPHRASE_FALLBACK_ENV);
		for (size_t i = 0; i < e->cf->n_sections; i++) {
			const struct arca_config *c = &e->cf->sections[i];
			for (size_t j = 0; j < c->n_entries; j++) {
				size_t kl = strlen(c->entries[j].key);
				if (kl > 4 && !strcmp(c->entries[j].key + kl - 4, "_env"))
					n = add_env_name(&v, n, c->entries[j].value);
			}
		}
		e->env_names = v;
	}
	return (const char *const *)e->env_names;
}

static int do_secret(const struct arca_config *cfg, const char *key, char **out)
{
	return cfg_secret(cfg, key, out);
}

static int wrong_kind(const char *call, enum ctx_kind want)
{
	static const char *names[] = {"snapshot", "restore", "verify",
	                              "check",    "command", "health"};
	return err_set(ARCA_ERR_INTERNAL, "driver bug: host->%s called outside a %s", call,
	               names[want]);
}

/* ---- item attributes across ABI versions (added in ABI 1.1) -------------- */

/* The members ABI 1.0 defined end at `fingerprint`. */
#define ITEM_V1_SIZE (offsetof(struct arca_item_info, fingerprint) + sizeof(const char *))

/* How much of an arca_item_info the calling driver has: a driver whose
 * target ops are of the 1.0 size was built against the 1.0 header (and
 * its readers may leave struct_size unset); since 1.1 a driver sets it. */
static size_t item_size(const struct arca_ctx *ctx, const struct arca_item_info *info)
{
	const struct arca_target_ops *t = ctx->t && ctx->t->drv ? ctx->t->drv->target : NULL;
	if (!t ||
	    t->struct_size < offsetof(struct arca_target_ops, restore_options) + sizeof(void *) ||
	    info->struct_size < ITEM_V1_SIZE)
		return ITEM_V1_SIZE;
	return info->struct_size < sizeof *info ? info->struct_size : sizeof *info;
}

/* The driver's item as this engine's struct (later members zero). */
void item_in(const struct arca_ctx *ctx, const struct arca_item_info *in,
             struct arca_item_info *full)
{
	memset(full, 0, sizeof *full);
	memcpy(full, in, item_size(ctx, in));
	full->struct_size = sizeof *full;
}

/* Give an item back to the driver, no further than its struct reaches. */
void item_out(const struct arca_ctx *ctx, const struct arca_item_info *full,
              struct arca_item_info *out)
{
	size_t n = item_size(ctx, out);
	memcpy(out, full, n);
	out->struct_size = n;
}

/* ---- snapshot ---------------------------------------------------------- */

static int do_item_begin(struct arca_ctx *ctx, const struct arca_item_info *drv_info)
{
	if (ctx->kind != CTX_SNAPSHOT)
		return wrong_kind("item_begin", CTX_SNAPSHOT);
	struct arca_item_info full;
	const struct arca_item_info *info = &full;
	item_in(ctx, drv_info, &full);
	if (items_par_open(ctx) && info->name) {
		char *n = name_escape(info->name);
		int rc = err_set(ARCA_ERR_INTERNAL,
		                 "driver bug: item_begin(%s) while items are open by handle", n);
		free(n);
		return rc;
	}
	if (!info->name || !info->name[0])
		return err_set(ARCA_ERR_INTERNAL, "driver bug: item without a name");
	if (ctx->in_item) {
		char *n = name_escape(info->name);
		int rc =
		    err_set(ARCA_ERR_INTERNAL, "driver bug: item_begin(%s) before item_end", n);
		free(n);
		return rc;
	}
	if ((unsigned)info->type > ARCA_ITEM_TOMBSTONE) {
		char *n = name_escape(info->name);
		int rc = err_set(ARCA_ERR_INTERNAL,
		                 "driver bug: item %s has type %d, which this "
		                 "engine does not know",
		                 n, (int)info->type);
		free(n);
		return rc;
	}
	int unchanged = 0;
	for (size_t i = 0; i < ctx->n_writers; i++) {
		int rc = snap_item_begin(ctx->writers[i], info);
		if (rc == ARCA_ITEM_UNCHANGED)
			unchanged++;
		else if (rc != ARCA_OK)
			return rc;
	}
	ctx->in_item = 1;
	ctx->items++;
	ctx->item_type = info->type;
	progress_item(ctx->progress, info->name);
	if (log_verbose) {
		char *n = name_escape(info->name);
		log_info("%s%s", n,
		         unchanged && unchanged == (int)ctx->n_writers ? " (unchanged)" : "");
		free(n);
	}
	/* Skip content only when every destination already has it. A writer
	 * that said "unchanged" while another wants content takes the bytes
	 * anyway (snap_item_write on a reused item is a no-op there). */
	ctx->item_unchanged = unchanged && unchanged == (int)ctx->n_writers;
	if (ctx->item_unchanged) {
		if (info->size != UINT64_MAX)
			progress_add(ctx->progress, info->size, 1);
		return ARCA_ITEM_UNCHANGED;
	}
	progress_add(ctx->progress, 0, 1);
	return ARCA_OK;
}

static int do_item_write(struct arca_ctx *ctx, const void *data, size_t len)
{
	if (ctx->kind != CTX_SNAPSHOT || !ctx->in_item)
		return wrong_kind("item_write", CTX_SNAPSHOT);
	if (ctx->item_unchanged)
		return err_set(ARCA_ERR_INTERNAL,
		               "item_write to an item reported unchanged "
		               "(driver bug: after ARCA_ITEM_UNCHANGED send no content)");
	if (ctx->item_type == ARCA_ITEM_TOMBSTONE && len)
		return err_set(
		    ARCA_ERR_INTERNAL,
		    "item_write to a tombstone (driver bug: a tombstone has no content)");
	if (arca_cancel_requested)
		return err_set(ARCA_ERR_CANCELLED, "interrupted");
	for (size_t i = 0; i < ctx->n_writers; i++) {
		int rc = snap_item_write(ctx->writers[i], data, len);
		if (rc != ARCA_OK)
			return rc;
	}
	progress_add(ctx->progress, len, 0);
	return ARCA_OK;
}

static int do_item_end(struct arca_ctx *ctx)
{
	if (ctx->kind != CTX_SNAPSHOT || !ctx->in_item)
		return wrong_kind("item_end", CTX_SNAPSHOT);
	ctx->in_item = 0;
	ctx->item_unchanged = 0;
	for (size_t i = 0; i < ctx->n_writers; i++) {
		int rc = snap_item_end(ctx->writers[i]);
		if (rc != ARCA_OK)
			return rc;
	}
	return ARCA_OK;
}

/* Nothing of an open item is recorded; the snapshot is recorded partial. */
static int do_item_skipped(struct arca_ctx *ctx, const char *name, const char *reason)
{
	if (ctx->kind != CTX_SNAPSHOT)
		return wrong_kind("item_skipped", CTX_SNAPSHOT);
	if (!name || !name[0])
		return err_set(ARCA_ERR_INTERNAL, "driver bug: item_skipped without a name");
	if (items_par_open(ctx))
		return err_set(ARCA_ERR_INTERNAL,
		               "driver bug: item_skipped(%s) while items are "
		               "open by handle (use item_skipped_h)",
		               name);
	if (ctx->in_item) {
		ctx->in_item = 0;
		ctx->items--;
	}
	for (size_t i = 0; i < ctx->n_writers; i++)
		snap_item_skipped(ctx->writers[i], name);
	char *n = name_escape(name);
	log_warn("%s not stored: %s", n, reason && reason[0] ? reason : "skipped by the driver");
	free(n);
	return ARCA_OK;
}

/*
 * item_end with the final attributes (added in ABI 1.1). Every writer
 * counted the same bytes; a size the driver states that differs drops the
 * item from all of them before anything is recorded.
 */
static int do_item_end_info(struct arca_ctx *ctx, const struct arca_item_info *drv_final)
{
	if (ctx->kind != CTX_SNAPSHOT || !ctx->in_item)
		return wrong_kind("item_end_info", CTX_SNAPSHOT);
	struct arca_item_info final;
	item_in(ctx, drv_final, &final);
	int rc = ARCA_OK;
	for (size_t i = 0; i < ctx->n_writers && rc == ARCA_OK; i++)
		rc = snap_item_check_final(ctx->writers[i], &final);
	if (rc != ARCA_OK) {
		for (size_t i = 0; i < ctx->n_writers; i++)
			snap_item_drop(ctx->writers[i]);
		ctx->in_item = 0;
		ctx->item_unchanged = 0;
		ctx->items--;
		return rc;
	}
	ctx->in_item = 0;
	ctx->item_unchanged = 0;
	for (size_t i = 0; i < ctx->n_writers; i++) {
		rc = snap_item_end_final(ctx->writers[i], &final);
		if (rc != ARCA_OK)
			return rc;
	}
	return ARCA_OK;
}

/* A fact about the whole snapshot, into every writer's summary (added in
 * ABI 1.1; plugin.h has the bounds). */
static int do_snapshot_note(struct arca_ctx *ctx, const char *key, const char *value)
{
	if (ctx->kind != CTX_SNAPSHOT)
		return wrong_kind("snapshot_note", CTX_SNAPSHOT);
	size_t kl = key ? strlen(key) : 0;
	if (!kl || kl > 32 || strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_-") != kl)
		return err_set(ARCA_ERR_INTERNAL,
		               "driver bug: snapshot_note key '%s' is not 1 to 32 of [a-z0-9_-]",
		               key ? key : "(null)");
	json_t *valid = value ? json_string(value) : NULL; /* NULL: not UTF-8 */
	json_decref(valid);
	if (!valid || strlen(value) > 256)
		return err_set(ARCA_ERR_INTERNAL,
		               "driver bug: snapshot_note %s: the value is not "
		               "UTF-8 text of at most 256 bytes",
		               key);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return err_set(ARCA_ERR_INTERNAL,
			               "driver bug: snapshot_note %s: a control character in the "
			               "value",
			               key);
	for (size_t i = 0; i < ctx->n_writers; i++)
		if (snap_note(ctx->writers[i], key, value))
			return err_set(ARCA_ERR_INTERNAL,
			               "driver bug: snapshot_note %s: more than 8 keys", key);
	return ARCA_OK;
}

/* ---- restore / verify ---------------------------------------------------- */

static int reading(struct arca_ctx *ctx, const char *call)
{
	if (ctx->reader)
		return ARCA_OK;
	return wrong_kind(call, CTX_RESTORE);
}

static int do_item_next(struct arca_ctx *ctx, struct arca_item_info *info)
{
	int rc = reading(ctx, "item_next");
	if (rc)
		return rc;
	struct arca_item_info full;
	rc = snap_next(ctx->reader, &full);
	if (rc == ARCA_OK) {
		item_out(ctx, &full, info);
		ctx->cur = full;
		progress_item(ctx->progress, full.name);
		if (++ctx->walk_pos > ctx->walk_max) {
			ctx->walk_max = ctx->walk_pos;
			progress_add(ctx->progress, 0, 1);
		}
		if (log_verbose) {
			char *n = name_escape(full.name);
			log_info("%s", n);
			free(n);
		}
	}
	return rc;
}

static int do_item_open(struct arca_ctx *ctx, const char *name, struct arca_item_info *info)
{
	int rc = reading(ctx, "item_open");
	if (rc)
		return rc;
	struct arca_item_info full;
	rc = snap_open_item(ctx->reader, name, &full);
	if (rc == ARCA_OK) {
		item_out(ctx, &full, info);
		ctx->cur = full;
		progress_item(ctx->progress, full.name);
		/* a driver that reads items only by name (redis: dump.rdb and
		 * its summary) counts them here; one that walked the snapshot
		 * with item_next and reopens what it found counted them then */
		if (!ctx->walk_max)
			progress_add(ctx->progress, 0, 1);
	}
	return rc;
}

static int do_item_rewind(struct arca_ctx *ctx)
{
	int rc = reading(ctx, "item_rewind");
	if (rc == ARCA_OK && (rc = snap_rewind(ctx->reader)) == ARCA_OK)
		ctx->walk_pos = 0;
	return rc;
}

static int do_item_read(struct arca_ctx *ctx, void *buf, size_t cap, size_t *got)
{
	int rc = reading(ctx, "item_read");
	if (rc)
		return rc;
	if (arca_cancel_requested)
		return err_set(ARCA_ERR_CANCELLED, "interrupted");
	rc = snap_read(ctx->reader, buf, cap, got);
	if (rc == ARCA_OK)
		progress_add(ctx->progress, *got, 0);
	return rc;
}

static const char *host_option(struct arca_ctx *ctx, const char *name)
{
	if (!strcmp(name, "config"))
		return ctx->e->config_path;
	if (!strcmp(name, "snapshot-id"))
		return ctx->reader ? ctx->snapshot_id : NULL;
	for (const struct ctx_option *o = ctx->options; o && o->name; o++)
		if (!strcmp(o->name, name))
			return o->value;
	return NULL;
}

static void host_progress_total(struct arca_ctx *ctx, uint64_t bytes, uint64_t items)
{
	progress_set_total(ctx->progress, bytes, items);
}

static int host_cancelled(struct arca_ctx *ctx)
{
	(void)ctx;
	return arca_cancel_requested;
}

/* Where scratch directories go: state_dir/tmp when it is a directory of
 * ours that no one else can write (not a symlink: lstat), else TMPDIR or
 * /tmp. mkdtemp makes each one 0700 under a random name either way. */
static char *scratch_base(const char *state_dir)
{
	char *base = state_dir ? xasprintf("%s/tmp", state_dir) : NULL;
	struct stat st;
	if (base && (mkdir(base, 0700) == 0 || errno == EEXIST) && lstat(base, &st) == 0) {
		if (S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
		    !(st.st_mode & (S_IWGRP | S_IWOTH)))
			return base;
		if (!S_ISDIR(st.st_mode) || (st.st_mode & (S_IWGRP | S_IWOTH)))
			log_warn("%s is not a directory only this user can write (mode %04o): "
			         "scratch files go to TMPDIR instead; remove it",
			         base, (unsigned)(st.st_mode & 07777));
	}
	free(base);
	const char *tmp = getenv("TMPDIR");
	return xstrdup(tmp && *tmp ? tmp : "/tmp");
}

static const char *host_scratch_dir(struct arca_ctx *ctx)
{
	if (ctx->scratch)
		return ctx->scratch;
	char *base = scratch_base(ctx->e->state_dir);
	char *tmpl = xasprintf("%s/%s.XXXXXX", base, ctx->t ? ctx->t->cfg->name : "job");
	free(base);
	if (!mkdtemp(tmpl)) {
		log_error("cannot create a scratch directory %s: %m", tmpl);
		free(tmpl);
		return NULL;
	}
	ctx->scratch = tmpl;
	return tmpl;
}

void ctx_cleanup(struct arca_ctx *ctx)
{
	items_par_free(ctx);
	if (ctx->scratch) {
		remove_tree(ctx->scratch);
		free(ctx->scratch);
		ctx->scratch = NULL;
	}
}

/* ---- blobs ---------------------------------------------------------------- */

static const char *target_name(struct arca_ctx *ctx)
{
	return ctx->t->cfg->name;
}

static int do_blob_put(struct arca_ctx *ctx, const char *name, const void *data, size_t len,
                       int exclusive)
{
	if (!ctx->n_repos)
		return err_set(ARCA_ERR_INTERNAL, "no repository open for blobs");
	/* durable in every destination before we say OK */
	for (size_t i = 0; i < ctx->n_repos; i++) {
		int rc = repo_blob_put(ctx->repos[i], target_name(ctx), name, data, len, exclusive);
		if (rc != ARCA_OK)
			return err_wrap(rc, "destination %s", ctx->t->dests[i]->cfg->name);
	}
	return ARCA_OK;
}

static int do_blob_get(struct arca_ctx *ctx, const char *name, void **data, size_t *len)
{
	int rc = ARCA_ERR_NOT_FOUND;
	for (size_t i = 0; i < ctx->n_repos; i++) {
		rc = repo_blob_get(ctx->repos[i], target_name(ctx), name, data, len);
		if (rc == ARCA_OK)
			return rc;
		if (rc != ARCA_ERR_NOT_FOUND)
			log_warn("destination %s: %s; trying the next one",
			         ctx->t->dests[i]->cfg->name, err_msg());
	}
	if (rc == ARCA_ERR_NOT_FOUND)
		err_set(rc, "%s not found in any destination of target %s", name, target_name(ctx));
	return rc;
}

static int do_blob_list(struct arca_ctx *ctx, const char *prefix,
                        int (*cb)(void *arg, const char *name), void *arg)
{
	if (!ctx->n_repos)
		return err_set(ARCA_ERR_INTERNAL, "no repository open for blobs");
	return repo_blob_list(ctx->repos[0], target_name(ctx), prefix, cb, arg);
}

static int do_blob_remove(struct arca_ctx *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->n_repos; i++) {
		int rc = repo_blob_remove(ctx->repos[i], target_name(ctx), name);
		if (rc != ARCA_OK)
			return rc;
	}
	return ARCA_OK;
}

/* ---- honest errors -------------------------------------------------------- */

/*
 * What a host call leaves in the error state (the message the engine
 * reports when the driver returns a failure): a failure returned to the
 * driver leaves its own message (a generic one when the engine's code had
 * none); a call that succeeds leaves the state as the driver had it, even
 * when the engine met and handled failures on the way (a destination that
 * failed before the next served a blob). The engine, for its part, shows
 * a message only when its status is the one the driver returned
 * (run_driver_op), so an expected NOT_FOUND the driver went past does not
 * become the message of a later failure.
 */
int honest(const char *call, unsigned mark, int rc, int own_status)
{
	if (rc == ARCA_OK || rc == ARCA_ITEM_UNCHANGED)
		err_since(mark);
	else if (own_status && (!err_changed_since(mark) || err_status() != rc))
		err_set(rc, "host->%s: %s", call, status_name(rc));
	return rc;
}

#define HONEST(call, params, args)                                                                 \
	static int host_##call params                                                              \
	{                                                                                          \
		unsigned mark = err_mark();                                                        \
		return honest(#call, mark, do_##call args, 1);                                     \
	}

HONEST(secret, (const struct arca_config *cfg, const char *key, char **out), (cfg, key, out))
HONEST(item_begin, (struct arca_ctx * ctx, const struct arca_item_info *info), (ctx, info))
HONEST(item_write, (struct arca_ctx * ctx, const void *data, size_t len), (ctx, data, len))
HONEST(item_end, (struct arca_ctx * ctx), (ctx))
HONEST(item_skipped, (struct arca_ctx * ctx, const char *name, const char *reason),
       (ctx, name, reason))
HONEST(item_end_info, (struct arca_ctx * ctx, const struct arca_item_info *final), (ctx, final))
HONEST(snapshot_note, (struct arca_ctx * ctx, const char *key, const char *value),
       (ctx, key, value))
HONEST(item_next, (struct arca_ctx * ctx, struct arca_item_info *info), (ctx, info))
HONEST(item_open, (struct arca_ctx * ctx, const char *name, struct arca_item_info *info),
       (ctx, name, info))
HONEST(item_rewind, (struct arca_ctx * ctx), (ctx))
HONEST(item_read, (struct arca_ctx * ctx, void *buf, size_t cap, size_t *got), (ctx, buf, cap, got))
HONEST(blob_put,
       (struct arca_ctx * ctx, const char *name, const void *data, size_t len, int exclusive),
       (ctx, name, data, len, exclusive))
HONEST(blob_get, (struct arca_ctx * ctx, const char *name, void **data, size_t *len),
       (ctx, name, data, len))
HONEST(blob_remove, (struct arca_ctx * ctx, const char *name), (ctx, name))

/* A nonzero return of the driver's own callback is the driver's: no message
 * is made up for it. */
static int host_blob_list(struct arca_ctx *ctx, const char *prefix,
                          int (*cb)(void *arg, const char *name), void *arg)
{
	unsigned mark = err_mark();
	return honest("blob_list", mark, do_blob_list(ctx, prefix, cb, arg), 0);
}

static const struct arca_host table = {
    .struct_size = sizeof(struct arca_host),
    .abi_major = ARCA_ABI_MAJOR,
    .abi_minor = ARCA_ABI_MINOR,
    .engine_version = PACKAGE_VERSION,
    .log = host_log,
    .error = host_error,
    .config_get = host_config_get,
    .config_int = host_config_int,
    .config_bool = host_config_bool,
    .config_section = host_config_section,
    .secret = host_secret,
    .item_begin = host_item_begin,
    .item_write = host_item_write,
    .item_end = host_item_end,
    .item_next = host_item_next,
    .item_open = host_item_open,
    .item_read = host_item_read,
    .option = host_option,
    .progress_total = host_progress_total,
    .cancelled = host_cancelled,
    .scratch_dir = host_scratch_dir,
    .blob_put = host_blob_put,
    .blob_get = host_blob_get,
    .blob_list = host_blob_list,
    .blob_remove = host_blob_remove,
    .item_skipped = host_item_skipped,
    .item_end_info = host_item_end_info,
    .item_rewind = host_item_rewind,
    .item_begin_h = host_item_begin_h,
    .item_write_h = host_item_write_h,
    .item_end_h = host_item_end_h,
    .item_skipped_h = host_item_skipped_h,
    .item_open_h = host_item_open_h,
    .item_read_h = host_item_read_h,
    .item_close_h = host_item_close_h,
    .error_message = host_error_message,
    .item_end_info_h = host_item_end_info_h,
    .snapshot_note = host_snapshot_note,
    .config_named = host_config_named,
    .config_env_names = host_config_env_names,
};

const struct arca_host *host_table(void)
{
	return &table;
}
