/* jobs.c — snapshot, restore, verify, check and driver commands for one
 * target: open what is needed, lock, run the driver in a ctx, report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jobs.h"
#include "log.h"
#include "util.h"

static char *scope_for(struct engine_target *t)
{
	return xasprintf("target %s", t->cfg->name);
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
		 struct snapshot_result *res)
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

	struct arca_ctx ctx = {.kind = CTX_SNAPSHOT, .e = e, .t = t, .repos = repos,
			       .n_repos = t->n_dests};
	ctx.writers = xcalloc(t->n_dests, sizeof *ctx.writers);
	for (size_t i = 0; i < t->n_dests && rc == ARCA_OK; i++) {
		rc = repo_snap_begin(repos[i], t->cfg->name, t->drv->name, recovery_point,
				     &ctx.writers[i]);
		if (rc == ARCA_OK)
			ctx.n_writers++;
	}
	char *scope = scope_for(t);
	char *label = xasprintf("snapshot %s", t->cfg->name);
	if (rc == ARCA_OK) {
		log_set_scope(scope);
		ctx.progress = progress_start(label);
		err_clear();
		rc = t->drv->target->snapshot(t->inst, &ctx);
		if (rc == ARCA_OK && ctx.in_item)
			rc = err_set(ARCA_ERR_INTERNAL, "driver %s bug: snapshot returned inside an item",
				     t->drv->name);
		if (rc == ARCA_OK && arca_cancel_requested)
			rc = err_set(ARCA_ERR_CANCELLED, "interrupted");
		res->seconds = progress_finish(ctx.progress, &res->bytes, &res->items);
		log_set_scope(NULL);
	}
	char *recorded = NULL;   /* destinations that committed before a failure */
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
		}
		res->new_bytes += meta.new_bytes;
		repo_snapshot_clear(&meta);
	}
	ctx_cleanup(&ctx);
	unlock_all(repos, t->n_dests);
	free(ctx.writers);
	free(repos);
	free(scope);
	free(label);
	if (rc != ARCA_OK && recorded) {
		/* not "nothing was recorded": the destinations before the failed
		 * one hold a complete snapshot of this run */
		err_wrap(rc, "snapshot of %s failed; it was recorded in destination %s only, the "
			 "others hold no snapshot of this run", t->cfg->name, recorded);
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
		return err_set(ARCA_ERR_NOT_FOUND, "no snapshot %s%sof target %s (see `arca list %s`)",
			       id ? id : "", id ? " " : "", target, target);
	if (matches > 1)
		return err_set(2, "snapshot id prefix '%s' is ambiguous: give more characters", id);
	return ARCA_OK;
}

/* Run a reading operation (restore or verify) of one snapshot. */
static int run_reader(struct engine *e, struct engine_target *t, struct engine_dest *d,
		      enum ctx_kind kind, const char *snapshot_id,
		      const struct ctx_option *options)
{
	int rc = engine_open_repo(e, d);
	char id[65];
	if (rc == ARCA_OK)
		rc = job_resolve_snapshot(d->repo, t->cfg->name, snapshot_id, id);
	if (rc == ARCA_OK)
		rc = repo_lock(d->repo, 0);
	if (rc != ARCA_OK)
		return rc;
	struct arca_ctx ctx = {.kind = kind, .e = e, .t = t, .options = options,
			       .repos = &d->repo, .n_repos = 1};
	rc = repo_snap_open(d->repo, id, &ctx.reader);
	if (rc == ARCA_OK) {
		char *scope = scope_for(t);
		char *label = xasprintf("%s %s", kind == CTX_RESTORE ? "restore" : "verify",
					t->cfg->name);
		log_set_scope(scope);
		log_info("%s snapshot %.12s from destination %s",
			 kind == CTX_RESTORE ? "restoring" : "verifying", id, d->cfg->name);
		ctx.progress = progress_start(label);
		err_clear();
		if (kind == CTX_RESTORE)
			rc = t->drv->target->restore(t->inst, &ctx);
		else
			rc = t->drv->target->verify(t->inst, &ctx);
		uint64_t bytes, items;
		double secs = progress_finish(ctx.progress, &bytes, &items);
		if (rc == ARCA_OK) {
			char b[32];
			format_bytes(bytes, b, sizeof b);
			log_info("%s of snapshot %.12s done: %llu items, %s in %.1f s",
				 kind == CTX_RESTORE ? "restore" : "verify", id,
				 (unsigned long long)items, b, secs);
		}
		log_set_scope(NULL);
		snap_close(ctx.reader);
		free(scope);
		free(label);
	}
	ctx_cleanup(&ctx);
	repo_unlock(d->repo);
	return rc;
}

int job_restore(struct engine *e, struct engine_target *t, const char *snapshot_id,
		const char *from, const struct ctx_option *options)
{
	int rc = engine_open_target(e, t);
	if (rc != ARCA_OK)
		return rc;
	if (from) {
		for (size_t i = 0; i < t->n_dests; i++)
			if (!strcmp(t->dests[i]->cfg->name, from))
				return run_reader(e, t, t->dests[i], CTX_RESTORE, snapshot_id, options);
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
				return run_reader(e, t, d, CTX_RESTORE, id, options);
		}
		if (i + 1 < t->n_dests)
			log_warn("destination %s cannot serve this restore (%s); trying %s",
				 d->cfg->name, err_msg(), t->dests[i + 1]->cfg->name);
	}
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

int job_check_target(struct engine *e, struct engine_target *t)
{
	int rc = engine_open_target(e, t);
	if (rc != ARCA_OK)
		return rc;
	struct repo **repos = NULL;
	rc = open_target_repos(e, t, &repos);
	if (rc != ARCA_OK)
		return rc;
	struct arca_ctx ctx = {.kind = CTX_CHECK, .e = e, .t = t, .repos = repos,
			       .n_repos = t->n_dests};
	char *scope = scope_for(t);
	log_set_scope(scope);
	err_clear();
	rc = t->drv->target->check ? t->drv->target->check(t->inst, &ctx) : ARCA_OK;
	log_set_scope(NULL);
	ctx_cleanup(&ctx);
	free(scope);
	free(repos);
	return rc;
}

int job_command(struct engine *e, struct engine_target *t, const char *verb, int argc,
		char **argv, const struct ctx_option *options)
{
	if (!t->drv->target->command)
		return err_set(ARCA_ERR_UNSUPPORTED, "driver %s of target %s has no '%s' command",
			       t->drv->name, t->cfg->name, verb);
	int rc = engine_open_target(e, t);
	struct repo **repos = NULL;
	if (rc == ARCA_OK)
		rc = open_target_repos(e, t, &repos);
	if (rc != ARCA_OK)
		return rc;
	struct arca_ctx ctx = {.kind = CTX_COMMAND, .e = e, .t = t, .repos = repos,
			       .n_repos = t->n_dests, .options = options};
	char *scope = scope_for(t);
	log_set_scope(scope);
	err_clear();
	rc = t->drv->target->command(t->inst, &ctx, verb, argc, argv);
	log_set_scope(NULL);
	ctx_cleanup(&ctx);
	free(scope);
	free(repos);
	return rc;
}
