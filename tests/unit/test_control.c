/* test_control.c — the control socket server (control.c) on a real sd-event
 * loop in a second thread, with a fake handler; the client calls; and
 * ksmplusctl's output formats (ctl_format.c). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <valgrind/valgrind.h>

#include "control.h"
#include "ctl_format.h"
#include "protocol.h"

#define TEST_TIMEOUT_USEC (1000ULL * 1000ULL)      /* server's client timeout */
/* Ends call_op()'s key, value list (a typed NULL, as variadics need). */
#define END ((const char *)NULL)
#define BIG_REPLY_RECORDS 8000      /* ~480 KB: more than a socket buffer */

struct server {
	char dir[64];
	char path[128];
	sd_event *ev;
	struct control *ctl;
	pthread_t thread;
	int stop[2];
	atomic_int calls;
	atomic_uint last_uid;
};

/* ---- fake daemon ---- */

static void fake_handler(const struct proto_record *req, uid_t peer_uid,
			 struct proto_msg *reply, void *userdata)
{
	struct server *s = userdata;
	const char *op = proto_get(req, "op");
	struct proto_record r;
	atomic_fetch_add(&s->calls, 1);
	atomic_store(&s->last_uid, (unsigned)peer_uid);

	if (strcmp(op, "reload") == 0)
		return;                         /* leaves the reply empty */
	proto_record_init(&r);
	proto_set(&r, "ok", "1");
	proto_msg_append(reply, &r);
	if (strcmp(op, "status") == 0) {
		const char *n = proto_get(req, "records");
		int count = n ? atoi(n) : 3;
		for (int i = 0; i < count; i++) {
			proto_record_init(&r);
			proto_set(&r, "type", "proc");
			proto_set(&r, "pid", "%d", i);
			proto_set(&r, "reason", "tab\there, newline\nthere, \\ backslash");
			proto_msg_append(reply, &r);
		}
	} else if (strcmp(op, "list") == 0) {
		proto_record_init(&r);
		proto_set(&r, "type", "app");
		proto_set(&r, "name", "gimp");
		proto_msg_append(reply, &r);
		proto_msg_end(reply);           /* as ksmplusd does: must not double */
	} else if (strcmp(op, "add") == 0) {
		proto_record_init(&r);
		proto_set(&r, "type", "app");
		proto_set(&r, "name", "%s", proto_get(req, "name"));
		proto_msg_append(reply, &r);
	}
}

static int on_stop(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	(void)src;
	(void)fd;
	(void)revents;
	return sd_event_exit(userdata, 0);
}

static void *loop_thread(void *arg)
{
	struct server *s = arg;
	sd_event_loop(s->ev);
	return NULL;
}

static int server_start(void **state, uint64_t deadline_usec)
{
	struct server *s = calloc(1, sizeof(*s));
	char err[256];
	assert_non_null(s);
	snprintf(s->dir, sizeof(s->dir), "/tmp/ksmplus-test-control-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	chmod(s->dir, 0755);                    /* nobody must reach the socket */
	snprintf(s->path, sizeof(s->path), "%s/run/ksmplusd.sock", s->dir);
	assert_int_equal(sd_event_new(&s->ev), 0);
	assert_int_equal(pipe2(s->stop, O_CLOEXEC), 0);
	assert_true(sd_event_add_io(s->ev, NULL, s->stop[0], EPOLLIN, on_stop, s->ev) >= 0);
	if (control_open(s->ev, s->path, fake_handler, s, &s->ctl, err, sizeof(err)) < 0)
		fail_msg("control_open: %s", err);
	control_set_timeout(s->ctl, deadline_usec);
	assert_int_equal(pthread_create(&s->thread, NULL, loop_thread, s), 0);
	*state = s;
	return 0;
}

static int server_setup(void **state)
{
	return server_start(state, TEST_TIMEOUT_USEC);
}

/* For tests that hold connections open while they check something: a
 * deadline far longer than any check, so none is cut off meanwhile. */
static int server_setup_long(void **state)
{
	return server_start(state, 600ULL * 1000000ULL);
}

static int server_teardown(void **state)
{
	struct server *s = *state;
	assert_int_equal(write(s->stop[1], "x", 1), 1);
	pthread_join(s->thread, NULL);
	control_close(s->ctl);
	struct stat st;
	assert_int_equal(lstat(s->path, &st), -1);     /* control_close unlinks */
	sd_event_unref(s->ev);
	close(s->stop[0]);
	close(s->stop[1]);
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/run", s->dir);
	rmdir(dir);
	rmdir(s->dir);
	free(s);
	return 0;
}

/* ---- client helpers ---- */

static int call_op(const char *path, struct control_reply *rep, const char *op, ...)
{
	struct proto_record req;
	va_list ap;
	proto_record_init(&req);
	proto_set(&req, "op", "%s", op);
	va_start(ap, op);
	for (const char *k; (k = va_arg(ap, const char *));)
		proto_set(&req, k, "%s", va_arg(ap, const char *));
	va_end(ap);
	memset(rep, 0, sizeof(*rep));
	int fd = control_connect(path);
	if (fd < 0)
		return fd;
	int r = control_call(fd, &req, 5000, rep);
	close(fd);
	return r;
}

/* Sends raw bytes, optionally half-closes, waits delay_ms, reads to EOF
 * (at most cap bytes). Returns bytes read. */
static size_t raw_exchange(const char *path, const char *data, size_t len, bool shut,
			   int delay_ms, char *out, size_t cap)
{
	int fd = control_connect(path);
	assert_true(fd >= 0);
	for (size_t pos = 0; pos < len;) {
		ssize_t n = send(fd, data + pos, len - pos, MSG_NOSIGNAL);
		if (n < 0 && errno == EPIPE)
			break;                  /* server stopped reading: fine */
		assert_true(n > 0);
		pos += (size_t)n;
	}
	if (shut)
		shutdown(fd, SHUT_WR);
	if (delay_ms)
		usleep((useconds_t)delay_ms * 1000);
	size_t got = 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		assert_int_equal(poll(&p, 1, 5000), 1);
		ssize_t n = recv(fd, out + got, cap - got, 0);
		if (n < 0 && errno == ECONNRESET)
			break;                  /* server closed with our excess unread */
		assert_true(n >= 0);
		if (n == 0)
			break;
		got += (size_t)n;
		assert_true(got < cap);
	}
	out[got] = '\0';
	close(fd);
	return got;
}

/* The single ok=0 record of a raw reply; asserts the message framing. */
static void expect_error(const char *reply, const char *prefix)
{
	struct proto_record r;
	const char *nl = strchr(reply, '\n');
	assert_non_null(nl);
	assert_string_equal(nl + 1, "\n");      /* exactly one record, then the end */
	assert_int_equal(proto_decode(reply, (size_t)(nl - reply) + 1, &r), 0);
	assert_string_equal(proto_get(&r, "ok"), "0");
	const char *e = proto_get(&r, "error");
	assert_non_null(e);
	if (strncmp(e, prefix, strlen(prefix)) != 0)
		fail_msg("error '%s' does not start with '%s'", e, prefix);
}

/* ---- server tests ---- */

static void test_request_reply(void **state)
{
	struct server *s = *state;
	struct control_reply rep;
	assert_int_equal(call_op(s->path, &rep, "status", END), 0);
	assert_int_equal(rep.n, 4);
	assert_string_equal(proto_get(&rep.rec[0], "ok"), "1");
	assert_string_equal(proto_get(&rep.rec[3], "pid"), "2");
	assert_string_equal(proto_get(&rep.rec[3], "reason"),
			    "tab\there, newline\nthere, \\ backslash");
	assert_int_equal(atomic_load(&s->calls), 1);
	assert_int_equal(atomic_load(&s->last_uid), getuid());
	control_reply_free(&rep);

	/* A handler that ends the message itself is not doubled. */
	assert_int_equal(call_op(s->path, &rep, "list", END), 0);
	assert_int_equal(rep.n, 2);
	assert_string_equal(proto_get(&rep.rec[1], "name"), "gimp");
	control_reply_free(&rep);

	/* An empty reply from the handler becomes an error. */
	if (getuid() == 0) {
		assert_int_equal(call_op(s->path, &rep, "reload", END), 0);
		assert_int_equal(rep.n, 1);
		assert_string_equal(proto_get(&rep.rec[0], "ok"), "0");
		assert_string_equal(proto_get(&rep.rec[0], "error"), "internal error: empty reply");
		control_reply_free(&rep);
	}

	struct stat st;
	assert_int_equal(stat(s->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0666);
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/run", s->dir);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
}

static void test_big_reply_slow_reader(void **state)
{
	struct server *s = *state;
	char req[64];
	size_t cap = 4u << 20;
	char *out = malloc(cap);
	assert_non_null(out);
	snprintf(req, sizeof(req), "op=status\trecords=%d\n", BIG_REPLY_RECORDS);
	/* The reply exceeds the socket buffer: the server must wait
	 * for EPOLLOUT while we sleep, and still deliver every byte. */
	size_t got = raw_exchange(s->path, req, strlen(req), false, 300, out, cap);
	assert_true(got > 400000);
	size_t pos = 0, n = 0;
	struct proto_record r;
	for (;;) {
		char *nl = memchr(out + pos, '\n', got - pos);
		assert_non_null(nl);
		size_t len = (size_t)(nl - (out + pos)) + 1;
		assert_int_equal(proto_decode(out + pos, len, &r), 0);
		pos += len;
		if (r.n == 0)
			break;
		n++;
	}
	assert_int_equal(pos, got);
	assert_int_equal(n, BIG_REPLY_RECORDS + 1);
	free(out);

	/* control_call reads a big one too (fewer records: each costs the
	 * client a whole struct proto_record, slow under valgrind). */
	struct control_reply rep;
	assert_int_equal(call_op(s->path, &rep, "status", "records", "2000", END), 0);
	assert_int_equal(rep.n, 2001);
	control_reply_free(&rep);
}

static void test_malformed(void **state)
{
	struct server *s = *state;
	char out[4096];
	raw_exchange(s->path, "garbage\n", 8, false, 0, out, sizeof(out));
	expect_error(out, "malformed request: ");
	raw_exchange(s->path, "op=status\top=list\n", 18, false, 0, out, sizeof(out));
	expect_error(out, "malformed request: ");
	raw_exchange(s->path, "op=sta\\qtus\n", 12, false, 0, out, sizeof(out));
	expect_error(out, "malformed request: ");
	raw_exchange(s->path, "name=gimp\n", 10, false, 0, out, sizeof(out));
	expect_error(out, "malformed request: no op= field");
	raw_exchange(s->path, "\n", 1, false, 0, out, sizeof(out));
	expect_error(out, "malformed request: no op= field");
	raw_exchange(s->path, "op=frobnicate\n", 14, false, 0, out, sizeof(out));
	expect_error(out, "unknown op 'frobnicate'");
	raw_exchange(s->path, "op=status", 9, true, 0, out, sizeof(out));
	expect_error(out, "malformed request: not terminated by a newline");
	assert_int_equal(atomic_load(&s->calls), 0);
}

static void test_oversized(void **state)
{
	struct server *s = *state;
	char out[4096];
	size_t len = PROTO_LINE_MAX + 4096;
	char *big = malloc(len);
	assert_non_null(big);
	memcpy(big, "op=status\tx=", 12);
	memset(big + 12, 'a', len - 12);
	raw_exchange(s->path, big, len, false, 0, out, sizeof(out));
	expect_error(out, "request too long");

	/* Exactly PROTO_LINE_MAX bytes with the newline: read whole, then
	 * refused by the decoder (value too long), not as too long a line. */
	big[PROTO_LINE_MAX - 1] = '\n';
	raw_exchange(s->path, big, PROTO_LINE_MAX, false, 0, out, sizeof(out));
	expect_error(out, "malformed request: key or value too long");
	free(big);
	assert_int_equal(atomic_load(&s->calls), 0);

	/* The server is still fine. */
	struct control_reply rep;
	assert_int_equal(call_op(s->path, &rep, "status", END), 0);
	control_reply_free(&rep);
}

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_idle_timeout(void **state)
{
	struct server *s = *state;
	char out[4096];
	int idle = control_connect(s->path);
	assert_true(idle >= 0);
	assert_int_equal(send(idle, "op=sta", 6, 0), 6);   /* and then nothing */

	/* Meanwhile others are served at once. */
	double t0 = now_sec();
	struct control_reply rep;
	assert_int_equal(call_op(s->path, &rep, "status", END), 0);
	control_reply_free(&rep);
	assert_true(now_sec() - t0 < 0.5);

	/* The idle one is told and dropped after about the timeout. */
	size_t got = 0;
	for (;;) {
		struct pollfd p = { .fd = idle, .events = POLLIN };
		assert_int_equal(poll(&p, 1, 5000), 1);
		ssize_t n = recv(idle, out + got, sizeof(out) - 1 - got, 0);
		assert_true(n >= 0);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	double waited = now_sec() - t0;
	assert_true(waited > 0.5 && waited < 3.0);
	expect_error(out, "timed out waiting for the request");
	close(idle);
}

static void test_too_many_clients(void **state)
{
	struct server *s = *state;
	/* Root is capped by the total only; anyone else by the per-uid cap. */
	int max = getuid() == 0 ? CONTROL_MAX_CLIENTS : CONTROL_MAX_PER_UID;
	int fds[CONTROL_MAX_CLIENTS];
	struct control_reply rep;
	char want[128];
	for (int i = 0; i < max; i++) {
		fds[i] = control_connect(s->path);
		assert_true(fds[i] >= 0);
	}
	/* Accepted in order: this one is over the cap. */
	assert_int_equal(call_op(s->path, &rep, "status", END), 0);
	assert_string_equal(proto_get(&rep.rec[0], "ok"), "0");
	if (getuid() == 0)
		snprintf(want, sizeof(want), "too many clients (32), try again");
	else
		snprintf(want, sizeof(want), "too many connections from uid %ld (at most 4 at "
			 "once), try again", (long)getuid());
	assert_string_equal(proto_get(&rep.rec[0], "error"), want);
	control_reply_free(&rep);
	for (int i = 0; i < max; i++)
		close(fds[i]);
	/* Once they are gone there is room again. */
	bool ok = false;
	for (int tries = 0; tries < 100 && !ok; tries++) {
		assert_int_equal(call_op(s->path, &rep, "status", END), 0);
		ok = strcmp(proto_get(&rep.rec[0], "ok"), "1") == 0;
		control_reply_free(&rep);
		if (!ok)
			usleep(10000);
	}
	assert_true(ok);
}

static double thread_cpu_sec(pthread_t th)
{
	clockid_t id;
	struct timespec ts;

	assert_int_equal(pthread_getcpuclockid(th, &id), 0);
	assert_int_equal(clock_gettime(id, &ts), 0);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Out of fds (EMFILE), the server stops accepting for a while instead of
 * spinning on a listening socket that stays readable, and serves the
 * waiting client once fds are free again (the retry timer, 0.5 s). */
static void test_out_of_fds(void **state)
{
	struct server *s = *state;
	struct rlimit old, low;
	int fill[512], n = 0, err = 0;

	if (RUNNING_ON_VALGRIND) {
		/* valgrind takes over fds past the limit: its accept4 accepts,
		 * then closes the connection and says EMFILE. */
		fprintf(stderr, "SKIPPED %s: valgrind drops the connection itself\n", __func__);
		skip();
	}
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 128;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (; n < 512; n++) {
		fill[n] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fill[n] < 0) {
			err = errno;
			break;
		}
	}
	assert_int_equal(err, EMFILE);
	assert_true(n > 0);
	close(fill[--n]);                       /* room for the client only */
	int fd = control_connect(s->path);
	assert_true(fd >= 0);
	/* Twice: the retry timer is made once, then re-armed. */
	for (int round = 0; round < 2; round++) {
		double cpu0 = thread_cpu_sec(s->thread);
		usleep(700000);                 /* past a retry: it fails again */
		/* spinning would burn the loop thread's share of a CPU */
		assert_true(thread_cpu_sec(s->thread) - cpu0 < 0.2);
	}
	assert_int_equal(atomic_load(&s->calls), 0);
	while (n > 0)
		close(fill[--n]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);

	struct proto_record req;
	struct control_reply rep;
	proto_record_init(&req);
	proto_set(&req, "op", "status");
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(control_call(fd, &req, 5000, &rep), 0);
	assert_string_equal(proto_get(&rep.rec[0], "ok"), "1");
	control_reply_free(&rep);
	close(fd);
}

/* A client sending a byte every 50 ms makes progress all the time: an idle
 * timeout never fires, the deadline from accept does. */
static void test_trickle_deadline(void **state)
{
	struct server *s = *state;
	static const char req[] = "op=status\tx=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	char out[4096];
	size_t got = 0;
	int fd = control_connect(s->path);
	assert_true(fd >= 0);
	double t0 = now_sec();
	bool cut = false;
	for (size_t i = 0; i < sizeof(req) - 1 && !cut; i++) {
		if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1)
			break;                  /* cut off: the reason is waiting */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		cut = poll(&p, 1, 50) == 1;
	}
	double sent_for = now_sec() - t0;
	shutdown(fd, SHUT_WR);          /* without a deadline: "not terminated" */
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		assert_int_equal(poll(&p, 1, 5000), 1);
		ssize_t n = recv(fd, out + got, sizeof(out) - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	close(fd);
	expect_error(out, "timed out waiting for the request (it must arrive whole within 1 s");
	assert_true(sent_for >= 0.9);   /* a timer never fires early (accept came first) */
	assert_int_equal(atomic_load(&s->calls), 0);
}

/* A child as uid holding n connections (a partial request on each) until
 * the parent closes the pipe; writes a byte to ready once all are queued.
 * Connections are accepted in the order they were queued. */
static pid_t hold_as(const struct server *s, uid_t uid, int n, const int ready[2],
		     const int go[2])
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid > 0)
		return pid;
	int fds[CONTROL_MAX_CLIENTS];
	close(go[1]);                   /* or its EOF never comes */
	close(ready[0]);
	if (setgid(65534) < 0 || setuid(uid) < 0)
		_exit(10);
	for (int i = 0; i < n; i++) {
		fds[i] = control_connect(s->path);
		if (fds[i] < 0 || send(fds[i], "op=st", 5, MSG_NOSIGNAL) != 5)
			_exit(11);
	}
	if (write(ready[1], "x", 1) != 1)
		_exit(12);
	char x;
	(void)!read(go[0], &x, 1);      /* EOF: the parent is done */
	_exit(0);
}

/* In a forked child (no cmocka there): whether fd gets exactly the
 * refusal want, then EOF (or a reset: our request, if any, went unread). */
static bool refused_with(int fd, const char *want)
{
	char out[1024];
	size_t got = 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 5000) != 1)
			return false;
		ssize_t n = recv(fd, out + got, sizeof(out) - 1 - got, 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		if (n < 0)
			return false;
		got += (size_t)n;
	}
	out[got] = '\0';
	struct proto_record r;
	const char *nl = strchr(out, '\n');
	return nl && strcmp(nl + 1, "\n") == 0 &&
	       proto_decode(out, (size_t)(nl - out) + 1, &r) == 0 &&
	       strcmp(proto_get(&r, "ok") ? proto_get(&r, "ok") : "", "0") == 0 &&
	       strcmp(proto_get(&r, "error") ? proto_get(&r, "error") : "", want) == 0;
}

/* Local users cannot lock root out: uid 65534 gets 4 connections, the 5th
 * is told why; 7 uids filling every non-root slot leave root its own. */
static void test_uid_caps(void **state)
{
	struct server *s = *state;
	enum { UIDS = (CONTROL_MAX_CLIENTS - CONTROL_ROOT_RESERVED) / CONTROL_MAX_PER_UID };
	if (getuid() != 0) {
		fprintf(stderr, "SKIP: test_uid_caps needs root (to become other uids)\n");
		skip();
	}
	int ready[2], go[2];
	pid_t kids[UIDS];
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	for (int i = 0; i < UIDS; i++) {
		kids[i] = hold_as(s, 65534 - (uid_t)i, CONTROL_MAX_PER_UID, ready, go);
		char x;
		assert_int_equal(read(ready[0], &x, 1), 1);
		if (i > 0)
			continue;
		/* One more from 65534 is over its own cap... */
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (setgid(65534) < 0 || setuid(65534) < 0)
				_exit(10);
			int fd = control_connect(s->path);
			if (fd < 0)
				_exit(11);
			_exit(refused_with(fd, "too many connections from uid 65534 (at most 4 "
						   "at once), try again") ? 0 : 12);
		}
		int st;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
		/* ...while root is served at once. */
		struct control_reply rep;
		assert_int_equal(call_op(s->path, &rep, "status", END), 0);
		assert_string_equal(proto_get(&rep.rec[0], "ok"), "1");
		control_reply_free(&rep);
	}
	/* Every non-root slot taken: another user is refused, saying so... */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65000) < 0)
			_exit(10);
		int fd = control_connect(s->path);
		if (fd < 0)
			_exit(11);
		_exit(refused_with(fd, "too many clients (28, the other 4 are kept for root), "
					   "try again") ? 0 : 12);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* ...and root still has its own. */
	struct control_reply rep;
	assert_int_equal(call_op(s->path, &rep, "status", END), 0);
	assert_string_equal(proto_get(&rep.rec[0], "ok"), "1");
	control_reply_free(&rep);
	close(go[1]);
	for (int i = 0; i < UIDS; i++) {
		assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	close(go[0]);
	close(ready[0]);
	close(ready[1]);
}

/* A client the server refused and closed before it sent its request still
 * gets the reason from control_call, not a bare EPIPE. */
static void test_refusal_read_after_epipe(void **state)
{
	struct server *s = *state;
	int max = getuid() == 0 ? CONTROL_MAX_CLIENTS : CONTROL_MAX_PER_UID;
	int fds[CONTROL_MAX_CLIENTS];
	for (int i = 0; i < max; i++) {
		fds[i] = control_connect(s->path);
		assert_true(fds[i] >= 0);
	}
	int fd = control_connect(s->path);
	assert_true(fd >= 0);
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };
	assert_int_equal(poll(&p, 1, 5000), 1);         /* refused and closed */
	struct proto_record req;
	struct control_reply rep = { 0 };
	proto_record_init(&req);
	proto_set(&req, "op", "status");
	assert_int_equal(control_call(fd, &req, 5000, &rep), 0);
	assert_string_equal(proto_get(&rep.rec[0], "ok"), "0");
	assert_non_null(strstr(proto_get(&rep.rec[0], "error"), "try again"));
	control_reply_free(&rep);
	close(fd);
	for (int i = 0; i < max; i++)
		close(fds[i]);
}

static void test_root_ops(void **state)
{
	struct server *s = *state;
	struct control_reply rep;
	if (getuid() != 0) {
		fprintf(stderr, "SKIP: test_root_ops needs root\n");
		skip();
	}
	assert_int_equal(call_op(s->path, &rep, "add", "name", "gimp", "runtime", "1", END), 0);
	assert_string_equal(proto_get(&rep.rec[0], "ok"), "1");
	assert_string_equal(proto_get(&rep.rec[1], "name"), "gimp");
	assert_int_equal(atomic_load(&s->calls), 1);
	assert_int_equal(atomic_load(&s->last_uid), 0);
	control_reply_free(&rep);
}

/* In a forked child as uid 65534: status works, changing ops are refused
 * before the handler sees them. */
static void test_nonroot_refused(void **state)
{
	struct server *s = *state;
	if (getuid() != 0) {
		fprintf(stderr, "SKIP: test_nonroot_refused needs root (to become uid 65534)\n");
		skip();
	}
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct control_reply rep;
		static const char *const ops[] = { "add", "remove", "reload" };
		char want[128];
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(10);
		if (call_op(s->path, &rep, "status", END) != 0 ||
		    strcmp(proto_get(&rep.rec[0], "ok"), "1") != 0)
			_exit(11);
		control_reply_free(&rep);
		for (int i = 0; i < 3; i++) {
			if (call_op(s->path, &rep, ops[i], "name", "gimp", END) != 0)
				_exit(12);
			snprintf(want, sizeof(want),
				 "permission denied: %s needs root (you are uid 65534)", ops[i]);
			if (strcmp(proto_get(&rep.rec[0], "ok"), "0") != 0 || rep.n != 1 ||
			    strcmp(proto_get(&rep.rec[0], "error"), want) != 0)
				_exit(13 + i);
			control_reply_free(&rep);
		}
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(atomic_load(&s->calls), 1);            /* status only */
	assert_int_equal(atomic_load(&s->last_uid), 65534);
}

static void test_second_server_refused(void **state)
{
	struct server *s = *state;
	sd_event *ev;
	struct control *c2 = NULL;
	char err[256], want[256];
	assert_int_equal(sd_event_new(&ev), 0);
	assert_int_equal(control_open(ev, s->path, fake_handler, s, &c2, err, sizeof(err)), -1);
	assert_null(c2);
	snprintf(want, sizeof(want), "another ksmplusd is running on %s", s->path);
	assert_string_equal(err, want);
	sd_event_unref(ev);
	/* The first one is untouched. */
	struct control_reply rep;
	assert_int_equal(call_op(s->path, &rep, "status", END), 0);
	assert_string_equal(proto_get(&rep.rec[0], "ok"), "1");
	control_reply_free(&rep);
}

/* ---- open/close without a running loop ---- */

static void make_dir(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/ksmplus-test-control-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void test_stale_socket_replaced(void **state)
{
	(void)state;
	char dir[64], path[128], err[256];
	make_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	/* A socket file nobody listens on, as a killed daemon leaves. */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	struct stat after;

	sd_event *ev;
	struct control *c;
	assert_int_equal(sd_event_new(&ev), 0);
	if (control_open(ev, path, fake_handler, NULL, &c, err, sizeof(err)) < 0)
		fail_msg("stale socket not replaced: %s", err);
	assert_int_equal(stat(path, &after), 0);
	assert_true(S_ISSOCK(after.st_mode));
	fd = control_connect(path);                     /* it listens */
	assert_true(fd >= 0);
	close(fd);
	control_close(c);
	assert_int_equal(access(path, F_OK), -1);
	sd_event_unref(ev);
	rmdir(dir);
}

static void test_not_a_socket(void **state)
{
	(void)state;
	char dir[64], path[128], err[256];
	make_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	sd_event *ev;
	struct control *c;
	assert_int_equal(sd_event_new(&ev), 0);
	assert_int_equal(control_open(ev, path, fake_handler, NULL, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a socket"));
	assert_int_equal(access(path, F_OK), 0);          /* left alone */

	/* And a path too long for sun_path is refused clearly. */
	char longpath[200];
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(control_open(ev, longpath, fake_handler, NULL, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too long"));
	assert_int_equal(control_connect(longpath), -ENAMETOOLONG);
	sd_event_unref(ev);
	unlink(path);
	rmdir(dir);
	control_close(NULL);
}

/* control_open on path must fail, naming bad, and create nothing. */
static void expect_dir_refused(const char *path, const char *bad, const char *why)
{
	sd_event *ev;
	struct control *c = NULL;
	char err[512];
	assert_int_equal(sd_event_new(&ev), 0);
	assert_int_equal(control_open(ev, path, fake_handler, NULL, &c, err, sizeof(err)), -1);
	assert_null(c);
	char want[256];
	snprintf(want, sizeof(want), ": %s is ", bad);
	if (!strstr(err, want) || !strstr(err, why) || !strstr(err, path))
		fail_msg("for %s: '%s' does not say '%s' ... '%s'", path, err, want, why);
	assert_int_equal(access(path, F_OK), -1);
	sd_event_unref(ev);
}

/* A directory someone else could write (or own) would let them swap the
 * socket, or a symlink, in under the daemon: refused, naming it. */
static void test_socket_dir_refused(void **state)
{
	(void)state;
	char dir[64], sub[128], path[192], other[128], link[160];
	make_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	assert_int_equal(chmod(dir, 0777), 0);
	expect_dir_refused(path, dir, "writable by others (mode 0777)");
	assert_int_equal(chmod(dir, 0770), 0);
	expect_dir_refused(path, dir, "writable by its group (mode 0770)");
	assert_int_equal(chmod(dir, 0755), 0);
	/* A created directory under a writable one: the parent is the problem. */
	snprintf(sub, sizeof(sub), "%s/run", dir);
	snprintf(path, sizeof(path), "%s/run/s.sock", dir);
	assert_int_equal(chmod(dir, 0777), 0);
	expect_dir_refused(path, dir, "writable by others");
	rmdir(sub);
	assert_int_equal(chmod(dir, 0755), 0);

	if (getuid() == 0) {
		/* Owned by someone else: */
		assert_int_equal(chown(dir, 65534, 65534), 0);
		snprintf(path, sizeof(path), "%s/s.sock", dir);
		expect_dir_refused(path, dir, "owned by uid 65534, not root");
		/* ...or an ancestor owned by someone else: */
		assert_int_equal(mkdir(sub, 0755), 0);
		snprintf(path, sizeof(path), "%s/s.sock", sub);
		expect_dir_refused(path, dir, "owned by uid 65534, not root");
		rmdir(sub);
		assert_int_equal(chown(dir, 0, 0), 0);
		/* ...or a symlink on the way that someone else owns. */
		make_dir(other, sizeof(other));
		snprintf(link, sizeof(link), "%s/l", dir);
		assert_int_equal(symlink(other, link), 0);
		assert_int_equal(lchown(link, 65534, 65534), 0);
		snprintf(path, sizeof(path), "%s/s.sock", link);
		expect_dir_refused(path, link, "owned by uid 65534, not root");
		unlink(link);
		rmdir(other);
	}
	rmdir(dir);
}

/* Mode 0666 for the socket and 0755 for a created directory even under
 * the unit's UMask=0077, set without a chmod. */
static void test_socket_mode_under_umask(void **state)
{
	(void)state;
	char dir[64], path[128], sub[96], err[256];
	make_dir(dir, sizeof(dir));
	snprintf(sub, sizeof(sub), "%s/run", dir);
	snprintf(path, sizeof(path), "%s/s.sock", sub);
	mode_t old = umask(077);
	sd_event *ev;
	struct control *c;
	assert_int_equal(sd_event_new(&ev), 0);
	if (control_open(ev, path, fake_handler, NULL, &c, err, sizeof(err)) < 0)
		fail_msg("control_open: %s", err);
	assert_int_equal(umask(old), 077);      /* and the umask is put back */
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0666);
	assert_int_equal(lstat(sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	control_close(c);
	sd_event_unref(ev);
	rmdir(sub);
	rmdir(dir);
}

static void test_op_tables(void **state)
{
	(void)state;
	assert_true(control_op_needs_root("add"));
	assert_true(control_op_needs_root("remove"));
	assert_true(control_op_needs_root("reload"));
	assert_false(control_op_needs_root("status"));
	assert_false(control_op_needs_root("list"));
	assert_true(control_op_known("status"));
	assert_false(control_op_known("Status"));
	assert_false(control_op_known(""));
}

/* ---- ksmplusctl output ---- */

static void add_rec(struct control_reply *r, const char *line)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 8;
		r->rec = realloc(r->rec, r->cap * sizeof(*r->rec));
		assert_non_null(r->rec);
	}
	if (proto_decode(line, strlen(line), &r->rec[r->n]) != 0)
		fail_msg("bad test record: %s", line);
	r->n++;
}

static char *capture(void (*fn)(FILE *, const struct control_reply *),
		     const struct control_reply *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	fn(f, r);
	fclose(f);
	return buf;
}

static void sample_status(struct control_reply *r)
{
	memset(r, 0, sizeof(*r));
	add_rec(r, "ok=1");
	add_rec(r, "type=global\tbackend=ptrace\trun=1\tpages_sharing=10240\tpages_shared=2\t"
		   "general_profit=41943040\tfull_scans=7\tconnector=1");
	add_rec(r, "type=app\tname=gimp\tsource=config\tprocs=2\tenrolled_kib=40960\t"
		   "merging_kib=40000\tprofit_kib=39000\tsaved_kib=19200\tpss_kib=21000\tsaved_exact=1");
	add_rec(r, "type=app\tname=libreoffice-calc\tsource=ctl\tprocs=0\tenrolled_kib=0\t"
		   "merging_kib=0\tprofit_kib=-50\tsaved_kib=-50\tsaved_exact=0");
	add_rec(r, "type=proc\tpid=100\tapp=gimp\tstate=enrolled\tmode=whole\t"
		   "enrolled_kib=20480\tmerging_kib=20000\tprofit_kib=19500");
	add_rec(r, "type=proc\tpid=101\tapp=gimp\tcomm=script-fu\tstate=enrolled\t"
		   "member=tree\tinherited=1\tmode=whole\tenrolled_kib=2048\tmerging_kib=1024\t"
		   "profit_kib=900");
	add_rec(r, "type=proc\tpid=4242\tapp=gimp\tcomm=gimp\tstate=skipped\t"
		   "reason=excluded \"x\"\\tand\\\\");
	add_rec(r, "type=proc\tpid=77\tapp=libreoffice-calc\tstate=failed\t"
		   "reason=ptrace: Operation not permitted");
}

static void test_format_status(void **state)
{
	(void)state;
	struct control_reply r;
	sample_status(&r);
	/* an app analyzed: its last forecast next to its saving, and when */
	add_rec(&r, "type=app\tname=evince\tsource=ctl\tprocs=1\tenrolled_kib=10240\t"
		   "merging_kib=10000\tsaved_kib=4964\tpss_kib=6000\tsaved_exact=1\t"
		   "forecast_kib=4967\tforecast_time=1795873920\tforecast_age_s=330");
	char *out = capture(ctl_print_status, &r);
	static const char want[] =
		"backend:         ptrace\n"
		"ksmd run:        1\n"
		"pages_sharing:   10240\n"
		"pages_shared:    2\n"
		"general_profit:  40.0 MiB\n"
		"full_scans:      7\n"
		"proc connector:  yes\n"
		"\n"
		"APP               PROCS  ENROLLED_MiB  MERGING_MiB  SAVED_MiB   PSS_MiB  FORECAST_MiB\n"
		"gimp                  2          40.0         39.1       18.8      20.5             -\n"
		"libreoffice-calc      0           0.0          0.0       0.0*         -             -\n"
		"evince                1          10.0          9.8        4.8       5.9           4.9\n"
		"FORECAST_MiB: the last 'ksmplusctl analyze' (net of rmap_items, with the apps enrolled "
		"then):\n"
		"  evince at 2026-11-28 13:52:00 UTC (5 min ago)\n"
		"* estimate (sum of ksm_process_profit, which overstates): exact figures need the "
		"daemon to read page frames (root with CAP_SYS_ADMIN)\n"
		"\n"
		"KSM does not shrink RSS in top/ps: merged pages still count for every\n"
		"process mapping them. PSS (smaps_rollup) and general_profit show the saving.\n"
		"\n"
		"    PID  APP               COMM             MEMBER  STATE      MERGING_MiB  REASON\n"
		"    100  gimp                                       enrolled          19.5\n"
		"    101  gimp              script-fu        tree    inherited          1.0\n"
		"   4242  gimp              gimp                     skipped              -  "
		"excluded \"x\"?and\\\n"
		"     77  libreoffice-calc                           failed               -  "
		"ptrace: Operation not permitted\n";
	assert_string_equal(out, want);
	free(out);
	control_reply_free(&r);

	/* No global, no apps. */
	memset(&r, 0, sizeof(r));
	add_rec(&r, "ok=1");
	out = capture(ctl_print_status, &r);
	assert_string_equal(out, "\nno apps configured\n");
	free(out);
	control_reply_free(&r);

	/* A non-root caller is told the list is only theirs. */
	memset(&r, 0, sizeof(r));
	add_rec(&r, "ok=1");
	add_rec(&r, "type=global\tbackend=ptrace\tprocesses=own");
	out = capture(ctl_print_status, &r);
	assert_non_null(strstr(out, "\nno apps configured\n\nProcesses: yours only (0); other "
				    "users' are not shown (root sees all).\n"));
	free(out);
	control_reply_free(&r);
}

/* top: the trend is the saving's change per minute since the last frame;
 * an app new in this frame, or the first frame, has none. */
static void test_format_top(void **state)
{
	(void)state;
	struct control_reply prev, now;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	sample_status(&prev);
	memset(&now, 0, sizeof(now));
	add_rec(&now, "ok=1");
	add_rec(&now, "type=global\tbackend=ptrace\tgeneral_profit=41943040\tgov_state=burst\t"
		      "ksmd_cpu_pct=12.50");
	/* gimp saved 19200 KiB, now 20736: +1.5 MiB in 30 s = +3.0 MiB/min */
	add_rec(&now, "type=app\tname=gimp\tprocs=2\tmerging_kib=40000\tsaved_kib=20736\t"
		      "pss_kib=21000\tsaved_exact=1");
	add_rec(&now, "type=app\tname=libreoffice-calc\tprocs=0\tmerging_kib=0\tsaved_kib=-1074\t"
		      "saved_exact=0");
	add_rec(&now, "type=app\tname=evince\tprocs=1\tmerging_kib=0\tsaved_kib=0\tsaved_exact=1");
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	ctl_print_top(f, "12:00:30", &now, &prev, 30);
	fclose(f);
	assert_string_equal(buf,
		"ksmplus 12:00:30  KSM saves 40.0 MiB system-wide  governor burst  ksmd 12.50 % CPU\n"
		"APP               PROCS   PSS_MiB  MERGING_MiB  SAVED_MiB  TREND_MiB/min\n"
		"gimp                  2      20.5         39.1       20.3   +3.0\n"
		"libreoffice-calc      0         -          0.0       -1.0*  -2.0\n"
		"evince                1         -          0.0        0.0   -\n");
	free(buf);
	buf = NULL;
	/* the first frame: no trend anywhere */
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	ctl_print_top(f, "12:00:00", &prev, NULL, 0);
	fclose(f);
	assert_non_null(strstr(buf, "\ngimp                  2      20.5         39.1       18.8   -\n"));
	free(buf);
	control_reply_free(&prev);
	control_reply_free(&now);
}

static void test_format_json(void **state)
{
	(void)state;
	struct control_reply r;
	sample_status(&r);
	char *out = capture(ctl_print_status_json, &r);
	static const char want[] =
		"{\n"
		"  \"global\": {\"backend\": \"ptrace\", \"run\": 1, \"pages_sharing\": 10240, "
		"\"pages_shared\": 2, \"general_profit\": 41943040, \"full_scans\": 7, "
		"\"connector\": 1},\n"
		"  \"apps\": [\n"
		"    {\"name\": \"gimp\", \"source\": \"config\", \"procs\": 2, "
		"\"enrolled_kib\": 40960, \"merging_kib\": 40000, \"profit_kib\": 39000, "
		"\"saved_kib\": 19200, \"pss_kib\": 21000, \"saved_exact\": 1},\n"
		"    {\"name\": \"libreoffice-calc\", \"source\": \"ctl\", \"procs\": 0, "
		"\"enrolled_kib\": 0, \"merging_kib\": 0, \"profit_kib\": -50, "
		"\"saved_kib\": -50, \"saved_exact\": 0}\n"
		"  ],\n"
		"  \"processes\": [\n"
		"    {\"pid\": 100, \"app\": \"gimp\", \"state\": \"enrolled\", \"mode\": \"whole\", "
		"\"enrolled_kib\": 20480, \"merging_kib\": 20000, \"profit_kib\": 19500},\n"
		"    {\"pid\": 101, \"app\": \"gimp\", \"comm\": \"script-fu\", \"state\": \"enrolled\", "
		"\"member\": \"tree\", \"inherited\": 1, \"mode\": \"whole\", \"enrolled_kib\": 2048, "
		"\"merging_kib\": 1024, \"profit_kib\": 900},\n"
		"    {\"pid\": 4242, \"app\": \"gimp\", \"comm\": \"gimp\", \"state\": \"skipped\", "
		"\"reason\": \"excluded \\\"x\\\"\\tand\\\\\"},\n"
		"    {\"pid\": 77, \"app\": \"libreoffice-calc\", \"state\": \"failed\", "
		"\"reason\": \"ptrace: Operation not permitted\"}\n"
		"  ]\n"
		"}\n";
	assert_string_equal(out, want);

	/* If python3 is around, it must agree that this is JSON. */
	if (access("/usr/bin/python3", X_OK) == 0) {
		FILE *p = popen("/usr/bin/python3 -c 'import json,sys; json.load(sys.stdin)'", "w");
		assert_non_null(p);
		fputs(out, p);
		assert_int_equal(pclose(p), 0);
	}
	free(out);
	control_reply_free(&r);

	memset(&r, 0, sizeof(r));
	add_rec(&r, "ok=1");
	out = capture(ctl_print_status_json, &r);
	assert_string_equal(out, "{\n  \"global\": null,\n  \"apps\": [],\n  \"processes\": []\n}\n");
	free(out);
	control_reply_free(&r);
}

static void test_json_string(void **state)
{
	(void)state;
	static const struct { const char *in, *want; } cases[] = {
		{ "", "\"\"" },
		{ "plain", "\"plain\"" },
		{ "q\"b\\", "\"q\\\"b\\\\\"" },
		{ "\n\t\r\x01\x1f\x7f", "\"\\n\\t\\u000d\\u0001\\u001f\\u007f\"" },
		{ "ünï €", "\"ünï €\"" },
		{ "\xff" "a\xc3", "\"\\ufffda\\ufffd\"" },            /* invalid UTF-8 */
		{ "\xc0\xaf", "\"\\ufffd\\ufffd\"" },                 /* overlong '/' */
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },     /* surrogate */
		{ "\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"" },       /* U+1F600 */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		ctl_json_string(f, cases[i].in);
		fclose(f);
		assert_string_equal(buf, cases[i].want);
		free(buf);
	}
}

static void test_format_list_and_change(void **state)
{
	(void)state;
	struct control_reply r = { 0 };
	add_rec(&r, "ok=1");
	add_rec(&r, "type=app\tname=gimp\tsource=config");
	add_rec(&r, "type=app\tname=evince\tsource=runtime");
	add_rec(&r, "type=app\tname=x\\ty\tsource=ctl");
	char *out = capture(ctl_print_list, &r);
	assert_string_equal(out, "gimp    config\nevince  runtime\nx?y     ctl\n");
	free(out);
	control_reply_free(&r);

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	memset(&r, 0, sizeof(r));
	add_rec(&r, "ok=1");
	add_rec(&r, "type=app\tname=gimp\tprocs=2\tskipped=1");
	ctl_print_change(f, "add", &r);
	control_reply_free(&r);
	add_rec(&r, "ok=1");
	add_rec(&r, "type=app\tname=gimp\tunmerged=3");
	ctl_print_change(f, "remove", &r);
	control_reply_free(&r);
	add_rec(&r, "ok=1");
	ctl_print_change(f, "add", &r);
	control_reply_free(&r);
	fclose(f);
	assert_string_equal(buf, "gimp: added; 2 running processes enrolled, 1 skipped\n"
				 "gimp: removed; 3 processes unmerged\n");
	free(buf);
}

/* One change record printed by ctl_print_change(op): what the user reads. */
static char *change_line(const char *op, const char *rec)
{
	struct control_reply r = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	add_rec(&r, "ok=1");
	add_rec(&r, rec);
	ctl_print_change(f, op, &r);
	fclose(f);
	control_reply_free(&r);
	return buf;
}

/* remove --unmerge and unmerge --all: the undos still going on in the
 * background are said apart from those done, never counted as unmerged;
 * pending=0 or absent (an older daemon) says nothing; singular and plural. */
static void test_format_unmerge_pending(void **state)
{
	(void)state;
	static const struct { const char *op, *rec, *want; } cases[] = {
		{ "remove", "type=app\tname=gimp\tunmerged=3\tpending=1",
		  "gimp: removed; 3 processes unmerged, 1 continues in the background "
		  "(ksmplusd's log says when it is done)\n" },
		{ "remove", "type=app\tname=gimp\tunmerged=1\tpending=2",
		  "gimp: removed; 1 process unmerged, 2 continue in the background "
		  "(ksmplusd's log says when they are done)\n" },
		{ "remove", "type=app\tname=gimp\tunmerged=0\tpending=4",
		  "gimp: removed; 0 processes unmerged, 4 continue in the background "
		  "(ksmplusd's log says when they are done)\n" },
		{ "remove", "type=app\tname=gimp\tunmerged=4\tpending=0",
		  "gimp: removed; 4 processes unmerged\n" },
		{ "remove", "type=app\tname=gimp\tunmerged=1",
		  "gimp: removed; 1 process unmerged\n" },
		{ "unmerge", "type=unmerge\tunmerged=5\tpending=1\tpages_sharing=0",
		  "unmerged 5 processes, 1 continues in the background (ksmplusd's log says "
		  "when it is done); KSM unmerged every page (pages_sharing now 0); knobs "
		  "restored; paused until 'ksmplusctl resume'\n" },
		{ "unmerge", "type=unmerge\tunmerged=1\tpending=0\tpages_sharing=7",
		  "unmerged 1 process; KSM unmerged every page (pages_sharing now 7); knobs "
		  "restored; paused until 'ksmplusctl resume'\n" },
		{ "unmerge", "type=unmerge\tunmerged=2\tpages_sharing=0",
		  "unmerged 2 processes; KSM unmerged every page (pages_sharing now 0); knobs "
		  "restored; paused until 'ksmplusctl resume'\n" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = change_line(cases[i].op, cases[i].rec);

		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s %s:\n got  %s want %s", cases[i].op, cases[i].rec, got,
				 cases[i].want);
		free(got);
	}
}

static void test_format_mib(void **state)
{
	(void)state;
	static const struct { const char *in; long long div; const char *want; } cases[] = {
		{ "0", 1024, "0.0" }, { "1024", 1024, "1.0" }, { "1536", 1024, "1.5" },
		{ "51", 1024, "0.0" }, { "52", 1024, "0.1" }, { "-10", 1024, "0.0" },
		{ "-52", 1024, "-0.1" }, { "-2048", 1024, "-2.0" }, { "10188", 1024, "9.9" },
		{ "10189", 1024, "10.0" }, { "1048576", 1048576, "1.0" },
		{ "-1572864", 1048576, "-1.5" }, { "", 1024, "-" }, { "12x", 1024, "-" },
		{ "99999999999999999999", 1024, "-" },
		{ "9223372036854775807", 1024, "9007199254740992.0" },
	};
	char buf[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ctl_format_mib(buf, sizeof(buf), cases[i].in, cases[i].div);
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("%s / %lld: got %s, want %s", cases[i].in, cases[i].div, buf,
				 cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_reply, server_setup, server_teardown),
		cmocka_unit_test_setup_teardown(test_big_reply_slow_reader, server_setup,
						server_teardown),
		cmocka_unit_test_setup_teardown(test_malformed, server_setup, server_teardown),
		cmocka_unit_test_setup_teardown(test_oversized, server_setup, server_teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, server_setup, server_teardown),
		cmocka_unit_test_setup_teardown(test_too_many_clients, server_setup,
						server_teardown),
		cmocka_unit_test_setup_teardown(test_trickle_deadline, server_setup,
						server_teardown),
		cmocka_unit_test_setup_teardown(test_uid_caps, server_setup_long, server_teardown),
		cmocka_unit_test_setup_teardown(test_refusal_read_after_epipe, server_setup_long,
						server_teardown),
		cmocka_unit_test_setup_teardown(test_out_of_fds, server_setup_long, server_teardown),
		cmocka_unit_test_setup_teardown(test_root_ops, server_setup, server_teardown),
		cmocka_unit_test_setup_teardown(test_nonroot_refused, server_setup, server_teardown),
		cmocka_unit_test_setup_teardown(test_second_server_refused, server_setup,
						server_teardown),
		cmocka_unit_test(test_stale_socket_replaced),
		cmocka_unit_test(test_not_a_socket),
		cmocka_unit_test(test_socket_dir_refused),
		cmocka_unit_test(test_socket_mode_under_umask),
		cmocka_unit_test(test_op_tables),
		cmocka_unit_test(test_format_status),
		cmocka_unit_test(test_format_top),
		cmocka_unit_test(test_format_json),
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_format_list_and_change),
		cmocka_unit_test(test_format_unmerge_pending),
		cmocka_unit_test(test_format_mib),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
