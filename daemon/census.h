/* census.h — the duplicate census: which resident anonymous pages of an
 * app hold the same content, and what merging them with KSM would save and
 * cost. This file is the tally only (pages in, figures out), free of /proc,
 * so it can be tested on synthetic buffers; procmem.h reads the pages.
 *
 * Page contents are never kept: each page is hashed (xxHash XXH3-64) as it
 * is added, and only a 16-byte entry per sampled page is stored: the hash,
 * the process and the 2 MiB range it came from. The report sorts these
 * entries by hash, so pages of equal content sit together: one pass gives
 * the groups, and within each group the runs of one process. Memory is
 * therefore 16 bytes per sampled page (4 MiB per GiB hashed), freed by
 * census_free(). */
#ifndef KSMPLUS_CENSUS_H
#define KSMPLUS_CENSUS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What KSM keeps per page it scans (struct ksm_rmap_item, x86_64). */
#define CENSUS_RMAP_ITEM_BYTES 64
#define CENSUS_RANGE_SHIFT 21           /* 2 MiB ranges */
#define CENSUS_TOP 5                    /* best mappings / ranges reported */

struct census_entry {
	uint64_t hash;
	uint32_t proc;                  /* index given by census_begin_proc */
	uint32_t range;                 /* index into census.ranges */
};

/* A 2 MiB range (or, for mappings, a whole eligible VMA) of one process. */
struct census_area {
	pid_t pid;
	uintptr_t start, end;
	uint64_t pages;                 /* sampled resident pages in it */
	uint64_t dup_pages;             /* of those, with content seen elsewhere too */
	uint32_t map;                   /* ranges: index into census.maps */
};

struct census {
	unsigned sample;                /* 1: every page; N: one page in N */
	size_t page_size;
	struct census_entry *e;
	size_t n, cap;
	struct census_area *ranges, *maps;
	size_t n_ranges, cap_ranges, n_maps, cap_maps;
	uint32_t proc;                  /* current process (census_begin_proc) */
	pid_t pid;
	uint64_t zero_pages, repeated_pages;    /* sampled */
	uint64_t resident;              /* every resident page seen, sampled or not */
	size_t max_sampled;             /* census_add_page refuses more; 0: no limit */
	/* census_keep_addresses: addr[i] is entry i's page (e[i] before the
	 * report's sort), for policy = census (rangeplan.h); NULL: not kept. */
	uintptr_t *addr;
	size_t cap_addr;
	bool keep_addr;
	/* The caller's tag of each process (census_set_tag): which app it is
	 * in a census of several apps' pages (census_report_against). */
	uint32_t tag, *tags;
	size_t cap_tags;
};

/* Where the census stood before a process: to leave out one that exited
 * half-read (census_rollback). */
struct census_mark {
	size_t n, n_ranges, n_maps;
	uint64_t zero, repeated, resident;
	uint32_t proc;
	pid_t pid;
};

/* The forecast, in pages of the whole app (sampled figures scaled by N). */
struct census_report {
	unsigned sample;
	uint64_t sampled;               /* pages hashed */
	uint64_t resident;              /* estimated resident anonymous pages */
	uint64_t zero, repeated;        /* all-zero pages; one byte value repeated (not 0) */
	uint64_t dup_within;            /* saved merging each process with itself only */
	uint64_t dup_across;            /* saved on top of that by merging across processes */
	uint64_t saved;                 /* dup_within + dup_across: pages KSM would free */
	uint64_t error;                 /* +- bound on saved (about 95 %); 0 when sample = 1 */
	int64_t net_bytes;              /* saved * page - resident * CENSUS_RMAP_ITEM_BYTES */
	uint64_t rmap_bytes;            /* resident * CENSUS_RMAP_ITEM_BYTES */
	struct census_area top_maps[CENSUS_TOP], top_ranges[CENSUS_TOP];
	size_t n_top_maps, n_top_ranges;
	/* Against other apps (census_report_against; 0 without): KSM merges
	 * across every enrolled app, and shares out each KSM page's saving
	 * among the apps mapping it in proportion (as status's exact saving
	 * does). A group of m pages here and k elsewhere saves this app
	 * (m + k - 1) * m / (m + k) pages, not m - 1: the difference, k / (m + k),
	 * is owed to the other apps and goes if they go. */
	uint64_t dup_other;             /* pages whose content another app holds too */
	uint64_t saved_shared;          /* this app's saving, merged with the others */
	uint64_t depends;               /* saved_shared - saved: owed to the others */
	struct census_other {
		uint32_t tag;           /* the other app (its census_set_tag) */
		uint64_t pages;         /* pages of ours whose content it holds too */
		uint64_t depends;       /* of depends, owed to it */
	} others[CENSUS_TOP];           /* the most depended on first */
	size_t n_others;
};

/* sample: 1 hashes every page, N > 1 one page in N (census_sampled). */
void census_init(struct census *c, unsigned sample, size_t page_size);
void census_free(struct census *c);
/* Is the page at virtual address addr one the census hashes? One in N,
 * deterministic (a hash of the page number, not a stride that would alias
 * with periodic content), so readers can skip the others unread. */
bool census_sampled(const struct census *c, uintptr_t addr);
/* Pages added from now on belong to process pid, and to the eligible VMA
 * [start, end) (one call per VMA; the same pid in a row is one process). */
int census_begin_vma(struct census *c, pid_t pid, uintptr_t start, uintptr_t end);
/* Counts n resident pages of the current VMA (the reader's pagemap walk,
 * sampled or not): the forecast's cost is per resident page. */
void census_count_resident(struct census *c, uint64_t n);
/* Hashes one page of content at addr (which must be sampled and within the
 * current VMA, in increasing order). 0, or -ENOMEM, or -E2BIG past
 * max_sampled pages. */
int census_add_page(struct census *c, uintptr_t addr, const void *page);
void census_mark(const struct census *c, struct census_mark *m);
void census_rollback(struct census *c, const struct census_mark *m);
/* From now on, each hashed page's address is kept too (8 more bytes a page):
 * range enrollment needs to know where the duplicates are, not only how many
 * there are. */
void census_keep_addresses(struct census *c);
/* For each entry, in the order pages were added (so before census_report,
 * which sorts them): how many hashed pages hold its content, itself
 * included (1: unique). m must hold c->n values. 0, or -ENOMEM. */
int census_group_sizes(const struct census *c, uint32_t *m);
/* Processes begun from now on (census_begin_vma) carry this tag. */
void census_set_tag(struct census *c, uint32_t tag);
/* Sorts the entries by hash: a census of other apps, made ready for
 * census_report_against (which only reads it). */
void census_sort(struct census *c);
/* Computes the forecast (sorts the entries: call once, at the end). */
void census_report(struct census *c, struct census_report *r);
/* The same, plus duplicates against o: other apps' pages, hashed with the
 * same sampling, each process tagged with its app, sorted (census_sort).
 * o NULL: census_report. */
void census_report_against(struct census *c, const struct census *o, struct census_report *r);

/* Page classification, exposed for tests: 0 for a page of another kind,
 * 1 for all zeros, 2 for one non-zero byte value repeated. */
int census_classify(const void *page, size_t page_size);
#endif
