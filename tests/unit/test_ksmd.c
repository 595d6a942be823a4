/* test_ksmd.c — knob apply/restore against a fake sysfs directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_sysfs.h"
#include "ksmd.h"

static char root[PATH_MAX];

static int setup(void **state)
{
	(void)state;
	if (fake_sysfs_make(root, "ksmd") < 0)
		return -1;
	put(root, "run", "0\n");
	put(root, "pages_to_scan", "100\n");
	put(root, "sleep_millisecs", "20\n");
	put(root, "advisor_mode", "[none] scan-time\n");
	put(root, "pages_sharing", "42\n");
	put(root, "general_profit", "-4096\n");
	ksmd_set_root(root);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return fake_sysfs_remove(root);
}

static struct ksmd_setting knob(const char *k, const char *v, int line)
{
	struct ksmd_setting s = { .line = line };

	snprintf(s.knob, sizeof(s.knob), "%s", k);
	snprintf(s.value, sizeof(s.value), "%s", v);
	snprintf(s.file, sizeof(s.file), "/etc/ksmplusd.conf");
	return s;
}

static void test_apply_and_restore(void **state)
{
	struct ksmd_setting s[] = { knob("pages_to_scan", "5000", 3), knob("advisor_mode", "scan-time", 4) };
	char err[512] = "";

	(void)state;
	assert_true(ksmd_available());
	assert_int_equal(ksmd_apply(s, 2, err, sizeof(err)), 0);
	assert_knob("pages_to_scan", "5000");
	assert_knob("run", "1");        /* started by default */
	assert_knob("advisor_mode", "scan-time");
	ksmd_restore();
	assert_knob("pages_to_scan", "100");
	assert_knob("run", "0");
	assert_knob("advisor_mode", "none");
}

static void test_unknown_knob_names_file_line(void **state)
{
	struct ksmd_setting s[] = { knob("pages_to_scan", "7", 2), knob("smart_scan", "1", 9) };
	char err[512] = "";

	(void)state;
	assert_int_equal(ksmd_apply(s, 2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/etc/ksmplusd.conf:9:"));
	assert_non_null(strstr(err, "smart_scan"));
	/* nothing half-applied */
	assert_knob("pages_to_scan", "100");
}

static void test_explicit_run_kept(void **state)
{
	struct ksmd_setting s[] = { knob("run", "0", 5) };
	char err[512] = "";

	(void)state;
	assert_int_equal(ksmd_apply(s, 1, err, sizeof(err)), 0);
	assert_knob("run", "0");
	ksmd_restore();
}

static void test_global(void **state)
{
	struct ksmd_global g;

	(void)state;
	assert_int_equal(ksmd_read_global(&g), 0);
	assert_int_equal(g.pages_sharing, 42);
	assert_int_equal(g.general_profit, -4096);
	assert_int_equal(g.full_scans, 0);      /* absent file reads as 0 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apply_and_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_knob_names_file_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_explicit_run_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_global, setup, teardown),
	};
	return cmocka_run_group_tests_name("ksmd", tests, NULL, NULL);
}
