/* kernel-patch/0002, issue 9 defect 1: the content fingerprint must spread
 * pages over the sampling classes, so that a retired range is sampled a few
 * pages per scan, never all at once.
 *
 * a) Spread: computes the kernel's fingerprint (ksm_page_fingerprint(): 8
 *    words at a stride of 1/8 page, fp = hash_64(fp ^ w, 32)) over the pages
 *    of the density test (test_20: ids 1 and 2, pages 256..25599) and counts
 *    the classes (fp & 8191) they use: at least 4,000 of 8,192. The old
 *    hash_long(fp ^ w, BITS_PER_LONG) is printed next to it (1 class).
 * b) In the kernel: the density layout scaled down so that TCG runs 8,300
 *    scans in about two minutes (2 x 2 MiB, the first 64 pages 0xff, the
 *    other 448 distinct), sampling=1 after run=2. Once every range is
 *    retired, the sum of ksm_rmap_items is read at every full scan (the
 *    scans read are counted) for KS_SCANS scans, more than the 8,192 after
 *    which every content has had its sample scan; it must never exceed the
 *    merged pages + 64. With the old hash, every distinct page was picked
 *    at full_scans = 1024 (mod 8192): rmap_items jumped to the stock level.
 * Override the scan count with ksmplus.spread_scans=N on the guest cmdline. */
#include "sampling.h"

#define LEN (2 * KT_MIB)
#define DUP 64
#define NW 2
#define KS_SCANS 8300
#define TARGET (NW * DUP + 64)	/* merged + probes + content samples */
#define CLASSES 8192
#define GOLDEN_RATIO_64 0x61C8864680B583EBULL

/* The fingerprint of page kpage of worker id in the density layout. */
static uint32_t fp_new(uint64_t id, uint64_t kpage)
{
	uint32_t fp = 0;

	for (size_t i = 0; i < 8; i++) {
		uint64_t w = ks_word(1, id, kpage, i * (KT_PAGE / 8 / 8));

		fp = (uint32_t)(((fp ^ w) * GOLDEN_RATIO_64) >> 32);
	}
	return fp;
}

/* What 0002 v1 computed: hash_long(x, 64), the full low product. */
static uint64_t fp_old(uint64_t id, uint64_t kpage)
{
	uint64_t fp = 0;

	for (size_t i = 0; i < 8; i++)
		fp = (fp ^ ks_word(1, id, kpage, i * (KT_PAGE / 8 / 8))) * GOLDEN_RATIO_64;
	return fp;
}

static void spread(void)
{
	static unsigned char used_new[CLASSES], used_old[CLASSES];
	long n_new = 0, n_old = 0, pages = 0;

	for (uint64_t id = 1; id <= 2; id++)
		for (uint64_t pg = 256; pg < 25600; pg++, pages++) {
			used_new[fp_new(id, pg) & (CLASSES - 1)] = 1;
			used_old[fp_old(id, pg) & (CLASSES - 1)] = 1;
		}
	for (int c = 0; c < CLASSES; c++) {
		n_new += used_new[c];
		n_old += used_old[c];
	}
	kt_log("a) %ld density-test pages use %ld of %d classes (hash_long v1: %ld)",
	       pages, n_new, CLASSES, n_old);
	if (n_new < 4000)
		kt_fail("a) fingerprint spread: %ld of %d classes used, want >= 4000",
			n_new, CLASSES);
}

int main(void)
{
	struct ks_layout l = { .dup_pages = DUP };
	struct ks_worker w[NW];
	long want_scans = kt_cmdline_long("ksmplus.spread_scans=", KS_SCANS);
	long retired0, last, first, seen = 0;
	long worst = 0, worst_at = 0, merged;
	double t0;

	ks_require_sampling();
	spread();

	kt_ksm_start();
	/* Batches smaller than the ~130 rmap_items a scan returns, so ksmd
	 * sleeps within every scan and the reader below gets to see each one. */
	ks_set("pages_to_scan", 100);
	ks_set("sleep_millisecs", 1);
	ks_ksm_restart();
	ks_set("sampling", 1);
	retired0 = kt_ksm_sys("sampling_ranges_retired");
	for (int i = 0; i < NW; i++)
		ks_worker_spawn(&w[i], LEN, i + 1, &l);
	for (int i = 0; i < NW; i++)
		ks_enroll_remote(&w[i]);
	ks_wait_retired(retired0, ks_ranges(w, NW));
	ks_wait_scans(2, kt_time_left());

	/* Read at every full scan: busy-poll full_scans (== the kernel's
	 * ksm_scan.seqnr) and read the items as soon as it moves. */
	first = last = kt_ksm_sys("full_scans");
	t0 = kt_now();
	while (last - first < want_scans) {
		long s = kt_ksm_sys("full_scans"), r;

		if (s == last)
			continue;
		r = ks_sum(w, NW, "ksm_rmap_items");
		seen++;
		if (r > worst) {
			worst = r;
			worst_at = s;
		}
		last = s;
		if (kt_time_left() <= 0)
			kt_fail("b) out of time (test_timeout): only %ld of %ld full scans in %.0f s",
				last - first, want_scans, kt_now() - t0);
	}
	merged = ks_sum(w, NW, "ksm_merging_pages");
	kt_log("b) full_scans %ld..%ld (%ld scans, read at %ld, %.0f s): rmap_items max %ld "
	       "at full_scans %ld (mod 8192: %ld), merged %ld, items_freed %ld",
	       first, last, last - first, seen, kt_now() - t0, worst, worst_at,
	       worst_at % 8192, merged, kt_ksm_sys("sampling_items_freed"));
	for (int i = 0; i < NW; i++) {
		size_t bad = ks_worker_cmd(&w[i], 'v');

		if (bad)
			kt_fail("b) pid %d: %zu pages changed", w[i].pid, bad);
	}
	for (int i = 0; i < NW; i++)
		ks_worker_stop(&w[i]);
	ks_set("sampling", 0);
	kt_ksm_start();
	if (worst > TARGET)
		kt_fail("b) rmap_items reached %ld at full_scans %ld (mod 8192: %ld), target %d",
			worst, worst_at, worst_at % 8192, TARGET);
	if (merged < NW * DUP)
		kt_fail("b) only %ld pages merged, want %d", merged, NW * DUP);
	kt_pass("classes spread; %ld full scans, rmap_items read at %ld of them, max %ld <= %d",
		last - first, seen, worst, TARGET);
}
