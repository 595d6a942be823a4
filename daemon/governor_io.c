/* governor_io.c — the governor in the daemon: its inputs as sd-event
 * sources and its outputs as knob writes (the state machine is governor.c).
 *
 * Inputs: a system PSI trigger on /proc/pressure/memory (EPOLLPRI); per
 * memory cgroup of an enrolled process, v1 memory.pressure_level through
 * cgroup.event_control and an eventfd (hybrid layouts like Debian's) or a
 * v2 memory.pressure trigger (where cgroup2 has the memory controller);
 * enrollment (lifecycle.c calls in); and on a timer, only for what has no
 * event: MemAvailable, ksmd's counters and ksmd's own CPU time.
 *
 * Outputs: pages_to_scan and sleep_millisecs, through ksmd.c (so they are
 * restored at stop). Each is read back before every write: a value other
 * than the one last written means someone else set it; from then on that
 * knob is theirs: not steered, not restored. Knobs set in [ksmd] are the
 * admin's from the start. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "daemon.h"
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
#define MAX_WATCHES 64
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

struct watch {
	char path[PATH_MAX];    /* the cgroup directory */
	sd_event_source *src;
	int fd;                 /* eventfd (v1) or the memory.pressure file (v2) */
	int ctl_fd;             /* v1: memory.pressure_level, kept open while watched */
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
	struct watch w[MAX_WATCHES];
	size_t n_w;
	struct steered k[2];
	pid_t ksmd_pid;
	struct cpu_sample cpu[CPU_SAMPLES];
	size_t n_cpu, cpu_next;
	unsigned restores;      /* ksmd_restores() at the last rebase */
	bool mem_low, meminfo_ok;
	unsigned writes;
	char v1_root[PATH_MAX], v2_root[PATH_MAX];     /* "" when absent */
};

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

static bool read_meminfo(long long *avail, long long *total)
{
	char line[128];
	FILE *f = fopen("/proc/meminfo", "re");
	int found = 0;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f) && found < 2) {
		if (sscanf(line, "MemTotal: %lld", total) == 1 ||
		    sscanf(line, "MemAvailable: %lld", avail) == 1)
			found++;
	}
	fclose(f);
	return found == 2;
}

/* ---- knobs ----------------------------------------------------------------- */

static void steer(struct governor *g, struct steered *k, long long want)
{
	char now[64], val[32];
	int rc;

	if (k->config || k->admin || ksmd_read_knob(k->knob, now, sizeof(now)) < 0)
		return;
	if (strcmp(now, k->last) != 0) {
		k->admin = true;
		ksmd_forget(k->knob);
		log_warn("governor: %s was set to %s behind ksmplusd's back (it wrote %s): "
			 "no longer steered, and left as set at stop", k->knob, now, k->last);
		return;
	}
	snprintf(val, sizeof(val), "%lld", want);
	if (strcmp(now, val) == 0)
		return;
	rc = ksmd_steer(k->knob, val);
	if (rc < 0) {
		log_warn("governor: cannot set %s = %s: %s", k->knob, val, strerror(-rc));
		return;
	}
	snprintf(k->last, sizeof(k->last), "%s", val);
	g->writes++;
}

static void rebase(struct governor *g)
{
	g->restores = ksmd_restores();
	for (size_t i = 0; i < 2; i++) {
		struct steered *k = &g->k[i];

		k->config = false;
		for (size_t j = 0; j < g->d->cfg.n_knobs; j++)
			if (strcmp(g->d->cfg.knobs[j].knob, k->knob) == 0)
				k->config = true;
		if (ksmd_read_knob(k->knob, k->last, sizeof(k->last)) < 0)
			k->last[0] = '\0';
	}
}

/* ---- the tick ------------------------------------------------------------ */

static void schedule(struct governor *g, uint64_t delay)
{
	uint64_t now;

	sd_event_now(g->d->ev, CLOCK_MONOTONIC, &now);
	sd_event_source_set_time(g->tick, now + delay);
	sd_event_source_set_enabled(g->tick, SD_EVENT_ONESHOT);
}

/* Progress is our processes' merged pages, not the global pages_sharing:
 * other users of KSM (a VM) may go on merging when ours are done. */
static long long our_merging_pages(const struct daemon *d)
{
	long long sum = 0;

	for (size_t i = 0; i < d->tr.n; i++) {
		struct ksm_stat st;

		if (d->tr.v[i].state == TRACKED_ENROLLED && ksmstat_read(d->tr.v[i].ref.pid, &st) == 0)
			sum += st.merging_pages + st.zero_pages;
	}
	return sum;
}

static void read_inputs(struct governor *g, uint64_t now, struct gov_input *in)
{
	struct ksmd_global kg = { 0 };
	long long avail = 0, total = 0;

	ksmd_read_global(&kg);
	in->now = now;
	in->merging = our_merging_pages(g->d);
	in->full_scans = kg.full_scans;
	g->meminfo_ok = read_meminfo(&avail, &total);
	if (g->meminfo_ok)
		g->mem_low = gov_mem_low(g->mem_low, avail, total);
	in->mem_low = g->mem_low;
	in->cpu_percent = cpu_percent(g, CPU_CONTROL_USEC);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *ud)
{
	struct governor *g = ud;
	struct gov_input in;
	enum gov_state before = g->m.state;

	(void)s;
	sd_event_now(g->d->ev, CLOCK_MONOTONIC, &usec);   /* a kick runs early: now, not when due */
	cpu_sample(g, usec);
	read_inputs(g, usec, &in);
	gov_step(&g->m, &g->p, &in);
	if (g->m.state != before)
		log_info("governor: %s -> %s: %s", gov_state_name(before),
			 gov_state_name(g->m.state), g->m.why);
	/* Paused by unmerge --all: the knobs are the admin's until resume. */
	if (!g->d->paused) {
		if (g->restores != ksmd_restores())
			rebase(g);      /* unmerge --all, resume or reload put knobs back */
		steer(g, &g->k[0], g->m.knobs.pages_to_scan);
		steer(g, &g->k[1], g->m.knobs.sleep_ms);
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
		if (g->w[i].src == s)
			w = &g->w[i];
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
		struct watch *w = &g->w[i];

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

static void watch_group(struct governor *g, const char *root, const char *rel, bool v2)
{
	struct watch *w;
	int rc;

	if (!root[0] || g->n_w == MAX_WATCHES)
		return;
	w = &g->w[g->n_w];
	if (snprintf(w->path, sizeof(w->path), "%s%s", root, rel) >= (int)sizeof(w->path))
		return;
	for (size_t i = 0; i < g->n_w; i++)
		if (strcmp(g->w[i].path, w->path) == 0 &&
		    sd_event_source_get_enabled(g->w[i].src, NULL) > 0)
			return;
	rc = v2 ? watch_v2(g, w) : watch_v1(g, w);
	if (rc < 0) {
		log_warn("governor: cannot watch memory pressure of %s: %s", w->path, strerror(-rc));
		return;
	}
	log_info("governor: watching memory pressure of %s (%s%s)", w->path,
		 v2 ? "memory.pressure trigger" : "v1 memory.pressure_level ",
		 v2 ? "" : v1_level(w->path));
	g->n_w++;
}

static void find_roots(struct governor *g)
{
	FILE *f = setmntent("/proc/self/mounts", "re");
	struct mntent *e;
	char p[PATH_MAX + 32], buf[256] = "", named[PATH_MAX];

	if (!f)
		return;
	/* The first mount of each: later ones are bind mounts of subtrees, e.g.
	 * the unit's ReadWritePaths=/sys/fs/cgroup/system.slice, not roots. */
	while ((e = getmntent(f)))
		if (strcmp(e->mnt_type, "cgroup") == 0 && hasmntopt(e, "memory") && !g->v1_root[0])
			snprintf(g->v1_root, sizeof(g->v1_root), "%s", e->mnt_dir);
	endmntent(f);
	/* v2: where the hierarchy's root is mounted (mountinfo says which) */
	cgroup_mounts(g->v2_root, sizeof(g->v2_root), named, sizeof(named));
	/* v2 memory.pressure only where cgroup2 has the memory controller */
	snprintf(p, sizeof(p), "%s/cgroup.controllers", g->v2_root);
	f = g->v2_root[0] ? fopen(p, "re") : NULL;
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	if (!strstr(buf, "memory"))
		g->v2_root[0] = '\0';
}

/* The memory cgroups pid lives in, v1 and v2. */
static void watch_process(struct governor *g, pid_t pid)
{
	char rel[PATH_MAX];

	if (proc_cgroup(pid, false, rel, sizeof(rel)))
		watch_group(g, g->v1_root, rel, false);
	if (proc_cgroup(pid, true, rel, sizeof(rel)))
		watch_group(g, g->v2_root, rel, true);
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
	watch_process(g, t->ref.pid);
	kick(g, GOV_BURST);
}

int governor_start(struct daemon *d)
{
	struct governor *g;
	struct gov_input in;
	uint64_t now;
	int rc;

	if (d->cfg.governor != GOVERNOR_PRESSURE)
		return 0;
	if (!(g = calloc(1, sizeof(*g))))
		return -ENOMEM;
	g->d = d;
	g->psi_fd = -1;
	g->p = (struct gov_params){ d->cfg.max_cpu_percent, GOV_MIN_CHANGE_USEC, GOV_PRESSURE_HOLD_USEC };
	g->k[0].knob = "pages_to_scan";
	g->k[1].knob = "sleep_millisecs";
	rebase(g);
	find_roots(g);
	if (!(g->ksmd_pid = ksmd_thread_pid()))
		log_warn("governor: no ksmd thread found: its CPU cap cannot be measured, not applied");
	sd_event_now(d->ev, CLOCK_MONOTONIC, &now);
	cpu_sample(g, now);
	read_inputs(g, now, &in);
	gov_init(&g->m, &in);
	rc = sd_event_add_time(d->ev, &g->tick, CLOCK_MONOTONIC, now, 0, on_tick, g);
	if (rc < 0) {
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
	log_info("governor: pressure (cap %u %% CPU; v1 memory cgroups: %s; v2 memory.pressure: %s)",
		 g->p.max_cpu_percent, g->v1_root[0] ? g->v1_root : "none",
		 g->v2_root[0] ? g->v2_root : "no memory controller");
	return 0;
}

void governor_stop(struct daemon *d)
{
	struct governor *g = d->gov;

	if (!g)
		return;
	for (size_t i = 0; i < g->n_w; i++) {
		sd_event_source_disable_unref(g->w[i].src);
		if (g->w[i].ctl_fd >= 0)
			close(g->w[i].ctl_fd);
	}
	sd_event_source_disable_unref(g->psi);
	sd_event_source_disable_unref(g->tick);
	free(g);
	d->gov = NULL;
}

void governor_reload(struct daemon *d)
{
	bool admin[2] = { false, false };

	if (d->gov) {
		admin[0] = d->gov->k[0].admin;
		admin[1] = d->gov->k[1].admin;
	}
	governor_stop(d);
	if (governor_start(d) < 0)
		log_warn("governor: cannot restart after reload: knobs stay as configured");
	if (!d->gov)
		return;
	d->gov->k[0].admin = admin[0];  /* what an admin took stays theirs */
	d->gov->k[1].admin = admin[1];
	for (size_t i = 0; i < d->tr.n; i++)
		if (d->tr.v[i].state == TRACKED_ENROLLED)
			watch_process(d->gov, d->tr.v[i].ref.pid);
}

static void admin_knobs(const struct governor *g, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < 2; i++)
		if (g->k[i].admin || g->k[i].config)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "",
						g->k[i].knob);
	if (!off)
		snprintf(buf, len, "-");
}

int governor_state(const struct daemon *d, const char **state, unsigned *knob_writes)
{
	if (!d->gov)
		return -1;
	*state = gov_state_name(d->gov->m.state);
	*knob_writes = d->gov->writes;
	return 0;
}

void governor_status(struct daemon *d, struct proto_record *r)
{
	struct governor *g = d->gov;
	char buf[64];

	proto_set(r, "governor", "%s", g ? "pressure" : "fixed");
	if (ksmd_read_knob("pages_to_scan", buf, sizeof(buf)) == 0)
		proto_set(r, "pages_to_scan", "%s", buf);
	if (ksmd_read_knob("sleep_millisecs", buf, sizeof(buf)) == 0)
		proto_set(r, "sleep_millisecs", "%s", buf);
	if (!g)
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
}
