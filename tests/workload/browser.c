/* browser — a test workload shaped like a browser: a parent that fills N MiB
 * and starts --children renderers, each a child exec'ing another program
 * (--renderer PATH, e.g. a twin copy under another name) with --mib and its
 * own status file STATUSDIR/r.<i>. With --on-signal the renderers start only
 * at SIGUSR1 (so the parent can be enrolled first). Writes "ready PID" to
 * STATUSDIR/browser once filled, "started N" once the renderers run. Exits on
 * SIGTERM; renderers die with it (PR_SET_PDEATHSIG).
 *
 * Sandboxes, as browsers put their renderers in, installed before the exec
 * (with no_new_privs, so they stay): --sandbox gives every renderer a filter
 * that fails ptrace with EPERM and allows the rest; --kill-prctl I makes
 * renderer I's filter kill the process on prctl; --kill-both J makes
 * renderer J's kill it on prctl and on madvise.
 * --self-merge: prctl(PR_SET_MEMORY_MERGE, 1) first, so every process of the
 * tree is merged from birth (the benchmark's baseline). */
#include <errno.h>
#include <getopt.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t want_start, want_exit;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_start = 1;
	else
		want_exit = 1;
}

/* kill_prctl / kill_madvise: kill the process on those syscalls. */
static int sandbox(int kill_prctl, int kill_madvise)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ptrace, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kill_prctl ? SYS_prctl : 0xffff, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kill_madvise ? SYS_madvise : 0xffff, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

static void say(const char *dir, const char *word, long v)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/browser", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "%s %ld\n", word, v);
	fclose(f);
}

int main(int argc, char **argv)
{
	const char *renderer = NULL, *dir = ".", *mib = "4";
	long n = 3, kill_prctl = -1, kill_both = -1;
	int on_signal_start = 0, sandboxed = 0, self_merge = 0, c;
	static const struct option opts[] = {
		{ "renderer", required_argument, NULL, 'r' },
		{ "children", required_argument, NULL, 'n' },
		{ "mib", required_argument, NULL, 'm' },
		{ "status", required_argument, NULL, 's' },
		{ "on-signal", no_argument, NULL, 'S' },
		{ "sandbox", no_argument, NULL, 'b' },
		{ "self-merge", no_argument, NULL, 'M' },
		{ "kill-prctl", required_argument, NULL, 'k' },
		{ "kill-both", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 },
	};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': renderer = optarg; break;
		case 'n': n = strtol(optarg, NULL, 10); break;
		case 'm': mib = optarg; break;
		case 's': dir = optarg; break;
		case 'S': on_signal_start = 1; break;
		case 'b': sandboxed = 1; break;
		case 'M': self_merge = 1; break;
		case 'k': kill_prctl = strtol(optarg, NULL, 10); break;
		case 'K': kill_both = strtol(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: browser --renderer PATH [--children N] [--mib N] "
				"[--status DIR] [--on-signal] [--sandbox] [--kill-prctl I] [--kill-both J]\n");
			return 2;
		}
	}
	if (!renderer) {
		fprintf(stderr, "browser: --renderer PATH is required\n");
		return 2;
	}
	/* PR_SET_MEMORY_MERGE (67): inherited by fork, kept across exec */
	if (self_merge && prctl(67, 1, 0, 0, 0) < 0) {
		perror("browser: PR_SET_MEMORY_MERGE");
		return 1;
	}
	size_t len = strtoul(mib, NULL, 10) << 20;
	unsigned char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("browser: mmap");
		return 1;
	}
	for (size_t i = 0; i < len; i++)
		mem[i] = (unsigned char)(i / 4096 * 13 + 5);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);

	pid_t self = getpid();
	say(dir, "ready", (long)self);
	want_start = !on_signal_start;
	while (!want_start && !want_exit)
		sigsuspend(&old);
	pid_t kids[64];
	long started = 0;
	if (n > 64)
		n = 64;
	for (; started < n && !want_exit; started++) {
		pid_t p = fork();
		if (p < 0)
			break;
		if (p == 0) {
			char st[4096];
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != self)
				_exit(0);
			sigprocmask(SIG_SETMASK, &old, NULL);
			if ((sandboxed || started == kill_prctl || started == kill_both) &&
			    sandbox(started == kill_prctl || started == kill_both,
				    started == kill_both) < 0)
				_exit(126);
			snprintf(st, sizeof(st), "%s/r.%ld", dir, started);
			execl(renderer, renderer, "--mib", mib, "--status", st, (char *)NULL);
			_exit(127);
		}
		kids[started] = p;
	}
	say(dir, "started", started);
	while (!want_exit)
		sigsuspend(&old);
	for (long i = 0; i < started; i++)
		kill(kids[i], SIGTERM);
	while (wait(NULL) > 0)
		;
	return 0;
}
