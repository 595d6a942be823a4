/* daemon.h — the daemon's state, shared by the files that make it up:
 * members.c (which processes belong to which app), lifecycle.c (enrolling
 * them, retries, rescans, the profit check, undo), figures.c (per-app
 * memory figures), commands.c (ksmplusctl requests), daemon.c (status to
 * systemd, reload) and ksmplusd.c (main: options, event loop, signals). */
#ifndef KSMPLUS_DAEMON_H
#define KSMPLUS_DAEMON_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "applist.h"
#include "policy.h"
#include "config.h"
#include "control.h"
#include "enroll.h"
#include "procwatch.h"
#include "protocol.h"
#include "statefile.h"
#include "tracker.h"

#define KIB(bytes) ((long long)(bytes) / 1024)

/* Per app: the profit check's memory (lifecycle.c). */
struct app_state {
	char name[256];
	struct policy_loss loss;
	uint64_t retry_usec;            /* dropped: enrolled and judged again then */
	unsigned drops;
};

struct daemon {
	sd_event *ev;
	struct config cfg;
	struct applist apps;
	struct enroller enr;
	struct tracker tr;
	struct procwatch *pw;
	struct control *ctl;
	sd_event_source *rescan;
	sd_event_source *reaper;        /* while a dead tracee awaits collection */
	sd_event_source *retry;         /* while a "later" skip awaits its retry */
	struct app_state *appst;        /* grown by array_grow; never hold a pointer */
	size_t n_appst, cap_appst;      /* across a lookup that may add */
	const char *config_path;
	pid_t self;             /* getpid() is a syscall; it runs per exec event */
	bool ready;
	struct figures_worker *fig;     /* figures.c */
	bool paused;            /* after `unmerge --all`: enroll nothing until resumed */
	struct governor *gov;   /* governor_io.c (fixed: the smart_scan window only) */
	struct metrics *metrics;        /* metrics.c: the textfile writer, or NULL */
	/* Since start, for metrics: what enroll attempts ended in (lifecycle.c). */
	struct {
		unsigned long long enrolled, later, skipped, gone, dropped;
	} count;
	struct analysis *ana;   /* analysis.c: ksmplusctl analyze's census worker */
	struct rangeplan *rp;   /* rangeplan.c: policy = census's worker and plans */
	/* statefile.h: forecasts and census summaries kept across restarts,
	 * in state_dir (loaded at start, saved when one changes). */
	const char *state_dir;
	struct statefile state;
	bool state_warned;      /* a failing save is logged once, not per census */
};

/* members.c: the procwatch callback (userdata: the daemon). */
void members_on_procwatch(enum procwatch_event ev, const struct procwatch_info *info, void *ud);
/* Processes moved into a cgroup app's cgroup announce nothing: looked for on
 * the rescan timer. */
void members_rescan_cgroups(struct daemon *d);

/* lifecycle.c */
void lifecycle_enroll(struct daemon *d, struct tracked *t);
/* Whole-process enrollment, whatever t's app's policy: what policy = whole
 * does, and a census app's fallback for a process its census cannot read. */
void lifecycle_enroll_whole(struct daemon *d, struct tracked *t);
void lifecycle_arm_reaper(struct daemon *d);
/* t was skipped for now (res.err: -EAGAIN, -ETIMEDOUT...): enrolled again
 * with back-off; lasting (a frozen cgroup) is never given up on. */
void lifecycle_schedule_retry(struct daemon *d, struct tracked *t, bool lasting);
int lifecycle_on_retry(sd_event_source *s, uint64_t usec, void *ud);
int lifecycle_on_rescan(sd_event_source *s, uint64_t usec, void *ud);
/* How long one command (remove --unmerge, unmerge --all) or one retry
 * callback may undo or enroll before the event loop must run again. */
#define LIFECYCLE_BATCH_USEC 400000ULL
struct forget_result {
	size_t unmerged;        /* undone now (or gone: nothing left merging) */
	size_t pending;         /* handed to the retry timer: still merging; the
				 * log says when each is done or given up on */
};
/* Stops treating app's processes as ours; with unmerge, undoes their
 * enrollment until deadline_usec (lifecycle_deadline(); 0: all in the
 * background, UINT64_MAX: no limit), the rest in the background. A command
 * over many apps passes them all one deadline: the loop waits for it once. */
struct forget_result lifecycle_forget_app(struct daemon *d, const char *app, bool unmerge,
					  uint64_t deadline_usec);
/* The deadline of a command's undos: LIFECYCLE_BATCH_USEC from now. */
uint64_t lifecycle_deadline(void);
/* lifecycle_forget_app(unmerge) of every app, within one deadline (unmerge
 * --all, unmerge_on_stop); the sums. */
struct forget_result lifecycle_forget_all(struct daemon *d);
/* Undos the retry timer still holds (removed apps' processes). */
size_t lifecycle_undos_pending(void);
/* At stop (unmerge_on_stop), when the retry timer is gone with the loop:
 * goes on with the undos it held, without back-off, for up to within_usec.
 * Returns how many are left. */
size_t lifecycle_finish_undos(struct daemon *d, uint64_t within_usec);

/* figures.c */
struct app_figures {
	size_t procs;
	long long enrolled_kib, merging_kib, profit_kib;
	/* exact: what the app really saves and its PSS (savings.h); when page
	 * frames cannot be read (no CAP_SYS_ADMIN), saved_kib falls back to
	 * profit_kib, which overstates, and exact is false. */
	long long saved_kib, pss_kib;
	bool exact;
};
void figures_tracked(const struct tracked *t, struct app_figures *f);
/* pid's resident anonymous KiB (statm: resident - shared, which is
 * status's RssAnon), 0 when gone; read into a stack buffer, not stdio: the
 * governor calls it per process per tick and the census (rangeplan.c) per
 * member at every look at an app, and a FILE's buffer a read is what an
 * ASan daemon's quarantine kept (reliability/40-bounds: tens of MiB). */
long long figures_rss_anon_kib(pid_t pid);
/* Figures of every app of d->apps.effective: f[i] for app i; per_proc
 * (NULL, or d->tr.n entries) gets each tracked process's own. Live figures
 * from ksm_stat; saved_kib/pss_kib from the latest exact computation, which
 * a worker thread does off the loop (figures_age_ms old; a new one is
 * started when they are older than FIGURES_FRESH_USEC). */
void figures_apps(struct daemon *d, struct app_figures *f, struct app_figures *per_proc);
#define FIGURES_FRESH_USEC 1000000ULL
int figures_init(struct daemon *d);
void figures_free(struct daemon *d);
/* Starts a new exact computation unless one runs or the latest is younger
 * than max_age_usec or than ten times what the latest took (the walk is
 * held to a tenth of a core). */
void figures_refresh(struct daemon *d, uint64_t max_age_usec);
/* Age of the published exact figures, or -1 when there are none yet. */
long long figures_age_ms(const struct daemon *d);
/* The exact saving of one app's enrolled processes, bytes, as last
 * computed: 0, or -EAGAIN when there is none (yet) for app. */
int figures_app_saved(const struct daemon *d, const char *app, long long *saved_bytes);
/* App's merging pages (ksm_merging_pages + ksm_zero_pages) and resident
 * anonymous KiB as the exact computation last read them, when it started
 * at most max_age_usec ago and counted the app's processes enrolled now:
 * 0, or -EAGAIN (read them yourself). The governor's tick takes them
 * rather than read /proc again while status keeps them fresh. */
int figures_app_recent(const struct daemon *d, const char *app, uint64_t max_age_usec,
		       long long *merging_pages, long long *anon_kib);

/* analysis.c: op=analyze (a duplicate census in a worker thread). */
struct analysis_forecast {
	char app[256];                  /* NAME, or cgroup:GLOB */
	int64_t when;                   /* unix seconds: when the census finished */
	unsigned sample;
	long long saved_kib;            /* the app merged alone */
	long long shared_kib;           /* merged with the apps enrolled then */
	long long depends_kib;          /* shared - saved: owed to those apps */
	long long net_kib;              /* shared less rmap_items: what status's
					 * exact saving measures */
};
/* The last forecast made for app: true, or false when there is none. */
bool analysis_forecast(const struct daemon *d, const char *app, struct analysis_forecast *out);
int analysis_init(struct daemon *d);
void analysis_free(struct daemon *d);      /* cancels a running census */
void analysis_command(struct daemon *d, const struct proto_record *req, struct proto_msg *reply);

/* commands.c: the control socket's request handler (userdata: the daemon). */
void commands_on_control(const struct proto_record *req, uid_t peer_uid, struct proto_msg *reply,
			 void *ud);

/* daemon.c */
void daemon_update_status(struct daemon *d);
/* Writes d->state to d->state_dir (after a forecast or census changed it). */
void daemon_save_state(struct daemon *d);
int daemon_reload(struct daemon *d, char *err, size_t errlen);
#endif
