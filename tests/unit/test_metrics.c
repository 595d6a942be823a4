/* test_metrics.c — the Prometheus text (metrics_format) and its atomic
 * textfile (metrics_write_file). promtool checks the real output in
 * tests/integration/85-metrics.sh; here, exact lines and error paths. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon.h"
#include "metrics.h"
#include "version.h"

static const struct metrics_global base = {
	.backend = "ptrace", .general_profit = -4096, .ksmd_cpu_seconds = 12.5,
	.tracked = 3, .untracked = 1, .enrolled = 5, .later = 2, .skipped = 1, .gone = 4,
	.dropped = 1, .gov_state = NULL, .gov_smart_window = -1, .figures_age_seconds = -1,
};

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static void test_per_app_and_global(void **state)
{
	(void)state;
	const char *names[] = { "gimp", "firefox-esr" };
	struct app_figures f[2] = {
		{ .procs = 2, .enrolled_kib = 1024, .merging_kib = 512, .saved_kib = 256, .exact = true },
		{ .procs = 0 },
	};
	char *t = metrics_format(&base, names, f, 2);

	assert_non_null(t);
	assert_true(has_line(t, "# TYPE ksmplus_app_saved_bytes gauge"));
	assert_true(has_line(t, "ksmplus_app_processes{app=\"gimp\"} 2"));
	assert_true(has_line(t, "ksmplus_app_processes{app=\"firefox-esr\"} 0"));
	assert_true(has_line(t, "ksmplus_app_enrolled_bytes{app=\"gimp\"} 1048576"));
	assert_true(has_line(t, "ksmplus_app_merging_bytes{app=\"gimp\"} 524288"));
	assert_true(has_line(t, "ksmplus_app_saved_bytes{app=\"gimp\"} 262144"));
	assert_true(has_line(t, "ksmplus_app_saved_exact{app=\"gimp\"} 1"));
	assert_true(has_line(t, "ksmplus_app_saved_exact{app=\"firefox-esr\"} 0"));
	assert_true(has_line(t, "ksmplus_info{version=\"" KSMPLUS_VERSION "\",backend=\"ptrace\"} 1"));
	assert_true(has_line(t, "ksmplus_enroll_total{result=\"enrolled\"} 5"));
	assert_true(has_line(t, "ksmplus_enroll_total{result=\"later\"} 2"));
	assert_true(has_line(t, "ksmplus_enroll_total{result=\"gone\"} 4"));
	assert_true(has_line(t, "ksmplus_dropped_total 1"));
	assert_true(has_line(t, "ksmplus_untracked_processes 1"));
	assert_true(has_line(t, "ksmplus_general_profit_bytes -4096"));     /* negative is fine */
	assert_true(has_line(t, "ksmplus_ksmd_cpu_seconds_total 12.50"));
	/* No governor (fixed), no exact figures yet: those metrics are absent,
	 * not zero (a zero would read as "idle" or "fresh"). */
	assert_null(strstr(t, "ksmplus_governor_state"));
	assert_null(strstr(t, "smart_scan_window"));
	assert_null(strstr(t, "ksmplus_figures_age_seconds"));
	/* every metric has its HELP and TYPE, once */
	assert_int_equal(strstr(t, "# TYPE ksmplus_app_processes") - strstr(t, "# HELP ksmplus_app_processes") > 0, 1);
	assert_ptr_equal(strstr(strstr(t, "# TYPE ksmplus_info") + 1, "# TYPE ksmplus_info"), NULL);
	free(t);
}

static void test_governor_and_unknowns(void **state)
{
	(void)state;
	struct metrics_global g = base;
	g.gov_state = "burst";
	g.gov_knob_writes = 7;
	g.gov_smart_window = 1;
	g.ksmd_cpu_seconds = -1;        /* no ksmd thread found */
	g.figures_age_seconds = 0.25;
	char *t = metrics_format(&g, NULL, NULL, 0);

	assert_non_null(t);
	assert_true(has_line(t, "ksmplus_governor_state{state=\"burst\"} 1"));
	assert_true(has_line(t, "ksmplus_governor_state{state=\"idle\"} 0"));
	assert_true(has_line(t, "ksmplus_governor_state{state=\"pressure\"} 0"));
	assert_true(has_line(t, "ksmplus_governor_knob_writes_total 7"));
	assert_true(has_line(t, "ksmplus_governor_smart_scan_window 1"));
	assert_true(has_line(t, "ksmplus_figures_age_seconds 0.250"));
	assert_null(strstr(t, "ksmd_cpu_seconds"));
	free(t);
	g.gov_smart_window = -1;                /* smart_scan not the governor's */
	t = metrics_format(&g, NULL, NULL, 0);
	assert_non_null(t);
	assert_true(has_line(t, "ksmplus_governor_knob_writes_total 7"));
	assert_null(strstr(t, "smart_scan_window"));
	/* no apps: the per-app metrics still say what they are */
	assert_true(has_line(t, "# TYPE ksmplus_app_processes gauge"));
	assert_null(strstr(t, "{app="));
	free(t);
	/* governor = fixed: no state, but its smart_scan window */
	g.gov_state = NULL;
	g.gov_smart_window = 1;
	t = metrics_format(&g, NULL, NULL, 0);
	assert_non_null(t);
	assert_null(strstr(t, "ksmplus_governor_state"));
	assert_null(strstr(t, "ksmplus_governor_knob_writes_total"));
	assert_true(has_line(t, "ksmplus_governor_smart_scan_window 1"));
	free(t);
}

/* App names are plain names, but a label value must survive any byte the
 * exposition format treats specially. */
static void test_label_escaping(void **state)
{
	(void)state;
	const char *names[] = { "we\"ird\\app\nx" };
	struct app_figures f[1] = { { .procs = 1 } };
	char *t = metrics_format(&base, names, f, 1);

	assert_non_null(t);
	assert_true(has_line(t, "ksmplus_app_processes{app=\"we\\\"ird\\\\app\\nx\"} 1"));
	free(t);
}

static void test_write_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/ksmplus-test-metrics.XXXXXX", path[128], err[256], buf[64];
	FILE *f;
	struct stat st;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ksmplus.prom", dir);
	assert_int_equal(metrics_write_file(path, "a 1\n", err, sizeof(err)), 0);
	assert_int_equal(metrics_write_file(path, "b 2\n", err, sizeof(err)), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "b 2\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);        /* fails if a temporary was left */

	/* a missing directory: the path and the reason */
	assert_int_equal(metrics_write_file(path, "a 1\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, strerror(ENOENT)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_app_and_global),
		cmocka_unit_test(test_governor_and_unknowns),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_write_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
