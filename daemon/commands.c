/* commands.c — ksmplusctl's requests: status, list, add, remove, reload
 * (analyze is analysis.c's).
 * control.c has already checked the op and that changing ops come from
 * root; replies are proto records (see protocol.h). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "governor.h"
#include "metrics.h"
#include "ksmd.h"
#include "log.h"
#include "rangeplan.h"

/* The app's last `ksmplusctl analyze` forecast, if any (analysis.c):
 * forecast_kib is net of rmap_items and counts the other apps enrolled
 * then, as saved_kib does, so the two compare. */
static void append_forecast(const struct daemon *d, struct proto_record *r, const char *name)
{
	struct analysis_forecast fc;

	if (!analysis_forecast(d, name, &fc))
		return;
	proto_set(r, "forecast_kib", "%lld", fc.net_kib);
	proto_set(r, "forecast_saved_kib", "%lld", fc.shared_kib);
	proto_set(r, "forecast_depends_kib", "%lld", fc.depends_kib);
	proto_set(r, "forecast_sample", "%u", fc.sample);
	proto_set(r, "forecast_time", "%lld", (long long)fc.when);
	proto_set(r, "forecast_age_s", "%lld", (long long)(time(NULL) - fc.when));
}

/* policy = census: where the app's census stands (rangeplan.h). An app
 * record then has 30 fields of PROTO_MAX_FIELDS' 32, which clients
 * decode: no age (census_time is there), no per-field extras. */
static void append_census(const struct daemon *d, struct proto_record *r, const char *name)
{
	struct rangeplan_status s;

	if (!rangeplan_status(d, name, &s))
		return;
	proto_set(r, "policy", "census");
	proto_set(r, "census_ranges", "%llu", s.ranges);
	proto_set(r, "census_advised_kib", "%llu", s.advised_kib);
	proto_set(r, "census_running", "%d", s.running ? 1 : 0);
	proto_set(r, "census_next_s", "%lld", s.next_s);
	proto_set(r, "census_count", "%llu", s.censuses);
	proto_set(r, "census_cpu_total_ms", "%llu", s.cpu_total_ms);
	if (!s.censused)
		return;
	proto_set(r, "census_time", "%lld", (long long)s.when);
	proto_set(r, "census_saved", "%d", s.saved ? 1 : 0);
	proto_set(r, "census_procs", "%llu", s.procs);
	proto_set(r, "census_planned_kib", "%llu", s.planned_kib);
	proto_set(r, "census_net_kib", "%lld", s.net_kib);
	proto_set(r, "census_hashed_kib", "%llu", s.hashed_kib);
	proto_set(r, "census_cpu_ms", "%llu", s.cpu_ms);
}

/* f: the app's figures, or NULL for the plain list. */
static void append_app(const struct daemon *d, struct proto_msg *reply, const char *name,
		       const struct app_figures *f)
{
	struct proto_record r;

	proto_record_init(&r);
	proto_set(&r, "type", "app");
	proto_set(&r, "name", "%s", name);
	proto_set(&r, "source", "%s", applist_source(&d->apps, name));
	if (f) {
		proto_set(&r, "procs", "%zu", f->procs);
		proto_set(&r, "enrolled_kib", "%lld", f->enrolled_kib);
		proto_set(&r, "merging_kib", "%lld", f->merging_kib);
		proto_set(&r, "profit_kib", "%lld", f->profit_kib);
		proto_set(&r, "saved_kib", "%lld", f->saved_kib);
		if (f->exact)
			proto_set(&r, "pss_kib", "%lld", f->pss_kib);
		proto_set(&r, "saved_exact", "%d", f->exact ? 1 : 0);
		append_forecast(d, &r, name);
		append_census(d, &r, name);
	}
	proto_msg_append(reply, &r);
}

static void append_proc(const struct tracked *t, const struct app_figures *pf,
			struct proto_msg *reply)
{
	struct proto_record r;
	struct app_figures f = { 0 };

	if (pf)
		f = *pf;
	else
		figures_tracked(t, &f);
	proto_record_init(&r);
	proto_set(&r, "type", "proc");
	proto_set(&r, "pid", "%d", (int)t->ref.pid);
	proto_set(&r, "app", "%s", t->app);
	proto_set(&r, "comm", "%s", t->comm);
	proto_set(&r, "state", "%s", tracker_state_name(t->state));
	proto_set(&r, "member", "%s", t->by_cgroup ? "cgroup" : t->by_tree ? "tree" : "name");
	proto_set(&r, "inherited", "%d", t->inherited ? 1 : 0);
	if (t->state == TRACKED_ENROLLED) {
		proto_set(&r, "mode", "%s", t->mode == ENROLL_WHOLE ? "whole" : "ranges");
		proto_set(&r, "enrolled_kib", "%lld", f.enrolled_kib);
		proto_set(&r, "merging_kib", "%lld", f.merging_kib);
		proto_set(&r, "profit_kib", "%lld", f.profit_kib);
		if (t->reason[0])       /* enrolled, but not as its policy says */
			proto_set(&r, "reason", "%s", t->reason);
	} else {
		proto_set(&r, "reason", "%s", t->reason);
	}
	proto_msg_append(reply, &r);
}

/* Like hidepid: a non-root caller sees a process only if its real,
 * effective and saved uids are all the caller's (what ptrace-read access by
 * uid asks). /proc is read first and the pidfd checked after: a process
 * still alive then is the one whose status was read, not a reused PID. */
static bool proc_visible(const struct tracked *t, uid_t uid)
{
	char path[64], line[256];
	unsigned long r = 0, e = 0, sv = 0;
	bool found = false;

	if (uid == 0)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)t->ref.pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "Uid: %lu %lu %lu", &r, &e, &sv) == 3;
	fclose(f);
	return found && r == uid && e == uid && sv == uid && pidref_alive(&t->ref);
}

/* Status for peer uid: global KSM figures (public in sysfs anyway) and the
 * per-app totals for everyone; the process list only for root, others see
 * just their own processes (no PIDs, names or reasons of other users'). */
static void do_status(struct daemon *d, struct proto_msg *reply, bool figures, bool procs,
		      uid_t uid)
{
	struct ksmd_global g = { 0 };
	struct proto_record r;

	proto_reply_ok(reply);
	if (figures) {
		ksmd_read_global(&g);
		proto_record_init(&r);
		proto_set(&r, "type", "global");
		proto_set(&r, "backend", "%s", enroll_backend_name(d->enr.backend));
		proto_set(&r, "run", "%d", g.run);
		proto_set(&r, "pages_sharing", "%lld", g.pages_sharing);
		proto_set(&r, "pages_shared", "%lld", g.pages_shared);
		proto_set(&r, "general_profit", "%lld", g.general_profit);
		proto_set(&r, "full_scans", "%lld", g.full_scans);
		proto_set(&r, "connector", "%d", procwatch_has_connector(d->pw) ? 1 : 0);
		proto_set(&r, "paused", "%d", d->paused ? 1 : 0);
		proto_set(&r, "max_processes", "%zu", d->cfg.max_processes);
		proto_set(&r, "at_cap", "%d", d->tr.at_cap ? 1 : 0);
		proto_set(&r, "untracked", "%zu", d->tr.refused);
		proto_set(&r, "figures_age_ms", "%lld", figures_age_ms(d));
		proto_set(&r, "processes", "%s", uid == 0 ? "all" : "own");
		governor_status(d, &r);
		proto_msg_append(reply, &r);
	}
	struct app_figures *f = figures ? calloc(d->apps.effective.n + 1, sizeof(*f)) : NULL;
	struct app_figures *pf = figures ? calloc(d->tr.n + 1, sizeof(*pf)) : NULL;

	if (f)
		figures_apps(d, f, pf);
	for (size_t i = 0; i < d->apps.effective.n; i++)
		append_app(d, reply, d->apps.effective.v[i], f ? &f[i] : NULL);
	if (figures && procs)
		for (size_t i = 0; i < d->tr.n; i++)
			if (proc_visible(&d->tr.v[i], uid))
				append_proc(&d->tr.v[i], f && pf ? &pf[i] : NULL, reply);
	free(f);
	free(pf);
}

static void do_add(struct daemon *d, const struct proto_record *req, struct proto_msg *reply)
{
	const char *name = proto_get(req, "name");
	const char *runtime = proto_get(req, "runtime");
	char err[512];
	struct proto_record r;

	if (!name) {
		proto_reply_error(reply, "add: missing app name");
		return;
	}
	if (applist_add(&d->apps, name, runtime && strcmp(runtime, "1") == 0, err, sizeof(err)) < 0) {
		char shown[1024];       /* a refused name may hold control bytes */

		proto_reply_error(reply, "add %s: %s", log_escape(name, shown, sizeof(shown)), err);
		return;
	}
	log_info("app %s added%s", name, runtime && strcmp(runtime, "1") == 0 ? " (runtime)" : "");
	/* Running processes are enrolled at once: a sweep matches them now. */
	procwatch_sweep(d->pw);
	proto_reply_ok(reply);
	proto_record_init(&r);
	proto_set(&r, "type", "app");
	proto_set(&r, "name", "%s", name);
	proto_set(&r, "procs", "%zu", tracker_count(&d->tr, name, TRACKED_ENROLLED));
	proto_set(&r, "skipped", "%zu", tracker_count(&d->tr, name, TRACKED_SKIPPED));
	proto_msg_append(reply, &r);
}

static void do_remove(struct daemon *d, const struct proto_record *req, struct proto_msg *reply)
{
	const char *name = proto_get(req, "name");
	const char *runtime = proto_get(req, "runtime");
	const char *unmerge = proto_get(req, "unmerge");
	char err[512];
	struct forget_result fr;
	struct proto_record r;

	if (!name) {
		proto_reply_error(reply, "remove: missing app name");
		return;
	}
	if (applist_remove(&d->apps, name, runtime && strcmp(runtime, "1") == 0, d->config_path,
			   err, sizeof(err)) < 0) {
		char shown[1024];

		proto_reply_error(reply, "remove %s: %s", log_escape(name, shown, sizeof(shown)), err);
		return;
	}
	fr = lifecycle_forget_app(d, name, unmerge && strcmp(unmerge, "1") == 0,
				  lifecycle_deadline());
	if (fr.pending)
		log_info("app %s removed, %zu processes unmerged, %zu go on in the background",
			 name, fr.unmerged, fr.pending);
	else
		log_info("app %s removed%s", name,
			 unmerge && strcmp(unmerge, "1") == 0 ? ", unmerged" : "");
	daemon_update_status(d);
	proto_reply_ok(reply);
	proto_record_init(&r);
	proto_set(&r, "type", "app");
	proto_set(&r, "name", "%s", name);
	proto_set(&r, "unmerged", "%zu", fr.unmerged);
	proto_set(&r, "pending", "%zu", fr.pending);
	proto_msg_append(reply, &r);
}


/* The kill switch: undo every enrollment (inherited ones too), have the
 * kernel unmerge every KSM page, put the admin's knobs back, and enroll
 * nothing more until resume. The daemon keeps running and answering. */
static void do_unmerge_all(struct daemon *d, const struct proto_record *req,
			   struct proto_msg *reply)
{
	const char *all = proto_get(req, "all");
	struct ksmd_global g = { 0 };
	struct proto_record r;
	struct forget_result fr;
	int rc;

	if (!all || strcmp(all, "1") != 0) {
		proto_reply_error(reply, "unmerge: only --all is supported (one app: remove NAME --unmerge)");
		return;
	}
	d->paused = true;
	fr = lifecycle_forget_all(d);
	tracker_clear(&d->tr);          /* skipped and dropped ones too */
	rc = ksmd_unmerge_all();
	ksmd_read_global(&g);           /* before ksmd may run again */
	ksmd_restore();
	log_info("unmerge --all: %zu processes unmerged, %zu go on in the background, KSM "
		 "unmerged everything%s; paused", fr.unmerged, fr.pending,
		 rc < 0 ? " (run = 2 refused)" : "");
	daemon_update_status(d);
	if (rc < 0) {
		proto_reply_error(reply, "unmerged %zu processes (%zu more in the background), but "
				  "the kernel refused run = 2: %s", fr.unmerged, fr.pending, strerror(-rc));
		return;
	}
	proto_reply_ok(reply);
	proto_record_init(&r);
	proto_set(&r, "type", "unmerge");
	proto_set(&r, "unmerged", "%zu", fr.unmerged);
	proto_set(&r, "pending", "%zu", fr.pending);
	proto_set(&r, "pages_sharing", "%lld", g.pages_sharing);
	proto_msg_append(reply, &r);
}

static void do_resume(struct daemon *d, struct proto_msg *reply)
{
	char err[512];

	if (!d->paused) {
		proto_reply_ok(reply);
		return;
	}
	if (ksmd_apply(d->cfg.knobs, d->cfg.n_knobs, err, sizeof(err)) < 0) {
		proto_reply_error(reply, "resume: %s", err);
		return;
	}
	d->paused = false;
	log_info("resumed: enrolling apps again");
	procwatch_sweep(d->pw);
	daemon_update_status(d);
	proto_reply_ok(reply);
}

/* The Prometheus text, one record per line; a line longer than a field
 * value (a long app name, a HELP text) goes in chunks l0, l1, ... */
static void do_metrics(struct daemon *d, struct proto_msg *reply)
{
	char *text = metrics_render(d);
	const size_t chunk = PROTO_VALUE_MAX - 1;

	if (!text) {
		proto_reply_error(reply, "metrics: out of memory");
		return;
	}
	proto_reply_ok(reply);
	for (char *line = text, *nl; *line; line = nl + 1) {
		struct proto_record r;
		size_t len;

		nl = strchr(line, '\n');
		if (!nl)
			nl = line + strlen(line) - 1;   /* metrics_format ends every line */
		len = (size_t)(nl - line + (*nl != '\n'));
		proto_record_init(&r);
		proto_set(&r, "type", "metric");
		for (size_t k = 0, off = 0; off < len && k < PROTO_MAX_FIELDS - 1; k++, off += chunk) {
			char key[8];

			snprintf(key, sizeof(key), "l%zu", k);
			proto_set(&r, key, "%.*s", (int)(len - off < chunk ? len - off : chunk), line + off);
		}
		proto_msg_append(reply, &r);
	}
	free(text);
}

void commands_on_control(const struct proto_record *req, uid_t peer_uid, struct proto_msg *reply,
		       void *ud)
{
	struct daemon *d = ud;
	const char *op = proto_get(req, "op");
	char err[512];

	/* control.c refuses changing ops from non-root; status filters by uid */
	if (!op)
		proto_reply_error(reply, "request without op");
	else if (strcmp(op, "status") == 0)
		/* procs=0 (top): the totals only, not a record per process */
		do_status(d, reply, true, !proto_get(req, "procs") || strcmp(proto_get(req, "procs"), "0") != 0,
			  peer_uid);
	else if (strcmp(op, "list") == 0)
		do_status(d, reply, false, false, peer_uid);
	else if (strcmp(op, "add") == 0)
		do_add(d, req, reply);
	else if (strcmp(op, "remove") == 0)
		do_remove(d, req, reply);
	else if (strcmp(op, "unmerge") == 0)
		do_unmerge_all(d, req, reply);
	else if (strcmp(op, "resume") == 0)
		do_resume(d, reply);
	else if (strcmp(op, "metrics") == 0)
		do_metrics(d, reply);
	else if (strcmp(op, "analyze") == 0)
		analysis_command(d, req, reply);
	else if (strcmp(op, "reload") == 0) {
		if (daemon_reload(d, err, sizeof(err)) < 0)
			proto_reply_error(reply, "reload failed, keeping the running config: %s", err);
		else
			proto_reply_ok(reply);
	} else
		proto_reply_error(reply, "unknown op '%s'", op);
	proto_msg_end(reply);
}

