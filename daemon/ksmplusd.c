/* ksmplusd.c — main: options, then the wiring of config, process watch,
 * the control socket and timers into one sd-event loop, and signals
 * (SIGHUP reload, SIGTERM stop). The parts are described in daemon.h. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "daemon.h"
#include "control.h"
#include "enroll.h"
#include "governor.h"
#include "ksmd.h"
#include "metrics.h"
#include "rlimits.h"
#include "log.h"
#include "procwatch.h"
#include "rangeplan.h"
#include "protocol.h"
#include "tracker.h"

#include "version.h"

/* ---- config and signals ------------------------------------------------ */

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *ud)
{
	struct daemon *d = ud;
	char err[512];

	(void)s;
	(void)si;
	sd_notify(0, "RELOADING=1");
	if (daemon_reload(d, err, sizeof(err)) < 0)
		log_err("reload failed, keeping the running config: %s", err);
	sd_notify(0, "READY=1");
	daemon_update_status(d);
	return 0;
}

static int on_stop_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *ud)
{
	struct daemon *d = ud;

	(void)s;
	log_info("signal %u: stopping", si->ssi_signo);
	sd_notify(0, "STOPPING=1");
	return sd_event_exit(d->ev, 0);
}

/* ---- main ---------------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ksmplusd [OPTIONS]\n"
		"Enroll the anonymous memory of named apps with Linux KSM.\n\n"
		"  -c, --config PATH    config file (default %s; drop-ins in PATH.d/)\n"
		"  -s, --socket PATH    control socket (default %s)\n"
		"      --state-dir DIR  where forecasts survive restarts (default $STATE_DIRECTORY,\n"
		"                       else %s)\n"
		"      --check-config   validate the config and exit\n"
		"  -f, --foreground     accepted; ksmplusd never forks into the background\n"
		"  -v, --verbose        log debug messages\n"
		"  -h, --help           show this help\n"
		"  -V, --version        show the version\n\n"
		"Runs in the foreground; under systemd it logs to the journal.\n"
		"SIGHUP reloads the config, SIGTERM stops. See ksmplusd(8).\n",
		CONFIG_DEFAULT_PATH, PROTO_DEFAULT_SOCKET, STATEFILE_DEFAULT_DIR);
}

struct options {
	const char *config;
	const char *socket;
	const char *state_dir;
	bool check_only;
	bool verbose;
};

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "foreground", no_argument, NULL, 'f' },   /* always: accepted for habit */
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->config = CONFIG_DEFAULT_PATH;
	o->socket = PROTO_DEFAULT_SOCKET;
	while ((c = getopt_long(argc, argv, "c:s:fvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 's': o->socket = optarg; break;
		case 'S': o->state_dir = optarg; break;
		case 'C': o->check_only = true; break;
		case 'v': o->verbose = true; break;
		case 'f': break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("ksmplusd %s\n", KSMPLUS_VERSION); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ksmplusd: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

static int setup_loop(struct daemon *d, const struct options *o)
{
	char err[512];
	sigset_t ss;
	int rc;

	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((rc = sd_event_default(&d->ev)) < 0 ||
	    (rc = sd_event_add_signal(d->ev, NULL, SIGTERM, on_stop_signal, d)) < 0 ||
	    (rc = sd_event_add_signal(d->ev, NULL, SIGINT, on_stop_signal, d)) < 0 ||
	    (rc = sd_event_add_signal(d->ev, NULL, SIGHUP, on_sighup, d)) < 0 ||
	    (rc = sd_event_set_watchdog(d->ev, true)) < 0) {
		log_err("cannot set up the event loop: %s", strerror(-rc));
		return -1;
	}
	if ((rc = figures_init(d)) < 0) {
		log_err("cannot set up the figures worker: %s", strerror(-rc));
		return -1;
	}
	if ((rc = analysis_init(d)) < 0) {
		log_err("cannot set up the census worker: %s", strerror(-rc));
		return -1;
	}
	if ((rc = rangeplan_init(d)) < 0) {
		log_err("cannot set up the census policy's worker: %s", strerror(-rc));
		return -1;
	}
	if (control_open(d->ev, o->socket, commands_on_control, d, &d->ctl, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return -1;
	}
	rc = sd_event_add_time(d->ev, &d->retry, CLOCK_MONOTONIC, UINT64_MAX, 0, lifecycle_on_retry, d);
	if (rc < 0 || (rc = sd_event_source_set_enabled(d->retry, SD_EVENT_OFF)) < 0) {
		log_err("cannot set up the retry timer: %s", strerror(-rc));
		return -1;
	}
	rc = sd_event_add_time_relative(d->ev, &d->rescan, CLOCK_MONOTONIC,
					(uint64_t)d->cfg.rescan_sec * 1000000ULL, 0, lifecycle_on_rescan, d);
	if (rc < 0 || (rc = sd_event_source_set_enabled(d->rescan, SD_EVENT_ON)) < 0) {
		log_err("cannot set up the rescan timer: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

/* What survived the last run (statefile.h). A file we cannot use is
 * named in the log and ignored: forecasts can be made again. */
static void load_state(struct daemon *d, const char *opt)
{
	char err[4400];

	d->state_dir = statefile_dir(opt);
	if (statefile_load(d->state_dir, &d->state, err, sizeof(err)) < 0)
		log_warn("ignoring the saved state: %s", err);
	else if (d->state.n_fc || d->state.n_cs)
		log_info("state from %s: %zu forecasts, %zu census summaries", d->state_dir,
			 d->state.n_fc, d->state.n_cs);
}

/* How long a stop may go on unmerging (unmerge_on_stop): a third of
 * systemd's default stop timeout. */
#define STOP_UNMERGE_SEC 30

static void shutdown_daemon(struct daemon *d)
{
	if (d->cfg.unmerge_on_stop) {
		size_t pending;

		lifecycle_forget_all(d);
		/* Big ones (a sparse 1 TiB heap cage) take seconds: their retry
		 * timer dies with the loop, so they are finished here, within
		 * systemd's stop timeout (90 s by default). */
		pending = lifecycle_undos_pending();
		if (pending) {
			log_info("unmerge_on_stop: %zu processes still to unmerge: going on for up "
				 "to %d s", pending, STOP_UNMERGE_SEC);
			sd_notifyf(0, "STATUS=unmerging %zu processes", pending);
			pending = lifecycle_finish_undos(d, STOP_UNMERGE_SEC * 1000000ULL);
		}
		if (pending)
			log_warn("unmerge_on_stop: %zu processes still merging: their unmerge did "
				 "not finish in %d s", pending, STOP_UNMERGE_SEC);
	}
	metrics_stop(d);
	governor_stop(d);
	ksmd_restore();
	if (d->ctl)
		control_close(d->ctl);
	if (d->pw)
		procwatch_stop(d->pw);
	figures_free(d);
	analysis_free(d);
	rangeplan_free(d);
	sd_event_source_unref(d->rescan);
	sd_event_source_unref(d->reaper);
	sd_event_source_unref(d->retry);
	if (d->enr.backend == ENROLL_PTRACE)
		ptrace_reap_pending();
	tracker_clear(&d->tr);
	applist_free(&d->apps);
	free(d->appst);
	config_free(&d->cfg);
	sd_event_unref(d->ev);
}

int main(int argc, char **argv)
{
	struct daemon d = { 0 };
	struct options o = { 0 };
	char err[1024];
	int rc = 1;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	log_init("ksmplusd", getenv("JOURNAL_STREAM") != NULL);
	log_set_verbose(o.verbose);
	d.config_path = o.config;
	d.self = getpid();
	config_init(&d.cfg);
	if (config_load(o.config, &d.cfg, err, sizeof(err)) < 0 ||
	    applist_load(&d.apps, &d.cfg, err, sizeof(err)) < 0) {
		log_err("%s", err);
		config_free(&d.cfg);
		applist_free(&d.apps);
		return 1;
	}
	if (o.check_only) {
		printf("%s: ok (%zu apps, %zu excluded, %zu ksmd settings)\n", o.config,
		       d.apps.effective.n, d.cfg.excludes.n, d.cfg.n_knobs);
		applist_free(&d.apps);
		config_free(&d.cfg);
		return 0;
	}
	log_debug("open-file limit: %llu", (unsigned long long)rlimits_raise_nofile());
	if (!ksmd_available()) {
		log_err("this kernel has no KSM (%s missing): build it with CONFIG_KSM=y", KSMD_SYSFS);
		goto out;
	}
	if (enroll_probe(d.cfg.backend, &d.enr, err, sizeof(err)) < 0) {
		log_err("%s", err);
		goto out;
	}
	log_info("backend: %s%s", enroll_backend_name(d.enr.backend),
		 d.enr.backend == ENROLL_PTRACE && d.enr.has_prctl_merge ?
		 " (injecting prctl(PR_SET_MEMORY_MERGE))" : "");
	if (ksmd_apply(d.cfg.knobs, d.cfg.n_knobs, err, sizeof(err)) < 0) {
		log_err("%s", err);
		goto out;
	}
	load_state(&d, o.state_dir);
	if (setup_loop(&d, &o) < 0)
		goto out;
	if ((rc = governor_start(&d)) < 0) {
		log_err("cannot start the governor: %s", strerror(-rc));
		rc = 1;
		goto out;
	}
	rc = procwatch_start(d.ev, members_on_procwatch, &d, d.cfg.sweep_sec, &d.pw);
	if (rc < 0) {
		log_err("cannot watch processes: %s", strerror(-rc));
		rc = 1;
		goto out;
	}
	d.ready = true;
	/* After the first sweep: the first textfile has the apps' processes. */
	if ((rc = metrics_start(&d)) < 0) {
		log_err("cannot start the metrics textfile: %s", strerror(-rc));
		rc = 1;
		goto out;
	}
	daemon_update_status(&d);
	sd_notify(0, "READY=1");
	log_info("ready: %zu apps, %zu processes enrolled, control socket %s",
		 d.apps.effective.n, tracker_count(&d.tr, NULL, TRACKED_ENROLLED), o.socket);
	rc = sd_event_loop(d.ev);
	if (rc < 0)
		log_err("event loop failed: %s", strerror(-rc));
	rc = rc < 0 ? 1 : 0;
out:
	shutdown_daemon(&d);
	return rc;
}
