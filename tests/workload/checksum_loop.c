/* checksum_loop — an injection target that notices if injection disturbs it.
 *
 *   checksum_loop MIB busy   main thread loops: checksum MIB of memory,
 *                            nanosleep(), blocking read() on a pipe fed by a
 *                            second thread, futex wait with timeout; every
 *                            result is checked (no EINTR unless one of our
 *                            SIGUSR1 handlers ran, no -512 leaking, no wrong
 *                            checksum).
 *   checksum_loop MIB idle   main thread blocks in read() on stdin; on EOF
 *                            verifies the memory once.
 *   checksum_loop MIB waiters the main thread blocks in epoll_wait(-1) (on
 *                            stdin), one thread in recv() on a socket with
 *                            SO_RCVTIMEO, one in sigtimedwait(): calls that
 *                            a ptrace stop of their thread makes fail with
 *                            EINTR though no handler runs (signal(7)). One
 *                            more thread sleeps in nanosleep() (restarted
 *                            transparently). Any EINTR counts as a failure.
 *   checksum_loop MIB epoll  the only thread waits in epoll_wait(-1) on stdin,
 *                            like a single-threaded event-loop server; an
 *                            EINTR is counted and retried, as such loops do.
 *   checksum_loop MIB MODE GIB  also reserves GIB GiB of sparse memory
 *                            (untouched but its first MiB): unmerging it
 *                            walks every page slot, like an ASan shadow.
 * Page i of the memory holds a pattern of i only (two instances have
 * identical pages, no two pages of one instance are alike). Prints "ready"
 * once filled; stops at EOF on stdin; prints a summary; exit status 0 if no
 * failure was seen, 1 otherwise. */
#include <errno.h>
#include <linux/futex.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096

static unsigned char *mem;
static size_t mem_len;
static uint64_t expect_sum;
static int feed[2];
static atomic_int stop_flag;
static atomic_uint signals_seen;
static unsigned long failures, iterations;
static atomic_uint eintrs;    /* EINTRs seen by the waiters (none is legitimate) */

static void note_failure(const char *what, long v)
{
	if (failures++ < 10)
		fprintf(stderr, "checksum_loop: FAILURE %s (%ld)\n", what, v);
}

static uint64_t checksum(void)
{
	uint64_t s = 0;
	const uint64_t *p = (const uint64_t *)mem;
	for (size_t i = 0; i < mem_len / 8; i++)
		s = s * 31 + p[i];
	return s;
}

static void fill(void)
{
	for (size_t pg = 0; pg < mem_len / PAGE; pg++) {
		uint64_t *p = (uint64_t *)(mem + pg * PAGE);
		for (size_t j = 0; j < PAGE / 8; j++)
			p[j] = (pg + 1) * 0x9e3779b97f4a7c15ULL + j;
	}
}

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&signals_seen, 1);
}

static void *feeder(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_flag)) {
		struct timespec ts = { 0, 300000 };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		char c = 'x';
		ssize_t n;
		while ((n = write(feed[1], &c, 1)) < 0 && errno == EINTR)
			;
		if (n != 1)
			break;
	}
	return NULL;
}

static void *stdin_watch(void *arg)
{
	(void)arg;
	char buf[64];
	ssize_t n;
	while ((n = read(0, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		;
	atomic_store(&stop_flag, 1);
	char c = 'q';
	if (write(feed[1], &c, 1) != 1)
		return NULL;
	return NULL;
}

/* An EINTR is fine only if one of our handlers ran meanwhile. */
static void check(const char *what, long ret, int err, long want, unsigned sig_before)
{
	if (ret == want)
		return;
	if (ret < 0 && err == EINTR && atomic_load(&signals_seen) != sig_before)
		return;
	note_failure(what, ret < 0 ? -err : ret);
}

static void busy_loop(void)
{
	static int futex_word;
	while (!atomic_load(&stop_flag)) {
		iterations++;
		if (checksum() != expect_sum)
			note_failure("checksum mismatch", (long)iterations);

		unsigned s0 = atomic_load(&signals_seen);
		struct timespec ts = { 0, 200000 };
		errno = 0;
		long r = nanosleep(&ts, NULL);
		check("nanosleep", r, errno, 0, s0);

		s0 = atomic_load(&signals_seen);
		char c;
		errno = 0;
		r = read(feed[0], &c, 1);
		check("read(pipe)", r, errno, 1, s0);

		s0 = atomic_load(&signals_seen);
		struct timespec to = { 0, 100000 };
		errno = 0;
		r = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, &to, NULL, 0);
		if (!(r < 0 && errno == ETIMEDOUT))
			check("futex", r, errno, -2, s0);
	}
}

/* ---- waiters: blocking calls that a stop interrupts with EINTR ----------- */

static int sockp[2];
static pid_t sigwaiter_tid;
static atomic_int sigwaiter_ready;

static void waiter_eintr(const char *what)
{
	atomic_fetch_add(&eintrs, 1);
	note_failure(what, -EINTR);
}

static void *recv_waiter(void *arg)
{
	(void)arg;
	struct timeval tv = { 3600, 0 };
	setsockopt(sockp[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (;;) {
		char c;
		ssize_t n = recv(sockp[0], &c, 1, 0);
		if (n < 0 && errno == EINTR) {
			waiter_eintr("recv(SO_RCVTIMEO) EINTR");
			continue;
		}
		return NULL;    /* 'q' at the end, or an error */
	}
}

static void *sig_waiter(void *arg)
{
	(void)arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigwaiter_tid = (pid_t)syscall(SYS_gettid);
	atomic_store(&sigwaiter_ready, 1);
	for (;;) {
		struct timespec to = { 3600, 0 };
		int s = sigtimedwait(&set, NULL, &to);
		if (s < 0 && errno == EINTR) {
			waiter_eintr("sigtimedwait EINTR");
			continue;
		}
		return NULL;    /* SIGUSR2 at the end */
	}
}

static void *sleeper(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_flag)) {
		struct timespec ts = { 0, 500000 };
		if (nanosleep(&ts, NULL) < 0)
			waiter_eintr("nanosleep EINTR");
	}
	return NULL;
}

static int waiters_main(void)
{
	pthread_t rt, st, sl;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	/* Blocked everywhere: sigtimedwait takes it, no thread dies of it. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLHUP };
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockp) < 0 ||
	    pthread_create(&rt, NULL, recv_waiter, NULL) || pthread_create(&st, NULL, sig_waiter, NULL) ||
	    pthread_create(&sl, NULL, sleeper, NULL))
		return 2;
	while (!atomic_load(&sigwaiter_ready))
		usleep(1000);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		struct epoll_event got;
		int n = epoll_wait(ep, &got, 1, -1);
		if (n < 0 && errno == EINTR) {
			waiter_eintr("epoll_wait(-1) EINTR");
			continue;
		}
		char buf[64];
		if (n > 0 && read(0, buf, sizeof(buf)) > 0)
			continue;
		break;          /* EOF on stdin */
	}
	atomic_store(&stop_flag, 1);
	if (send(sockp[1], "q", 1, 0) != 1)
		note_failure("send", errno);
	syscall(SYS_tgkill, getpid(), sigwaiter_tid, SIGUSR2);
	pthread_join(rt, NULL);
	pthread_join(st, NULL);
	pthread_join(sl, NULL);
	iterations = 1;
	if (checksum() != expect_sum)
		note_failure("checksum mismatch at exit", 0);
	printf("iterations %lu failures %lu signals %u eintr %u\n", iterations, failures,
	       atomic_load(&signals_seen), atomic_load(&eintrs));
	fflush(stdout);
	return failures ? 1 : 0;
}

/* A single-threaded event loop (an nginx worker): nothing but epoll_wait. */
static int epoll_main(void)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLHUP };
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) < 0)
		return 2;
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		struct epoll_event got;
		int n = epoll_wait(ep, &got, 1, -1);
		char buf[64];
		if (n < 0 && errno == EINTR) {
			atomic_fetch_add(&eintrs, 1);
			continue;
		}
		if (n > 0 && read(0, buf, sizeof(buf)) > 0)
			continue;
		break;          /* EOF on stdin */
	}
	iterations = 1;
	if (checksum() != expect_sum)
		note_failure("checksum mismatch at exit", 0);
	printf("iterations %lu failures %lu signals %u eintr %u\n", iterations, failures,
	       atomic_load(&signals_seen), atomic_load(&eintrs));
	fflush(stdout);
	return failures ? 1 : 0;
}

int checksum_loop_main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 8;
	int busy = !(argc > 2 && strcmp(argv[2], "idle") == 0);
	mem_len = (mib ? mib : 1) << 20;
	mem = mmap(NULL, mem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || pipe(feed) < 0) {
		perror("checksum_loop");
		return 2;
	}
	madvise(mem, mem_len, MADV_NOHUGEPAGE);
	if (argc > 3) {
		size_t gib = strtoul(argv[3], NULL, 10);
		char *sparse = mmap(NULL, gib << 30, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (sparse == MAP_FAILED) {
			perror("checksum_loop: reserve");
			return 2;
		}
		memset(sparse, 7, 1 << 20);
	}
	fill();
	expect_sum = checksum();

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;   /* no SA_RESTART: EINTR allowed after it */
	sigaction(SIGUSR1, &sa, NULL);

	if (argc > 2 && strcmp(argv[2], "waiters") == 0)
		return waiters_main();
	if (argc > 2 && strcmp(argv[2], "epoll") == 0)
		return epoll_main();
	printf("ready\n");
	fflush(stdout);
	if (busy) {
		pthread_t f, w;
		if (pthread_create(&f, NULL, feeder, NULL) || pthread_create(&w, NULL, stdin_watch, NULL))
			return 2;
		busy_loop();
		pthread_join(w, NULL);
		pthread_join(f, NULL);
	} else {
		char buf[64];
		for (;;) {
			unsigned s0 = atomic_load(&signals_seen);
			errno = 0;
			ssize_t n = read(0, buf, sizeof(buf));
			if (n == 0)
				break;
			if (n < 0)
				check("read(stdin)", n, errno, 0, s0);
			if (n < 0 && errno != EINTR)
				break;
		}
		iterations = 1;
		if (checksum() != expect_sum)
			note_failure("checksum mismatch at exit", 0);
	}
	printf("iterations %lu failures %lu signals %u\n", iterations, failures,
	       atomic_load(&signals_seen));
	fflush(stdout);
	return failures ? 1 : 0;
}

#ifndef CHECKSUM_LOOP_NO_MAIN
int main(int argc, char **argv)
{
	return checksum_loop_main(argc, argv);
}
#endif
