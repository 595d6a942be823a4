/* test_ctl_wait.c — ksmplusctl add --wait's test of "merged" (ctl_wait.c),
 * driven by status replies as the daemon sends them: two quiet full scans
 * with smart_scan off, ten with it on (88-addwait pins smart_scan = 0, so
 * only this test runs the smart_scan branch). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "control.h"
#include "ctl_wait.h"
#include "protocol.h"

static void add_rec(struct control_reply *r, const char *line)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 4;
		r->rec = realloc(r->rec, r->cap * sizeof(*r->rec));
		assert_non_null(r->rec);
	}
	if (proto_decode(line, strlen(line), &r->rec[r->n]) != 0)
		fail_msg("bad test record: %s", line);
	r->n++;
}

/* A status reply at ksmd's full scan `scans`, app gimp merging `kib`;
 * smart is the global record's smart_scan field ("" leaves it out). */
static void reply(struct control_reply *r, long long scans, long long kib, const char *smart)
{
	char line[256];

	memset(r, 0, sizeof(*r));
	add_rec(r, "ok=1");
	snprintf(line, sizeof(line), "type=global\trun=1\tpaused=0\tfull_scans=%lld%s%s", scans,
		 smart[0] ? "\tsmart_scan=" : "", smart);
	add_rec(r, line);
	snprintf(line, sizeof(line), "type=app\tname=gimp\tprocs=2\tenrolled_kib=32768\t"
		 "merging_kib=%lld\tsaved_kib=16000", kib);
	add_rec(r, line);
}

static void test_app_now(void **state)
{
	struct control_reply r;
	struct ctl_app_now a;

	(void)state;
	reply(&r, 7, 1024, "1");
	assert_int_equal(ctl_app_now(&r, "gimp", &a), 0);
	assert_int_equal(a.full_scans, 7);
	assert_int_equal(a.merging_kib, 1024);
	assert_int_equal(a.enrolled_kib, 32768);
	assert_int_equal(a.saved_kib, 16000);
	assert_int_equal(a.procs, 2);
	assert_int_equal(a.run, 1);
	assert_int_equal(a.smart_scan, 1);
	assert_false(a.paused);
	assert_int_equal(ctl_app_now(&r, "evince", &a), -1);
	control_reply_free(&r);
	reply(&r, 7, 1024, "");         /* a kernel before 6.7: no smart_scan */
	assert_int_equal(ctl_app_now(&r, "gimp", &a), 0);
	assert_int_equal(a.smart_scan, -1);
	control_reply_free(&r);
}

static void test_quiet_scans(void **state)
{
	(void)state;
	assert_int_equal(ctl_wait_quiet_scans(1), 10);
	assert_int_equal(ctl_wait_quiet_scans(0), 2);
	assert_int_equal(ctl_wait_quiet_scans(-1), 2);
}

/* The full scan at which the wait says merged: the app merges 1 MiB more
 * at each of scans 100..103 (the wait begins at 100), then nothing; one
 * reply per scan. */
static long long merged_at(const char *smart)
{
	struct ctl_wait w;

	ctl_wait_init(&w);
	for (long long scan = 100; scan < 200; scan++) {
		struct control_reply r;
		struct ctl_app_now a;
		bool merged;

		reply(&r, scan, 1024 * ((scan < 103 ? scan : 103) - 99), smart);
		assert_int_equal(ctl_app_now(&r, "gimp", &a), 0);
		control_reply_free(&r);
		merged = ctl_wait_merged(&w, &a);
		assert_int_equal(w.scans0, 100);
		if (merged)
			return scan;
	}
	fail_msg("never merged");
	return -1;
}

/* smart_scan on: an unmerged page is compared once in up to nine scans, so
 * ten quiet scans after the last growth (103), not two. */
static void test_wait_smart(void **state)
{
	(void)state;
	assert_int_equal(merged_at("1"), 113);
}

static void test_wait_plain(void **state)
{
	(void)state;
	assert_int_equal(merged_at("0"), 105);
	assert_int_equal(merged_at(""), 105);
}

/* Quiet from the start still waits the quiet scans from the wait's start:
 * the first reply's scan may be the one that saw the pages unchanged. */
static void test_wait_from_start(void **state)
{
	struct ctl_wait w;
	struct ctl_app_now a = { .merging_kib = 0, .smart_scan = 1, .full_scans = 50 };

	(void)state;
	ctl_wait_init(&w);
	for (; a.full_scans < 60; a.full_scans++)
		assert_false(ctl_wait_merged(&w, &a));
	assert_true(ctl_wait_merged(&w, &a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_app_now),
		cmocka_unit_test(test_quiet_scans),
		cmocka_unit_test(test_wait_smart),
		cmocka_unit_test(test_wait_plain),
		cmocka_unit_test(test_wait_from_start),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
