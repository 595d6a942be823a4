/* test_members.c — fork events: a child is tracked (as inherited) only if
 * it really is the child of the tracked, verified parent; a late event whose
 * PID now names another process is ignored. And the max_processes cap. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon.h"

static struct daemon d;

static int setup(void **state)
{
	struct pidref self;
	struct tracked *t;

	(void)state;
	memset(&d, 0, sizeof(d));
	config_init(&d.cfg);
	d.self = -1;            /* the test process plays an enrolled app */
	assert_int_equal(pidref_open(&self, getpid(), 0), 0);
	t = tracker_add(&d.tr, &self, "app", "parent");
	assert_non_null(t);
	t->state = TRACKED_ENROLLED;
	t->mode = ENROLL_WHOLE;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tracker_clear(&d.tr);
	config_free(&d.cfg);
	return 0;
}

/* A child that sleeps until killed; with grandchild, it first forks one
 * (which sleeps too) and writes its PID to fd. */
static pid_t spawn(int fd)
{
	pid_t p = fork();

	assert_true(p >= 0);
	if (p == 0) {
		/* A failed assertion skips the kills: die with the test. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			pid_t g = fork();

			if (g == 0 && prctl(PR_SET_PDEATHSIG, SIGKILL) == 0)
				for (;;)
					pause();
			if (write(fd, &g, sizeof(g)) != sizeof(g))
				_exit(1);
		}
		for (;;)
			pause();
	}
	return p;
}

static void fork_event(pid_t parent, pid_t child)
{
	struct procwatch_info info;

	memset(&info, 0, sizeof(info));
	info.pid = child;
	info.parent_pid = parent;
	members_on_procwatch(PW_FORK, &info, &d);
}

static void reap(pid_t p)
{
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
}

static void test_fork_child_tracked(void **state)
{
	pid_t c = spawn(-1);
	struct tracked *t;

	(void)state;
	fork_event(getpid(), c);
	t = tracker_find(&d.tr, c);
	assert_non_null(t);
	assert_true(t->inherited);
	assert_int_equal(t->state, TRACKED_ENROLLED);
	assert_string_equal(t->comm, "parent");
	assert_int_equal(t->advised.n, 0);      /* whole process: no range list */
	reap(c);
}

/* The event says "getpid() forked G", but G is the child of another
 * process (what a reused PID looks like): it must not be tracked, let alone
 * treated as enrolled. */
static void test_stale_fork_ignored(void **state)
{
	int fds[2];
	pid_t c, g = 0;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	c = spawn(fds[1]);
	assert_int_equal(read(fds[0], &g, sizeof(g)), sizeof(g));
	close(fds[0]);
	close(fds[1]);
	fork_event(getpid(), g);
	assert_null(tracker_find(&d.tr, g));
	kill(g, SIGKILL);
	reap(c);
}

/* A fork event from a parent that is gone (its entry stale): ignored. */
static void test_fork_from_dead_parent_ignored(void **state)
{
	pid_t p = spawn(-1), c = spawn(-1);
	struct pidref ref;
	struct tracked *t;

	(void)state;
	assert_int_equal(pidref_open(&ref, p, 0), 0);
	t = tracker_add(&d.tr, &ref, "app", "dead");
	assert_non_null(t);
	t->state = TRACKED_ENROLLED;
	reap(p);
	fork_event(p, c);
	assert_null(tracker_find(&d.tr, c));
	reap(c);
}

static void test_cap(void **state)
{
	pid_t c1 = spawn(-1), c2 = spawn(-1);

	(void)state;
	d.cfg.max_processes = 2;        /* the parent and one child */
	fork_event(getpid(), c1);
	fork_event(getpid(), c2);
	assert_non_null(tracker_find(&d.tr, c1));
	assert_null(tracker_find(&d.tr, c2));
	assert_true(d.tr.at_cap);
	assert_int_equal(d.tr.refused, 1);
	reap(c1);
	reap(c2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fork_child_tracked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_fork_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_from_dead_parent_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
