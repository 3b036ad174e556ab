/* dbprops.c — a database's own properties on a logical restore.
 *
 * Refusing to replace: a restore into a database that already holds user
 * objects (relations, schemas, functions, types, extensions, large
 * objects) needs --overwrite; without it the restore says what is there.
 *
 * Recreating: pg_dump -Fc records the database itself in its table of
 * contents (entries DATABASE, DATABASE PROPERTIES, and COMMENT, ACL and
 * SECURITY LABEL on "DATABASE name"), which pg_restore only replays with
 * --create. When the database is missing (a fresh server: the disaster
 * case), the driver creates it from those entries — encoding, locale,
 * owner, settings, comment and privileges as pg_dump recorded them —
 * under the name the restore asks for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dumpfmt.h"
#include "pg.h"

#define PREFIX_MAX (64u << 20) /* a TOC larger than this is not read for properties */

static const char *const user_objects_sql =
    "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "        WHERE c.relkind IN ('r','p','v','m','S','f') AND n.nspname NOT IN "
    "        ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
    "        AND n.nspname NOT LIKE 'pg_temp%' AND NOT EXISTS (SELECT 1 FROM pg_depend d "
    "        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')),"
    "       (SELECT count(*) FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', "
    "        'information_schema','public') AND nspname NOT LIKE 'pg_toast%' "
    "        AND nspname NOT LIKE 'pg_temp%'),"
    "       (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
    "        WHERE n.nspname NOT IN ('pg_catalog','information_schema') AND NOT EXISTS "
    "        (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass "
    "        AND d.objid = p.oid AND d.deptype = 'e')),"
    "       (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
    "        WHERE t.typtype IN ('e','d','r','m') AND n.nspname NOT IN "
    "        ('pg_catalog','information_schema') AND NOT EXISTS (SELECT 1 FROM pg_depend d "
    "        WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')),"
    "       (SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql'),"
    "       (SELECT count(*) FROM pg_largeobject_metadata)";

static const char *const kind_names[][2] = {
    {"table, view or sequence", "tables, views or sequences"},
    {"schema", "schemas"},
    {"function", "functions"},
    {"type", "types"},
    {"extension", "extensions"},
    {"large object", "large objects"},
};

int dbprops_user_objects(struct pg_target *t, PGconn *c, const char *db, char *what,
                         size_t what_len, int *any)
{
	*any = 0;
	what[0] = 0;
	PGresult *r = PQexec(c, user_objects_sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		char msg[1024];
		int rc =
		    PG_ERR(ARCA_ERR_IO, "[target %s]: cannot tell what database \"%s\" holds: %s",
		           t->name, db, pg_conn_error(c, msg, sizeof msg));
		PQclear(r);
		return rc;
	}
	size_t at = 0;
	for (int k = 0; k < (int)(sizeof kind_names / sizeof *kind_names); k++) {
		long long n = atoll(PQgetvalue(r, 0, k));
		if (!n)
			continue;
		*any = 1;
		int w = snprintf(what + at, what_len - at, "%s%lld %s", at ? ", " : "", n,
		                 kind_names[k][n != 1]);
		if (w < 0 || (size_t)w >= what_len - at)
			break;
		at += (size_t)w;
	}
	PQclear(r);
	return ARCA_OK;
}

/* ---- properties from the dump's TOC ---- */

struct collect {
	const char *orig; /* the database the dump came from (its TOC's tag) */
	size_t orig_len;
	char *create, *owner; /* the DATABASE entry */
	char **stmts;         /* other entries about the database, in TOC order */
	size_t n;
	int failed;
};

static int field_is(const char *s, size_t n, const char *want)
{
	return s && n == strlen(want) && !memcmp(s, want, n);
}

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

static void on_entry(void *arg, const struct dump_toc_text *e)
{
	struct collect *c = arg;
	if (!e->desc || !e->defn || !e->defn_len)
		return;
	if (field_is(e->desc, e->desc_len, "DATABASE")) {
		free(c->create);
		free(c->owner);
		c->create = dup_n(e->defn, e->defn_len);
		c->owner = e->owner && e->owner_len ? dup_n(e->owner, e->owner_len) : NULL;
		c->orig = e->tag;
		c->orig_len = e->tag_len;
		return;
	}
	int about_db =
	    field_is(e->desc, e->desc_len, "DATABASE PROPERTIES") ||
	    ((field_is(e->desc, e->desc_len, "COMMENT") || field_is(e->desc, e->desc_len, "ACL") ||
	      field_is(e->desc, e->desc_len, "SECURITY LABEL")) &&
	     e->tag && e->tag_len > 9 && !memcmp(e->tag, "DATABASE ", 9));
	if (!about_db)
		return;
	char **v = realloc(c->stmts, (c->n + 1) * sizeof *v);
	if (!v || !(v[c->n] = dup_n(e->defn, e->defn_len))) {
		c->failed = 1;
		if (v)
			c->stmts = v;
		return;
	}
	c->stmts = v;
	c->n++;
}

/* The identifier as pg_dump wrote it after "CREATE DATABASE ": a bare word
 * or a double-quoted name ("" inside). Its length, 0 when not found. */
static size_t written_ident(const char *s)
{
	if (*s != '"')
		return strcspn(s, " ;\n");
	for (size_t i = 1; s[i]; i++)
		if (s[i] == '"') {
			if (s[i + 1] != '"')
				return i + 1;
			i++;
		}
	return 0;
}

/* Replace "DATABASE <old>" by "DATABASE <new>" on each line that is a
 * statement about the database (not inside a comment's text, which
 * continues on lines that start otherwise). */
static char *rename_db(const char *sql, const char *old, const char *new_ident)
{
	static const char *const starts[] = {
	    "CREATE DATABASE ", "COMMENT ON DATABASE ", "ALTER DATABASE ", "GRANT ",
	    "REVOKE ",          "ALTER ROLE ",          "SECURITY LABEL "};
	size_t cap = 2 * strlen(sql) + strlen(new_ident) * 16 + 64, len = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	char *pat = NULL;
	if (asprintf(&pat, "DATABASE %s", old) < 0) {
		free(out);
		return NULL;
	}
	for (const char *line = sql; *line;) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) + 1 : strlen(line);
		int known = 0;
		for (size_t k = 0; k < sizeof starts / sizeof *starts; k++)
			known |= !strncmp(line, starts[k], strlen(starts[k]));
		char *hit = known ? strstr(line, pat) : NULL;
		char after = hit ? hit[strlen(pat)] : 0;
		if (hit && (size_t)(hit - line) < n &&
		    (after == ' ' || after == ';' || after == '\n')) {
			size_t pre = (size_t)(hit - line);
			if (len + n + strlen(new_ident) + 16 >= cap)
				break;
			memcpy(out + len, line, pre);
			len += pre;
			len += (size_t)sprintf(out + len, "DATABASE %s", new_ident);
			size_t rest = n - pre - strlen(pat);
			memcpy(out + len, hit + strlen(pat), rest);
			len += rest;
		} else {
			if (len + n >= cap)
				break;
			memcpy(out + len, line, n);
			len += n;
		}
		line += n;
	}
	out[len] = 0;
	free(pat);
	return out;
}

void dbprops_free(struct db_props *p)
{
	free(p->create);
	free(p->owner);
	for (size_t i = 0; i < p->n; i++)
		free(p->stmts[i]);
	free(p->stmts);
	memset(p, 0, sizeof *p);
}

/* Read the dump item's header and TOC (the item is left open at an
 * unknown position: the caller opens it again). */
static int read_prefix(struct arca_ctx *ctx, const char *item, unsigned char **buf, size_t *len,
                       struct dump_prefix *pre)
{
	struct arca_item_info info;
	memset(&info, 0, sizeof info);
	info.struct_size = sizeof info;
	int rc = pg_host->item_open(ctx, item, &info);
	if (rc != ARCA_OK)
		return rc;
	size_t cap = 1 << 20;
	*len = 0;
	*buf = malloc(cap);
	if (!*buf)
		return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	for (;;) {
		char why[256];
		int got_all = dump_parse_prefix(*buf, *len, pre, why, sizeof why);
		if (got_all == 1)
			return ARCA_OK;
		if (got_all < 0)
			return PG_ERR(ARCA_ERR_CORRUPT, "%s: %s", item, why);
		if (*len == cap) {
			unsigned char *n = cap < PREFIX_MAX ? realloc(*buf, cap * 2) : NULL;
			if (!n)
				return PG_ERR(ARCA_ERR_UNSUPPORTED,
				              "%s: its table of contents is larger "
				              "than %u MiB",
				              item, PREFIX_MAX >> 20);
			*buf = n;
			cap *= 2;
		}
		size_t got = 0;
		rc = pg_host->item_read(ctx, *buf + *len, cap - *len, &got);
		if (rc != ARCA_OK)
			return rc;
		if (!got)
			return PG_ERR(ARCA_ERR_CORRUPT, "%s ends inside its table of contents",
			              item);
		*len += got;
	}
}

int dbprops_read(struct pg_target *t, struct arca_ctx *ctx, const char *item, PGconn *admin,
                 const char *db, struct db_props *out)
{
	memset(out, 0, sizeof *out);
	unsigned char *buf = NULL;
	size_t len = 0;
	struct dump_prefix pre;
	memset(&pre, 0, sizeof pre);
	int rc = read_prefix(ctx, item, &buf, &len, &pre);
	struct collect c;
	memset(&c, 0, sizeof c);
	if (rc == ARCA_OK && dump_toc_entries(buf, len, &pre, on_entry, &c) != 0)
		rc = PG_ERR(ARCA_ERR_CORRUPT, "%s: its table of contents does not read", item);
	if (rc == ARCA_OK && c.failed)
		rc = PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
	if (rc == ARCA_OK && c.create && c.orig) {
		/* Under the name asked for: rewrite the identifier pg_dump wrote. */
		const char *ws = c.create + strlen("CREATE DATABASE ");
		size_t wl = strncmp(c.create, "CREATE DATABASE ", 16) ? 0 : written_ident(ws);
		char *old = wl ? dup_n(ws, wl) : NULL;
		char *ident = PQescapeIdentifier(admin, db, strlen(db));
		if (!old || !ident) {
			rc = PG_ERR(ARCA_ERR_CORRUPT,
			            "%s: its DATABASE entry is not a CREATE DATABASE "
			            "this driver understands",
			            item);
		} else {
			out->create = rename_db(c.create, old, ident);
			out->owner = c.owner ? strdup(c.owner) : NULL;
			out->stmts = calloc(c.n + 1, sizeof *out->stmts);
			for (size_t i = 0; out->stmts && i < c.n; i++)
				if ((out->stmts[out->n] = rename_db(c.stmts[i], old, ident)))
					out->n++;
			if (!out->create || !out->stmts)
				rc = PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
		}
		free(old);
		PQfreemem(ident);
	}
	free(c.create);
	free(c.owner);
	for (size_t i = 0; i < c.n; i++)
		free(c.stmts[i]);
	free(c.stmts);
	free(pre.toc);
	free(buf);
	if (rc != ARCA_OK)
		dbprops_free(out);
	(void)t;
	return rc;
}

int dbprops_apply(struct pg_target *t, PGconn *admin, const struct db_props *p, const char *db)
{
	int failed = 0;
	if (p->owner) {
		char *ident = PQescapeIdentifier(admin, db, strlen(db));
		char *role = PQescapeIdentifier(admin, p->owner, strlen(p->owner));
		char *sql = NULL;
		if (ident && role &&
		    asprintf(&sql, "ALTER DATABASE %s OWNER TO %s", ident, role) > 0) {
			PGresult *r = PQexec(admin, sql);
			if (PQresultStatus(r) != PGRES_COMMAND_OK) {
				char msg[1024];
				PG_LOG(
				    ARCA_LOG_WARN,
				    "[target %s]: database \"%s\" could not be given "
				    "to its owner %s: %s (restore the roles first: globals = yes)",
				    t->name, db, p->owner, pg_conn_error(admin, msg, sizeof msg));
				failed++;
			}
			PQclear(r);
		}
		free(sql);
		PQfreemem(ident);
		PQfreemem(role);
	}
	for (size_t i = 0; i < p->n; i++) {
		PGresult *r = PQexec(admin, p->stmts[i]);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			char msg[1024];
			PG_LOG(ARCA_LOG_WARN,
			       "[target %s]: a property of database \"%s\" could not be "
			       "restored (%.*s): %s",
			       t->name, db, (int)strcspn(p->stmts[i], "\n"), p->stmts[i],
			       pg_conn_error(admin, msg, sizeof msg));
			failed++;
		}
		PQclear(r);
	}
	if (!failed)
		PG_LOG(ARCA_LOG_INFO,
		       "database \"%s\" has its owner%s, settings, comment and "
		       "privileges as dumped",
		       db, p->owner ? "" : " (none recorded)");
	return failed;
}
