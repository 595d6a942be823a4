/* kernel-patch/0002, issue 9 defect 2: the pages the sampling scan passes
 * over must cost against pages_to_scan, or one ksmd wake-up walks (and
 * fingerprints, under one mmap_read_lock) all enrolled memory whatever the
 * knob says.
 *
 * Counts, not time: ksmd is put to sleep for an hour between batches and
 * woken once per "kick" (a write of another sleep_millisecs value wakes it:
 * sleep_millisecs_store()). After each kick the test waits until ksmd sleeps
 * again (state S with one more voluntary context switch: inside a batch it
 * only sleeps in D), so every kick is exactly one ksm_do_scan(pages_to_scan)
 * batch, and full_scans (ksmd's seqnr) says how far it got.
 *
 * Workload: one process, 64 MiB of pairwise distinct pages, sampling=1; once
 * every range is retired, pages_to_scan=100 and KICKS kicks. The scans of a
 * probe round (seqnr % 32 == 0, and the scan after it, which gives the
 * probes their merge attempt) fingerprint every retired page: at one budget
 * unit per 32 pages passed over, one of them needs at least
 * PAGES / (32 * 100) kicks. Before the fix every kick ended a full scan. The
 * other scans jump over the retired ranges: one kick each. */
#include "sampling.h"

#define LEN (64 * KT_MIB)
#define PAGES (LEN / KT_PAGE)
#define BUDGET 100
#define SKIP_COST 32
#define KICKS 80
#define PROBE_ROUNDS 32

static pid_t find_ksmd(void)
{
	char path[64], comm[32];

	for (pid_t pid = 2; pid < 1000; pid++) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, "ksmd\n")) {
			fclose(f);
			return pid;
		}
		fclose(f);
	}
	kt_fail("no ksmd thread found in /proc");
}

/* ksmd's scheduler state letter, and its voluntary context switches. */
static char ksmd_state(pid_t pid, long *nvcsw)
{
	char path[64], line[128];
	char state = '?';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		kt_fail("open %s: errno=%s", path, kt_errname(errno));
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "State:", 6))
			sscanf(line + 6, " %c", &state);
	fclose(f);
	*nvcsw = kt_file_field(path, "voluntary_ctxt_switches");
	return state;
}

/* Wakes ksmd for one batch and waits until it is asleep again. */
static void kick(pid_t ksmd, int i)
{
	long v0, v;
	double t0 = kt_now();

	if (ksmd_state(ksmd, &v0) != 'S')
		kt_fail("ksmd not asleep before kick %d", i);
	ks_set("sleep_millisecs", 3600000 + (i & 1));
	while (ksmd_state(ksmd, &v) != 'S' || v <= v0) {
		if (kt_now() - t0 > 60)
			kt_fail("ksmd did not finish its batch of kick %d in 60 s", i);
		kt_sleep_ms(2);
	}
}

/* Waits until ksmd sleeps between batches (state S long enough to be seen
 * twice, 50 ms apart, with no context switch in between). */
static void settle(pid_t ksmd)
{
	long v0, v;
	double t0 = kt_now();

	for (;;) {
		char s0 = ksmd_state(ksmd, &v0);

		kt_sleep_ms(50);
		if (s0 == 'S' && ksmd_state(ksmd, &v) == 'S' && v == v0)
			return;
		if (kt_now() - t0 > 60)
			kt_fail("ksmd never settled asleep");
	}
}

int main(void)
{
	struct ks_layout l = { .dup_pages = 0 };
	struct ks_worker w;
	long retired0, kicks_of[KICKS + 2] = { 0 }, scan0, worst_probe = -1;
	long most_other = 0, probe_scans = 0, other_scans = 0;
	long pts0, sleep0;
	pid_t ksmd;

	ks_require_sampling();
	kt_ksm_start();
	ks_ksm_restart();
	pts0 = kt_ksm_sys("pages_to_scan");
	sleep0 = kt_ksm_sys("sleep_millisecs");
	ks_set("sampling", 1);
	retired0 = kt_ksm_sys("sampling_ranges_retired");
	ks_worker_spawn(&w, LEN, 1, &l);
	ks_enroll_remote(&w);
	ks_wait_retired(retired0, ks_ranges(&w, 1));
	if (!ks_wait_scans(2, 120))
		kt_fail("ksmd stopped scanning");

	ksmd = find_ksmd();
	ks_set("pages_to_scan", BUDGET);
	ks_set("sleep_millisecs", 3600000 + 1);
	settle(ksmd);
	scan0 = kt_ksm_sys("full_scans");
	for (int i = 0; i < KICKS; i++) {
		long before = kt_ksm_sys("full_scans") - scan0;

		kick(ksmd, i);
		if (before <= KICKS)
			kicks_of[before]++;
	}
	/* The last scan counted may be unfinished: leave it out. */
	for (long n = 0; n < kt_ksm_sys("full_scans") - scan0 && n <= KICKS; n++) {
		long seqnr = scan0 + n;

		if (seqnr % PROBE_ROUNDS <= 1) {
			probe_scans++;
			if (worst_probe < 0 || kicks_of[n] < worst_probe)
				worst_probe = kicks_of[n];
		} else {
			other_scans++;
			if (kicks_of[n] > most_other)
				most_other = kicks_of[n];
		}
	}
	kt_log("%d kicks: %ld full scans (from seqnr %ld), %ld of them probe-round "
	       "scans (fewest kicks: %ld), other scans at most %ld kicks; "
	       "rmap_items %ld", KICKS, kt_ksm_sys("full_scans") - scan0, scan0,
	       probe_scans, worst_probe, most_other, kt_ksm_stat(w.pid, "ksm_rmap_items"));
	if (ks_worker_cmd(&w, 'v'))
		kt_fail("pid %d: pages changed", w.pid);
	ks_worker_stop(&w);
	ks_set("sampling", 0);
	ks_set("pages_to_scan", pts0);
	ks_set("sleep_millisecs", sleep0);
	if (!probe_scans)
		kt_fail("no probe-round scan in %d kicks: the workload is too big", KICKS);
	if (worst_probe < (long)(PAGES / (SKIP_COST * BUDGET)))
		kt_fail("a probe-round scan over %lu retired pages took %ld kick(s) at "
			"pages_to_scan=%d: skipped pages are not charged (want >= %lu)",
			PAGES, worst_probe, BUDGET, PAGES / (SKIP_COST * BUDGET));
	if (most_other > 1)
		kt_fail("a scan outside the probe rounds took %ld kicks: retired ranges "
			"are walked, not jumped over", most_other);
	kt_pass("pages_to_scan=%d, %lu retired pages: probe-round scans took >= %ld "
		"wake-ups (budget: %lu), the others 1", BUDGET, PAGES, worst_probe,
		PAGES / (SKIP_COST * BUDGET));
}
