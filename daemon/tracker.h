/* tracker.h — the processes ksmplusd has matched: which app, how they were
 * enrolled (or why not), and the ranges advised so rescans add only new ones
 * (only for processes enrolled by range: a whole-process enrollment needs
 * none, and 60,000 VMAs are 1 MB a process). Only matching processes live
 * here, at most max_processes of them (config.h), so a plain array is
 * enough. */
#ifndef KSMPLUS_TRACKER_H
#define KSMPLUS_TRACKER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "enroll.h"
#include "pidref.h"
#include "vmas.h"

enum tracked_state {
	TRACKED_ENROLLED,
	TRACKED_SKIPPED,        /* cannot be enrolled (traced, seccomp, ...) */
	TRACKED_FAILED,
	TRACKED_DROPPED,        /* enrolled, then undone by policy: it lost memory */
};

struct tracked {
	struct pidref ref;
	char app[256];
	/* For display only (logs, status): the comm escaped (log_escape), as a
	 * process may name itself "\x1b[2J"; matching uses procwatch's raw one. */
	char comm[64];
	uid_t uid;                      /* effective uid: its security domain */
	enum tracked_state state;
	enum enroll_mode mode;
	struct vma_list advised;        /* ENROLL_RANGES: what was advised */
	/* An app is a process tree: by_tree when the process belongs to the
	 * app through an ancestor, not by its own name; inherited when it was
	 * enrolled by fork/exec from an enrolled parent (KSM keeps the merge
	 * setting), not by us. */
	bool by_tree;
	bool by_cgroup;                 /* a cgroup app's member (cgroups.h) */
	bool inherited;
	char reason[160];               /* why skipped or failed */
	/* policy = census (rangeplan.h): advised holds the planned ranges;
	 * census_anon_kib its RssAnon when last censused (0: never). */
	bool census;
	uint64_t census_anon_kib;
	/* census: the plan a "later" kept from being advised (stopped,
	 * frozen): its retry advises it, without censusing the app again. */
	struct vma_list pending;
	bool cross_user;                /* skipped for another uid's enrolled processes */
	/* A "later" skip (stopped, in D state, interrupted...) is retried with
	 * exponential back-off: when (CLOCK_MONOTONIC usec, 0 = not due) and
	 * how many times so far. */
	uint64_t retry_usec;
	unsigned retries;
};

struct tracker {
	struct tracked *v;
	size_t n, cap;
	/* At max_processes (members.c): processes refused since the cap was
	 * last reached, shown in status; at_cap while there, so the log says
	 * it once. */
	bool at_cap;
	size_t refused;
	/* Called with each entry as it leaves (tracker_remove, tracker_clear),
	 * before its pidref is closed: what others hold per process (the
	 * governor's cgroup watches) goes with it. NULL: nobody. */
	void (*on_release)(const struct tracked *t, void *ud);
	void *release_ud;
};

struct tracked *tracker_find(struct tracker *t, pid_t pid);
/* Adds an entry (takes ownership of ref's pidfd). NULL on ENOMEM. app may
 * point into the tracker itself; comm is the raw one (escaped here). The add may move every entry:
 * pointers to entries taken before it are stale after it. */
struct tracked *tracker_add(struct tracker *t, const struct pidref *ref, const char *app,
			    const char *comm);
/* Sets t's displayed comm from a raw one. */
void tracker_set_comm(struct tracked *t, const char *raw);
void tracker_remove(struct tracker *t, pid_t pid);
void tracker_clear(struct tracker *t);
size_t tracker_count(const struct tracker *t, const char *app, enum tracked_state state);
const char *tracker_state_name(enum tracked_state s);
#endif
