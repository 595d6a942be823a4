/* test_match.c — app-name matching on comm and executable basename. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "match.h"

static void test_comm(void **state)
{
	(void)state;
	assert_true(match_name("gimp", "gimp", NULL));
	assert_false(match_name("gimp", "gimp-2.10", NULL));   /* versions only on exe */
	assert_false(match_name("gimp", "gim", NULL));
	assert_false(match_name("gimp", "GIMP", NULL));
	/* exactly 15 chars still fits in comm */
	assert_true(match_name("abcdefghijklmno", "abcdefghijklmno", NULL));
	/* 16 chars: comm is truncated by the kernel, so comm never matches */
	assert_false(match_name("abcdefghijklmnop", "abcdefghijklmno", NULL));
	assert_false(match_name("abcdefghijklmnop", "abcdefghijklmnop", NULL));
	assert_true(match_name("abcdefghijklmnop", "abcdefghijklmno", "abcdefghijklmnop"));
}

static void test_exe(void **state)
{
	(void)state;
	assert_true(match_name("gimp", NULL, "gimp"));
	assert_true(match_name("gimp", NULL, "gimp-2.10"));
	assert_true(match_name("gimp", "other", "gimp-3"));
	assert_false(match_name("gimp", NULL, "gimp-console-2.10"));
	assert_true(match_name("gimp-console", NULL, "gimp-console-2.10"));
	assert_false(match_name("gimp", NULL, "gimp-"));
	assert_false(match_name("gimp", NULL, "gimp2"));
	assert_false(match_name("gimp", NULL, "gimp_2.10"));
	assert_false(match_name("gimp", NULL, "gim"));
	assert_false(match_name("gimp-2.10", NULL, "gimp"));
	assert_true(match_name("python3", NULL, "python3-3.11"));
	assert_false(match_name("python", NULL, "python3"));
}

static void test_degenerate(void **state)
{
	(void)state;
	assert_false(match_name("", "", ""));
	assert_false(match_name(NULL, "gimp", "gimp"));
	assert_false(match_name("gimp", NULL, NULL));
	assert_false(match_name("gimp", "", ""));
}

static void test_match_app(void **state)
{
	struct strlist apps = { 0 }, ex = { 0 };

	(void)state;
	assert_null(match_app(&apps, &ex, "gimp", "gimp"));
	assert_int_equal(strlist_add(&apps, "evince"), 0);
	assert_int_equal(strlist_add(&apps, "gimp"), 0);
	assert_int_equal(strlist_add(&apps, "gimp-console"), 0);
	assert_string_equal(match_app(&apps, &ex, "gimp-2.10", "gimp-2.10"), "gimp");
	assert_string_equal(match_app(&apps, &ex, "x", "gimp-console-2.10"), "gimp-console");
	assert_string_equal(match_app(&apps, NULL, "evince", NULL), "evince");
	assert_null(match_app(&apps, &ex, "firefox", "firefox-esr"));

	/* excludes win, matched the same way (here: versioned exe) */
	assert_int_equal(strlist_add(&ex, "gimp"), 0);
	assert_null(match_app(&apps, &ex, "x", "gimp-2.10"));
	assert_null(match_app(&apps, &ex, "gimp", NULL));
	assert_string_equal(match_app(&apps, &ex, "x", "gimp-console-2.10"), "gimp-console");
	strlist_clear(&apps);
	strlist_clear(&ex);
}

static void test_exe_base(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(match_exe_base("/usr/bin/gimp-2.10", buf, sizeof(buf)), "gimp-2.10");
	assert_string_equal(match_exe_base("/usr/bin/gimp-2.10 (deleted)", buf, sizeof(buf)), "gimp-2.10");
	assert_string_equal(match_exe_base("gimp", buf, sizeof(buf)), "gimp");
	assert_string_equal(match_exe_base("/opt/a b/my prog", buf, sizeof(buf)), "my prog");
	/* only a trailing " (deleted)" is the kernel's marker */
	assert_string_equal(match_exe_base("/x/a (deleted) b", buf, sizeof(buf)), "a (deleted) b");
	assert_ptr_equal(match_exe_base("/x/y", buf, sizeof(buf)), buf);
	assert_null(match_exe_base("/usr/bin/", buf, sizeof(buf)));
	assert_null(match_exe_base("", buf, sizeof(buf)));
	assert_null(match_exe_base(NULL, buf, sizeof(buf)));
	assert_null(match_exe_base("/bin/0123456789012345678901234567890123", buf, sizeof(buf)));
	assert_string_equal(match_exe_base("/bin/abc", buf, 4), "abc");
	assert_null(match_exe_base("/bin/abcd", buf, 4));
}

static void test_strlist(void **state)
{
	struct strlist l = { 0 }, copy = { 0 };

	(void)state;
	for (int i = 0; i < 20; i++) {
		char s[8];

		snprintf(s, sizeof(s), "n%d", i);
		assert_int_equal(strlist_add(&l, s), 0);
	}
	assert_int_equal(strlist_add(&l, "n3"), 0);   /* duplicate: not added */
	assert_int_equal(l.n, 20);
	assert_true(strlist_contains(&l, "n19"));
	assert_false(strlist_contains(&l, "n20"));
	assert_true(strlist_remove(&l, "n0"));
	assert_false(strlist_remove(&l, "n0"));
	assert_string_equal(l.v[0], "n1");           /* order kept */
	assert_string_equal(l.v[18], "n19");
	assert_int_equal(strlist_add(&copy, "old"), 0);
	assert_int_equal(strlist_copy(&copy, &l), 0);
	assert_int_equal(copy.n, 19);
	assert_false(strlist_contains(&copy, "old"));
	assert_ptr_not_equal(copy.v[0], l.v[0]);     /* deep copy */
	assert_int_equal(strlist_copy(&l, &l), 0);
	assert_int_equal(l.n, 19);
	strlist_clear(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.v);
	strlist_clear(&copy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_comm),
		cmocka_unit_test(test_exe),
		cmocka_unit_test(test_degenerate),
		cmocka_unit_test(test_match_app),
		cmocka_unit_test(test_exe_base),
		cmocka_unit_test(test_strlist),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
