/* cmd_forget.c — `arca forget [TARGET...] [--dry-run] [--snapshot ID]`:
 * apply the retention policies, or remove one snapshot. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <jansson.h>
#include "cli.h"
#include "jobs.h"
#include "log.h"
#include "util.h"

json_t *snapshot_json(const struct repo_snapshot *s, const char *dest);

/* After forget: a driver that keeps data outside snapshots (the postgres
 * driver's archived WAL) drops what the oldest kept snapshot no longer
 * needs, through its after_forget op (ABI 1.1), with that snapshot open. */
static int forget_driver_hook(struct engine *e, struct engine_target *t, struct engine_dest *d,
                              const char *oldest_kept)
{
	return job_after_forget(e, t, d, oldest_kept);
}

/* forget: per target and destination, apply the retention policy. */
static int forget_one(struct cli *cli, struct engine *e, struct engine_target *t,
                      struct engine_dest *d, int dry_run, json_t *out)
{
	struct repo_snapshot *list;
	size_t n;
	int rc = repo_snapshots(d->repo, t->cfg->name, &list, &n);
	if (rc != ARCA_OK)
		return rc;
	const char *policy = cfg_get(t->cfg, "retention");
	unsigned char *keep = xcalloc(n + 1, 1);
	char **why = xcalloc(n + 1, sizeof *why);
	rc = retention_select(policy, list, n, now_epoch(), keep, why);
	const char **drop = xcalloc(n + 1, sizeof *drop);
	size_t n_drop = 0;
	for (size_t i = 0; rc == ARCA_OK && i < n; i++) {
		char tm[32];
		format_time_utc(list[i].time, tm, sizeof tm);
		if (cli->json) {
			json_t *o = snapshot_json(&list[i], d->cfg->name);
			json_object_set_new(o, "keep", json_boolean(keep[i]));
			json_object_set_new(o, "reason", json_string(why[i] ? why[i] : ""));
			json_array_append_new(out, o);
		} else {
			printf("%s %.12s %s %s%s%s\n", keep[i] ? "keep  " : "forget", list[i].id,
			       tm, t->cfg->name, why[i] ? "  # " : "", why[i] ? why[i] : "");
		}
		if (!keep[i])
			drop[n_drop++] = list[i].id;
	}
	if (rc == ARCA_OK && !dry_run && n_drop)
		rc = repo_forget(d->repo, drop, n_drop);
	for (size_t i = 0; rc == ARCA_OK && !dry_run && i < n; i++) {
		if (keep[i]) {
			rc = forget_driver_hook(e, t, d, list[i].id);
			break;
		}
	}
	if (rc == ARCA_OK && !cli->json)
		printf("target %s in %s: %zu kept, %zu %s\n", t->cfg->name, d->cfg->name,
		       n - n_drop, n_drop, dry_run ? "would be forgotten (dry run)" : "forgotten");
	for (size_t i = 0; i < n; i++)
		free(why[i]);
	free(why);
	free(keep);
	free(drop);
	repo_snapshots_free(list, n);
	return rc;
}

/* forget --snapshot ID: remove that snapshot, readable or not, from every
 * destination of the named targets (all) that holds it. */
static int forget_by_id(struct cli *cli, struct engine *e, struct engine_target **targets,
                        size_t nt, const char *id, int dry_run, json_t *out)
{
	int found = 0, worst = ARCA_OK;
	for (size_t i = 0; i < e->n_dests; i++) {
		struct engine_dest *d = &e->dests[i];
		if (!targets_use_dest(targets, nt, d))
			continue;
		int rc = engine_open_repo(e, d);
		char full[65];
		if (rc == ARCA_OK)
			rc = repo_resolve_snapshot(d->repo, id, full);
		if (rc == ARCA_ERR_NOT_FOUND)
			continue;
		if (rc == ARCA_OK && !dry_run)
			rc = repo_lock(d->repo, 1);
		if (rc == ARCA_OK) {
			const char *ids[] = {full};
			if (!dry_run)
				rc = repo_forget(d->repo, ids, 1);
			if (!dry_run)
				repo_unlock(d->repo);
		}
		if (rc != ARCA_OK) {
			err_wrap(rc, "forget of snapshot %s in %s", id, d->cfg->name);
			err_print(rc);
			worst = rc;
			continue;
		}
		found++;
		if (cli->json)
			json_array_append_new(out,
			                      json_pack("{s:s,s:s,s:b}", "id", full, "destination",
			                                d->cfg->name, "forgotten", !dry_run));
		else
			printf("snapshot %.12s %s destination %s\n", full,
			       dry_run ? "would be forgotten from (dry run)" : "forgotten from",
			       d->cfg->name);
	}
	if (!found && worst == ARCA_OK) {
		worst = err_set(ARCA_ERR_NOT_FOUND,
		                "no destination holds a snapshot '%s'; see "
		                "arca list",
		                id);
		err_print(worst);
	}
	return worst;
}

int cmd_forget(struct cli *cli, int argc, char **argv)
{
	static const struct option own[] = {{"dry-run", no_argument, NULL, 'n'},
	                                    {"snapshot", required_argument, NULL, 's'},
	                                    {NULL, 0, NULL, 0}};
	struct cli_targets ct;
	int rc = cli_targets_open(cli, "forget", NULL, own, 0, argc, argv, &ct);
	if (rc != ARCA_OK)
		return rc;
	int dry_run = cli_option(&ct, "dry-run") != NULL;
	const char *snapshot = cli_option(&ct, "snapshot");
	struct engine_target **targets = ct.t;
	size_t n = ct.n;
	json_t *out = json_array();
	int worst = ARCA_OK;
	if (snapshot) {
		worst = forget_by_id(cli, &ct.e, targets, n, snapshot, dry_run, out);
		n = 0; /* no retention pass */
	}
	for (size_t i = 0; i < n; i++) {
		struct engine_target *t = targets[i];
		if (!cfg_get(t->cfg, "retention")) {
			if (!cli->json)
				printf("target %s has no retention policy: keeping everything\n",
				       t->cfg->name);
			continue;
		}
		for (size_t k = 0; k < t->n_dests; k++) {
			struct engine_dest *d = t->dests[k];
			rc = engine_open_repo(&ct.e, d);
			if (rc == ARCA_OK && !dry_run)
				rc = repo_lock(d->repo, 1);
			if (rc == ARCA_OK) {
				rc = forget_one(cli, &ct.e, t, d, dry_run, out);
				if (!dry_run)
					repo_unlock(d->repo);
			}
			if (rc != ARCA_OK) {
				err_wrap(rc, "forget in %s for target %s", d->cfg->name,
				         t->cfg->name);
				err_print(rc);
				worst = rc;
			}
		}
	}
	if (cli->json)
		cli_print_json(out);
	else
		json_decref(out);
	cli_targets_close(&ct);
	return worst;
}
