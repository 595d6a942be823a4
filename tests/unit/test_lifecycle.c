/* test_lifecycle.c — lifecycle_forget_app(), what `remove --unmerge` and
 * `unmerge --all` do: the undos a command finishes are counted apart from
 * those it hands to the retry timer (its time budget spent, or an undo over
 * its own deadline), which still merge until the timer gets to them.
 *
 * The deadline is the seam: 0 (or any time past) hands every undo to the
 * background, whatever the machine's load, so the split is exact. Processes that do not exist
 * (a PID above pid_max, no pidfd) are "gone" to an undo, which counts as
 * done: nothing of them is left merging. The live test enrolls two real
 * processes with the ptrace backend and needs root (skips loudly else). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <valgrind/valgrind.h>

#include "daemon.h"
#include "test_enroll_target.h"

#ifndef PR_GET_MEMORY_MERGE
#define PR_GET_MEMORY_MERGE 68
#endif

/* Above any pid_max (4194304 at most): never a process. */
#define NO_SUCH_PID 0x7fff0000

static struct daemon d;

static int setup(void **state)
{
	(void)state;
	memset(&d, 0, sizeof(d));
	d.enr.backend = ENROLL_NONE;    /* gone processes never reach a backend */
	return 0;
}

/* Drains what a test left in the background (each a gone process, or a
 * live one the retry undoes), so the next test starts with none. */
static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 100 && lifecycle_undos_pending(); i++)
		lifecycle_on_retry(NULL, UINT64_MAX, &d);
	tracker_clear(&d.tr);
	return 0;
}

static void add_gone(const char *app, int i, enum tracked_state state)
{
	struct pidref ref = { NO_SUCH_PID + i, -1, 7 };
	struct tracked *t = tracker_add(&d.tr, &ref, app, "gimp");

	assert_non_null(t);
	t->state = state;
	t->mode = ENROLL_WHOLE;
}

/* gimp: three enrolled, one skipped (nothing to undo); evince stays. */
static void add_sample(void)
{
	add_gone("gimp", 0, TRACKED_ENROLLED);
	add_gone("evince", 1, TRACKED_ENROLLED);
	add_gone("gimp", 2, TRACKED_SKIPPED);
	add_gone("gimp", 3, TRACKED_ENROLLED);
	add_gone("gimp", 4, TRACKED_ENROLLED);
}

/* Time enough: every undo is done in the command, none left behind. */
static void test_in_time(void **state)
{
	(void)state;
	add_sample();
	struct forget_result fr = lifecycle_forget_app(&d, "gimp", true, UINT64_MAX);

	assert_int_equal(fr.unmerged, 3);
	assert_int_equal(fr.pending, 0);
	assert_int_equal(lifecycle_undos_pending(), 0);
	assert_int_equal(d.tr.n, 1);
	assert_string_equal(d.tr.v[0].app, "evince");
}

/* The command's time is up before the first undo: all three go on in the
 * background, and none of them is called unmerged. The retry timer then
 * finishes them. */
static void test_budget_spent(void **state)
{
	(void)state;
	add_sample();
	struct forget_result fr = lifecycle_forget_app(&d, "gimp", true, 0);

	assert_int_equal(fr.unmerged, 0);
	assert_int_equal(fr.pending, 3);
	assert_int_equal(lifecycle_undos_pending(), 3);
	assert_int_equal(d.tr.n, 1);
	lifecycle_on_retry(NULL, UINT64_MAX, &d);
	assert_int_equal(lifecycle_undos_pending(), 0);
}

/* The deadline is a time, not a length: `unmerge --all` gives all its apps
 * one. An app whose turn comes after it has passed hands all its undos to
 * the background (before, each app had its own 400 ms: many apps held the
 * loop for many times that). */
static void test_shared_deadline_passed(void **state)
{
	(void)state;
	add_sample();
	uint64_t deadline = lifecycle_deadline();
	struct forget_result first = lifecycle_forget_app(&d, "evince", true, deadline);

	assert_int_equal(first.unmerged, 1);
	/* the first app's undos took all the time (here: a deadline 1 ms past) */
	deadline -= LIFECYCLE_BATCH_USEC + 1000;
	struct forget_result fr = lifecycle_forget_app(&d, "gimp", true, deadline);

	assert_int_equal(fr.unmerged, 0);
	assert_int_equal(fr.pending, 3);
	assert_int_equal(d.tr.n, 0);
}

/* Without --unmerge nothing is undone, now or later. */
static void test_no_unmerge(void **state)
{
	(void)state;
	add_sample();
	struct forget_result fr = lifecycle_forget_app(&d, "gimp", false, 0);

	assert_int_equal(fr.unmerged, 0);
	assert_int_equal(fr.pending, 0);
	assert_int_equal(lifecycle_undos_pending(), 0);
	assert_int_equal(d.tr.n, 1);
}

/* The background queue holds 64: an undo it cannot take is given up on
 * (logged), so it is neither unmerged nor pending. */
static void test_queue_full(void **state)
{
	(void)state;
	for (int i = 0; i < 70; i++)
		add_gone("gimp", i, TRACKED_ENROLLED);
	struct forget_result fr = lifecycle_forget_app(&d, "gimp", true, 0);

	assert_int_equal(fr.unmerged, 0);
	assert_int_equal(fr.pending, 64);
	assert_int_equal(lifecycle_undos_pending(), 64);
	assert_int_equal(d.tr.n, 0);
}

/* ---- live: pending processes still merge until the retry timer undoes them */

/* build/tests/checksum_loop 1 idle: says ready, waits for EOF on stdin,
 * then checks its memory (exit 0: no injection disturbed it). The plain
 * build's, from build-asan too: an ASan target's terabytes of shadow would
 * take minutes to unmerge. */
static void run_idle_target(void *arg)
{
	char dir[PATH_MAX - 32], path[PATH_MAX];
	char *argv[] = { (char *)"checksum_loop", (char *)"1", (char *)"idle", NULL };
	char *asan;

	(void)arg;
	self_dir(dir, sizeof(dir));
	asan = strstr(dir, "build-asan");
	if (asan) {
		snprintf(path, sizeof(path), "%.*sbuild%s/checksum_loop", (int)(asan - dir), dir,
			 asan + strlen("build-asan"));
		execv(path, argv);
	}
	snprintf(path, sizeof(path), "%s/checksum_loop", dir);
	execv(path, argv);
	fprintf(stderr, "cannot run %s: %s (make build/tests/checksum_loop)\n", path,
		strerror(errno));
	_exit(2);
}

static struct target live[2];
static int n_live;

static int live_teardown(void **state)
{
	teardown(state);
	for (int i = 0; i < n_live; i++)
		target_kill(&live[i]);
	n_live = 0;
	ptrace_reap_pending();
	return 0;
}

/* Enrolls as the daemon does, a "later" (a loaded machine) tried again. */
static void enroll_live(struct target *t)
{
	struct enroll_result res = { 0 };
	struct vma_list ranges = { 0 };
	struct pidref ref;
	struct tracked *tr;
	int rc = -1;

	assert_int_equal(vmas_read(t->pid, &ranges), 0);
	for (int i = 0; i < 50 && rc < 0; i++) {
		rc = enroll_process(&d.enr, &t->ref, &ranges, &res);
		if (rc < 0 && res.err != -EAGAIN)
			fail_msg("enrolling %d: %s", (int)t->pid, res.reason);
	}
	vmas_free(&ranges);
	assert_int_equal(rc, 0);
	assert_int_equal(ksm_stat_yes(t->pid, "ksm_merge_any"), 1);
	assert_int_equal(pidref_open(&ref, t->pid, t->ref.start_time), 0);
	tr = tracker_add(&d.tr, &ref, "ksmplive", "checksum_loop");
	assert_non_null(tr);
	tr->state = TRACKED_ENROLLED;
	tr->mode = res.mode;
}

static void test_live_background(void **state)
{
	char why[256];

	(void)state;
	if (geteuid() != 0 || RUNNING_ON_VALGRIND) {
		fprintf(stderr, "SKIPPED %s: needs root (ptrace) and no valgrind (pidfds)\n",
			__func__);
		skip();
	}
	if (ptrace_probe(why, sizeof(why)) != 1 || prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) < 0) {
		fprintf(stderr, "SKIPPED %s: no ptrace backend or no PR_SET_MEMORY_MERGE: %s\n",
			__func__, why);
		skip();
	}
	d.enr = (struct enroller){ .backend = ENROLL_PTRACE, .has_prctl_merge = true };
	for (n_live = 0; n_live < 2; n_live++) {
		assert_int_equal(target_start(&live[n_live], run_idle_target, NULL), 0);
		enroll_live(&live[n_live]);
	}
	struct forget_result fr = lifecycle_forget_app(&d, "ksmplive", true, 0);

	assert_int_equal(fr.unmerged, 0);
	assert_int_equal(fr.pending, 2);
	/* Not undone yet: "unmerged" would have been a lie. */
	for (int i = 0; i < 2; i++)
		assert_int_equal(ksm_stat_yes(live[i].pid, "ksm_merge_any"), 1);
	/* Each retry is one attempt per undo; a loaded machine may need more. */
	for (int i = 0; i < 50 && lifecycle_undos_pending(); i++)
		lifecycle_on_retry(NULL, UINT64_MAX, &d);
	assert_int_equal(lifecycle_undos_pending(), 0);
	for (int i = 0; i < 2; i++)
		if (ksm_stat_yes(live[i].pid, "ksm_merge_any") != 0)
			fail_msg("%d still merges after the background undo", (int)live[i].pid);
	while (n_live > 0) {
		int st = -1;

		assert_int_equal(target_stop(&live[--n_live], &st, 20000), 0);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_in_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget_spent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_deadline_passed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_unmerge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_background, setup, live_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
