/* pidref.c — process identity that survives PID reuse: pidfd + start time. */
#include "pidref.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int proc_stat_parse_start(const char *buf, unsigned long long *out)
{
	/* comm (field 2) may hold spaces and parentheses: fields after it start
	 * after the *last* ')'. Field 3 (state) follows ") "; starttime is
	 * field 22, i.e. the 20th field after comm. */
	const char *p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	p++;
	for (int field = 3; field < 22; field++) {
		while (*p == ' ')
			p++;
		if (!*p)
			return -EINVAL;
		while (*p && *p != ' ')
			p++;
	}
	while (*p == ' ')
		p++;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (errno || (*end && *end != ' ' && *end != '\n'))
		return -EINVAL;
	*out = v;
	return 0;
}

int proc_start_time(pid_t pid, unsigned long long *out)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	int err = errno;
	close(fd);
	if (n < 0)
		return err == ENOENT ? -ESRCH : -err;
	if (n == 0)
		return -ESRCH;      /* exiting task: stat reads empty */
	buf[n] = '\0';
	return proc_stat_parse_start(buf, out);
}

int pidref_open(struct pidref *r, pid_t pid, unsigned long long expect)
{
	r->pid = pid;
	r->pidfd = -1;
	r->start_time = 0;
	if (pid <= 0)
		return -ESRCH;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return errno == ESRCH ? -ESRCH : -errno;
	/* The pidfd pins one process. Read the start time *after* opening it,
	 * then check the pidfd still shows the process alive: if it is, the
	 * /proc/PID we read belonged to the pidfd's process (a PID is only
	 * reused after its process has exited and been reaped). */
	unsigned long long st;
	int rc = proc_start_time(pid, &st);
	if (rc == 0) {
		struct pidref tmp = { .pid = pid, .pidfd = fd, .start_time = st };
		if (!pidref_alive(&tmp))
			rc = -ESRCH;
		else if (expect && st != expect)
			rc = -ESRCH;    /* PID reused since discovery */
	}
	if (rc < 0) {
		close(fd);
		return rc;
	}
	r->pidfd = fd;
	r->start_time = st;
	return 0;
}

bool pidref_alive(const struct pidref *r)
{
	if (!r || r->pidfd < 0)
		return false;
	struct pollfd p = { .fd = r->pidfd, .events = POLLIN };
	int n;
	do
		n = poll(&p, 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return false;
	return !(p.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL));
}

int pidref_verify(const struct pidref *r)
{
	if (!r || r->pidfd < 0 || !r->start_time)
		return -ESRCH;
	unsigned long long st;
	int rc = proc_start_time(r->pid, &st);
	if (rc < 0)
		return rc;
	if (st != r->start_time || !pidref_alive(r))
		return -ESRCH;
	return 0;
}

void pidref_close(struct pidref *r)
{
	if (r && r->pidfd >= 0) {
		close(r->pidfd);
		r->pidfd = -1;
	}
}
