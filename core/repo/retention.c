/* retention.c — which snapshots a retention policy keeps. A pure function:
 * no repository access, so it is unit-tested on its own and `arca forget
 * --dry-run` shows exactly what `arca forget` would do.
 *
 * Policy: comma-separated rules, e.g. "last=7, daily=30, weekly=8,
 * monthly=12, yearly=3, within=14d". A snapshot is kept when any rule keeps
 * it:
 *   last=N      the N newest snapshots
 *   hourly=N    the newest snapshot of each of the N newest hours that have one
 *   daily, weekly (ISO weeks, Monday first), monthly, yearly: likewise
 *   within=D    every snapshot not older than D (s, m, h, d, w suffixes)
 * Calendar buckets are in UTC. The newest snapshot is always kept, so a
 * policy can never remove everything. An empty policy keeps everything.
 *
 * Partial snapshots (items left out) do not count: the count rules (last,
 * hourly ... yearly) pick among complete snapshots, so a night of partial
 * runs cannot push the last complete ones out; the newest complete one is
 * always kept too. A partial snapshot newer than every complete one stays
 * (it is the newest data there is), older ones only by `within`. Where no
 * snapshot is complete, all count.
 *
 * retention_parse is the one parser of a policy: config validation (`arca
 * check` and every command, at FILE:LINE) and `arca forget` both call it. */
#include "repo.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "util.h"

enum rule { R_LAST, R_HOURLY, R_DAILY, R_WEEKLY, R_MONTHLY, R_YEARLY, R_WITHIN, R_COUNT };
static const char *const rule_names[R_COUNT] = {
    "last", "hourly", "daily", "weekly", "monthly", "yearly", "within",
};

static int64_t floor_div(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static int64_t bucket(enum rule r, int64_t t)
{
	int64_t days = floor_div(t, 86400);
	struct tm tm;
	time_t tt = (time_t)t;
	switch (r) {
	case R_HOURLY:
		return floor_div(t, 3600);
	case R_DAILY:
		return days;
	case R_WEEKLY:
		return floor_div(days + 3, 7); /* 1970-01-01 was a Thursday */
	case R_MONTHLY:
		gmtime_r(&tt, &tm);
		return (int64_t)tm.tm_year * 12 + tm.tm_mon;
	case R_YEARLY:
		gmtime_r(&tt, &tm);
		return tm.tm_year;
	default:
		return 0;
	}
}

static int unknown_rule(const char *name)
{
	const char *hint = did_you_mean(name, rule_names, R_COUNT);
	if (hint)
		return err_set(ARCA_ERR_CONFIG, "unknown rule '%s' (did you mean '%s'?)", name,
		               hint);
	return err_set(ARCA_ERR_CONFIG,
	               "unknown rule '%s': the rules are last, hourly, daily, "
	               "weekly, monthly, yearly and within",
	               name);
}

/* One trimmed "rule=value" item into counts (-1: not given yet). */
static int parse_item(char *item, int64_t counts[R_COUNT])
{
	if (!*item)
		return err_set(ARCA_ERR_CONFIG, "empty rule (two commas in a row?)");
	char *eq = strchr(item, '=');
	if (!eq)
		return err_set(ARCA_ERR_CONFIG, "'%s' is not rule=value", item);
	*eq = 0;
	char *name = str_trim(item), *value = str_trim(eq + 1);
	int r;
	for (r = 0; r < R_COUNT; r++)
		if (!strcmp(name, rule_names[r]))
			break;
	if (r == R_COUNT)
		return unknown_rule(name);
	if (counts[r] >= 0)
		return err_set(ARCA_ERR_CONFIG, "'%s' is given twice", name);
	int64_t v;
	if (r == R_WITHIN) {
		if (parse_duration(value, &v) < 0)
			return err_set(ARCA_ERR_CONFIG,
			               "within=%s is not a duration like 30d, 12h or 2w", value);
	} else if (parse_int64(value, &v) < 0 || v < 0) {
		return err_set(ARCA_ERR_CONFIG, "%s=%s is not a count of snapshots (0 or more)",
		               name, value);
	}
	counts[r] = v;
	return ARCA_OK;
}

int retention_parse(const char *policy, int64_t counts[7])
{
	for (int i = 0; i < R_COUNT; i++)
		counts[i] = -1;
	char *copy = xstrdup(policy ? policy : "");
	int rc = ARCA_OK;
	/* an all-blank policy has no rules; otherwise every item must be one */
	char *item = *str_trim(copy) ? copy : NULL;
	while (item && rc == ARCA_OK) {
		char *next = strchr(item, ',');
		if (next)
			*next++ = 0;
		rc = parse_item(str_trim(item), counts);
		item = next;
	}
	free(copy);
	return rc;
}

struct ranked {
	int64_t time;
	int32_t nsec;
	const char *id;
	size_t index;
};

static int newest_first(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->time != y->time)
		return x->time > y->time ? -1 : 1;
	if (x->nsec != y->nsec)
		return x->nsec > y->nsec ? -1 : 1;
	return strcmp(y->id, x->id);
}

static void add_why(char **why, size_t i, const char *reason)
{
	if (!why)
		return;
	char *old = why[i];
	why[i] = old ? xasprintf("%s, %s", old, reason) : xstrdup(reason);
	free(old);
}

int retention_select(const char *policy, const struct repo_snapshot *snaps, size_t n, int64_t now,
                     unsigned char *keep, char **why)
{
	int64_t counts[R_COUNT];
	int rc = retention_parse(policy, counts);
	if (rc != ARCA_OK)
		return err_wrap(rc, "retention policy '%s'", policy);
	int any = 0;
	for (int r = 0; r < R_COUNT; r++)
		any |= counts[r] >= 0;
	for (size_t i = 0; i < n; i++) {
		keep[i] = !any;
		if (why)
			why[i] = any ? NULL : xstrdup("no retention policy");
	}
	if (!any || !n)
		return ARCA_OK;
	struct ranked *rk = xmalloc(n * sizeof *rk);
	for (size_t i = 0; i < n; i++)
		rk[i] = (struct ranked){snaps[i].time, snaps[i].time_nsec, snaps[i].id, i};
	qsort(rk, n, sizeof *rk, newest_first);
	size_t *ord = xmalloc(n * sizeof *ord);
	for (size_t i = 0; i < n; i++)
		ord[i] = rk[i].index;
	free(rk);

	keep[ord[0]] = 1;
	add_why(why, ord[0], "newest");
	size_t first_complete = n; /* in ord */
	for (size_t k = 0; k < n && first_complete == n; k++)
		if (!snaps[ord[k]].skipped)
			first_complete = k;
	int only_complete = first_complete < n;
	for (size_t k = 0; k < first_complete && only_complete; k++) {
		keep[ord[k]] = 1;
		add_why(why, ord[k], "partial, newer than every complete one");
	}
	if (only_complete && first_complete > 0) {
		keep[ord[first_complete]] = 1;
		add_why(why, ord[first_complete], "newest complete");
	}
	for (int r = 0; r < R_COUNT; r++) {
		if (counts[r] < 0)
			continue;
		int64_t kept = 0, last = 0;
		int have_last = 0;
		for (size_t k = 0; k < n; k++) {
			size_t i = ord[k];
			int64_t t = snaps[i].time;
			if (r != R_WITHIN && only_complete && snaps[i].skipped)
				continue;
			if (r == R_WITHIN) {
				if (now - t <= counts[r]) {
					keep[i] = 1;
					add_why(why, i, "within");
				}
				continue;
			}
			if (r == R_LAST) {
				if (kept < counts[r]) {
					keep[i] = 1;
					add_why(why, i, "last");
					kept++;
				}
				continue;
			}
			int64_t b = bucket((enum rule)r, t);
			if (have_last && b == last)
				continue;
			have_last = 1;
			last = b;
			if (kept < counts[r]) {
				keep[i] = 1;
				add_why(why, i, rule_names[r]);
				kept++;
			}
		}
	}
	free(ord);
	return ARCA_OK;
}
