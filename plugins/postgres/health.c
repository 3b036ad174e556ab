/* health.c — `arca health TARGET [--into WHERE] [--standby]`: is the
 * server serving the database as an application would use it? Connect
 * (to the target's conninfo, a conninfo given with --into, or the server
 * running on the data directory given with --into), then ask it in one
 * query which database it serves, whether it is in recovery, and how many
 * tables the database holds. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pg.h"

/* The conninfo of the server whose data directory is `datadir`, from its
 * postmaster.pid (line 4: port, 5: socket directory, 6: listen address),
 * with the target's user and database; NULL (and the error) when none
 * runs there. */
static char *datadir_conninfo(struct pg_target *t, const char *datadir)
{
	char path[4096], lines[8][512];
	snprintf(path, sizeof path, "%s/postmaster.pid", datadir);
	FILE *f = fopen(path, "r");
	if (!f) {
		PG_ERR(ARCA_ERR_CONNECT,
		       "[target %s]: no PostgreSQL server runs on %s (%s: %s); start it (arca "
		       "restore --start does) and ask again",
		       t->name, datadir, path, strerror(errno));
		return NULL;
	}
	int n = 0;
	while (n < 8 && fgets(lines[n], sizeof lines[n], f))
		lines[n][strcspn(lines[n], "\n")] = 0, n++;
	fclose(f);
	long pid = n > 0 ? strtol(lines[0], NULL, 10) : 0;
	if (n < 6 || pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno != EPERM)) {
		PG_ERR(ARCA_ERR_CONNECT,
		       "[target %s]: the server of %s is not running (%s is stale or "
		       "incomplete); start it and ask again",
		       t->name, datadir, path);
		return NULL;
	}
	const char *host = lines[4][0] ? lines[4] : lines[5];
	if (!host[0] || !strcmp(host, "*"))
		host = "127.0.0.1";
	char *conninfo = NULL;
	/* later keys win: the target's user and dbname, this server's address */
	if (strchr(host, '\'') || strchr(host, '\\') ||
	    asprintf(&conninfo, "%s host='%s' port=%ld", t->conninfo, host,
	             strtol(lines[3], NULL, 10)) < 0) {
		PG_ERR(ARCA_ERR_CONNECT, "[target %s]: %s names an address arca cannot use",
		       t->name, path);
		return NULL;
	}
	return conninfo;
}

int pg_health(struct pg_target *t, struct arca_ctx *ctx)
{
	const char *into = pg_host->option(ctx, "into");
	int standby = pg_host->option(ctx, "standby") != NULL;
	char *from_dir = NULL;
	if (into && into[0] == '/' && !(from_dir = datadir_conninfo(t, into)))
		return ARCA_ERR_CONNECT;
	PGconn *c = NULL;
	int rc = pg_connect(t, from_dir ? from_dir : into, NULL, 0, &c);
	free(from_dir);
	if (rc != ARCA_OK)
		return rc;
	char where[512];
	pg_describe(c, where, sizeof where);
	PGresult *r = PQexec(c, "SELECT current_database(), pg_is_in_recovery(), "
	                        "(SELECT count(*) FROM pg_class k JOIN pg_namespace s ON "
	                        "s.oid = k.relnamespace WHERE k.relkind IN ('r', 'p') AND "
	                        "s.nspname NOT IN ('pg_catalog', 'information_schema') AND "
	                        "s.nspname NOT LIKE 'pg\\_toast%'), "
	                        "current_setting('server_version')");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		char msg[1024];
		pg_conn_error(c, msg, sizeof msg);
		rc = PG_ERR(ARCA_ERR_IO,
		            "[target %s]: the server (%s) accepts connections but "
		            "does not answer a query: %s",
		            t->name, where, msg);
	} else if (!strcmp(PQgetvalue(r, 0, 1), "t") && !standby) {
		rc = PG_ERR(ARCA_ERR_IO,
		            "[target %s]: the server (%s) is in recovery: it still replays WAL, "
		            "or is a standby, and refuses writes. Wait for recovery to end (its "
		            "log says when), promote it, or give --standby when a standby is "
		            "what you expect",
		            t->name, where);
	} else {
		PG_LOG(ARCA_LOG_INFO,
		       "database \"%s\" (%s) answers queries: PostgreSQL %s, %s, %s table%s",
		       PQgetvalue(r, 0, 0), where, PQgetvalue(r, 0, 3),
		       !strcmp(PQgetvalue(r, 0, 1), "t") ? "in recovery" : "accepting writes",
		       PQgetvalue(r, 0, 2), strcmp(PQgetvalue(r, 0, 2), "1") ? "s" : "");
	}
	PQclear(r);
	PQfinish(c);
	return rc;
}
