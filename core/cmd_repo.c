/* cmd_repo.c — repository housekeeping: init, forget, prune, unlock, key. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"
#include "jobs.h"
#include "log.h"
#include "util.h"

json_t *snapshot_json(const struct repo_snapshot *s, const char *dest);

/* A verb without options of its own (the global ones are applied); the
 * arguments are then argv + optind. */
static int no_options(struct cli *cli, const char *verb, int argc, char **argv)
{
	static const struct option opts[] = {{NULL, 0, NULL, 0}};
	while (cli_getopt(cli, argc, argv, "", opts, NULL) != -1)
		return cli_usage_error(verb, "unknown option");
	return 0;
}

int cmd_init(struct cli *cli, int argc, char **argv)
{
	if (no_options(cli, "init", argc, argv))
		return 2;
	struct engine e = {0};
	struct engine_dest **dests;
	size_t n;
	int rc = cli_load_dests(cli, &e, "init", argc - optind, argv + optind, &dests, &n);
	if (rc != ARCA_OK)
		return rc;
	int worst = rc;
	for (size_t i = 0; rc == ARCA_OK && i < n; i++) {
		struct engine_dest *d = dests[i];
		struct repo_params p;
		char *secret = NULL;
		int r = engine_open_dest(&e, d);
		if (r == ARCA_OK)
			r = engine_repo_params(&e, d, &p, &secret);
		if (r == ARCA_OK) {
			struct repo_dest rd = {d->cfg->name, d->drv->dest, d->inst};
			r = repo_init(&rd, &p);
		}
		if (secret) {
			explicit_bzero(secret, strlen(secret));
			free(secret);
		}
		if (r != ARCA_OK) {
			err_wrap(r, "init of destination %s", d->cfg->name);
			err_print(r);
			worst = r;
			continue;
		}
		printf("created repository in destination %s (%s)\n", d->cfg->name,
		       p.encrypt ? "encrypted with AES-256-GCM; keep the passphrase safe, off this host"
				 : "NOT encrypted: encryption = none");
	}
	if (rc != ARCA_OK)
		err_print(rc);
	free(dests);
	engine_close(&e);
	return worst;
}

/* After forget: a driver that keeps data outside snapshots (the postgres
 * driver's archived WAL) drops what the oldest kept snapshot no longer
 * needs. Its "wal-prune" verb runs with that snapshot open for reading;
 * UNSUPPORTED (a driver without such data) means nothing to do. */
static int forget_driver_hook(struct engine *e, struct engine_target *t, struct engine_dest *d,
			      const char *oldest_kept)
{
	if (!t->drv->target->command)
		return ARCA_OK;
	int rc = engine_open_target(e, t);
	if (rc != ARCA_OK)
		return rc;
	struct arca_ctx ctx = {.kind = CTX_COMMAND, .e = e, .t = t, .repos = &d->repo,
			       .n_repos = 1, .snapshot_id = oldest_kept};
	rc = repo_snap_open(d->repo, oldest_kept, &ctx.reader);
	if (rc == ARCA_OK) {
		char *scope = xasprintf("target %s", t->cfg->name);
		log_set_scope(scope);
		err_clear();
		rc = t->drv->target->command(t->inst, &ctx, "wal-prune", 0, NULL);
		log_set_scope(NULL);
		snap_close(ctx.reader);
		free(scope);
	}
	ctx_cleanup(&ctx);
	return rc == ARCA_ERR_UNSUPPORTED ? ARCA_OK : rc;
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
			printf("%s %.12s %s %s%s%s\n", keep[i] ? "keep  " : "forget", list[i].id, tm,
			       t->cfg->name, why[i] ? "  # " : "", why[i] ? why[i] : "");
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
		printf("target %s in %s: %zu kept, %zu %s\n", t->cfg->name, d->cfg->name, n - n_drop,
		       n_drop, dry_run ? "would be forgotten (dry run)" : "forgotten");
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
			json_array_append_new(out, json_pack("{s:s,s:s,s:b}", "id", full, "destination",
							     d->cfg->name, "forgotten", !dry_run));
		else
			printf("snapshot %.12s %s destination %s\n", full,
			       dry_run ? "would be forgotten from (dry run)" : "forgotten from",
			       d->cfg->name);
	}
	if (!found && worst == ARCA_OK) {
		worst = err_set(ARCA_ERR_NOT_FOUND, "no destination holds a snapshot '%s'; see "
				"arca list", id);
		err_print(worst);
	}
	return worst;
}

int cmd_forget(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"dry-run", no_argument, NULL, 'n'},
					     {"snapshot", required_argument, NULL, 's'},
					     {NULL, 0, NULL, 0}};
	int c, dry_run = 0;
	const char *snapshot = NULL;
	while ((c = cli_getopt(cli, argc, argv, "ns:", opts, NULL)) != -1) {
		if (c == 'n')
			dry_run = 1;
		else if (c == 's')
			snapshot = optarg;
		else
			return cli_usage_error("forget", "unknown option");
	}
	struct engine e = {0};
	struct engine_target **targets;
	size_t n;
	int rc = cli_load_targets(cli, &e, argc - optind, argv + optind, &targets, &n);
	if (rc != ARCA_OK)
		return rc;
	json_t *out = json_array();
	int worst = ARCA_OK;
	if (snapshot) {
		worst = forget_by_id(cli, &e, targets, n, snapshot, dry_run, out);
		n = 0;   /* no retention pass */
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
			rc = engine_open_repo(&e, d);
			if (rc == ARCA_OK && !dry_run)
				rc = repo_lock(d->repo, 1);
			if (rc == ARCA_OK) {
				rc = forget_one(cli, &e, t, d, dry_run, out);
				if (!dry_run)
					repo_unlock(d->repo);
			}
			if (rc != ARCA_OK) {
				err_wrap(rc, "forget in %s for target %s", d->cfg->name, t->cfg->name);
				err_print(rc);
				worst = rc;
			}
		}
	}
	if (cli->json)
		cli_print_json(out);
	else
		json_decref(out);
	free(targets);
	engine_close(&e);
	return worst;
}

int cmd_prune(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"dry-run", no_argument, NULL, 'n'},
					     {"repack-threshold", required_argument, NULL, 't'},
					     {NULL, 0, NULL, 0}};
	int c, dry_run = 0;
	int64_t threshold = 20;
	while ((c = cli_getopt(cli, argc, argv, "n", opts, NULL)) != -1) {
		if (c == 'n')
			dry_run = 1;
		else if (c == 't') {
			if (parse_int64(optarg, &threshold) < 0 || threshold < 0 || threshold > 100)
				return cli_usage_error("prune", "--repack-threshold takes 0..100");
		} else
			return cli_usage_error("prune", "unknown option");
	}
	struct engine e = {0};
	struct engine_dest **dests;
	size_t n;
	int rc = cli_load_dests(cli, &e, "prune", argc - optind, argv + optind, &dests, &n);
	if (rc != ARCA_OK)
		return rc;
	int worst = rc;
	for (size_t i = 0; rc == ARCA_OK && i < n; i++) {
		struct engine_dest *d = dests[i];
		struct repo_prune_stats st = {0};
		int r = engine_open_repo(&e, d);
		if (r == ARCA_OK)
			r = repo_lock(d->repo, 1);
		if (r == ARCA_OK) {
			r = repo_prune(d->repo, (double)threshold / 100.0, dry_run, &st);
			repo_unlock(d->repo);
		}
		if (r != ARCA_OK) {
			err_wrap(r, "prune of destination %s", d->cfg->name);
			err_print(r);
			worst = r;
			continue;
		}
		char b[32];
		format_bytes(st.bytes_freed, b, sizeof b);
		if (cli->json)
			cli_print_json(json_pack("{s:s,s:b,s:I,s:I,s:I}", "destination", d->cfg->name,
						 "dry_run", dry_run, "packs_deleted",
						 (json_int_t)st.packs_deleted, "packs_repacked",
						 (json_int_t)st.packs_repacked, "bytes_freed",
						 (json_int_t)st.bytes_freed));
		else
			printf("destination %s: %s%llu packs deleted, %llu repacked, %s freed\n",
			       d->cfg->name, dry_run ? "(dry run) " : "",
			       (unsigned long long)st.packs_deleted,
			       (unsigned long long)st.packs_repacked, b);
	}
	if (rc != ARCA_OK)
		err_print(rc);
	free(dests);
	engine_close(&e);
	return worst;
}

/* Each lock `arca unlock` removes, on stdout. */
static void print_unlocked(void *arg, const char *what)
{
	printf("destination %s: removed %s\n", (const char *)arg, what);
}

int cmd_unlock(struct cli *cli, int argc, char **argv)
{
	if (no_options(cli, "unlock", argc, argv))
		return 2;
	struct engine e = {0};
	struct engine_dest **dests;
	size_t n;
	int rc = cli_load_dests(cli, &e, "unlock", argc - optind, argv + optind, &dests, &n);
	if (rc != ARCA_OK)
		return rc;
	int worst = rc;
	for (size_t i = 0; rc == ARCA_OK && i < n; i++) {
		const char *name = dests[i]->cfg->name;
		int stale = 0, invalid = 0;
		int r = engine_open_repo(&e, dests[i]);
		if (r == ARCA_OK)
			r = repo_unlock_stale(dests[i]->repo, print_unlocked, (void *)name, &stale,
					      &invalid);
		if (r != ARCA_OK) {
			err_print(r);
			worst = r;
			continue;
		}
		printf("destination %s: %d stale lock%s removed", name, stale, stale == 1 ? "" : "s");
		if (invalid)
			printf(", and %d invalid lock%s (unreadable, oversized or absurd)", invalid,
			       invalid == 1 ? "" : "s");
		printf("\n");
	}
	if (rc != ARCA_OK)
		err_print(rc);
	free(dests);
	engine_close(&e);
	return worst;
}

struct repair_report {
	const char *dest;
	json_t *problems; /* --json: collected here instead of printed */
};

static void report_repair_problem(void *arg, const char *problem)
{
	struct repair_report *r = arg;
	if (r->problems)
		json_array_append_new(r->problems, json_string(problem));
	else
		fprintf(stderr, "arca: destination %s: %s\n", r->dest, problem);
}

/* repair packs | snapshots [--forget]: one destination at a time. */
static int repair_data(struct cli *cli, int argc, char **argv, int forget)
{
	int packs = !strcmp(argv[1], "packs"), first = 2;
	struct engine e = {0};
	struct engine_dest **dests;
	size_t n;
	int rc = cli_load_dests(cli, &e, "repair", argc - first, argv + first, &dests, &n);
	if (rc != ARCA_OK)
		return rc;
	int worst = ARCA_OK;
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++) {
		struct engine_dest *d = dests[i];
		struct repair_report rep = {d->cfg->name, cli->json ? json_array() : NULL};
		struct repo_repair_stats st;
		memset(&st, 0, sizeof st);
		int r = engine_open_repo(&e, d);
		if (r == ARCA_OK)
			r = packs ? repo_repair_packs(d->repo, report_repair_problem, &rep, &st)
				  : repo_repair_snapshots(d->repo, forget, report_repair_problem, &rep,
							  &st);
		if (cli->json) {
			json_t *o = json_pack("{s:s,s:b,s:o}", "destination", d->cfg->name, "ok",
					      r == ARCA_OK, "findings", rep.problems);
			if (packs)
				json_object_update_new(o, json_pack("{s:I,s:I,s:I}", "packs_read",
					(json_int_t)st.packs_read, "chunks_dropped",
					(json_int_t)st.chunks_dropped, "snapshots_damaged",
					(json_int_t)st.snapshots_damaged));
			else
				json_object_update_new(o, json_pack("{s:I,s:I,s:I}", "put_back",
					(json_int_t)st.snapshots_restored, "repaired",
					(json_int_t)st.snapshots_repaired, "unrepairable",
					(json_int_t)st.snapshots_unrepairable));
			if (r != ARCA_OK)
				json_object_set_new(o, "error", json_string(err_msg()));
			json_array_append_new(out, o);
		} else if (r == ARCA_OK && packs) {
			printf("destination %s: %llu packs read, %llu damaged chunks dropped from the "
			       "index, %llu snapshots lost data%s\n", d->cfg->name,
			       (unsigned long long)st.packs_read, (unsigned long long)st.chunks_dropped,
			       (unsigned long long)st.snapshots_damaged,
			       st.snapshots_damaged ? " (run arca repair snapshots)" : "");
		} else if (r == ARCA_OK) {
			printf("destination %s: %llu snapshots put back from the cache, %llu rewritten "
			       "without what was lost, %llu beyond repair\n", d->cfg->name,
			       (unsigned long long)st.snapshots_restored,
			       (unsigned long long)st.snapshots_repaired,
			       (unsigned long long)st.snapshots_unrepairable);
		}
		if (r != ARCA_OK) {
			if (!cli->json)
				err_print(r);
			worst = r;
		} else if (!packs && st.snapshots_unrepairable) {
			worst = ARCA_ERR_CORRUPT;
		}
	}
	if (cli->json)
		cli_print_json(json_pack("{s:b,s:o}", "ok", worst == ARCA_OK, "destinations", out));
	else
		json_decref(out);
	free(dests);
	engine_close(&e);
	return worst;
}

int cmd_repair(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"forget", no_argument, NULL, 'F'},
					     {NULL, 0, NULL, 0}};
	int c, forget = 0;
	while ((c = cli_getopt(cli, argc, argv, "", opts, NULL)) != -1) {
		if (c == 'F')
			forget = 1;
		else
			return cli_usage_error("repair", "unknown option");
	}
	/* the arguments follow argv[0] again, as if there had been no options */
	argc -= optind - 1, argv += optind - 1;
	if (argc >= 2 && (!strcmp(argv[1], "packs") || !strcmp(argv[1], "snapshots")))
		return repair_data(cli, argc, argv, forget);
	if (forget)
		return cli_usage_error("repair", "--forget goes with arca repair snapshots");
	if (argc < 2 || strcmp(argv[1], "index"))
		return cli_usage_error("repair", "say what to repair: arca repair index|packs|"
				       "snapshots [DESTINATION...]");
	struct engine e = {0};
	struct engine_dest **dests;
	size_t n;
	int rc = cli_load_dests(cli, &e, "repair", argc - 2, argv + 2, &dests, &n);
	if (rc != ARCA_OK)
		return rc;
	int worst = ARCA_OK;
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++) {
		struct engine_dest *d = dests[i];
		struct repair_report rep = {d->cfg->name, cli->json ? json_array() : NULL};
		size_t packs = 0;
		int r = engine_open_repo(&e, d);
		if (r == ARCA_OK)
			r = repo_rebuild_index(d->repo, report_repair_problem, &rep, &packs);
		int rebuilt = r == ARCA_OK || r == ARCA_ERR_CORRUPT;
		if (cli->json) {
			json_t *o = json_pack("{s:s,s:b,s:o}", "destination", d->cfg->name, "rebuilt",
					      rebuilt, "damaged_packs", rep.problems);
			if (rebuilt)
				json_object_set_new(o, "packs", json_integer((json_int_t)packs));
			if (r != ARCA_OK && !rebuilt)
				json_object_set_new(o, "error", json_string(err_msg()));
			json_array_append_new(out, o);
		} else if (rebuilt) {
			printf("destination %s: index rebuilt from %zu pack%s%s\n", d->cfg->name,
			       packs, packs == 1 ? "" : "s",
			       r ? " (damaged packs left out: see above; run arca verify)" : "");
		}
		if (r != ARCA_OK) {
			if (!rebuilt && !cli->json)
				err_print(r);
			worst = r;
		}
	}
	if (cli->json)
		cli_print_json(json_pack("{s:b,s:o}", "ok", worst == ARCA_OK, "destinations", out));
	else
		json_decref(out);
	free(dests);
	engine_close(&e);
	return worst;
}

static void print_key(void *arg, const char *id, const char *host, int64_t created, int current)
{
	(void)arg;
	char t[32];
	format_time_utc(created, t, sizeof t);
	printf("%s %-12.12s  %s  %s\n", current ? "*" : " ", id, t, host ? host : "");
}

static void remember_current(void *arg, const char *id, const char *host, int64_t created,
			     int current)
{
	(void)host, (void)created;
	if (current)
		snprintf(arg, 65, "%s", id);
}

/* The new passphrase for `key add|passwd`: ARCA_NEW_PASSPHRASE, or the file
 * named by ARCA_NEW_PASSPHRASE_FILE (never argv). The variable is removed
 * once read, so no child inherits it. */
static char *new_passphrase(void)
{
	const char *v = getenv("ARCA_NEW_PASSPHRASE");
	if (v && *v) {
		char *np = xstrdup(v);
		unsetenv("ARCA_NEW_PASSPHRASE");
		return np;
	}
	const char *f = getenv("ARCA_NEW_PASSPHRASE_FILE");
	char *data;
	if (f && read_file(f, &data, NULL) == 0) {
		data[strcspn(data, "\r\n")] = 0;
		return data;
	}
	return NULL;
}

int cmd_key(struct cli *cli, int argc, char **argv)
{
	if (no_options(cli, "key", argc, argv))
		return 2;
	/* the arguments follow argv[0] again, as if there had been no options */
	argc -= optind - 1, argv += optind - 1;
	if (argc < 2)
		return cli_usage_error("key", "say list, add, remove ID, passwd or generate");
	const char *sub = argv[1];
	if (!strcmp(sub, "generate")) {
		/* Needs no config: prints a fresh key for passphrase_file. */
		if (argc > 2)
			return cli_usage_error("key", "generate takes no arguments");
		char key[96];
		int rc = repo_key_generate(key, sizeof key);
		if (rc != ARCA_OK) {
			err_print(rc);
			return rc;
		}
		printf("%s\n", key);
		explicit_bzero(key, sizeof key);
		return fflush(stdout) == 0 ? ARCA_OK : ARCA_ERR_IO;
	}
	int want_id = !strcmp(sub, "remove");
	if (strcmp(sub, "list") && strcmp(sub, "add") && strcmp(sub, "remove") &&
	    strcmp(sub, "passwd"))
		return cli_usage_error("key", "unknown subcommand '%s'", sub);
	if (want_id && argc < 3)
		return cli_usage_error("key", "remove needs the key ID (see arca key list)");
	int first_dest = want_id ? 3 : 2;
	/* taken before the drivers are loaded, which could start children */
	char *np = NULL;
	if (!strcmp(sub, "add") || !strcmp(sub, "passwd")) {
		np = new_passphrase();
		if (!np) {
			err_set(2, "set ARCA_NEW_PASSPHRASE or ARCA_NEW_PASSPHRASE_FILE to the new "
				   "passphrase (it is never read from the command line)");
			return err_print(2);
		}
	}
	struct engine e = {0};
	struct engine_dest **dests;
	size_t n;
	int rc = cli_load_dests(cli, &e, "key", argc - first_dest, argv + first_dest, &dests, &n);
	if (rc != ARCA_OK) {
		if (np) {
			explicit_bzero(np, strlen(np));
			free(np);
		}
		return rc;
	}
	for (size_t i = 0; rc == ARCA_OK && i < n; i++) {
		struct engine_dest *d = dests[i];
		rc = engine_open_repo(&e, d);
		if (rc != ARCA_OK)
			break;
		printf("destination %s:\n", d->cfg->name);
		if (!strcmp(sub, "list")) {
			rc = repo_key_list(d->repo, print_key, NULL);
		} else if (!strcmp(sub, "remove")) {
			rc = repo_key_remove(d->repo, argv[2]);
		} else {
			char id[65];
			rc = repo_key_add(d->repo, np, id);
			if (rc == ARCA_OK)
				printf("  added key %.12s\n", id);
			if (rc == ARCA_OK && !strcmp(sub, "passwd")) {
				/* then remove the key that opened the repository */
				char cur[65] = "";
				rc = repo_key_list(d->repo, remember_current, cur);
				if (rc == ARCA_OK && cur[0] && strcmp(cur, id))
					rc = repo_key_remove(d->repo, cur);
				if (rc == ARCA_OK)
					printf("  removed key %.12s: use the new passphrase from now on\n",
					       cur);
			}
		}
	}
	if (np) {
		explicit_bzero(np, strlen(np));
		free(np);
	}
	if (rc != ARCA_OK)
		err_print(rc);
	free(dests);
	engine_close(&e);
	return rc;
}
