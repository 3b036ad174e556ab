/* test_config.c — core/config: parsing, validation messages (with their
 * exact lines), defaults, lists, retention and secrets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "config.h"
#include "log.h"
#include "util.h"

/* ---- fake drivers, declared the way real ones are ---- */

static const struct arca_option pg_options[] = {
	{.name = "conninfo", .type = ARCA_OPT_STRING, .flags = ARCA_OPT_REQUIRED,
	 .help = "libpq connection string"},
	{.name = "jobs", .type = ARCA_OPT_INT, .default_value = "4", .help = "parallel jobs",
	 .min = 1, .max = 16},
	{.name = "mode", .type = ARCA_OPT_ENUM, .default_value = "logical",
	 .help = "dump kind", .choices = "logical|physical"},
	{.name = "password", .type = ARCA_OPT_STRING, .flags = ARCA_OPT_SECRET,
	 .help = "database password"},
	{.name = "timeout", .type = ARCA_OPT_DURATION, .default_value = "30s",
	 .help = "connect timeout", .min = 1, .max = 3600},
	{.name = "checksums", .type = ARCA_OPT_BOOL, .default_value = "yes",
	 .help = "verify page checksums"},
	{.name = NULL},
};

static const struct arca_option dir_options[] = {
	{.name = "path", .type = ARCA_OPT_PATH, .flags = ARCA_OPT_REQUIRED,
	 .help = "directory holding the repository"},
	{.name = "fsync", .type = ARCA_OPT_BOOL, .default_value = "yes", .help = "fsync objects"},
	{.name = NULL},
};

static const struct arca_option files_options[] = {
	{.name = "paths", .type = ARCA_OPT_LIST, .flags = ARCA_OPT_REQUIRED,
	 .help = "directories to back up"},
	{.name = NULL},
};

static const struct arca_target_ops fake_target_ops = {.struct_size = sizeof fake_target_ops};
static const struct arca_dest_ops fake_dest_ops = {.struct_size = sizeof fake_dest_ops};

static const struct arca_driver drv_postgres = {
	.abi_major = ARCA_ABI_MAJOR, .struct_size = sizeof(struct arca_driver),
	.name = "postgres", .version = "1", .description = "PostgreSQL",
	.target_options = pg_options, .target = &fake_target_ops,
};
static const struct arca_driver drv_dir = {
	.abi_major = ARCA_ABI_MAJOR, .struct_size = sizeof(struct arca_driver),
	.name = "dir", .version = "1", .description = "local directory",
	.dest_options = dir_options, .dest = &fake_dest_ops,
};
static const struct arca_driver drv_files = {
	.abi_major = ARCA_ABI_MAJOR, .struct_size = sizeof(struct arca_driver),
	.name = "files", .version = "1", .description = "directory trees",
	.target_options = files_options, .target = &fake_target_ops,
};

static const struct arca_driver *const drivers[] = {&drv_postgres, &drv_dir, &drv_files};
static const char *const installed[] = {"dir", "files", "postgres"};

static const struct arca_driver *lookup(const char *name, void *arg)
{
	int *calls = arg;
	if (calls)
		(*calls)++;
	for (size_t i = 0; i < ARRAY_LEN(drivers); i++)
		if (!strcmp(drivers[i]->name, name))
			return drivers[i];
	return NULL;
}

/* ---- helpers ---- */

static void dump(const struct cfg_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		print_message("  [%zu] %s\n", i, e->msgs[i]);
}

/* Parses and validates `text` as "t.ini"; returns the number of errors. */
static size_t check(const char *text, struct cfg_file **cf, struct cfg_errors *errs)
{
	memset(errs, 0, sizeof *errs);
	assert_int_equal(cfg_load_string("t.ini", text, cf, errs), 0);
	assert_non_null(*cf);
	cfg_validate(*cf, lookup, NULL, installed, ARRAY_LEN(installed), errs);
	return errs->n;
}

/* Error i starts with "t.ini:LINE: " and contains every needle (NULL-ended). */
static void expect_msg(const struct cfg_errors *e, size_t i, int line, ...)
{
	char prefix[64];
	snprintf(prefix, sizeof prefix, "t.ini:%d: ", line);
	if (i >= e->n || !str_starts(e->msgs[i], prefix)) {
		print_message("error %zu should start with '%s'; got:\n", i, prefix);
		dump(e);
		fail();
	}
	va_list ap;
	va_start(ap, line);
	for (const char *needle; (needle = va_arg(ap, const char *));) {
		if (!strstr(e->msgs[i], needle)) {
			print_message("error %zu lacks '%s'; got:\n", i, needle);
			dump(e);
			fail();
		}
	}
	va_end(ap);
}

static void expect_count(const struct cfg_errors *e, size_t n)
{
	if (e->n != n) {
		print_message("expected %zu errors, got %zu:\n", n, e->n);
		dump(e);
	}
	assert_int_equal(e->n, n);
}

static void done(struct cfg_file *cf, struct cfg_errors *errs)
{
	cfg_free(cf);
	cfg_errors_free(errs);
}

#define DEST_LOCAL \
	"[destination local]\n" \
	"driver = dir\n" \
	"path = /srv/backup\n" \
	"passphrase_env = ARCA_TEST_PASS\n"

/* ---- a valid file, defaults, lookups ---- */

static const char valid_ini[] =
	"; arca test config\n"                       /* 1 */
	"[engine]\n"                                 /* 2 */
	"state_dir = /tmp/arca-state\n"              /* 3 */
	"workers = 4\n"                              /* 4 */
	"\n"                                         /* 5 */
	DEST_LOCAL                                   /* 6-9 */
	"pack_size = 64M\n"                          /* 10 */
	"\n"                                         /* 11 */
	"[destination offsite]\n"                    /* 12 */
	"driver = dir\n"                             /* 13 */
	"path = /mnt/offsite\n"                      /* 14 */
	"encryption = none\n"                        /* 15 */
	"\n"                                         /* 16 */
	"[target app-db]\n"                          /* 17 */
	"driver = postgres\n"                        /* 18 */
	"conninfo = host=/run/postgresql dbname=app ; a comment\n" /* 19 */
	"destinations = local, offsite\n"            /* 20 */
	"retention = last=7, daily=30, weekly=8, monthly=12, within=30d\n" /* 21 */
	"  mode = physical\n"                        /* 22: indented is a key */
	"password_file = /etc/arca/pg.pass\n"        /* 23 */
	"timeout = 2m\n"                             /* 24 */
	"\n"                                         /* 25 */
	"[target media]\n"                           /* 26 */
	"driver = files\n"                           /* 27 */
	"paths = /srv/media\n"                       /* 28 */
	"destinations = offsite\n"                   /* 29 */
	"\n"                                         /* 30 */
	"[recovery]\n"                               /* 31 */
	"order = app-db, media\n"                    /* 32 */
	"pre_hook = systemctl stop app\n";           /* 33 */

static void test_valid_config(void **state)
{
	(void)state;
	struct cfg_file *cf;
	struct cfg_errors errs;
	assert_int_equal(check(valid_ini, &cf, &errs), 0);
	assert_int_equal(cf->n_sections, 6);
	assert_string_equal(cf->path, "t.ini");

	struct arca_config *db = cfg_section(cf, CFG_TARGET, "app-db");
	assert_non_null(db);
	assert_int_equal(db->line, 17);
	assert_string_equal(db->file, "t.ini");
	assert_ptr_equal(db->driver, &drv_postgres);
	assert_ptr_equal(db->driver_options, pg_options);
	/* inline comment stripped, '=' inside the value kept */
	assert_string_equal(cfg_get(db, "conninfo"), "host=/run/postgresql dbname=app");
	assert_int_equal(cfg_entry(db, "conninfo")->line, 19);
	assert_string_equal(cfg_get(db, "mode"), "physical");
	assert_int_equal(cfg_entry(db, "mode")->line, 22);
	assert_int_equal(cfg_get_int(db, "timeout", -1), 120);
	/* secrets are never returned by cfg_get */
	assert_null(cfg_get(db, "password"));

	size_t n;
	char **dests = cfg_get_list(db, "destinations", &n);
	assert_int_equal(n, 2);
	assert_string_equal(dests[0], "local");
	assert_string_equal(dests[1], "offsite");
	cfg_list_free(dests, n);

	struct arca_config *local = cfg_section(cf, CFG_DESTINATION, "local");
	assert_non_null(local);
	assert_int_equal(local->line, 6);
	assert_ptr_equal(local->driver, &drv_dir);
	assert_int_equal(cfg_get_int(local, "pack_size", 0), 64 << 20);

	struct arca_config *rec = cfg_section(cf, CFG_RECOVERY, NULL);
	assert_non_null(rec);
	assert_int_equal(rec->line, 31);
	assert_string_equal(cfg_get(rec, "pre_hook"), "systemctl stop app");
	assert_null(cfg_get(rec, "post_hook"));
	assert_null(cfg_section(cf, CFG_TARGET, "nope"));
	done(cf, &errs);
}

static void test_defaults(void **state)
{
	(void)state;
	struct cfg_file *cf;
	struct cfg_errors errs;
	assert_int_equal(check("[engine]\n" DEST_LOCAL
			       "[target db]\ndriver = postgres\nconninfo = x\n"
			       "destinations = local\n", &cf, &errs), 0);
	struct arca_config *eng = cfg_section(cf, CFG_ENGINE, NULL);
	/* $(localstatedir) as configured (tests/unit/config.am) */
	assert_string_equal(cfg_get(eng, "state_dir"), ARCA_LOCALSTATEDIR "/lib/arca");
	assert_string_equal(cfg_get(eng, "log_level"), "info");
	assert_non_null(cfg_get(eng, "plugin_dir"));
	assert_int_equal(cfg_get(eng, "plugin_dir")[0], '/');
	assert_int_equal(cfg_get_int(eng, "workers", 99), 0);
	assert_null(cfg_get(eng, "hostname"));
	assert_null(cfg_get(eng, "no_such_key"));
	assert_int_equal(cfg_get_int(eng, "no_such_key", 42), 42);

	struct arca_config *local = cfg_section(cf, CFG_DESTINATION, "local");
	assert_string_equal(cfg_get(local, "encryption"), "aes-256-gcm");
	assert_int_equal(cfg_get_int(local, "compression", 0), 2); /* the default: REPO_ZSTD_LEVEL_DEFAULT */
	assert_int_equal(cfg_get_int(local, "pack_size", 0), 32 << 20);
	assert_int_equal(cfg_get_bool(local, "fsync", 0), 1);

	struct arca_config *db = cfg_section(cf, CFG_TARGET, "db");
	assert_string_equal(cfg_get(db, "mode"), "logical");
	assert_int_equal(cfg_get_int(db, "jobs", 0), 4);
	assert_int_equal(cfg_get_int(db, "timeout", 0), 30);
	assert_int_equal(cfg_get_bool(db, "checksums", 0), 1);
	assert_null(cfg_get(db, "retention"));
	size_t n = 7;
	assert_null(cfg_get_list(db, "retention", &n));
	assert_int_equal(n, 0);
	done(cf, &errs);
}

/* ---- syntax ---- */

static void test_syntax_errors(void **state)
{
	(void)state;
	struct cfg_file *cf;
	struct cfg_errors errs;
	check("orphan = 1\n"                 /* 1 */
	      "[engine\n"                    /* 2 */
	      "workers = 2\n"                /* 3: dropped with the bad header */
	      "[engine] junk\n"              /* 4 */
	      "[engine]\n"                   /* 5 */
	      "this line has no equals\n"    /* 6 */
	      "= 5\n"                        /* 7 */
	      "workers = 2\n",               /* 8 */
	      &cf, &errs);
	expect_count(&errs, 5);
	expect_msg(&errs, 0, 1, "'orphan'", "before any section", NULL);
	expect_msg(&errs, 1, 2, "missing its closing ']'", NULL);
	expect_msg(&errs, 2, 4, "unexpected text after", NULL);
	expect_msg(&errs, 3, 6, "expected 'key = value'", NULL);
	expect_msg(&errs, 4, 7, "the key name is missing", NULL);
	/* the bad text itself is never echoed (it may be a mistyped secret) */
	assert_null(strstr(errs.msgs[3], "equals"));
	struct arca_config *eng = cfg_section(cf, CFG_ENGINE, NULL);
	assert_non_null(eng);
	assert_int_equal(eng->line, 5);
	assert_int_equal(cfg_get_int(eng, "workers", 0), 2);
	assert_int_equal(cfg_entry(eng, "workers")->line, 8);
	done(cf, &errs);
}

/* Values of any sensible length (long paths, exclude lists) are read whole,
 * past inih's 200-byte line buffer; a key or header that long is refused. */
static void test_long_line(void **state)
{
	(void)state;
	struct cfg_file *cf;
	struct cfg_errors errs;
	char text[8192], value[4000], key[400];
	memset(value, 'x', sizeof value - 1);
	value[sizeof value - 1] = 0;
	memset(key, 'k', sizeof key - 1);
	key[sizeof key - 1] = 0;
	snprintf(text, sizeof text, "[engine]\nhostname = %s   ; a comment\nworkers = 1\n%s = 2\n",
		 value, key);
	check(text, &cf, &errs);
	expect_count(&errs, 1);
	expect_msg(&errs, 0, 4, "characters long", NULL);
	struct arca_config *eng = cfg_section(cf, CFG_ENGINE, NULL);
	assert_non_null(cfg_entry(eng, "hostname"));
	assert_int_equal(strlen(cfg_entry(eng, "hostname")->value), strlen(value));
	assert_string_equal(cfg_entry(eng, "hostname")->value, value);
	assert_int_equal(cfg_entry(eng, "hostname")->line, 2);
	/* nothing of the long line leaks into the next one */
	assert_int_equal(cfg_entry(eng, "workers")->line, 3);
	done(cf, &errs);
}

/* ---- sections ---- */

static void test_sections(void **state)
{
	(void)state;
	struct cfg_file *cf;
	struct cfg_errors errs;
	check("[destinaton local]\n"       /* 1 */
	      "driver = dir\n"             /* 2: ignored with its section */
	      "[backups]\n"                /* 3 */
	      "[target]\n"                 /* 4 */
	      "[engine main]\n"            /* 5 */
	      "[target my db]\n"           /* 6 */
	      "[ engine ] ; comment\n"     /* 7: fine */
	      "[engine]\n"                 /* 8 */
	      DEST_LOCAL                   /* 9-12 */
	      "[destination local]\n"      /* 13 */
	      "driver = dir\n",            /* 14 */
	      &cf, &errs);
	expect_count(&errs, 7);
	expect_msg(&errs, 0, 1, "unknown section [destinaton local]",
		   "did you mean [destination local]?", NULL);
	expect_msg(&errs, 1, 3, "unknown section [backups]", "[target NAME]", NULL);
	expect_msg(&errs, 2, 4, "[target] needs a name", NULL);
	expect_msg(&errs, 3, 5, "[engine] takes no name", NULL);
	expect_msg(&errs, 4, 6, "bad name 'my db'", NULL);
	expect_msg(&errs, 5, 8, "duplicate section [engine]", "first at line 7", NULL);
	expect_msg(&errs, 6, 13, "duplicate section [destination local]", "first at line 9",
		   NULL);
	done(cf, &errs);

	check(DEST_LOCAL "[destination local]\ndriver = dir\npath = /x\n", &cf, &errs);
	expect_count(&errs, 1);
	expect_msg(&errs, 0, 5, "duplicate section [destination local]", "first at line 1",
		   NULL);
	/* lookups find the first one */
	assert_int_equal(cfg_section(cf, CFG_DESTINATION, "local")->line, 1);
	done(cf, &errs);
}

/* ---- keys ---- */

static void test_duplicate_and_unknown_keys(void **state)
{
	(void)state;
	struct cfg_file *cf;
	struct cfg_errors errs;
	check(DEST_LOCAL           /* 1-4 */
	      "pathh = /x\n"       /* 5 */
	      "path = /y\n"        /* 6 */
	      "colour = blue\n"    /* 7 */
	      "[engine]\n"         /* 8 */
	      "worker = 3\n",      /* 9 */
	      &cf, &errs);
	expect_count(&errs, 4);
	expect_msg(&errs, 0, 5, "unknown key 'pathh' in [destination local]",
		   "(did you mean 'path'?)", NULL);
	expect_msg(&errs, 1, 6, "duplicate key 'path' in [destination local]",
		   "already set at line 3", NULL);
	expect_msg(&errs, 2, 7, "unknown key 'colour' in [destination local]",
		   "valid keys: driver, passphrase_file, passphrase_env, encryption, compression, "
		   "pack_size, path, fsync", NULL);
	expect_msg(&errs, 3, 9, "unknown key 'worker' in [engine]", "did you mean 'workers'?",
		   NULL);
	/* the first value stays */
	assert_string_equal(cfg_get(cfg_section(cf, CFG_DESTINATION, "local"), "path"),
			    "/srv/backup");
	done(cf, &errs);
}

static void test_missing_required(void **state)
{
	(void)state;
	struct cfg_file *cf;
	struct cfg_errors errs;
	check(DEST_LOCAL              /* 1-4 */
	      "[target db]\n"         /* 5 */
	      "driver = postgres\n"   /* 6 */
	      "\n"                    /* 7 */
	      "[destination bare]\n"  /* 8 */
	      "path = /srv/bare\n"    /* 9 */
	      "passphrase_env = P\n"  /* 10 */
	      "[target empty]\n",     /* 11 */
	      &cf, &errs);
	expect_count(&errs, 5);
	expect_msg(&errs, 0, 5, "[target db] needs 'destinations'", NULL);
	expect_msg(&errs, 1, 5, "[target db] needs 'conninfo' (driver postgres: libpq "
		   "connection string)", NULL);
	expect_msg(&errs, 2, 8, "[destination bare] needs 'driver'", NULL);
	expect_msg(&errs, 3, 11, "[target empty] needs 'driver'", NULL);
	expect_msg(&errs, 4, 11, "[target empty] needs 'destinations'", NULL);
	/* without a driver, its keys are neither required nor unknown */
	done(cf, &errs);

	/* a required key given empty */
	check(DEST_LOCAL "[target db]\ndriver = postgres\nconninfo =\ndestinations = local\n",
	      &cf, &errs);
	expect_count(&errs, 1);
	expect_msg(&errs, 0, 7, "'conninfo' in [target db] is empty, and it is required", NULL);
	done(cf, &errs);
}

/* an encrypted destination (the default) cannot work without a passphrase */
static void test_passphrase_required(void **state)
{
	(void)state;
	struct cfg_file *cf;
	struct cfg_errors errs;
	unsetenv("ARCA_PASSPHRASE");   /* the environment fallback would satisfy it */
	check("[destination bare]\npath = /srv/bare\n", &cf, &errs);
	expect_count(&errs, 2);
	expect_msg(&errs, 0, 1, "[destination bare] needs 'driver'", NULL);
	expect_msg(&errs, 1, 1, "needs 'passphrase_file' or 'passphrase_env'",
		   "encryption = none", NULL);
	done(cf, &errs);

	check("[destination plain]\ndriver = dir\npath = /x\nencryption = none\n", &cf, &errs);
	expect_count(&errs, 0);
	done(cf, &errs);
}

/* ---- values ---- */

static void test_bad_values(void **state)
{
	(void)state;
	struct cfg_file *cf;
	struct cfg_errors errs;
	check("[engine]\n"                    /* 1 */
	      "workers = 300\n"               /* 2 */
	      "log_level = debgu\n"           /* 3 */
	      "state_dir = var/lib/arca\n"    /* 4 */
	      "workers2 = 1\n"                /* 5 */
	      DEST_LOCAL                      /* 6-9 */
	      "fsync = maybe\n"               /* 10 */
	      "pack_size = 2M\n"              /* 11 */
	      "compression = fast\n"          /* 12 */
	      "encryption = rot13\n"          /* 13 */
	      "[target db]\n"                 /* 14 */
	      "driver = postgres\n"           /* 15 */
	      "conninfo = x\n"                /* 16 */
	      "destinations = local,,local\n" /* 17 */
	      "jobs = 0\n"                    /* 18 */
	      "timeout = 2h\n"                /* 19 */
	      "mode = logcal\n"               /* 20 */
	      "checksums = 1\n",              /* 21: fine */
	      &cf, &errs);
	expect_count(&errs, 13);
	expect_msg(&errs, 0, 2, "'workers' in [engine] must be a whole number from 0 to 256",
		   "got '300'", NULL);
	expect_msg(&errs, 1, 3, "'log_level' in [engine] must be one of: error, warn, info, "
		   "debug", "did you mean 'debug'?", "got 'debgu'", NULL);
	expect_msg(&errs, 2, 4, "'state_dir' in [engine] must be an absolute path", NULL);
	expect_msg(&errs, 3, 5, "unknown key 'workers2'", "did you mean 'workers'?", NULL);
	expect_msg(&errs, 4, 10, "'fsync' in [destination local] must be yes or no",
		   "got 'maybe'", NULL);
	expect_msg(&errs, 5, 11, "'pack_size' in [destination local] must be a size",
		   "from 4M to 1G", "got '2M'", NULL);
	expect_msg(&errs, 6, 12, "'compression' in [destination local] must be a whole number "
		   "from 1 to 19", NULL);
	expect_msg(&errs, 7, 13, "'encryption'", "must be one of: aes-256-gcm, none", NULL);
	expect_msg(&errs, 8, 17, "'destinations' in [target db] must be a comma-separated "
		   "list without empty items", NULL);
	expect_msg(&errs, 9, 17, "'destinations' in [target db] names local twice", NULL);
	expect_msg(&errs, 10, 18, "'jobs' in [target db] must be a whole number from 1 to 16",
		   NULL);
	expect_msg(&errs, 11, 19, "'timeout' in [target db] must be a duration",
		   "from 1s to 1h", "got '2h'", NULL);
	expect_msg(&errs, 12, 20, "'mode'", "must be one of: logical, physical",
		   "did you mean 'logical'?", NULL);
	done(cf, &errs);
}

/* ---- secrets ---- */

static void test_secret_rules(void **state)
{
	(void)state;
	struct cfg_file *cf;
	struct cfg_errors errs;
	check("[destination a]\n"               /* 1 */
	      "driver = dir\n"                  /* 2 */
	      "path = /a\n"                     /* 3 */
	      "passphrase = hunter2\n"          /* 4 */
	      "[destination b]\n"               /* 5 */
	      "driver = dir\n"                  /* 6 */
	      "path = /b\n"                     /* 7 */
	      "passphrase_file = secrets/b\n"   /* 8 */
	      "[destination c]\n"               /* 9 */
	      "driver = dir\n"                  /* 10 */
	      "path = /c\n"                     /* 11 */
	      "passphrase_env = C_PASS\n"       /* 12 */
	      "passphrase_file = /etc/c\n"      /* 13 */
	      "[destination d]\n"               /* 14 */
	      "driver = dir\n"                  /* 15 */
	      "path = /d\n"                     /* 16 */
	      "passphrase_env = 9-lives\n",     /* 17 */
	      &cf, &errs);
	expect_count(&errs, 5);
	/* [destination a] has no usable passphrase: the inline one is refused */
	expect_msg(&errs, 0, 1, "[destination a] needs 'passphrase_file' or 'passphrase_env'",
		   NULL);
	expect_msg(&errs, 1, 4, "'passphrase' in [destination a] is a secret",
		   "secrets are not written in the config: use passphrase_file = /path or "
		   "passphrase_env = VARIABLE", NULL);
	expect_msg(&errs, 2, 8, "'passphrase_file' in [destination b] must be an absolute path",
		   NULL);
	expect_msg(&errs, 3, 13, "both passphrase_file and passphrase_env are set in "
		   "[destination c]: keep one", NULL);
	expect_msg(&errs, 4, 17, "'passphrase_env' in [destination d] must name an environment "
		   "variable", NULL);
	/* the secret's value is never echoed */
	for (size_t i = 0; i < errs.n; i++)
		assert_null(strstr(errs.msgs[i], "hunter2"));
	done(cf, &errs);
}

static char tmpdir[64];

static int make_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test_config.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	(void)state;
	return remove_tree(tmpdir);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static struct arca_config *single_dest(struct cfg_file **cf, const char *extra)
{
	struct cfg_errors errs;
	char *text = xasprintf("[destination x]\ndriver = dir\npath = /x\n%s", extra);
	assert_int_equal(check(text, cf, &errs), 0);
	free(text);
	cfg_errors_free(&errs);
	return cfg_section(*cf, CFG_DESTINATION, "x");
}

static void test_secret_file(void **state)
{
	(void)state;
	char path[128], *extra, *out = (char *)"untouched";
	struct cfg_file *cf;
	snprintf(path, sizeof path, "%s/pass", tmpdir);
	write_text(path, "s3cret phrase\r\nsecond line is not part of it\n", 0600);
	extra = xasprintf("passphrase_file = %s\n", path);
	struct arca_config *sec = single_dest(&cf, extra);
	assert_int_equal(cfg_secret(sec, "passphrase", &out), ARCA_OK);
	assert_string_equal(out, "s3cret phrase");
	free(out);

	/* unreadable: CONFIG, naming the file and why, never the content */
	unlink(path);
	assert_int_equal(cfg_secret(sec, "passphrase", &out), ARCA_ERR_CONFIG);
	assert_null(out);
	assert_non_null(strstr(err_msg(), path));
	assert_non_null(strstr(err_msg(), strerror(ENOENT)));
	assert_non_null(strstr(err_msg(), "t.ini:4"));

	/* an empty first line is not a passphrase */
	write_text(path, "\nsecond\n", 0600);
	assert_int_equal(cfg_secret(sec, "passphrase", &out), ARCA_ERR_CONFIG);
	assert_null(out);
	assert_non_null(strstr(err_msg(), "empty first line"));
	assert_null(strstr(err_msg(), "second"));
	cfg_free(cf);
	free(extra);
}

static void test_secret_env(void **state)
{
	(void)state;
	char *out = NULL;
	struct cfg_file *cf;
	struct arca_config *sec = single_dest(&cf, "passphrase_env = ARCA_TEST_CFG_PASS\n");
	setenv("ARCA_TEST_CFG_PASS", "from the environment", 1);
	assert_int_equal(cfg_secret(sec, "passphrase", &out), ARCA_OK);
	assert_string_equal(out, "from the environment");
	free(out);
	out = NULL;

	unsetenv("ARCA_TEST_CFG_PASS");
	assert_int_equal(cfg_secret(sec, "passphrase", &out), ARCA_ERR_CONFIG);
	assert_null(out);
	assert_non_null(strstr(err_msg(), "ARCA_TEST_CFG_PASS"));
	assert_non_null(strstr(err_msg(), "not set"));

	/* a secret the section does not configure */
	assert_int_equal(cfg_secret(sec, "token", &out), ARCA_ERR_NOT_FOUND);
	assert_null(out);
	cfg_free(cf);
}

/* ---- drivers ---- */

static void test_drivers(void **state)
{
	(void)state;
	struct cfg_file *cf;
	struct cfg_errors errs;
	check(DEST_LOCAL                   /* 1-4 */
	      "[target db]\n"              /* 5 */
	      "driver = postgress\n"       /* 6 */
	      "conninfo = x\n"             /* 7 */
	      "destinations = local\n"     /* 8 */
	      "unknown_to_all = 1\n"       /* 9: not reported, the driver is unknown */
	      "[target t2]\n"              /* 10 */
	      "driver = mysql\n"           /* 11 */
	      "destinations = local\n"     /* 12 */
	      "[target t3]\n"              /* 13 */
	      "driver = dir\n"             /* 14 */
	      "destinations = local\n"     /* 15 */
	      "path = /x\n"                /* 16: not reported either */
	      "[destination d2]\n"         /* 17 */
	      "driver = files\n"           /* 18 */
	      "encryption = none\n"        /* 19 */
	      "compression = 99\n"         /* 20: engine keys are still checked */
	      "[target t4]\n"              /* 21 */
	      "driver =\n"                 /* 22 */
	      "destinations = local\n",    /* 23 */
	      &cf, &errs);
	expect_count(&errs, 6);
	expect_msg(&errs, 0, 6, "unknown driver 'postgress' (did you mean 'postgres'?); "
		   "installed drivers: dir, files, postgres", NULL);
	expect_msg(&errs, 1, 11, "unknown driver 'mysql'; installed drivers: dir, files, "
		   "postgres", NULL);
	expect_msg(&errs, 2, 14, "driver 'dir' is a destination driver", "[target t3]",
		   "use it in a [destination NAME] section", NULL);
	expect_msg(&errs, 3, 18, "driver 'files' is a target driver", "[destination d2]",
		   "use it in a [target NAME] section", NULL);
	expect_msg(&errs, 4, 20, "'compression' in [destination d2]", "from 1 to 19", NULL);
	expect_msg(&errs, 5, 22, "'driver' is empty; installed drivers: dir, files, postgres",
		   NULL);
	assert_null(cfg_section(cf, CFG_TARGET, "db")->driver);
	done(cf, &errs);

	/* no drivers installed at all */
	memset(&errs, 0, sizeof errs);
	cfg_load_string("t.ini", DEST_LOCAL, &cf, &errs);
	assert_int_equal(cfg_validate(cf, NULL, NULL, NULL, 0, &errs), 1);
	expect_msg(&errs, 0, 2, "unknown driver 'dir'", "installed drivers: none", NULL);
	done(cf, &errs);
}

static void test_lookup_called_once_per_section(void **state)
{
	(void)state;
	struct cfg_file *cf;
	struct cfg_errors errs = {0};
	int calls = 0;
	cfg_load_string("t.ini", valid_ini, &cf, &errs);
	assert_int_equal(cfg_validate(cf, lookup, &calls, installed, 3, &errs), 0);
	assert_int_equal(calls, 4); /* local, offsite, app-db, media */
	done(cf, &errs);
}

/* ---- references between sections ---- */

static void test_references(void **state)
{
	(void)state;
	struct cfg_file *cf;
	struct cfg_errors errs;
	check(DEST_LOCAL                           /* 1-4 */
	      "[target db]\n"                      /* 5 */
	      "driver = postgres\n"                /* 6 */
	      "conninfo = x\n"                     /* 7 */
	      "destinations = locl, offsite\n"     /* 8 */
	      "[target media]\n"                   /* 9 */
	      "driver = files\n"                   /* 10 */
	      "paths = /srv\n"                     /* 11 */
	      "destinations =\n"                   /* 12 */
	      "[recovery]\n"                       /* 13 */
	      "order = db, mediaa, search\n",      /* 14 */
	      &cf, &errs);
	expect_count(&errs, 5);
	expect_msg(&errs, 0, 8, "names [destination locl], which is not defined",
		   "did you mean 'local'?", NULL);
	expect_msg(&errs, 1, 8, "names [destination offsite], which is not defined in this file",
		   NULL);
	expect_msg(&errs, 2, 12, "'destinations' in [target media] is empty, and it is required",
		   NULL);
	expect_msg(&errs, 3, 14, "'order' in [recovery] names [target mediaa]",
		   "did you mean 'media'?", NULL);
	expect_msg(&errs, 4, 14, "names [target search], which is not defined in this file",
		   NULL);
	done(cf, &errs);
}

/* ---- retention ---- */

static void test_retention_in_config(void **state)
{
	(void)state;
	struct cfg_file *cf;
	struct cfg_errors errs;
	check(DEST_LOCAL "[target db]\ndriver = postgres\nconninfo = x\ndestinations = local\n"
	      "retention = last=7, dayly=30\n", &cf, &errs);
	expect_count(&errs, 1);
	expect_msg(&errs, 0, 9, "'retention' in [target db] is not a valid policy",
		   "unknown rule 'dayly' (did you mean 'daily'?)", NULL);
	done(cf, &errs);
}

/* Validation and `arca forget` share retention_parse: an empty item is an
 * error for both (test_repo_retention.c checks the forget side). */
static void test_retention_empty_item(void **state)
{
	(void)state;
	struct cfg_file *cf;
	struct cfg_errors errs;
	check(DEST_LOCAL "[target db]\ndriver = postgres\nconninfo = x\ndestinations = local\n"
	      "retention = daily=7,,weekly=4\n", &cf, &errs);
	expect_count(&errs, 1);
	expect_msg(&errs, 0, 9, "'retention' in [target db] is not a valid policy",
		   "empty rule (two commas in a row?)", NULL);
	done(cf, &errs);
	check(DEST_LOCAL "[target db]\ndriver = postgres\nconninfo = x\ndestinations = local\n"
	      "retention = daily=7,\n", &cf, &errs);
	expect_count(&errs, 1);
	expect_msg(&errs, 0, 9, "empty rule", NULL);
	done(cf, &errs);
	/* an all-blank policy has no rules: everything is kept */
	check(DEST_LOCAL "[target db]\ndriver = postgres\nconninfo = x\ndestinations = local\n"
	      "retention =   \n", &cf, &errs);
	expect_count(&errs, 0);
	done(cf, &errs);
}

/* ---- order of everything ---- */

static void test_errors_in_file_order(void **state)
{
	(void)state;
	struct cfg_file *cf;
	struct cfg_errors errs;
	/* a validation error (line 2) and a syntax error (line 5) found in
	 * different passes come out sorted by line */
	check("[engine]\nworkers = -1\n" DEST_LOCAL "oops\n", &cf, &errs);
	expect_count(&errs, 2);
	expect_msg(&errs, 0, 2, "'workers'", NULL);
	expect_msg(&errs, 1, 7, "expected 'key = value'", NULL);
	done(cf, &errs);
}

/* ---- files ---- */

static void test_load_file(void **state)
{
	(void)state;
	char path[128];
	struct cfg_file *cf;
	struct cfg_errors errs = {0};
	snprintf(path, sizeof path, "%s/arca.ini", tmpdir);
	/* a UTF-8 BOM and CRLF line endings, as an editor on Windows writes */
	write_text(path, "\xEF\xBB\xBF[engine]\r\nworkers = 2\r\n\r\n[engine]\r\n", 0644);
	assert_int_equal(cfg_load(path, &cf, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_string_equal(cf->path, path);
	struct arca_config *eng = cfg_section(cf, CFG_ENGINE, NULL);
	assert_int_equal(eng->line, 1);
	assert_string_equal(cfg_get(eng, "workers"), "2");
	assert_int_equal(cfg_validate(cf, lookup, NULL, installed, 3, &errs), 1);
	char *want = xasprintf("%s:4: duplicate section [engine]", path);
	assert_true(str_starts(errs.msgs[0], want));
	free(want);
	done(cf, &errs);
}

static void test_load_missing_file(void **state)
{
	(void)state;
	char path[128];
	struct cfg_file *cf = (struct cfg_file *)&cf;
	struct cfg_errors errs = {0};
	snprintf(path, sizeof path, "%s/does-not-exist.ini", tmpdir);
	assert_int_equal(cfg_load(path, &cf, &errs), -1);
	assert_null(cf);
	assert_int_equal(errs.n, 1);
	char *want = xasprintf("%s: cannot open the config file: %s", path, strerror(ENOENT));
	assert_true(str_starts(errs.msgs[0], want));
	assert_non_null(strstr(errs.msgs[0], "-c FILE"));
	free(want);
	cfg_errors_free(&errs);

	/* a directory opens but cannot be read */
	assert_int_equal(cfg_load(tmpdir, &cf, &errs), -1);
	assert_null(cf);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.msgs[0], strerror(EISDIR)));
	cfg_errors_free(&errs);
}

static void test_option_tables(void **state)
{
	(void)state;
	/* every engine option says what it is for; enums list their choices */
	const struct arca_option *tables[] = {cfg_engine_options, cfg_dest_common_options,
					      cfg_target_common_options, cfg_recovery_options};
	size_t count = 0;
	for (size_t i = 0; i < ARRAY_LEN(tables); i++) {
		for (const struct arca_option *o = tables[i]; o->name; o++, count++) {
			assert_non_null(o->help);
			if (o->type == ARCA_OPT_ENUM)
				assert_non_null(o->choices);
		}
	}
	assert_int_equal(count, 5 + 5 + 4 + 6); /* [recovery]: order, 3 hooks, health, scratch_dir */
	assert_string_equal(cfg_kind_name(CFG_DESTINATION), "destination");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_config),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_duplicate_and_unknown_keys),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_passphrase_required),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_secret_rules),
		cmocka_unit_test(test_secret_file),
		cmocka_unit_test(test_secret_env),
		cmocka_unit_test(test_drivers),
		cmocka_unit_test(test_lookup_called_once_per_section),
		cmocka_unit_test(test_references),
		cmocka_unit_test(test_retention_in_config),
		cmocka_unit_test(test_retention_empty_item),
		cmocka_unit_test(test_errors_in_file_order),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_missing_file),
		cmocka_unit_test(test_option_tables),
	};
	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
