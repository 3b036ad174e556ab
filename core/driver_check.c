/* driver_check.c — arca-driver-check, the conformance kit for driver
 * authors (issue 15, item 9; "Writing a driver" in README.md).
 *
 *   arca-driver-check [--plugin-dir DIR] [--restore-option NAME=VALUE]...
 *                     [--after-restore CMD] [--keep] [-v] MODULE.so [SECTION]
 *
 * Loads one module and holds it to the contract of arca/plugin.h, with the
 * engine's own code (libarcacore): the loader, the config checks, the jobs
 * the CLI runs. SECTION is a file of `key = value` lines, the driver's
 * config section without its [header]. Everything else happens in a fresh
 * work directory: a plugin dir with a copy of the module (and of the dir
 * driver from --plugin-dir, the destination a target driver is checked
 * against), a config, a repository, a state dir.
 *
 * A target driver: its option table; check; snapshot (recorded once);
 * restore (with --into WORK/restore when it takes --into; --after-restore
 * then compares); health of what was restored, when the driver has the op
 * (1.1; --into the same place when it takes that); verify with every byte
 * read back; a snapshot cancelled
 * mid-way and one whose host call fails with an I/O error (at the first
 * item_write or the second item_begin), which must both record nothing and
 * return a failure (ARCA_ERR_CANCELLED for the cancellation).
 * A destination driver: its option table; put/get/stat/list/remove,
 * ranged reads at odd offsets, an empty object, overwrite, exclusive
 * create, not-found semantics, sweep (1.1), the same from 8 threads at
 * once (the ops called as the engine calls them: a failure marked transient
 * is retried by the engine's policy there; the checks of one call get one
 * try), and a repository on it that a files snapshot round-trips through
 * (when files.so is in --plugin-dir).
 * Both: every failing return of an op carries a message of its status.
 *
 * Prints "ok NAME" or "FAIL NAME: why" per check and a summary; exits 0
 * when every check passed, 1 when one failed, 2 on usage errors, 14 when
 * the module is refused. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "config.h"
#include "jobs.h"
#include "loader.h"
#include "log.h"
#include "repo/retry.h"
#include "util.h"

static int n_ok, n_failed;
static char *work; /* the work directory */

static void result(const char *check, const char *why)
{
	if (why) {
		printf("FAIL %s: %s\n", check, why);
		n_failed++;
	} else {
		printf("ok   %s\n", check);
		n_ok++;
	}
	fflush(stdout);
}

/* A check that failed with the engine's recorded message. */
static void result_rc(const char *check, int rc)
{
	if (rc == ARCA_OK) {
		result(check, NULL);
		return;
	}
	char *why = xasprintf("%s (status %d: %s)", err_msg()[0] ? err_msg() : "no message", rc,
	                      status_name(rc));
	result(check, why);
	free(why);
}

/* ---------------------------------------------------------------------- */
/* Every failing return carries a message of its status.                   */
/* ---------------------------------------------------------------------- */

static pthread_mutex_t msg_mu = PTHREAD_MUTEX_INITIALIZER;
static int n_failing_returns;
static char *first_silent; /* the first failing return without its message */

/* Judge one op's return: call with the error state cleared before the op. */
static int judged(const char *op, int rc)
{
	if (rc == ARCA_OK)
		return rc;
	pthread_mutex_lock(&msg_mu);
	n_failing_returns++;
	if (!first_silent && (err_status() != rc || !err_msg()[0]))
		first_silent =
		    err_msg()[0]
		        ? xasprintf("%s returned %d (%s), but the message is of status %d: \"%s\"",
		                    op, rc, status_name(rc), err_status(), err_msg())
		        : xasprintf("%s returned %d (%s) without a message (host->error)", op, rc,
		                    status_name(rc));
	pthread_mutex_unlock(&msg_mu);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* The option table.                                                       */
/* ---------------------------------------------------------------------- */

static int declared_by(const struct arca_option *opts, const char *name)
{
	for (; opts && opts->name; opts++)
		if (!strcmp(opts->name, name))
			return 1;
	return 0;
}

/* Why option o is not sane (malloc'd), or NULL. The loader already refused
 * bad names, types, enums without choices, min > max and duplicates. */
static char *bad_option(const struct arca_option *o, const struct arca_option *engine_keys)
{
	if (declared_by(engine_keys, o->name))
		return xasprintf("\"%s\" is a key the engine itself reads in that section",
		                 o->name);
	if (!o->help || !o->help[0])
		return xasprintf("\"%s\" has no help (arca plugins shows it)", o->name);
	if ((o->flags & ARCA_OPT_SECRET) && o->default_value)
		return xasprintf("secret \"%s\" has a default value", o->name);
	if ((o->flags & ARCA_OPT_REQUIRED) && o->default_value)
		return xasprintf("required \"%s\" has a default, which is never used", o->name);
	if (o->choices && o->type != ARCA_OPT_ENUM)
		return xasprintf("\"%s\" has choices but is not ARCA_OPT_ENUM", o->name);
	const char *v = o->default_value;
	if (!v)
		return NULL;
	int64_t i = 0;
	uint64_t u = 0;
	int ok = 1, b, bounded = o->min || o->max;
	switch (o->type) {
	case ARCA_OPT_INT:
		ok = parse_int64(v, &i) == 0;
		break;
	case ARCA_OPT_SIZE:
		ok = parse_size(v, &u) == 0;
		i = (int64_t)u;
		break;
	case ARCA_OPT_DURATION:
		ok = parse_duration(v, &i) == 0;
		break;
	case ARCA_OPT_BOOL:
		ok = parse_bool(v, &b) == 0;
		bounded = 0;
		break;
	case ARCA_OPT_PATH:
		ok = v[0] == '/';
		bounded = 0;
		break;
	case ARCA_OPT_ENUM:
		ok = str_in_list(o->choices, '|', v);
		bounded = 0;
		break;
	default:
		bounded = 0;
		break;
	}
	if (!ok)
		return xasprintf("the default \"%s\" of \"%s\" is not a valid value of its type", v,
		                 o->name);
	if (bounded && (i < o->min || i > o->max))
		return xasprintf("the default \"%s\" of \"%s\" is outside %lld..%lld", v, o->name,
		                 (long long)o->min, (long long)o->max);
	return NULL;
}

static int valid_cli_name(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return 0;
	return 1;
}

/* The 1.1 declarations of a target: operation options and verbs. */
static char *bad_declarations(const struct arca_target_ops *t)
{
	for (const char *const *op = loader_ops; *op; op++) {
		int any;
		const struct arca_op_option *list = loader_op_options(t, *op, &any);
		for (const struct arca_op_option *o = list; o && o->name; o++) {
			if (!valid_cli_name(o->name) || !o->help)
				return xasprintf("%s option \"%s\": a name of a-z, 0-9 and '-' "
				                 "and a help line",
				                 *op, o->name);
			if (o->when && !strchr(o->when, '='))
				return xasprintf(
				    "%s option \"%s\": `when` is KEY=VALUE, not \"%s\"", *op,
				    o->name, o->when);
			for (const char *x = o->excludes; x && *x;) {
				const char *c = strchr(x, ',');
				size_t n = c ? (size_t)(c - x) : strlen(x);
				const struct arca_op_option *y = list;
				while (y->name && (strlen(y->name) != n || strncmp(y->name, x, n)))
					y++;
				if (!y->name)
					return xasprintf("%s option \"%s\" excludes \"%.*s\", "
					                 "which is not declared",
					                 *op, o->name, (int)n, x);
				x = c ? c + 1 : NULL;
			}
		}
	}
	if (ARCA_OPS_HAS(t, verbs)) {
		if (!t->command)
			return xasprintf("verbs are declared but there is no command op");
		for (const struct arca_verb *v = t->verbs; v->name; v++)
			if (!valid_cli_name(v->name) || !v->summary || !v->help ||
			    v->min_args < 0 || (v->max_args >= 0 && v->max_args < v->min_args))
				return xasprintf("verb \"%s\": a name of a-z, 0-9 and '-', a "
				                 "summary, a help, and 0 <= min_args <= max_args "
				                 "(or max_args -1)",
				                 v->name);
	}
	return NULL;
}

static void check_options(const struct arca_driver *drv)
{
	char *why = NULL;
	for (const struct arca_option *o = drv->target_options; !why && o && o->name; o++)
		why = bad_option(o, cfg_target_common_options);
	for (const struct arca_option *o = drv->dest_options; !why && o && o->name; o++)
		why = bad_option(o, cfg_dest_common_options);
	if (!why && drv->target)
		why = bad_declarations(drv->target);
	result("option table", why);
	free(why);
}

/* ---------------------------------------------------------------------- */
/* The host the driver gets: the engine's, with faults to inject.          */
/* ---------------------------------------------------------------------- */

enum inject { INJECT_NONE, INJECT_CANCEL, INJECT_IO };
static enum inject inject;
static int injected;
static struct arca_host kit_host;

static int items_begun;

/* The fault, at the first item_write or the second item_begin, whichever
 * comes first (an unchanged item sends no content). */
static int inject_now(void)
{
	if (inject == INJECT_CANCEL) {
		arca_cancel_requested = 1; /* as ^C does */
		return kit_host.error(ARCA_ERR_CANCELLED, "interrupted");
	}
	return kit_host.error(ARCA_ERR_IO, "I/O error injected by arca-driver-check");
}

/* Is this the call to fail? Items by handle come from the driver's threads. */
static pthread_mutex_t inject_mu = PTHREAD_MUTEX_INITIALIZER;
static int inject_here(int begin)
{
	pthread_mutex_lock(&inject_mu);
	int now = inject != INJECT_NONE && !injected && (!begin || ++items_begun == 2);
	if (now)
		injected = 1;
	pthread_mutex_unlock(&inject_mu);
	return now;
}

static int kit_item_begin(struct arca_ctx *ctx, const struct arca_item_info *info)
{
	if (inject_here(1))
		return inject_now();
	return host_table()->item_begin(ctx, info);
}

static int kit_item_write(struct arca_ctx *ctx, const void *data, size_t len)
{
	if (inject_here(0))
		return inject_now();
	return host_table()->item_write(ctx, data, len);
}

static int kit_item_begin_h(struct arca_ctx *ctx, const struct arca_item_info *info,
                            struct arca_item **h)
{
	if (inject_here(1)) {
		*h = NULL;
		return inject_now();
	}
	return host_table()->item_begin_h(ctx, info, h);
}

static int kit_item_write_h(struct arca_item *h, const void *data, size_t len)
{
	if (inject_here(0))
		return inject_now();
	return host_table()->item_write_h(h, data, len);
}

/* The driver's target ops, each judged (the engine clears the error state
 * before it calls one). Its own table is copied up to its struct_size. */
static const struct arca_target_ops *real;
static struct arca_target_ops wrapped;
static struct arca_driver wrapped_drv;
static int last_snapshot_rc;

static int w_check(void *i, struct arca_ctx *c)
{
	return judged("check", real->check(i, c));
}

static int w_snapshot(void *i, struct arca_ctx *c)
{
	return last_snapshot_rc = judged("snapshot", real->snapshot(i, c));
}

static int w_restore(void *i, struct arca_ctx *c)
{
	return judged("restore", real->restore(i, c));
}

static int w_verify(void *i, struct arca_ctx *c)
{
	return judged("verify", real->verify(i, c));
}

static void wrap_target(struct engine_target *t)
{
	real = t->drv->target;
	size_t n = real->struct_size < sizeof wrapped ? real->struct_size : sizeof wrapped;
	memcpy(&wrapped, real, n);
	wrapped.check = w_check;
	wrapped.snapshot = w_snapshot;
	wrapped.restore = w_restore;
	wrapped.verify = real->verify ? w_verify : NULL;
	wrapped_drv = *t->drv;
	wrapped_drv.target = &wrapped;
	t->drv = &wrapped_drv;
}

/* ---------------------------------------------------------------------- */
/* Round trip of a target through a repository.                            */
/* ---------------------------------------------------------------------- */

static size_t count_snapshots(struct engine *e, struct engine_dest *d, const char *target)
{
	struct repo_snapshot *list;
	size_t n = 0;
	if (engine_open_repo(e, d) != ARCA_OK ||
	    repo_snapshots(d->repo, target, &list, &n) != ARCA_OK)
		return (size_t)-1;
	repo_snapshots_free(list, n);
	return n;
}

static void report_problem(void *arg, const char *problem)
{
	if (!*(char **)arg)
		*(char **)arg = xstrdup(problem);
}

/* Does the target take restore option `name` (a 1.0 driver takes any)? */
static int takes(const struct arca_target_ops *t, const char *name)
{
	int any;
	return loader_op_option(loader_op_options(t, "restore", &any), name) || any;
}

static void snapshot_failing(struct engine *e, struct engine_target *t, struct engine_dest *d,
                             enum inject how, const char *check)
{
	struct snapshot_result res;
	size_t before = count_snapshots(e, d, t->cfg->name);
	inject = how;
	injected = items_begun = 0;
	last_snapshot_rc = ARCA_OK;
	int rc = job_snapshot(e, t, NULL, NULL, &res);
	inject = INJECT_NONE;
	arca_cancel_requested = 0;
	char *why = NULL;
	if (!injected)
		why = xasprintf("not run: the snapshot wrote one item and no content");
	else if (rc == ARCA_OK)
		why = xasprintf("the snapshot was recorded");
	else if (count_snapshots(e, d, t->cfg->name) != before)
		why = xasprintf("a failed snapshot was recorded");
	else if (last_snapshot_rc == ARCA_OK)
		why = xasprintf("snapshot returned ARCA_OK after a host call failed with %s",
		                how == INJECT_CANCEL ? "ARCA_ERR_CANCELLED" : "ARCA_ERR_IO");
	else if (how == INJECT_CANCEL && last_snapshot_rc != ARCA_ERR_CANCELLED)
		why = xasprintf("snapshot returned %s after cancellation, not ARCA_ERR_CANCELLED",
		                status_name(last_snapshot_rc));
	result(check, why);
	free(why);
}

/* extra: {NULL}-terminated restore options from the command line. */
static void round_trip(struct engine *e, struct engine_target *t, struct engine_dest *d,
                       struct ctx_option *extra, size_t n_extra, const char *after_restore,
                       int with_faults)
{
	struct snapshot_result res;
	result_rc("check", job_check_target(e, t, NULL));
	int rc = job_snapshot(e, t, NULL, NULL, &res);
	size_t n_snaps = rc == ARCA_OK ? count_snapshots(e, d, t->cfg->name) : 1;
	if (n_snaps != 1)
		rc = err_set(ARCA_ERR_INTERNAL, "%zu snapshots recorded, not 1", n_snaps);
	result_rc("snapshot", rc);
	if (rc != ARCA_OK)
		return;

	char *into = xasprintf("%s/restore", work);
	struct ctx_option *opts = xcalloc(n_extra + 2, sizeof *opts);
	size_t n = 0;
	int into_given = 0;
	for (size_t i = 0; i < n_extra; i++)
		into_given |= !strcmp(extra[i].name, "into");
	if (!into_given && takes(t->drv->target, "into"))
		opts[n++] = (struct ctx_option){"into", into};
	for (size_t i = 0; i < n_extra; i++)
		opts[n++] = extra[i];
	rc = job_restore(e, t, res.id, NULL, opts);
	if (rc == ARCA_OK && after_restore) {
		setenv("ARCA_CHECK_RESTORED", into, 1);
		setenv("ARCA_CHECK_WORKDIR", work, 1);
		int st = system(after_restore);
		if (st != 0)
			rc = err_set(ARCA_ERR_CORRUPT, "--after-restore '%s' failed (status %d)",
			             after_restore, st);
	}
	result_rc("restore", rc);
	if (rc == ARCA_OK && ARCA_OPS_HAS(t->drv->target, health)) {
		/* the restored store serves: the copy restored --into, if there is one */
		int any;
		const struct arca_op_option *h = loader_op_options(t->drv->target, "health", &any);
		struct ctx_option at[2] = {{NULL, NULL}, {NULL, NULL}};
		for (size_t i = 0; i < n && loader_op_option(h, "into"); i++)
			if (!strcmp(opts[i].name, "into"))
				at[0] = opts[i];
		result_rc("health of the restored store", job_health(e, t, at));
	}
	free(opts);
	free(into);

	char *problem = NULL;
	rc = engine_open_repo(e, d);
	if (rc == ARCA_OK)
		rc = repo_lock_reading(d->repo);
	if (rc == ARCA_OK) {
		rc = repo_verify(d->repo, 100, report_problem, &problem);
		repo_unlock(d->repo);
	}
	if (rc == ARCA_OK && problem)
		rc = err_set(ARCA_ERR_CORRUPT, "%s", problem);
	free(problem);
	const struct ctx_option read_all[] = {{"read-data", "100"}, {NULL, NULL}};
	if (rc == ARCA_OK)
		rc = job_verify_target(e, t, res.id, read_all);
	result_rc("verify (every byte read back)", rc);

	if (with_faults) {
		snapshot_failing(e, t, d, INJECT_CANCEL,
		                 "cancellation mid-snapshot records nothing");
		snapshot_failing(e, t, d, INJECT_IO,
		                 "a failing host call (I/O error) records nothing");
	}
}

/* ---------------------------------------------------------------------- */
/* Destination semantics.                                                  */
/* ---------------------------------------------------------------------- */

static const struct arca_dest_ops *dops;
static void *dinst;

static int sink_buf(void *arg, const void *data, size_t len)
{
	buf_append(arg, data, len);
	return 0;
}

/* Each op call: error state cleared before, judged after. */
static int d_put(const char *name, const void *data, size_t len, unsigned flags)
{
	err_clear();
	return judged("put", dops->put(dinst, name, data, len, flags));
}

static int d_get(const char *name, uint64_t off, uint64_t len, struct buf *out)
{
	out->len = 0;
	err_clear();
	return judged("get", dops->get(dinst, name, off, len, sink_buf, out));
}

static int d_stat(const char *name, uint64_t *size)
{
	err_clear();
	return judged("stat", dops->stat(dinst, name, size));
}

static int d_remove(const char *name)
{
	err_clear();
	return judged("remove", dops->remove(dinst, name));
}

struct listing {
	const char *want; /* a name to look for */
	uint64_t want_size;
	int found, n, stop_at;
};

static int list_cb(void *arg, const char *name, uint64_t size)
{
	struct listing *l = arg;
	l->n++;
	if (l->want && !strcmp(name, l->want) && size == l->want_size)
		l->found = 1;
	return l->stop_at && l->n >= l->stop_at ? 7 : 0;
}

static int d_list(const char *prefix, struct listing *l)
{
	err_clear();
	int rc = dops->list(dinst, prefix, list_cb, l);
	/* the callback's own value is no failure of the driver's */
	return l->stop_at && rc == 7 ? rc : judged("list", rc);
}

/* Deterministic content for object `seed`. */
static void fill(unsigned char *p, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

/* Why the object `name` does not hold data[0..len), or NULL. */
static char *differs(const char *name, const unsigned char *data, size_t len)
{
	struct buf b = {0};
	uint64_t size = 0;
	char *why = NULL;
	int rc = d_get(name, 0, UINT64_MAX, &b);
	if (rc != ARCA_OK)
		why = xasprintf("get %s: %s", name, err_msg());
	else if (b.len != len || (len && memcmp(b.data, data, len)))
		why = xasprintf("get %s returned %zu bytes that differ from the %zu put", name,
		                b.len, len);
	else if ((rc = d_stat(name, &size)) != ARCA_OK || size != len)
		why = xasprintf("stat %s: %s", name, rc ? err_msg() : "wrong size");
	buf_free(&b);
	return why;
}

#define OBJ_LEN 100007
#define PREFIX  "kit-check/"

static char *dest_basics(void)
{
	unsigned char *a = xmalloc(OBJ_LEN), *b = xmalloc(OBJ_LEN);
	fill(a, OBJ_LEN, 1);
	fill(b, OBJ_LEN, 2);
	char *why = NULL;
	struct buf got = {0};
	if (d_put(PREFIX "a", a, OBJ_LEN, 0) != ARCA_OK)
		why = xasprintf("put: %s", err_msg());
	if (!why)
		why = differs(PREFIX "a", a, OBJ_LEN);
	/* ranged reads at odd offsets */
	static const uint64_t ranges[][2] = {
	    {1, 1}, {4093, 5003}, {OBJ_LEN - 1, 1}, {65537, UINT64_MAX}, {0, 3}};
	for (size_t i = 0; !why && i < sizeof ranges / sizeof *ranges; i++) {
		uint64_t off = ranges[i][0], len = ranges[i][1];
		uint64_t want = len == UINT64_MAX ? OBJ_LEN - off : len;
		if (d_get(PREFIX "a", off, len, &got) != ARCA_OK)
			why =
			    xasprintf("get at offset %llu: %s", (unsigned long long)off, err_msg());
		else if (got.len != want || memcmp(got.data, a + off, (size_t)want))
			why = xasprintf("get of %llu bytes at offset %llu returned %zu other bytes",
			                (unsigned long long)want, (unsigned long long)off, got.len);
	}
	/* overwrite, exclusive create */
	if (!why && d_put(PREFIX "a", b, OBJ_LEN, 0) != ARCA_OK)
		why = xasprintf("overwriting put: %s", err_msg());
	if (!why)
		why = differs(PREFIX "a", b, OBJ_LEN);
	int rc;
	if (!why && (rc = d_put(PREFIX "a", a, 10, ARCA_PUT_EXCLUSIVE)) != ARCA_ERR_EXISTS)
		why = xasprintf("exclusive put of an existing object returned %s, not "
		                "ARCA_ERR_EXISTS",
		                status_name(rc));
	if (!why)
		why = differs(PREFIX "a", b, OBJ_LEN);
	if (!why && d_put(PREFIX "b/c", a, 5, ARCA_PUT_EXCLUSIVE) != ARCA_OK)
		why = xasprintf("exclusive put of a new object: %s", err_msg());
	if (!why && d_put(PREFIX "empty", "", 0, 0) != ARCA_OK)
		why = xasprintf("put of an empty object: %s", err_msg());
	if (!why)
		why = differs(PREFIX "empty", (const unsigned char *)"", 0);
	/* list */
	struct listing l = {.want = PREFIX "b/c", .want_size = 5};
	if (!why && (d_list(PREFIX, &l) != ARCA_OK || !l.found || l.n != 3))
		why = xasprintf("list of %s found %d objects (3 put)%s", PREFIX, l.n,
		                l.found ? "" : ", not b/c with its size");
	l = (struct listing){.want = PREFIX "b/c", .want_size = 5};
	if (!why && (d_list(PREFIX "b", &l) != ARCA_OK || l.n != 1 || !l.found))
		why = xasprintf("list of prefix %sb found %d objects, not just %sb/c", PREFIX, l.n,
		                PREFIX);
	l = (struct listing){.stop_at = 1};
	if (!why && (rc = d_list(PREFIX, &l)) != 7)
		why = xasprintf("list did not stop and return the callback's 7 (returned %d, "
		                "called %d times)",
		                rc, l.n);
	/* remove and not-found */
	uint64_t size;
	if (!why && d_remove(PREFIX "a") != ARCA_OK)
		why = xasprintf("remove: %s", err_msg());
	if (!why && (rc = d_stat(PREFIX "a", &size)) != ARCA_ERR_NOT_FOUND)
		why = xasprintf("stat of a removed object returned %s, not ARCA_ERR_NOT_FOUND",
		                status_name(rc));
	if (!why && (rc = d_get(PREFIX "a", 0, UINT64_MAX, &got)) != ARCA_ERR_NOT_FOUND)
		why = xasprintf("get of a removed object returned %s, not ARCA_ERR_NOT_FOUND",
		                status_name(rc));
	if (!why && (rc = d_get(PREFIX "never/was", 3, 5, &got)) != ARCA_ERR_NOT_FOUND)
		why = xasprintf("ranged get of an absent object returned %s, not "
		                "ARCA_ERR_NOT_FOUND",
		                status_name(rc));
	if (!why && (rc = d_remove(PREFIX "a")) != ARCA_OK)
		why = xasprintf("removing an absent object returned %s, not ARCA_OK",
		                status_name(rc));
	l = (struct listing){0};
	if (!why && (d_list(PREFIX "a", &l) != ARCA_OK || l.n != 0))
		why = xasprintf("a removed object is still listed");
	d_remove(PREFIX "b/c");
	d_remove(PREFIX "empty");
	buf_free(&got);
	free(a);
	free(b);
	return why;
}

/* ---- ABI 1.1: the ops with a per-call context ---- */

/* One op through the engine's own retry_run, the driver's `_call` op with
 * a real context. Two ways (run11, run_engine below): a check that judges
 * one call gets one try, so a failure the driver marks transient is still
 * a failure there; the checks of behaviour under load call the ops as the
 * engine does, retried. */
struct call11 {
	int (*fn)(struct call11 *c, struct arca_dest_call *call);
	const char *name, *if_version;
	const void *data;
	size_t len;
	unsigned flags;
	struct buf *out;
	struct arca_dest_stat *st;
	const char *const *names;
	size_t n;
	unsigned caps;
	struct listing *l;
	int source_fails_at; /* put_stream: the source fails past this offset (0: never) */
};

static int call11_run(void *arg, struct arca_dest_call *call)
{
	struct call11 *c = arg;
	return c->fn(c, call);
}

/* One call, one try: what the driver returns is what is judged. */
static int run11(const char *op, struct call11 *c)
{
	struct retry_policy p;
	retry_policy_default(&p);
	p.max_tries = 1;
	err_clear();
	int rc = retry_run(&p, op, call11_run, c, NULL, NULL);
	return rc == ARCA_OK ? rc : judged(op, rc);
}

static int f_probe(struct call11 *c, struct arca_dest_call *call)
{
	c->caps = dops->caps;
	return dops->probe(dinst, call, &c->caps);
}

/* put, get, stat, remove and list: the 1.1 op, else (a 1.0 driver, which
 * only run_engine calls them for) the 1.0 op, as core/repo/dest.c does. */
static int f_put(struct call11 *c, struct arca_dest_call *call)
{
	if (!ARCA_OPS_HAS(dops, put_call))
		return dops->put(dinst, c->name, c->data, c->len, c->flags);
	return dops->put_call(dinst, call, c->name, c->data, c->len, c->flags, c->if_version);
}

static int f_get(struct call11 *c, struct arca_dest_call *call)
{
	c->out->len = 0; /* what a failed try delivered is dropped */
	if (!ARCA_OPS_HAS(dops, get_call))
		return dops->get(dinst, c->name, 0, UINT64_MAX, sink_buf, c->out);
	return dops->get_call(dinst, call, c->name, 0, UINT64_MAX, sink_buf, c->out);
}

static int f_stat(struct call11 *c, struct arca_dest_call *call)
{
	memset(c->st, 0, sizeof *c->st);
	c->st->struct_size = sizeof *c->st;
	if (!ARCA_OPS_HAS(dops, stat_call))
		return dops->stat(dinst, c->name, &c->st->size);
	return dops->stat_call(dinst, call, c->name, c->st);
}

static int f_remove(struct call11 *c, struct arca_dest_call *call)
{
	if (ARCA_OPS_HAS(dops, remove_call))
		return dops->remove_call(dinst, call, c->names, c->n);
	int rc = ARCA_OK;
	for (size_t i = 0; i < c->n && rc == ARCA_OK; i++)
		rc = dops->remove(dinst, c->names[i]);
	return rc;
}

static int f_list(struct call11 *c, struct arca_dest_call *call)
{
	c->l->n = c->l->found = 0; /* a retry lists again from the start */
	if (!ARCA_OPS_HAS(dops, list_call))
		return dops->list(dinst, c->name, list_cb, c->l);
	return dops->list_call(dinst, call, c->name, list_cb, c->l);
}

static int stream_source(void *arg, uint64_t off, void *buf, size_t len)
{
	const struct call11 *c = arg;
	if (off > c->len || len > c->len - off)
		return err_set(ARCA_ERR_INTERNAL, "put_stream read past the end (%llu+%zu of %zu)",
		               (unsigned long long)off, len, c->len);
	if (c->source_fails_at && off + len > (uint64_t)c->source_fails_at)
		return err_set(ARCA_ERR_IO, "the source failed on purpose");
	memcpy(buf, (const unsigned char *)c->data + off, len);
	return ARCA_OK;
}

static int f_stream(struct call11 *c, struct arca_dest_call *call)
{
	return dops->put_stream(dinst, call, c->name, c->len, stream_source, c, c->flags);
}

static int f_copy(struct call11 *c, struct arca_dest_call *call)
{
	return dops->copy(dinst, call, c->name, c->if_version, c->flags);
}

/* ---- The engine's way: the checks of behaviour under load ---- */

/* What the 8 threads judge is the store's behaviour (atomic exclusive
 * create, each thread reading back what it wrote) as the engine meets it,
 * and the engine calls every op through its retry policy (core/repo/
 * dest.c, retry.c): a failure the driver marks transient (a server's 500
 * or 503 under load) is tried again after a backoff and logged as a
 * warning, and is no failure of the engine's; one not so marked, or one
 * that outlasts the policy, fails the check. ARCA_RETRY_BASE_MS scales the
 * waits. A 1.0 driver's ops are called once, as the engine calls them. */
static pthread_mutex_t retried_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned n_retried; /* calls that took more than one try */

static int run_engine(const char *op, struct call11 *c);

/* Does object `name` hold exactly data[0..len)? */
static int holds(const char *name, const void *data, size_t len)
{
	struct buf b = {0};
	struct call11 c = {.fn = f_get, .name = name, .out = &b};
	int same = run_engine("get", &c) == ARCA_OK && b.len == len &&
	           (!len || !memcmp(b.data, data, len));
	buf_free(&b);
	return same;
}

static int run_engine(const char *op, struct call11 *c)
{
	struct retry_policy p;
	retry_policy_default(&p);
	unsigned tries = 0;
	err_clear();
	int rc = retry_run(&p, op, call11_run, c, NULL, &tries);
	if (tries > 1) {
		pthread_mutex_lock(&retried_mu);
		n_retried++;
		pthread_mutex_unlock(&retried_mu);
	}
	/* as core/repo/dest.c: a retried exclusive put that meets an object
	 * may have written it itself before its reply was lost; its own bytes
	 * there are a success */
	if (rc == ARCA_ERR_EXISTS && tries > 1 && c->fn == f_put &&
	    (c->flags & ARCA_PUT_EXCLUSIVE)) {
		if (holds(c->name, c->data, c->len)) {
			err_clear();
			return ARCA_OK;
		}
		err_set(rc, "%s: object %s already exists with other content", op, c->name);
	}
	return rc == ARCA_OK ? rc : judged(op, rc);
}

static int e_put(const char *name, const void *data, size_t len, unsigned flags)
{
	struct call11 c = {.fn = f_put, .name = name, .data = data, .len = len, .flags = flags};
	return run_engine("put", &c);
}

static int e_remove(const char *name)
{
	struct call11 c = {.fn = f_remove, .names = &name, .n = 1};
	return run_engine("remove", &c);
}

static int e_list(const char *prefix, struct listing *l)
{
	struct call11 c = {.fn = f_list, .name = prefix, .l = l};
	return run_engine("list", &c);
}

/* differs() the engine's way. */
static char *e_differs(const char *name, const unsigned char *data, size_t len)
{
	struct buf b = {0};
	struct arca_dest_stat st;
	struct call11 g = {.fn = f_get, .name = name, .out = &b};
	struct call11 s = {.fn = f_stat, .name = name, .st = &st};
	char *why = NULL;
	int rc = run_engine("get", &g);
	if (rc != ARCA_OK)
		why = xasprintf("get %s: %s", name, err_msg());
	else if (b.len != len || (len && memcmp(b.data, data, len)))
		why = xasprintf("get %s returned %zu bytes that differ from the %zu put", name,
		                b.len, len);
	else if ((rc = run_engine("stat", &s)) != ARCA_OK || st.size != len)
		why = xasprintf("stat %s: %s", name, rc ? err_msg() : "wrong size");
	buf_free(&b);
	return why;
}

#define THREADS 8
#define ROUNDS  20

struct worker {
	pthread_t th;
	int id, won_race;
	char *why;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	unsigned char data[3001];
	int rc = e_put(PREFIX "race", &w->id, sizeof w->id, ARCA_PUT_EXCLUSIVE);
	if (rc == ARCA_OK)
		w->won_race = 1;
	else if (rc != ARCA_ERR_EXISTS)
		w->why = xasprintf("exclusive put racing: %s", err_msg());
	for (int i = 0; !w->why && i < ROUNDS; i++) {
		char name[96], prefix[64];
		snprintf(prefix, sizeof prefix, PREFIX "t%d/", w->id);
		snprintf(name, sizeof name, "%s%d", prefix, i);
		size_t len = 1 + (size_t)((w->id * 131 + i * 17) % (int)sizeof data);
		fill(data, len, (unsigned)(w->id * 1000 + i));
		struct listing l = {.want = name, .want_size = len};
		if (e_put(name, data, len, 0) != ARCA_OK)
			w->why = xasprintf("put %s: %s", name, err_msg());
		else if ((w->why = e_differs(name, data, len)))
			;
		else if (e_list(prefix, &l) != ARCA_OK || !l.found)
			w->why = xasprintf("list %s did not find %s", prefix, name);
		else if (e_remove(name) != ARCA_OK)
			w->why = xasprintf("remove %s: %s", name, err_msg());
	}
	return NULL;
}

/* Exclusive puts are atomic: the driver says so (ARCA_CAP_EXCLUSIVE), or
 * its probe found the store honours conditional creates. */
static unsigned probed_caps;

static char *dest_concurrent(void)
{
	struct worker w[THREADS];
	char *why = NULL;
	int winners = 0;
	e_remove(PREFIX "race");
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.id = i};
		if (pthread_create(&w[i].th, NULL, worker_run, &w[i]) != 0) {
			fprintf(stderr, "arca-driver-check: cannot start a thread\n");
			exit(1);
		}
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(w[i].th, NULL);
		winners += w[i].won_race;
		if (w[i].why && !why)
			why = w[i].why;
		else
			free(w[i].why);
	}
	int atomic = (probed_caps & (ARCA_CAP_EXCLUSIVE | ARCA_CAP_COND_CREATE)) != 0;
	if (!why && (atomic ? winners != 1 : winners < 1))
		why = xasprintf("%d of %d threads created the same object with ARCA_PUT_EXCLUSIVE "
		                "(exactly 1 may)",
		                winners, THREADS);
	e_remove(PREFIX "race");
	return why;
}

#define STREAM_LEN (3 * 1024 * 1024 + 12345)

static char *dest_v11(unsigned *caps_out)
{
	struct call11 c = {.fn = f_probe};
	if (ARCA_OPS_HAS(dops, probe) && run11("probe", &c) != ARCA_OK)
		return xasprintf("probe: %s", err_msg());
	*caps_out = ARCA_OPS_HAS(dops, probe) ? c.caps : dops->caps;
	unsigned caps = *caps_out;
	if (!ARCA_OPS_HAS(dops, put_call) || !ARCA_OPS_HAS(dops, get_call) ||
	    !ARCA_OPS_HAS(dops, stat_call) || !ARCA_OPS_HAS(dops, list_call) ||
	    !ARCA_OPS_HAS(dops, remove_call))
		return xstrdup("a driver with 1.1 ops must have all of put_call, get_call, "
		               "stat_call, list_call and remove_call");
	unsigned char *a = xmalloc(STREAM_LEN), *b = xmalloc(OBJ_LEN);
	fill(a, STREAM_LEN, 11);
	fill(b, OBJ_LEN, 12);
	struct buf got = {0};
	struct arca_dest_stat s1, s2;
	char *why = NULL;
	int rc;
	const char *v1 = PREFIX "v11/a", *v2 = PREFIX "v11/b", *v3 = PREFIX "v11/c";
	c = (struct call11){.fn = f_put, .name = v1, .data = a, .len = OBJ_LEN};
	if (run11("put_call", &c) != ARCA_OK)
		why = xasprintf("put_call: %s", err_msg());
	c = (struct call11){.fn = f_stat, .name = v1, .st = &s1};
	if (!why && (run11("stat_call", &c) != ARCA_OK || s1.size != OBJ_LEN))
		why = xasprintf("stat_call after put_call: %s",
		                err_msg()[0] ? err_msg() : "wrong size");
	c = (struct call11){.fn = f_put, .name = v1, .data = b, .len = OBJ_LEN};
	if (!why && run11("put_call", &c) != ARCA_OK)
		why = xasprintf("overwriting put_call: %s", err_msg());
	c = (struct call11){.fn = f_stat, .name = v1, .st = &s2};
	if (!why && run11("stat_call", &c) != ARCA_OK)
		why = xasprintf("stat_call: %s", err_msg());
	if (!why && s1.version[0] && !strcmp(s1.version, s2.version))
		why = xasprintf("the version tag \"%s\" did not change when the content did",
		                s1.version);
	c = (struct call11){.fn = f_get, .name = v1, .out = &got};
	if (!why && (run11("get_call", &c) != ARCA_OK || got.len != OBJ_LEN ||
	             memcmp(got.data, b, OBJ_LEN)))
		why = xasprintf("get_call did not return what put_call wrote: %s", err_msg());
	c = (struct call11){
	    .fn = f_put, .name = v1, .data = a, .len = 7, .flags = ARCA_PUT_EXCLUSIVE};
	if (!why && (caps & ARCA_CAP_COND_CREATE) &&
	    (rc = run11("put_call", &c)) != ARCA_ERR_EXISTS)
		why = xasprintf("conditional create (probe says it is honoured) of an existing "
		                "object returned %s, not ARCA_ERR_EXISTS",
		                status_name(rc));
	if (!why && (caps & ARCA_CAP_COND_REPLACE)) {
		c = (struct call11){
		    .fn = f_put, .name = v1, .data = a, .len = 9, .if_version = s1.version};
		if ((rc = run11("put_call", &c)) != ARCA_ERR_EXISTS)
			why = xasprintf("conditional replace with a stale version returned %s, not "
			                "ARCA_ERR_EXISTS",
			                status_name(rc));
		c = (struct call11){
		    .fn = f_put, .name = v1, .data = a, .len = 9, .if_version = s2.version};
		if (!why && run11("put_call", &c) != ARCA_OK)
			why = xasprintf("conditional replace with the current version: %s",
			                err_msg());
	}
	/* a streamed put, read back; a failing source leaves no object */
	c = (struct call11){.fn = f_stream, .name = v2, .data = a, .len = STREAM_LEN};
	if (!why && ARCA_OPS_HAS(dops, put_stream)) {
		if (run11("put_stream", &c) != ARCA_OK)
			why = xasprintf("put_stream of %d bytes: %s", STREAM_LEN, err_msg());
		if (!why)
			why = differs(v2, a, STREAM_LEN);
		c = (struct call11){.fn = f_stream,
		                    .name = v3,
		                    .data = a,
		                    .len = STREAM_LEN,
		                    .source_fails_at = 2 * 1024 * 1024};
		uint64_t size;
		if (!why && run11("put_stream", &c) == ARCA_OK)
			why = xstrdup("put_stream succeeded although its source failed");
		if (!why && (rc = d_stat(v3, &size)) != ARCA_ERR_NOT_FOUND)
			why =
			    xasprintf("a put_stream whose source failed left an object (stat: %s)",
			              status_name(rc));
	}
	if (!why && ARCA_OPS_HAS(dops, copy) && (caps & ARCA_CAP_SERVER_COPY)) {
		c = (struct call11){.fn = f_copy, .name = v1, .if_version = v3};
		if (run11("copy", &c) != ARCA_OK)
			why = xasprintf("copy: %s", err_msg());
		if (!why)
			why = differs(v3, a, 9);
	}
	/* a batch remove, with an absent name among them */
	const char *names[] = {v1, PREFIX "v11/never", v2, v3};
	c = (struct call11){.fn = f_remove, .names = names, .n = 4};
	if (!why && run11("remove_call", &c) != ARCA_OK)
		why = xasprintf("remove_call of 4 names (one absent): %s", err_msg());
	struct listing l = {0};
	c = (struct call11){.fn = f_list, .name = PREFIX "v11/", .l = &l};
	if (!why && (run11("list_call", &c) != ARCA_OK || l.n != 0))
		why =
		    xasprintf("after remove_call, list_call found %d objects: %s", l.n, err_msg());
	buf_free(&got);
	free(a);
	free(b);
	return why;
}

static void check_dest(struct engine *e, struct engine_dest *d)
{
	int rc = engine_open_dest(e, d);
	result_rc("open", rc);
	if (rc != ARCA_OK)
		return;
	dops = d->drv->dest;
	dinst = d->inst;
	err_clear();
	result_rc("check", judged("check", dops->check(dinst)));
	probed_caps = dops->caps;
	if (ARCA_OPS_HAS(dops, probe)) { /* as the engine probes: retried */
		struct call11 c = {.fn = f_probe};
		if (run_engine("probe", &c) == ARCA_OK)
			probed_caps = c.caps;
	}
	char *why = dest_basics();
	result("put, get, ranged get, stat, list, remove, exclusive create, not found", why);
	free(why);
	n_retried = 0;
	why = dest_concurrent();
	result("the same from 8 threads at once", why);
	free(why);
	if (n_retried) /* tolerated as the engine tolerates them, but shown */
		printf("     (%u call(s) failed, marked transient, and were tried again "
		       "by the engine's retry policy)\n",
		       n_retried);
	if (ARCA_OPS_HAS(dops, probe) || ARCA_OPS_HAS(dops, put_call)) {
		unsigned caps = 0;
		why = dest_v11(&caps);
		char *what = xasprintf("ABI 1.1 ops: probe (conditional create %s, conditional "
		                       "replace %s, server-side copy %s), put/get/stat with "
		                       "version tags, streamed put, batch remove",
		                       caps & ARCA_CAP_COND_CREATE ? "yes" : "no",
		                       caps & ARCA_CAP_COND_REPLACE ? "yes" : "no",
		                       caps & ARCA_CAP_SERVER_COPY ? "yes" : "no");
		result(what, why);
		free(what);
		free(why);
	}
	if (ARCA_OPS_HAS(dops, sweep)) {
		unsigned removed = 0;
		err_clear();
		result_rc("sweep",
		          judged("sweep", dops->sweep(dinst, e->hostname, 86400, &removed)));
	}
}

/* ---------------------------------------------------------------------- */
/* Setting up the work directory.                                          */
/* ---------------------------------------------------------------------- */

static int copy_file(const char *from, const char *to)
{
	char *data;
	size_t len;
	if (read_file(from, &data, &len) < 0)
		return -1;
	int fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	int ok = fd >= 0 && write(fd, data, len) == (ssize_t)len;
	if (fd >= 0 && close(fd) < 0)
		ok = 0;
	free(data);
	return ok ? 0 : -1;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: arca-driver-check [OPTIONS] MODULE.so [SECTION]\n"
	        "Check a driver module against the arca driver ABI (arca/plugin.h).\n"
	        "SECTION is a file with the driver's config section as key = value lines,\n"
	        "without its [header].\n\n"
	        "  --plugin-dir DIR          where dir.so (and files.so) are (default %s)\n"
	        "  --restore-option NAME=VALUE  hand restore this option (repeatable); a\n"
	        "                            target that takes --into restores into WORK/restore\n"
	        "  --after-restore CMD       run CMD (sh -c) after the restore; it must exit 0.\n"
	        "                            $ARCA_CHECK_RESTORED and $ARCA_CHECK_WORKDIR are set\n"
	        "  --kind target|destination  which kind to check of a module of both\n"
	        "                            (default: target)\n"
	        "  --keep                    keep the work directory\n"
	        "  -v, --verbose             show the engine's messages\n"
	        "Exit: 0 every check passed, 1 one failed, 2 usage, 14 module refused.\n",
	        ARCA_PLUGIN_DIR);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"plugin-dir", required_argument, NULL, 'p'},
	    {"restore-option", required_argument, NULL, 'o'},
	    {"after-restore", required_argument, NULL, 'a'},
	    {"keep", no_argument, NULL, 'k'},
	    {"kind", required_argument, NULL, 'K'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *plugin_dir = ARCA_PLUGIN_DIR, *after_restore = NULL;
	struct ctx_option extra[32];
	size_t n_extra = 0;
	int keep = 0, c, want_dest = -1;
	log_level = ARCA_LOG_WARN;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			plugin_dir = optarg;
			break;
		case 'a':
			after_restore = optarg;
			break;
		case 'k':
			keep = 1;
			break;
		case 'K':
			if (strcmp(optarg, "target") && strcmp(optarg, "destination")) {
				usage(stderr);
				return 2;
			}
			want_dest = !strcmp(optarg, "destination");
			break;
		case 'v':
			log_level = ARCA_LOG_INFO;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'o': {
			char *eq = strchr(optarg, '=');
			if (!eq || n_extra == sizeof extra / sizeof *extra - 1) {
				usage(stderr);
				return 2;
			}
			*eq = 0;
			extra[n_extra++] = (struct ctx_option){optarg, eq + 1};
			break;
		}
		default:
			usage(stderr);
			return 2;
		}
	}
	extra[n_extra] = (struct ctx_option){NULL, NULL};
	if (optind >= argc || argc - optind > 2 || argv[optind][0] != '/') {
		fprintf(stderr, "arca-driver-check: give the module's absolute path%s\n",
		        optind < argc ? "" : " (and its config section)");
		usage(stderr);
		return 2;
	}
	const char *module = argv[optind], *section = argc - optind == 2 ? argv[optind + 1] : NULL;
	char *lines = NULL;
	size_t lines_len = 0;
	if (section && read_file(section, &lines, &lines_len) < 0) {
		fprintf(stderr, "arca-driver-check: %s: %s\n", section, strerror(errno));
		return 2;
	}
	if (lines && (lines[0] == '[' || strstr(lines, "\n["))) {
		fprintf(stderr,
		        "arca-driver-check: %s: give the section's keys only, without a "
		        "[header]\n",
		        section);
		return 2;
	}
	host_install_signal_handlers();
	kit_host = *host_table();
	kit_host.item_write = kit_item_write;
	kit_host.item_begin = kit_item_begin;
	kit_host.item_begin_h = kit_item_begin_h;
	kit_host.item_write_h = kit_item_write_h;

	const char *tmp = getenv("TMPDIR");
	work = xasprintf("%s/arca-driver-check.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(work)) {
		fprintf(stderr, "arca-driver-check: cannot create %s: %s\n", work, strerror(errno));
		return 1;
	}
	char *plugins = xasprintf("%s/plugins", work);
	char *copy = xasprintf("%s/module-under-check.so", plugins);
	mkdir(plugins, 0755);

	/* 1. The module loads, and its tables are sane. */
	struct loaded_driver ld;
	int rc = copy_file(module, copy) < 0
	             ? err_set(ARCA_ERR_PLUGIN, "cannot copy %s: %s", module, strerror(errno))
	             : loader_load_file(copy, &kit_host, &ld);
	result_rc("the module loads", rc);
	if (rc != ARCA_OK) {
		if (!keep)
			remove_tree(work);
		return ARCA_ERR_PLUGIN;
	}
	const struct arca_driver *drv = ld.drv;
	printf("     driver %s %s: %s%s%s\n", drv->name, drv->version, drv->target ? "target" : "",
	       drv->target && drv->dest ? ", " : "", drv->dest ? "destination" : "");
	check_options(drv);
	char *name = xstrdup(drv->name);
	/* a module of both kinds is checked as one of them (--kind) */
	int is_target = drv->target && want_dest != 1;
	int is_dest = drv->dest && (want_dest == 1 || !drv->target);
	if (!is_target && !is_dest) {
		fprintf(stderr, "arca-driver-check: driver %s is no %s driver\n", drv->name,
		        want_dest ? "destination" : "target");
		return 2;
	}
	loader_unload(&ld);

	/* 2. A config: the driver's section, and what it is checked with. */
	static const char *helpers[] = {"dir", "files"};
	int have[2] = {0, 0};
	for (size_t i = 0; i < 2; i++) {
		char *from = xasprintf("%s/%s.so", plugin_dir, helpers[i]);
		char *to = xasprintf("%s/%s.so", plugins, helpers[i]);
		have[i] = !strcmp(name, helpers[i]) || copy_file(from, to) == 0;
		free(from);
		free(to);
	}
	if (!is_dest && !have[0]) {
		fprintf(stderr,
		        "arca-driver-check: no dir.so in %s: a target driver is checked "
		        "against a dir destination (--plugin-dir)\n",
		        plugin_dir);
		return 2;
	}
	int files_round_trip = !is_target && have[1];
	if (!is_target && !have[1])
		printf("     (no files.so in %s: no snapshot round trip through the "
		       "destination)\n",
		       plugin_dir);
	char *cfg_path = xasprintf("%s/arca.ini", work);
	FILE *f = fopen(cfg_path, "w");
	if (!f)
		return 1;
	fprintf(f, "[engine]\nplugin_dir = %s\nstate_dir = %s/state\n\n", plugins, work);
	const char *body = lines ? lines : "";
	if (is_dest)
		fprintf(f, "[destination kit]\ndriver = %s\nencryption = none\n%s\n\n", name, body);
	else
		fprintf(f, "[destination kit]\ndriver = dir\npath = %s/repo\nencryption = none\n\n",
		        work);
	if (is_target)
		fprintf(f, "[target kit]\ndriver = %s\ndestinations = kit\n%s\n", name,
		        is_dest ? "" : body);
	else if (files_round_trip)
		fprintf(f, "[target kit]\ndriver = files\ndestinations = kit\npath = %s/src\n",
		        work);
	fclose(f);
	char *p = xasprintf("%s/repo", work);
	mkdir(p, 0700);
	free(p);
	if (!is_target) {
		/* a small tree for the files target that round-trips through the
		 * destination under check */
		p = xasprintf("%s/src/sub", work);
		mkdir_p(p, 0755);
		free(p);
		for (int i = 0; i < 5; i++) {
			unsigned char data[5000];
			fill(data, sizeof data, (unsigned)i);
			p = xasprintf("%s/src/%sf%d", work, i % 2 ? "sub/" : "", i);
			FILE *g = fopen(p, "w");
			if (g) {
				fwrite(data, 1, (size_t)(i * 997 + 1), g);
				fclose(g);
			}
			free(p);
		}
	}

	/* 3. The engine, as arca runs it. */
	struct engine e = {0};
	e.lock_wait = -1;
	rc = engine_load(&e, cfg_path, &kit_host);
	result_rc("the engine accepts the config section", rc);
	if (rc == ARCA_OK) {
		struct engine_target *t = engine_find_target(&e, "kit");
		struct engine_dest *d = engine_find_dest(&e, "kit");
		if (is_dest)
			check_dest(&e, d);
		struct repo_params rp;
		char *secret = NULL;
		rc = engine_open_dest(&e, d);
		if (rc == ARCA_OK)
			rc = engine_repo_params(&e, d, &rp, &secret);
		if (rc == ARCA_OK) {
			struct repo_dest rd = {d->cfg->name, d->drv->dest, d->inst};
			rc = repo_init(&rd, &rp);
		}
		free(secret);
		result_rc(is_dest ? "a repository on it (arca init)"
		                  : "arca init of the dir destination",
		          rc);
		if (rc == ARCA_OK && t) {
			if (is_target)
				wrap_target(t);
			char *cmp = is_target
			                ? NULL
			                : xasprintf("diff -r '%s/src' '%s/restore'", work, work);
			if (!is_target)
				printf("     round trip of a files snapshot through it:\n");
			round_trip(&e, t, d, extra, n_extra, is_target ? after_restore : cmp,
			           is_target);
			free(cmp);
		}
		engine_close(&e);
	}
	char *silent = first_silent;
	if (!silent && !n_failing_returns)
		printf("     (no op returned a failure to judge for its message)\n");
	result("every failing return carries a message of its status", silent);

	printf("%d checks passed, %d failed\n", n_ok, n_failed);
	if (keep)
		printf("work directory kept: %s\n", work);
	else
		remove_tree(work);
	free(silent);
	free(cfg_path);
	free(name);
	free(lines);
	free(copy);
	free(plugins);
	free(work);
	return n_failed ? 1 : 0;
}
