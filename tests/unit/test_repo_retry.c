/* test_repo_retry.c — the engine's one retry policy (core/repo/retry.c):
 * a fake operation that fails N times, on a fake clock (backoff grows, is
 * jittered within bounds, tries and total time are bounded, a final failure
 * is not retried, cancellation stops it), and a whole repository on a
 * destination whose every op fails transiently now and then (ABI 1.1 ops):
 * init, blobs written, read, listed and removed, verify, all as if nothing
 * had failed — a get that failed half-way delivers no stray bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "host.h"
#include "log.h"
#include "repo.h"
#include "repo/internal.h"
#include "repo/retry.h"
#include "test_repo_dest.h"
#include "util.h"

/* ---- the policy alone, on a fake clock ---- */

struct fake {
	int64_t now;
	int64_t slept[32];
	unsigned n_slept;
	unsigned calls, fail_first, transient;
	int64_t retry_after;
	int cancel_at_sleep; /* 1-based sleep that is "interrupted" */
	int delivered;       /* bytes "delivered" by the current try */
	int resets;
};

static int fake_sleep(void *arg, int64_t ms)
{
	struct fake *f = arg;
	f->slept[f->n_slept++] = ms;
	f->now += ms;
	return f->cancel_at_sleep && (int)f->n_slept == f->cancel_at_sleep;
}

static int64_t fake_now(void *arg)
{
	return ((struct fake *)arg)->now;
}

static int fake_op(void *arg, struct arca_dest_call *call)
{
	struct fake *f = arg;
	f->calls++;
	assert_int_equal(call->attempt, f->calls);
	assert_int_equal(f->delivered, 0); /* the reset ran before this try */
	f->now += 10;                      /* each try takes 10 ms */
	if (f->calls <= f->fail_first) {
		f->delivered = 5;
		if (f->transient)
			call->transient(call, f->retry_after);
		return call->error(call, ARCA_ERR_IO, "fake: reset by peer (try %u)", f->calls);
	}
	return ARCA_OK;
}

static void fake_reset(void *arg)
{
	struct fake *f = arg;
	f->delivered = 0;
	f->resets++;
}

static struct retry_policy policy(struct fake *f)
{
	struct retry_policy p;
	retry_policy_default(&p);
	p.sleep_ms = fake_sleep;
	p.now_ms = fake_now;
	p.clock_arg = f;
	return p;
}

static void test_succeeds_after_failures(void **state)
{
	(void)state;
	struct fake f = {.fail_first = 3, .transient = 1};
	struct retry_policy p = policy(&f);
	unsigned tries;
	assert_int_equal(retry_run(&p, "fake op", fake_op, &f, fake_reset, &tries), ARCA_OK);
	assert_int_equal(tries, 4);
	assert_int_equal(f.n_slept, 3);
	assert_int_equal(f.resets, 3);
	/* each wait within [step/2, step], steps doubling from base */
	int64_t step = p.base_ms;
	for (unsigned i = 0; i < f.n_slept; i++, step *= 2) {
		assert_true(f.slept[i] >= step / 2);
		assert_true(f.slept[i] <= step);
	}
}

static void test_gives_up_after_max_tries(void **state)
{
	(void)state;
	struct fake f = {.fail_first = 1000, .transient = 1};
	struct retry_policy p = policy(&f);
	p.max_total_ms = 1000000000;
	unsigned tries;
	assert_int_equal(retry_run(&p, "fake op", fake_op, &f, fake_reset, &tries), ARCA_ERR_IO);
	assert_int_equal(tries, p.max_tries);
	assert_non_null(strstr(err_msg(), "(gave up after 8 tries in "));
	assert_non_null(strstr(err_msg(), "reset by peer (try 8)"));
	for (unsigned i = 0; i < f.n_slept; i++)
		assert_true(f.slept[i] <= p.cap_ms);
}

static void test_bounded_total_time(void **state)
{
	(void)state;
	struct fake f = {.fail_first = 1000, .transient = 1};
	struct retry_policy p = policy(&f);
	p.max_total_ms = 2000;
	unsigned tries;
	assert_int_equal(retry_run(&p, "fake op", fake_op, &f, fake_reset, &tries), ARCA_ERR_IO);
	assert_true(tries < p.max_tries);
	assert_true(f.now <= p.max_total_ms + 10 * (int64_t)tries);
}

static void test_final_failure_not_retried(void **state)
{
	(void)state;
	struct fake f = {.fail_first = 1, .transient = 0};
	struct retry_policy p = policy(&f);
	unsigned tries;
	assert_int_equal(retry_run(&p, "fake op", fake_op, &f, fake_reset, &tries), ARCA_ERR_IO);
	assert_int_equal(tries, 1);
	assert_int_equal(f.n_slept, 0);
	assert_string_equal(err_msg(), "fake: reset by peer (try 1)");
}

static void test_retry_after_honoured(void **state)
{
	(void)state;
	struct fake f = {.fail_first = 1, .transient = 1, .retry_after = 7000};
	struct retry_policy p = policy(&f);
	assert_int_equal(retry_run(&p, "fake op", fake_op, &f, fake_reset, NULL), ARCA_OK);
	assert_int_equal(f.n_slept, 1);
	assert_int_equal(f.slept[0], 7000);
}

static void test_cancel_while_waiting(void **state)
{
	(void)state;
	struct fake f = {.fail_first = 5, .transient = 1, .cancel_at_sleep = 2};
	struct retry_policy p = policy(&f);
	unsigned tries;
	assert_int_equal(retry_run(&p, "fake op", fake_op, &f, fake_reset, &tries),
	                 ARCA_ERR_CANCELLED);
	assert_int_equal(tries, 2);
}

/* A try that hangs until call->cancelled says stop, advancing the clock
 * 100 ms per look (as a driver's progress callback looks). */
static int hanging_op(void *arg, struct arca_dest_call *call)
{
	struct fake *f = arg;
	f->calls++;
	for (int i = 0; i < 100000; i++) {
		if (call->cancelled(call))
			return call->error(call, ARCA_ERR_CANCELLED, "fake: cut");
		f->now += 100;
	}
	return ARCA_OK;
}

static void test_uncancellable_cut_at_deadline(void **state)
{
	(void)state;
	struct fake f = {0};
	struct retry_policy p = policy(&f);
	p.uncancellable = 1;
	p.max_total_ms = 10000;
	arca_cancel_requested = 1; /* ^C does not cut cleanup... */
	int rc = retry_run(&p, "fake cleanup", hanging_op, &f, fake_reset, NULL);
	arca_cancel_requested = 0;
	/* ...but its deadline does, even in the middle of a try */
	assert_int_equal(rc, ARCA_ERR_CANCELLED);
	assert_int_equal(f.calls, 1);
	assert_true(f.now >= 10000 && f.now <= 10100);
}

/* ---- a repository on a flaky destination ---- */

static unsigned flaky_calls, flaky_failures;

/* Every third call fails transiently (a get after half its bytes). */
static int flaky(struct arca_dest_call *call)
{
	if (++flaky_calls % 3)
		return 0;
	flaky_failures++;
	call->transient(call, 0);
	return 1;
}

static int fl_put(void *inst, struct arca_dest_call *call, const char *name, const void *data,
                  size_t len, unsigned flags, const char *if_version)
{
	assert_null(if_version);
	/* fails after the write: the retry meets its own object */
	int rc = test_dir_ops.put(inst, name, data, len, flags);
	if (rc == ARCA_OK && flaky(call))
		return call->error(call, ARCA_ERR_IO, "flaky: reply to the put of %s lost", name);
	return rc;
}

struct half {
	arca_sink_fn sink;
	void *arg;
	int cut;
	size_t seen;
};

static int half_sink(void *arg, const void *data, size_t len)
{
	struct half *h = arg;
	if (h->cut && h->seen + len > 10) {
		size_t n = h->seen < 10 ? 10 - h->seen : 0;
		if (n)
			h->sink(h->arg, data, n);
		h->seen += n;
		return -1;
	}
	h->seen += len;
	return h->sink(h->arg, data, len);
}

static int fl_get(void *inst, struct arca_dest_call *call, const char *name, uint64_t off,
                  uint64_t len, arca_sink_fn sink, void *arg)
{
	struct half h = {.sink = sink, .arg = arg, .cut = flaky(call)};
	int rc = test_dir_ops.get(inst, name, off, len, half_sink, &h);
	if (h.cut && rc == -1)
		return call->error(call, ARCA_ERR_IO, "flaky: body of %s truncated", name);
	if (h.cut) { /* too short to cut: fail before anything */
		call->transient(call, 0);
		return call->error(call, ARCA_ERR_IO, "flaky: %s", name);
	}
	return rc;
}

static int fl_list(void *inst, struct arca_dest_call *call, const char *prefix,
                   int (*cb)(void *, const char *, uint64_t), void *arg)
{
	int cut = flaky(call);
	int rc = test_dir_ops.list(inst, prefix, cb, arg); /* the names reach cb twice */
	return cut ? call->error(call, ARCA_ERR_IO, "flaky: listing cut") : rc;
}

static int fl_remove(void *inst, struct arca_dest_call *call, const char *const *names, size_t n)
{
	if (flaky(call))
		return call->error(call, ARCA_ERR_CONNECT, "flaky: connection refused");
	for (size_t i = 0; i < n; i++) {
		int rc = test_dir_ops.remove(inst, names[i]);
		if (rc)
			return rc;
	}
	return ARCA_OK;
}

static int fl_stat(void *inst, struct arca_dest_call *call, const char *name,
                   struct arca_dest_stat *st)
{
	if (flaky(call))
		return call->error(call, ARCA_ERR_IO, "flaky: 503 Slow Down");
	return test_dir_ops.stat(inst, name, &st->size);
}

static struct arca_dest_ops flaky_ops;

static void test_repo_on_flaky_destination(void **state)
{
	(void)state;
	setenv("ARCA_RETRY_BASE_MS", "1", 1);
	setenv("ARCA_TEST_FAST_KDF", "1", 1);
	flaky_ops = test_dir_ops;
	flaky_ops.put_call = fl_put;
	flaky_ops.get_call = fl_get;
	flaky_ops.list_call = fl_list;
	flaky_ops.remove_call = fl_remove;
	flaky_ops.stat_call = fl_stat;
	char *dir = test_dir_new();
	struct repo_dest d = {"flaky", &flaky_ops, dir};
	struct repo_params p = {
	    .passphrase = "correct horse", .encrypt = 1, .workers = 2, .hostname = "unit-host"};
	assert_int_equal(repo_init(&d, &p), ARCA_OK);
	struct repo *r;
	int rc = repo_open(&d, &p, &r);
	if (rc)
		fprintf(stderr, "repo_open: %s\n", err_msg());
	assert_int_equal(rc, ARCA_OK);

	unsigned char data[5000];
	test_fill_random(data, sizeof data, 42);
	char name[32];
	for (int i = 0; i < 12; i++) {
		snprintf(name, sizeof name, "seg/%02d", i);
		assert_int_equal(repo_blob_put(r, "t", name, data + i, sizeof data - (size_t)i, 1),
		                 ARCA_OK);
	}
	for (int i = 0; i < 12; i++) {
		void *got;
		size_t len;
		snprintf(name, sizeof name, "seg/%02d", i);
		assert_int_equal(repo_blob_get(r, "t", name, &got, &len), ARCA_OK);
		assert_int_equal(len, sizeof data - (size_t)i);
		assert_memory_equal(got, data + i, len);
		free(got);
	}
	struct obj_list l;
	assert_int_equal(dest_list_all(r, "blobs/", &l), ARCA_OK);
	assert_int_equal(l.n, 12); /* no name twice from a cut listing */
	obj_list_free(&l);
	for (int i = 0; i < 12; i++) {
		snprintf(name, sizeof name, "seg/%02d", i);
		assert_int_equal(repo_blob_remove(r, "t", name), ARCA_OK);
	}
	assert_int_equal(dest_list_all(r, "blobs/", &l), ARCA_OK);
	assert_int_equal(l.n, 0);
	obj_list_free(&l);
	assert_true(flaky_failures >= 10);
	repo_close(r);
	test_dir_remove(dir);
}

/* A 1.0 destination (its table ends at close, on the heap: under ASan a read
 * of a 1.1 op would be reported): the repository works through the 1.0 ops,
 * each called once. */
static void test_repo_on_1_0_destination(void **state)
{
	(void)state;
	setenv("ARCA_TEST_FAST_KDF", "1", 1);
	size_t size = offsetof(struct arca_dest_ops, close) + sizeof(void *);
	/* filled through memcpy: a store through the full struct type into the
	 * short block is what -Warray-bounds (rightly) objects to */
	struct arca_dest_ops head = test_dir_ops;
	head.struct_size = size;
	unsigned char *block = malloc(size);
	assert_non_null(block);
	memcpy(block, &head, size);
	const struct arca_dest_ops *ops = (const struct arca_dest_ops *)(void *)block;
	char *dir = test_dir_new();
	struct repo_dest d = {"old", ops, dir};
	struct repo_params p = {.encrypt = 0, .workers = 2, .hostname = "unit-host"};
	assert_int_equal(repo_init(&d, &p), ARCA_OK);
	struct repo *r;
	assert_int_equal(repo_open(&d, &p, &r), ARCA_OK);
	assert_int_equal(r->caps, test_dir_ops.caps);
	assert_int_equal(repo_blob_put(r, "t", "x", "abc", 3, 1), ARCA_OK);
	void *got;
	size_t len;
	assert_int_equal(repo_blob_get(r, "t", "x", &got, &len), ARCA_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(got, "abc", 3);
	free(got);
	assert_int_equal(repo_blob_remove(r, "t", "x"), ARCA_OK);
	repo_close(r);
	test_dir_remove(dir);
	free(block);
}

int main(void)
{
	log_level = ARCA_LOG_ERROR;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_succeeds_after_failures),
	    cmocka_unit_test(test_gives_up_after_max_tries),
	    cmocka_unit_test(test_bounded_total_time),
	    cmocka_unit_test(test_final_failure_not_retried),
	    cmocka_unit_test(test_retry_after_honoured),
	    cmocka_unit_test(test_cancel_while_waiting),
	    cmocka_unit_test(test_uncancellable_cut_at_deadline),
	    cmocka_unit_test(test_repo_on_flaky_destination),
	    cmocka_unit_test(test_repo_on_1_0_destination),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
