/* test_policy.c — when an enrollment is judged to lose memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "policy.h"

static struct ksm_stat stat_of(long long rmap, long long merging, long long profit)
{
	struct ksm_stat st = { .rmap_items = rmap, .merging_pages = merging,
			       .process_profit = profit };
	return st;
}

static void test_waits_for_scans(void **state)
{
	struct ksm_stat st = stat_of(25600, 0, -25600 * 64);

	(void)state;
	assert_int_equal(policy_judge(&st, 0, 3), POLICY_WAIT);
	assert_int_equal(policy_judge(&st, 2, 3), POLICY_WAIT);
	assert_int_equal(policy_judge(&st, 3, 3), POLICY_DROP);
}

static void test_not_scanned_yet(void **state)
{
	struct ksm_stat st = stat_of(0, 0, 0);

	(void)state;
	assert_int_equal(policy_judge(&st, 10, 3), POLICY_WAIT);
}

static void test_profit_decides(void **state)
{
	/* the thesis' low-density case: 25,600 items, 256 merged: a loss */
	struct ksm_stat low = stat_of(25600, 256, 256 * 4096LL - 25600 * 64LL);
	/* twins: every page merged */
	struct ksm_stat dense = stat_of(5120, 5120, 5120 * 4096LL - 5120 * 64LL);
	char why[160];

	(void)state;
	assert_int_equal(policy_judge(&low, 5, 3), POLICY_DROP);
	assert_int_equal(policy_judge(&dense, 5, 3), POLICY_KEEP);
	policy_explain(&low, why, sizeof(why));
	assert_non_null(strstr(why, "25600 rmap_items for 256 merging pages"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_waits_for_scans),
		cmocka_unit_test(test_not_scanned_yet),
		cmocka_unit_test(test_profit_decides),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
