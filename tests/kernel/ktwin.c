/* ktwin — guest helper for the sh tests: a twin workload (see kt.h) run as
 * its own program, so that its comm is "ktwin" and daemons can find it by
 * name.
 *   ktwin MIB STATUS   map MIB MiB, fill them, append "ready ADDR LEN" to STATUS
 *   SIGUSR1            verify every region: append "verify ok" or "verify bad N"
 *   SIGUSR2            map and fill MIB more MiB: append "grown ADDR LEN"
 *   SIGTERM            exit
 * ADDR is hexadecimal without 0x, LEN in bytes. */
#define KT_NAME "ktwin"
#include "kt.h"

#define MAX_REGIONS 8

static volatile sig_atomic_t want_verify, want_grow;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_verify = 1;
	else
		want_grow = 1;
}

static void status(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "a");
	va_list ap;

	if (!f)
		exit(2);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

int main(int argc, char **argv)
{
	unsigned char *mem[MAX_REGIONS];
	size_t len, n = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, old;

	if (argc != 3)
		return 2;
	len = strtoul(argv[1], NULL, 10) * KT_MIB;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	want_grow = 1;
	for (;;) {
		if (want_grow && n < MAX_REGIONS) {
			want_grow = 0;
			mem[n] = mmap(NULL, len, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (mem[n] == MAP_FAILED)
				return 2;
			kt_fill(mem[n], len);
			status(argv[2], "%s %lx %zu\n", n ? "grown" : "ready",
			       (unsigned long)mem[n], len);
			n++;
		}
		if (want_verify) {
			size_t bad = 0;

			want_verify = 0;
			for (size_t i = 0; i < n; i++)
				bad += kt_check(mem[i], len);
			if (bad)
				status(argv[2], "verify bad %zu\n", bad);
			else
				status(argv[2], "verify ok\n");
		}
		sigsuspend(&old);
	}
}
