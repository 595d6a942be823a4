/* test_rangeplan.c — policy = census's plan on synthetic pages: exactly the
 * duplicate runs of the low-density workload, small gaps joined and large
 * ones not, VMA boundaries kept, unprofitable runs left out, the cap on
 * ranges; census_group_sizes in page order; the policy keys of the config. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "census.h"
#include "config.h"
#include "rangeplan.h"

#define PS 4096
#define BASE ((uintptr_t)1 << 30)

/* n resident pages from BASE in one VMA; page i's content is held by
 * group_of(i) pages (NULL: every page unique). */
static struct rangeplan_page *pages(size_t n, uint32_t (*group_of)(size_t i))
{
	struct rangeplan_page *p = calloc(n, sizeof(*p));

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (struct rangeplan_page){ BASE + i * PS, BASE, group_of ? group_of(i) : 1 };
	return p;
}

/* test_low_density: the first 256 pages held by 512 pages of the app */
static uint32_t low_density(size_t i)
{
	return i < 256 ? 512 : 1;
}

/* test_gaps: duplicate runs 0-9 and 13-19 (3 unique pages apart), 60-69 */
static uint32_t gapped(size_t i)
{
	return (i < 10 || (i >= 13 && i < 20) || (i >= 60 && i < 70)) ? 2 : 1;
}

/* test_cap: every 100th page held 3 times */
static uint32_t scattered(size_t i)
{
	return i % 100 == 0 ? 3 : 1;
}

/* The low-density workload, one process: 25,600 pages, the first 256 held
 * by 512 pages of the app. The plan is exactly those 256 pages. */
static void test_low_density(void **state)
{
	size_t n = 25600;
	struct rangeplan_page *p = pages(n, low_density);
	struct vma_list out = { 0 };
	struct rangeplan_stats st;

	(void)state;
	assert_int_equal(rangeplan_plan(p, n, PS, RANGEPLAN_MAX_RANGES, &out, &st), 0);
	assert_int_equal(out.n, 1);
	assert_true(out.v[0].start == BASE && out.v[0].end == BASE + 256 * PS);
	assert_int_equal(st.planned_pages, 256);
	assert_int_equal(st.dup_pages, 256);
	assert_int_equal(st.pages, n);
	/* 256 pages * 4096 * 511/512 - 256 * 64 - one VMA */
	assert_int_equal(st.net_bytes, 256 * (PS * 511 / 512) - 256 * 64 - RANGEPLAN_VMA_BYTES);
	vmas_free(&out);
	free(p);
}

/* Two runs 3 unique pages apart are one range (3 rmap_items cost less than
 * a VMA); 40 apart are two. */
static void test_gaps(void **state)
{
	struct rangeplan_page *p = pages(100, gapped);
	struct vma_list out = { 0 };
	struct rangeplan_stats st;

	(void)state;
	assert_int_equal(rangeplan_plan(p, 100, PS, RANGEPLAN_MAX_RANGES, &out, &st), 0);
	assert_int_equal(out.n, 2);
	assert_true(out.v[0].start == BASE && out.v[0].end == BASE + 20 * PS);
	assert_true(out.v[1].start == BASE + 60 * PS && out.v[1].end == BASE + 70 * PS);
	assert_int_equal(st.planned_pages, 30);
	vmas_free(&out);
	free(p);
}

/* Pages not resident between two duplicates cost nothing: one range over
 * them. A VMA boundary always splits the runs. */
static void test_holes_and_vmas(void **state)
{
	struct rangeplan_page p[4] = {
		{ BASE, BASE, 2 }, { BASE + 50 * PS, BASE, 2 },         /* hole of 49 pages */
		{ BASE + 51 * PS, BASE + 51 * PS, 2 },                  /* next VMA, adjacent */
		{ BASE + 52 * PS, BASE + 51 * PS, 2 },
	};
	struct vma_list out = { 0 };
	struct rangeplan_stats st;

	(void)state;
	assert_int_equal(rangeplan_plan(p, 4, PS, RANGEPLAN_MAX_RANGES, &out, &st), 0);
	/* two extents (a VMA boundary splits them), adjacent: advised as one */
	assert_int_equal(out.n, 1);
	assert_true(out.v[0].start == BASE && out.v[0].end == BASE + 53 * PS);
	assert_int_equal(st.planned_pages, 4);
	assert_int_equal(st.net_bytes, 4 * (PS / 2 - 64) - 2 * RANGEPLAN_VMA_BYTES);
	p[2].addr = BASE + 60 * PS;     /* not adjacent: two ranges */
	p[2].vma = p[3].vma = BASE + 60 * PS;
	p[3].addr = BASE + 61 * PS;
	assert_int_equal(rangeplan_plan(p, 4, PS, RANGEPLAN_MAX_RANGES, &out, &st), 0);
	assert_int_equal(out.n, 2);
	assert_true(out.v[0].start == BASE && out.v[0].end == BASE + 51 * PS);
	assert_true(out.v[1].start == BASE + 60 * PS && out.v[1].end == BASE + 62 * PS);
	vmas_free(&out);
}

/* A lone pair of equal pages saves half a page each: still worth 2 rmap_items
 * and a VMA? 2 * 2048 - 128 - 256 > 0, yes. A page whose content is held
 * twice, alone in its VMA: 2048 - 64 - 256 > 0, kept; nothing duplicate: no
 * plan at all. */
static void test_profit(void **state)
{
	struct rangeplan_page *p = pages(8, NULL);
	struct vma_list out = { 0 };
	struct rangeplan_stats st;

	(void)state;
	assert_int_equal(rangeplan_plan(p, 8, PS, RANGEPLAN_MAX_RANGES, &out, &st), 0);
	assert_int_equal(out.n, 0);
	assert_int_equal(st.net_bytes, 0);
	p[3].group = 2;
	assert_int_equal(rangeplan_plan(p, 8, PS, RANGEPLAN_MAX_RANGES, &out, &st), 0);
	assert_int_equal(out.n, 1);
	assert_int_equal(st.net_bytes, PS / 2 - 64 - RANGEPLAN_VMA_BYTES);
	vmas_free(&out);
	free(p);
}

/* A run whose gap joining made it lose is left out: 1 duplicate among
 * unique pages joined by a wide gap is not worth it. With at most 4 ranges,
 * 10 scattered duplicates become at most 4 ranges. */
static void test_cap(void **state)
{
	size_t n = 1000;
	struct rangeplan_page *p = pages(n, scattered);
	struct vma_list out = { 0 };
	struct rangeplan_stats st;

	(void)state;
	assert_int_equal(rangeplan_plan(p, n, PS, RANGEPLAN_MAX_RANGES, &out, &st), 0);
	assert_int_equal(out.n, 10);
	assert_int_equal(st.planned_pages, 10);
	assert_int_equal(rangeplan_plan(p, n, PS, 4, &out, &st), 0);
	assert_true(out.n <= 4);
	assert_true(st.net_bytes > 0);
	for (size_t i = 1; i < out.n; i++)
		assert_true(out.v[i - 1].end <= out.v[i].start);
	vmas_free(&out);
	free(p);
}

/* Group sizes come in page order, not the report's hash order. */
static void test_group_sizes(void **state)
{
	struct census c;
	unsigned char a[PS], b[PS];
	uint32_t m[4];

	(void)state;
	memset(a, 0xff, PS);
	memset(b, 0x11, PS);
	census_init(&c, 1, PS);
	census_keep_addresses(&c);
	assert_int_equal(census_begin_vma(&c, 1, BASE, BASE + 4 * PS), 0);
	assert_int_equal(census_add_page(&c, BASE, b), 0);
	assert_int_equal(census_add_page(&c, BASE + PS, a), 0);
	assert_int_equal(census_add_page(&c, BASE + 2 * PS, a), 0);
	assert_int_equal(census_begin_vma(&c, 2, BASE, BASE + 4 * PS), 0);
	assert_int_equal(census_add_page(&c, BASE + 3 * PS, a), 0);
	assert_int_equal(census_group_sizes(&c, m), 0);
	assert_int_equal(m[0], 1);
	assert_int_equal(m[1], 3);
	assert_int_equal(m[2], 3);
	assert_int_equal(m[3], 3);
	assert_true(c.addr[0] == BASE && c.addr[3] == BASE + 3 * PS);
	census_free(&c);
}

static const char *write_conf(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/test_rangeplan.%d.%s", (int)getpid(), name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_config(void **state)
{
	struct config c;
	char err[512];
	const char *p;

	(void)state;
	config_init(&c);
	assert_true(c.policy_census);           /* the default: README, "Enrolling only what pays" */
	assert_int_equal(c.census_interval_sec, 300);
	p = write_conf("a.conf", "[ksmplusd]\npolicy = whole\npolicy = census\ncensus_interval_sec = 30\n"
		       "[app gimp]\npolicy = whole\n[app evince]\npolicy = census\n");
	assert_int_equal(config_parse_file(p, &c, err, sizeof(err)), 0);
	unlink(p);
	assert_true(c.policy_census);
	assert_int_equal(c.census_interval_sec, 30);
	assert_false(rangeplan_app_census(&c, "gimp"));
	assert_true(rangeplan_app_census(&c, "evince"));
	assert_true(rangeplan_app_census(&c, "other"));
	config_free(&c);

	config_init(&c);
	p = write_conf("b.conf", "[app gimp]\npolicy = census\npolicy = whole\n");
	assert_int_equal(config_parse_file(p, &c, err, sizeof(err)), 0);
	unlink(p);
	assert_false(rangeplan_app_census(&c, "gimp"));  /* the last line wins */
	assert_true(rangeplan_app_census(&c, "other"));  /* the default */
	config_free(&c);

	config_init(&c);
	p = write_conf("e.conf", "[ksmplusd]\npolicy = whole\n");
	assert_int_equal(config_parse_file(p, &c, err, sizeof(err)), 0);
	unlink(p);
	assert_false(rangeplan_app_census(&c, "other"));
	config_free(&c);

	config_init(&c);
	p = write_conf("c.conf", "[ksmplusd]\npolicy = ranges\n");
	assert_int_equal(config_parse_file(p, &c, err, sizeof(err)), -1);
	unlink(p);
	assert_non_null(strstr(err, "c.conf:2: invalid value 'ranges' for policy (expected whole or census)"));
	config_free(&c);

	config_init(&c);
	p = write_conf("d.conf", "[ksmplusd]\ncensus_interval_sec = 0\n");
	assert_int_equal(config_parse_file(p, &c, err, sizeof(err)), -1);
	unlink(p);
	assert_non_null(strstr(err, "d.conf:2: invalid value '0' for census_interval_sec"));
	config_free(&c);
}

/* A census that cannot read a process falls back to whole enrollment for
 * the process's own failures; the daemon's (memory, its size cap), a
 * cancel and an exit are not the process's. */
static void test_falls_back(void **state)
{
	(void)state;
	assert_true(rangeplan_falls_back(-EACCES));
	assert_true(rangeplan_falls_back(-EPERM));
	assert_true(rangeplan_falls_back(-EIO));
	assert_true(rangeplan_falls_back(-EFAULT));
	assert_false(rangeplan_falls_back(0));
	assert_false(rangeplan_falls_back(-ESRCH));
	assert_false(rangeplan_falls_back(-ENOSYS));
	assert_false(rangeplan_falls_back(-ENOMEM));
	assert_false(rangeplan_falls_back(-E2BIG));
	assert_false(rangeplan_falls_back(-ECANCELED));
}

/* The test hook's verdict for pid from path's file as it is now: what a
 * census starting now would see. */
static int fault_now(const char *path, int pid)
{
	struct rangeplan_faults f;
	int rc;

	assert_int_equal(rangeplan_faults_load(&f, path), 0);
	rc = rangeplan_fault_of(&f, pid);
	rangeplan_faults_free(&f);
	return rc;
}

/* KSMPLUS_CENSUS_FAIL's file: "PID ERRNO" lines; a missing file, an
 * unlisted PID, a non-positive errno or garbage make no failure. */
static void test_fault_hook(void **state)
{
	char path[] = "/tmp/test_rangeplan.XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fprintf(f, "100 13\n200 5\n300 0\n");
	fclose(f);
	assert_int_equal(fault_now(path, 100), -EACCES);
	assert_int_equal(fault_now(path, 200), -EIO);
	assert_int_equal(fault_now(path, 300), 0);
	assert_int_equal(fault_now(path, 10), 0);
	assert_int_equal(fault_now(NULL, 100), 0);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "garbage\n100 13\n");
	fclose(f);
	assert_int_equal(fault_now(path, 100), 0);     /* stops at garbage */
	unlink(path);
	assert_int_equal(fault_now(path, 100), 0);
}

/* A census reads the hook's file once, at its start (job_census loads it,
 * census_proc only looks up): what the file says later, or its removal,
 * changes nothing for the processes of a census already running. */
static void test_fault_hook_once(void **state)
{
	char path[] = "/tmp/test_rangeplan.XXXXXX";
	int fd = mkstemp(path);
	struct rangeplan_faults faults;
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fprintf(f, "100 13\n");
	fclose(f);
	assert_int_equal(rangeplan_faults_load(&faults, path), 0);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "200 5\n");
	fclose(f);
	assert_int_equal(rangeplan_fault_of(&faults, 100), -EACCES);
	assert_int_equal(rangeplan_fault_of(&faults, 200), 0);
	unlink(path);
	assert_int_equal(rangeplan_fault_of(&faults, 100), -EACCES);
	rangeplan_faults_free(&faults);
	assert_int_equal(faults.n, 0);
	assert_int_equal(rangeplan_fault_of(&faults, 100), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_low_density),
		cmocka_unit_test(test_gaps),
		cmocka_unit_test(test_holes_and_vmas),
		cmocka_unit_test(test_profit),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_group_sizes),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_falls_back),
		cmocka_unit_test(test_fault_hook),
		cmocka_unit_test(test_fault_hook_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
