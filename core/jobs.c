/* jobs.c — snapshot, restore, verify, check and driver commands for one
 * target: open what is needed, lock, run the driver in a ctx, report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include "items_parallel.h"
#include "jobs.h"
#include "loader.h"
#include "log.h"
#include "util.h"

/* One call into the driver, as every job makes it (run_driver_op). */
struct driver_op {
	const char *what;  /* "snapshot", "restore" or "verify": the progress
	                    * bar's label is "WHAT TARGET"; NULL: no bar */
	const char *intro; /* logged in the target's scope before the call */
	const char *done;  /* on success, logged with the bar's counts */
	const char *verb;  /* CTX_COMMAND: the driver verb and its arguments */
	int after_forget;  /* CTX_COMMAND: the after_forget op instead of a verb */
	int argc;
	char **argv;
	uint64_t bytes, items; /* out: what the bar counted */
	double seconds;
};

/* Call the operation of ctx->t's driver that ctx->kind names: in the
 * target's log scope, under op->what's progress bar, with the error state
 * cleared first. A snapshot that returns OK inside an item is a driver bug,
 * and one that returns OK after ^C was interrupted. The ctx stays the
 * caller's to clean up. */
static int run_driver_op(struct arca_ctx *ctx, struct driver_op *op)
{
	struct engine_target *t = ctx->t;
	const struct arca_target_ops *ops = t->drv->target;
	char *scope = xasprintf("target %s", t->cfg->name);
	log_set_scope(scope);
	if (op->intro)
		log_info("%s", op->intro);
	if (op->what) {
		char *label = xasprintf("%s %s", op->what, t->cfg->name);
		ctx->progress = progress_start(label);
		free(label);
	}
	err_clear();
	int rc = ARCA_OK;
	switch (ctx->kind) {
	case CTX_SNAPSHOT:
		rc = ops->snapshot(t->inst, ctx);
		if (rc == ARCA_OK && ctx->in_item)
			rc = err_set(ARCA_ERR_INTERNAL,
			             "driver %s bug: snapshot returned inside an item",
			             t->drv->name);
		if (rc == ARCA_OK && arca_cancel_requested)
			rc = err_set(ARCA_ERR_CANCELLED, "interrupted");
		if (rc == ARCA_OK)
			rc = items_par_finish(ctx);
		break;
	case CTX_RESTORE:
		rc = ops->restore(t->inst, ctx);
		break;
	case CTX_VERIFY:
		rc = ops->verify(t->inst, ctx);
		break;
	case CTX_CHECK:
		rc = ops->check ? ops->check(t->inst, ctx) : ARCA_OK;
		break;
	case CTX_HEALTH:
		rc = ops->health(t->inst, ctx);
		break;
	case CTX_COMMAND:
		rc = op->after_forget ? ops->after_forget(t->inst, ctx)
		                      : ops->command(t->inst, ctx, op->verb, op->argc, op->argv);
		break;
	}
	/* The message left is the driver's only when its status is the one
	 * returned: one a host call left for a failure the driver went past
	 * (an optional secret's NOT_FOUND) is not the reason of this one. */
	if (rc != ARCA_OK && (err_status() != rc || !err_msg()[0])) {
		if (rc == ARCA_ERR_CANCELLED)
			err_set(rc, "interrupted");
		else
			err_set(rc,
			        "driver %s failed (%s) without a message: a driver bug, "
			        "report it to the driver's author",
			        t->drv->name, status_name(rc));
	}
	if (op->what) {
		op->seconds = progress_finish(ctx->progress, &op->bytes, &op->items);
		ctx->progress = NULL;
	}
	if (rc == ARCA_OK && op->done) {
		char b[32];
		format_bytes(op->bytes, b, sizeof b);
		log_info("%s: %llu items, %s in %.1f s", op->done, (unsigned long long)op->items, b,
		         op->seconds);
	}
	log_set_scope(NULL);
	free(scope);
	return rc;
}

/* Open the repositories of all the target's destinations (all must work:
 * a snapshot goes to every one of them). */
static int open_target_repos(struct engine *e, struct engine_target *t, struct repo ***repos)
{
	*repos = xcalloc(t->n_dests + 1, sizeof **repos);
	for (size_t i = 0; i < t->n_dests; i++) {
		int rc = engine_open_repo(e, t->dests[i]);
		if (rc != ARCA_OK) {
			free(*repos);
			*repos = NULL;
			return rc;
		}
		(*repos)[i] = t->dests[i]->repo;
	}
	return ARCA_OK;
}

static void unlock_all(struct repo **repos, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (repos[i])
			repo_unlock(repos[i]);
}

static int lock_all(struct repo **repos, size_t n, int exclusive)
{
	for (size_t i = 0; i < n; i++) {
		int rc = repo_lock(repos[i], exclusive);
		if (rc != ARCA_OK) {
			unlock_all(repos, i);
			return rc;
		}
	}
	return ARCA_OK;
}

int job_snapshot(struct engine *e, struct engine_target *t, const char *recovery_point,
                 const struct ctx_option *options, struct snapshot_result *res)
{
	memset(res, 0, sizeof *res);
	struct repo **repos = NULL;
	int rc = engine_open_target(e, t);
	if (rc == ARCA_OK)
		rc = open_target_repos(e, t, &repos);
	if (rc != ARCA_OK)
		return err_wrap(rc, "snapshot of %s", t->cfg->name);
	rc = lock_all(repos, t->n_dests, 0);
	if (rc != ARCA_OK) {
		free(repos);
		return err_wrap(rc, "snapshot of %s", t->cfg->name);
	}

	struct arca_ctx ctx = {.kind = CTX_SNAPSHOT,
	                       .e = e,
	                       .t = t,
	                       .repos = repos,
	                       .n_repos = t->n_dests,
	                       .options = options};
	ctx.writers = xcalloc(t->n_dests, sizeof *ctx.writers);
	for (size_t i = 0; i < t->n_dests && rc == ARCA_OK; i++) {
		rc = repo_snap_begin(repos[i], t->cfg->name, t->drv->name, recovery_point,
		                     &ctx.writers[i]);
		if (rc == ARCA_OK)
			ctx.n_writers++;
	}
	if (rc == ARCA_OK) {
		struct driver_op op = {.what = "snapshot"};
		rc = run_driver_op(&ctx, &op);
		res->seconds = op.seconds;
		res->bytes = op.bytes;
		res->items = op.items;
	}
	char *recorded = NULL; /* destinations that committed before a failure */
	for (size_t i = 0; i < ctx.n_writers; i++) {
		if (rc != ARCA_OK) {
			repo_snap_abort(ctx.writers[i]);
			continue;
		}
		struct repo_snapshot meta = {0};
		rc = repo_snap_commit(ctx.writers[i], &meta);
		if (rc != ARCA_OK) {
			err_wrap(rc, "destination %s", t->dests[i]->cfg->name);
			/* the remaining writers are aborted: the run failed */
			continue;
		}
		char *more = recorded ? xasprintf("%s, %s", recorded, t->dests[i]->cfg->name)
		                      : xstrdup(t->dests[i]->cfg->name);
		free(recorded);
		recorded = more;
		if (i == 0) {
			memcpy(res->id, meta.id, sizeof res->id);
			res->bytes = meta.bytes;
			res->items = meta.items;
			res->skipped = meta.skipped;
		}
		res->new_bytes += meta.new_bytes;
		repo_snapshot_clear(&meta);
	}
	ctx_cleanup(&ctx);
	unlock_all(repos, t->n_dests);
	free(ctx.writers);
	free(repos);
	if (rc != ARCA_OK && recorded) {
		/* not "nothing was recorded": the destinations before the failed
		 * one hold a complete snapshot of this run */
		err_wrap(rc,
		         "snapshot of %s failed; it was recorded in destination %s only, the "
		         "others hold no snapshot of this run",
		         t->cfg->name, recorded);
		free(recorded);
		return rc;
	}
	free(recorded);
	if (rc != ARCA_OK)
		return err_wrap(rc, "snapshot of %s failed, nothing was recorded", t->cfg->name);
	return ARCA_OK;
}

int job_resolve_snapshot(struct repo *r, const char *target, const char *id, char out[65])
{
	struct repo_snapshot *list;
	size_t n;
	int rc = repo_snapshots(r, target, &list, &n);
	if (rc != ARCA_OK)
		return rc;
	int found = -1, matches = 0;
	if (!id || !strcmp(id, "latest")) {
		if (n)
			found = (int)n - 1, matches = 1;
	} else {
		for (size_t i = 0; i < n; i++)
			if (str_starts(list[i].id, id))
				found = (int)i, matches++;
	}
	if (matches == 1)
		memcpy(out, list[found].id, 65);
	repo_snapshots_free(list, n);
	if (matches == 0)
		return err_set(ARCA_ERR_NOT_FOUND,
		               "no snapshot %s%sof target %s (see `arca list %s`)", id ? id : "",
		               id ? " " : "", target, target);
	if (matches > 1)
		return err_set(2, "snapshot id prefix '%s' is ambiguous: give more characters", id);
	return ARCA_OK;
}

/* Run a reading operation (restore or verify) of one snapshot. */
static int run_reader(struct engine *e, struct engine_target *t, struct engine_dest *d,
                      enum ctx_kind kind, const char *snapshot_id, const struct ctx_option *options)
{
	int rc = engine_open_repo(e, d);
	char id[65];
	if (rc == ARCA_OK)
		rc = job_resolve_snapshot(d->repo, t->cfg->name, snapshot_id, id);
	if (rc == ARCA_OK)
		rc = repo_lock_reading(d->repo);
	if (rc != ARCA_OK)
		return rc;
	struct arca_ctx ctx = {.kind = kind,
	                       .e = e,
	                       .t = t,
	                       .options = options,
	                       .repos = &d->repo,
	                       .n_repos = 1,
	                       .snapshot_id = id};
	rc = repo_snap_open(d->repo, id, &ctx.reader);
	if (rc == ARCA_OK) {
		const char *what = kind == CTX_RESTORE ? "restore" : "verify";
		char *intro =
		    xasprintf("%s snapshot %.12s from destination %s",
		              kind == CTX_RESTORE ? "restoring" : "verifying", id, d->cfg->name);
		char *done = xasprintf("%s of snapshot %.12s done", what, id);
		struct driver_op op = {.what = what, .intro = intro, .done = done};
		rc = run_driver_op(&ctx, &op);
		snap_close(ctx.reader);
		free(intro);
		free(done);
	}
	ctx_cleanup(&ctx);
	repo_unlock(d->repo);
	return rc;
}

/* The recovery point of snapshot `id` of `target` in r (malloc'd), or NULL. */
static char *recovery_point_of(struct repo *r, const char *target, const char *id)
{
	struct repo_snapshot *list;
	size_t n;
	char *rp = NULL;
	if (repo_snapshots(r, target, &list, &n) != ARCA_OK)
		return NULL;
	for (size_t i = 0; i < n && !rp; i++)
		if (!strcmp(list[i].id, id) && list[i].recovery_point)
			rp = xstrdup(list[i].recovery_point);
	repo_snapshots_free(list, n);
	return rp;
}

/* One clause per other destination holding snapshots of t: the one of the
 * same run (same recovery point; ids differ between destinations) or how
 * many others. NULL when no other destination can be read. */
static char *other_sources(struct engine *e, struct engine_target *t, struct engine_dest *bad,
                           const char *snapshot_id)
{
	const char *name = t->cfg->name;
	char id[65], *rp = NULL, *out = NULL;
	if (bad->repo && job_resolve_snapshot(bad->repo, name, snapshot_id, id) == ARCA_OK)
		rp = recovery_point_of(bad->repo, name, id);
	for (size_t i = 0; i < t->n_dests; i++) {
		struct engine_dest *d = t->dests[i];
		struct repo_snapshot *list;
		size_t n;
		if (d == bad || engine_open_repo(e, d) != ARCA_OK ||
		    repo_snapshots(d->repo, name, &list, &n) != ARCA_OK)
			continue;
		const struct repo_snapshot *same = NULL;
		for (size_t k = 0; k < n && rp; k++)
			if (list[k].recovery_point && !strcmp(list[k].recovery_point, rp))
				same = &list[k];
		const char *dn = d->cfg->name;
		char *clause = NULL;
		if (same)
			clause =
			    xasprintf("destination %s holds this snapshot too, as %.12s: retry "
			              "with --from %s --snapshot %.12s",
			              dn, same->id, dn, same->id);
		else if (n)
			clause = xasprintf("destination %s holds %zu other snapshot%s of %s (arca "
			                   "list %s): retry with --from %s --snapshot ID",
			                   dn, n, n == 1 ? "" : "s", name, name, dn);
		if (clause) {
			char *joined = out ? xasprintf("%s; %s", out, clause) : clause;
			if (out) {
				free(out);
				free(clause);
			}
			out = joined;
		}
		repo_snapshots_free(list, n);
	}
	free(rp);
	return out;
}

/* A snapshot damaged in one destination may be intact in another: the
 * error names those that hold one and the --from that reads them. */
static int suggest_other_dests(struct engine *e, struct engine_target *t, struct engine_dest *bad,
                               const char *snapshot_id, int rc)
{
	if (rc != ARCA_ERR_CORRUPT || t->n_dests < 2)
		return rc;
	char *saved = xstrdup(err_msg());
	char *more = other_sources(e, t, bad, snapshot_id);
	/* the message first, cut if need be so the way out is not lost */
	if (more)
		err_set(rc, "%.3000s; %s", saved, more);
	else
		err_set(rc, "%s", saved);
	free(saved);
	free(more);
	return rc;
}

/* A restore that found no snapshot names the driver's way back, when it
 * declares one (a verb flagged ARCA_VERB_FALLBACK: meilisearch's rebuild). */
static int name_fallback(const struct engine_target *t, int rc)
{
	const struct arca_target_ops *ops = t->drv ? t->drv->target : NULL;
	if (rc != ARCA_ERR_NOT_FOUND || !ops || !ARCA_OPS_HAS(ops, verbs))
		return rc;
	for (const struct arca_verb *v = ops->verbs; v->name; v++)
		if (v->flags & ARCA_VERB_FALLBACK) {
			char *msg = xstrdup(err_msg());
			err_set(rc, "%s; the way back without one: `arca %s %s` (%s)", msg, v->name,
			        t->cfg->name, v->summary ? v->summary : "");
			free(msg);
			break;
		}
	return rc;
}

static int restore_from(struct engine *e, struct engine_target *t, const char *snapshot_id,
                        const char *from, const struct ctx_option *options);

int job_restore(struct engine *e, struct engine_target *t, const char *snapshot_id,
                const char *from, const struct ctx_option *options)
{
	return name_fallback(t, restore_from(e, t, snapshot_id, from, options));
}

static int restore_from(struct engine *e, struct engine_target *t, const char *snapshot_id,
                        const char *from, const struct ctx_option *options)
{
	int rc = engine_open_target(e, t);
	if (rc != ARCA_OK)
		return rc;
	if (from) {
		for (size_t i = 0; i < t->n_dests; i++) {
			struct engine_dest *d = t->dests[i];
			if (!strcmp(d->cfg->name, from))
				return suggest_other_dests(
				    e, t, d, snapshot_id,
				    run_reader(e, t, d, CTX_RESTORE, snapshot_id, options));
		}
		return err_set(2, "target %s has no destination '%s' (its destinations: %s)",
		               t->cfg->name, from, cfg_get(t->cfg, "destinations"));
	}
	/* First destination that can serve the snapshot. Only failures to reach
	 * a repository fall through to the next; a failed restore does not. */
	for (size_t i = 0; i < t->n_dests; i++) {
		struct engine_dest *d = t->dests[i];
		rc = engine_open_repo(e, d);
		if (rc == ARCA_OK) {
			char id[65];
			rc = job_resolve_snapshot(d->repo, t->cfg->name, snapshot_id, id);
			if (rc == ARCA_OK)
				return suggest_other_dests(
				    e, t, d, id, run_reader(e, t, d, CTX_RESTORE, id, options));
		}
		if (i + 1 < t->n_dests)
			log_warn("destination %s cannot serve this restore (%s); trying %s",
			         d->cfg->name, err_msg(), t->dests[i + 1]->cfg->name);
	}
	return rc;
}

/* After verify passed for a target's latest snapshot in d: a driver that
 * keeps data outside snapshots (the postgres driver's archived WAL) checks
 * that the oldest snapshot, when there is an older one, can still use it,
 * through its verify_oldest op (ABI 1.1) with that snapshot open. */
static int verify_driver_hook(struct engine *e, struct engine_target *t, struct engine_dest *d,
                              const struct ctx_option *options)
{
	struct repo_snapshot *list;
	size_t n;
	const struct arca_target_ops *ops = t->drv->target;
	if (!ARCA_OPS_HAS(ops, verify_oldest))
		return ARCA_OK;
	int rc = repo_snapshots(d->repo, t->cfg->name, &list, &n);
	if (rc != ARCA_OK)
		return rc;
	char oldest[65];
	int older = n > 1;
	if (older)
		memcpy(oldest, list[0].id, sizeof oldest);
	repo_snapshots_free(list, n);
	if (!older)
		return ARCA_OK;
	if ((rc = repo_lock_reading(d->repo)) != ARCA_OK)
		return rc;
	struct arca_ctx ctx = {.kind = CTX_COMMAND,
	                       .e = e,
	                       .t = t,
	                       .options = options,
	                       .repos = &d->repo,
	                       .n_repos = 1,
	                       .snapshot_id = oldest};
	rc = repo_snap_open(d->repo, oldest, &ctx.reader);
	if (rc == ARCA_OK) {
		char *scope = xasprintf("target %s", t->cfg->name);
		log_set_scope(scope);
		err_clear();
		rc = ops->verify_oldest(t->inst, &ctx);
		log_set_scope(NULL);
		snap_close(ctx.reader);
		free(scope);
	}
	ctx_cleanup(&ctx);
	repo_unlock(d->repo);
	return rc;
}

int job_verify_target(struct engine *e, struct engine_target *t, const char *snapshot_id,
                      const struct ctx_option *options)
{
	if (!t->drv->target->verify)
		return ARCA_OK;
	int rc = engine_open_target(e, t);
	if (rc != ARCA_OK)
		return rc;
	int worst = ARCA_OK;
	for (size_t i = 0; i < t->n_dests; i++) {
		rc = run_reader(e, t, t->dests[i], CTX_VERIFY, snapshot_id, options);
		if (rc == ARCA_OK && !snapshot_id)
			rc = verify_driver_hook(e, t, t->dests[i], options);
		if (rc == ARCA_ERR_NOT_FOUND && !snapshot_id) {
			log_info("target %s has no snapshot in %s yet", t->cfg->name,
			         t->dests[i]->cfg->name);
			continue;
		}
		if (rc != ARCA_OK) {
			err_wrap(rc, "verify of target %s in destination %s", t->cfg->name,
			         t->dests[i]->cfg->name);
			err_print(rc);
			worst = rc;
		}
	}
	return worst;
}

/* Run op on target t with the repositories of all its destinations open. */
static int run_with_repos(struct engine *e, struct engine_target *t, enum ctx_kind kind,
                          const struct ctx_option *options, struct driver_op *op)
{
	int rc = engine_open_target(e, t);
	struct repo **repos = NULL;
	if (rc == ARCA_OK)
		rc = open_target_repos(e, t, &repos);
	if (rc != ARCA_OK)
		return rc;
	struct arca_ctx ctx = {.kind = kind,
	                       .e = e,
	                       .t = t,
	                       .repos = repos,
	                       .n_repos = t->n_dests,
	                       .options = options};
	rc = run_driver_op(&ctx, op);
	ctx_cleanup(&ctx);
	free(repos);
	return rc;
}

int job_check_target(struct engine *e, struct engine_target *t, const struct ctx_option *options)
{
	struct driver_op op = {0};
	return run_with_repos(e, t, CTX_CHECK, options, &op);
}

int job_health(struct engine *e, struct engine_target *t, const struct ctx_option *options)
{
	if (!ARCA_OPS_HAS(t->drv->target, health))
		return err_set(ARCA_ERR_UNSUPPORTED,
		               "driver %s of target %s cannot tell whether its store is serving "
		               "(it has no health op): check it by hand",
		               t->drv->name, t->cfg->name);
	int rc = engine_open_target(e, t);
	if (rc != ARCA_OK)
		return rc;
	/* no repository: the store is looked at, not the backups */
	struct arca_ctx ctx = {.kind = CTX_HEALTH, .e = e, .t = t, .options = options};
	struct driver_op op = {0};
	rc = run_driver_op(&ctx, &op);
	ctx_cleanup(&ctx);
	return rc;
}

/* ARCA_OK when t's driver has commands, such as verb. */
static int has_commands(struct engine_target *t, const char *verb)
{
	if (t->drv->target->command)
		return ARCA_OK;
	return err_set(ARCA_ERR_UNSUPPORTED, "driver %s of target %s has no '%s' command",
	               t->drv->name, t->cfg->name, verb);
}

int job_command(struct engine *e, struct engine_target *t, const char *verb, int argc, char **argv,
                const struct ctx_option *options)
{
	int rc = has_commands(t, verb);
	if (rc != ARCA_OK)
		return rc;
	struct driver_op op = {.verb = verb, .argc = argc, .argv = argv};
	return run_with_repos(e, t, CTX_COMMAND, options, &op);
}

int job_after_forget(struct engine *e, struct engine_target *t, struct engine_dest *d,
                     const char *snapshot_id)
{
	const struct arca_target_ops *ops = t->drv->target;
	if (!ARCA_OPS_HAS(ops, after_forget))
		return ARCA_OK; /* nothing kept outside snapshots */
	int rc = engine_open_target(e, t);
	if (rc != ARCA_OK)
		return rc;
	struct arca_ctx ctx = {.kind = CTX_COMMAND,
	                       .e = e,
	                       .t = t,
	                       .repos = &d->repo,
	                       .n_repos = 1,
	                       .snapshot_id = snapshot_id};
	rc = repo_snap_open(d->repo, snapshot_id, &ctx.reader);
	if (rc == ARCA_OK) {
		struct driver_op op = {.verb = "after_forget", .after_forget = 1};
		rc = run_driver_op(&ctx, &op);
		snap_close(ctx.reader);
	}
	ctx_cleanup(&ctx);
	return rc;
}
