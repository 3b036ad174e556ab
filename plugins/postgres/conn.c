/* conn.c — libpq connections with the target's conninfo and password, and
 * errors that say which server refused what and what to do about it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pg.h"

const char *pg_conn_error(PGconn *c, char *buf, size_t n)
{
	snprintf(buf, n, "%s", c ? PQerrorMessage(c) : "out of memory");
	size_t len = strlen(buf);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = 0;
	/* libpq repeats "connection to server at ... failed:" per address;
	 * keep the message on one line for logs. */
	char *w = buf;
	for (char *p = buf; *p; p++) {
		char ch = *p == '\n' || *p == '\t' ? ' ' : *p;
		if (ch == ' ' && w > buf && w[-1] == ' ')
			continue;
		*w++ = ch;
	}
	*w = 0;
	return buf;
}

int pg_classify_error(const char *msg)
{
	static const char *const auth[] = {
	    "password authentication failed",
	    "no password supplied",
	    "no pg_hba.conf entry",
	    "must be superuser or replication role",
	    "permission denied",
	    "authentication failed",
	    "role \"",
	};
	if (strstr(msg, "database \"") && strstr(msg, "does not exist"))
		return ARCA_ERR_NOT_FOUND;
	if (strstr(msg, "max_wal_senders"))
		return ARCA_ERR_CONFIG;
	for (size_t i = 0; i < sizeof auth / sizeof auth[0]; i++) {
		if (strstr(msg, auth[i])) {
			if (strcmp(auth[i], "role \"") == 0 && !strstr(msg, "does not exist"))
				continue;
			return ARCA_ERR_AUTH;
		}
	}
	return ARCA_ERR_CONNECT;
}

void pg_describe(PGconn *c, char *out, size_t n)
{
	const char *host = c ? PQhost(c) : NULL;
	const char *port = c ? PQport(c) : NULL;
	const char *user = c ? PQuser(c) : NULL;
	const char *db = c ? PQdb(c) : NULL;
	snprintf(out, n, "host %s port %s, user %s, database %s",
	         host && *host ? host : "(default)", port && *port ? port : "(default)",
	         user && *user ? user : "(default)", db && *db ? db : "(default)");
}

static const char *hint_for(int status, const char *msg, int replication, const char *target,
                            const char *user)
{
	static __thread char hint[512];
	if (status == ARCA_ERR_AUTH && strstr(msg, "superuser or replication role")) {
		snprintf(hint, sizeof hint,
		         "physical backups need a role with the REPLICATION attribute: ALTER ROLE "
		         "%s REPLICATION",
		         user && *user ? user : "...");
		return hint;
	}
	if (status == ARCA_ERR_AUTH && strstr(msg, "no pg_hba.conf entry") && replication)
		return "pg_hba.conf must allow a 'replication' connection for this role and host";
	if (status == ARCA_ERR_AUTH && strstr(msg, "no pg_hba.conf entry"))
		return "add a pg_hba.conf entry for this role and host";
	if (status == ARCA_ERR_AUTH) {
		snprintf(hint, sizeof hint,
		         "check the password given by password_file/password_env of [target %s] "
		         "(or PGPASSFILE)",
		         target);
		return hint;
	}
	if (status == ARCA_ERR_NOT_FOUND)
		return "create the database or fix dbname in conninfo";
	if (status == ARCA_ERR_CONFIG)
		return "physical backups need max_wal_senders of at least 2 in postgresql.conf "
		       "(and a restart)";
	if (strstr(msg, "Is the server running"))
		return "check conninfo";
	return "is the server running and is conninfo right?";
}

/* The value of one keyword in a conninfo (malloc'd), NULL when unset. */
static char *conninfo_value(const char *conninfo, const char *key)
{
	char *err = NULL, *val = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
	PQfreemem(err);
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, key) == 0 && o->val && o->val[0])
			val = strdup(o->val);
	PQconninfoFree(opts);
	return val;
}

int pg_password_for(struct pg_target *t, const char *conninfo, char **out)
{
	*out = NULL;
	if (!conninfo || conninfo == t->conninfo)
		return pg_password(t, out);
	if ((*out = conninfo_value(conninfo, "password")))
		return ARCA_OK;
	/* The configured secret is the configured role's: another role (e.g.
	 * the superuser of a fresh server in --into) finds its own password
	 * through PGPASSFILE or PGPASSWORD. */
	char *u1 = conninfo_value(conninfo, "user");
	char *u2 = conninfo_value(t->conninfo, "user");
	int same = (!u1 && !u2) || (u1 && u2 && strcmp(u1, u2) == 0);
	free(u1);
	free(u2);
	return same ? pg_password(t, out) : ARCA_OK;
}

int pg_connect(struct pg_target *t, const char *conninfo_override, const char *dbname,
               int replication, PGconn **out)
{
	const char *keys[8];
	const char *vals[8];
	int k = 0;
	char *password = NULL;
	*out = NULL;
	int rc = pg_password_for(t, conninfo_override, &password);
	if (rc != ARCA_OK)
		return rc;
	keys[k] = "connect_timeout"; /* conninfo may override it */
	vals[k++] = "30";
	keys[k] = "dbname";
	vals[k++] = conninfo_override ? conninfo_override : t->conninfo;
	if (dbname) {
		keys[k] = "dbname";
		vals[k++] = dbname;
	}
	if (replication) {
		keys[k] = "replication";
		vals[k++] = "true";
	}
	if (password) {
		keys[k] = "password";
		vals[k++] = password;
	}
	keys[k] = "fallback_application_name";
	vals[k++] = "arca";
	keys[k] = NULL;
	vals[k] = NULL;
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	pg_secret_free(password);
	if (c && PQstatus(c) == CONNECTION_OK) {
		*out = c;
		return ARCA_OK;
	}
	char msg[1024], where[512];
	pg_conn_error(c, msg, sizeof msg);
	pg_describe(c, where, sizeof where);
	int status = pg_classify_error(msg);
	rc = PG_ERR(status, "[target %s]: cannot connect to PostgreSQL (%s%s): %s; %s", t->name,
	            where, replication ? ", replication" : "", msg,
	            hint_for(status, msg, replication, t->name, c ? PQuser(c) : NULL));
	PQfinish(c);
	return rc;
}

int pg_query_value(PGconn *c, const char *sql, char **out)
{
	*out = NULL;
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		char msg[1024];
		pg_conn_error(c, msg, sizeof msg);
		/* "permission denied" is a missing privilege; the rest is I/O */
		int status = pg_classify_error(msg) == ARCA_ERR_AUTH ? ARCA_ERR_AUTH : ARCA_ERR_IO;
		PQclear(r);
		return PG_ERR(status, "query \"%s\" failed: %s", sql, msg);
	}
	if (PQntuples(r) > 0 && PQnfields(r) > 0 && !PQgetisnull(r, 0, 0)) {
		*out = strdup(PQgetvalue(r, 0, 0));
		if (!*out) {
			PQclear(r);
			return PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
		}
	}
	PQclear(r);
	return ARCA_OK;
}

char *pg_conninfo_dbname(const char *conninfo)
{
	char *err = NULL;
	char *db = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
	if (!opts) {
		PQfreemem(err);
		return NULL;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "dbname") == 0 && o->val && o->val[0])
			db = strdup(o->val);
	PQconninfoFree(opts);
	return db;
}

/* Append key='value' with libpq's quoting (backslash before ' and \). */
static int append_kv(char **s, size_t *len, size_t *cap, const char *key, const char *val)
{
	size_t need = strlen(key) + 2 * strlen(val) + 8;
	if (*len + need >= *cap) {
		size_t ncap = (*cap + need) * 2;
		char *n = realloc(*s, ncap);
		if (!n)
			return -1;
		*s = n;
		*cap = ncap;
	}
	char *p = *s + *len;
	if (*len)
		*p++ = ' ';
	p += sprintf(p, "%s='", key);
	for (const char *v = val; *v; v++) {
		if (*v == '\'' || *v == '\\')
			*p++ = '\\';
		*p++ = *v;
	}
	*p++ = '\'';
	*p = 0;
	*len = (size_t)(p - *s);
	return 0;
}

char *pg_conninfo_build(const char *conninfo, const char *dbname, char **password_out)
{
	char *err = NULL;
	if (password_out)
		*password_out = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
	if (!opts) {
		PG_ERR(ARCA_ERR_CONFIG, "connection string \"%s\" does not parse: %s", conninfo,
		       err ? err : "out of memory");
		PQfreemem(err);
		return NULL;
	}
	size_t len = 0, cap = 256;
	char *s = malloc(cap);
	int bad = !s;
	if (s)
		s[0] = 0;
	for (PQconninfoOption *o = opts; !bad && o->keyword; o++) {
		if (!o->val || !o->val[0])
			continue;
		if (strcmp(o->keyword, "password") == 0) {
			/* Never in argv: the caller passes it as PGPASSWORD. */
			if (password_out && !(*password_out = strdup(o->val)))
				bad = 1;
			continue;
		}
		if (dbname && strcmp(o->keyword, "dbname") == 0)
			continue;
		bad = append_kv(&s, &len, &cap, o->keyword, o->val) != 0;
	}
	if (!bad && dbname)
		bad = append_kv(&s, &len, &cap, "dbname", dbname) != 0;
	PQconninfoFree(opts);
	if (bad) {
		free(s);
		if (password_out) {
			pg_secret_free(*password_out);
			*password_out = NULL;
		}
		PG_ERR(ARCA_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	return s;
}
