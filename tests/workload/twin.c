/* twin — a test workload: fills N MiB of anonymous memory with identical
 * pages (the same content in every twin), then waits. SIGUSR1: verify the
 * memory is unchanged and write "verify ok"/"verify bad" to the status file.
 * SIGUSR2: map and fill N more MiB (a new VMA, for rescan tests; --grow-mib M:
 * M MiB, --grow-seed S: with seed S, so twins of different seeds grow the
 * same content: late duplicates). SIGTERM:
 * exit. Writes "ready" to the status file once filled. --timer-hz N: a
 * SIGALRM handler runs N times a second (a profiler, an animation timer):
 * the process is signalled without pause, also while it is being enrolled.
 * --zero-pct N, --ff-kib N: see expect_page. --reserve-gib N: also reserve
 * N GiB PROT_NONE | MAP_NORESERVE (a JVM heap or ASan shadow: no pages). */
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_REGIONS 16

static volatile sig_atomic_t want_verify, want_grow, want_exit, ticks;
static void on_alarm(int sig)
{
	(void)sig;
	ticks++;
}

static void start_timer(unsigned hz)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	struct itimerval it = { { 0, (suseconds_t)(1000000 / hz) }, { 0, (suseconds_t)(1000000 / hz) } };

	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_verify = 1;
	else if (sig == SIGUSR2)
		want_grow = 1;
	else
		want_exit = 1;
}

struct region {
	uint64_t *mem;
	size_t len;
	unsigned seed;          /* its content's (a grown region may have its own) */
};

static long page;

/* Page content: a fixed pseudo-random page, not zeros (zero pages are a
 * special case in KSM with use_zero_pages). distinct: every page differs.
 * zero_pct: page i of a region is all zeros when i % 100 < zero_pct.
 * ff_bytes: the first ff_bytes of the first region are all 0xff (the
 * low-density workload: a little duplicate memory in much distinct). */
static unsigned zero_pct;
static size_t ff_bytes;

static void expect_page(uint64_t *out, size_t first_word, size_t page_no, int first_region,
			unsigned seed, int distinct)
{
	size_t words = (size_t)page / 8;
	uint64_t x = 0x9e3779b97f4a7c15ULL * (seed + 1) + (distinct ? first_word : 0);

	if (first_region && page_no * (size_t)page < ff_bytes) {
		memset(out, 0xff, (size_t)page);
		return;
	}
	if (page_no % 100 < zero_pct) {
		memset(out, 0, (size_t)page);
		return;
	}
	for (size_t i = 0; i < words; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		out[i] = x;
	}
}

static void fill(struct region *r, int first_region, unsigned seed, int distinct)
{
	size_t words = (size_t)page / 8;
	for (size_t off = 0; off < r->len / 8; off += words)
		expect_page(&r->mem[off], off, off / words, first_region, seed, distinct);
}

static int verify(const struct region *r, int first_region, unsigned seed, int distinct, size_t *bad)
{
	size_t words = (size_t)page / 8;
	uint64_t want[words];

	for (size_t off = 0; off < r->len / 8; off += words) {
		expect_page(want, off, off / words, first_region, seed, distinct);
		if (memcmp(want, &r->mem[off], (size_t)page) != 0) {
			*bad = off / words;
			return 0;
		}
	}
	return 1;
}

static int map_region(struct region *r, size_t len)
{
	r->mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r->len = len;
	return r->mem == MAP_FAILED ? -1 : 0;
}

static void status(const char *path, const char *word, size_t a)
{
	FILE *f = path ? fopen(path, "w") : stdout;
	if (!f)
		return;
	fprintf(f, "%s %zu\n", word, a);
	if (path)
		fclose(f);
	else
		fflush(f);
}

int main(int argc, char **argv)
{
	struct region reg[MAX_REGIONS];
	size_t nreg = 0, mib = 20, bad = 0, reserve_gib = 0, grow_mib = 0;
	unsigned seed = 1, grow_seed = 0;
	int grow_seed_set = 0;
	int distinct = 0, self_merge = 0, c;
	unsigned timer_hz = 0;
	const char *st = NULL;
	sigset_t block, old;

	static const struct option opts[] = {
		{ "mib", required_argument, NULL, 'm' }, { "seed", required_argument, NULL, 'S' },
		{ "status", required_argument, NULL, 's' }, { "distinct", no_argument, NULL, 'd' },
		{ "self-merge", no_argument, NULL, 'M' }, { "timer-hz", required_argument, NULL, 'T' },
		{ "zero-pct", required_argument, NULL, 'z' }, { "ff-kib", required_argument, NULL, 'f' },
		{ "reserve-gib", required_argument, NULL, 'R' },
		{ "grow-mib", required_argument, NULL, 'g' }, { "grow-seed", required_argument, NULL, 'G' },
		{ NULL, 0, NULL, 0 },
	};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm': mib = strtoul(optarg, NULL, 10); break;
		case 'S': seed = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': st = optarg; break;
		case 'd': distinct = 1; break;
		case 'M': self_merge = 1; break;
		case 'T': timer_hz = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'z': zero_pct = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'f': ff_bytes = strtoul(optarg, NULL, 10) << 10; break;
		case 'R': reserve_gib = strtoul(optarg, NULL, 10); break;
		case 'g': grow_mib = strtoul(optarg, NULL, 10); break;
		case 'G': grow_seed = (unsigned)strtoul(optarg, NULL, 10); grow_seed_set = 1; break;
		default:
			fprintf(stderr, "usage: twin [--mib N] [--seed N] [--status FILE] [--distinct] [--self-merge]"
				" [--timer-hz N] [--zero-pct N] [--ff-kib N] [--reserve-gib N]"
				" [--grow-mib N] [--grow-seed N]\n");
			return 2;
		}
	}
	page = sysconf(_SC_PAGESIZE);
	signal(SIGUSR1, on_signal);
	signal(SIGUSR2, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);

	if (reserve_gib && mmap(NULL, reserve_gib << 30, PROT_NONE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) == MAP_FAILED) {
		perror("twin: reserve");
		return 1;
	}
	if (map_region(&reg[0], mib << 20) < 0) {
		perror("twin: mmap");
		return 1;
	}
	reg[0].seed = seed;
	fill(&reg[nreg], nreg == 0, seed, distinct);
	nreg++;
	if (!grow_mib)
		grow_mib = mib;
	if (!grow_seed_set)
		grow_seed = seed;
	if (self_merge)
		madvise(reg[0].mem, reg[0].len, MADV_MERGEABLE);
	if (timer_hz)
		start_timer(timer_hz > 1000000 ? 1000000 : timer_hz);
	status(st, "ready", (size_t)getpid());

	while (!want_exit) {
		sigsuspend(&old);
		if (want_verify) {
			int ok = 1;
			want_verify = 0;
			for (size_t i = 0; i < nreg && ok; i++)
				ok = verify(&reg[i], i == 0, reg[i].seed, distinct, &bad);
			status(st, ok ? "verify ok" : "verify bad page", ok ? nreg : bad);
		}
		if (want_grow) {
			want_grow = 0;
			if (nreg < MAX_REGIONS && map_region(&reg[nreg], grow_mib << 20) == 0) {
				reg[nreg].seed = grow_seed;
				fill(&reg[nreg], 0, grow_seed, distinct);
				nreg++;
				status(st, "grown", nreg);
			}
		}
	}
	return 0;
}
