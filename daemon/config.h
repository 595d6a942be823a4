/* config.h — the app list and settings, from /etc/ksmplusd.conf and the
 * drop-ins /etc/ksmplusd.conf.d/NAME.conf (lexical order), parsed with inih.
 * Every error names file:line. */
#ifndef KSMPLUS_CONFIG_H
#define KSMPLUS_CONFIG_H
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include "strlist.h"

#define CONFIG_DEFAULT_PATH "/etc/ksmplusd.conf"
#define CONFIG_CTL_DROPIN  "90-ksmplusctl.conf"   /* owned by ksmplusctl */
#define CONFIG_MAX_KNOBS 16

enum backend_pref { BACKEND_AUTO, BACKEND_PMADV, BACKEND_PTRACE };
enum governor_kind { GOVERNOR_FIXED, GOVERNOR_PRESSURE, GOVERNOR_ADVISOR };      /* governor.h */

struct ksmd_setting {
	char knob[40];          /* e.g. "pages_to_scan" */
	char value[64];
	char file[PATH_MAX];    /* where it was set, for error messages */
	int line;
};

struct config {
	struct strlist apps;
	struct strlist excludes;        /* default: mysqld mariadbd */
	struct strlist no_children;     /* [app NAME] children = no */
	/* policy = census (rangeplan.h): [ksmplusd] policy, and [app NAME]
	 * policy, which wins for that app */
	bool policy_census;
	struct strlist census_apps, whole_apps;
	unsigned census_interval_sec;   /* [ksmplusd] census_interval_sec */
	struct ksmd_setting knobs[CONFIG_MAX_KNOBS];
	size_t n_knobs;
	enum backend_pref backend;
	unsigned rescan_sec;            /* re-read maps of range-enrolled processes */
	unsigned sweep_sec;             /* full /proc sweep when no proc connector */
	bool unmerge_on_stop;
	bool drop_unprofitable;         /* policy.c: undo enrollments that lose memory */
	unsigned profit_min_scans;      /* full scans an app's loss must last */
	unsigned profit_min_sec;        /* seconds it must last, too */
	unsigned profit_backoff_sec;    /* before a dropped app is tried again (doubling) */
	size_t max_processes;           /* tracked at most (tracker.h); default 8192 */
	bool cross_user;                /* cross_user = allow: enroll several uids at once */
	enum governor_kind governor;    /* [ksmd] governor = fixed | pressure | advisor */
	bool governor_set;              /* the key was given (config_settle_governor) */
	unsigned max_cpu_percent;       /* [ksmd] the governor's ksmd CPU cap */
	unsigned burst_growth_mib;      /* [ksmd] an app grown by more bursts again; 0: never */
	char metrics_textfile[PATH_MAX];        /* [metrics] textfile; "" = none */
	unsigned metrics_interval_sec;  /* [metrics] how often it is rewritten */
	bool excludes_set;              /* an `exclude` line replaced the default */
	char path[PATH_MAX];            /* main file */
	char dropin_dir[PATH_MAX];      /* path + ".d" */
};

void config_init(struct config *c);          /* defaults */
/* Frees the lists; c needs config_init() again before reuse. */
void config_free(struct config *c);
/* c must come fresh from config_init(); on error it holds a partial result
 * (still to be config_free()d).
 * Loads path, then path.d/ *.conf in lexical order. A missing main file is an
 * error; a missing .d directory is not. On error returns -1 and writes
 * "file:line: reason" into err. */
/* Without a `governor` key: pressure, unless the files set ksmd's pace
 * (pages_to_scan, sleep_millisecs, run or an advisor knob) — an admin who
 * wrote the pace wants it kept, so that means fixed. config_load calls it. */
void config_settle_governor(struct config *c);
int config_load(const char *path, struct config *c, char *err, size_t errlen);
/* Parses one file into c (used by config_load and unit tests). */
int config_parse_file(const char *file, struct config *c, char *err, size_t errlen);
/* Rewrites the ksmplusctl drop-in (dropin_dir/CONFIG_CTL_DROPIN) to hold
 * names, atomically (temp file + rename). 0 or -1 with err set. */
int config_write_ctl_dropin(const char *dropin_dir, const struct strlist *names,
			    char *err, size_t errlen);
/* Reads the names in the ksmplusctl drop-in (empty list if absent). */
int config_read_ctl_dropin(const char *dropin_dir, struct strlist *names,
			   char *err, size_t errlen);
const char *config_backend_name(enum backend_pref b);
/* Is name usable as an app/exclude name (non-empty, <= CONFIG_NAME_MAX,
 * no '/', ',', whitespace or control characters, not starting with '#')?
 * If not and why is non-NULL, *why says what is wrong. */
#define CONFIG_NAME_MAX 255
bool config_name_ok(const char *name, const char **why);
#endif
