/* test_policy.c — when an app is judged to lose memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "policy.h"

#define SEC 1000000ULL

static struct policy_app app(long long rmap, long long merging, long long saved)
{
	struct policy_app a = { .merging_pages = merging, .rmap_items = rmap, .saved_bytes = saved };
	return a;
}

static void test_not_scanned_yet(void **state)
{
	struct policy_app a = app(0, 0, 0);
	struct policy_loss l = { 0 };

	(void)state;
	assert_int_equal(policy_judge_app(&a, &l, 100, 100 * SEC, 3, 60), POLICY_WAIT);
	assert_false(l.losing);
}

/* The thesis' low-density case at twice its size: 200 MiB scanned, 1 MiB
 * merged: a clear loss (2.1 MiB), but dropped only once it lasted 3 full
 * scans and 60 s. (At 100 MiB its 576 KiB loss is within the margin.) */
static void test_loss_must_last(void **state)
{
	struct policy_app a = app(51200, 256, 256 * 4096LL - 51200 * 64LL);
	struct policy_loss l = { 0 };

	(void)state;
	assert_int_equal(policy_judge_app(&a, &l, 10, 1000 * SEC, 3, 60), POLICY_WAIT);
	assert_true(l.losing);
	assert_int_equal(policy_judge_app(&a, &l, 12, 1100 * SEC, 3, 60), POLICY_WAIT);   /* 2 scans */
	assert_int_equal(policy_judge_app(&a, &l, 13, 1030 * SEC, 3, 60), POLICY_WAIT);   /* 30 s */
	assert_int_equal(policy_judge_app(&a, &l, 13, 1060 * SEC, 3, 60), POLICY_DROP);
}

/* A loss that ends resets the clock. */
static void test_recovery_resets(void **state)
{
	struct policy_app loss = app(25600, 0, -25600 * 64LL);
	struct policy_app gain = app(5120, 5120, 5120 * 4096LL - 5120 * 64LL);
	struct policy_loss l = { 0 };

	(void)state;
	assert_int_equal(policy_judge_app(&loss, &l, 1, 1 * SEC, 3, 60), POLICY_WAIT);
	assert_int_equal(policy_judge_app(&gain, &l, 5, 100 * SEC, 3, 60), POLICY_KEEP);
	assert_false(l.losing);
	assert_int_equal(policy_judge_app(&loss, &l, 6, 101 * SEC, 3, 60), POLICY_WAIT);
	assert_int_equal(policy_judge_app(&loss, &l, 9, 161 * SEC, 3, 60), POLICY_DROP);
}

/* Tiny losses (-7 KiB, -75 KiB: what used to drop a browser's UI process)
 * are within the margin of max(1 MiB, 5 % of merging memory). */
static void test_margin(void **state)
{
	struct policy_app small = app(2000, 100, -75 * 1024LL);
	struct policy_app big = app(400000, 100000, -10 * 1024 * 1024LL);   /* 390 MiB merging */
	struct policy_app bigger = app(400000, 100000, -30 * 1024 * 1024LL);
	struct policy_loss l = { 0 };

	(void)state;
	assert_int_equal(policy_margin_bytes(&small), 1024 * 1024);
	assert_int_equal(policy_judge_app(&small, &l, 100, 1000 * SEC, 3, 60), POLICY_KEEP);
	assert_int_equal(policy_margin_bytes(&big), 100000 * 4096LL / 20);
	assert_int_equal(policy_judge_app(&big, &l, 100, 1000 * SEC, 3, 60), POLICY_KEEP);
	assert_int_equal(policy_judge_app(&bigger, &l, 100, 1000 * SEC, 3, 60), POLICY_WAIT);
	assert_int_equal(policy_judge_app(&bigger, &l, 103, 1060 * SEC, 3, 60), POLICY_DROP);
}

static void test_explain_and_backoff(void **state)
{
	struct policy_app a = app(51200, 256, 256 * 4096LL - 51200 * 64LL);
	char why[160];

	(void)state;
	policy_explain(&a, why, sizeof(why));
	assert_non_null(strstr(why, "loses 2176 KiB (51200 rmap_items for 256 merging pages)"));
	assert_int_equal(policy_backoff_usec(600, 1), 600 * SEC);
	assert_int_equal(policy_backoff_usec(600, 2), 1200 * SEC);
	assert_int_equal(policy_backoff_usec(600, 4), 4800 * SEC);
	assert_int_equal(policy_backoff_usec(600, 40), 86400 * SEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_scanned_yet),
		cmocka_unit_test(test_loss_must_last),
		cmocka_unit_test(test_recovery_resets),
		cmocka_unit_test(test_margin),
		cmocka_unit_test(test_explain_and_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
