/* savings.h — what KSM really saves, per app (group of processes).
 *
 * Summing the kernel's ksm_process_profit over an app's processes
 * overstates the saving: each process is credited with every page it maps
 * from a KSM page although one physical copy of that page remains. Here a
 * KSM page mapped m times saves m - 1 pages, shared out among the mappers,
 * so that the figures of all apps together never exceed what the system
 * gains, and each app's figure matches the drop of its processes' PSS. */
#ifndef KSMPLUS_SAVINGS_H
#define KSMPLUS_SAVINGS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One process and the app it belongs to (an index into the groups array).
 * pid is a process (thread-group) id: a thread's id would count its
 * process's memory a second time. */
struct savings_proc {
	pid_t pid;
	unsigned group;
};

struct savings_group {
	/* What merging gains the group, KiB: its share of its KSM pages, plus
	 * its KSM zero pages, minus KSM's bookkeeping for its processes (64
	 * bytes per rmap_item). Negative when the bookkeeping costs more than
	 * merging gains. Pages shared since fork that KSM then merged are
	 * counted as KSM's saving too (see savings.c). */
	long long saved_kib;
	long long pss_kib;      /* sum of the processes' Pss (smaps_rollup) */
	long long anon_kib;     /* sum of their Anonymous (smaps_rollup): the governor's growth */
	long long merging_kib;  /* sum of ksm_merging_pages, as KiB */
	long long ksm_pages;    /* distinct KSM pages the group maps */
	long long zero_pages;   /* sum of ksm_zero_pages */
	long long rmap_items;   /* sum of ksm_rmap_items */
	unsigned procs;         /* processes counted (vanished ones are not) */
};

/* groups[0..ngroups) are zeroed, then filled from procs[0..nprocs).
 * Processes that vanish meanwhile (or have no memory: kernel threads,
 * zombies) are skipped, not an error; a pid listed twice counts once, in
 * the first group given. Returns 0, or -errno with a message naming the
 * file in err: -EINVAL for a group >= ngroups, -EPERM when page frames
 * cannot be read (/proc/kpageflags needs root; without CAP_SYS_ADMIN
 * /proc/PID/pagemap hides them), -ENOMEM.
 *
 * Cost: one walk of each process's page tables (PAGEMAP_SCAN skips what is
 * not mapped, so huge sparse reservations cost nothing), plus one pread of
 * /proc/kpageflags per cluster of candidate pages. Memory: proportional to
 * the distinct KSM pages the processes map, never to their size. */
int savings_compute(const struct savings_proc *procs, size_t nprocs,
		    struct savings_group *groups, size_t ngroups,
		    char *err, size_t errlen);

/* --- internals, exposed for tests/unit/test_savings.c ------------------- */

/* One KSM page as one group maps it. */
struct savings_ref {
	uint64_t pfn;
	uint64_t mapcount;      /* the page's mappings by all processes */
	unsigned group;
	unsigned mappings;      /* (process, virtual page) pairs of the group */
};

/* refs[0..nrefs) sorted by pfn: for each page, adds (m - 1) * k / m pages
 * to saved_pages[group] of each group with k of its m mappings. Mappings
 * by processes outside the refs keep their share, unassigned. A mapcount
 * below the mappings counted (the page changed between the two reads) is
 * taken as that count: every mapper is then known. */
void savings_share(const struct savings_ref *refs, size_t nrefs, long double *saved_pages);

/* saved_kib of a group from its exact parts, rounded down once: rounding
 * each group down keeps the sum over groups <= the system's gain. */
long long savings_kib(long double shared_pages, long long zero_pages, long long rmap_items,
		      long page_bytes);
#endif
