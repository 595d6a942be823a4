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
 * Page i of the memory holds a pattern of i only (two instances have
 * identical pages, no two pages of one instance are alike). Prints "ready"
 * once filled; stops at EOF on stdin; prints a summary; exit status 0 if no
 * failure was seen, 1 otherwise. */
#include <errno.h>
#include <linux/futex.h>
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
	fill();
	expect_sum = checksum();

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;   /* no SA_RESTART: EINTR allowed after it */
	sigaction(SIGUSR1, &sa, NULL);

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
