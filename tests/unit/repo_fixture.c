/* repo_fixture.c — shared setup of the repository unit tests. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include "repo_fixture.h"
#include "test_repo_dest.h"

void repo_fixture_init(struct repo_fixture *f, const struct repo_params *p)
{
	setenv("ARCA_TEST_FAST_KDF", "1", 1);
	f->dir = test_dir_new();
	f->state = test_dir_new();
	f->d = (struct repo_dest){"unit", &test_dir_ops, f->dir};
	f->p = *p;
	f->p.state_dir = f->state;
	assert_int_equal(repo_init(&f->d, &f->p), ARCA_OK);
}

void repo_fixture_clear(struct repo_fixture *f)
{
	test_dir_remove(f->dir);
	test_dir_remove(f->state);
}
