/* daemon.c — the daemon as systemd sees it: its STATUS= line, and reloading
 * the configuration (SIGHUP or ksmplusctl reload) without losing the running
 * one on error. */
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "metrics.h"
#include "governor.h"
#include "ksmd.h"
#include "log.h"

void daemon_update_status(struct daemon *d)
{
	struct ksmd_global g = { 0 };
	size_t enrolled = tracker_count(&d->tr, NULL, TRACKED_ENROLLED);

	if (!d->ready)
		return;
	ksmd_read_global(&g);
	sd_notifyf(0, "STATUS=%sbackend %s, %zu apps, %zu processes enrolled, %.1f MiB saved",
		   d->paused ? "paused (ksmplusctl resume), " : "",
		   enroll_backend_name(d->enr.backend), d->apps.effective.n, enrolled,
		   (double)g.general_profit / (1024.0 * 1024.0));
}

int daemon_reload(struct daemon *d, char *err, size_t errlen)
{
	struct config fresh;

	config_init(&fresh);
	if (config_load(d->config_path, &fresh, err, errlen) < 0) {
		config_free(&fresh);
		return -1;
	}
	/* Paused (unmerge --all): the knobs stay the admin's until resume. */
	if (!d->paused)
		ksmd_restore();
	if (!d->paused && ksmd_apply(fresh.knobs, fresh.n_knobs, err, errlen) < 0) {
		/* put the running settings back */
		char ignore[256];

		ksmd_apply(d->cfg.knobs, d->cfg.n_knobs, ignore, sizeof(ignore));
		config_free(&fresh);
		return -1;
	}
	bool new_textfile = strcmp(fresh.metrics_textfile, d->cfg.metrics_textfile) != 0 ||
			    fresh.metrics_interval_sec != d->cfg.metrics_interval_sec;

	if (new_textfile)
		metrics_stop(d);
	config_free(&d->cfg);
	d->cfg = fresh;
	governor_reload(d);
	if (new_textfile && metrics_start(d) < 0)
		log_warn("metrics: textfile not written after reload");
	if (applist_load(&d->apps, &d->cfg, err, errlen) < 0)
		return -1;
	procwatch_sweep(d->pw);
	log_info("configuration reloaded from %s: %zu apps", d->config_path, d->apps.effective.n);
	return 0;
}

void daemon_save_state(struct daemon *d)
{
	char err[4400];

	if (!d->state_dir)
		return;
	if (statefile_save(d->state_dir, &d->state, err, sizeof(err)) < 0) {
		/* status still shows them; only a restart loses them */
		if (!d->state_warned)
			log_warn("forecasts will not survive a restart: %s", err);
		d->state_warned = true;
		return;
	}
	if (d->state_warned)
		log_info("state saved again in %s", d->state_dir);
	d->state_warned = false;
}
