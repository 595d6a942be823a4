/* statefile.h — what the daemon keeps across a restart: the last
 * `ksmplusctl analyze` forecast of each app and the summary of its last
 * policy = census census, so `status` still shows them after a restart, an
 * upgrade or a reboot (a census costs ~0.1 s of CPU per 100 MiB: not worth
 * redoing to answer status).
 *
 * One small text file, STATEFILE_NAME, in the state directory
 * (--state-dir, else $STATE_DIRECTORY from the unit's StateDirectory=,
 * else STATEFILE_DEFAULT_DIR). Written whole to a temporary file then
 * renamed over the old one, so a crash leaves the old file or the new one,
 * never half of one. A file that is not ours (another header), of a later
 * format, or with a malformed line is logged, naming the file and line,
 * and ignored: the daemon starts without what it held. */
#ifndef KSMPLUS_STATEFILE_H
#define KSMPLUS_STATEFILE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATEFILE_DEFAULT_DIR "/var/lib/ksmplusd"
#define STATEFILE_NAME "state"
#define STATEFILE_HEADER "ksmplusd-state 1"
#define STATEFILE_MAX_ENTRIES 64        /* each list; more lines: corrupt */

/* A forecast, as analysis.c keeps it (daemon.h's analysis_forecast has the
 * same fields; statefile stays free of the daemon's headers). */
struct statefile_forecast {
	char app[256];
	int64_t when;
	unsigned sample;
	long long saved_kib, shared_kib, depends_kib, net_kib;
};

/* The last census of an app under policy = census (rangeplan.c). */
struct statefile_census {
	char app[256];
	int64_t when;                   /* unix seconds, when it finished */
	unsigned long long procs, ranges, planned_kib, hashed_kib, cpu_ms, censuses;
	long long net_kib;              /* the plan's forecast profit */
};

struct statefile {
	struct statefile_forecast fc[STATEFILE_MAX_ENTRIES];
	size_t n_fc;
	struct statefile_census cs[STATEFILE_MAX_ENTRIES];
	size_t n_cs;
};

/* The directory: opt if given, else $STATE_DIRECTORY's first entry, else
 * STATEFILE_DEFAULT_DIR. */
const char *statefile_dir(const char *opt);
/* Reads dir/STATEFILE_NAME into s (emptied first). 0 also when there is no
 * file yet; -EINVAL for a file that is not ours or is corrupt (err says
 * which file, which line and why; s is left empty), other -errno when it
 * cannot be read. */
int statefile_load(const char *dir, struct statefile *s, char *err, size_t errlen);
/* Writes s to dir/STATEFILE_NAME atomically (mode 0644 in a directory it
 * creates 0755 if missing; a directory that is a symlink or not root's when
 * we are root is refused). 0, or -errno with err saying why. */
int statefile_save(const char *dir, const struct statefile *s, char *err, size_t errlen);
/* Puts x into s under its app, replacing that app's previous entry; when
 * full, the oldest goes. */
void statefile_put_forecast(struct statefile *s, const struct statefile_forecast *x);
void statefile_put_census(struct statefile *s, const struct statefile_census *x);
#endif
