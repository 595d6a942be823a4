/* kernel-patch/0002, issue 9 defect 2: the pages the sampling scan passes
 * over must cost against pages_to_scan, or one ksmd wake-up walks (and
 * fingerprints, under one mmap_read_lock) all enrolled memory whatever the
 * knob says.
 *
 * Counts, not time: ksmd is put to sleep for an hour between batches and
 * woken once per "kick" (sampling.h's ks_kick()), so every kick is exactly
 * one ksm_do_scan(pages_to_scan) batch, and full_scans (ksmd's seqnr) says
 * how far it got.
 *
 * Workload: one process, 64 MiB of pairwise distinct pages, sampling=1; once
 * every range is retired, pages_to_scan=BUDGET and kicks for one whole probe
 * round: the 32 scans from a full_scans multiple of 32. Retired ranges take
 * turns (16 groups, since the probe-round peak fix), but in such a round
 * every one of them is walked once, in its pick scan (fingerprints; in the
 * scan after it ksmd goes from one picked page to the next): PAGES pages
 * passed over, one budget unit per KSM_SAMPLE_SKIP_COST (12), so the round
 * needs at least PAGES / (12 * BUDGET) kicks. Before the fix every kick
 * ended a full scan (32 kicks). At most half as many again plus one kick
 * per scan (the picked pages' own scans, the jumps over the other ranges):
 * walking every range twice a round, as before the "picked pages only" fix,
 * takes twice as many, and walking every range in every scan 16 times. */
#include "sampling.h"

#define LEN (64 * KT_MIB)
#define PAGES (LEN / KT_PAGE)
#define BUDGET 8
#define PROBE_ROUNDS 32
#define KICKS_MIN (PAGES / (KS_SKIP_COST * BUDGET))	/* 170 */
#define KICKS_MAX (PROBE_ROUNDS + KICKS_MIN + KICKS_MIN / 2)	/* 287 */
#define KICKS_CAP 2000	/* give up: not a round's worth */

int main(void)
{
	struct ks_layout l = { .dup_pages = 0 };
	struct ks_worker w;
	long retired0, scan0, kicks = 0, most = 0, per_scan = 0, last;
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

	ksmd = ks_find_ksmd();
	ks_set("pages_to_scan", BUDGET);
	ks_set("sleep_millisecs", KS_KICK_SLEEP_MS + 1);
	ks_settle(ksmd);
	/* to the start of a probe round, then count the kicks of that round */
	for (int i = 0; kt_ksm_sys("full_scans") % PROBE_ROUNDS; i++) {
		if (i > KICKS_CAP)
			kt_fail("no round boundary in %d kicks", KICKS_CAP);
		ks_kick(ksmd);
	}
	scan0 = last = kt_ksm_sys("full_scans");
	while (kt_ksm_sys("full_scans") < scan0 + PROBE_ROUNDS && kicks < KICKS_CAP) {
		long now;

		ks_kick(ksmd);
		kicks++;
		per_scan++;
		now = kt_ksm_sys("full_scans");
		if (now != last) {
			if (per_scan > most)
				most = per_scan;
			per_scan = 0;
			last = now;
		}
	}
	kt_log("pages_to_scan=%d: the probe round from seqnr %ld (%d scans) took %ld kicks "
	       "(at least %d: every retired page walked once), at most %ld for one scan; "
	       "rmap_items %ld", BUDGET, scan0, PROBE_ROUNDS, kicks, (int)KICKS_MIN, most,
	       kt_ksm_stat(w.pid, "ksm_rmap_items"));
	if (ks_worker_cmd(&w, 'v'))
		kt_fail("pid %d: pages changed", w.pid);
	ks_worker_stop(&w);
	ks_set("sampling", 0);
	ks_set("pages_to_scan", pts0);
	ks_set("sleep_millisecs", sleep0);
	if (kicks < (long)KICKS_MIN)
		kt_fail("a probe round over %lu retired pages took %ld kick(s) at "
			"pages_to_scan=%d: pages passed over are not charged (want >= %d)",
			PAGES, kicks, BUDGET, (int)KICKS_MIN);
	if (kicks > (long)KICKS_MAX)
		kt_fail("a probe round took %ld kicks (want <= %d): retired ranges are walked "
			"outside their pick scans, not jumped over", kicks, (int)KICKS_MAX);
	kt_pass("pages_to_scan=%d, %lu retired pages: a probe round of %d scans took %ld "
		"wake-ups (budget: >= %d, <= %d), at most %ld for one scan", BUDGET, PAGES,
		PROBE_ROUNDS, kicks, (int)KICKS_MIN, (int)KICKS_MAX, most);
}
