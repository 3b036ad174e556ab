/* test_loader.c — the driver loader refuses unsafe and broken modules, each
 * with a reason naming the file, and loads good ones.
 *
 * The modules are built by tests/unit/loader.am into TEST_MODULES_DIR; each
 * test copies what it needs into a fresh temp dir and sets modes/owners. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "loader.h"
#include "log.h"
#include "util.h"

/* A test that cannot run here says so in the log in the line tests/run
 * counts ("SKIP-STEP: ..."), then calls cmocka's skip(); with
 * ARCA_TESTS_NO_SKIP set it fails instead (as common.sh's skip_step). */
static void skip_step(const char *test, const char *why)
{
	const char *strict = getenv("ARCA_TESTS_NO_SKIP");
	if (strict && *strict)
		fail_msg("%s was skipped (%s) and ARCA_TESTS_NO_SKIP is set", test, why);
	printf("SKIP-STEP: test_loader: %s: %s\n", test, why);
	fflush(stdout);
}

static void test_log(enum arca_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

static const struct arca_host host = {
	.struct_size = sizeof(struct arca_host),
	.abi_major = ARCA_ABI_MAJOR,
	.abi_minor = ARCA_ABI_MINOR,
	.engine_version = "0.1.0",
	.log = test_log,
};

#define assert_contains(s, needle)                                                  \
	do {                                                                        \
		const char *s_ = (s);                                               \
		if (!s_ || !strstr(s_, (needle)))                                   \
			fail_msg("expected \"%s\" in: %s", (needle), s_ ? s_ : "(null)"); \
	} while (0)

#define assert_not_contains(s, needle)                                              \
	do {                                                                        \
		const char *s_ = (s);                                               \
		if (strstr(s_, (needle)))                                           \
			fail_msg("did not expect \"%s\" in: %s", (needle), s_);     \
	} while (0)

/* A fresh private dir, mode 0755, like an installed plugin dir. */
static char *make_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = xasprintf("%s/arca-loader.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	return dir;
}

static int setup(void **state)
{
	*state = make_dir();
	err_clear();
	return 0;
}

static int teardown(void **state)
{
	char *dir = *state;
	/* a test may leave the dir read-only or group-writable: make it removable */
	chmod(dir, 0755);
	remove_tree(dir);
	free(dir);
	return 0;
}

/* Copy module `name` (e.g. "good") to dir/as with `mode`; returns the path. */
static char *put_module(const char *dir, const char *name, const char *as, mode_t mode)
{
	char *src = xasprintf("%s/%s.so", TEST_MODULES_DIR, name);
	char *data;
	size_t len;
	if (read_file(src, &data, &len) < 0)
		fail_msg("cannot read test module %s: %s (was `make check` used to build it?)",
			 src, strerror(errno));
	char *path = xasprintf("%s/%s", dir, as);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
	free(data);
	free(src);
	return path;
}

/* Load dir/file with loader_load_file and expect a refusal naming the file
 * and containing `why`. */
static void expect_refused(const char *path, const char *why)
{
	struct loaded_driver d;
	err_clear();
	assert_int_equal(loader_load_file(path, &host, &d), ARCA_ERR_PLUGIN);
	assert_int_equal(err_status(), ARCA_ERR_PLUGIN);
	assert_contains(err_msg(), path);
	assert_contains(err_msg(), why);
	assert_null(d.handle);
	assert_null(d.path);
}

static void refuse_module(void **state, const char *name, const char *why)
{
	char *path = put_module(*state, name, "m.so", 0644);
	expect_refused(path, why);
	free(path);
}

/* ---------------------------------------------------------------------- */

static void good_module_loads(void **state)
{
	char *path = put_module(*state, "good", "good.so", 0755);
	struct loaded_driver d;
	assert_int_equal(loader_load_file(path, &host, &d), ARCA_OK);
	assert_non_null(d.handle);
	assert_string_equal(d.path, path);
	assert_string_equal(d.drv->name, "good");
	assert_string_equal(d.drv->version, "1.2.3");
	assert_non_null(d.drv->target);
	assert_null(d.drv->dest);
	assert_string_equal(d.drv->target_options[0].name, "path");
	assert_string_equal(d.drv->target_options[1].choices, "fast|slow");
	assert_null(d.drv->target_options[4].name);
	loader_unload(&d);
	assert_null(d.handle);
	assert_null(d.path);
	free(path);
}

static void world_writable_module_refused(void **state)
{
	char *path = put_module(*state, "good", "good.so", 0646);
	expect_refused(path, "world-writable");
	expect_refused(path, "chmod go-w");
	free(path);
}

static void group_writable_module_refused(void **state)
{
	char *path = put_module(*state, "good", "good.so", 0664);
	expect_refused(path, "group-writable");
	assert_not_contains(err_msg(), "world-writable");
	free(path);
}

static void foreign_owned_module_refused(void **state)
{
	struct passwd *nobody = getpwnam("nobody");
	if (geteuid() != 0 || !nobody) {
		skip_step(__func__, "needs root and a user called nobody");
		skip();
	}
	char *path = put_module(*state, "good", "good.so", 0644);
	assert_int_equal(chown(path, nobody->pw_uid, (gid_t)-1), 0);
	expect_refused(path, "owned by uid");
	expect_refused(path, "nobody");
	free(path);
}

static void abi2_refused(void **state)
{
	refuse_module(state, "abi2", "built for ABI 2, this arca speaks ABI 1");
	assert_contains(err_msg(), "rebuild the driver against arca-plugin >= 0.1.0");
}

static void missing_entry_refused(void **state)
{
	refuse_module(state, "nosym", "does not export arca_driver_entry");
}

static void null_entry_refused(void **state)
{
	refuse_module(state, "nullentry", "arca_driver_entry returned NULL");
}

static void bad_name_refused(void **state)
{
	refuse_module(state, "badname", "its name \"Bad Name!\" is not valid");
}

static void small_descriptor_refused(void **state)
{
	refuse_module(state, "tiny", "smaller than the");
	assert_contains(err_msg(), "descriptor declares struct_size");
}

static void no_ops_refused(void **state)
{
	refuse_module(state, "noops", "neither target ops nor destination ops");
}

static void small_dest_ops_refused(void **state)
{
	refuse_module(state, "smallops", "destination ops table declares struct_size");
}

static void bad_option_table_refused(void **state)
{
	refuse_module(state, "badopts", "enum key \"level\" without choices");
}

static void garbage_file_refused(void **state)
{
	char *path = xasprintf("%s/junk.so", (char *)*state);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("this is not a shared object\n", f);
	assert_int_equal(fclose(f), 0);
	expect_refused(path, "could not be loaded");
	/* libltdl alone would say "file not found" of a file that is there */
	assert_not_contains(err_msg(), "file not found");
	free(path);
}

static void missing_symbol_named(void **state)
{
	refuse_module(state, "missingsym", "could not be loaded");
	assert_contains(err_msg(), "arca_test_missing_symbol");
}

static void relative_module_path_refused(void **state)
{
	expect_refused("good.so", "absolute path");
}

static void directory_named_so_refused(void **state)
{
	char *path = xasprintf("%s/dir.so", (char *)*state);
	assert_int_equal(mkdir(path, 0755), 0);
	expect_refused(path, "not a regular file");
	free(path);
}

static void symlink_to_safe_module_loads(void **state)
{
	char *target = put_module(*state, "good", "good.so.1.0.0", 0644);
	char *link = xasprintf("%s/good.so", (char *)*state);
	assert_int_equal(symlink("good.so.1.0.0", link), 0);
	struct loaded_driver d;
	assert_int_equal(loader_load_file(link, &host, &d), ARCA_OK);
	assert_string_equal(d.drv->name, "good");
	loader_unload(&d);
	free(link);
	free(target);
}

static void symlink_to_unsafe_module_refused(void **state)
{
	/* the link lives in a safe dir, its target is world-writable elsewhere */
	char *other = make_dir();
	char *target = put_module(other, "good", "good.so", 0666);
	char *link = xasprintf("%s/good.so", (char *)*state);
	assert_int_equal(symlink(target, link), 0);
	expect_refused(link, "symbolic link");
	expect_refused(link, "world-writable");
	expect_refused(link, target);

	/* safe target file, but in a directory anyone can write to */
	assert_int_equal(chmod(target, 0644), 0);
	assert_int_equal(chmod(other, 0777), 0);
	expect_refused(link, "world-writable");
	expect_refused(link, other);

	assert_int_equal(chmod(other, 0755), 0);
	struct loaded_driver d;
	assert_int_equal(loader_load_file(link, &host, &d), ARCA_OK);
	loader_unload(&d);

	remove_tree(other);
	free(other);
	free(target);
	free(link);
}

/* ---------------------------------------------------------------------- */

static void plugin_dir_loads_good_and_skips_other_files(void **state)
{
	const char *dir = *state;
	char *good = put_module(dir, "good", "good.so", 0755);
	char *la = xasprintf("%s/good.la", dir);
	FILE *f = fopen(la, "w");
	assert_non_null(f);
	fputs("# libtool archive: not a module to load\n", f);
	assert_int_equal(fclose(f), 0);
	char *hidden = put_module(dir, "abi2", ".hidden.so", 0644);

	struct loader ld;
	assert_int_equal(loader_open(&ld, dir, &host), ARCA_OK);
	assert_string_equal(ld.plugin_dir, dir);
	assert_int_equal(ld.n_drivers, 1);
	assert_int_equal(ld.n_refused, 0);
	assert_string_equal(ld.drivers[0].path, good);
	const struct arca_driver *drv = loader_find(&ld, "good");
	assert_non_null(drv);
	assert_ptr_equal(drv, ld.drivers[0].drv);
	assert_null(loader_find(&ld, "goo"));
	loader_close(&ld);
	assert_int_equal(ld.n_drivers, 0);
	assert_null(ld.drivers);
	free(hidden);
	free(la);
	free(good);
}

/* Run loader_open with stderr captured, so the warnings can be checked. */
static int open_capturing(struct loader *ld, const char *dir, char **log)
{
	char *logpath = xasprintf("%s.log", dir);
	fflush(stderr);
	int saved = dup(2);
	int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	close(fd);
	int rc = loader_open(ld, dir, &host);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_int_equal(read_file(logpath, log, NULL), 0);
	unlink(logpath);
	free(logpath);
	return rc;
}

static void plugin_dir_keeps_and_logs_refusals(void **state)
{
	const char *dir = *state;
	char *paths[] = {
		put_module(dir, "abi2", "abi2.so", 0644),
		put_module(dir, "good", "good.so", 0644),
		put_module(dir, "nosym", "nosym.so", 0644),
		put_module(dir, "good", "writable.so", 0666),
	};
	struct loader ld;
	char *log;
	assert_int_equal(open_capturing(&ld, dir, &log), ARCA_OK);
	assert_int_equal(ld.n_drivers, 1);
	assert_non_null(loader_find(&ld, "good"));
	assert_null(loader_find(&ld, "abi2"));
	assert_int_equal(ld.n_refused, 3);
	/* modules are visited in byte order of their names */
	assert_string_equal(ld.refused[0].path, paths[0]);
	assert_contains(ld.refused[0].reason, "ABI 2");
	assert_string_equal(ld.refused[1].path, paths[2]);
	assert_contains(ld.refused[1].reason, "arca_driver_entry");
	assert_string_equal(ld.refused[2].path, paths[3]);
	assert_contains(ld.refused[2].reason, "world-writable");
	for (size_t i = 0; i < ld.n_refused; i++) {
		assert_contains(log, "warning");
		assert_contains(log, ld.refused[i].path);
		assert_contains(log, ld.refused[i].reason);
	}
	loader_close(&ld);
	free(log);
	for (size_t i = 0; i < ARRAY_LEN(paths); i++)
		free(paths[i]);
}

static void duplicate_name_refused_naming_both(void **state)
{
	const char *dir = *state;
	char *first = put_module(dir, "good", "a.so", 0644);
	char *second = put_module(dir, "good", "b.so", 0644);
	struct loader ld;
	assert_int_equal(loader_open(&ld, dir, &host), ARCA_OK);
	assert_int_equal(ld.n_drivers, 1);
	assert_string_equal(ld.drivers[0].path, first);
	assert_int_equal(ld.n_refused, 1);
	assert_string_equal(ld.refused[0].path, second);
	assert_contains(ld.refused[0].reason, "\"good\" is already taken by");
	assert_contains(ld.refused[0].reason, first);
	loader_close(&ld);
	free(first);
	free(second);
}

/* A command loads the modules of the drivers it names, NAME.so, and no
 * others; the rest only through loader_load_all, each module once. */
static void need_loads_only_the_named_module(void **state)
{
	const char *dir = *state;
	char *good = put_module(dir, "good", "good.so", 0644);
	char *other = put_module(dir, "abi2", "abi2.so", 0644);
	char *elsewhere = put_module(dir, "good", "renamed.so", 0644);
	struct loader ld;
	assert_int_equal(loader_open_dir(&ld, dir), ARCA_OK);
	assert_int_equal(ld.n_drivers, 0);
	const struct arca_driver *drv = loader_need(&ld, "good", &host);
	assert_non_null(drv);
	assert_string_equal(drv->name, "good");
	assert_ptr_equal(loader_need(&ld, "good", &host), drv);
	assert_int_equal(ld.n_drivers, 1);
	assert_string_equal(ld.drivers[0].path, good);
	assert_int_equal(ld.n_refused, 0); /* abi2.so was never opened */
	/* missing: nothing loaded, nothing refused; a name is never a path */
	assert_null(loader_need(&ld, "missing", &host));
	assert_null(loader_need(&ld, "../good", &host));
	assert_null(loader_need(&ld, "", &host));
	assert_int_equal(ld.n_drivers, 1);
	assert_int_equal(ld.n_refused, 0);
	/* the rest, each once: good.so is not loaded twice, so renamed.so's
	 * "good" is the duplicate */
	ld.quiet = 1;
	assert_int_equal(loader_load_all(&ld, &host), ARCA_OK);
	assert_int_equal(ld.n_drivers, 1);
	assert_int_equal(ld.n_refused, 2);
	assert_string_equal(ld.refused[0].path, other);
	assert_string_equal(ld.refused[1].path, elsewhere);
	assert_contains(ld.refused[1].reason, "already taken by");
	assert_int_equal(loader_load_all(&ld, &host), ARCA_OK);
	assert_int_equal(ld.n_refused, 2);
	loader_close(&ld);
	free(good);
	free(other);
	free(elsewhere);
}

/* A refused NAME.so is kept as loader_open keeps it, and tried once. */
static void need_keeps_the_refusal(void **state)
{
	const char *dir = *state;
	char *good = put_module(dir, "good", "good.so", 0666);
	struct loader ld;
	assert_int_equal(loader_open_dir(&ld, dir), ARCA_OK);
	ld.quiet = 1;
	assert_null(loader_need(&ld, "good", &host));
	assert_int_equal(ld.n_refused, 1);
	assert_string_equal(ld.refused[0].path, good);
	assert_contains(ld.refused[0].reason, "world-writable");
	assert_null(loader_need(&ld, "good", &host));
	assert_int_equal(ld.n_refused, 1);
	loader_close(&ld);
	free(good);
}

static void relative_plugin_dir_refused(void **state)
{
	struct loader ld;
	assert_int_equal(loader_open(&ld, "plugins", &host), ARCA_ERR_PLUGIN);
	assert_contains(err_msg(), "\"plugins\" is not an absolute path");
	assert_int_equal(ld.n_drivers, 0);
	loader_close(&ld);
}

static void missing_plugin_dir_refused(void **state)
{
	char *missing = xasprintf("%s/nope", (char *)*state);
	struct loader ld;
	assert_int_equal(loader_open(&ld, missing, &host), ARCA_ERR_PLUGIN);
	assert_contains(err_msg(), missing);
	assert_contains(err_msg(), strerror(ENOENT));
	loader_close(&ld);

	char *file = put_module(*state, "good", "good.so", 0644);
	assert_int_equal(loader_open(&ld, file, &host), ARCA_ERR_PLUGIN);
	assert_contains(err_msg(), "is not a directory");
	loader_close(&ld);
	free(file);
	free(missing);
}

static void writable_plugin_dir_refused(void **state)
{
	const char *dir = *state;
	char *good = put_module(dir, "good", "good.so", 0644);
	struct loader ld;
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(loader_open(&ld, dir, &host), ARCA_ERR_PLUGIN);
	assert_contains(err_msg(), dir);
	assert_contains(err_msg(), "world-writable");
	assert_int_equal(ld.n_drivers, 0);
	loader_close(&ld);

	/* the sticky bit does not make the plugin dir itself acceptable */
	assert_int_equal(chmod(dir, 01777), 0);
	assert_int_equal(loader_open(&ld, dir, &host), ARCA_ERR_PLUGIN);
	loader_close(&ld);

	assert_int_equal(chmod(dir, 0775), 0);
	assert_int_equal(loader_open(&ld, dir, &host), ARCA_ERR_PLUGIN);
	assert_contains(err_msg(), "group-writable");
	loader_close(&ld);
	free(good);
}

static void foreign_owned_plugin_dir_refused(void **state)
{
	struct passwd *nobody = getpwnam("nobody");
	if (geteuid() != 0 || !nobody) {
		skip_step(__func__, "needs root and a user called nobody");
		skip();
	}
	const char *dir = *state;
	assert_int_equal(chown(dir, nobody->pw_uid, (gid_t)-1), 0);
	struct loader ld;
	assert_int_equal(loader_open(&ld, dir, &host), ARCA_ERR_PLUGIN);
	assert_contains(err_msg(), "owned by uid");
	assert_contains(err_msg(), dir);
	loader_close(&ld);
	assert_int_equal(chown(dir, 0, (gid_t)-1), 0);
}

static void writable_parent_dir_refused_unless_sticky(void **state)
{
	const char *parent = *state;
	char *dir = xasprintf("%s/plugins", parent);
	assert_int_equal(mkdir(dir, 0755), 0);
	char *good = put_module(dir, "good", "good.so", 0644);
	struct loader ld;

	assert_int_equal(chmod(parent, 0777), 0);
	assert_int_equal(loader_open(&ld, dir, &host), ARCA_ERR_PLUGIN);
	assert_contains(err_msg(), "a parent of");
	assert_contains(err_msg(), "world-writable");
	loader_close(&ld);
	/* loading the module on its own checks the same directories */
	expect_refused(good, "a parent of");

	/* like /tmp: others cannot rename or replace what we own in it */
	assert_int_equal(chmod(parent, 01777), 0);
	assert_int_equal(loader_open(&ld, dir, &host), ARCA_OK);
	assert_int_equal(ld.n_drivers, 1);
	loader_close(&ld);
	free(good);
	free(dir);
}

static void symlinked_plugin_dir_judged_by_target(void **state)
{
	const char *base = *state;
	char *real = xasprintf("%s/real", base);
	char *link = xasprintf("%s/link", base);
	assert_int_equal(mkdir(real, 0755), 0);
	assert_int_equal(symlink(real, link), 0);
	char *good = put_module(real, "good", "good.so", 0644);
	struct loader ld;
	assert_int_equal(loader_open(&ld, link, &host), ARCA_OK);
	assert_int_equal(ld.n_drivers, 1);
	loader_close(&ld);

	assert_int_equal(chmod(real, 0777), 0);
	assert_int_equal(loader_open(&ld, link, &host), ARCA_ERR_PLUGIN);
	assert_contains(err_msg(), "world-writable");
	loader_close(&ld);
	assert_int_equal(chmod(real, 0755), 0);
	free(good);
	free(link);
	free(real);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(good_module_loads),
		T(world_writable_module_refused),
		T(group_writable_module_refused),
		T(foreign_owned_module_refused),
		T(abi2_refused),
		T(missing_entry_refused),
		T(null_entry_refused),
		T(bad_name_refused),
		T(small_descriptor_refused),
		T(no_ops_refused),
		T(small_dest_ops_refused),
		T(bad_option_table_refused),
		T(garbage_file_refused),
		T(missing_symbol_named),
		T(relative_module_path_refused),
		T(directory_named_so_refused),
		T(symlink_to_safe_module_loads),
		T(symlink_to_unsafe_module_refused),
		T(plugin_dir_loads_good_and_skips_other_files),
		T(plugin_dir_keeps_and_logs_refusals),
		T(duplicate_name_refused_naming_both),
		T(need_loads_only_the_named_module),
		T(need_keeps_the_refusal),
		T(relative_plugin_dir_refused),
		T(missing_plugin_dir_refused),
		T(writable_plugin_dir_refused),
		T(foreign_owned_plugin_dir_refused),
		T(writable_parent_dir_refused_unless_sticky),
		T(symlinked_plugin_dir_judged_by_target),
	};
	return cmocka_run_group_tests_name("loader", tests, NULL, NULL);
}
