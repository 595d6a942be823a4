/* test_census.c — the census's tally on synthetic pages: zero and
 * one-byte pages, groups within and across processes, the forecast's cost,
 * the sampling estimate and its bound, the best ranges; and procmem reading
 * this very process. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "census.h"
#include "procmem.h"

#define PS 4096
#define BASE ((uintptr_t)1 << 30)       /* 2 MiB aligned */

/* A page whose content is determined by tag alone (distinct tags differ). */
static void page_of(unsigned char *p, unsigned tag)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL * (tag + 1);

	for (size_t i = 0; i < PS; i += 8) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
}

/* Adds pages [0, n) of one process: tags[i], or a fill byte if tags[i] < 0
 * (-1 zero, -2 0xff). Sampled pages only, as the reader does. */
static void add_proc(struct census *c, pid_t pid, const int *tags, size_t n)
{
	unsigned char p[PS];

	assert_int_equal(census_begin_vma(c, pid, BASE, BASE + n * PS), 0);
	for (size_t i = 0; i < n; i++) {
		uintptr_t a = BASE + i * PS;

		census_count_resident(c, 1);
		if (!census_sampled(c, a))
			continue;
		if (tags[i] == -1)
			memset(p, 0, PS);
		else if (tags[i] == -2)
			memset(p, 0xff, PS);
		else
			page_of(p, (unsigned)tags[i]);
		assert_int_equal(census_add_page(c, a, p), 0);
	}
}

static void test_classify(void **state)
{
	unsigned char p[PS];

	(void)state;
	memset(p, 0, PS);
	assert_int_equal(census_classify(p, PS), 1);
	memset(p, 0x5a, PS);
	assert_int_equal(census_classify(p, PS), 2);
	p[PS - 1] = 0x5b;
	assert_int_equal(census_classify(p, PS), 0);
	memset(p, 0, PS);
	p[0] = 1;
	assert_int_equal(census_classify(p, PS), 0);
}

static void test_groups_within_and_across(void **state)
{
	/* proc A: 3 zero pages, 2 x tag 7, tag 8, 0xff page; proc B: 2 x tag 7,
	 * tag 9, 0xff page. Groups: zero 3 (within 2), tag 7: A2+B2 (within
	 * 1+1, across 1 more), 0xff: A1+B1 (across 1); 8, 9 unique. */
	int a[] = { -1, -1, -1, 7, 7, 8, -2 };
	int b[] = { 7, 9, 7, -2 };
	struct census c;
	struct census_report r;

	(void)state;
	census_init(&c, 1, PS);
	add_proc(&c, 100, a, 7);
	add_proc(&c, 200, b, 4);
	census_report(&c, &r);
	assert_int_equal(r.sampled, 11);
	assert_int_equal(r.resident, 11);
	assert_int_equal(r.zero, 3);
	assert_int_equal(r.repeated, 2);
	assert_int_equal(r.dup_within, 2 + 1 + 1);
	assert_int_equal(r.saved, 2 + 3 + 1);
	assert_int_equal(r.dup_across, 2);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.rmap_bytes, 11 * 64);
	assert_int_equal(r.net_bytes, 6 * PS - 11 * 64);
	census_free(&c);
}

static void test_no_duplicates_costs_only(void **state)
{
	int a[64];
	struct census c;
	struct census_report r;

	(void)state;
	for (int i = 0; i < 64; i++)
		a[i] = i;
	census_init(&c, 1, PS);
	add_proc(&c, 1, a, 64);
	census_report(&c, &r);
	assert_int_equal(r.saved, 0);
	assert_int_equal(r.net_bytes, -64 * 64);
	assert_int_equal(r.n_top_ranges, 0);
	assert_int_equal(r.n_top_maps, 0);
	census_free(&c);
}

/* The low-density workload in small: two processes of 2,048 pages, the
 * first 128 of each 0xff, the rest distinct everywhere: 255 saved. */
static void low_density(unsigned sample, struct census_report *r)
{
	static int a[2048], b[2048];
	struct census c;

	for (int i = 0; i < 2048; i++) {
		a[i] = i < 128 ? -2 : 1000 + i;
		b[i] = i < 128 ? -2 : 5000 + i;
	}
	census_init(&c, sample, PS);
	add_proc(&c, 1, a, 2048);
	add_proc(&c, 2, b, 2048);
	census_report(&c, r);
	census_free(&c);
}

static void test_sampling_estimate(void **state)
{
	struct census_report full, s8;

	(void)state;
	low_density(1, &full);
	assert_int_equal(full.saved, 255);
	assert_int_equal(full.repeated, 256);
	assert_int_equal(full.resident, 4096);
	low_density(8, &s8);
	assert_in_range(s8.sampled, 512 - 64, 512 + 64);
	assert_int_equal(s8.resident, 4096);       /* counted, not estimated */
	/* ~32 sampled 0xff pages stand for 256: ~255 saved, with a bound */
	assert_true(s8.error > 0);
	assert_true(s8.error < 255);
	/* the bound covers the truth */
	assert_true(s8.saved - s8.error <= full.saved && full.saved <= s8.saved + s8.error);
}

/* Sampling a workload where half the pages are one content: the estimate
 * within its bound of the exact count, for several strides. */
static void test_sampling_bound_holds(void **state)
{
	static int a[4096];
	struct census_report full, s;
	struct census c;

	(void)state;
	for (int i = 0; i < 4096; i++)
		a[i] = (i * 7919) % 3 == 0 ? 42 : 100 + i;
	census_init(&c, 1, PS);
	add_proc(&c, 1, a, 4096);
	census_report(&c, &full);
	census_free(&c);
	for (unsigned n = 2; n <= 32; n *= 2) {
		census_init(&c, n, PS);
		add_proc(&c, 1, a, 4096);
		census_report(&c, &s);
		census_free(&c);
		assert_true(s.saved <= full.saved + s.error);
		assert_true(full.saved <= s.saved + s.error);
	}
}

/* Content with a period (10 zero pages in every 100, like an allocator's
 * headers): a sample with a stride would alias with it; the estimate must
 * stay within its bound for every N. */
static void test_sampling_no_aliasing(void **state)
{
	static int a[20000];
	struct census_report full, s;
	struct census c;

	(void)state;
	for (int i = 0; i < 20000; i++)
		a[i] = i % 100 < 10 ? -1 : 100 + i;
	census_init(&c, 1, PS);
	add_proc(&c, 1, a, 20000);
	census_report(&c, &full);
	census_free(&c);
	assert_int_equal(full.saved, 1999);
	for (unsigned n = 2; n <= 16; n++) {
		census_init(&c, n, PS);
		add_proc(&c, 1, a, 20000);
		census_report(&c, &s);
		census_free(&c);
		assert_in_range(s.saved, full.saved - s.error, full.saved + s.error);
	}
}

static void test_top_ranges(void **state)
{
	/* 2 MiB = 512 pages: range 0 has 10 zero pages, range 1 has 30 */
	static int a[1024];
	struct census c;
	struct census_report r;

	(void)state;
	for (int i = 0; i < 1024; i++)
		a[i] = (i < 10 || (i >= 512 && i < 542)) ? -1 : i;
	census_init(&c, 1, PS);
	add_proc(&c, 9, a, 1024);
	census_report(&c, &r);
	assert_int_equal(r.n_top_ranges, 2);
	assert_int_equal(r.top_ranges[0].start, BASE + 512 * PS);
	assert_int_equal(r.top_ranges[0].dup_pages, 30);
	assert_int_equal(r.top_ranges[1].start, BASE);
	assert_int_equal(r.top_ranges[1].dup_pages, 10);
	assert_int_equal(r.top_ranges[0].pid, 9);
	assert_int_equal(r.n_top_maps, 1);
	assert_int_equal(r.top_maps[0].dup_pages, 40);
	assert_int_equal(r.top_maps[0].pages, 1024);
	census_free(&c);
}

static void test_add_before_vma_refused(void **state)
{
	unsigned char p[PS] = { 0 };
	struct census c;

	(void)state;
	census_init(&c, 1, PS);
	assert_int_equal(census_add_page(&c, BASE, p), -EINVAL);
	census_free(&c);
}

/* procmem on this very process: a mapping of 64 identical pages, 16 zero
 * pages and 16 GiB PROT_NONE reserved that must cost nothing (valgrind
 * refuses more; the integration test reserves 1 TiB). */
static void procmem_self(bool via_mem)
{
	size_t len = 80 * PS;
	unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *huge = mmap(NULL, 1ULL << 34, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	/* and a writable one, one page touched: pagemap walks it unless
	 * PAGEMAP_SCAN skips its empty page tables */
	char *sparse = mmap(NULL, 1ULL << 34, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct procmem pm;
	struct procmem_stats st = { 0 };
	struct census c;
	struct census_report r;

	assert_true(m != MAP_FAILED);
	assert_true(huge != MAP_FAILED);
	assert_true(sparse != MAP_FAILED);
	sparse[(1ULL << 33) + 5] = 1;
	for (int i = 0; i < 64; i++)
		page_of(m + (size_t)i * PS, 77);
	memset(m + 64 * PS, 0, 16 * PS);
	assert_int_equal(procmem_open(&pm, getpid()), 0);
	pm.no_vm_readv = via_mem;
	census_init(&c, 1, PS);
	assert_int_equal(procmem_census(&pm, &c, &st), 0);
	/* the fallback's fd is opened only when used */
	assert_true(via_mem ? pm.mem_fd >= 0 : pm.mem_fd < 0);
	procmem_close(&pm);
	census_report(&c, &r);
	assert_true(r.zero >= 16);
	assert_true(r.saved >= 63 + 15);
	assert_true(st.read_bytes == r.sampled * PS);
	/* the reservations are not walked: far fewer than their 2^22 pages */
	assert_true(st.visited < (1u << 20));
	census_free(&c);
	munmap(m, len);
	munmap(huge, 1ULL << 34);
	munmap(sparse, 1ULL << 34);
}

static void test_procmem_self(void **state)
{
	(void)state;
	procmem_self(false);
}

/* The same through /proc/PID/mem, as on a kernel without
 * CONFIG_CROSS_MEMORY_ATTACH (process_vm_readv: ENOSYS): the same pages
 * read, the same groups found. */
static void test_procmem_self_via_mem(void **state)
{
	(void)state;
	procmem_self(true);
}

/* Pages of m in c's entries (census_keep_addresses). */
static size_t entries_in(const struct census *c, const unsigned char *m, size_t len)
{
	size_t k = 0;

	for (size_t i = 0; i < c->n; i++)
		k += c->addr[i] >= (uintptr_t)m && c->addr[i] < (uintptr_t)m + len;
	return k;
}

/* skip_shared on a forked child: 64 equal pages written before the fork;
 * the parent writes 16 of them again after it (each side then holds its
 * own copy of those, exclusively). With page frame numbers (root) the
 * child's census takes those 16 and leaves out the 48 still shared since
 * fork, and they stay shared; without them it cannot tell, and takes all
 * 64, as without skip_shared. Without skip_shared last: process_vm_readv
 * pins what it reads, and pinning a page shared since fork gives the
 * child its own copy (the kernel's GUP unsharing): after that read all 64
 * are the child's alone. */
static void test_procmem_skip_shared(void **state)
{
	size_t len = 64 * PS;
	unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int go[2];
	pid_t child;
	struct procmem pm;
	struct procmem_stats st = { 0 };
	struct census c;
	bool pfns = geteuid() == 0 && access("/proc/kpageflags", R_OK) == 0;
	char x;

	(void)state;
	assert_true(m != MAP_FAILED);
	for (int i = 0; i < 64; i++)
		page_of(m + (size_t)i * PS, 77);
	assert_int_equal(pipe(go), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(go[1]);
		_exit(read(go[0], &x, 1) < 0);  /* until the parent closes it */
	}
	close(go[0]);
	for (int i = 0; i < 16; i++)
		page_of(m + (size_t)i * PS, 77);        /* copy on write */
	for (int pass = 0; pass < 2; pass++) {
		memset(&st, 0, sizeof(st));
		assert_int_equal(procmem_open(&pm, child), 0);
		pm.skip_shared = pass == 0;
		census_init(&c, 1, PS);
		census_keep_addresses(&c);
		assert_int_equal(procmem_census(&pm, &c, &st), 0);
		procmem_close(&pm);
		if (pass == 1 || !pfns) {
			assert_int_equal(entries_in(&c, m, len), 64);
			assert_int_equal(st.shared, 0);
		} else {
			assert_int_equal(entries_in(&c, m, len), 16);
			assert_true(st.shared >= 48);
		}
		census_free(&c);
	}
	close(go[1]);
	waitpid(child, NULL, 0);
	munmap(m, len);
}

/* Duplicates against other apps: app A's groups meet other apps' pages,
 * each process tagged with its app (B: tag 0, two processes; C: tag 1).
 *   10: A 1, B 2 (both processes)  -> (1+2-1)*1/3 - 0 = 2/3 owed to B
 *   20: A 2, C 1                   -> (2+1-1)*2/3 - 1 = 1/3 owed to C
 *   30: A 1, B 1                   -> 1/2 owed to B
 *   40: A 1, B 1                   -> 1/2 owed to B
 *   50: A 1, nobody                -> nothing
 * Alone A saves 1 (the pair of 20s); merged with the others 1 + 2. */
static void test_against_other_apps(void **state)
{
	int a[] = { 10, 20, 20, 30, 40, 50 };
	int b1[] = { 10, 30 }, b2[] = { 40, 10 }, cc[] = { 20 };
	struct census c, o;
	struct census_report r;

	(void)state;
	census_init(&c, 1, PS);
	census_init(&o, 1, PS);
	add_proc(&c, 100, a, 6);
	census_set_tag(&o, 0);
	add_proc(&o, 200, b1, 2);
	add_proc(&o, 201, b2, 2);
	census_set_tag(&o, 1);
	add_proc(&o, 300, cc, 1);
	census_sort(&o);
	census_report_against(&c, &o, &r);
	assert_int_equal(r.saved, 1);
	assert_int_equal(r.dup_other, 1 + 2 + 1 + 1);
	assert_int_equal(r.depends, 2);
	assert_int_equal(r.saved_shared, 3);
	assert_int_equal(r.n_others, 2);
	assert_int_equal(r.others[0].tag, 0);
	assert_int_equal(r.others[0].pages, 3);        /* 10 once, though in two processes */
	assert_int_equal(r.others[0].depends, 2);      /* 2/3 + 1/2 + 1/2 */
	assert_int_equal(r.others[1].tag, 1);
	assert_int_equal(r.others[1].pages, 2);
	assert_int_equal(r.others[1].depends, 0);      /* 1/3 */
	/* the app's own figures are those of census_report */
	assert_int_equal(r.dup_within, 1);
	assert_int_equal(r.net_bytes, 1 * PS - 6 * 64);
	census_free(&o);
	census_free(&c);

	/* no other app: nothing against */
	census_init(&c, 1, PS);
	census_init(&o, 1, PS);
	add_proc(&c, 100, a, 6);
	census_report_against(&c, &o, &r);
	assert_int_equal(r.dup_other, 0);
	assert_int_equal(r.saved_shared, r.saved);
	assert_int_equal(r.n_others, 0);
	census_free(&o);
	census_free(&c);
}

static void test_procmem_no_such_process(void **state)
{
	struct procmem pm;

	(void)state;
	assert_int_equal(procmem_open(&pm, 0x3ffffff0), -ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_groups_within_and_across),
		cmocka_unit_test(test_no_duplicates_costs_only),
		cmocka_unit_test(test_sampling_estimate),
		cmocka_unit_test(test_sampling_bound_holds),
		cmocka_unit_test(test_sampling_no_aliasing),
		cmocka_unit_test(test_top_ranges),
		cmocka_unit_test(test_add_before_vma_refused),
		cmocka_unit_test(test_procmem_self),
		cmocka_unit_test(test_procmem_self_via_mem),
		cmocka_unit_test(test_procmem_skip_shared),
		cmocka_unit_test(test_against_other_apps),
		cmocka_unit_test(test_procmem_no_such_process),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
