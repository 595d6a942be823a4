/* test_ksmstat.c — /proc/PID/ksm_stat parsing across kernel versions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <cmocka.h>

#include "ksmstat.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67     /* Linux 6.4; Debian 12 headers predate it */
#endif

static void test_full_6_18(void **state)
{
	struct ksm_stat s;

	(void)state;
	assert_int_equal(ksmstat_parse("ksm_rmap_items 2560\n"
				       "ksm_zero_pages 12\n"
				       "ksm_merging_pages 256\n"
				       "ksm_process_profit -7340032\n"
				       "ksm_merge_any: yes\n"
				       "ksm_mergeable: yes\n", &s), 0);
	assert_int_equal(s.rmap_items, 2560);
	assert_int_equal(s.zero_pages, 12);
	assert_int_equal(s.merging_pages, 256);
	assert_int_equal(s.process_profit, -7340032);
	assert_true(s.merge_any);
	assert_true(s.mergeable);
}

static void test_old_kernel(void **state)
{
	struct ksm_stat s;

	(void)state;
	memset(&s, 0x55, sizeof(s));    /* missing fields must come back 0 */
	/* 6.1 had one line only */
	assert_int_equal(ksmstat_parse("ksm_rmap_items 42\n", &s), 0);
	assert_int_equal(s.rmap_items, 42);
	assert_int_equal(s.merging_pages, 0);
	assert_int_equal(s.process_profit, 0);
	assert_int_equal(s.zero_pages, 0);
	assert_false(s.merge_any);
	assert_false(s.mergeable);
	/* middle generation, no trailing newline */
	assert_int_equal(ksmstat_parse("ksm_rmap_items 3\nksm_merging_pages 1\nksm_process_profit 4032", &s), 0);
	assert_int_equal(s.merging_pages, 1);
	assert_int_equal(s.process_profit, 4032);
}

static void test_unknown_and_bad(void **state)
{
	struct ksm_stat s;

	(void)state;
	/* a field from a future kernel is skipped */
	assert_int_equal(ksmstat_parse("ksm_future_thing 9\nksm_mergeable: yes\n\n", &s), 0);
	assert_true(s.mergeable);
	assert_int_equal(ksmstat_parse("", &s), -EINVAL);
	assert_int_equal(ksmstat_parse("hello world\n", &s), -EINVAL);
	assert_int_equal(ksmstat_parse("ksm_rmap_items\n", &s), -EINVAL);
	assert_int_equal(ksmstat_parse("ksm_rmap_items many\n", &s), -EINVAL);
	assert_int_equal(ksmstat_parse("ksm_rmap_items 12x\n", &s), -EINVAL);
	assert_int_equal(ksmstat_parse("ksm_rmap_items 99999999999999999999\n", &s), -EINVAL);
	assert_int_equal(ksmstat_parse("ksm_rmap_items 1\nksm_merge_any: maybe\n", &s), -EINVAL);
	/* prefix of a known key is not that key */
	assert_int_equal(ksmstat_parse("ksm_rmap 5\n", &s), -EINVAL);
}

static void test_read_self(void **state)
{
	struct ksm_stat s;
	int r;

	(void)state;
	r = ksmstat_read(getpid(), &s);
	if (r == -ENOENT)
		skip();         /* kernel without CONFIG_KSM or before 6.1 */
	assert_int_equal(r, 0);
	assert_true(s.rmap_items >= 0);
	assert_true(s.merging_pages >= 0);
	/* Where the kernel can, enroll ourselves and see merge_any flip. */
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) == 0) {
		assert_int_equal(ksmstat_read(getpid(), &s), 0);
		assert_true(s.merge_any);
		assert_int_equal(prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0), 0);
		assert_int_equal(ksmstat_read(getpid(), &s), 0);
		assert_false(s.merge_any);
	}
	assert_int_equal(ksmstat_read(-5, &s), -ENOENT);
}

/* The governor's per-tick reader: the one-counter file (no VMA walk); a
 * gone process is -ENOENT. */
static void test_read_merging_self(void **state)
{
	long long pages = -1;
	int r;

	(void)state;
	r = ksmstat_read_merging(getpid(), &pages);
	if (r == -ENOENT)
		skip();         /* kernel without CONFIG_KSM */
	assert_int_equal(r, 0);
	assert_true(pages >= 0);
	assert_int_equal(ksmstat_read_merging(-5, &pages), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_6_18),
		cmocka_unit_test(test_old_kernel),
		cmocka_unit_test(test_unknown_and_bad),
		cmocka_unit_test(test_read_self),
		cmocka_unit_test(test_read_merging_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
