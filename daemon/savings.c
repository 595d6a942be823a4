/* savings.c — per-app KSM savings, counted from page frames.
 *
 * For each process: its private mappings from /proc/PID/maps; within them
 * the present anonymous pages (PAGEMAP_SCAN), their page frames
 * (/proc/PID/pagemap), and which of those are KSM pages (/proc/kpageflags).
 * For each KSM page we keep how many of its mappings each group has; at the
 * end /proc/kpagecount gives its mappings by everyone, and savings_share()
 * shares out the m - 1 pages it saves.
 *
 * Pruning, cheapest test first:
 *  - PAGEMAP_SCAN (Linux 6.7) skips unmapped ranges by page table level, so
 *    terabytes of reserved address space (ASan shadow, JIT heaps) cost
 *    nothing. It also drops file and shmem pages (a KSM page is anonymous),
 *    the shared zero page (KSM zero pages are counted from ksm_stat) and
 *    PMD-mapped THPs (KSM pages are small);
 *  - pagemap bit 56, "exclusively mapped": a KSM page mapped once saves
 *    nothing, so exclusive pages need no look at their flags;
 *  - the remaining frames (KSM pages, and pages shared with a parent since
 *    fork) are sorted and deduplicated before their flags are read, nearby
 *    frames with one pread.
 *
 * Why frames and not ksm_stat alone: ksm_merging_pages counts a process's
 * mappings of KSM pages but not how many mappings each page has in all, so
 * it cannot tell two mappings of one page (one page saved) from two pages
 * each shared with an outsider.
 *
 * Known overstatement, from the method: pages processes share since fork
 * are no saving of KSM's, yet a fork-shared page that KSM merges with
 * another is credited m - 1 pages for all its mappings, and a fork-shared
 * page KSM replaces with the zero page a whole page for each process,
 * although fork had already shared them. The kernel's pages_sharing and
 * ksm_zero_pages count them the same way. Small for processes that fill
 * their memory after fork (+1.2% in tests/unit/test_savings.c, all from
 * zero pages); large for children forked from a big parent that enroll
 * the memory inherited (+80% for children of a process under valgrind).
 * Neither pagemap nor ksm_stat tells how many mappings a page had before
 * KSM took it, so this cannot be corrected from user space. */
#include "savings.h"
#include "array.h"
#include "ksmstat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "pagemap.h"


#define RMAP_ITEM_BYTES 64      /* sizeof(struct ksm_rmap_item), 64-bit */
#define BATCH_PAGES     4096    /* pagemap entries per pread; frames per lookup */
#define SPAN_PAGES      512     /* most kpageflags entries in one pread */
#define GAP_PAGES       64      /* frames this close: read the gap, save a pread */
#define NREGIONS        256     /* PAGEMAP_SCAN results per call */

struct refs {
	struct savings_ref *v;
	size_t n, cap;
};

/* One computation's state. The buffers live here, not on the stack: about
 * 200 KiB, too much for a thread of the daemon. */
struct walk {
	int flags_fd, count_fd;         /* /proc/kpageflags, /proc/kpagecount */
	long page_bytes;
	struct refs all;                /* KSM pages of every group counted */
	struct refs proc;               /* of the process walked, until it counts */
	size_t ncand;
	uint64_t cand[BATCH_PAGES];     /* frames to look up */
	unsigned cand_maps[BATCH_PAGES];
	uint64_t flags[BATCH_PAGES], counts[BATCH_PAGES];
	uint64_t pm[BATCH_PAGES];
	uint64_t span[SPAN_PAGES];
	struct page_region regions[NREGIONS];
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static int fail(struct walk *w, int e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->err, w->errlen, fmt, ap);
	va_end(ap);
	return -e;
}

/* The process exited (or its pid was never there): skipped, not an error. */
static bool gone(int e)
{
	return e == ENOENT || e == ESRCH;
}

static ssize_t pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* --- KSM pages found, per group --------------------------------------- */

static int ref_cmp(const void *a, const void *b)
{
	const struct savings_ref *x = a, *y = b;

	if (x->pfn != y->pfn)
		return x->pfn < y->pfn ? -1 : 1;
	return (x->group > y->group) - (x->group < y->group);
}

/* Sorts by (pfn, group) and merges the entries of the same pair. */
static void refs_compact(struct refs *r)
{
	size_t w = 0;

	if (r->n == 0)
		return;
	qsort(r->v, r->n, sizeof(*r->v), ref_cmp);
	for (size_t i = 1; i < r->n; i++) {
		if (r->v[i].pfn == r->v[w].pfn && r->v[i].group == r->v[w].group)
			r->v[w].mappings += r->v[i].mappings;
		else
			r->v[++w] = r->v[i];
	}
	r->n = w + 1;
}

/* When full, merging duplicates makes room; the array doubles only if that
 * freed less than half, so it stays within twice the distinct (pfn, group)
 * pairs however many mappings they have. */
static int refs_add(struct refs *r, uint64_t pfn, unsigned group, unsigned mappings)
{
	if (r->n == r->cap) {
		refs_compact(r);
		if (r->cap == 0 || r->n > r->cap / 2) {
			/* n = cap: "full", so array_grow doubles */
			void *grown = array_grow(r->v, r->cap, &r->cap, sizeof(*r->v), 1024);

			if (!grown)
				return -ENOMEM;
			r->v = grown;
		}
	}
	r->v[r->n++] = (struct savings_ref){ .pfn = pfn, .group = group, .mappings = mappings };
	return 0;
}

void savings_share(const struct savings_ref *refs, size_t nrefs, long double *saved_pages)
{
	size_t j;

	for (size_t i = 0; i < nrefs; i = j) {
		uint64_t counted = 0, m = 0;

		for (j = i; j < nrefs && refs[j].pfn == refs[i].pfn; j++) {
			counted += refs[j].mappings;
			if (refs[j].mapcount > m)
				m = refs[j].mapcount;
		}
		if (counted > m)
			m = counted;
		if (m < 2)
			continue;
		for (size_t k = i; k < j; k++)
			saved_pages[refs[k].group] += (long double)(m - 1) * refs[k].mappings / m;
	}
}

long long savings_kib(long double shared_pages, long long zero_pages, long long rmap_items,
		      long page_bytes)
{
	long double kib = ((shared_pages + zero_pages) * page_bytes -
			   (long double)rmap_items * RMAP_ITEM_BYTES) / 1024;
	long long down = (long long)kib;   /* toward zero: floor needs libm */

	return (long double)down > kib ? down - 1 : down;
}

/* --- page frames -------------------------------------------------------- */

/* vals[i] = the entry of pfns[i] (sorted, distinct) in /proc/kpageflags or
 * /proc/kpagecount: frames close together come with one pread, as a
 * syscall costs more than the entries between them. Frames past the end
 * of memory read as 0. */
static int kpage_read(struct walk *w, int fd, const char *path, const uint64_t *pfns, size_t n,
		      uint64_t *vals)
{
	size_t j;

	for (size_t i = 0; i < n; i = j) {
		size_t len;
		ssize_t got;

		for (j = i + 1; j < n && pfns[j] - pfns[j - 1] <= GAP_PAGES &&
		     pfns[j] - pfns[i] < SPAN_PAGES; j++)
			;
		len = (size_t)(pfns[j - 1] - pfns[i] + 1) * sizeof(uint64_t);
		got = pread_full(fd, w->span, len, (off_t)(pfns[i] * sizeof(uint64_t)));
		if (got < 0)
			return fail(w, errno, "%s: %s", path, strerror(errno));
		memset((char *)w->span + got, 0, len - (size_t)got);
		for (size_t k = i; k < j; k++)
			vals[k] = w->span[pfns[k] - pfns[i]];
	}
	return 0;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Looks up the frames collected and keeps the KSM pages among them, with
 * how many times the process maps each. */
static int cand_flush(struct walk *w, unsigned group)
{
	size_t n = 0;
	int r;

	if (w->ncand == 0)
		return 0;
	qsort(w->cand, w->ncand, sizeof(w->cand[0]), u64_cmp);
	for (size_t i = 0; i < w->ncand; i++) {
		if (n > 0 && w->cand[n - 1] == w->cand[i]) {
			w->cand_maps[n - 1]++;
		} else {
			w->cand[n] = w->cand[i];
			w->cand_maps[n++] = 1;
		}
	}
	w->ncand = 0;
	r = kpage_read(w, w->flags_fd, "/proc/kpageflags", w->cand, n, w->flags);
	for (size_t i = 0; i < n && r == 0; i++)
		if (w->flags[i] & KPF_KSM &&
		    refs_add(&w->proc, w->cand[i], group, w->cand_maps[i]) < 0)
			r = fail(w, ENOMEM, "out of memory");
	return r;
}

/* Collects the frames of [start, end) that may be KSM pages.
 * 0, 1 if the process is gone, or -errno. */
static int read_range(struct walk *w, int pm_fd, pid_t pid, unsigned group, uint64_t start,
		      uint64_t end)
{
	uint64_t page = (uint64_t)w->page_bytes;

	for (uint64_t vpn = start / page; vpn < end / page;) {
		uint64_t left = end / page - vpn;
		size_t want = left < BATCH_PAGES ? (size_t)left : BATCH_PAGES;
		ssize_t got = pread_full(pm_fd, w->pm, want * sizeof(uint64_t),
					 (off_t)(vpn * sizeof(uint64_t)));

		if (got < 0)
			return gone(errno) ? 1 : fail(w, errno, "/proc/%d/pagemap: %s", (int)pid,
						      strerror(errno));
		if (got == 0)
			return 1;       /* the address space is gone */
		for (size_t i = 0; i < (size_t)got / sizeof(uint64_t); i++) {
			uint64_t e = w->pm[i];
			int r;

			if (!(e & PM_PRESENT) || e & (PM_EXCLUSIVE | PM_FILE))
				continue;
			/* Frame 0 is never user memory: the kernel hid the
			 * frames from a reader without CAP_SYS_ADMIN. */
			if ((e & PM_PFN_MASK) == 0)
				return fail(w, EPERM, "/proc/%d/pagemap: page frames hidden "
					    "(reading them needs CAP_SYS_ADMIN)", (int)pid);
			if (w->ncand == BATCH_PAGES) {
				r = cand_flush(w, group);
				if (r < 0)
					return r;
			}
			w->cand[w->ncand++] = e & PM_PFN_MASK;
		}
		vpn += (uint64_t)got / sizeof(uint64_t);
	}
	return 0;
}

/* Feeds read_range the parts of [start, end) holding present anonymous
 * small pages other than the zero page. 0, 1 if gone, or -errno. */
static int scan_vma(struct walk *w, int pm_fd, pid_t pid, unsigned group, uint64_t start,
		    uint64_t end)
{
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.start = start,
		.end = end,
		.vec = (uintptr_t)w->regions,
		.vec_len = NREGIONS,
		.category_mask = PAGE_IS_PRESENT | PAGE_IS_FILE | PAGE_IS_PFNZERO | PAGE_IS_HUGE,
		.category_inverted = PAGE_IS_FILE | PAGE_IS_PFNZERO | PAGE_IS_HUGE,
		.return_mask = PAGE_IS_PRESENT,
	};

	while (a.start < end) {
		long n = ioctl(pm_fd, PAGEMAP_SCAN, &a);
		int r = 0;

		/* Before 6.7: read every entry, holes included (slow for
		 * sparse terabyte reservations, exact all the same). */
		if (n < 0 && errno == ENOTTY)
			return read_range(w, pm_fd, pid, group, a.start, end);
		if (n < 0)
			return gone(errno) ? 1 : fail(w, errno, "/proc/%d/pagemap: PAGEMAP_SCAN: %s",
						      (int)pid, strerror(errno));
		for (long i = 0; i < n && r == 0; i++)
			r = read_range(w, pm_fd, pid, group, w->regions[i].start,
				       w->regions[i].end);
		if (r != 0)
			return r;
		/* walk_end < end: the result array filled up, go on from there */
		if (a.walk_end <= a.start)
			break;
		a.start = a.walk_end;
	}
	return 0;
}

/* Walks the private mappings: KSM merges no shared page. Private file
 * mappings count too: the pages written in them are anonymous and can be
 * merged. [vsyscall] lies above the process's address space, where
 * PAGEMAP_SCAN refuses to go; nothing there is anonymous. */
static int walk_maps(struct walk *w, int dirfd, pid_t pid, unsigned group)
{
	char *line = NULL;
	size_t cap = 0;
	int maps_fd, pm_fd, r = 0;
	FILE *f;

	pm_fd = openat(dirfd, "pagemap", O_RDONLY | O_CLOEXEC);
	if (pm_fd < 0)
		return gone(errno) ? 1 : fail(w, errno, "/proc/%d/pagemap: %s", (int)pid,
					      strerror(errno));
	maps_fd = openat(dirfd, "maps", O_RDONLY | O_CLOEXEC);
	f = maps_fd < 0 ? NULL : fdopen(maps_fd, "r");
	if (!f) {
		int e = errno;

		if (maps_fd >= 0)
			close(maps_fd);
		close(pm_fd);
		return gone(e) ? 1 : fail(w, e, "/proc/%d/maps: %s", (int)pid, strerror(e));
	}
	while (r == 0 && getline(&line, &cap, f) > 0) {
		unsigned long long start, end;
		char perms[5];

		if (sscanf(line, "%llx-%llx %4s", &start, &end, perms) != 3 ||
		    strlen(perms) != 4 || start > end)
			r = fail(w, EINVAL, "/proc/%d/maps: unexpected line: %.60s", (int)pid, line);
		else if (perms[3] == 'p' && !strstr(line, "[vsyscall]"))
			r = scan_vma(w, pm_fd, pid, group, start, end);
	}
	if (r == 0 && ferror(f))
		r = gone(errno) ? 1 : fail(w, errno, "/proc/%d/maps: %s", (int)pid, strerror(errno));
	free(line);
	fclose(f);
	close(pm_fd);
	return r == 0 ? cand_flush(w, group) : r;
}

/* --- per-process figures ----------------------------------------------- */

/* Reads a small file of the process, NUL-terminated: length or -errno. */
static ssize_t read_small(int dirfd, const char *name, char *buf, size_t size)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread_full(fd, buf, size - 1, 0);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* Field key (with its colon) from smaps_rollup text, KiB; -1 if absent. */
static long long parse_rollup_kib(const char *text, const char *key)
{
	const char *p = text;
	size_t len = strlen(key);

	while (p && *p) {
		if (strncmp(p, key, len) == 0)
			return strtoll(p + len, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

struct proc_figures {
	struct ksm_stat ksm;
	long long pss_kib, anon_kib;
};

/* 0, 1 if the process is gone or has no memory (zombie, kernel thread), or
 * -errno. */
static int read_figures(struct walk *w, int dirfd, pid_t pid, struct proc_figures *pf)
{
	char buf[4096];
	ssize_t n = read_small(dirfd, "ksm_stat", buf, sizeof(buf));

	if (n < 0)
		return gone((int)-n) ? 1 : fail(w, (int)-n, "/proc/%d/ksm_stat: %s", (int)pid,
						strerror((int)-n));
	if (n == 0)
		return 1;       /* printed only while the process has an mm */
	if (ksmstat_parse(buf, &pf->ksm) < 0)
		return fail(w, EINVAL, "/proc/%d/ksm_stat: unexpected content", (int)pid);
	n = read_small(dirfd, "smaps_rollup", buf, sizeof(buf));
	if (n < 0)
		return gone((int)-n) ? 1 : fail(w, (int)-n, "/proc/%d/smaps_rollup: %s", (int)pid,
						strerror((int)-n));
	pf->pss_kib = parse_rollup_kib(buf, "Pss:");
	pf->anon_kib = parse_rollup_kib(buf, "Anonymous:");
	return pf->pss_kib < 0 ? 1 : 0;
}

/* Counts one process into its group: 0, 1 if it vanished (then nothing of
 * it is counted), or -errno. */
static int scan_proc(struct walk *w, const struct savings_proc *p, struct savings_group *g)
{
	struct proc_figures pf;
	char path[32];
	int dirfd, r;

	/* The files are opened relative to this directory: were the pid
	 * reused meanwhile, they would fail, not describe another process. */
	snprintf(path, sizeof(path), "/proc/%d", (int)p->pid);
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return gone(errno) ? 1 : fail(w, errno, "%s: %s", path, strerror(errno));
	w->proc.n = 0;
	r = walk_maps(w, dirfd, p->pid, p->group);
	/* Read after the walk: had the process exited during it, this says
	 * so, and its half-walked pages are dropped. */
	if (r == 0)
		r = read_figures(w, dirfd, p->pid, &pf);
	close(dirfd);
	for (size_t i = 0; i < w->proc.n && r == 0; i++)
		if (refs_add(&w->all, w->proc.v[i].pfn, p->group, w->proc.v[i].mappings) < 0)
			r = fail(w, ENOMEM, "out of memory");
	if (r != 0)
		return r;
	g->pss_kib += pf.pss_kib;
	g->anon_kib += pf.anon_kib > 0 ? pf.anon_kib : 0;
	g->merging_kib += pf.ksm.merging_pages * w->page_bytes / 1024;
	g->zero_pages += pf.ksm.zero_pages;
	g->rmap_items += pf.ksm.rmap_items;
	g->procs++;
	return 0;
}

/* Gives each KSM page found its map count, drops the frames that stopped
 * being KSM pages since the walk (unmerged, freed), counts each group's
 * pages, and shares the savings out. */
static int settle(struct walk *w, struct savings_group *groups, long double *saved_pages)
{
	struct refs *r = &w->all;
	size_t kept = 0, j;

	refs_compact(r);
	for (size_t i = 0; i < r->n; i = j) {
		size_t n = 0, k = 0;
		int rc;

		for (j = i; j < r->n; j++) {
			if (n > 0 && w->cand[n - 1] == r->v[j].pfn)
				continue;
			if (n == BATCH_PAGES)
				break;
			w->cand[n++] = r->v[j].pfn;
		}
		rc = kpage_read(w, w->flags_fd, "/proc/kpageflags", w->cand, n, w->flags);
		if (rc == 0)
			rc = kpage_read(w, w->count_fd, "/proc/kpagecount", w->cand, n, w->counts);
		if (rc < 0)
			return rc;
		for (size_t x = i; x < j; x++) {
			while (w->cand[k] != r->v[x].pfn)
				k++;
			if (!(w->flags[k] & KPF_KSM))
				continue;
			r->v[kept] = r->v[x];
			r->v[kept].mapcount = w->counts[k];
			groups[r->v[kept].group].ksm_pages++;
			kept++;
		}
	}
	r->n = kept;
	savings_share(r->v, r->n, saved_pages);
	return 0;
}

/* --- entry ---------------------------------------------------------------- */

struct pid_slot {
	pid_t pid;
	size_t index;
};

static int slot_cmp(const void *a, const void *b)
{
	const struct pid_slot *x = a, *y = b;

	if (x->pid != y->pid)
		return (x->pid > y->pid) - (x->pid < y->pid);
	return (x->index > y->index) - (x->index < y->index);
}

/* dup[i]: procs[i] repeats the pid of an earlier entry. NULL if no memory. */
static bool *find_dups(const struct savings_proc *procs, size_t n)
{
	struct pid_slot *s = calloc(n ? n : 1, sizeof(*s));
	bool *dup = calloc(n ? n : 1, sizeof(*dup));

	if (!s || !dup) {
		free(s);
		free(dup);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		s[i] = (struct pid_slot){ procs[i].pid, i };
	qsort(s, n, sizeof(*s), slot_cmp);
	for (size_t i = 1; i < n; i++)
		dup[s[i].index] = s[i].pid == s[i - 1].pid;
	free(s);
	return dup;
}

/* Without root the files (mode 0400) give EACCES: reported as EPERM, "not
 * allowed to see page frames", whatever the reason. */
static int open_kpage(struct walk *w, const char *path, int *fd)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd >= 0)
		return 0;
	if (errno == EACCES || errno == EPERM)
		return fail(w, EPERM, "%s: %s (reading page frames needs root)", path,
			    strerror(errno));
	return fail(w, errno, "%s: %s", path, strerror(errno));
}

static int compute(struct walk *w, const struct savings_proc *procs, size_t nprocs,
		   struct savings_group *groups, size_t ngroups, long double *saved_pages,
		   const bool *dup)
{
	int r = open_kpage(w, "/proc/kpageflags", &w->flags_fd);

	if (r == 0)
		r = open_kpage(w, "/proc/kpagecount", &w->count_fd);
	for (size_t i = 0; i < nprocs && r == 0; i++)
		if (!dup[i] && (r = scan_proc(w, &procs[i], &groups[procs[i].group])) == 1)
			r = 0;
	if (r == 0)
		r = settle(w, groups, saved_pages);
	for (size_t g = 0; g < ngroups && r == 0; g++)
		groups[g].saved_kib = savings_kib(saved_pages[g], groups[g].zero_pages,
						  groups[g].rmap_items, w->page_bytes);
	return r;
}

int savings_compute(const struct savings_proc *procs, size_t nprocs,
		    struct savings_group *groups, size_t ngroups,
		    char *err, size_t errlen)
{
	long double *saved_pages = NULL;
	struct walk *w = NULL;
	bool *dup = NULL;
	int r = -ENOMEM;

	if (ngroups)
		memset(groups, 0, ngroups * sizeof(*groups));
	for (size_t i = 0; i < nprocs; i++)
		if (procs[i].group >= ngroups) {
			snprintf(err, errlen, "process %d: group %u, but only %zu groups",
				 (int)procs[i].pid, procs[i].group, ngroups);
			return -EINVAL;
		}
	saved_pages = calloc(ngroups ? ngroups : 1, sizeof(*saved_pages));
	w = calloc(1, sizeof(*w));
	if (w)
		w->flags_fd = w->count_fd = -1;
	dup = find_dups(procs, nprocs);
	if (saved_pages && w && dup) {
		w->page_bytes = sysconf(_SC_PAGESIZE);
		w->err = err;
		w->errlen = errlen;
		r = compute(w, procs, nprocs, groups, ngroups, saved_pages, dup);
	} else {
		snprintf(err, errlen, "out of memory");
	}
	if (r < 0 && ngroups)
		memset(groups, 0, ngroups * sizeof(*groups));
	if (w) {
		if (w->flags_fd >= 0)
			close(w->flags_fd);
		if (w->count_fd >= 0)
			close(w->count_fd);
		free(w->all.v);
		free(w->proc.v);
	}
	free(w);
	free(dup);
	free(saved_pages);
	return r;
}
