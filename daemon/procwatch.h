/* procwatch.h — finding processes: one libproc2 sweep, then exec/comm/fork/
 * exit events from the netlink proc connector. On ENOBUFS (events lost) a
 * full sweep; without the connector, a periodic sweep. Driven by sd-event. */
#ifndef KSMPLUS_PROCWATCH_H
#define KSMPLUS_PROCWATCH_H
#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

struct procwatch;

enum procwatch_event {
	PW_SEEN,    /* found by a sweep, or exec'd, or changed comm */
	PW_FORK,    /* child of parent_pid */
	PW_EXIT,
	PW_SWEEP_DONE,  /* a full sweep finished (PW_SEEN for each live process before) */
};

struct procwatch_info {
	pid_t pid;
	pid_t parent_pid;               /* PW_FORK; PW_SEEN: the parent now (0 if unknown) */
	unsigned long long start_time;  /* 0 if unknown (events); caller reads it */
	char comm[16];
	char exe_base[256];             /* "" for kernel threads / unreadable */
};

typedef void (*procwatch_cb)(enum procwatch_event ev, const struct procwatch_info *info,
			     void *userdata);

/* Starts watching: subscribes to the connector (if it can), then does the
 * first sweep synchronously (callbacks run before this returns). sweep_sec:
 * period of fallback sweeps when the connector is unavailable. */
int procwatch_start(sd_event *ev, procwatch_cb cb, void *userdata, unsigned sweep_sec,
		    struct procwatch **out);
bool procwatch_has_connector(const struct procwatch *w);
int procwatch_sweep(struct procwatch *w);    /* full sweep now */
void procwatch_stop(struct procwatch *w);
/* Every live user process (no kernel thread, no zombie), from one walk of
 * /proc, independent of any watch (a worker thread may call it): visit(info,
 * ud) for each until it returns non-zero, which is returned. 0, that, or
 * -errno. */
typedef int (*procwatch_visit)(const struct procwatch_info *info, void *ud);
int procwatch_each(procwatch_visit visit, void *ud);
/* Fills comm and exe_base of pid from /proc. 0 or -errno. */
int procwatch_identify(pid_t pid, struct procwatch_info *info);
#endif
