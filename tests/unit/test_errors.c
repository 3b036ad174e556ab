/* test_errors.c — the error state across a host call (issue 15, item 7):
 * err_mark/err_since give back the state a call found when it succeeded,
 * whatever it met on the way; a failure it returns keeps its message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "log.h"

static void success_restores_the_state_found(void **state)
{
	(void)state;
	err_set(ARCA_ERR_NOT_FOUND, "token not set");     /* the driver went past it */
	unsigned m = err_mark();
	err_set(ARCA_ERR_IO, "destination a: broken");    /* handled inside the call */
	err_wrap(ARCA_ERR_IO, "blob x");
	err_since(m);                                     /* the call succeeded */
	assert_int_equal(err_status(), ARCA_ERR_NOT_FOUND);
	assert_string_equal(err_msg(), "token not set");
	assert_false(err_changed_since(m) && err_status() != ARCA_ERR_NOT_FOUND);
}

static void untouched_state_stays(void **state)
{
	(void)state;
	err_clear();
	unsigned m = err_mark();
	assert_false(err_changed_since(m));
	err_since(m);
	assert_int_equal(err_status(), 0);
	assert_string_equal(err_msg(), "");
	err_set(ARCA_ERR_IO, "x");
	m = err_mark();
	err_since(m);
	assert_string_equal(err_msg(), "x");
}

static void failure_keeps_its_message(void **state)
{
	(void)state;
	err_set(ARCA_ERR_NOT_FOUND, "token not set");
	unsigned m = err_mark();
	err_set(ARCA_ERR_CANCELLED, "interrupted");
	assert_true(err_changed_since(m));
	/* a failure is returned: nothing restores, the message is its own */
	assert_int_equal(err_status(), ARCA_ERR_CANCELLED);
	assert_string_equal(err_msg(), "interrupted");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(success_restores_the_state_found),
		cmocka_unit_test(untouched_state_stays),
		cmocka_unit_test(failure_keeps_its_message),
	};
	return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
