/* logical_verify.c — mode = logical: verify a stored dump.
 *
 * The dump must start with the custom format's "PGDMP" magic and
 * pg_restore must read it to the end (table of contents and every data
 * block) without an error; a stored globals.sql must be pg_dumpall's. */
#include <stdlib.h>
#include <string.h>
#include "pg.h"

int logical_verify(struct pg_target *t, struct arca_ctx *ctx)
{
	struct logical_items li;
	int rc = logical_items_find(t, ctx, &li);
	if (rc != ARCA_OK) {
		logical_items_free(&li);
		return rc;
	}
	char *pg_restore = pg_program(t, "pg_restore");
	if (!pg_restore) {
		logical_items_free(&li);
		return ARCA_ERR_CONFIG;
	}
	char magic[5];
	size_t have = 0;
	if ((rc = pg_item_open(ctx, li.dump)) != ARCA_OK)
		goto out;
	while (have < sizeof magic) {
		size_t got = 0;
		if ((rc = pg_host->item_read(ctx, magic + have, sizeof magic - have, &got)) !=
		    ARCA_OK)
			goto out;
		if (got == 0)
			break;
		have += got;
	}
	if (have < sizeof magic || memcmp(magic, "PGDMP", 5) != 0) {
		rc = PG_ERR(ARCA_ERR_CORRUPT,
		            "[target %s]: %s is not a pg_dump custom-format "
		            "archive (no PGDMP header)",
		            t->name, li.dump);
		goto out;
	}
	/* pg_restore reads the whole archive from stdin: the table of contents
	 * and every data block must parse. The output script is thrown away. */
	char *argv[] = {pg_restore, "--file=/dev/null", NULL};
	struct child_spec spec = CHILD_SPEC_INIT;
	struct pg_child c;
	int closed = 0;
	spec.argv = argv;
	spec.t = t;
	spec.pipes = CHILD_STDIN;
	if ((rc = child_start(&c, &spec)) != ARCA_OK)
		goto out;
	if (child_write(&c, magic, sizeof magic) != ARCA_OK)
		closed = 1;
	else if ((rc = pg_pipe_current(ctx, &c, &closed)) != ARCA_OK) {
		child_kill(&c);
		goto out;
	}
	if (child_wait(&c) != 0 || closed) {
		char how[160];
		child_describe(&c, how, sizeof how);
		rc = PG_ERR(ARCA_ERR_CORRUPT, "[target %s]: %s does not read back: %s: %s", t->name,
		            li.dump, how, child_stderr(&c));
		goto out;
	}
	if (li.has_globals) {
		char *sql = NULL;
		if ((rc = pg_item_open(ctx, GLOBALS_ITEM)) != ARCA_OK ||
		    (rc = pg_read_current(ctx, &sql, NULL, 64u << 20)) != ARCA_OK)
			goto out;
		if (!strstr(sql, "PostgreSQL database cluster dump"))
			rc = PG_ERR(ARCA_ERR_CORRUPT, "[target %s]: %s is not pg_dumpall output",
			            t->name, GLOBALS_ITEM);
		free(sql);
		if (rc != ARCA_OK)
			goto out;
	}
	PG_LOG(ARCA_LOG_INFO, "%s: custom-format archive reads back completely", li.dump);
out:
	free(pg_restore);
	logical_items_free(&li);
	return rc;
}
