/* pidref.h — a process identity that survives PID reuse: a pidfd plus the
 * start time (field 22 of /proc/PID/stat) it was matched with. Nothing acts on
 * a process without first holding a pidref whose start time was confirmed. */
#ifndef KSMPLUS_PIDREF_H
#define KSMPLUS_PIDREF_H
#include <stdbool.h>
#include <sys/types.h>

struct pidref {
	pid_t pid;
	int pidfd;                      /* -1 when closed */
	unsigned long long start_time;  /* clock ticks since boot */
};

/* Reads /proc/PID/stat field 22. 0, or -errno (-ESRCH when gone). */
int proc_start_time(pid_t pid, unsigned long long *out);
/* Parses the start time out of /proc/PID/stat text (comm may contain spaces
 * and parentheses: fields are counted after the last ')'). 0 or -EINVAL. */
int proc_stat_parse_start(const char *buf, unsigned long long *out);
/* Opens a pidfd and confirms the start time equals expect (if expect != 0) or
 * records it (expect == 0). 0, -ESRCH if gone or reused, other -errno. */
int pidref_open(struct pidref *r, pid_t pid, unsigned long long expect);
/* true while the process has not exited (pidfd not readable). */
bool pidref_alive(const struct pidref *r);
/* Re-confirms r still names the process it was opened on: start time of
 * /proc/PID unchanged and pidfd not exited. 0, or -ESRCH. */
int pidref_verify(const struct pidref *r);
void pidref_close(struct pidref *r);
#endif
