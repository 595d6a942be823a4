/* metrics.h — the daemon's figures in the Prometheus text exposition format,
 * for `ksmplusctl metrics` and for node_exporter's textfile collector
 * (`[metrics] textfile = PATH`, rewritten atomically every interval_sec).
 *
 * Names sit beside node_exporter's node_ksmd_* (ksmd's own counters, which
 * are not repeated here): ksmplus_* for what only ksmplusd knows — per-app
 * processes, enrolled/merging/saved bytes, enroll outcomes, the governor —
 * plus ksmd's CPU time and general_profit, which node_exporter lacks. */
#ifndef KSMPLUS_METRICS_H
#define KSMPLUS_METRICS_H
#include <stddef.h>

struct daemon;
struct app_figures;

/* What metrics_format() shows besides per-app figures: read by the caller,
 * so that formatting is a pure function (unit-tested). */
struct metrics_global {
	const char *backend;            /* enroll_backend_name() */
	long long general_profit;       /* bytes; can be negative */
	double ksmd_cpu_seconds;        /* < 0: unknown */
	size_t tracked, untracked;      /* processes; untracked = refused at the cap */
	unsigned long long enrolled, later, skipped, gone, dropped;
	const char *gov_state;          /* NULL: governor = fixed (which has gov_smart_window) */
	unsigned gov_knob_writes;
	int gov_smart_window;           /* 1 smart_scan held off for new memory, 0 not; -1 not steered */
	double figures_age_seconds;     /* < 0: none yet */
};

/* The exposition text for n apps (names[i], f[i]); a malloc'd string
 * (free it), NULL when out of memory. */
char *metrics_format(const struct metrics_global *g, const char *const *names,
		     const struct app_figures *f, size_t n);
/* The same, from the daemon's state now. */
char *metrics_render(struct daemon *d);
/* Writes text to path atomically (a temporary file in the same directory,
 * then rename), so that node_exporter never reads half a file. 0, or -1
 * with err = "PATH: reason". */
int metrics_write_file(const char *path, const char *text, char *err, size_t errlen);
/* The textfile writer: started when the config names a textfile (written
 * at once, then every interval_sec); stop removes nothing (the last figures
 * stay, with their age in ksmplus_figures_age_seconds). */
int metrics_start(struct daemon *d);
void metrics_stop(struct daemon *d);
#endif
