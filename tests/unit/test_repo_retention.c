/* test_repo_retention.c — retention_select: each rule alone, combinations,
 * the newest-is-kept guarantee, malformed policies, gaps in the series,
 * several snapshots in one second, ISO weeks across a year's end; and
 * retention_parse, the one parser of a policy. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "repo.h"
#include "util.h"

#define DAY 86400
/* 2026-01-01T00:00:00Z, a Thursday. */
#define T0 1767225600LL

static struct repo_snapshot *make(size_t n, int64_t start, int64_t step)
{
	struct repo_snapshot *s = calloc(n, sizeof *s);
	for (size_t i = 0; i < n; i++) {
		snprintf(s[i].id, sizeof s[i].id, "%064zx", i);
		s[i].time = start + (int64_t)i * step;
	}
	return s;
}

static size_t count(const unsigned char *keep, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += keep[i];
	return c;
}

static void test_last(void **state)
{
	(void)state;
	struct repo_snapshot *s = make(10, T0, 3600);
	unsigned char keep[10];
	char *why[10];
	assert_int_equal(retention_select("last=3", s, 10, T0 + 10 * 3600, keep, why), ARCA_OK);
	assert_int_equal(count(keep, 10), 3);
	assert_true(keep[9] && keep[8] && keep[7]);
	assert_string_equal(why[9], "newest, last");
	assert_string_equal(why[8], "last");
	assert_null(why[0]);
	for (int i = 0; i < 10; i++)
		free(why[i]);
	free(s);
}

/* Partial snapshots do not push complete ones out: last=2 over complete,
 * partial, partial, complete, partial, partial (oldest first) keeps the two
 * complete ones and the two partial ones newer than them; daily picks the
 * newest complete snapshot of a day; with none complete, all count. */
static void test_partial_not_counted(void **state)
{
	(void)state;
	struct repo_snapshot *s = make(6, T0, 3600);
	s[1].skipped = s[2].skipped = s[4].skipped = s[5].skipped = 1;
	unsigned char keep[6];
	char *why[6];
	assert_int_equal(retention_select("last=2", s, 6, T0 + 6 * 3600, keep, why), ARCA_OK);
	assert_int_equal(count(keep, 6), 4);
	assert_true(keep[0] && keep[3] && keep[4] && keep[5]);
	assert_string_equal(why[5], "newest, partial, newer than every complete one");
	assert_string_equal(why[4], "partial, newer than every complete one");
	assert_string_equal(why[3], "newest complete, last");
	assert_string_equal(why[0], "last");
	for (int i = 0; i < 6; i++)
		free(why[i]);
	/* daily=1: the day's newest complete snapshot, not its newest partial */
	assert_int_equal(retention_select("daily=1", s, 6, T0 + 6 * 3600, keep, NULL), ARCA_OK);
	assert_true(keep[3] && keep[4] && keep[5] && !keep[0] && !keep[1] && !keep[2]);
	/* within= keeps partial ones by age as any other */
	assert_int_equal(retention_select("last=1, within=3h", s, 6, T0 + 6 * 3600, keep, NULL),
	                 ARCA_OK);
	assert_true(keep[3] && keep[4] && keep[5] && !keep[2]);
	/* none complete: they all count */
	s[0].skipped = s[3].skipped = 1;
	assert_int_equal(retention_select("last=2", s, 6, T0 + 6 * 3600, keep, NULL), ARCA_OK);
	assert_int_equal(count(keep, 6), 2);
	assert_true(keep[4] && keep[5]);
	free(s);
}

static void test_daily_takes_newest_of_each_day(void **state)
{
	(void)state;
	/* Four snapshots a day (every 6 h) for 10 days. */
	struct repo_snapshot *s = make(40, T0, 6 * 3600);
	unsigned char keep[40];
	assert_int_equal(retention_select("daily=5", s, 40, T0 + 40 * DAY, keep, NULL), ARCA_OK);
	assert_int_equal(count(keep, 40), 5);
	for (int d = 9; d >= 5; d--)
		assert_true(keep[d * 4 + 3]);   /* 18:00 of each of the last 5 days */
	free(s);
}

static void test_weekly_monthly_yearly(void **state)
{
	(void)state;
	/* One snapshot a day for three years. */
	size_t n = 3 * 365;
	struct repo_snapshot *s = make(n, T0, DAY);
	unsigned char *keep = malloc(n);
	assert_int_equal(retention_select("weekly=4", s, n, T0 + (int64_t)n * DAY, keep, NULL),
			 ARCA_OK);
	assert_int_equal(count(keep, n), 4);
	/* The newest of each ISO week is a Sunday, except the current week. */
	for (size_t i = 0; i + 1 < n; i++)
		if (keep[i]) {
			time_t t = (time_t)s[i].time;
			struct tm tm;
			gmtime_r(&t, &tm);
			assert_int_equal(tm.tm_wday, 0);
		}
	assert_int_equal(retention_select("monthly=6", s, n, 0, keep, NULL), ARCA_OK);
	assert_int_equal(count(keep, n), 6);
	assert_int_equal(retention_select("yearly=10", s, n, 0, keep, NULL), ARCA_OK);
	assert_int_equal(count(keep, n), 3);   /* only three years exist */
	assert_int_equal(retention_select("hourly=5", s, n, 0, keep, NULL), ARCA_OK);
	assert_int_equal(count(keep, n), 5);
	free(keep);
	free(s);
}

static void test_within_and_union(void **state)
{
	(void)state;
	struct repo_snapshot *s = make(60, T0, DAY);
	unsigned char keep[60];
	int64_t now = T0 + 59 * DAY + 3600;
	assert_int_equal(retention_select("within=30d", s, 60, now, keep, NULL), ARCA_OK);
	assert_int_equal(count(keep, 60), 30);
	assert_false(keep[29]);
	assert_true(keep[30]);
	/* Rules add up: days 40..59 by within; monthly=3 keeps Mar 1 and Feb 28
	 * (already within) and Jan 31 (day 30). */
	assert_int_equal(retention_select(" within = 20d , monthly=3 ", s, 60, now, keep, NULL),
			 ARCA_OK);
	assert_int_equal(count(keep, 60), 21);
	assert_true(keep[30]);
	assert_false(keep[29]);
	free(s);
}

static void test_newest_always_kept(void **state)
{
	(void)state;
	struct repo_snapshot *s = make(5, T0, DAY);
	unsigned char keep[5];
	assert_int_equal(retention_select("within=1d", s, 5, T0 + 100 * DAY, keep, NULL), ARCA_OK);
	assert_int_equal(count(keep, 5), 1);
	assert_true(keep[4]);
	assert_int_equal(retention_select("last=0", s, 5, 0, keep, NULL), ARCA_OK);
	assert_int_equal(count(keep, 5), 1);
	/* No policy: keep all. */
	assert_int_equal(retention_select("", s, 5, 0, keep, NULL), ARCA_OK);
	assert_int_equal(count(keep, 5), 5);
	assert_int_equal(retention_select(NULL, s, 5, 0, keep, NULL), ARCA_OK);
	assert_int_equal(count(keep, 5), 5);
	/* Input order does not matter. */
	struct repo_snapshot tmp = s[0];
	s[0] = s[4];
	s[4] = tmp;
	assert_int_equal(retention_select("last=2", s, 5, 0, keep, NULL), ARCA_OK);
	assert_true(keep[0] && keep[3] && !keep[4]);
	free(s);
}

static void test_bad_policies(void **state)
{
	(void)state;
	struct repo_snapshot *s = make(2, T0, DAY);
	unsigned char keep[2];
	assert_int_equal(retention_select("dayly=3", s, 2, 0, keep, NULL), ARCA_ERR_CONFIG);
	assert_non_null(strstr(err_msg(), "did you mean 'daily'"));
	assert_int_equal(retention_select("daily", s, 2, 0, keep, NULL), ARCA_ERR_CONFIG);
	assert_int_equal(retention_select("daily=x", s, 2, 0, keep, NULL), ARCA_ERR_CONFIG);
	assert_int_equal(retention_select("daily=-1", s, 2, 0, keep, NULL), ARCA_ERR_CONFIG);
	assert_int_equal(retention_select("within=3parsecs", s, 2, 0, keep, NULL), ARCA_ERR_CONFIG);
	assert_int_equal(retention_select("daily=1,daily=2", s, 2, 0, keep, NULL), ARCA_ERR_CONFIG);
	int64_t c[7];
	assert_int_equal(retention_parse("last=1, within=2h", c), ARCA_OK);
	assert_int_equal(c[0], 1);
	assert_int_equal(c[2], -1);
	assert_int_equal(c[6], 7200);
	free(s);
}

/* retention_parse is the one parser (config validation calls it too): its
 * values and its messages, which `arca check` shows at FILE:LINE. */
static void test_parse(void **state)
{
	(void)state;
	int64_t c[7];
	assert_int_equal(retention_parse("last=7, daily=30, weekly=8, monthly=12, yearly=2, "
					 "hourly=0, within=30d", c), ARCA_OK);
	static const int64_t want[7] = {7, 0, 30, 8, 12, 2, 30 * DAY};
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(c[i], want[i]);
	/* no rules: everything is kept */
	assert_int_equal(retention_parse("  ", c), ARCA_OK);
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(c[i], -1);
	assert_int_equal(retention_parse(" daily = 3 ", c), ARCA_OK);
	assert_int_equal(c[2], 3);
	assert_int_equal(c[0], -1);

	static const struct {
		const char *text, *why;
	} bad[] = {
		{"dayly=3", "unknown rule 'dayly' (did you mean 'daily'?)"},
		{"forever=1", "the rules are last, hourly"},
		{"daily=-1", "not a count"},
		{"daily=many", "not a count"},
		{"within=soon", "not a duration"},
		{"daily", "not rule=value"},
		{"daily=1,,last=2", "empty rule"},
		{"daily=1, daily=2", "given twice"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err_clear();
		assert_int_equal(retention_parse(bad[i].text, c), ARCA_ERR_CONFIG);
		if (!strstr(err_msg(), bad[i].why))
			fail_msg("'%s': '%s' lacks '%s'", bad[i].text, err_msg(), bad[i].why);
	}
}

/* An empty item is an error, as config validation says it is: forget
 * used to skip it (strtok), validation to refuse it. */
static void test_empty_items(void **state)
{
	(void)state;
	struct repo_snapshot *s = make(3, T0, DAY);
	unsigned char keep[3];
	static const char *const bad[] = {"daily=7,,weekly=4", "daily=7,", ",daily=7", " , "};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err_clear();
		assert_int_equal(retention_select(bad[i], s, 3, 0, keep, NULL), ARCA_ERR_CONFIG);
		if (!strstr(err_msg(), "empty rule"))
			fail_msg("'%s': '%s' lacks 'empty rule'", bad[i], err_msg());
	}
	/* all blank: no rules, everything is kept */
	assert_int_equal(retention_select(" \t ", s, 3, 0, keep, NULL), ARCA_OK);
	assert_int_equal(count(keep, 3), 3);
	free(s);
}

/* Snapshots at T0 + days[i] days + i minutes. */
static struct repo_snapshot *at_days(const int *days, size_t n)
{
	struct repo_snapshot *s = calloc(n, sizeof *s);
	for (size_t i = 0; i < n; i++) {
		snprintf(s[i].id, sizeof s[i].id, "%064zx", i);
		s[i].time = T0 + (int64_t)days[i] * DAY + (int64_t)i * 60;
	}
	return s;
}

/* Gaps in the series: daily/weekly=N keep the newest of each of the N
 * newest days/weeks that have a snapshot, however far apart they are. */
static void test_gaps(void **state)
{
	(void)state;
	static const int days[] = {0, 1, 5, 9, 9, 30};
	size_t n = ARRAY_LEN(days);
	struct repo_snapshot *s = at_days(days, n);
	unsigned char keep[ARRAY_LEN(days)];
	assert_int_equal(retention_select("daily=3", s, n, T0 + 40 * DAY, keep, NULL), ARCA_OK);
	/* day 30, the later of day 9's two, day 5 */
	static const unsigned char want_daily[] = {0, 0, 1, 0, 1, 1};
	assert_memory_equal(keep, want_daily, n);
	/* weeks (Monday first; T0 is a Thursday): days 0-3 | 4-10 | 25-31 */
	assert_int_equal(retention_select("weekly=2", s, n, T0 + 40 * DAY, keep, NULL), ARCA_OK);
	static const unsigned char want_weekly[] = {0, 0, 0, 0, 1, 1};
	assert_memory_equal(keep, want_weekly, n);
	assert_int_equal(retention_select("weekly=3", s, n, T0 + 40 * DAY, keep, NULL), ARCA_OK);
	static const unsigned char want_weekly3[] = {0, 1, 0, 0, 1, 1};
	assert_memory_equal(keep, want_weekly3, n);
	free(s);
}

/* Several snapshots in one second: last=N counts each, a calendar rule
 * keeps one per bucket, and which one does not depend on the order the
 * storage listed them in (forget --dry-run and forget agree): the newest by
 * nanoseconds, then by id. */
static void test_same_second(void **state)
{
	(void)state;
	struct repo_snapshot s[5];
	static const int32_t nsec[5] = {100, 900, 0, 900, 500};
	memset(s, 0, sizeof s);
	for (int i = 0; i < 5; i++) {
		snprintf(s[i].id, sizeof s[i].id, "%064x", 0xa0 + i);
		s[i].time = T0 + 3600;
		s[i].time_nsec = nsec[i];
	}
	unsigned char keep[5];
	assert_int_equal(retention_select("last=2", s, 5, T0 + DAY, keep, NULL), ARCA_OK);
	assert_int_equal(count(keep, 5), 2);
	assert_true(keep[1] && keep[3]);   /* the two at .9 s */
	char kept_id[65] = "";
	for (int rot = 0; rot < 10; rot++) {
		/* every rotation of the list, forwards and backwards */
		struct repo_snapshot t[5];
		for (int i = 0; i < 5; i++)
			t[i] = s[rot < 5 ? (i + rot) % 5 : (4 - i + rot) % 5];
		assert_int_equal(retention_select("daily=1", t, 5, T0 + DAY, keep, NULL), ARCA_OK);
		assert_int_equal(count(keep, 5), 1);
		for (int i = 0; i < 5; i++)
			if (keep[i]) {
				assert_int_equal(t[i].time_nsec, 900);
				if (!kept_id[0])
					snprintf(kept_id, sizeof kept_id, "%.64s", t[i].id);
				assert_string_equal(t[i].id, kept_id);
			}
	}
}

/* ISO weeks run Monday to Sunday across a year's end: 2026-12-28 (Mon) to
 * 2027-01-03 (Sun) is one week (2026-W53); years and months are calendar
 * ones (UTC). */
static void test_iso_week_year_end(void **state)
{
	(void)state;
	/* 2026-12-27 Sun, 12-28 Mon, 12-31 Thu, 2027-01-01 Fri, 01-03 Sun, 01-04 Mon */
	static const int days[] = {360, 361, 364, 365, 367, 368};
	size_t n = ARRAY_LEN(days);
	struct repo_snapshot *s = at_days(days, n);
	for (size_t i = 0; i < n; i++) {
		time_t t = (time_t)s[i].time;
		struct tm tm;
		gmtime_r(&t, &tm);
		static const int wday[] = {0, 1, 4, 5, 0, 1};
		assert_int_equal(tm.tm_wday, wday[i]);   /* the test's own dates */
	}
	unsigned char keep[ARRAY_LEN(days)];
	int64_t now = T0 + 370 * DAY;
	assert_int_equal(retention_select("weekly=3", s, n, now, keep, NULL), ARCA_OK);
	static const unsigned char want_weekly[] = {1, 0, 0, 0, 1, 1};
	assert_memory_equal(keep, want_weekly, n);
	assert_int_equal(retention_select("yearly=2", s, n, now, keep, NULL), ARCA_OK);
	static const unsigned char want_yearly[] = {0, 0, 1, 0, 0, 1};
	assert_memory_equal(keep, want_yearly, n);
	assert_int_equal(retention_select("monthly=5", s, n, now, keep, NULL), ARCA_OK);
	assert_memory_equal(keep, want_yearly, n);   /* December's newest, January's */
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_last),
		cmocka_unit_test(test_partial_not_counted),
		cmocka_unit_test(test_daily_takes_newest_of_each_day),
		cmocka_unit_test(test_weekly_monthly_yearly),
		cmocka_unit_test(test_within_and_union),
		cmocka_unit_test(test_newest_always_kept),
		cmocka_unit_test(test_bad_policies),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_empty_items),
		cmocka_unit_test(test_gaps),
		cmocka_unit_test(test_same_second),
		cmocka_unit_test(test_iso_week_year_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
