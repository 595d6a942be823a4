/* test_log.c — names escaped for logs; repeated lines rate-limited. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"

static void test_escape(void **state)
{
	char out[64];

	(void)state;
	assert_string_equal(log_escape("gimp", out, sizeof(out)), "gimp");
	assert_string_equal(log_escape("\x1b[31mred", out, sizeof(out)), "\\x1b[31mred");
	assert_string_equal(log_escape("a\tb\nc\x7f", out, sizeof(out)), "a\\x09b\\x0ac\\x7f");
	/* a backslash is escaped too: "\x1b" typed literally stays distinguishable */
	assert_string_equal(log_escape("a\\b", out, sizeof(out)), "a\\x5cb");
	assert_string_equal(log_escape("n\xc3\xa4me", out, sizeof(out)), "n\xc3\xa4me");
	/* cut short, never in the middle of an escape */
	assert_string_equal(log_escape("ab\x01", out, 5), "ab");
	assert_string_equal(log_escape("abc", out, 1), "");
}

static void test_limit(void **state)
{
	unsigned sup = 99;
	int printed = 0;

	(void)state;
	/* A renaming loop: 1000 lines in 10 s of one key print once. */
	for (int i = 0; i < 1000; i++)
		printed += log_limit_check("site", 42, 1000 + (uint64_t)i / 100, &sup);
	assert_int_equal(printed, 1);
	/* after the window: printed, with the count of what was dropped */
	assert_true(log_limit_check("site", 42, 1000 + LOG_LIMIT_SEC, &sup));
	assert_int_equal(sup, 999);
	assert_false(log_limit_check("site", 42, 1000 + LOG_LIMIT_SEC, &sup));
	/* other keys are not held back by it */
	assert_true(log_limit_check("site", 43, 1000 + LOG_LIMIT_SEC, &sup));
	assert_true(log_limit_check("other", 42, 1000 + LOG_LIMIT_SEC, &sup));
	assert_int_equal(sup, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
