/* test_abi.c — ABI 1.x stays compatible with 1.0 (issue 15, item 10):
 * every 1.0 member keeps its offset and size, a module built against the
 * 1.0 header (modules/compat10.c, from the fixture modules/plugin_v1_0.h)
 * loads, the engine reads no 1.1 member of its tables (ARCA_OPS_HAS), and a
 * reader of the 1.0 size still reads a 1.1 driver's tables. Run under ASan,
 * a read past a table's struct_size is a heap-buffer-overflow (compat10
 * and the tables here are malloc'd at exactly their declared size).
 * The round trip through the real binary is integration/abi_compat.sh. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "abi_v1_0.h"
#include "host.h"
#include "loader.h"
#include "log.h"
#include "util.h"

#define M(s, m) {#s, #m, offsetof(struct s, m), sizeof(((struct s *)0)->m)},
#define C(c) {"const", #c, (size_t)(c), 0},
static const struct abi_entry abi_now[] = {
#include "abi_members.h"
	{NULL, NULL, 0, 0},
};
#undef M
#undef C

#define END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

static void layout_of_1_0_members_unchanged(void **state)
{
	(void)state;
	size_t i;
	for (i = 0; abi_v1_0[i].type; i++) {
		const struct abi_entry *a = &abi_v1_0[i], *b = &abi_now[i];
		assert_non_null(b->type);
		if (a->offset != b->offset || a->size != b->size)
			fail_msg("%s %s: ABI 1.0 has offset/value %zu size %zu, now %zu size %zu",
				 a->type, a->member, a->offset, a->size, b->offset, b->size);
	}
	assert_null(abi_now[i].type);
	/* the 1.0 tables end where the loader's minimum sizes say */
	assert_int_equal(abi_v1_0_target_ops_size, END_OF(struct arca_target_ops, command));
	assert_int_equal(abi_v1_0_dest_ops_size, END_OF(struct arca_dest_ops, close));
	assert_int_equal(abi_v1_0_host_size, END_OF(struct arca_host, blob_remove));
}

/* Copy test module `name` into a fresh private dir; returns its path. */
static char *put_module(const char *name, char **dir)
{
	const char *tmp = getenv("TMPDIR");
	*dir = xasprintf("%s/arca-abi.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(*dir));
	assert_int_equal(chmod(*dir, 0755), 0);
	char *src = xasprintf("%s/%s.so", TEST_MODULES_DIR, name);
	char *data;
	size_t len;
	if (read_file(src, &data, &len) < 0)
		fail_msg("cannot read test module %s: %s", src, strerror(errno));
	char *path = xasprintf("%s/%s.so", *dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	free(data);
	free(src);
	return path;
}

static void module_built_against_1_0_loads(void **state)
{
	(void)state;
	char *dir, *path = put_module("compat10", &dir);
	struct loaded_driver d;
	err_clear();
	if (loader_load_file(path, host_table(), &d) != ARCA_OK)
		fail_msg("the 1.0 module was refused: %s", err_msg());
	const struct arca_target_ops *t = d.drv->target;
	const struct arca_dest_ops *o = d.drv->dest;
	assert_non_null(t);
	assert_non_null(o);
	assert_int_equal(t->struct_size, abi_v1_0_target_ops_size);
	assert_int_equal(o->struct_size, abi_v1_0_dest_ops_size);
	/* the engine's every read of a 1.1 member: none reaches past the table */
	assert_false(ARCA_OPS_HAS(t, restore_options));
	assert_false(ARCA_OPS_HAS(t, verbs));
	assert_false(ARCA_OPS_HAS(t, after_forget));
	assert_false(ARCA_OPS_HAS(t, verify_oldest));
	assert_false(ARCA_OPS_HAS(t, snapshot_options));
	assert_false(ARCA_OPS_HAS(t, health_options));
	assert_false(ARCA_OPS_HAS(t, health));
	assert_false(ARCA_OPS_HAS(o, sweep));
	/* the engine asks for declared options through one function */
	int any;
	assert_null(loader_op_options(t, "snapshot", &any));
	assert_false(any);
	assert_null(loader_op_options(t, "restore", &any));
	assert_true(any); /* a 1.0 restore takes any option, as 1.0 did */
	assert_false(ARCA_OPS_HAS(o, probe));
	assert_false(ARCA_OPS_HAS(o, put_call));
	assert_false(ARCA_OPS_HAS(o, copy));
	loader_unload(&d);
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

/* A table whose struct_size says 1.0, with 1.1 members present in memory
 * after it (a driver that set them but declared the older size): the size
 * decides, the pointers are never read. */
static void struct_size_decides_not_the_pointers(void **state)
{
	(void)state;
	static const struct arca_verb verbs[] = {{.name = "x"}, {.name = NULL}};
	struct arca_target_ops *t = calloc(1, sizeof *t);
	assert_non_null(t);
	t->struct_size = END_OF(struct arca_target_ops, command);
	t->verbs = verbs;
	t->after_forget = (int (*)(void *, struct arca_ctx *))abort;
	assert_false(ARCA_OPS_HAS(t, verbs));
	assert_false(ARCA_OPS_HAS(t, after_forget));
	/* grown part of the way (restore_options and verbs only) */
	t->struct_size = END_OF(struct arca_target_ops, verbs);
	assert_true(ARCA_OPS_HAS(t, verbs));
	assert_false(ARCA_OPS_HAS(t, after_forget));
	assert_false(ARCA_OPS_HAS(t, verify_oldest));
	/* the full 1.1 size, a member left NULL */
	t->struct_size = sizeof *t;
	assert_true(ARCA_OPS_HAS(t, after_forget));
	assert_false(ARCA_OPS_HAS(t, verify_oldest));
	/* grown up to the op options, not to health */
	t->health = (int (*)(void *, struct arca_ctx *))abort;
	t->struct_size = END_OF(struct arca_target_ops, health_options);
	assert_false(ARCA_OPS_HAS(t, health));
	t->struct_size = sizeof *t;
	assert_true(ARCA_OPS_HAS(t, health));
	free(t);

	/* exactly 1.0 bytes on the heap: under ASan any read of a 1.1 member
	 * would be reported here */
	struct arca_dest_ops *o = malloc(abi_v1_0_dest_ops_size);
	assert_non_null(o);
	memset(o, 0, abi_v1_0_dest_ops_size);
	o->struct_size = abi_v1_0_dest_ops_size;
	assert_false(ARCA_OPS_HAS(o, sweep));
	assert_false(ARCA_OPS_HAS(o, put_call));
	free(o);

	/* a dest table as the first 1.1 engines had it (up to sweep), with a
	 * context op set after it: the size decides */
	struct arca_dest_ops *d = calloc(1, sizeof *d);
	assert_non_null(d);
	d->struct_size = END_OF(struct arca_dest_ops, sweep);
	d->put_call = (int (*)(void *, struct arca_dest_call *, const char *, const void *, size_t,
	                       unsigned, const char *))abort;
	assert_false(ARCA_OPS_HAS(d, put_call));
	assert_false(ARCA_OPS_HAS(d, probe));
	d->struct_size = sizeof *d;
	assert_true(ARCA_OPS_HAS(d, put_call));
	assert_false(ARCA_OPS_HAS(d, copy));
	free(d);
}

/* A module declaring the 1.1 target ops struct_size, read by an engine of
 * the 1.0 size (abi_v1_0.c, built against the 1.0 header): it accepts the
 * larger table and finds every 1.0 op where 1.0 put it. */
static void table_of_1_1_read_by_a_1_0_reader(void **state)
{
	(void)state;
	char *dir, *path = put_module("good", &dir);
	struct loaded_driver d;
	err_clear();
	if (loader_load_file(path, host_table(), &d) != ARCA_OK)
		fail_msg("good module refused: %s", err_msg());
	assert_int_equal(d.drv->target->struct_size, sizeof(struct arca_target_ops));
	assert_true(d.drv->target->struct_size > abi_v1_0_target_ops_size);
	assert_int_equal(abi_v1_0_read_target(d.drv->target), 5);
	/* and one of exactly the 1.0 size is the smallest a 1.0 reader takes */
	struct arca_target_ops *t = malloc(abi_v1_0_target_ops_size);
	assert_non_null(t);
	memcpy(t, d.drv->target, abi_v1_0_target_ops_size);
	t->struct_size = abi_v1_0_target_ops_size;
	assert_int_equal(abi_v1_0_read_target(t), 5);
	t->struct_size = abi_v1_0_target_ops_size - 1;
	assert_int_equal(abi_v1_0_read_target(t), -1);
	free(t);
	loader_unload(&d);
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(layout_of_1_0_members_unchanged),
		cmocka_unit_test(module_built_against_1_0_loads),
		cmocka_unit_test(struct_size_decides_not_the_pointers),
		cmocka_unit_test(table_of_1_1_read_by_a_1_0_reader),
	};
	return cmocka_run_group_tests_name("abi", tests, NULL, NULL);
}
