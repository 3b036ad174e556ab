/* Unit tests of what the postgres driver hands its child programs: the
 * environment built from a list (env.c), the `*_env` names read from the
 * config, and the ownership and mode checks of a program (trust.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "pg.h"

/* ---- a host with a config file and a password_env key ---------------------- */

static struct arca_host fake_host;
const struct arca_host *pg_host = &fake_host;
static const char *fake_config_path;

static void fake_log(enum arca_log_level level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

static int fake_error(int status, const char *fmt, ...)
{
	(void)fmt;
	return status;
}

static const char *fake_option(struct arca_ctx *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "config") == 0 ? fake_config_path : NULL;
}

static const char *fake_config_get(const struct arca_config *cfg, const char *key)
{
	(void)cfg;
	return strcmp(key, "password_env") == 0 ? "OWN_PW" : NULL;
}

static int setup(void **state)
{
	(void)state;
	fake_host.struct_size = sizeof fake_host;
	fake_host.log = fake_log;
	fake_host.error = fake_error;
	fake_host.option = fake_option;
	fake_host.config_get = fake_config_get;
	return 0;
}

/* ---- the environment ------------------------------------------------------ */

static char *const arca_env[] = {
    "PATH=/usr/bin:/bin",
    "HOME=/root",
    "ARCA_PASSPHRASE=correct horse",
    "ARCA_CONFIG=/etc/arca/arca.ini",
    "LC_ALL=C.UTF-8",
    "LANG=C.UTF-8",
    "LANGUAGE=en",
    "TZ=UTC",
    "TMPDIR=/var/tmp",
    "PGHOST=db.internal",
    "PGSSLMODE=verify-full",
    "PGPASSWORD=users-own",
    "PGPASSFILE=/root/.pgpass",
    "PGAPPNAME=named-by-another-target",
    "TEMPORAL_PG_PASSWORD=other-target",
    "PGDATA=/var/lib/postgresql/15/main",
    "PGPASSWORDX=not-libpq",
    "SHELL=/bin/sh",
    "SSH_AUTH_SOCK=/tmp/agent",
    "NO_EQUALS_SIGN",
    NULL,
};
static char *const secret_vars[] = {"PGAPPNAME", "TEMPORAL_PG_PASSWORD", NULL};

/* The built environment as one "A;B;C" string, in order. */
static char *joined(char **env)
{
	static char buf[2048];
	buf[0] = 0;
	for (char **e = env; *e; e++) {
		strcat(buf, *e);
		strcat(buf, ";");
	}
	return buf;
}

static void check_env(int connects, const char *password, const char *want)
{
	char *pwvar = (char *)1;
	char **env = pg_env_build(arca_env, secret_vars, connects, password, &pwvar);
	assert_non_null(env);
	assert_string_equal(joined(env), want);
	if (password)
		assert_non_null(pwvar);
	else
		assert_null(pwvar);
	free(pwvar);
	free(env);
}

/* what every child gets of arca_env */
#define BASE                                                                                       \
	"PATH=/usr/bin:/bin;HOME=/root;LC_ALL=C.UTF-8;LANG=C.UTF-8;"                               \
	"LANGUAGE=en;TZ=UTC;TMPDIR=/var/tmp;"

static void test_env_build(void **state)
{
	(void)state;
	/* pg_ctl, pg_restore --file: the base list only */
	check_env(0, NULL, BASE);
	/* a client without a password from arca: the user's libpq variables */
	check_env(1, NULL,
	          BASE "PGHOST=db.internal;PGSSLMODE=verify-full;PGPASSWORD=users-own;"
	               "PGPASSFILE=/root/.pgpass;");
	/* with arca's password, which replaces the user's; a password implies
	 * a connection */
	check_env(0, "s3cret",
	          BASE "PGHOST=db.internal;PGSSLMODE=verify-full;PGPASSFILE=/root/.pgpass;"
	               "PGPASSWORD=s3cret;");
	/* a name that *_env names stays out even when it is on the list */
	char *const path_named[] = {"PATH", "PGHOST", NULL};
	char *pwvar = NULL;
	char **env = pg_env_build(arca_env, path_named, 1, NULL, &pwvar);
	assert_non_null(env);
	assert_null(strstr(joined(env), "PATH="));
	assert_null(strstr(joined(env), "PGHOST="));
	assert_non_null(strstr(joined(env), "PGSSLMODE="));
	free(env);
	/* an empty environment */
	char *const none[] = {NULL};
	env = pg_env_build(none, NULL, 1, NULL, &pwvar);
	assert_non_null(env);
	assert_null(env[0]);
	free(env);
}

/* ---- *_env names of the config -------------------------------------------- */

static const char config_text[] = "[engine]\n"
                                  "plugin_dir = /usr/lib/arca\n"
                                  "\n"
                                  "[destination offsite]\n"
                                  "passphrase_env = ARCA_PASSPHRASE\n"
                                  "  secret_key_env=S3_SECRET ; inline comment\n"
                                  "access_key_env :S3_ACCESS\r\n"
                                  "# password_env = COMMENTED_OUT\n"
                                  "; password_env = COMMENTED_TOO\n"
                                  "[target temporal-db]\n"
                                  "conninfo = host=db password_env=NOT_A_KEY\n"
                                  "password_file = /etc/arca/pw\n"
                                  "password_env = TEMPORAL_PG_PASSWORD\n"
                                  "empty_env =\n"
                                  "_env = TOO_SHORT\n"
                                  "password_envx = NOT_ENV\n";

static void test_env_scan(void **state)
{
	(void)state;
	FILE *f = fmemopen((void *)config_text, sizeof config_text - 1, "r");
	assert_non_null(f);
	char **names = NULL;
	assert_int_equal(pg_env_scan(f, &names), 0);
	fclose(f);
	assert_non_null(names);
	const char *want[] = {"ARCA_PASSPHRASE", "S3_SECRET", "S3_ACCESS", "TEMPORAL_PG_PASSWORD"};
	size_t n = 0;
	while (names[n])
		n++;
	assert_int_equal(n, sizeof want / sizeof *want);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(names[i], want[i]);
	pg_env_free(names);
}

/* pg_env_load: the file the engine loaded, plus the target's own key. */
static void test_env_load(void **state)
{
	(void)state;
	char path[] = "/tmp/test_pg_env.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, config_text, sizeof config_text - 1),
	                 (ssize_t)(sizeof config_text - 1));
	close(fd);

	struct pg_target t;
	memset(&t, 0, sizeof t);
	fake_config_path = path;
	assert_int_equal(pg_env_load(&t, NULL), ARCA_OK);
	assert_non_null(t.secret_vars);
	assert_string_equal(t.secret_vars[3], "TEMPORAL_PG_PASSWORD");
	assert_string_equal(t.secret_vars[4], "OWN_PW");
	assert_null(t.secret_vars[5]);
	char **first = t.secret_vars;
	assert_int_equal(pg_env_load(&t, NULL), ARCA_OK); /* once per target */
	assert_ptr_equal(t.secret_vars, first);
	pg_env_free(t.secret_vars);

	/* an unreadable config: the target's own key still counts */
	memset(&t, 0, sizeof t);
	unlink(path);
	assert_int_equal(pg_env_load(&t, NULL), ARCA_OK);
	assert_string_equal(t.secret_vars[0], "OWN_PW");
	assert_null(t.secret_vars[1]);
	pg_env_free(t.secret_vars);
}

/* pg_env_load with an engine that hands the names over (config_env_names):
 * those, plus the target's own key; the config file is not read. */
static const char *const *fake_env_names(struct arca_ctx *ctx)
{
	(void)ctx;
	static const char *const v[] = {"ARCA_PASSPHRASE", "FROM_ENGINE", NULL};
	return v;
}

static void test_env_load_from_engine(void **state)
{
	(void)state;
	struct pg_target t;
	memset(&t, 0, sizeof t);
	fake_config_path = "/nonexistent/arca.ini";
	fake_host.config_env_names = fake_env_names;
	assert_int_equal(pg_env_load(&t, NULL), ARCA_OK);
	fake_host.config_env_names = NULL;
	assert_string_equal(t.secret_vars[0], "ARCA_PASSPHRASE");
	assert_string_equal(t.secret_vars[1], "FROM_ENGINE");
	assert_string_equal(t.secret_vars[2], "OWN_PW");
	assert_null(t.secret_vars[3]);
	pg_env_free(t.secret_vars);
}

/* ---- program checks ------------------------------------------------------- */

static void make_file(const char *path, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("#!/bin/sh\n", f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void assert_unsafe(const char *path, const char *why_part)
{
	char why[4096] = "";
	assert_int_equal(pg_program_unsafe(path, why, sizeof why), 1);
	if (!strstr(why, why_part))
		fail_msg("\"%s\" lacks \"%s\"", why, why_part);
}

static void assert_safe(const char *path)
{
	char why[4096] = "";
	if (pg_program_unsafe(path, why, sizeof why) != 0)
		fail_msg("%s refused: %s", path, why);
}

static void test_program_checks(void **state)
{
	(void)state;
	/* /tmp is world-writable with the sticky bit: fine as a parent */
	char dir[] = "/tmp/test_pg_trust.XXXXXX";
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	char prog[64], sub[64], subprog[128], link[64], notfile[64];
	snprintf(prog, sizeof prog, "%s/pg_dump", dir);
	snprintf(sub, sizeof sub, "%s/sub", dir);
	snprintf(subprog, sizeof subprog, "%s/pg_dump", sub);
	snprintf(link, sizeof link, "%s/pg_restore", dir);
	snprintf(notfile, sizeof notfile, "%s/psql", dir);
	make_file(prog, 0755);
	assert_safe(prog);

	assert_int_equal(chmod(prog, 0757), 0);
	assert_unsafe(prog, "the program");
	assert_unsafe(prog, "is world-writable (mode 0757)");
	assert_unsafe(prog, "chmod go-w ");
	assert_int_equal(chmod(prog, 0775), 0);
	assert_unsafe(prog, "is group-writable (mode 0775)");
	assert_int_equal(chmod(prog, 0755), 0);

	assert_int_equal(chmod(dir, 0777), 0);
	assert_unsafe(prog, "the directory ");
	assert_unsafe(prog, "is group- and world-writable (mode 0777)");
	/* the sticky bit is no excuse for the program's own directory */
	assert_int_equal(chmod(dir, 01777), 0);
	assert_unsafe(prog, "(mode 1777)");
	assert_int_equal(chmod(dir, 0755), 0);

	/* a symlink is judged by its target and the directories leading to it */
	assert_int_equal(mkdir(sub, 0755), 0);
	make_file(subprog, 0755);
	assert_int_equal(symlink(subprog, link), 0);
	assert_safe(link);
	assert_int_equal(chmod(sub, 0777), 0);
	assert_unsafe(link, sub);
	assert_int_equal(chmod(sub, 0755), 0);
	assert_int_equal(chmod(subprog, 0777), 0);
	assert_unsafe(link, "its target");
	assert_int_equal(chmod(subprog, 0755), 0);

	if (geteuid() == 0) {
		assert_int_equal(chown(prog, 65534, 0), 0);
		assert_unsafe(prog, "is owned by uid 65534");
		assert_unsafe(prog, "chown root ");
		assert_int_equal(chown(prog, 0, 0), 0);
	}

	assert_int_equal(mkdir(notfile, 0755), 0);
	assert_unsafe(notfile, "is not a regular file");
	assert_unsafe("bin/pg_dump", "not an absolute path");
	char missing[64];
	snprintf(missing, sizeof missing, "%s/missing", dir);
	assert_unsafe(missing, "cannot inspect it");

	unlink(link);
	unlink(subprog);
	unlink(prog);
	rmdir(notfile);
	rmdir(sub);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_env_build, setup),
	    cmocka_unit_test_setup(test_env_scan, setup),
	    cmocka_unit_test_setup(test_env_load, setup),
	    cmocka_unit_test_setup(test_env_load_from_engine, setup),
	    cmocka_unit_test_setup(test_program_checks, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
