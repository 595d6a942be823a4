/* metrics.c — Prometheus text for ksmplusctl metrics and the textfile
 * collector (metrics.h). */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "governor.h"
#include "ksmd.h"
#include "log.h"
#include "version.h"

struct metrics {
	sd_event_source *timer;
	char path[PATH_MAX];
	uint64_t interval_usec;
	bool failing;           /* the last write failed: said once, not every time */
};

/* A label value as the exposition format wants it: \, " and newline escaped. */
static void put_label(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(out, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

static void head(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A metric with a single sample, value as fmt formats it. */
static void __attribute__((format(printf, 5, 6)))
sample(FILE *out, const char *name, const char *type, const char *help, const char *fmt, ...)
{
	va_list ap;

	head(out, name, type, help);
	fprintf(out, "%s ", name);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
}

/* One metric with one sample per app. */
static void per_app(FILE *out, const char *name, const char *help, const char *const *names,
		    const struct app_figures *f, size_t n, long long (*value)(const struct app_figures *))
{
	head(out, name, "gauge", help);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%s{app=\"", name);
		put_label(out, names[i]);
		fprintf(out, "\"} %lld\n", value(&f[i]));
	}
}

static long long app_procs(const struct app_figures *f) { return (long long)f->procs; }
static long long app_enrolled(const struct app_figures *f) { return f->enrolled_kib * 1024; }
static long long app_merging(const struct app_figures *f) { return f->merging_kib * 1024; }
static long long app_saved(const struct app_figures *f) { return f->saved_kib * 1024; }
static long long app_exact(const struct app_figures *f) { return f->exact; }

char *metrics_format(const struct metrics_global *g, const char *const *names,
		     const struct app_figures *f, size_t n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (!out)
		return NULL;
	head(out, "ksmplus_info", "gauge", "ksmplusd's version and enrollment backend.");
	fprintf(out, "ksmplus_info{version=\"%s\",backend=\"", KSMPLUS_VERSION);
	put_label(out, g->backend);
	fputs("\"} 1\n", out);
	per_app(out, "ksmplus_app_processes", "Processes of the app enrolled now.", names, f, n,
		app_procs);
	per_app(out, "ksmplus_app_enrolled_bytes", "Anonymous memory of the app's enrolled processes.",
		names, f, n, app_enrolled);
	per_app(out, "ksmplus_app_merging_bytes",
		"The app's pages that KSM maps to a shared page (ksm_merging_pages).", names, f, n,
		app_merging);
	per_app(out, "ksmplus_app_saved_bytes",
		"Memory the app saves through KSM: its drop in PSS where page frames can be read "
		"(ksmplus_app_saved_exact 1), else ksm_process_profit, which overstates.",
		names, f, n, app_saved);
	per_app(out, "ksmplus_app_saved_exact",
		"1 when ksmplus_app_saved_bytes is exact (from page frames), 0 when estimated.",
		names, f, n, app_exact);
	head(out, "ksmplus_enroll_total", "counter",
	     "Enroll attempts since ksmplusd started, by outcome.");
	fprintf(out, "ksmplus_enroll_total{result=\"enrolled\"} %llu\n", g->enrolled);
	fprintf(out, "ksmplus_enroll_total{result=\"later\"} %llu\n", g->later);
	fprintf(out, "ksmplus_enroll_total{result=\"skipped\"} %llu\n", g->skipped);
	fprintf(out, "ksmplus_enroll_total{result=\"gone\"} %llu\n", g->gone);
	sample(out, "ksmplus_dropped_total", "counter",
	       "Processes whose enrollment the profit check undid since ksmplusd started.", "%llu",
	       g->dropped);
	sample(out, "ksmplus_tracked_processes", "gauge", "Processes of apps that ksmplusd tracks.",
	       "%zu", g->tracked);
	sample(out, "ksmplus_untracked_processes", "gauge",
	       "Processes of apps left untracked because max_processes was reached.", "%zu",
	       g->untracked);
	sample(out, "ksmplus_general_profit_bytes", "gauge",
	       "KSM's saving system-wide net of its metadata (general_profit); can be negative.",
	       "%lld", g->general_profit);
	if (g->ksmd_cpu_seconds >= 0)
		sample(out, "ksmplus_ksmd_cpu_seconds_total", "counter",
		       "CPU time the ksmd kernel thread has used since boot.", "%.2f",
		       g->ksmd_cpu_seconds);
	if (g->gov_state) {
		static const char *const states[] = { "idle", "burst", "settle", "pressure" };

		head(out, "ksmplus_governor_state", "gauge",
		     "1 for the state the pressure governor is in, 0 for the others.");
		for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
			fprintf(out, "ksmplus_governor_state{state=\"%s\"} %d\n", states[i],
				strcmp(states[i], g->gov_state) == 0);
		sample(out, "ksmplus_governor_knob_writes_total", "counter",
		       "Writes of ksmd's knobs by the governor since ksmplusd started.", "%u",
		       g->gov_knob_writes);
	}
	/* governor = fixed has the window too */
	if (g->gov_smart_window >= 0)
		sample(out, "ksmplus_governor_smart_scan_window", "gauge",
		       "1 while the governor holds smart_scan off so that newly enrolled "
		       "memory meets its duplicates, else 0.", "%d", g->gov_smart_window);
	if (g->figures_age_seconds >= 0)
		sample(out, "ksmplus_figures_age_seconds", "gauge",
		       "Age of the exact savings figures (computed off the main loop).", "%.3f",
		       g->figures_age_seconds);
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

char *metrics_render(struct daemon *d)
{
	struct metrics_global g = { .backend = enroll_backend_name(d->enr.backend),
				    .ksmd_cpu_seconds = -1, .tracked = d->tr.n,
				    .untracked = d->tr.refused, .enrolled = d->count.enrolled,
				    .later = d->count.later, .skipped = d->count.skipped,
				    .gone = d->count.gone, .dropped = d->count.dropped,
				    .gov_smart_window = -1 };
	struct ksmd_global k = { 0 };
	unsigned long long ticks;
	pid_t ksmd = ksmd_thread_pid();
	long long age = figures_age_ms(d);
	size_t n = d->apps.effective.n;
	struct app_figures *f = calloc(n + 1, sizeof(*f));
	char *text;

	if (!f)
		return NULL;
	ksmd_read_global(&k);
	g.general_profit = k.general_profit;
	if (ksmd && ksmd_thread_ticks(ksmd, &ticks) == 0)
		g.ksmd_cpu_seconds = (double)ticks / (double)sysconf(_SC_CLK_TCK);
	if (governor_state(d, &g.gov_state, &g.gov_knob_writes, &g.gov_smart_window) < 0) {
		g.gov_state = NULL;
		g.gov_smart_window = -1;
	}
	g.figures_age_seconds = age < 0 ? -1 : (double)age / 1000;
	figures_apps(d, f, NULL);
	text = metrics_format(&g, (const char *const *)d->apps.effective.v, f, n);
	free(f);
	return text;
}

int metrics_write_file(const char *path, const char *text, char *err, size_t errlen)
{
	char tmp[PATH_MAX + 16];
	const char *slash = strrchr(path, '/');
	size_t len = strlen(text);
	int fd, e = 0;

	/* A dot file: node_exporter reads only *.prom, never the half-written one. */
	if (snprintf(tmp, sizeof(tmp), "%.*s.%s.XXXXXX", slash ? (int)(slash - path + 1) : 0, path,
		     slash ? slash + 1 : path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create a temporary file beside it: %s", path,
			 strerror(errno));
		return -1;
	}
	if (write(fd, text, len) != (ssize_t)len)
		e = errno ? errno : EIO;
	/* Readable by node_exporter, which does not run as root. */
	if (!e && fchmod(fd, 0644) < 0)
		e = errno;
	if (close(fd) < 0 && !e)
		e = errno;
	if (!e && rename(tmp, path) < 0)
		e = errno;
	if (e) {
		unlink(tmp);
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -1;
	}
	return 0;
}

static void write_now(struct daemon *d)
{
	struct metrics *m = d->metrics;
	char err[PATH_MAX + 128];
	char *text = metrics_render(d);

	if (!text) {
		log_warn("metrics: out of memory");
		return;
	}
	if (metrics_write_file(m->path, text, err, sizeof(err)) < 0) {
		if (!m->failing)
			log_warn("metrics: cannot write the textfile %s (said once until it works)", err);
		m->failing = true;
	} else if (m->failing) {
		log_info("metrics: writing %s again", m->path);
		m->failing = false;
	}
	free(text);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *ud)
{
	struct daemon *d = ud;

	write_now(d);
	sd_event_source_set_time(s, usec + d->metrics->interval_usec);
	sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

int metrics_start(struct daemon *d)
{
	struct metrics *m;
	uint64_t now;
	int rc;

	if (!d->cfg.metrics_textfile[0])
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	snprintf(m->path, sizeof(m->path), "%s", d->cfg.metrics_textfile);
	m->interval_usec = (uint64_t)d->cfg.metrics_interval_sec * 1000000ULL;
	d->metrics = m;
	sd_event_now(d->ev, CLOCK_MONOTONIC, &now);
	rc = sd_event_add_time(d->ev, &m->timer, CLOCK_MONOTONIC, now + m->interval_usec, 0,
			       on_timer, d);
	if (rc < 0) {
		log_err("metrics: cannot add a timer: %s", strerror(-rc));
		metrics_stop(d);
		return rc;
	}
	write_now(d);
	log_info("metrics: writing %s every %u s", m->path, d->cfg.metrics_interval_sec);
	return 0;
}

void metrics_stop(struct daemon *d)
{
	struct metrics *m = d->metrics;

	if (!m)
		return;
	/* Figures of a daemon that is gone would read as current. */
	if (unlink(m->path) < 0 && errno != ENOENT)
		log_warn("metrics: cannot remove %s: %s", m->path, strerror(errno));
	sd_event_source_unref(m->timer);
	free(m);
	d->metrics = NULL;
}
