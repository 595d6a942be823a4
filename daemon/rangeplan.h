/* rangeplan.h — policy = census: enrolling only the parts of a process
 * whose duplicates pay for what KSM keeps on them.
 *
 * KSM keeps a 64-byte rmap_item for every page it scans in a mergeable
 * range, duplicate or not. Whole-process enrollment on memory with few
 * duplicates (2 x 100 MiB holding 1 MiB of equal pages each) keeps 51,200
 * of them and loses memory, and the profit check can only drop the whole
 * app. Instead, an app under policy = census is censused (census.h, in a
 * worker thread, at most half a core, never stopping the target); each
 * process gets a plan, the page ranges worth advising MADV_MERGEABLE, and the
 * daemon's loop applies the difference with the ranges already advised:
 * new ranges merged, ranges that stopped paying MADV_UNMERGEABLE. The census
 * runs again every census_interval_sec, when a process's anonymous memory
 * grew by a quarter (and 4 MiB), and when processes join the app.
 *
 * A plan: runs of duplicate pages (content another hashed page of the app
 * holds), within one VMA, joined across gaps of resident unique pages when
 * the gap's rmap_items cost less than the VMA a split makes; each run kept
 * only when its forecast profit, its pages' share of the saving
 * (page * (m - 1) / m for content held m times) less 64 bytes per resident
 * page and one VMA, is positive. At most RANGEPLAN_MAX_RANGES a process
 * (each is a VMA split; max_map_count is 65,530): past it, wider gaps, then
 * the most profitable. */
#ifndef KSMPLUS_RANGEPLAN_H
#define KSMPLUS_RANGEPLAN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmas.h"

/* What a split VMA costs: a vm_area_struct (~200 bytes) and its share of
 * the maple tree. */
#define RANGEPLAN_VMA_BYTES 256
#define RANGEPLAN_MAX_RANGES 256

/* One hashed resident page of a process, in increasing address order. */
struct rangeplan_page {
	uintptr_t addr;
	uintptr_t vma;                  /* start of its VMA: a range stays in one */
	uint32_t group;                 /* hashed pages with its content, itself included */
};

struct rangeplan_stats {
	uint64_t pages;                 /* resident pages looked at */
	uint64_t dup_pages;             /* of those, holding content seen twice or more */
	uint64_t planned_pages;         /* resident pages inside the plan's ranges */
	uint64_t ranges;
	int64_t net_bytes;              /* the plan's forecast: saving - rmap_items - VMAs */
};

/* The plan for one process's pages (n of them, page_size each): out gets its
 * ranges, sorted and disjoint (out is overwritten). 0, or -ENOMEM. */
int rangeplan_plan(const struct rangeplan_page *p, size_t n, size_t page_size,
		   size_t max_ranges, struct vma_list *out, struct rangeplan_stats *st);

/* A census that cannot read a process (err: -errno) enrolls it whole
 * instead, as policy = whole would: the user asked for its memory merged.
 * Not for -ESRCH (gone), -ECANCELED, -ENOMEM and -E2BIG (the daemon's own
 * limits, not the process's), nor -ENOSYS (procmem.c reads /proc/PID/mem
 * instead). */
bool rangeplan_falls_back(int err);
/* The test hook KSMPLUS_CENSUS_FAIL=PATH: each line "PID ERRNO" (decimal)
 * of PATH makes the census of PID fail with -ERRNO before it reads anything,
 * as an unreadable pagemap would (no test can make root's read of it fail
 * otherwise). PATH is read once at the start of each census, not once per
 * process: while it exists, the censuses that start then fail so. */
struct rangeplan_faults {
	struct rangeplan_fault {
		int pid, err;
	} *v;
	size_t n, cap;
};
/* PATH's lines into f, up to the first that is not "PID ERRNO"; none when
 * path is NULL or the file is missing. 0, or -ENOMEM (f then empty). */
int rangeplan_faults_load(struct rangeplan_faults *f, const char *path);
/* The census of pid fails with this -errno; 0 when pid is not listed (or
 * with an errno <= 0). */
int rangeplan_fault_of(const struct rangeplan_faults *f, int pid);
void rangeplan_faults_free(struct rangeplan_faults *f);

struct config;
struct daemon;
struct tracked;

/* Is app under policy = census ([app NAME] policy, else [ksmplusd] policy)? */
bool rangeplan_app_census(const struct config *c, const char *app);
int rangeplan_init(struct daemon *d);
void rangeplan_free(struct daemon *d);          /* cancels a running census */
/* lifecycle.c: t is enrolled under policy = census, nothing advised yet;
 * its app's census comes shortly. */
void rangeplan_enroll(struct daemon *d, struct tracked *t);
/* lifecycle.c's rescan timer: starts a census that is due. */
void rangeplan_tick(struct daemon *d);

/* What status shows of an app under policy = census. */
struct rangeplan_status {
	bool censused;                  /* a census finished, since start or saved */
	bool saved;                     /* the last census's figures are from the state
					 * file (before a restart), not this run's */
	bool running;                   /* its census is running now */
	int64_t when;                   /* unix seconds the last census finished */
	unsigned long long procs;       /* processes it read */
	unsigned long long planned_kib; /* resident memory inside its plan */
	long long net_kib;              /* the plan's forecast profit */
	unsigned long long hashed_kib;  /* page contents it read and hashed */
	unsigned long long cpu_ms, cpu_total_ms;   /* its CPU; every census's since start */
	unsigned long long censuses;    /* since start */
	/* now, from the app's processes: ranges advised MADV_MERGEABLE */
	unsigned long long ranges, advised_kib;
	long long next_s;               /* seconds until the next census is due (a
					 * process's growth may bring it sooner); 0: due */
};
/* false when app is not under policy = census. */
bool rangeplan_status(const struct daemon *d, const char *app, struct rangeplan_status *out);
#endif
