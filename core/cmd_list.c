/* cmd_list.c — `arca list [TARGET...] [--json]`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"
#include "jobs.h"
#include "log.h"
#include "util.h"

static int wanted(const char *target, int argc, char **argv)
{
	if (argc == 0)
		return 1;
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], target))
			return 1;
	return 0;
}

json_t *snapshot_json(const struct repo_snapshot *s, const char *dest);
json_t *snapshot_json(const struct repo_snapshot *s, const char *dest)
{
	char t[32];
	format_time_utc(s->time, t, sizeof t);
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(s->id));
	json_object_set_new(o, "target", json_string(s->target));
	json_object_set_new(o, "driver", json_string(s->driver));
	json_object_set_new(o, "host", json_string(s->host ? s->host : ""));
	json_object_set_new(o, "time", json_string(t));
	json_object_set_new(o, "epoch", json_integer(s->time));
	json_object_set_new(o, "items", json_integer((json_int_t)s->items));
	json_object_set_new(o, "bytes", json_integer((json_int_t)s->bytes));
	json_object_set_new(o, "new_bytes", json_integer((json_int_t)s->new_bytes));
	json_object_set_new(o, "recovery_point",
	                    json_string(s->recovery_point ? s->recovery_point : ""));
	json_object_set_new(o, "destination", json_string(dest));
	if (s->skipped) {
		json_t *names = json_array();
		for (size_t i = 0; i < s->n_skipped_items; i++)
			json_array_append_new(names, json_string(s->skipped_items[i]));
		json_object_set_new(
		    o, "partial",
		    json_pack("{s:I,s:o}", "skipped", (json_int_t)s->skipped, "items", names));
	}
	if (s->n_notes) {
		json_t *notes = json_object();
		for (size_t i = 0; i < s->n_notes; i++)
			json_object_set_new(notes, s->note_keys[i], json_string(s->note_values[i]));
		json_object_set_new(o, "notes", notes);
	}
	return o;
}

/* The names are the driver's: a control character must not reach the
 * terminal as itself. */
static void print_name(const char *name)
{
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			printf("\\x%02x", *p);
		else
			putchar(*p);
	}
}

/* Under a partial snapshot's row: how many items it lacks, and which. */
#define LIST_NAMES_SHOWN 10
static void print_partial(const struct repo_snapshot *s)
{
	printf("%14spartial: %llu item%s left out", "", (unsigned long long)s->skipped,
	       s->skipped == 1 ? "" : "s");
	size_t shown =
	    s->n_skipped_items < LIST_NAMES_SHOWN ? s->n_skipped_items : LIST_NAMES_SHOWN;
	for (size_t i = 0; i < shown; i++) {
		printf("%s", i ? ", " : ": ");
		print_name(s->skipped_items[i]);
	}
	if (shown && s->skipped > shown)
		printf(", and %llu more%s", (unsigned long long)(s->skipped - shown),
		       s->n_skipped_items > shown ? " (--json names up to 100)" : "");
	printf("\n");
}

static void warn_missing(void *arg, const char *problem)
{
	(void)arg;
	log_warn("%s", problem);
}

int cmd_list(struct cli *cli, int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--items"))
			return cmd_list_items(cli, argc, argv); /* cmd_list_items.c */
	/* --json is a global option */
	struct cli_targets ct;
	int rc = cli_targets_open(cli, "list", NULL, NULL, 0, argc, argv, &ct);
	if (rc != ARCA_OK)
		return rc;
	argc -= optind, argv += optind;
	struct engine *e = &ct.e;
	struct engine_target **targets = ct.t;
	size_t nt = ct.n;
	json_t *out = json_array();
	int worst = ARCA_OK, header = 0;
	for (size_t i = 0; i < e->n_dests; i++) {
		struct engine_dest *d = &e->dests[i];
		if (!targets_use_dest(targets, nt, d))
			continue;
		rc = engine_open_repo(e, d);
		struct repo_snapshot *list = NULL;
		size_t n = 0;
		if (rc == ARCA_OK)
			rc = repo_snapshots(d->repo, NULL, &list, &n);
		if (rc != ARCA_OK) {
			err_print(rc);
			worst = rc;
			continue;
		}
		/* A warning, not a failure: arca verify fails on it. */
		size_t gone = 0;
		(void)repo_missing_snapshots(d->repo, argc == 1 ? argv[0] : NULL, warn_missing,
		                             NULL, &gone);
		for (size_t j = 0; j < n; j++) {
			if (!wanted(list[j].target, argc, argv))
				continue;
			if (cli->json) {
				json_array_append_new(out, snapshot_json(&list[j], d->cfg->name));
				continue;
			}
			if (!header++)
				printf("%-12s  %-20s  %-16s  %8s  %10s  %10s  %s\n", "ID",
				       "TIME (UTC)", "TARGET", "ITEMS", "SIZE", "NEW",
				       "DESTINATION");
			char t[32], b[32], nb[32];
			format_time_utc(list[j].time, t, sizeof t);
			format_bytes(list[j].bytes, b, sizeof b);
			format_bytes(list[j].new_bytes, nb, sizeof nb);
			printf("%-12.12s  %-20s  %-16s  %8llu  %10s  %10s  %s%s\n", list[j].id, t,
			       list[j].target, (unsigned long long)list[j].items, b, nb,
			       d->cfg->name, list[j].skipped ? "  PARTIAL" : "");
			if (list[j].skipped)
				print_partial(&list[j]);
			for (size_t k = 0; k < list[j].n_notes; k++) {
				printf("%14s%s: ", "", list[j].note_keys[k]);
				print_name(list[j].note_values[k]);
				printf("\n");
			}
		}
		repo_snapshots_free(list, n);
	}
	if (cli->json)
		cli_print_json(out);
	else {
		json_decref(out);
		if (!header && worst == ARCA_OK)
			printf("no snapshots yet (run `arca snapshot`)\n");
	}
	cli_targets_close(&ct);
	return worst;
}
