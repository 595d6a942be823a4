/* test_governor.c — the governor's state machine, with injected time:
 * burst after enrollment, settle, idle; pressure now, and bounded knob
 * changes under pressure that comes and goes; the CPU cap; MemAvailable's
 * hysteresis; the advisor's knobs for the same states; app growth;
 * memory.events parsing; the smart_scan window after new memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "governor.h"

#define SEC 1000000ULL

static const struct gov_params P = { 25, GOV_MIN_CHANGE_USEC, GOV_PRESSURE_HOLD_USEC, false };
static const struct gov_params PA = { 30, GOV_MIN_CHANGE_USEC, GOV_PRESSURE_HOLD_USEC, true };

/* A world: time, KSM's full scans and our merged pages, ksmd's CPU. */
struct world {
	struct gov_machine m;
	struct gov_input in;
	unsigned changes;
	const struct gov_params *p;
};

static void start_with(struct world *w, const struct gov_params *p)
{
	memset(w, 0, sizeof(*w));
	w->p = p;
	w->in.now = 1000 * SEC;
	w->in.full_scans = 10;
	w->in.cpu_percent = 1;
	gov_init(&w->m, p, &w->in);
}

static void start(struct world *w)
{
	start_with(w, &P);
}

/* sec seconds pass in 1 s steps; every scan_every seconds a full scan
 * ends, merging gain pages more. */
static void run(struct world *w, unsigned sec, unsigned scan_every, long long gain)
{
	for (unsigned i = 1; i <= sec; i++) {
		w->in.now += SEC;
		if (scan_every && i % scan_every == 0) {
			w->in.full_scans++;
			w->in.merging += gain;
		}
		if (gov_step(&w->m, w->p, &w->in))
			w->changes++;
	}
}

static void go_idle(struct world *w)
{
	run(w, 60, 2, 0);
	assert_int_equal(w->m.state, GOV_IDLE);
}

static void test_starts_settling_then_idles(void **state)
{
	struct world w;

	(void)state;
	start(&w);
	assert_int_equal(w.m.state, GOV_SETTLE);
	go_idle(&w);
	assert_int_equal(w.m.knobs.sleep_ms, 1000);
	assert_int_equal(w.m.knobs.pages_to_scan, 100);
}

/* Enrollment bursts at once; two full scans are not enough while merging
 * still grows; then settle, then idle after a scan that gains nothing. */
static void test_burst_until_scans_and_no_growth(void **state)
{
	struct world w;

	(void)state;
	start(&w);
	go_idle(&w);
	gov_note_enrolled(&w.m, "app[1], 40 MiB");
	run(&w, 1, 0, 0);
	assert_int_equal(w.m.state, GOV_BURST);
	assert_int_equal(w.m.knobs.pages_to_scan, 1000);
	assert_int_equal(w.m.knobs.sleep_ms, 20);
	assert_non_null(strstr(w.m.why, "app[1]"));
	run(&w, 30, 5, 1000);           /* 6 scans, each merging more */
	assert_int_equal(w.m.state, GOV_BURST);
	run(&w, 5, 5, 0);               /* a scan that gains nothing */
	assert_int_equal(w.m.state, GOV_SETTLE);
	assert_int_equal(w.m.knobs.pages_to_scan, 100);
	assert_int_equal(w.m.knobs.sleep_ms, 20);
	run(&w, 20, 5, 0);
	assert_int_equal(w.m.state, GOV_IDLE);
}

/* Scans done but no scan boundary seen since enrollment: still burst. */
static void test_burst_needs_two_scans(void **state)
{
	struct world w;

	(void)state;
	start(&w);
	go_idle(&w);
	gov_note_enrolled(&w.m, "x");
	run(&w, 30, 20, 0);             /* one scan only */
	assert_int_equal(w.m.state, GOV_BURST);
	run(&w, 10, 10, 0);             /* the second */
	assert_int_equal(w.m.state, GOV_SETTLE);
}

static void test_pressure_is_immediate_and_ends(void **state)
{
	struct world w;

	(void)state;
	start(&w);
	go_idle(&w);
	gov_note_pressure(&w.m, "memcg test");
	run(&w, 1, 0, 0);
	assert_int_equal(w.m.state, GOV_PRESSURE);
	assert_non_null(strstr(w.m.why, "memcg test"));
	assert_int_equal(w.m.knobs.sleep_ms, 20);
	assert_true(w.m.knobs.pages_to_scan >= 400);
	/* quiet: pressure holds, then settle, then idle */
	run(&w, GOV_PRESSURE_HOLD_USEC / SEC - 2, 2, 0);
	assert_int_equal(w.m.state, GOV_PRESSURE);
	run(&w, 60, 2, 0);
	assert_int_equal(w.m.state, GOV_IDLE);
}

/* Pressure that comes and goes every 7 s for 10 minutes: a few knob
 * changes a minute at most (here: one step up, the ramp, no flapping). */
static void test_oscillating_pressure_is_bounded(void **state)
{
	struct world w;

	(void)state;
	start(&w);
	go_idle(&w);
	w.changes = 0;
	for (int i = 0; i < 600 / 7; i++) {
		gov_note_pressure(&w.m, "psi");
		run(&w, 7, 3, 0);
	}
	assert_int_equal(w.m.state, GOV_PRESSURE);
	assert_true(w.changes <= 10);
	/* and every 40 s, longer than the hold: the hold grows instead of
	 * the knobs flipping at every swing (10 minutes, 10 changes at most) */
	go_idle(&w);
	w.changes = 0;
	for (int i = 0; i < 15; i++) {
		gov_note_pressure(&w.m, "psi");
		run(&w, 40, 3, 0);
	}
	assert_true(w.changes <= 10);
	/* pressure that stays away long enough: back to the short hold */
	run(&w, 600, 3, 0);
	assert_int_equal(w.m.state, GOV_IDLE);
}

/* Under pressure the pace ramps while ksmd is well under its cap, and
 * backs off when over it. */
static void test_ramp_under_cpu_cap(void **state)
{
	struct world w;
	long long top;

	(void)state;
	start(&w);
	gov_note_pressure(&w.m, "psi");
	w.in.cpu_percent = 2;
	for (int i = 0; i < 10; i++) {
		gov_note_pressure(&w.m, "psi");
		run(&w, 10, 0, 0);
	}
	top = w.m.knobs.pages_to_scan;
	assert_int_equal(top, 4000);
	w.in.cpu_percent = 40;          /* over the 25 % cap */
	gov_note_pressure(&w.m, "psi");
	run(&w, 10, 0, 0);
	assert_true(w.m.knobs.pages_to_scan < top);
	assert_int_equal(w.m.state, GOV_PRESSURE);
}

/* A burst, too, stays under the cap. */
static void test_burst_under_cpu_cap(void **state)
{
	struct world w;

	(void)state;
	start(&w);
	go_idle(&w);
	gov_note_enrolled(&w.m, "big");
	w.in.cpu_percent = 60;
	run(&w, 11, 0, 0);
	assert_int_equal(w.m.state, GOV_BURST);
	assert_true(w.m.knobs.pages_to_scan < 1000);
}

static void test_mem_low_hysteresis(void **state)
{
	(void)state;
	assert_false(gov_mem_low(false, 12, 100));
	assert_true(gov_mem_low(false, 9, 100));
	assert_true(gov_mem_low(true, 14, 100));     /* stays low until 15 % */
	assert_false(gov_mem_low(true, 16, 100));
	assert_false(gov_mem_low(false, 0, 0));      /* no MemTotal: no verdict */
}

/* MemAvailable low is pressure as long as it lasts. */
static void test_mem_low_is_pressure(void **state)
{
	struct world w;

	(void)state;
	start(&w);
	go_idle(&w);
	w.in.mem_low = true;
	run(&w, 1, 0, 0);
	assert_int_equal(w.m.state, GOV_PRESSURE);
	assert_non_null(strstr(w.m.why, "MemAvailable"));
	run(&w, 120, 2, 0);
	assert_int_equal(w.m.state, GOV_PRESSURE);
	w.in.mem_low = false;
	run(&w, 60, 2, 0);
	assert_int_equal(w.m.state, GOV_IDLE);
}

/* The trickle finds memory that became mergeable: back to settle. */
static void test_idle_gaining_settles(void **state)
{
	struct world w;

	(void)state;
	start(&w);
	go_idle(&w);
	run(&w, 10, 10, 5000);
	assert_int_equal(w.m.state, GOV_SETTLE);
}

/* governor = advisor: the same states, the advisor's knobs. Burst: a short
 * target scan time under the CPU cap; settle: the kernel's 200 s; idle:
 * ksmd stopped (the advisor has a 10 % CPU floor, no slow pace); pressure:
 * the target halves while pressure is signalled; ksmd over the cap slows. */
static void test_advisor_knobs(void **state)
{
	struct world w;

	(void)state;
	start_with(&w, &PA);
	assert_int_equal(w.m.knobs.scan_time_sec, 200);
	assert_int_equal(w.m.knobs.max_cpu, 30);
	assert_int_equal(w.m.knobs.run, 1);
	go_idle(&w);
	assert_int_equal(w.m.knobs.run, 0);
	assert_non_null(strstr(w.m.why, "ksmd stopped"));
	gov_note_enrolled(&w.m, "app[1], whole");
	run(&w, 1, 0, 0);
	assert_int_equal(w.m.state, GOV_BURST);
	assert_int_equal(w.m.knobs.run, 1);
	assert_int_equal(w.m.knobs.scan_time_sec, 5);
	assert_int_equal(w.m.knobs.max_cpu, 30);
	w.in.cpu_percent = 50;          /* over the cap: a longer scan */
	run(&w, 11, 0, 0);
	assert_true(w.m.knobs.scan_time_sec > 5);
	w.in.cpu_percent = 2;
	for (int i = 0; i < 60 && w.m.state == GOV_BURST; i++)
		run(&w, 1, 1, 0);
	assert_int_equal(w.m.state, GOV_SETTLE);
	assert_int_equal(w.m.knobs.scan_time_sec, 200);
	assert_int_equal(w.m.knobs.run, 1);
	for (int i = 0; i < 10; i++) {
		gov_note_pressure(&w.m, "psi");
		run(&w, 10, 0, 0);
	}
	assert_int_equal(w.m.state, GOV_PRESSURE);
	assert_int_equal(w.m.knobs.scan_time_sec, 2);
	assert_int_equal(w.m.knobs.run, 1);
	run(&w, 200, 2, 0);
	assert_int_equal(w.m.state, GOV_IDLE);
	assert_int_equal(w.m.knobs.run, 0);
}

/* App growth: more than the limit above the mark (the latest burst, or the
 * low point since) bursts again; while bursting the mark follows. */
static void test_growth_rule(void **state)
{
	long long mark = 1000;

	(void)state;
	assert_false(gov_grew(&mark, 1000 + 64 * 1024, 64 * 1024, false));     /* not more than */
	assert_true(gov_grew(&mark, 1001 + 64 * 1024, 64 * 1024, false));
	assert_int_equal(mark, 1001 + 64 * 1024);
	assert_false(gov_grew(&mark, 500, 64 * 1024, false));                  /* shrank: low point */
	assert_int_equal(mark, 500);
	assert_true(gov_grew(&mark, 500 + 70 * 1024, 64 * 1024, false));
	assert_false(gov_grew(&mark, 900 * 1024, 64 * 1024, true));            /* bursting */
	assert_int_equal(mark, 900 * 1024);
	assert_false(gov_grew(&mark, 9000 * 1024, 0, false));                  /* 0: off */
}

static void test_growth_bursts(void **state)
{
	struct world w;

	(void)state;
	start(&w);
	go_idle(&w);
	gov_note_grew(&w.m, "gimp", 80 * 1024);
	run(&w, 1, 0, 0);
	assert_int_equal(w.m.state, GOV_BURST);
	assert_non_null(strstr(w.m.why, "gimp grew by 80 MiB"));
	run(&w, 60, 5, 0);
	assert_int_equal(w.m.state, GOV_IDLE);
}

/* New memory turns smart_scan off for GOV_SMART_SCANS full scans counted
 * from the step that sees it; another enrollment inside the window extends
 * it from then; growth opens one too; pressure leaves it alone; it closes
 * by full scans, not by time, and whatever the pace state. */
static void test_smart_scan_window(void **state)
{
	struct world w;
	long long f;

	(void)state;
	start(&w);
	assert_false(w.m.smart.off);
	go_idle(&w);
	assert_false(w.m.smart.off);
	f = w.in.full_scans;
	gov_note_enrolled(&w.m, "b[7], whole");
	w.in.now += SEC;
	assert_true(gov_step(&w.m, w.p, &w.in));        /* a change to write */
	assert_true(w.m.smart.off);
	assert_int_equal(w.m.smart.until, f + GOV_SMART_SCANS);
	assert_string_equal(w.m.smart.why, "enrolled b[7], whole");
	/* time alone does not close it */
	run(&w, 600, 0, 0);
	assert_true(w.m.smart.off);
	/* a second enrollment two scans later: five scans from there */
	run(&w, 4, 2, 10);
	gov_note_enrolled(&w.m, "b[8], whole");
	run(&w, 1, 0, 0);
	assert_int_equal(w.m.smart.until, f + 2 + GOV_SMART_SCANS);
	assert_string_equal(w.m.smart.why, "enrolled b[8], whole");
	w.in.full_scans = f + 2 + GOV_SMART_SCANS - 1;
	run(&w, 1, 0, 0);
	assert_true(w.m.smart.off);
	w.in.full_scans++;
	w.in.now += SEC;
	assert_true(gov_step(&w.m, w.p, &w.in));
	assert_false(w.m.smart.off);
	/* pressure is not new memory */
	gov_note_pressure(&w.m, "PSI");
	run(&w, 30, 1, 0);
	assert_false(w.m.smart.off);
	/* growth is new memory */
	gov_note_grew(&w.m, "b", 100 * 1024);
	run(&w, 1, 0, 0);
	assert_true(w.m.smart.off);
	assert_string_equal(w.m.smart.why, "b grew by 100 MiB");
	run(&w, 2 * GOV_SMART_SCANS, 1, 0);
	assert_false(w.m.smart.off);
}

/* governor = fixed runs the window alone, without the machine: the note
 * opens it at the next step, GOV_SMART_SCANS full scans from that step;
 * a later note extends it (never shortens it); full scans close it. */
static void test_window_alone(void **state)
{
	struct gov_window w;

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_false(gov_window_step(&w, 10));
	assert_false(w.off);
	gov_window_note(&w, "enrolled a[1], whole");
	assert_false(w.off);                            /* at the step, not the note */
	assert_true(gov_window_step(&w, 10));
	assert_true(w.off);
	assert_int_equal(w.until, 10 + GOV_SMART_SCANS);
	assert_string_equal(w.why, "enrolled a[1], whole");
	assert_false(gov_window_step(&w, 12));          /* no change: nothing to write */
	assert_true(w.off);
	gov_window_note(&w, "enrolled a[2], whole");
	assert_false(gov_window_step(&w, 13));
	assert_int_equal(w.until, 13 + GOV_SMART_SCANS);
	assert_string_equal(w.why, "enrolled a[2], whole");
	assert_false(gov_window_step(&w, 13 + GOV_SMART_SCANS - 1));
	assert_true(w.off);
	assert_true(gov_window_step(&w, 13 + GOV_SMART_SCANS));
	assert_false(w.off);
	assert_false(gov_window_step(&w, 100));         /* closed stays closed */
	/* a note seen late (full_scans read before a reload's carried end) */
	w.until = 200;
	gov_window_note(&w, "a grew by 80 MiB");
	assert_true(gov_window_step(&w, 100));
	assert_int_equal(w.until, 200);
	assert_string_equal(w.why, "a grew by 80 MiB");
}

static void test_memevents_parse(void **state)
{
	long long high, max;

	(void)state;
	gov_memevents_parse("low 0\nhigh 12\nmax 3\noom 1\noom_kill 0\noom_group_kill 0\n", &high, &max);
	assert_int_equal(high, 12);
	assert_int_equal(max, 3);
	gov_memevents_parse("low 5\nmax 7", &high, &max);
	assert_int_equal(high, -1);
	assert_int_equal(max, 7);
	gov_memevents_parse("", &high, &max);
	assert_int_equal(high, -1);
	assert_int_equal(max, -1);
	gov_memevents_parse("highest 4\nmaxi 9\n", &high, &max);       /* whole keys only */
	assert_int_equal(high, -1);
	assert_int_equal(max, -1);
}

/* [ksmd] governor and max_cpu_percent: parsed, defaults, errors with
 * file:line. */
static int parse(const char *text, struct config *c, char *err, size_t errlen)
{
	char path[] = "/tmp/test_governor.XXXXXX";
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	config_init(c);
	rc = config_parse_file(path, c, err, errlen);
	unlink(path);
	return rc;
}

static void test_config(void **state)
{
	struct config c;
	char err[512];

	(void)state;
	assert_int_equal(parse("[ksmd]\npages_to_scan = 5\n", &c, err, sizeof(err)), 0);
	config_settle_governor(&c);
	assert_int_equal(c.governor, GOVERNOR_FIXED);   /* the admin set the pace */
	config_free(&c);
	assert_int_equal(parse("[ksmd]\nsleep_millisecs = 50\ngovernor = pressure\n", &c, err,
			       sizeof(err)), 0);
	config_settle_governor(&c);
	assert_int_equal(c.governor, GOVERNOR_PRESSURE);
	config_free(&c);
	assert_int_equal(parse("[ksmd]\nmerge_across_nodes = 0\n", &c, err, sizeof(err)), 0);
	config_settle_governor(&c);
	assert_int_equal(c.governor, GOVERNOR_PRESSURE); /* the default */
	config_free(&c);
	assert_int_equal(parse("[ksmd]\ngovernor = fixed\n", &c, err, sizeof(err)), 0);
	config_settle_governor(&c);
	assert_int_equal(c.governor, GOVERNOR_FIXED);
	assert_int_equal(c.max_cpu_percent, 25);
	config_free(&c);
	assert_int_equal(parse("[ksmd]\ngovernor = pressure\nmax_cpu_percent = 40\n", &c,
			       err, sizeof(err)), 0);
	assert_int_equal(c.governor, GOVERNOR_PRESSURE);
	assert_int_equal(c.max_cpu_percent, 40);
	assert_int_equal(c.n_knobs, 0);         /* not knobs written to sysfs */
	config_free(&c);
	assert_int_equal(parse("[ksmd]\n\ngovernor = turbo\n", &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":3: invalid value 'turbo' for governor"));
	config_free(&c);
	assert_int_equal(parse("[ksmd]\nmax_cpu_percent = 0\n", &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: invalid value '0' for max_cpu_percent"));
	config_free(&c);
	assert_int_equal(parse("[ksmd]\ngovernor = advisor\nburst_growth_mib = 0\n", &c, err,
			       sizeof(err)), 0);
	assert_int_equal(c.governor, GOVERNOR_ADVISOR);
	assert_int_equal(c.burst_growth_mib, 0);
	assert_int_equal(c.n_knobs, 0);
	config_free(&c);
	assert_int_equal(parse("[ksmd]\n", &c, err, sizeof(err)), 0);
	assert_int_equal(c.burst_growth_mib, 64);
	config_free(&c);
	assert_int_equal(parse("[ksmd]\nburst_growth_mib = lots\n", &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: invalid value 'lots' for burst_growth_mib (expected 0..1048576)"));
	config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starts_settling_then_idles),
		cmocka_unit_test(test_burst_until_scans_and_no_growth),
		cmocka_unit_test(test_burst_needs_two_scans),
		cmocka_unit_test(test_pressure_is_immediate_and_ends),
		cmocka_unit_test(test_oscillating_pressure_is_bounded),
		cmocka_unit_test(test_ramp_under_cpu_cap),
		cmocka_unit_test(test_burst_under_cpu_cap),
		cmocka_unit_test(test_mem_low_hysteresis),
		cmocka_unit_test(test_mem_low_is_pressure),
		cmocka_unit_test(test_idle_gaining_settles),
		cmocka_unit_test(test_advisor_knobs),
		cmocka_unit_test(test_growth_rule),
		cmocka_unit_test(test_growth_bursts),
		cmocka_unit_test(test_smart_scan_window),
		cmocka_unit_test(test_window_alone),
		cmocka_unit_test(test_memevents_parse),
		cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
