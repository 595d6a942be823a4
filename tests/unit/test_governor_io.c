/* test_governor_io.c — the governor in a daemon, against a fake sysfs and a
 * fake cgroup2 tree (this machine's unified hierarchy has no memory
 * controller and no memory.events): the v2 memory.events watch (inotify,
 * as the kernel raises a modify event when a counter changes), the advisor
 * on and off with pages_to_scan put back, an advisor knob taken by the
 * admin, the fallback to pressure on a kernel without the advisor, an
 * app's growth read from /proc, and the per-cgroup watches held by enrolled
 * processes and released, fds and all, with the last one (a fake v1
 * memory hierarchy too: cgroup.event_control is a plain file there); the
 * smart_scan window after an enrollment: off, back after its full scans,
 * put back at stop and by the kill switch's restore, left alone when
 * pinned in [ksmd], taken by the admin, or absent (kernels before 6.7);
 * the same window under governor = fixed, which leaves the pace alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "fake_sysfs.h"
#include "governor.h"
#include "ksmd.h"
#include "protocol.h"

static char dir[PATH_MAX], sysfs[PATH_MAX + 8], cg2[PATH_MAX + 8];
static struct daemon d;

static int setup(void **state)
{
	(void)state;
	if (fake_sysfs_make(dir, "govio") < 0)
		return -1;
	snprintf(sysfs, sizeof(sysfs), "%s/ksm", dir);
	snprintf(cg2, sizeof(cg2), "%s/cg2", dir);
	if (mkdir(sysfs, 0755) < 0 || mkdir(cg2, 0755) < 0)
		return -1;
	put(sysfs, "run", "1\n");
	put(sysfs, "pages_to_scan", "333\n");
	put(sysfs, "sleep_millisecs", "20\n");
	put(sysfs, "full_scans", "5\n");
	put(cg2, "cgroup.controllers", "cpu io pids\n");   /* as here: no memory */
	ksmd_set_root(sysfs);
	governor_set_cgroup_roots("", cg2);
	memset(&d, 0, sizeof(d));
	config_init(&d.cfg);
	return sd_event_new(&d.ev) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	governor_stop(&d);
	free(d.tr.v);
	governor_set_cgroup_roots(NULL, NULL);
	config_free(&d.cfg);
	d.ev = sd_event_unref(d.ev);
	return fake_sysfs_remove(dir);
}

/* Dispatches what is pending now (an inotify event: its handler counts). */
static void drain(void)
{
	for (int i = 0; i < 100 && sd_event_run(d.ev, 0) > 0; i++)
		;
}

static bool knob_is(const char *knob, const char *want)
{
	char v[64];

	return ksmd_read_knob(knob, v, sizeof(v)) == 0 && strcmp(v, want) == 0;
}

static bool state_is(const char *want)
{
	const char *st;
	unsigned writes;
	int window;

	return governor_state(&d, &st, &writes, &window) == 0 && st && strcmp(st, want) == 0;
}

/* The smart_scan window as the metrics see it: 1 open, 0 closed, -1 not
 * steered, -2 no governor. */
static int smart_window(void)
{
	const char *st;
	unsigned writes;
	int window;

	return governor_state(&d, &st, &writes, &window) == 0 ? window : -2;
}

/* Runs the loop until cond holds (a tick is due at once or within 2 s, and
 * sd-event may fire a timer up to 250 ms late): at most 10 s. */
#define RUN_UNTIL(cond)                                                              \
	do {                                                                         \
		for (int i_ = 0; i_ < 40 && !(cond); i_++)                           \
			assert_true(sd_event_run(d.ev, 250000) >= 0);                \
		assert_true(cond);                                                   \
	} while (0)

static void status(struct proto_record *r)
{
	proto_record_init(r);
	governor_status(&d, r);
}

static const char *field(struct proto_record *r, const char *key)
{
	const char *v;

	status(r);
	v = proto_get(r, key);
	return v ? v : "";
}

static void events(const char *text)
{
	char p[2 * PATH_MAX];

	snprintf(p, sizeof(p), "%s/app.scope", cg2);
	put(p, "memory.events", text);
}

/* memory.events of an enrolled process's cgroup: a rise of high or max is
 * pressure at once; other counters (low, oom) are not. */
static void test_memevents_pressure(void **state)
{
	struct proto_record r;
	char p[2 * PATH_MAX];

	(void)state;
	snprintf(p, sizeof(p), "%s/app.scope", cg2);
	assert_int_equal(mkdir(p, 0755), 0);
	events("low 0\nhigh 4\nmax 0\noom 0\noom_kill 0\n");
	d.cfg.governor = GOVERNOR_PRESSURE;
	assert_int_equal(governor_start(&d), 0);
	RUN_UNTIL(knob_is("pages_to_scan", "100"));     /* the first tick: settle */
	governor_watch_cgroup(&d, 100, 1, NULL, "/app.scope");
	governor_watch_cgroup(&d, 101, 1, NULL, "/app.scope");  /* once per group */
	governor_watch_cgroup(&d, 102, 1, NULL, "/gone.scope"); /* no file: not watched */
	assert_string_equal(field(&r, "gov_memory_events"), "0");
	assert_false(state_is("pressure"));

	events("low 7\nhigh 4\nmax 0\noom 1\noom_kill 0\n");
	drain();
	assert_string_equal(field(&r, "gov_memory_events"), "0");

	events("low 7\nhigh 5\nmax 0\noom 1\noom_kill 0\n");
	drain();
	assert_string_equal(field(&r, "gov_memory_events"), "1");
	RUN_UNTIL(state_is("pressure"));

	events("low 7\nhigh 5\nmax 2\noom 1\noom_kill 0\n");
	drain();
	assert_string_equal(field(&r, "gov_memory_events"), "2");
}

/* governor = advisor: advisor_mode = scan-time and its knobs steered; at
 * stop every knob comes back, pages_to_scan too, which the kernel resets
 * when advisor_mode changes (played here by hand). */
/* governor = advisor on a kernel that has it, advisor_max_cpu 70 until the
 * first tick writes max_cpu (25 by default). */
static void start_advisor(const char *max_cpu)
{
	put(sysfs, "advisor_mode", "[none] scan-time\n");
	put(sysfs, "advisor_target_scan_time", "200\n");
	put(sysfs, "advisor_max_cpu", "70\n");
	d.cfg.governor = GOVERNOR_ADVISOR;
	assert_int_equal(governor_start(&d), 0);
	RUN_UNTIL(knob_is("advisor_max_cpu", max_cpu));    /* the first tick */
}

/* The daemon stops: the governor, then the knobs put back as at start. */
static void stop_and_restore(void)
{
	governor_stop(&d);
	ksmd_restore();
}

static void test_advisor_on_and_restored(void **state)
{
	struct proto_record r;

	(void)state;
	d.cfg.max_cpu_percent = 30;
	start_advisor("30");
	put(sysfs, "pages_to_scan", "500\n");   /* the kernel: advisor_min_pages_to_scan */
	assert_knob("advisor_mode", "scan-time");
	assert_knob("advisor_max_cpu", "30");
	assert_string_equal(field(&r, "governor"), "advisor");
	assert_string_equal(field(&r, "advisor_max_cpu"), "30");
	assert_string_equal(field(&r, "gov_admin_knobs"), "-");
	assert_null(proto_get(&r, "gov_note"));
	stop_and_restore();
	assert_knob("advisor_mode", "none");
	assert_knob("advisor_max_cpu", "70");
	assert_knob("pages_to_scan", "333");
}

/* The admin turns the advisor off behind our back: no longer steered, and
 * neither it nor pages_to_scan is "restored" at stop. */
static void test_advisor_taken_by_admin(void **state)
{
	struct proto_record r;

	(void)state;
	start_advisor("25");
	put(sysfs, "advisor_mode", "none\n");
	put(sysfs, "pages_to_scan", "1234\n");
	/* the governor's next tick (2 s) reads the knob back */
	RUN_UNTIL(strstr(field(&r, "gov_admin_knobs"), "advisor_mode") != NULL);
	stop_and_restore();
	assert_knob("advisor_mode", "none");
	assert_knob("pages_to_scan", "1234");
}

/* A kernel without the advisor: pressure instead, said in status. */
static void test_advisor_fallback(void **state)
{
	struct proto_record r;

	(void)state;
	d.cfg.governor = GOVERNOR_ADVISOR;
	assert_int_equal(governor_start(&d), 0);
	RUN_UNTIL(knob_is("pages_to_scan", "100"));     /* steered as pressure: settle */
	assert_string_equal(field(&r, "governor"), "pressure");
	assert_non_null(strstr(field(&r, "gov_note"), "advisor unavailable"));
	assert_null(proto_get(&r, "advisor_max_cpu"));
}

/* governor = pressure while the admin runs the kernel advisor: the advisor
 * owns pages_to_scan (the kernel refuses writes to it), so it is left alone
 * from the start and status says why; sleep_millisecs is still steered. */
static void test_pressure_leaves_admins_advisor(void **state)
{
	struct proto_record r;
	char v[64];

	(void)state;
	put(sysfs, "advisor_mode", "none [scan-time]\n");
	put(sysfs, "sleep_millisecs", "33\n");
	d.cfg.governor = GOVERNOR_PRESSURE;
	assert_int_equal(governor_start(&d), 0);
	RUN_UNTIL(!knob_is("sleep_millisecs", "33"));  /* the first tick steered */
	get("pages_to_scan", v, sizeof(v));
	assert_string_equal(v, "333");
	assert_non_null(strstr(field(&r, "gov_admin_knobs"), "pages_to_scan"));
	assert_non_null(strstr(field(&r, "gov_note"), "advisor"));
}

/* This test process as n enrolled processes of app "self", holding 4 MiB
 * of anonymous memory (returned: the caller frees it) for growth to add to. */
static char *track_self(size_t n)
{
	char *mem = malloc(4 << 20);

	assert_non_null(mem);
	memset(mem, 1, 4 << 20);
	d.tr.v = calloc(n, sizeof(*d.tr.v));
	assert_non_null(d.tr.v);
	for (size_t i = 0; i < n; i++) {
		d.tr.v[i].ref.pid = getpid();
		d.tr.v[i].ref.pidfd = -1;
		d.tr.v[i].state = TRACKED_ENROLLED;
		snprintf(d.tr.v[i].app, sizeof(d.tr.v[i].app), "self");
	}
	d.tr.n = n;
	return mem;
}

/* App growth, read for real: this test process, enrolled twice (an app of
 * two processes). Its first sum is the mark (not the first process's
 * share: that read a restart as growth); 8 MiB more (limit 2) bursts. */
static void test_growth_bursts(void **state)
{
	char *more;

	(void)state;
	char *mem = track_self(2);
	d.cfg.governor = GOVERNOR_PRESSURE;
	d.cfg.burst_growth_mib = 2;
	assert_int_equal(governor_start(&d), 0);
	RUN_UNTIL(!knob_is("pages_to_scan", "333"));   /* the first tick wrote */
	assert_true(state_is("settle"));                /* a restart is not growth */
	more = malloc(8 << 20);
	assert_non_null(more);
	memset(more, 2, 8 << 20);
	RUN_UNTIL(state_is("burst"));
	free(more);
	free(mem);
}

/* sd-event closes the O_PATH fds of inotify'd inodes at its next
 * iteration: counted after it. */
static size_t open_fds(void)
{
	DIR *dp;
	size_t n = 0;

	drain();
	assert_non_null(dp = opendir("/proc/self/fd"));
	while (readdir(dp))
		n++;
	closedir(dp);
	return n;
}

static unsigned watches(void)
{
	struct proto_record r;

	return (unsigned)strtoul(field(&r, "gov_watches"), NULL, 10);
}

/* Makes group rel in the fake v1 tree (memory.pressure_level,
 * cgroup.event_control) and in the fake v2 one (memory.events). */
static void group(const char *v1, const char *rel)
{
	char p[2 * PATH_MAX];

	snprintf(p, sizeof(p), "%s%s", v1, rel);
	assert_int_equal(mkdir(p, 0755), 0);
	put(p, "memory.pressure_level", "");
	put(p, "cgroup.event_control", "");
	snprintf(p, sizeof(p), "%s%s", cg2, rel);
	assert_int_equal(mkdir(p, 0755), 0);
	put(p, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
}

/* A group is watched while an enrolled process lives in it: two processes
 * share one.scope's watches (v1: an eventfd and memory.pressure_level
 * open; v2: an inotify watch), which go with the second to leave; a
 * process enrolled again holds them once; a PID reused (another start
 * time) holds nothing. Before, every group ever seen stayed watched, fds
 * and all, until MAX_WATCHES. */
static void test_watches_released(void **state)
{
	char v1[PATH_MAX + 8];
	size_t fds0;
	unsigned w0;

	(void)state;
	snprintf(v1, sizeof(v1), "%s/cg1", dir);
	assert_int_equal(mkdir(v1, 0755), 0);
	group(v1, "/one.scope");
	group(v1, "/two.scope");
	governor_set_cgroup_roots(v1, cg2);
	d.cfg.governor = GOVERNOR_PRESSURE;
	assert_int_equal(governor_start(&d), 0);
	fds0 = open_fds();
	w0 = watches();

	governor_watch_cgroup(&d, 100, 7, "/one.scope", "/one.scope");
	governor_watch_cgroup(&d, 100, 7, "/one.scope", "/one.scope");  /* enrolled again */
	governor_watch_cgroup(&d, 101, 7, "/one.scope", "/one.scope");
	governor_watch_cgroup(&d, 102, 7, "/two.scope", "/two.scope");
	assert_int_equal(watches(), w0 + 4);
	assert_int_equal(open_fds(), fds0 + 4 + 1);    /* two per v1 group, sd-event's inotify */

	governor_forget(&d, 100, 7);
	assert_int_equal(watches(), w0 + 4);           /* 101 is still in one.scope */
	governor_forget(&d, 101, 8);                   /* a reused PID: not 101 */
	assert_int_equal(watches(), w0 + 4);
	governor_forget(&d, 101, 7);
	assert_int_equal(watches(), w0 + 2);
	assert_int_equal(open_fds(), fds0 + 2 + 1);
	governor_forget(&d, 101, 7);                   /* twice: nothing more */
	governor_forget(&d, 102, 7);
	assert_int_equal(watches(), w0);
	assert_int_equal(open_fds(), fds0);

	governor_watch_cgroup(&d, 103, 7, "/one.scope", NULL);  /* watched anew */
	assert_int_equal(watches(), w0 + 1);
	assert_int_equal(open_fds(), fds0 + 2);
}

/* The wiring: a process leaving the tracker (exit, exec out of its app,
 * app removed, unmerge --all) releases its watches, through the
 * on_release hook governor_start sets and governor_stop takes back. */
static void test_tracker_releases_watches(void **state)
{
	char v1[PATH_MAX + 8];
	struct pidref ref = { 200, -1, 9 };
	size_t fds0;
	unsigned w0;

	(void)state;
	snprintf(v1, sizeof(v1), "%s/cg1", dir);
	assert_int_equal(mkdir(v1, 0755), 0);
	group(v1, "/app.scope");
	governor_set_cgroup_roots(v1, cg2);
	d.cfg.governor = GOVERNOR_PRESSURE;
	assert_int_equal(governor_start(&d), 0);
	fds0 = open_fds();
	w0 = watches();
	assert_non_null(tracker_add(&d.tr, &ref, "app", "app"));
	ref.pid = 201;
	assert_non_null(tracker_add(&d.tr, &ref, "app", "app"));
	governor_watch_cgroup(&d, 200, 9, "/app.scope", "/app.scope");
	governor_watch_cgroup(&d, 201, 9, "/app.scope", "/app.scope");
	assert_int_equal(watches(), w0 + 2);

	tracker_remove(&d.tr, 200);
	assert_int_equal(watches(), w0 + 2);
	tracker_clear(&d.tr);
	assert_int_equal(watches(), w0);
	assert_int_equal(open_fds(), fds0);
	governor_stop(&d);
	assert_null(d.tr.on_release);
}

/* An enrolled process as lifecycle.c hands it over (a PID with no /proc
 * entry: no cgroup to watch). */
static void enroll(struct tracked *t, pid_t pid)
{
	memset(t, 0, sizeof(*t));
	t->ref = (struct pidref){ pid, -1, 7 };
	t->state = TRACKED_ENROLLED;
	t->mode = ENROLL_WHOLE;
	snprintf(t->comm, sizeof(t->comm), "late");
	snprintf(t->app, sizeof(t->app), "late");
	governor_on_enrolled(&d, t);
}

static void start_smart(const char *smart)
{
	put(sysfs, "smart_scan", smart);
	d.cfg.governor = GOVERNOR_PRESSURE;
	assert_int_equal(governor_start(&d), 0);
	RUN_UNTIL(knob_is("pages_to_scan", "100"));     /* the first tick */
}

/* Off at once after an enrollment, with why in status; back when
 * full_scans reaches the window's end (5 + GOV_SMART_SCANS), not by time;
 * off again for the next one, and put back at stop. */
static void test_smart_scan_window(void **state)
{
	struct proto_record r;
	struct tracked t;
	char want[64];

	(void)state;
	start_smart("1\n");
	assert_string_equal(field(&r, "gov_smart_scan"), "on");
	assert_string_equal(field(&r, "smart_scan"), "1");
	enroll(&t, 999999);
	RUN_UNTIL(knob_is("smart_scan", "0"));
	snprintf(want, sizeof(want), "off until full scan %d: enrolled late[999999], whole",
		 5 + GOV_SMART_SCANS);
	assert_string_equal(field(&r, "gov_smart_scan"), want);
	assert_string_equal(field(&r, "gov_admin_knobs"), "-");
	put(sysfs, "full_scans", "9\n");
	for (int i = 0; i < 12; i++)                    /* 3 s: a tick or more */
		sd_event_run(d.ev, 250000);
	assert_true(knob_is("smart_scan", "0"));
	assert_int_equal(smart_window(), 1);
	put(sysfs, "full_scans", "10\n");
	RUN_UNTIL(knob_is("smart_scan", "1"));
	assert_string_equal(field(&r, "gov_smart_scan"), "on");
	assert_int_equal(smart_window(), 0);
	enroll(&t, 999998);
	RUN_UNTIL(knob_is("smart_scan", "0"));
	/* a reload puts the knobs back and starts the governor again: the
	 * window goes on until its full scan */
	ksmd_restore();
	governor_reload(&d);
	RUN_UNTIL(knob_is("smart_scan", "0"));
	snprintf(want, sizeof(want), "off until full scan %d: enrolled late[999998], whole",
		 10 + GOV_SMART_SCANS);
	assert_string_equal(field(&r, "gov_smart_scan"), want);
	stop_and_restore();
	assert_knob("smart_scan", "1");
}

/* The kill switch (unmerge --all) puts every knob back and pauses: the
 * window is not steered while paused, and resumes after. */
static void test_smart_scan_killswitch(void **state)
{
	struct proto_record r;
	struct tracked t;

	(void)state;
	start_smart("1\n");
	enroll(&t, 999999);
	RUN_UNTIL(knob_is("smart_scan", "0"));
	d.paused = true;
	ksmd_restore();
	assert_knob("smart_scan", "1");
	for (int i = 0; i < 12; i++)
		sd_event_run(d.ev, 250000);
	assert_true(knob_is("smart_scan", "1"));
	assert_string_equal(field(&r, "gov_smart_scan"), "as found (paused)");
	assert_int_equal(smart_window(), 0);
	d.paused = false;                               /* resume */
	RUN_UNTIL(knob_is("smart_scan", "0"));
	stop_and_restore();
	assert_knob("smart_scan", "1");
}

/* smart_scan = 1 in [ksmd]: the admin's */
static void pin_smart_scan(void)
{
	snprintf(d.cfg.knobs[0].knob, sizeof(d.cfg.knobs[0].knob), "smart_scan");
	snprintf(d.cfg.knobs[0].value, sizeof(d.cfg.knobs[0].value), "1");
	d.cfg.n_knobs = 1;
}

/* An enrollment and 3 s of ticks leave a pinned smart_scan alone, and
 * status says why: no window opened. */
static void expect_pinned_after_enroll(struct tracked *t, struct proto_record *r)
{
	enroll(t, 999999);
	for (int i = 0; i < 12; i++)
		sd_event_run(d.ev, 250000);
	assert_true(knob_is("smart_scan", "1"));
	assert_string_equal(field(r, "gov_smart_scan"), "pinned: set in [ksmd]");
	assert_int_equal(smart_window(), -1);
}

/* smart_scan in [ksmd] is the admin's: never turned off, status says so. */
static void test_smart_scan_pinned(void **state)
{
	struct proto_record r;
	struct tracked t;

	(void)state;
	pin_smart_scan();
	start_smart("1\n");
	expect_pinned_after_enroll(&t, &r);
	assert_non_null(strstr(field(&r, "gov_admin_knobs"), "smart_scan"));
}

/* Set by hand inside a window: the admin's from then on, not put back. */
static void test_smart_scan_taken(void **state)
{
	struct proto_record r;
	struct tracked t;

	(void)state;
	start_smart("1\n");
	enroll(&t, 999999);
	RUN_UNTIL(knob_is("smart_scan", "0"));
	put(sysfs, "smart_scan", "1\n");
	enroll(&t, 999998);
	RUN_UNTIL(strcmp(field(&r, "gov_smart_scan"), "not steered: changed by someone else") == 0);
	put(sysfs, "smart_scan", "0\n");
	stop_and_restore();
	assert_knob("smart_scan", "0");
}

/* Found off, or absent (before 6.7): nothing to turn off, nothing written. */
static void test_smart_scan_off_or_absent(void **state)
{
	struct proto_record r;
	struct tracked t;

	(void)state;
	start_smart("0\n");
	enroll(&t, 999999);
	RUN_UNTIL(state_is("burst"));
	assert_string_equal(field(&r, "gov_smart_scan"), "off as found");
	governor_stop(&d);
	char p[2 * PATH_MAX];

	snprintf(p, sizeof(p), "%s/smart_scan", sysfs);
	assert_int_equal(unlink(p), 0);
	d.cfg.governor = GOVERNOR_PRESSURE;
	assert_int_equal(governor_start(&d), 0);
	enroll(&t, 999999);
	RUN_UNTIL(state_is("burst"));
	assert_non_null(strstr(field(&r, "gov_smart_scan"), "kernel before 6.7"));
	assert_null(proto_get(&r, "smart_scan"));
}

/* governor = fixed: the pace is left as found (333 pages, 20 ms), only
 * smart_scan has its window: off at an enrollment, back at full scan
 * 5 + GOV_SMART_SCANS; status says fixed and why, the metrics have the
 * window but no state; the kill switch's restore and stop put it back. */
static void test_smart_scan_fixed(void **state)
{
	struct proto_record r;
	struct tracked t;
	char want[64];

	(void)state;
	put(sysfs, "smart_scan", "1\n");
	d.cfg.governor = GOVERNOR_FIXED;
	assert_int_equal(governor_start(&d), 0);
	drain();
	assert_string_equal(field(&r, "governor"), "fixed");
	assert_string_equal(field(&r, "gov_smart_scan"), "on");
	assert_null(proto_get(&r, "gov_state"));
	assert_int_equal(smart_window(), 0);
	assert_false(state_is("idle"));                 /* no pace state to show */
	enroll(&t, 999999);
	RUN_UNTIL(knob_is("smart_scan", "0"));
	snprintf(want, sizeof(want), "off until full scan %d: enrolled late[999999], whole",
		 5 + GOV_SMART_SCANS);
	assert_string_equal(field(&r, "gov_smart_scan"), want);
	assert_int_equal(smart_window(), 1);
	put(sysfs, "full_scans", "9\n");
	for (int i = 0; i < 12; i++)                    /* 3 s: a tick or more */
		sd_event_run(d.ev, 250000);
	assert_true(knob_is("smart_scan", "0"));
	put(sysfs, "full_scans", "10\n");
	RUN_UNTIL(knob_is("smart_scan", "1"));
	assert_string_equal(field(&r, "gov_smart_scan"), "on");
	assert_int_equal(smart_window(), 0);
	assert_true(knob_is("pages_to_scan", "333"));   /* the pace is the admin's */
	assert_true(knob_is("sleep_millisecs", "20"));
	/* unmerge --all in a window: back at once, kept while paused, off
	 * again after resume */
	enroll(&t, 999998);
	RUN_UNTIL(knob_is("smart_scan", "0"));
	d.paused = true;
	ksmd_restore();
	assert_knob("smart_scan", "1");
	for (int i = 0; i < 12; i++)
		sd_event_run(d.ev, 250000);
	assert_true(knob_is("smart_scan", "1"));
	assert_string_equal(field(&r, "gov_smart_scan"), "as found (paused)");
	d.paused = false;
	RUN_UNTIL(knob_is("smart_scan", "0"));
	/* a reload starts it again: the window goes on */
	ksmd_restore();
	governor_reload(&d);
	RUN_UNTIL(knob_is("smart_scan", "0"));
	stop_and_restore();
	assert_knob("smart_scan", "1");
	assert_knob("pages_to_scan", "333");
}

/* governor = fixed with smart_scan in [ksmd]: pinned, never turned off. */
static void test_smart_scan_fixed_pinned(void **state)
{
	struct proto_record r;
	struct tracked t;

	(void)state;
	pin_smart_scan();
	put(sysfs, "smart_scan", "1\n");
	d.cfg.governor = GOVERNOR_FIXED;
	assert_int_equal(governor_start(&d), 0);
	expect_pinned_after_enroll(&t, &r);
}

/* governor = fixed: an enrolled app's growth (burst_growth_mib) opens the
 * window too, read on the slow tick (10 s). */
static void test_smart_scan_fixed_growth(void **state)
{
	char *more;

	(void)state;
	char *mem = track_self(1);
	put(sysfs, "smart_scan", "1\n");
	d.cfg.governor = GOVERNOR_FIXED;
	d.cfg.burst_growth_mib = 2;
	assert_int_equal(governor_start(&d), 0);
	drain();                                        /* the first tick: the mark */
	assert_true(knob_is("smart_scan", "1"));
	more = malloc(8 << 20);
	assert_non_null(more);
	memset(more, 2, 8 << 20);
	for (int i = 0; i < 60 && !knob_is("smart_scan", "0"); i++)     /* 15 s */
		assert_true(sd_event_run(d.ev, 250000) >= 0);
	assert_true(knob_is("smart_scan", "0"));
	free(more);
	free(mem);
	stop_and_restore();
	assert_knob("smart_scan", "1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_memevents_pressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_advisor_on_and_restored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_advisor_taken_by_admin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_advisor_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_growth_bursts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pressure_leaves_admins_advisor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watches_released, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tracker_releases_watches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smart_scan_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smart_scan_killswitch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smart_scan_pinned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smart_scan_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smart_scan_off_or_absent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smart_scan_fixed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smart_scan_fixed_pinned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smart_scan_fixed_growth, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
