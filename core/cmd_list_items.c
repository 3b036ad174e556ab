/* cmd_list_items.c — `arca list TARGET --items [--snapshot ID] [--from DEST]`:
 * the items of one snapshot, every name escaped (FORMAT.md, "Names shown to
 * people"), so an S3 key with a newline or an escape sequence is shown, not
 * acted on, and two names never look alike. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"
#include "config.h"
#include "jobs.h"
#include "log.h"
#include "util.h"

static const char *const type_words[] = {"stream", "file",    "dir",      "symlink",
                                         "fifo",   "chardev", "blockdev", "tombstone"};

static const char *type_word(enum arca_item_type t)
{
	return (unsigned)t < ARRAY_LEN(type_words) ? type_words[t] : "?";
}

static void set_escaped(json_t *o, const char *key, const char *value)
{
	if (!value)
		return;
	char *e = name_escape(value);
	json_object_set_new(o, key, json_string(e));
	free(e);
}

static json_t *item_json(const struct arca_item_info *i)
{
	json_t *o = json_object();
	set_escaped(o, "name", i->name);
	json_object_set_new(o, "key", json_boolean(i->flags & ARCA_ITEM_KEY_NAME));
	json_object_set_new(o, "type", json_string(type_word(i->type)));
	json_object_set_new(o, "size", json_integer((json_int_t)i->size));
	json_object_set_new(o, "mode", json_integer(i->mode));
	json_object_set_new(o, "uid", json_integer(i->uid));
	json_object_set_new(o, "gid", json_integer(i->gid));
	json_object_set_new(o, "mtime", json_integer(i->mtime_sec));
	json_object_set_new(o, "mtime_nsec", json_integer(i->mtime_nsec));
	if (i->type == ARCA_ITEM_SYMLINK)
		set_escaped(o, "link", i->link_target);
	set_escaped(o, "meta", i->meta);
	set_escaped(o, "checksum", i->checksum);
	return o;
}

static void item_line(const struct arca_item_info *i, int meta)
{
	char t[32], b[32];
	format_time_utc(i->mtime_sec, t, sizeof t);
	format_bytes(i->size, b, sizeof b);
	char *n = name_escape(i->name);
	printf("%-9s  %10s  %-20s  %s\n", type_word(i->type), b, t, n);
	free(n);
	/* what the driver recorded about it (a dump's format, the replication
	 * offset of an RDB), on its own line; --json has it whole */
	if (meta && i->meta && *i->meta) {
		char *m = name_escape(i->meta);
		printf("%47s%.*s%s\n", "", 200, m, strlen(m) > 200 ? "..." : "");
		free(m);
	}
}

/* The items of snapshot `id` (or the latest) of t in destination d. */
static int list_from(struct cli *cli, struct engine *e, struct engine_target *t,
                     struct engine_dest *d, const char *id, int meta)
{
	char full[65];
	struct snap_reader *rd;
	int rc = engine_open_repo(e, d);
	if (rc == ARCA_OK)
		rc = job_resolve_snapshot(d->repo, t->cfg->name, id, full);
	if (rc == ARCA_OK)
		rc = repo_snap_open(d->repo, full, &rd);
	if (rc != ARCA_OK)
		return rc;
	json_t *out = cli->json ? json_array() : NULL;
	if (!out)
		printf("%-9s  %10s  %-20s  %s\n", "TYPE", "SIZE", "MTIME (UTC)", "NAME");
	struct arca_item_info info;
	while ((rc = snap_next(rd, &info)) == ARCA_OK) {
		if (out)
			json_array_append_new(out, item_json(&info));
		else
			item_line(&info, meta);
	}
	snap_close(rd);
	if (rc != ARCA_ERR_NOT_FOUND) {
		json_decref(out);
		return rc;
	}
	if (out)
		cli_print_json(out);
	return ARCA_OK;
}

int cmd_list_items(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"items", no_argument, NULL, 'I'},
	    {"snapshot", required_argument, NULL, 's'},
	    {"from", required_argument, NULL, 'f'},
	    {"meta", no_argument, NULL, 'M'},
	    {NULL, 0, NULL, 0},
	};
	const char *snapshot = NULL, *from = NULL;
	int meta = 0;
	int c, idx;
	while ((c = cli_getopt(cli, argc, argv, "", opts, &idx)) != -1) {
		if (c == '?')
			return cli_usage_error("list", "unknown option");
		if (c == 's')
			snapshot = optarg;
		if (c == 'f')
			from = optarg;
		if (c == 'M')
			meta = 1;
	}
	if (optind + 1 != argc)
		return cli_usage_error("list", "--items needs exactly one TARGET");
	struct engine e = {0};
	struct engine_target **ts;
	size_t n;
	int rc = cli_load_targets(cli, &e, 1, argv + optind, &ts, &n);
	if (rc != ARCA_OK)
		return rc;
	struct engine_target *t = ts[0];
	free(ts);
	rc = ARCA_ERR_NOT_FOUND;
	int found = 0;
	/* the first destination that can serve it, as restore reads */
	for (size_t i = 0; i < t->n_dests; i++) {
		struct engine_dest *d = t->dests[i];
		if (from && strcmp(d->cfg->name, from))
			continue;
		found = 1;
		rc = list_from(cli, &e, t, d, snapshot, meta);
		if (rc == ARCA_OK || from)
			break;
		if (i + 1 < t->n_dests)
			log_warn("destination %s cannot list it (%s); trying %s", d->cfg->name,
			         err_msg(), t->dests[i + 1]->cfg->name);
	}
	if (from && !found)
		rc = err_set(2, "target %s has no destination '%s' (its destinations: %s)",
		             t->cfg->name, from, cfg_get(t->cfg, "destinations"));
	if (rc != ARCA_OK)
		err_print(rc);
	engine_close(&e);
	return rc;
}
