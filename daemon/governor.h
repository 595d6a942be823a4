/* governor.h — ksmd's pace, chosen from memory pressure and merge progress
 * (`[ksmd] governor = pressure | advisor`). Two halves:
 *
 * * the state machine (gov_*): a pure function from inputs (time, ksmd's
 *   counters and CPU, pressure and enrollment events) to a state and the
 *   knobs it wants; unit-tested with injected time;
 * * the daemon side (governor_*): its inputs as sd-event sources (PSI
 *   triggers, v1 memory.pressure_level eventfds, v2 memory.events inotify
 *   watches, a timer for MemAvailable, ksmd's counters and CPU, the apps'
 *   resident memory) and the knob writes, which read each knob back first
 *   and stop steering one that someone else changed.
 *
 * Two sets of outputs for the same states: `pressure` writes pages_to_scan
 * and sleep_millisecs; `advisor` turns the kernel's scan-time advisor on
 * and writes its target scan time and CPU cap, and run (0 when idle: the
 * advisor keeps ksmd at 10 % of a core at least, KSM_ADVISOR_MIN_CPU, so a
 * slow advisor pace does not exist).
 *
 * smart_scan window: newly enrolled memory (an enrollment, census ranges
 * added, an app's growth) turns KSM's smart_scan off until that memory had
 * GOV_SMART_SCANS full scans (governor.c says why that many), then puts it
 * back: with smart_scan on, an aged page is compared in one full scan out of
 * 9, on its own phase, and a late duplicate may never be in the same scan
 * (tests/integration/68-late-duplicate.sh). Not where [ksmd] sets
 * smart_scan (pinned), nor on a knob someone else changed. governor = fixed
 * runs this window too (gov_window), and nothing else.
 *
 * States: burst after enrollment (until the new memory had two full scans
 * and their merged pages stopped growing), then settle (kernel-default pace)
 * until a full scan gains nothing, then idle (a slow trickle); pressure
 * (ramping, under a ksmd CPU cap) while memory is short. */
#ifndef KSMPLUS_GOVERNOR_H
#define KSMPLUS_GOVERNOR_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum gov_state { GOV_IDLE, GOV_BURST, GOV_SETTLE, GOV_PRESSURE };

struct gov_knobs {
	long long pages_to_scan, sleep_ms;      /* governor = pressure */
	long long scan_time_sec, max_cpu;       /* governor = advisor: advisor_target_scan_time, */
	int run;                                /* advisor_max_cpu, run */
};

struct gov_params {
	unsigned max_cpu_percent;       /* ksmd's CPU cap while bursting or ramping */
	uint64_t min_change_usec;       /* between knob changes, but for leaving idle/settle upward */
	uint64_t pressure_hold_usec;    /* quiet time before pressure counts as over */
	bool advisor;                   /* governor = advisor (for why texts) */
};
#define GOV_MAX_CPU_PERCENT 25
#define GOV_MIN_CHANGE_USEC (10 * 1000000ULL)
#define GOV_PRESSURE_HOLD_USEC (20 * 1000000ULL)
/* smart_scan stays off until full_scans reaches its value at the latest
 * enrollment plus this. */
#define GOV_SMART_SCANS 5

/* The smart_scan window on its own: every governor opens it for new memory,
 * governor = fixed too (the pace is the admin's there, but which pages are
 * compared is not a pace: a late duplicate must still meet its twin). Pure,
 * like the machine below, which holds one. */
struct gov_window {
	long long until;                /* smart_scan off while full_scans < it; 0: never was */
	bool off;                       /* wanted: smart_scan = 0 (the window is open) */
	bool pending;                   /* new memory noted, not yet stepped */
	char why[64];                   /* the enrollment that opened or extended it */
	char pending_why[64];
};
/* New memory (what: "enrolled gimp[12], whole", "gimp grew by 80 MiB"):
 * the next gov_window_step opens the window, or extends it, from there. */
void gov_window_note(struct gov_window *w, const char *what);
/* At a tick: true when off changed. */
bool gov_window_step(struct gov_window *w, long long full_scans);

struct gov_input {
	uint64_t now;                   /* CLOCK_MONOTONIC, usec */
	long long merging, full_scans;   /* merging: enrolled processes' merged pages */
	double cpu_percent;             /* ksmd's, over the last ~10 s; < 0: unknown */
	bool mem_low;                   /* MemAvailable under its threshold (gov_mem_low) */
};

struct gov_machine {
	enum gov_state state;
	char why[128];
	struct gov_knobs knobs;         /* wanted */
	uint64_t last_change;           /* when knobs last changed */
	uint64_t last_pressure;         /* 0: never */
	uint64_t left_pressure;         /* when pressure last ended; 0: never */
	uint64_t hold;                  /* current pressure hold: doubles when it recurs */
	uint64_t ramped;                /* last_pressure at the latest ramp step */
	long long scans_target;         /* burst lasts at least until full_scans reaches it */
	long long merging_mark, scans_mark;     /* at the latest full-scan boundary */
	long long settle_scans;         /* full_scans when settle began */
	bool gaining;                   /* the latest full scan merged more of our pages */
	bool enroll_pending, pressure_pending;
	char enroll_why[64], pressure_why[48];
	unsigned changes;               /* knob changes so far */
	struct gov_window smart;        /* gov_note_enrolled and _grew open it too */
};

void gov_init(struct gov_machine *m, const struct gov_params *p, const struct gov_input *in);
/* Events, taken into account at the next gov_step. */
void gov_note_enrolled(struct gov_machine *m, const char *what);
/* An app's resident anonymous memory grew (burst_growth_mib): burst again,
 * as after an enrollment. */
void gov_note_grew(struct gov_machine *m, const char *app, long long grown_kib);
void gov_note_pressure(struct gov_machine *m, const char *source);
/* Moves the machine on; true when the wanted knobs (smart_off too) changed. */
bool gov_step(struct gov_machine *m, const struct gov_params *p, const struct gov_input *in);
const char *gov_state_name(enum gov_state s);
/* MemAvailable with hysteresis: low under 10 % of MemTotal, and stays low
 * until above 15 %. */
bool gov_mem_low(bool was_low, long long avail_kib, long long total_kib);
/* App growth: *mark is the app's resident anonymous KiB when the latest
 * burst ended (or its low point since). True when now_kib is more than
 * limit_kib above it (limit_kib 0: never); the mark then moves to now_kib.
 * While bursting the mark follows now_kib: that memory is being merged. */
bool gov_grew(long long *mark, long long now_kib, long long limit_kib, bool bursting);
/* cgroup v2 memory.events ("high N\nmax N\n..."): its high and max
 * counters; -1 when the text has no such line. */
void gov_memevents_parse(const char *text, long long *high, long long *max);

/* ---- daemon side ---------------------------------------------------------- */
struct daemon;
struct tracked;
struct proto_record;
/* Starts the governor d->cfg says. Inputs that this machine lacks are
 * logged and left out; advisor on a kernel without it runs as pressure
 * (logged, and in status). governor = fixed runs the smart_scan window
 * alone (its tick reads full_scans and app growth; no pace knob, no
 * pressure source). */
int governor_start(struct daemon *d);
void governor_stop(struct daemon *d);
/* After a reload re-applied [ksmd]: start again from the knobs as they are
 * now (the daemon wrote them, not an admin); knobs an admin took stay
 * theirs. */
void governor_reload(struct daemon *d);
/* lifecycle.c: a process's memory was enrolled. */
void governor_on_enrolled(struct daemon *d, const struct tracked *t);
/* The memory cgroups rel_v1, rel_v2 (paths below the cgroup roots, as in
 * /proc/PID/cgroup; NULL: none) of enrolled process (pid, start_time):
 * watched for pressure (v1 memory.pressure_level, v2 memory.pressure) and
 * v2 memory.events while an enrolled process lives there. Each group's
 * watch is shared, counted once per process; governor_on_enrolled calls it
 * with the process's groups. */
void governor_watch_cgroup(struct daemon *d, pid_t pid, unsigned long long start_time,
			   const char *rel_v1, const char *rel_v2);
/* The process left (the tracker's on_release, which governor_start sets):
 * a group's watch goes, fds and all, with its last enrolled process. */
void governor_forget(struct daemon *d, pid_t pid, unsigned long long start_time);
/* Tests: cgroup roots to use instead of the mounted ones ("" = none);
 * NULL puts back discovery from /proc/self/mounts. */
void governor_set_cgroup_roots(const char *v1_root, const char *v2_root);
/* commands.c: the governor's fields of the status record. */
void governor_status(struct daemon *d, struct proto_record *r);
/* metrics.c: its state's name (NULL with governor = fixed) and knob writes
 * so far; -1 when no governor runs. smart_window: 1 open, 0 closed, -1
 * smart_scan not steered. */
int governor_state(const struct daemon *d, const char **state, unsigned *knob_writes,
		   int *smart_window);
#endif
