/* kernel-patch/0002 stress: while ksmd scans with sampling=1 (CONFIG_DEBUG_VM
 * kernel), worker processes write, fork, munmap, mremap, MADV_UNMERGEABLE
 * and exit in a loop, for 5 minutes: ksmplus.stress_s=N on the kernel
 * command line overrides, and the run is kept 30s below the per-test limit
 * of tests/kernel/init.sh (ksmplus.test_timeout=, 300s by default). Every
 * process checks all of its memory after every step against a model of
 * what it wrote. Knobs that interact with sampling are flipped meanwhile:
 * smart_scan, use_zero_pages, max_page_sharing, merge_across_nodes (NUMA
 * kernels), run=2, sampling itself. The harness fails the run on any
 * kernel WARNING/BUG/Oops in the serial log. Workers madvise() themselves. */
#include "sampling.h"

#define NWORKERS 4
#define NSEG 6
#define SEG_MAX_PAGES 512	/* 2 MiB */
#define UNMAPPED 0xffffffffu

struct seg {
	unsigned char *p;
	size_t pages;
	uint32_t *tag;		/* content of each page (see tag_word) */
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* tag classes: 0 zero page, 1 0xff, 2..33 shared by all workers, else unique */
static uint32_t new_tag(uint32_t wid)
{
	switch (rnd() % 8) {
	case 0: return 0;
	case 1: return 1;
	case 2: case 3: case 4: return 2 + rnd() % 32;
	default: return 0x1000 + (uint32_t)(rnd() % 0xfff000) + (wid << 24);
	}
}

static uint64_t tag_word(uint32_t tag, size_t j)
{
	if (tag == 0)
		return 0;
	if (tag == 1)
		return ~0ULL;
	return 0x5354524553530000ULL ^ ((uint64_t)tag << 20) ^ j;
}

static void put_page_tag(struct seg *s, size_t i, uint32_t tag)
{
	uint64_t *w = (uint64_t *)(s->p + i * KT_PAGE);

	for (size_t j = 0; j < KT_PAGE / 8; j++)
		w[j] = tag_word(tag, j);
	s->tag[i] = tag;
}

static size_t seg_bad(const struct seg *s)
{
	size_t bad = 0;

	for (size_t i = 0; i < s->pages; i++) {
		const uint64_t *w = (const uint64_t *)(s->p + i * KT_PAGE);

		if (s->tag[i] == UNMAPPED)
			continue;
		for (size_t j = 0; j < KT_PAGE / 8; j++)
			if (w[j] != tag_word(s->tag[i], j)) {
				bad++;
				break;
			}
	}
	return bad;
}

static void die(const char *what, uint32_t wid)
{
	printf("# sampling_stress: worker %u (pid %d): %s (errno=%s)\n", wid, getpid(), what,
	       kt_errname(errno));
	fflush(stdout);
	_exit(1);
}

static void seg_new(struct seg *s, uint32_t wid)
{
	s->pages = 16 + rnd() % (SEG_MAX_PAGES - 16);
	s->p = mmap(NULL, s->pages * KT_PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->p == MAP_FAILED)
		die("mmap", wid);
	s->tag = realloc(s->tag, s->pages * sizeof(*s->tag));
	for (size_t i = 0; i < s->pages; i++)
		put_page_tag(s, i, new_tag(wid));
	if (madvise(s->p, s->pages * KT_PAGE, MADV_MERGEABLE))
		die("madvise(MERGEABLE)", wid);
}

/* Unmaps what is still mapped of pages [a, b) of a segment: its holes may
 * hold another segment's pages by now (mmap reuses them). */
static void seg_unmap(struct seg *s, size_t a, size_t b, uint32_t wid)
{
	size_t i = a;

	while (i < b) {
		size_t j = i;

		while (j < b && s->tag[j] != UNMAPPED)
			j++;
		if (j > i && munmap(s->p + i * KT_PAGE, (j - i) * KT_PAGE))
			die("munmap", wid);
		for (; i < j; i++)
			s->tag[i] = UNMAPPED;
		i = j + 1;
	}
}

static void check_all(struct seg *seg, uint32_t wid, const char *after)
{
	for (int k = 0; k < NSEG; k++) {
		size_t bad = seg_bad(&seg[k]);

		if (bad) {
			char msg[128];

			snprintf(msg, sizeof(msg), "%zu bad pages in segment %d after %s", bad, k, after);
			die(msg, wid);
		}
	}
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	printf("# sampling_stress: pid %d: signal %d at %p\n", getpid(), sig, si->si_addr);
	fflush(stdout);
	_exit(3);
}

static void worker(uint32_t wid, double deadline)
{
	struct seg seg[NSEG] = { 0 };
	int steps = 40 + rnd() % 200;
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };

	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);

	for (int k = 0; k < NSEG; k++)
		seg_new(&seg[k], wid);
	while (steps-- > 0 && kt_now() < deadline) {
		struct seg *s = &seg[rnd() % NSEG];
		int op = rnd() % 7;
		const char *name = "?";

		switch (op) {
		case 0:		/* write a few pages: COW breaks merged ones */
			name = "write";
			for (int n = rnd() % 64; n > 0; n--) {
				size_t i = rnd() % s->pages;

				if (s->tag[i] != UNMAPPED)
					put_page_tag(s, i, new_tag(wid));
			}
			break;
		case 1: {	/* fork: the child checks, writes, checks, exits */
			pid_t pid;
			int st;

			name = "fork";
			pid = fork();
			if (pid < 0)
				die("fork", wid);
			if (pid == 0) {
				check_all(seg, wid, "fork (child)");
				for (int n = 32; n > 0; n--) {
					struct seg *c = &seg[rnd() % NSEG];
					size_t i = rnd() % c->pages;

					if (c->tag[i] != UNMAPPED)
						put_page_tag(c, i, new_tag(wid));
				}
				kt_sleep_ms(rnd() % 200);
				check_all(seg, wid, "fork+write (child)");
				_exit(0);
			}
			if (rnd() % 2)
				kt_sleep_ms(rnd() % 100);
			if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
				die("forked child failed", wid);
			break;
		}
		case 2: {	/* munmap a hole in the middle */
			size_t a = rnd() % s->pages, n = 1 + rnd() % 32;

			name = "munmap";
			if (a + n > s->pages)
				n = s->pages - a;
			seg_unmap(s, a, a + n, wid);
			break;
		}
		case 3: {	/* mremap: move (and grow) a segment, if it is one VMA */
			size_t grow = rnd() % 64, np = s->pages + grow;
			unsigned char *q;
			bool hole = false;

			name = "mremap";
			for (size_t i = 0; i < s->pages; i++)
				hole |= s->tag[i] == UNMAPPED;
			if (hole || np > 2 * SEG_MAX_PAGES)
				break;
			/* always move, to a fresh reservation: growing in
			 * place could take over another segment's hole */
			q = mmap(NULL, np * KT_PAGE, PROT_NONE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (q == MAP_FAILED)
				die("mmap (reserve)", wid);
			q = mremap(s->p, s->pages * KT_PAGE, np * KT_PAGE,
				   MREMAP_MAYMOVE | MREMAP_FIXED, q);
			if (q == MAP_FAILED)
				die("mremap", wid);
			s->p = q;
			s->tag = realloc(s->tag, np * sizeof(*s->tag));
			for (size_t i = s->pages; i < np; i++)
				s->tag[i] = 0;	/* new anonymous pages read as zero */
			s->pages = np;
			if (grow && (rnd() % 2)) {
				for (size_t i = np - grow; i < np; i++)
					put_page_tag(s, i, new_tag(wid));
			}
			break;
		}
		case 4:		/* replace a segment */
			name = "replace";
			seg_unmap(s, 0, s->pages, wid);
			seg_new(s, wid);
			break;
		case 5: {	/* MADV_UNMERGEABLE then MERGEABLE again */
			bool hole = false;

			name = "unmergeable";
			for (size_t i = 0; i < s->pages; i++)
				hole |= s->tag[i] == UNMAPPED;
			if (hole)
				break;
			if (madvise(s->p, s->pages * KT_PAGE, MADV_UNMERGEABLE))
				die("madvise(UNMERGEABLE)", wid);
			if (madvise(s->p, s->pages * KT_PAGE, MADV_MERGEABLE))
				die("madvise(MERGEABLE)", wid);
			break;
		}
		default:	/* let ksmd work */
			name = "sleep";
			kt_sleep_ms(50 + rnd() % 300);
			break;
		}
		check_all(seg, wid, name);
	}
	_exit(0);	/* process exit with merged pages */
}

int main(void)
{
	/* 5 minutes, but inside init.sh's per-test limit (300s unless
	 * ksmplus.test_timeout= says otherwise) */
	long limit = kt_cmdline_long("ksmplus.test_timeout=", 300);
	long dur = kt_cmdline_long("ksmplus.stress_s=", limit >= 330 ? 300 : limit - 30);
	double t0 = kt_now(), deadline = t0 + dur, next_knob = t0 + 15;
	pid_t pids[NWORKERS];
	long spawned = 0, knobs = 0, merged_max = 0;
	uint32_t wid = 0;

	ks_require_sampling();
	kt_ksm_start();
	ks_ksm_restart();
	ks_set("sampling", 1);
	rng_state = 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < NWORKERS; i++) {
		pids[i] = -1;
	}
	while (kt_now() < deadline) {
		for (int i = 0; i < NWORKERS; i++) {
			int st;

			if (pids[i] > 0) {
				pid_t r = waitpid(pids[i], &st, WNOHANG);

				if (r == 0)
					continue;
				if (r != pids[i] || !WIFEXITED(st) || WEXITSTATUS(st))
					kt_fail("worker pid %d failed (status %#x) after %ld workers",
						pids[i], st, spawned);
			}
			wid++;
			rnd();
			pids[i] = fork();
			if (pids[i] < 0)
				kt_fail("fork: errno=%s", kt_errname(errno));
			if (pids[i] == 0) {
				rng_state ^= (uint64_t)wid * 0x2545f4914f6cdd1dULL;
				worker(wid, deadline);
			}
			spawned++;
		}
		if (kt_ksm_sys("pages_sharing") > merged_max)
			merged_max = kt_ksm_sys("pages_sharing");
		if (kt_now() > next_knob) {	/* flip a knob that meets sampling */
			switch (knobs++ % 6) {
			case 0: ks_set("smart_scan", 0); break;
			case 1: ks_set("smart_scan", 1); ks_set("use_zero_pages", 1); break;
			case 2: ks_set("use_zero_pages", 0); break;
			case 3:	/* EBUSY while KSM pages remain: fine */
				ks_set("run", 2);
				kt_write_file("/sys/kernel/mm/ksm/max_page_sharing",
					      rnd() % 2 ? "2" : "3");
				/* NUMA kernels only */
				kt_write_file("/sys/kernel/mm/ksm/merge_across_nodes", "0");
				ks_set("run", 1);
				break;
			case 4: ks_set("sampling", 0); kt_sleep_ms(2000); ks_set("sampling", 1);
				break;
			case 5:
				ks_set("run", 2);
				kt_write_file("/sys/kernel/mm/ksm/max_page_sharing", "256");
				kt_write_file("/sys/kernel/mm/ksm/merge_across_nodes", "1");
				ks_set("run", 1);
				break;
			}
			next_knob = kt_now() + 15;
		}
		kt_sleep_ms(100);
	}
	for (int i = 0; i < NWORKERS; i++) {
		int st;

		if (pids[i] > 0 && (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) ||
				    WEXITSTATUS(st)))
			kt_fail("worker pid %d failed at the end (status %#x)", pids[i], st);
	}
	kt_log("items_freed %ld ranges_retired %ld rearmed %ld full_scans %ld",
	       kt_ksm_sys("sampling_items_freed"), kt_ksm_sys("sampling_ranges_retired"),
	       kt_ksm_sys("sampling_ranges_rearmed"), kt_ksm_sys("full_scans"));
	ks_set("sampling", 0);
	ks_set("run", 2);
	ks_set("run", 1);
	kt_pass("%lds: %ld workers, %ld knob flips, pages_sharing up to %ld, memory verified",
		dur, spawned, knobs, merged_max);
}
