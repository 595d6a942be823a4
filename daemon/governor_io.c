/* governor_io.c — the governor in the daemon: its inputs as sd-event
 * sources and its outputs as knob writes (the state machine is governor.c).
 *
 * Inputs: a system PSI trigger on /proc/pressure/memory (EPOLLPRI); per
 * memory cgroup of an enrolled process, v1 memory.pressure_level through
 * cgroup.event_control and an eventfd (hybrid layouts like Debian's) or a
 * v2 memory.pressure trigger (where cgroup2 has the memory controller), and
 * v2 memory.events wherever the file exists (an inotify watch: the kernel
 * raises a modify event when a counter changes; high or max going up is
 * pressure); enrollment (lifecycle.c calls in); and on a timer, only for
 * what has no event: MemAvailable, ksmd's counters and own CPU time, and
 * the apps' resident anonymous memory (growth bursts again).
 *
 * Outputs, through ksmd.c (so they are restored at stop): governor =
 * pressure writes pages_to_scan and sleep_millisecs; governor = advisor sets
 * advisor_mode = scan-time once (remembering pages_to_scan, which the kernel
 * resets when the mode changes) and writes advisor_target_scan_time,
 * advisor_max_cpu and run. Each knob is read back before every write: a
 * value other than the one last written means someone else set it; from
 * then on that knob is theirs: not steered, not restored. Knobs set in
 * [ksmd] are the admin's from the start. governor = fixed steers smart_scan
 * alone, for the smart_scan window (governor.h), on a tick that runs only
 * while a window is open or app growth may open one (start_fixed). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "daemon.h"
#include "array.h"
#include "cgroups.h"
#include "governor.h"
#include "ksmd.h"
#include "ksmstat.h"
#include "log.h"

#define TICK_USEC (2 * 1000000ULL)
#define IDLE_TICK_USEC (10 * 1000000ULL)
#define CPU_SAMPLES 64
#define CPU_CONTROL_USEC (10 * 1000000ULL)
#define CPU_STATUS_USEC (60 * 1000000ULL)
#define MAX_WATCHES 128
/* PSI: some task stalled on memory 150 ms within 1 s. Without
 * CAP_SYS_RESOURCE the kernel wants a window that is a multiple of 2 s. */
#define PSI_TRIGGER "some 150000 1000000"
#define PSI_TRIGGER_UNPRIV "some 300000 2000000"

struct steered {
	const char *knob;
	bool config;            /* set in [ksmd]: the admin's */
	bool admin;             /* changed behind our back: the admin's now */
	char last[32];          /* what we last wrote (or found at start) */
};

/* The knobs a governor may steer; which ones depends on its policy. */
enum { K_PAGES, K_SLEEP, K_ADV_MODE, K_ADV_SCAN, K_ADV_CPU, K_RUN, K_SMART, N_KNOBS };
static const char *const knob_names[N_KNOBS] = {
	"pages_to_scan", "sleep_millisecs", "advisor_mode", "advisor_target_scan_time",
	"advisor_max_cpu", "run", "smart_scan",
};

enum watch_kind { W_V1_LEVEL, W_V2_PRESSURE, W_V2_EVENTS };

struct watch {
	char path[PATH_MAX];    /* the cgroup directory */
	enum watch_kind kind;
	sd_event_source *src;
	int fd;                 /* eventfd (v1) or the memory.pressure file (v2); -1 */
	int ctl_fd;             /* v1: memory.pressure_level, kept open while watched */
	long long high, max;    /* memory.events: the counters last read */
	struct governor *g;
	unsigned refs;          /* enrolled processes in this group (struct member) */
};

/* An enrolled process and the watches of its groups, one per kind at most:
 * a group is watched while an enrolled process lives in it, and its fds go
 * with the last one (a desktop starts every app in a new scope: watches kept
 * for gone ones would pile up to MAX_WATCHES and hold fds for nothing). */
struct member {
	pid_t pid;
	unsigned long long start_time;  /* with pid: the process, not a reused PID */
	struct watch *w[3];             /* one per watch_kind; NULL: none */
};

/* Per app: resident anonymous memory now and at the latest burst. */
struct app_mem {
	char app[256];
	long long kib, mark;
	bool fresh;             /* first seen in this pass: its sum is the mark */
	bool recent;            /* this pass took status's figures (figures_app_recent) */
	bool seen;              /* has enrolled processes in this pass */
};

struct cpu_sample {
	uint64_t usec;
	unsigned long long ticks;
};

struct governor {
	struct daemon *d;
	struct gov_machine m;
	struct gov_params p;
	sd_event_source *tick;
	sd_event_source *psi;
	int psi_fd;
	struct watch *w[MAX_WATCHES];   /* allocated one by one: inotify's userdata */
	size_t n_w;
	struct member *mem;
	size_t n_mem, cap_mem;
	struct steered k[N_KNOBS];
	bool advisor;           /* governor = advisor, and this kernel has it */
	char note[96];          /* why the policy is not the one configured; "" */
	pid_t ksmd_pid;
	struct cpu_sample cpu[CPU_SAMPLES];
	size_t n_cpu, cpu_next;
	unsigned restores;      /* ksmd_restores() at the last rebase */
	bool mem_low, meminfo_ok;
	unsigned writes;
	char v1_root[PATH_MAX], v2_root[PATH_MAX];     /* "" when absent */
	bool v2_memory;         /* cgroup2 has the memory controller */
	struct app_mem *am;
	size_t n_am;
	unsigned memevents;     /* memory.events high/max rises seen */
	bool zero_pages;        /* use_zero_pages = 1: ksm_zero_pages is progress too */
	char smart_orig[32];    /* smart_scan as found (put back when a window ends); "" */
	bool fixed;             /* governor = fixed: the smart_scan window alone */
};

/* governor_set_cgroup_roots: tests' fake cgroup trees */
static bool roots_set;
static char roots_v1[PATH_MAX], roots_v2[PATH_MAX];

/* ---- ksmd's CPU time ---------------------------------------------------- */

/* ksmd is a kernel thread: a child of kthreadd (PID 2) named ksmd. */
static void cpu_sample(struct governor *g, uint64_t now)
{
	unsigned long long ticks;

	if (!g->ksmd_pid || ksmd_thread_ticks(g->ksmd_pid, &ticks) < 0)
		return;
	g->cpu[g->cpu_next] = (struct cpu_sample){ now, ticks };
	g->cpu_next = (g->cpu_next + 1) % CPU_SAMPLES;
	if (g->n_cpu < CPU_SAMPLES)
		g->n_cpu++;
}

/* ksmd's CPU % over (about) the last window usec; -1 when unknown. */
static double cpu_percent(const struct governor *g, uint64_t window)
{
	const struct cpu_sample *last, *old = NULL;

	if (g->n_cpu < 2)
		return -1;
	last = &g->cpu[(g->cpu_next + CPU_SAMPLES - 1) % CPU_SAMPLES];
	for (size_t i = 2; i <= g->n_cpu; i++) {
		const struct cpu_sample *s = &g->cpu[(g->cpu_next + CPU_SAMPLES - i) % CPU_SAMPLES];

		old = s;
		if (last->usec - s->usec >= window)
			break;
	}
	if (!old || last->usec == old->usec)
		return -1;
	double sec = (double)(last->usec - old->usec) / 1e6;
	return (double)(last->ticks - old->ticks) / (double)sysconf(_SC_CLK_TCK) / sec * 100.0;
}

/* ---- MemAvailable -------------------------------------------------------- */

/* Read into a stack buffer, not through a FILE: it runs every tick, and
 * an allocation per tick is what an ASan daemon's quarantine keeps. */
static bool read_meminfo(long long *avail, long long *total)
{
	char buf[4096];
	const char *t, *a;
	ssize_t n;
	int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	t = strstr(buf, "MemTotal:");
	a = strstr(buf, "MemAvailable:");
	return t && a && sscanf(t, "MemTotal: %lld", total) == 1 &&
	       sscanf(a, "MemAvailable: %lld", avail) == 1;
}

/* ---- knobs ----------------------------------------------------------------- */

/* Writes val into k unless it is someone else's; false when k is (now)
 * the admin's. */
static bool steer_str(struct governor *g, struct steered *k, const char *val)
{
	char now[64];
	int rc;

	if (k->config || k->admin || ksmd_read_knob(k->knob, now, sizeof(now)) < 0)
		return !k->admin && !k->config;
	if (strcmp(now, k->last) != 0) {
		k->admin = true;
		ksmd_forget(k->knob);
		log_warn("governor: %s was set to %s behind ksmplusd's back (it wrote %s): "
			 "no longer steered, and left as set at stop", k->knob, now, k->last);
		return false;
	}
	if (strcmp(now, val) == 0)
		return true;
	rc = ksmd_steer(k->knob, val);
	if (rc < 0) {
		log_warn("governor: cannot set %s = %s: %s", k->knob, val, strerror(-rc));
		return true;
	}
	snprintf(k->last, sizeof(k->last), "%s", val);
	g->writes++;
	return true;
}

static void steer(struct governor *g, struct steered *k, long long want)
{
	char val[32];

	snprintf(val, sizeof(val), "%lld", want);
	steer_str(g, k, val);
}

/* The advisor on: pages_to_scan is remembered first, as the mode change
 * resets it (to advisor_min_pages_to_scan, and to 100 when the mode goes
 * back to none at stop): restored after advisor_mode, it comes back as the
 * admin had it. */
static void advisor_on(struct governor *g)
{
	struct steered *k = &g->k[K_ADV_MODE];

	if (k->config || k->admin || strcmp(k->last, "scan-time") == 0)
		return;
	if (ksmd_remember("pages_to_scan") < 0 || !steer_str(g, k, "scan-time"))
		log_warn("governor: cannot turn the KSM advisor on: its knobs are steered in vain");
}

/* advisor_mode changed behind our back: the advisor is the admin's now.
 * Its pages_to_scan is theirs too (not restored); ksmd runs again if we
 * had stopped it. */
static void advisor_taken(struct governor *g)
{
	ksmd_forget("pages_to_scan");
	if (!g->k[K_RUN].config && !g->k[K_RUN].admin && strcmp(g->k[K_RUN].last, "0") == 0)
		steer_str(g, &g->k[K_RUN], "1");
	for (size_t i = K_ADV_SCAN; i <= K_RUN; i++)
		g->k[i].admin = true;
	log_warn("governor: the KSM advisor was changed behind ksmplusd's back: "
		 "its knobs and run are no longer steered");
}

static void rebase(struct governor *g)
{
	g->restores = ksmd_restores();
	for (size_t i = 0; i < N_KNOBS; i++) {
		struct steered *k = &g->k[i];

		k->config = false;
		for (size_t j = 0; j < g->d->cfg.n_knobs; j++)
			if (strcmp(g->d->cfg.knobs[j].knob, k->knob) == 0)
				k->config = true;
		if (ksmd_read_knob(k->knob, k->last, sizeof(k->last)) < 0)
			k->last[0] = '\0';
	}
	/* Called at start and after every restore: smart_scan is as found. */
	snprintf(g->smart_orig, sizeof(g->smart_orig), "%s", g->k[K_SMART].last);
	if (g->advisor)
		advisor_on(g);
}

/* smart_scan is ours to turn off: the kernel has it (6.7 and later: before,
 * no page is skipped), it was on, and it is no one else's. */
static bool steers_smart(const struct governor *g)
{
	const struct steered *k = &g->k[K_SMART];

	return g->smart_orig[0] && strcmp(g->smart_orig, "0") != 0 && !k->config && !k->admin;
}

/* smart_scan: 0 while the machine's window is open, else as found. */
static void steer_smart(struct governor *g)
{
	if (steers_smart(g))
		steer_str(g, &g->k[K_SMART], g->m.smart.off ? "0" : g->smart_orig);
}

static void steer_all(struct governor *g)
{
	const struct gov_knobs *w = &g->m.knobs;

	steer_smart(g);
	if (!g->advisor) {
		steer(g, &g->k[K_PAGES], w->pages_to_scan);
		steer(g, &g->k[K_SLEEP], w->sleep_ms);
		return;
	}
	if (g->k[K_ADV_MODE].admin)
		return;
	if (!steer_str(g, &g->k[K_ADV_MODE], "scan-time") && g->k[K_ADV_MODE].admin) {
		advisor_taken(g);
		return;
	}
	/* run first when starting ksmd, last when stopping it */
	if (w->run)
		steer(g, &g->k[K_RUN], 1);
	steer(g, &g->k[K_ADV_SCAN], w->scan_time_sec);
	steer(g, &g->k[K_ADV_CPU], w->max_cpu);
	if (!w->run)
		steer(g, &g->k[K_RUN], 0);
}

/* ---- the tick ------------------------------------------------------------ */

static void schedule(struct governor *g, uint64_t delay)
{
	uint64_t now;

	sd_event_now(g->d->ev, CLOCK_MONOTONIC, &now);
	sd_event_source_set_time(g->tick, now + delay);
	sd_event_source_set_enabled(g->tick, SD_EVENT_ONESHOT);
}

static struct app_mem *app_mem(struct governor *g, const char *app)
{
	struct app_mem *a;

	for (size_t i = 0; i < g->n_am; i++)
		if (strcmp(g->am[i].app, app) == 0)
			return &g->am[i];
	if (!(a = realloc(g->am, (g->n_am + 1) * sizeof(*a))))
		return NULL;
	g->am = a;
	a = &g->am[g->n_am++];
	snprintf(a->app, sizeof(a->app), "%s", app);
	a->mark = a->kib = 0;
	a->fresh = true;
	a->recent = a->seen = false;
	return a;
}

/* One per app with enrolled processes, not per app ever seen: an app
 * removed, or whose processes all exited, goes (back, it starts afresh:
 * a restart is not growth). */
static void prune_apps(struct governor *g)
{
	for (size_t i = g->n_am; i-- > 0;)
		if (!g->am[i].seen)
			g->am[i] = g->am[--g->n_am];
}

/* The apps whose figures status has just read (the exact computation,
 * FIGURES_FRESH_USEC old at most): taken from there, not read again. */
static long long recent_apps(struct governor *g)
{
	const struct strlist *apps = &g->d->apps.effective;
	long long sum = 0;

	for (size_t i = 0; i < g->n_am; i++)
		g->am[i].recent = false;
	for (size_t i = 0; i < apps->n; i++) {
		long long merging, anon;
		struct app_mem *a;

		if (figures_app_recent(g->d, apps->v[i], TICK_USEC, &merging, &anon) < 0 ||
		    !(a = app_mem(g, apps->v[i])))
			continue;
		a->recent = true;
		a->kib = anon;
		sum += merging;
	}
	return sum;
}

/* Progress is our processes' merged pages, not the global pages_sharing:
 * other users of KSM (a VM) may go on merging when ours are done. In the
 * same pass, each app's resident anonymous memory: grown by more than
 * burst_growth_mib since the latest burst, it bursts again. Read per
 * process from /proc (stack buffers: nothing allocated per read) unless
 * status's figures are recent. */
static long long read_apps(struct governor *g)
{
	const struct daemon *d = g->d;
	long long sum, limit = (long long)d->cfg.burst_growth_mib * 1024;

	sum = recent_apps(g);
	for (size_t i = 0; i < g->n_am; i++) {
		g->am[i].seen = false;
		if (!g->am[i].recent)
			g->am[i].kib = 0;
	}
	for (size_t i = 0; i < d->tr.n; i++) {
		const struct tracked *t = &d->tr.v[i];
		struct ksm_stat st = { 0 };
		struct app_mem *a;

		if (t->state != TRACKED_ENROLLED)
			continue;
		if ((a = app_mem(g, t->app)))
			a->seen = true;
		if (a && a->recent)
			continue;
		/* ksm_stat only where its zero-page count matters: it walks every
		 * VMA under the mmap lock (seconds per tick for 201 processes of
		 * 60,000 VMAs, in the main loop). */
		/* governor = fixed: progress is no input, growth only */
		if (!g->fixed && (g->zero_pages ? ksmstat_read(t->ref.pid, &st) == 0 :
				  ksmstat_read_merging(t->ref.pid, &st.merging_pages) == 0))
			sum += st.merging_pages + (g->zero_pages ? st.zero_pages : 0);
		if (limit && a)
			a->kib += figures_rss_anon_kib(t->ref.pid);
	}
	for (size_t i = 0; i < g->n_am; i++) {
		struct app_mem *a = &g->am[i];
		long long mark = a->mark;

		if (a->fresh) {         /* just enrolled (it bursts for that), or a restart */
			a->mark = a->kib;
			a->fresh = false;
			continue;
		}
		/* governor = fixed has no burst to absorb growth: all of it counts */
		if (gov_grew(&a->mark, a->kib, limit, !g->fixed && g->m.state == GOV_BURST)) {
			gov_note_grew(&g->m, a->app, a->kib - mark);
			log_info("governor: app %s grew by %lld MiB since the latest burst",
				 a->app, (a->kib - mark) / 1024);
		}
	}
	prune_apps(g);
	return sum;
}

static void read_inputs(struct governor *g, uint64_t now, struct gov_input *in)
{
	struct ksmd_global kg = { 0 };
	long long avail = 0, total = 0;

	char zero[8];

	ksmd_read_global(&kg);
	g->zero_pages = ksmd_read_knob("use_zero_pages", zero, sizeof(zero)) == 0 &&
			strcmp(zero, "1") == 0;
	in->now = now;
	in->merging = read_apps(g);
	in->full_scans = kg.full_scans;
	g->meminfo_ok = read_meminfo(&avail, &total);
	if (g->meminfo_ok)
		g->mem_low = gov_mem_low(g->mem_low, avail, total);
	in->mem_low = g->mem_low;
	in->cpu_percent = cpu_percent(g, CPU_CONTROL_USEC);
}

static void log_window(const struct governor *g, bool smart_before, long long full_scans)
{
	if (g->m.smart.off == smart_before || !steers_smart(g))
		return;
	if (g->m.smart.off)
		log_info("governor: smart_scan off until full scan %lld: %s", g->m.smart.until,
			 g->m.smart.why);
	else
		log_info("governor: smart_scan back to %s at full scan %lld (window until %lld)",
			 g->smart_orig, full_scans, g->m.smart.until);
}

/* governor = fixed: the window alone. Ticks while it is open (full scans
 * close it) and, slower, while app growth can open one; else not at all:
 * the next enrollment schedules one. */
static int fixed_tick(struct governor *g)
{
	struct ksmd_global kg = { 0 };
	bool smart_before = g->m.smart.off;

	if (!g->d->paused && g->restores != ksmd_restores())
		rebase(g);      /* unmerge --all, resume or reload put smart_scan back */
	if (g->d->cfg.burst_growth_mib && steers_smart(g))
		read_apps(g);
	ksmd_read_global(&kg);
	gov_window_step(&g->m.smart, kg.full_scans);
	log_window(g, smart_before, kg.full_scans);
	if (!g->d->paused)
		steer_smart(g);
	if (g->m.smart.off)
		schedule(g, TICK_USEC);
	else if (g->d->cfg.burst_growth_mib && steers_smart(g))
		schedule(g, IDLE_TICK_USEC);
	return 0;
}

static int on_tick(sd_event_source *s, uint64_t usec, void *ud)
{
	struct governor *g = ud;
	struct gov_input in;
	enum gov_state before = g->m.state;
	bool smart_before = g->m.smart.off;

	(void)s;
	if (g->fixed)
		return fixed_tick(g);
	sd_event_now(g->d->ev, CLOCK_MONOTONIC, &usec);   /* a kick runs early: now, not when due */
	cpu_sample(g, usec);
	read_inputs(g, usec, &in);
	gov_step(&g->m, &g->p, &in);
	if (g->m.state != before)
		log_info("governor: %s -> %s: %s", gov_state_name(before),
			 gov_state_name(g->m.state), g->m.why);
	log_window(g, smart_before, in.full_scans);
	/* Paused by unmerge --all: the knobs are the admin's until resume. */
	if (!g->d->paused) {
		if (g->restores != ksmd_restores())
			rebase(g);      /* unmerge --all, resume or reload put knobs back */
		steer_all(g);
	}
	schedule(g, g->m.state == GOV_IDLE ? IDLE_TICK_USEC : TICK_USEC);
	return 0;
}

/* An event that calls for a faster pace: step now, not at the next tick.
 * Once in that state, the regular tick sees the events noted meanwhile: a
 * reclaiming cgroup signals many times a second, and a thousand processes
 * enrolled at once are one burst. */
static void kick(struct governor *g, enum gov_state faster)
{
	if (g->m.state != faster && g->m.state != GOV_PRESSURE)
		schedule(g, 0);
}

/* ---- pressure sources ---------------------------------------------------- */

static int on_psi(sd_event_source *s, int fd, uint32_t revents, void *ud)
{
	struct governor *g = ud;
	struct watch *w = NULL;

	(void)fd;
	for (size_t i = 0; i < g->n_w; i++)
		if (g->w[i]->src == s)
			w = g->w[i];
	if (revents & EPOLLERR) {       /* the cgroup went away */
		sd_event_source_set_enabled(s, SD_EVENT_OFF);
		return 0;
	}
	gov_note_pressure(&g->m, w ? "cgroup memory.pressure" : "PSI: memory stalls");
	kick(g, GOV_PRESSURE);
	return 0;
}

static int open_psi(struct governor *g, const char *file, sd_event_source **src)
{
	int fd = open(file, O_RDWR | O_NONBLOCK | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	if (write(fd, PSI_TRIGGER, strlen(PSI_TRIGGER) + 1) < 0 &&
	    write(fd, PSI_TRIGGER_UNPRIV, strlen(PSI_TRIGGER_UNPRIV) + 1) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rc = sd_event_add_io(g->d->ev, src, fd, EPOLLPRI, on_psi, g);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	sd_event_source_set_io_fd_own(*src, true);
	return fd;
}

static int on_memcg(sd_event_source *s, int fd, uint32_t revents, void *ud)
{
	struct governor *g = ud;
	uint64_t n;
	char why[48];

	(void)revents;
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	for (size_t i = 0; i < g->n_w; i++) {
		struct watch *w = g->w[i];

		if (w->src != s)
			continue;
		/* v1 signals the eventfd once more when the group is removed */
		if (access(w->path, F_OK) != 0) {
			sd_event_source_set_enabled(s, SD_EVENT_OFF);
			return 0;
		}
		snprintf(why, sizeof(why), "memcg %s", strrchr(w->path, '/') + 1);
		gov_note_pressure(&g->m, why);
		kick(g, GOV_PRESSURE);
	}
	return 0;
}

/* A group with a memory limit reclaims when it nears it: that is the
 * pressure to react to ("low": any reclaim). A group without one reclaims
 * only with the whole machine, routinely where the page cache fills RAM:
 * only "medium" (reclaim that struggles) counts there. */
static const char *v1_level(const char *dir)
{
	char p[PATH_MAX + 32];
	unsigned long long limit = 0;
	FILE *f;

	snprintf(p, sizeof(p), "%s/memory.limit_in_bytes", dir);
	if ((f = fopen(p, "re"))) {
		if (fscanf(f, "%llu", &limit) != 1)
			limit = 0;
		fclose(f);
	}
	return limit && limit < (1ULL << 60) ? "low" : "medium";
}

/* v1: "<eventfd> <fd of memory.pressure_level> <level>" into
 * cgroup.event_control. */
static int watch_v1(struct governor *g, struct watch *w)
{
	char p[PATH_MAX + 32], cmd[64];
	int efd, lfd, cfd, rc = 0;

	snprintf(p, sizeof(p), "%s/memory.pressure_level", w->path);
	if ((lfd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	snprintf(p, sizeof(p), "%s/cgroup.event_control", w->path);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cfd = open(p, O_WRONLY | O_CLOEXEC);
	if (efd < 0 || cfd < 0) {
		rc = -errno;
		goto fail;
	}
	snprintf(cmd, sizeof(cmd), "%d %d %s", efd, lfd, v1_level(w->path));
	if (write(cfd, cmd, strlen(cmd)) < 0) {
		rc = -errno;
		goto fail;
	}
	close(cfd);
	if ((rc = sd_event_add_io(g->d->ev, &w->src, efd, EPOLLIN, on_memcg, g)) < 0) {
		cfd = -1;
		goto fail;
	}
	sd_event_source_set_io_fd_own(w->src, true);
	w->fd = efd;
	w->ctl_fd = lfd;
	return 0;
fail:
	if (cfd >= 0)
		close(cfd);
	if (efd >= 0)
		close(efd);
	close(lfd);
	return rc;
}

static int watch_v2(struct governor *g, struct watch *w)
{
	char p[PATH_MAX + 32];
	int fd;

	snprintf(p, sizeof(p), "%s/memory.pressure", w->path);
	fd = open_psi(g, p, &w->src);
	if (fd < 0)
		return fd;
	w->fd = fd;
	w->ctl_fd = -1;
	return 0;
}

static int read_memevents(struct watch *w, long long *high, long long *max)
{
	char p[PATH_MAX + 32], buf[512];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/memory.events", w->path);
	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	gov_memevents_parse(buf, high, max);
	return 0;
}

/* memory.events changed: high (throttled over memory.high) or max (at
 * memory.max, reclaiming or OOM) going up is the group's memory pressure. */
static int on_memevents(sd_event_source *s, const struct inotify_event *ev, void *ud)
{
	struct watch *w = ud;
	long long high, max;
	char why[48];

	if (ev->mask & (IN_IGNORED | IN_DELETE_SELF)) {   /* the cgroup went away */
		sd_event_source_set_enabled(s, SD_EVENT_OFF);
		return 0;
	}
	if (read_memevents(w, &high, &max) < 0)
		return 0;
	/* a counter missing from this read (a fake being rewritten) keeps its old value */
	bool max_rose = max >= 0 && w->max >= 0 && max > w->max;
	bool rose = max_rose || (high >= 0 && w->high >= 0 && high > w->high);

	if (high >= 0)
		w->high = high;
	if (max >= 0)
		w->max = max;
	if (!rose)
		return 0;
	w->g->memevents++;
	snprintf(why, sizeof(why), "memory.events %s of %.24s", max_rose ? "max" : "high",
		 strrchr(w->path, '/') + 1);
	gov_note_pressure(&w->g->m, why);
	kick(w->g, GOV_PRESSURE);
	return 0;
}

static int watch_events(struct governor *g, struct watch *w)
{
	char p[PATH_MAX + 32];
	int rc;

	snprintf(p, sizeof(p), "%s/memory.events", w->path);
	if ((rc = read_memevents(w, &w->high, &w->max)) < 0)
		return rc;
	rc = sd_event_add_inotify(g->d->ev, &w->src, p, IN_MODIFY, on_memevents, w);
	if (rc < 0)
		return rc;
	w->fd = w->ctl_fd = -1;
	return 0;
}

/* pid's group in the v2 hierarchy ("0::PATH") or the v1 memory one
 * ("N:...memory...:PATH"); false for the root, which the system-wide PSI
 * trigger covers. */
static bool proc_cgroup(pid_t pid, bool v2, char *out, size_t len)
{
	char p[64], line[PATH_MAX + 64];
	FILE *f;
	bool found = false;

	snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
	if (!(f = fopen(p, "re")))
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c1 = *c2 = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		if (v2 ? strcmp(line, "0") == 0 && c1 + 1 == c2 :
		    strstr(c1 + 1, "memory") != NULL) {
			snprintf(out, len, "%s", c2 + 1);
			found = true;
		}
	}
	fclose(f);
	return found && strcmp(out, "/") != 0;
}

static const char *const watch_what[] = {
	"v1 memory.pressure_level ", "memory.pressure trigger", "high, max: inotify",
};

/* The watch of kind on root+rel, shared by the processes of that group
 * (refs is theirs to count), or NULL: not watchable, or MAX_WATCHES. */
static struct watch *watch_group(struct governor *g, const char *root, const char *rel,
				 enum watch_kind kind)
{
	char path[PATH_MAX];
	struct watch *w;
	int rc;

	if (!root[0] || snprintf(path, sizeof(path), "%s%s", root, rel) >= (int)sizeof(path))
		return NULL;
	/* A disabled one watches a removed group: a new group of that name
	 * gets its own. */
	for (size_t i = 0; i < g->n_w; i++)
		if (g->w[i]->kind == kind && strcmp(g->w[i]->path, path) == 0 &&
		    sd_event_source_get_enabled(g->w[i]->src, NULL) > 0)
			return g->w[i];
	if (g->n_w == MAX_WATCHES || !(w = calloc(1, sizeof(*w))))
		return NULL;
	w->kind = kind;
	w->g = g;
	snprintf(w->path, sizeof(w->path), "%s", path);
	rc = kind == W_V2_EVENTS ? watch_events(g, w) : kind == W_V2_PRESSURE ? watch_v2(g, w) :
	     watch_v1(g, w);
	if (rc < 0) {
		log_warn("governor: cannot watch %s of %s: %s", kind == W_V2_EVENTS ?
			 "memory.events" : "memory pressure", w->path, strerror(-rc));
		free(w);
		return NULL;
	}
	log_info("governor: watching %s of %s (%s%s)", kind == W_V2_EVENTS ? "memory.events" :
		 "memory pressure", w->path, watch_what[kind], kind == W_V1_LEVEL ? v1_level(w->path) : "");
	g->w[g->n_w++] = w;
	return w;
}

/* Its sources and fds closed; v1's cgroup.event_control registration goes
 * with the eventfd (the kernel drops it when the eventfd is closed). */
static void watch_free(struct watch *w)
{
	sd_event_source_disable_unref(w->src);
	if (w->ctl_fd >= 0)
		close(w->ctl_fd);
	free(w);
}

/* One process fewer in w's group: the last one takes the watch along. */
static void watch_put(struct governor *g, struct watch *w)
{
	if (!w || --w->refs > 0)
		return;
	for (size_t i = 0; i < g->n_w; i++)
		if (g->w[i] == w) {
			g->w[i] = g->w[--g->n_w];
			break;
		}
	log_info("governor: no enrolled process left in %s: %s no longer watched", w->path,
		 w->kind == W_V2_EVENTS ? "memory.events" : "memory pressure");
	watch_free(w);
}

static struct member *member_find(struct governor *g, pid_t pid, unsigned long long start_time)
{
	for (size_t i = 0; i < g->n_mem; i++)
		if (g->mem[i].pid == pid && g->mem[i].start_time == start_time)
			return &g->mem[i];
	return NULL;
}

static void find_roots(struct governor *g)
{
	FILE *f;
	struct mntent *e;
	char p[PATH_MAX + 32], buf[256] = "", named[PATH_MAX];

	if (roots_set) {
		snprintf(g->v1_root, sizeof(g->v1_root), "%s", roots_v1);
		snprintf(g->v2_root, sizeof(g->v2_root), "%s", roots_v2);
	} else if ((f = setmntent("/proc/self/mounts", "re"))) {
		/* The first mount of each: later ones are bind mounts of subtrees,
		 * e.g. the unit's ReadWritePaths=/sys/fs/cgroup/system.slice. */
		while ((e = getmntent(f)))
			if (strcmp(e->mnt_type, "cgroup") == 0 && hasmntopt(e, "memory") &&
			    !g->v1_root[0])
				snprintf(g->v1_root, sizeof(g->v1_root), "%s", e->mnt_dir);
		endmntent(f);
		/* v2: where the hierarchy's root is mounted (mountinfo says which) */
		cgroup_mounts(g->v2_root, sizeof(g->v2_root), named, sizeof(named));
	}
	/* v2 memory.pressure triggers only where cgroup2 has the memory
	 * controller; memory.events wherever a group has the file. */
	snprintf(p, sizeof(p), "%s/cgroup.controllers", g->v2_root);
	f = g->v2_root[0] ? fopen(p, "re") : NULL;
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	g->v2_memory = strstr(buf, "memory") != NULL;
}

/* The groups of process (pid, start_time), v1 and v2, watched for as long
 * as it is enrolled (governor_forget). Once per process: enrolled again (a
 * rescan, a retry), it holds its watches already. */
static void watch_cgroup(struct governor *g, pid_t pid, unsigned long long start_time,
			 const char *rel_v1, const char *rel_v2)
{
	char p[PATH_MAX + 32];
	struct member m = { pid, start_time, { NULL, NULL, NULL } };
	void *grown;

	if (member_find(g, pid, start_time))
		return;
	if (rel_v1)
		m.w[W_V1_LEVEL] = watch_group(g, g->v1_root, rel_v1, W_V1_LEVEL);
	if (rel_v2 && g->v2_root[0]) {
		if (g->v2_memory)
			m.w[W_V2_PRESSURE] = watch_group(g, g->v2_root, rel_v2, W_V2_PRESSURE);
		snprintf(p, sizeof(p), "%s%s/memory.events", g->v2_root, rel_v2);
		if (access(p, R_OK) == 0)
			m.w[W_V2_EVENTS] = watch_group(g, g->v2_root, rel_v2, W_V2_EVENTS);
	}
	if (!m.w[0] && !m.w[1] && !m.w[2])
		return;         /* nothing to hold (the root group, no files): no entry */
	grown = array_grow(g->mem, g->n_mem, &g->cap_mem, sizeof(*g->mem), 16);
	if (!grown) {           /* unheld, the watches would never be released */
		for (size_t k = 0; k < 3; k++)
			if (m.w[k] && !m.w[k]->refs) {
				m.w[k]->refs = 1;
				watch_put(g, m.w[k]);
			}
		return;
	}
	g->mem = grown;
	for (size_t k = 0; k < 3; k++)
		if (m.w[k])
			m.w[k]->refs++;
	g->mem[g->n_mem++] = m;
}

/* The memory cgroups pid lives in, v1 and v2. */
static void watch_process(struct governor *g, const struct pidref *ref)
{
	char rel1[PATH_MAX], rel2[PATH_MAX];
	bool v1, v2;

	if (member_find(g, ref->pid, ref->start_time))
		return;         /* no /proc/PID/cgroup read for a process watched already */
	v1 = proc_cgroup(ref->pid, false, rel1, sizeof(rel1));
	v2 = proc_cgroup(ref->pid, true, rel2, sizeof(rel2));
	watch_cgroup(g, ref->pid, ref->start_time, v1 ? rel1 : NULL, v2 ? rel2 : NULL);
}

static void forget(struct governor *g, pid_t pid, unsigned long long start_time)
{
	struct member *m = member_find(g, pid, start_time);

	if (!m)
		return;
	struct member gone = *m;

	*m = g->mem[--g->n_mem];        /* order does not matter */
	for (size_t k = 0; k < 3; k++)
		watch_put(g, gone.w[k]);
}

void governor_watch_cgroup(struct daemon *d, pid_t pid, unsigned long long start_time,
			   const char *rel_v1, const char *rel_v2)
{
	if (d->gov && !d->gov->fixed)  /* fixed: pressure is no input */
		watch_cgroup(d->gov, pid, start_time, rel_v1, rel_v2);
}

void governor_forget(struct daemon *d, pid_t pid, unsigned long long start_time)
{
	if (d->gov)
		forget(d->gov, pid, start_time);
}

/* The tracker's on_release: a process leaving the tracker (exited, exec'd
 * out of its app, its app removed, unmerge --all) releases its watches. */
static void on_tracked_release(const struct tracked *t, void *ud)
{
	governor_forget(ud, t->ref.pid, t->ref.start_time);
}

void governor_set_cgroup_roots(const char *v1_root, const char *v2_root)
{
	roots_set = v1_root || v2_root;
	snprintf(roots_v1, sizeof(roots_v1), "%s", v1_root ? v1_root : "");
	snprintf(roots_v2, sizeof(roots_v2), "%s", v2_root ? v2_root : "");
}

/* ---- daemon interface ------------------------------------------------------ */

void governor_on_enrolled(struct daemon *d, const struct tracked *t)
{
	struct governor *g = d->gov;
	char what[48];

	if (!g)
		return;
	if (t->mode == ENROLL_RANGES)
		snprintf(what, sizeof(what), "%.15s[%d], %zu KiB", t->comm, (int)t->ref.pid,
			 vmas_bytes(&t->advised) / 1024);
	else    /* whole-process enrollments keep no range list */
		snprintf(what, sizeof(what), "%.15s[%d], whole", t->comm, (int)t->ref.pid);
	gov_note_enrolled(&g->m, what);
	if (g->fixed) {
		/* a tick opens the window, and first rebases smart_scan after a
		 * restore (no tick may have run since: it could be ours again) */
		if (!g->m.smart.off && (steers_smart(g) || g->restores != ksmd_restores()))
			schedule(g, 0);
		return;
	}
	watch_process(g, &t->ref);
	kick(g, GOV_BURST);
	/* While bursting the kick waits for the tick (2 s: many fast full
	 * scans); a smart_scan window that is closed opens now. Once open, the
	 * tick extends it: its end counts from then, not from the enrollment. */
	if (!g->m.smart.off && steers_smart(g))
		schedule(g, 0);
}

/* governor = advisor on a kernel without the advisor, or with advisor_mode
 * = none in [ksmd]: pressure instead, said once in the log and in status. */
static bool advisor_usable(struct governor *g)
{
	char mode[32];

	if (ksmd_read_knob("advisor_mode", mode, sizeof(mode)) < 0) {
		snprintf(g->note, sizeof(g->note), "advisor unavailable (kernel has no advisor_mode): "
			 "pressure instead");
		log_warn("governor: advisor: this kernel has no KSM advisor (no advisor_mode knob): "
			 "governor pressure instead");
		return false;
	}
	for (size_t i = 0; i < g->d->cfg.n_knobs; i++) {
		const struct ksmd_setting *k = &g->d->cfg.knobs[i];

		if (strcmp(k->knob, "advisor_mode") == 0 && strcmp(k->value, "none") == 0) {
			snprintf(g->note, sizeof(g->note), "advisor_mode = none in [ksmd]: pressure instead");
			log_warn("%s:%d: advisor_mode = none: governor advisor runs as pressure",
				 k->file, k->line);
			return false;
		}
	}
	return true;
}

/* governor = pressure while the admin runs the kernel's advisor (set
 * outside our [ksmd]): the advisor owns pages_to_scan — the kernel refuses
 * writes to it with EINVAL — so it is the admin's from the start, said once,
 * instead of a failed write and a warning on every tick. */
static void leave_admins_advisor(struct governor *g)
{
	char mode[32];

	if (ksmd_read_knob("advisor_mode", mode, sizeof(mode)) < 0 ||
	    strcmp(mode, "scan-time") != 0 || g->k[K_PAGES].config)
		return;
	g->k[K_PAGES].admin = true;
	snprintf(g->note, sizeof(g->note), "admin's kernel advisor paces pages_to_scan");
	log_warn("governor: advisor_mode = scan-time was set outside ksmplusd: the kernel's "
		 "advisor owns pages_to_scan, which is not steered (sleep_millisecs and run are)");
}

/* The knobs the policy steers (the others are left alone); smart_scan
 * by both. */
static bool steers(const struct governor *g, size_t i)
{
	return i == K_SMART || (g->advisor ? i >= K_ADV_MODE : i < K_ADV_MODE);
}

/* governor = fixed: the pace stays as [ksmd] (or the admin) set it; only
 * the smart_scan window runs, since with smart_scan on a duplicate enrolled
 * late may never meet its twin whatever the pace. No pressure sources, no
 * ksmd CPU: a tick that reads full_scans while a window is open, and app
 * growth every IDLE_TICK_USEC (burst_growth_mib). */
static int start_fixed(struct governor *g)
{
	struct daemon *d = g->d;
	uint64_t now;
	int rc;

	g->fixed = true;
	rebase(g);
	sd_event_now(d->ev, CLOCK_MONOTONIC, &now);
	/* the first tick at once: a reload may carry a window over */
	rc = sd_event_add_time(d->ev, &g->tick, CLOCK_MONOTONIC, now, 0, on_tick, g);
	if (rc < 0)
		return rc;
	d->gov = g;
	if (g->k[K_SMART].config)
		log_info("governor: fixed; smart_scan set in [ksmd]: not steered");
	else if (steers_smart(g))
		log_info("governor: fixed (pace as configured); smart_scan off for %d full scans "
			 "after each enrollment or %u MiB growth", GOV_SMART_SCANS,
			 d->cfg.burst_growth_mib);
	else
		log_info("governor: fixed; smart_scan %s: nothing to steer", g->smart_orig[0] ?
			 "off as found" : "absent (kernel before 6.7)");
	return 0;
}

/* admin: the knobs an admin took before a reload (NULL: none), known
 * before the first write so that advisor_mode taken stays taken. */
static int start(struct daemon *d, const bool *admin)
{
	struct governor *g;
	struct gov_input in;
	uint64_t now;
	int rc;

	if (!(g = calloc(1, sizeof(*g))))
		return -ENOMEM;
	g->d = d;
	g->psi_fd = -1;
	for (size_t i = 0; i < N_KNOBS; i++) {
		g->k[i].knob = knob_names[i];
		g->k[i].admin = admin && admin[i];      /* what an admin took stays theirs */
	}
	if (d->cfg.governor == GOVERNOR_FIXED) {
		if ((rc = start_fixed(g)) < 0)
			free(g);
		return rc;
	}
	g->advisor = d->cfg.governor == GOVERNOR_ADVISOR && advisor_usable(g);
	if (!g->advisor)
		leave_admins_advisor(g);
	g->p = (struct gov_params){ d->cfg.max_cpu_percent, GOV_MIN_CHANGE_USEC,
				    GOV_PRESSURE_HOLD_USEC, g->advisor };
	rebase(g);
	find_roots(g);
	if (!(g->ksmd_pid = ksmd_thread_pid()))
		log_warn("governor: no ksmd thread found: its CPU cap cannot be measured, not applied");
	sd_event_now(d->ev, CLOCK_MONOTONIC, &now);
	cpu_sample(g, now);
	read_inputs(g, now, &in);
	gov_init(&g->m, &g->p, &in);
	rc = sd_event_add_time(d->ev, &g->tick, CLOCK_MONOTONIC, now, 0, on_tick, g);
	if (rc < 0) {
		free(g->am);
		free(g);
		return rc;
	}
	g->psi_fd = open_psi(g, "/proc/pressure/memory", &g->psi);
	if (g->psi_fd < 0)
		log_warn("governor: no system PSI trigger (/proc/pressure/memory: %s): "
			 "MemAvailable and cgroup events only", strerror(-g->psi_fd));
	if (!g->meminfo_ok)
		log_warn("governor: cannot read /proc/meminfo: MemAvailable not watched");
	d->gov = g;
	d->tr.on_release = on_tracked_release;
	d->tr.release_ud = d;
	log_info("governor: %s (cap %u %% CPU; v1 memory cgroups: %s; v2 memory.pressure: %s; "
		 "v2 memory.events: %s; burst on %u MiB growth)",
		 g->advisor ? "advisor (advisor_mode = scan-time)" : "pressure",
		 g->p.max_cpu_percent, g->v1_root[0] ? g->v1_root : "none",
		 g->v2_memory ? g->v2_root : "no memory controller",
		 g->v2_root[0] ? "where a group has the file" : "no cgroup2", d->cfg.burst_growth_mib);
	return 0;
}

int governor_start(struct daemon *d)
{
	return start(d, NULL);
}

void governor_stop(struct daemon *d)
{
	struct governor *g = d->gov;

	if (!g)
		return;
	for (size_t i = 0; i < g->n_w; i++)
		watch_free(g->w[i]);
	free(g->mem);
	d->tr.on_release = NULL;
	sd_event_source_disable_unref(g->psi);
	sd_event_source_disable_unref(g->tick);
	free(g->am);
	free(g);
	d->gov = NULL;
}

void governor_reload(struct daemon *d)
{
	bool admin[N_KNOBS] = { false };
	long long smart_until = 0;
	char smart_why[sizeof(d->gov->m.smart.why)] = "";

	if (d->gov) {
		for (size_t i = 0; i < N_KNOBS; i++)
			admin[i] = d->gov->k[i].admin;
		/* memory enrolled before the reload still needs its window */
		smart_until = d->gov->m.smart.until;
		snprintf(smart_why, sizeof(smart_why), "%s", d->gov->m.smart.why);
	}
	governor_stop(d);
	if (start(d, admin) < 0)
		log_warn("governor: cannot restart after reload: knobs stay as configured");
	if (!d->gov)
		return;
	d->gov->m.smart.until = smart_until;
	snprintf(d->gov->m.smart.why, sizeof(d->gov->m.smart.why), "%s", smart_why);
	for (size_t i = 0; i < d->tr.n && !d->gov->fixed; i++)
		if (d->tr.v[i].state == TRACKED_ENROLLED)
			watch_process(d->gov, &d->tr.v[i].ref);
}

static void admin_knobs(const struct governor *g, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < N_KNOBS; i++)
		if (steers(g, i) && (g->k[i].admin || g->k[i].config) && off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "",
						g->k[i].knob);
	if (!off)
		snprintf(buf, len, "-");
}

int governor_state(const struct daemon *d, const char **state, unsigned *knob_writes,
		   int *smart_window)
{
	if (!d->gov)
		return -1;
	*state = d->gov->fixed ? NULL : gov_state_name(d->gov->m.state);
	*knob_writes = d->gov->writes;
	/* Only where the governor steers smart_scan: elsewhere it says nothing.
	 * Paused (unmerge --all), the knob is as found: no window. */
	*smart_window = steers_smart(d->gov) ? !d->paused && d->gov->m.smart.off : -1;
	return 0;
}

/* Why smart_scan is what it is (gov_smart_scan). */
static void smart_status(struct daemon *d, struct proto_record *r)
{
	const struct governor *g = d->gov;
	const struct steered *k = g ? &g->k[K_SMART] : NULL;

	if (!g)         /* the governor could not start */
		proto_set(r, "gov_smart_scan", "not steered");
	else if (!g->smart_orig[0])
		proto_set(r, "gov_smart_scan", "none (kernel before 6.7: no page is skipped)");
	else if (k->config)
		proto_set(r, "gov_smart_scan", "pinned: set in [ksmd]");
	else if (k->admin)
		proto_set(r, "gov_smart_scan", "not steered: changed by someone else");
	else if (d->paused)
		proto_set(r, "gov_smart_scan", "as found (paused)");
	else if (strcmp(g->smart_orig, "0") == 0)
		proto_set(r, "gov_smart_scan", "off as found");
	else if (g->m.smart.off)
		proto_set(r, "gov_smart_scan", "off until full scan %lld: %s", g->m.smart.until,
			  g->m.smart.why);
	else
		proto_set(r, "gov_smart_scan", "on");
}

void governor_status(struct daemon *d, struct proto_record *r)
{
	struct governor *g = d->gov;
	char buf[160];

	proto_set(r, "governor", "%s", !g || g->fixed ? "fixed" : g->advisor ? "advisor" : "pressure");
	if (ksmd_read_knob("pages_to_scan", buf, sizeof(buf)) == 0)
		proto_set(r, "pages_to_scan", "%s", buf);
	if (ksmd_read_knob("sleep_millisecs", buf, sizeof(buf)) == 0)
		proto_set(r, "sleep_millisecs", "%s", buf);
	if (ksmd_read_knob("smart_scan", buf, sizeof(buf)) == 0)
		proto_set(r, "smart_scan", "%s", buf);
	smart_status(d, r);
	if (!g || g->fixed)
		return;
	double cpu = cpu_percent(g, CPU_STATUS_USEC);

	proto_set(r, "gov_state", "%s", gov_state_name(g->m.state));
	proto_set(r, "gov_why", "%s", g->m.why);
	if (cpu >= 0)
		proto_set(r, "ksmd_cpu_pct", "%.2f", cpu);
	admin_knobs(g, buf, sizeof(buf));
	proto_set(r, "gov_admin_knobs", "%s", buf);
	proto_set(r, "gov_knob_writes", "%u", g->writes);
	proto_set(r, "gov_watches", "%zu", g->n_w + (g->psi ? 1 : 0));
	if (g->v2_root[0])
		proto_set(r, "gov_memory_events", "%u", g->memevents);
	if (g->note[0])
		proto_set(r, "gov_note", "%s", g->note);
	if (g->advisor)
		for (size_t i = K_ADV_SCAN; i <= K_RUN; i++)
			if (ksmd_read_knob(knob_names[i], buf, sizeof(buf)) == 0)
				proto_set(r, knob_names[i], "%s", buf);
}
