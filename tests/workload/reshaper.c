/* reshaper — a hostile target for policy = census: memory whose layout
 * changes under the plan. R regions of N MiB, each of blocks of 64 pages
 * alternately shared (the same content in every reshaper: duplicates the
 * census plans ranges on) and unique to this process (--seed). Every
 * --every-ms it does the next of: munmap a region and map a fresh one,
 * mremap one to twice its size (moving it; the new half filled), shrink one
 * back with mremap, fork a child that checks its copy and exits, map one
 * more region (growth, up to 2R; then the extra ones go). SIGUSR1: check
 * every region and write "verify ok" or "verify bad ..." to --status (also
 * "bad" if a child found its copy changed). SIGTERM: exit. Writes "ready"
 * once filled. */
#include <getopt.h>
#include <stdarg.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_REGIONS 64
#define BLOCK 64

struct region {
	uint64_t *mem;
	size_t pages;
	unsigned id;                    /* content key: survives moves */
};

static volatile sig_atomic_t want_verify, want_exit;
static long page;
static unsigned seed = 1;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_verify = 1;
	else
		want_exit = 1;
}

/* Page p of region id: shared blocks are the same in every reshaper. */
static void expect(uint64_t *out, unsigned id, size_t p)
{
	int shared = (p / BLOCK) % 2 == 0;
	uint64_t x = 0x9e3779b97f4a7c15ULL * (id + 1) + p * 0x100000001b3ULL +
		     (shared ? 0 : (uint64_t)seed << 40);

	for (size_t i = 0; i < (size_t)page / 8; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		out[i] = x | 1;         /* never a zero page */
	}
}

static void fill(struct region *r, size_t from)
{
	for (size_t p = from; p < r->pages; p++)
		expect(r->mem + p * (size_t)page / 8, r->id, p);
}

/* -1 if intact, else the first changed page. */
static long check(const struct region *r)
{
	uint64_t want[page / 8];

	for (size_t p = 0; p < r->pages; p++) {
		expect(want, r->id, p);
		if (memcmp(want, r->mem + p * (size_t)page / 8, (size_t)page) != 0)
			return (long)p;
	}
	return -1;
}

static int map(struct region *r, size_t pages, unsigned id)
{
	r->mem = mmap(NULL, pages * (size_t)page, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->mem == MAP_FAILED)
		return -1;
	r->pages = pages;
	r->id = id;
	fill(r, 0);
	return 0;
}

__attribute__((format(printf, 2, 3)))
static void say(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	va_list ap;

	if (!f)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mib", required_argument, NULL, 'm' }, { "regions", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 'S' }, { "status", required_argument, NULL, 's' },
		{ "every-ms", required_argument, NULL, 'e' }, { NULL, 0, NULL, 0 },
	};
	struct region reg[MAX_REGIONS];
	size_t nreg = 4, base, mib = 4, step = 0, pages;
	unsigned next_id, every_ms = 200, child_bad = 0;
	const char *st = "/dev/null";
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm': mib = strtoul(optarg, NULL, 10); break;
		case 'r': nreg = strtoul(optarg, NULL, 10); break;
		case 'S': seed = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': st = optarg; break;
		case 'e': every_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: reshaper [--mib N] [--regions R] [--seed N] "
				"[--status FILE] [--every-ms MS]\n");
			return 2;
		}
	}
	page = sysconf(_SC_PAGESIZE);
	if (!nreg || nreg * 2 > MAX_REGIONS)
		nreg = 4;
	base = nreg;
	pages = mib * 1024 * 1024 / (size_t)page;
	signal(SIGUSR1, on_signal);
	signal(SIGTERM, on_signal);
	for (size_t i = 0; i < nreg; i++)
		if (map(&reg[i], pages, (unsigned)i) < 0)
			return 1;
	next_id = (unsigned)nreg;
	say(st, "ready %ld\n", (long)getpid());
	while (!want_exit) {
		struct timespec ts = { every_ms / 1000, (long)(every_ms % 1000) * 1000000L };
		struct region *r = &reg[step % base];
		void *m;
		pid_t pid;
		int ws;

		if (want_verify) {
			want_verify = 0;
			for (size_t i = 0; i < nreg; i++) {
				long bad = check(&reg[i]);

				if (bad >= 0) {
					say(st, "verify bad region %zu page %ld\n", i, bad);
					goto next;
				}
			}
			if (child_bad)
				say(st, "verify bad: %u children saw their copy change\n", child_bad);
			else
				say(st, "verify ok %zu regions\n", nreg);
		}
next:
		while ((pid = waitpid(-1, &ws, WNOHANG)) > 0)
			child_bad += !WIFEXITED(ws) || WEXITSTATUS(ws) != 0;
		nanosleep(&ts, NULL);
		switch (step++ % 5) {
		case 0:         /* unmapped under the plan, a fresh region elsewhere */
			munmap(r->mem, r->pages * (size_t)page);
			if (map(r, pages, next_id++) < 0)
				return 1;
			break;
		case 1:         /* moved and grown: the plan's addresses are stale */
			m = mremap(r->mem, r->pages * (size_t)page, r->pages * 2 * (size_t)page,
				   MREMAP_MAYMOVE);
			if (m == MAP_FAILED)
				break;
			r->mem = m;
			r->pages *= 2;
			fill(r, r->pages / 2);
			break;
		case 2:         /* shrunk back in place */
			if (r->pages > pages &&
			    mremap(r->mem, r->pages * (size_t)page, pages * (size_t)page, 0) != MAP_FAILED)
				r->pages = pages;
			break;
		case 3:         /* a child that checks what it inherited */
			if ((pid = fork()) == 0) {
				for (size_t i = 0; i < nreg; i++)
					if (check(&reg[i]) >= 0)
						_exit(1);
				_exit(0);
			}
			break;
		case 4:         /* growth, then back down */
			if (nreg < base * 2) {
				if (map(&reg[nreg], pages, next_id++) == 0)
					nreg++;
			} else {
				while (nreg > base) {
					nreg--;
					munmap(reg[nreg].mem, reg[nreg].pages * (size_t)page);
				}
			}
			break;
		}
	}
	return 0;
}
