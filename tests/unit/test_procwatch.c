/* test_procwatch.c — procwatch against real processes: identify, the first
 * sweep, connector events (exec, comm, fork, exit; root only), the overrun
 * sweep and the fallback periodic sweep. Children run a copy of /bin/sleep
 * under a unique name, so other processes on the machine can't be confused
 * with them; every child is killed and reaped after each test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procwatch.h"

#define WAIT_MS 5000

struct rec {
	enum procwatch_event ev;
	struct procwatch_info info;
};

static struct {
	struct rec *v;
	size_t n, cap;
} recs;

static sd_event *loop;
static struct procwatch *pw;
static char tmpdir[256];
static pid_t children[256];
static size_t nchildren;
static int name_counter;

static void record(enum procwatch_event ev, const struct procwatch_info *info, void *userdata)
{
	(void)userdata;
	assert_non_null(info);
	if (recs.n == recs.cap) {
		recs.cap = recs.cap ? recs.cap * 2 : 1024;
		recs.v = realloc(recs.v, recs.cap * sizeof(*recs.v));
		assert_non_null(recs.v);
	}
	recs.v[recs.n].ev = ev;
	recs.v[recs.n].info = *info;
	recs.n++;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pump(long ms)
{
	long end = now_ms() + ms;
	while (now_ms() < end)
		assert_true(sd_event_run(loop, 20 * 1000) >= 0);
}

/* Index of the first record from `from` with event ev for pid (and comm, if
 * given), or -1. */
static long find_rec(size_t from, enum procwatch_event ev, pid_t pid, const char *comm)
{
	for (size_t i = from; i < recs.n; i++) {
		if (recs.v[i].ev != ev)
			continue;
		if (ev != PW_SWEEP_DONE && recs.v[i].info.pid != pid)
			continue;
		if (comm && strcmp(recs.v[i].info.comm, comm) != 0)
			continue;
		return (long)i;
	}
	return -1;
}

/* Runs the loop until a matching record shows up; its index or -1. */
static long wait_rec(size_t from, enum procwatch_event ev, pid_t pid, const char *comm, long ms)
{
	long end = now_ms() + ms;
	for (;;) {
		long i = find_rec(from, ev, pid, comm);
		if (i >= 0 || now_ms() >= end)
			return i;
		assert_true(sd_event_run(loop, 20 * 1000) >= 0);
	}
}

static size_t count_rec(size_t from, enum procwatch_event ev)
{
	size_t c = 0;
	for (size_t i = from; i < recs.n; i++)
		c += recs.v[i].ev == ev;
	return c;
}

static unsigned long long stat_start_time(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	char *p = strrchr(buf, ')');
	assert_non_null(p);
	unsigned long long st = 0;
	/* after ") ": fields 3..22; starttime is the 20th of those */
	int n = sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
			      "%*d %*d %llu", &st);
	assert_int_equal(n, 1);
	return st;
}

/* What the test process is called: test_procwatch, or valgrind's name. */
static const char *self_comm(void)
{
	static char comm[16];
	FILE *f = fopen("/proc/self/comm", "r");
	assert_non_null(f);
	assert_non_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	return comm;
}

/* (valgrind fakes /proc/self/exe, not /proc/PID/exe: use the pid) */
static const char *exe_base_of(pid_t pid)
{
	static char target[PATH_MAX];
	char link[64];
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	return strrchr(target, '/') + 1;
}

static char stat_state(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return '?';
	char *ok = fgets(buf, sizeof(buf), f);
	fclose(f);
	char *p = ok ? strrchr(buf, ')') : NULL;
	return p ? p[2] : '?';
}

/* A copy of /bin/sleep named uniquely (<= 15 chars, so comm == name). */
static void make_exe(char *name, size_t namesz, char *path, size_t pathsz)
{
	snprintf(name, namesz, "pw%d_%d", (int)(getpid() % 100000), name_counter++);
	snprintf(path, pathsz, "%s/%s", tmpdir, name);
	int in = open("/bin/sleep", O_RDONLY | O_CLOEXEC);
	assert_true(in >= 0);
	int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	assert_true(out >= 0);
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(in);
	close(out);
}

static void track_child(pid_t pid)
{
	assert_true(pid > 0);
	assert_true(nchildren < sizeof(children) / sizeof(children[0]));
	children[nchildren++] = pid;
}

static pid_t spawn_exe(const char *path, const char *name)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);       /* even if the test aborts */
		execl(path, name, "1000", (char *)NULL);
		_exit(127);
	}
	track_child(pid);
	return pid;
}

/* Waits until pid runs the exe called name. */
static void wait_exec(pid_t pid, const char *name)
{
	char link[64], target[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	long end = now_ms() + WAIT_MS;
	while (now_ms() < end) {
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			const char *base = strrchr(target, '/');
			if (base && strncmp(base + 1, name, strlen(name)) == 0)
				return;
		}
		usleep(2000);
	}
	fail_msg("child %d never ran %s", (int)pid, name);
}

static void kill_children(void)
{
	for (size_t i = 0; i < nchildren; i++) {
		kill(children[i], SIGKILL);
		waitpid(children[i], NULL, 0);
	}
	nchildren = 0;
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_procwatch.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		return -1;
	free(recs.v);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	recs.n = 0;
	unsetenv("KSMPLUS_NO_CONNECTOR");
	unsetenv("KSMPLUS_PW_RCVBUF");
	return sd_event_new(&loop) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	kill_children();
	procwatch_stop(pw);
	pw = NULL;
	loop = sd_event_unref(loop);
	unsetenv("KSMPLUS_NO_CONNECTOR");
	unsetenv("KSMPLUS_PW_RCVBUF");
	return 0;
}

/* Starts procwatch; skips the test (loudly) without the connector. */
static void start_with_connector(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: test_procwatch: connector tests need root\n");
		skip();
	}
	assert_int_equal(procwatch_start(loop, record, NULL, 1, &pw), 0);
	if (!procwatch_has_connector(pw)) {
		fprintf(stderr, "SKIP: test_procwatch: proc connector unavailable even as root\n");
		skip();
	}
}

static void assert_seen_child(long i, pid_t pid, const char *name)
{
	assert_true(i >= 0);
	const struct procwatch_info *in = &recs.v[i].info;
	assert_int_equal(in->pid, pid);
	assert_string_equal(in->comm, name);
	assert_string_equal(in->exe_base, name);
	assert_true(in->start_time == stat_start_time(pid));
}

/* ---- identify ---- */

static void test_identify_self(void **state)
{
	(void)state;
	struct procwatch_info in;
	assert_int_equal(procwatch_identify(getpid(), &in), 0);
	assert_int_equal(in.pid, getpid());
	assert_string_equal(in.comm, self_comm());
	assert_string_equal(in.exe_base, exe_base_of(getpid()));
	assert_true(in.start_time == stat_start_time(getpid()));
}

static void test_identify_gone(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	/* a zombie first: not reported as a live process */
	long end = now_ms() + WAIT_MS;
	while (stat_state(pid) != 'Z' && now_ms() < end)
		usleep(1000);
	struct procwatch_info in;
	int r = procwatch_identify(pid, &in);
	assert_true(r == -ESRCH || r == -ENOENT);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	r = procwatch_identify(pid, &in);
	assert_true(r == -ENOENT || r == -ESRCH);
}

static void test_identify_kthread(void **state)
{
	(void)state;
	struct procwatch_info in;
	if (procwatch_identify(2, &in) != 0 || strcmp(in.comm, "kthreadd") != 0) {
		fprintf(stderr, "SKIP: test_procwatch: no kthreadd at pid 2 (pid namespace?)\n");
		skip();
	}
	assert_string_equal(in.exe_base, "");
}

static void test_identify_comm_and_deleted_exe(void **state)
{
	(void)state;
	char name[16], path[PATH_MAX];
	make_exe(name, sizeof(name), path, sizeof(path));
	pid_t pid = spawn_exe(path, name);
	wait_exec(pid, name);
	assert_int_equal(unlink(path), 0);

	struct procwatch_info in;
	assert_int_equal(procwatch_identify(pid, &in), 0);
	assert_string_equal(in.exe_base, name);     /* " (deleted)" stripped */
	assert_string_equal(in.comm, name);

	/* the sweep strips it too */
	setenv("KSMPLUS_NO_CONNECTOR", "1", 1);
	assert_int_equal(procwatch_start(loop, record, NULL, 60, &pw), 0);
	long i = find_rec(0, PW_SEEN, pid, NULL);
	assert_seen_child(i, pid, name);
}

/* ---- the first sweep ---- */

static void test_initial_sweep(void **state)
{
	(void)state;
	char name[16], path[PATH_MAX];
	make_exe(name, sizeof(name), path, sizeof(path));
	pid_t pid = spawn_exe(path, name);
	wait_exec(pid, name);

	assert_int_equal(procwatch_start(loop, record, NULL, 60, &pw), 0);
	/* everything arrived before procwatch_start returned */
	long done = find_rec(0, PW_SWEEP_DONE, 0, NULL);
	assert_true(done >= 0);
	assert_int_equal(count_rec(0, PW_SWEEP_DONE), 1);

	long self = find_rec(0, PW_SEEN, getpid(), NULL);
	assert_true(self >= 0 && self < done);
	assert_string_equal(recs.v[self].info.comm, self_comm());
	assert_string_equal(recs.v[self].info.exe_base, exe_base_of(getpid()));
	assert_true(recs.v[self].info.start_time == stat_start_time(getpid()));

	long child = find_rec(0, PW_SEEN, pid, NULL);
	assert_true(child >= 0 && child < done);
	assert_seen_child(child, pid, name);

	/* no kernel threads, no zombies, each process once */
	assert_int_equal(find_rec(0, PW_SEEN, 2, NULL), -1);
	for (long i = 0; i < done; i++) {
		assert_int_equal(recs.v[i].ev, PW_SEEN);
		assert_true(recs.v[i].info.pid > 0);
		long again = find_rec((size_t)i + 1, PW_SEEN, recs.v[i].info.pid, NULL);
		assert_true(again == -1 || again > done);
	}

	/* a sweep on demand reports it again */
	size_t mark = recs.n;
	assert_int_equal(procwatch_sweep(pw), 0);
	assert_true(find_rec(mark, PW_SEEN, pid, name) >= 0);
	assert_int_equal(count_rec(mark, PW_SWEEP_DONE), 1);
}

/* ---- procwatch_each: the one-shot walk (analysis.c's, in its thread) ---- */

static int each_record(const struct procwatch_info *info, void *ud)
{
	size_t *stop_after = ud;

	record(PW_SEEN, info, NULL);
	return *stop_after && recs.n >= *stop_after ? -EINTR : 0;
}

struct each_call {
	size_t stop_after;
	int rc;
};

static void *each_thread(void *arg)
{
	struct each_call *c = arg;

	c->rc = procwatch_each(each_record, &c->stop_after);
	return NULL;
}

static void test_each(void **state)
{
	(void)state;
	char name[16], path[PATH_MAX];
	make_exe(name, sizeof(name), path, sizeof(path));
	pid_t pid = spawn_exe(path, name);
	wait_exec(pid, name);

	/* from another thread, as the census worker calls it */
	struct each_call c = { 0, -1 };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, each_thread, &c), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(c.rc, 0);
	assert_seen_child(find_rec(0, PW_SEEN, pid, NULL), pid, name);
	long self = find_rec(0, PW_SEEN, getpid(), NULL);
	assert_true(self >= 0);
	assert_string_equal(recs.v[self].info.exe_base, exe_base_of(getpid()));
	/* no kernel thread, each process once */
	assert_int_equal(find_rec(0, PW_SEEN, 2, NULL), -1);
	for (size_t i = 0; i < recs.n; i++)
		assert_int_equal(find_rec(i + 1, PW_SEEN, recs.v[i].info.pid, NULL), -1);
	assert_true(recs.n > 2);

	/* a visit's non-zero return stops the walk and is returned */
	recs.n = 0;
	c.stop_after = 2;
	assert_int_equal(procwatch_each(each_record, &c.stop_after), -EINTR);
	assert_int_equal(recs.n, 2);
}

/* ---- connector events ---- */

static void test_exec_and_fork_events(void **state)
{
	(void)state;
	start_with_connector();
	size_t mark = recs.n;

	char name[16], path[PATH_MAX];
	make_exe(name, sizeof(name), path, sizeof(path));
	pid_t pid = spawn_exe(path, name);

	long f = wait_rec(mark, PW_FORK, pid, NULL, WAIT_MS);
	assert_true(f >= 0);
	assert_int_equal(recs.v[f].info.parent_pid, getpid());

	long i = wait_rec(mark, PW_SEEN, pid, name, WAIT_MS);
	assert_seen_child(i, pid, name);
	assert_true(f < i);
	assert_int_equal(count_rec(mark, PW_SWEEP_DONE), 0);    /* events, not a sweep */
}

struct thread_arg {
	pid_t tid;
	const char *name;
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	a->tid = gettid();
	if (a->name)
		prctl(PR_SET_NAME, a->name, 0, 0, 0);
	return NULL;
}

static void test_comm_event(void **state)
{
	(void)state;
	start_with_connector();
	size_t mark = recs.n;

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* a thread renaming itself does not rename the process */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		struct thread_arg a = { 0, "pwt-thread" };
		pthread_t t;
		if (pthread_create(&t, NULL, thread_main, &a) != 0 || pthread_join(t, NULL) != 0)
			_exit(1);
		usleep(100 * 1000);
		prctl(PR_SET_NAME, "pwt-renamed", 0, 0, 0);
		for (;;)
			pause();
	}
	track_child(pid);

	long f = wait_rec(mark, PW_FORK, pid, NULL, WAIT_MS);
	assert_true(f >= 0);
	long i = wait_rec(mark, PW_SEEN, pid, "pwt-renamed", WAIT_MS);
	assert_true(i >= 0);
	assert_string_equal(recs.v[i].info.exe_base, exe_base_of(pid));
	assert_true(recs.v[i].info.start_time == stat_start_time(pid));
	/* the thread's rename was not reported as the process's */
	for (size_t k = mark; k < recs.n; k++)
		assert_string_not_equal(recs.v[k].info.comm, "pwt-thread");
}

static void test_threads_are_not_processes(void **state)
{
	(void)state;
	start_with_connector();
	size_t mark = recs.n;

	struct thread_arg a = { 0, NULL };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, thread_main, &a), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(a.tid > 0 && a.tid != getpid());
	/* a later process event proves the thread's events were handled */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_true(wait_rec(mark, PW_EXIT, pid, NULL, WAIT_MS) >= 0);

	assert_int_equal(find_rec(mark, PW_FORK, a.tid, NULL), -1);
	assert_int_equal(find_rec(mark, PW_EXIT, a.tid, NULL), -1);
	assert_int_equal(find_rec(mark, PW_SEEN, a.tid, NULL), -1);
	assert_true(find_rec(mark, PW_FORK, pid, NULL) >= 0);
}

static void test_exit_event(void **state)
{
	(void)state;
	start_with_connector();

	char name[16], path[PATH_MAX];
	make_exe(name, sizeof(name), path, sizeof(path));
	pid_t pid = spawn_exe(path, name);
	assert_true(wait_rec(0, PW_SEEN, pid, name, WAIT_MS) >= 0);

	size_t mark = recs.n;
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	nchildren--;    /* reaped */
	assert_true(wait_rec(mark, PW_EXIT, pid, NULL, WAIT_MS) >= 0);
	assert_int_equal(find_rec(mark, PW_SEEN, pid, NULL), -1);
}

/* A tiny receive buffer and a burst of processes while the loop is not
 * running: the socket overruns, and a sweep must find the survivor. */
static void test_overrun_sweeps(void **state)
{
	(void)state;
	setenv("KSMPLUS_PW_RCVBUF", "1", 1);   /* the kernel rounds up to its minimum */
	start_with_connector();
	size_t mark = recs.n;

	for (int k = 0; k < 200; k++) {
		pid_t p = fork();
		assert_true(p >= 0);
		if (p == 0)
			_exit(0);
		assert_int_equal(waitpid(p, NULL, 0), p);
	}
	char name[16], path[PATH_MAX];
	make_exe(name, sizeof(name), path, sizeof(path));
	pid_t pid = spawn_exe(path, name);
	wait_exec(pid, name);

	long i = wait_rec(mark, PW_SEEN, pid, name, WAIT_MS);
	assert_seen_child(i, pid, name);
	assert_true(count_rec(mark, PW_SWEEP_DONE) >= 1);
}

/* ---- without the connector ---- */

static void test_fallback_sweeps(void **state)
{
	(void)state;
	setenv("KSMPLUS_NO_CONNECTOR", "1", 1);
	assert_int_equal(procwatch_start(loop, record, NULL, 1, &pw), 0);
	assert_false(procwatch_has_connector(pw));
	assert_int_equal(count_rec(0, PW_SWEEP_DONE), 1);
	size_t mark = recs.n;

	char name[16], path[PATH_MAX];
	make_exe(name, sizeof(name), path, sizeof(path));
	pid_t pid = spawn_exe(path, name);
	wait_exec(pid, name);
	long t0 = now_ms();
	long i = wait_rec(mark, PW_SEEN, pid, name, 2500);
	assert_seen_child(i, pid, name);
	assert_true(now_ms() - t0 <= 1500);
	/* and it keeps sweeping */
	size_t sweeps = count_rec(mark, PW_SWEEP_DONE);
	pump(1300);
	assert_true(count_rec(mark, PW_SWEEP_DONE) > sweeps);
	/* no events in this mode */
	assert_int_equal(find_rec(mark, PW_FORK, pid, NULL), -1);
}

static void test_stop_null_and_args(void **state)
{
	(void)state;
	procwatch_stop(NULL);
	assert_false(procwatch_has_connector(NULL));
	struct procwatch *w = NULL;
	assert_int_equal(procwatch_start(NULL, record, NULL, 1, &w), -EINVAL);
	assert_int_equal(procwatch_start(loop, NULL, NULL, 1, &w), -EINVAL);
	assert_null(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identify_self, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identify_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identify_kthread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identify_comm_and_deleted_exe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initial_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_each, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_and_fork_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_comm_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_are_not_processes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overrun_sweeps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fallback_sweeps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_null_and_args, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
