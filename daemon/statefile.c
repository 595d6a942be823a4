/* statefile.c — the state kept across restarts (statefile.h).
 *
 * Format, one record a line, fields separated by one space, the app's name
 * last so it may hold spaces (never a newline: such a name is not saved):
 *   ksmplusd-state 1
 *   forecast WHEN SAMPLE SAVED_KIB SHARED_KIB DEPENDS_KIB NET_KIB APP
 *   census WHEN PROCS RANGES PLANNED_KIB HASHED_KIB CPU_MS CENSUSES NET_KIB APP */
#include "statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *statefile_dir(const char *opt)
{
	static char env[4096];
	const char *e = getenv("STATE_DIRECTORY");

	if (opt && *opt)
		return opt;
	if (e && *e) {
		/* systemd gives one path per StateDirectory= entry, ':'-separated */
		snprintf(env, sizeof(env), "%s", e);
		env[strcspn(env, ":")] = '\0';
		return env;
	}
	return STATEFILE_DEFAULT_DIR;
}

static void path_of(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

/* One line after its keyword: its numbers, then the app (rest of line). */
static int parse_forecast(char *rest, struct statefile_forecast *x)
{
	int off = -1;
	long long when;

	memset(x, 0, sizeof(*x));
	if (sscanf(rest, "%lld %u %lld %lld %lld %lld %n", &when, &x->sample, &x->saved_kib,
		   &x->shared_kib, &x->depends_kib, &x->net_kib, &off) < 6 || off < 0 ||
	    !rest[off] || strlen(rest + off) >= sizeof(x->app) || x->sample == 0 || when < 0)
		return -1;
	x->when = when;
	snprintf(x->app, sizeof(x->app), "%s", rest + off);
	return 0;
}

static int parse_census(char *rest, struct statefile_census *x)
{
	int off = -1;
	long long when;

	memset(x, 0, sizeof(*x));
	if (sscanf(rest, "%lld %llu %llu %llu %llu %llu %llu %lld %n", &when, &x->procs, &x->ranges,
		   &x->planned_kib, &x->hashed_kib, &x->cpu_ms, &x->censuses, &x->net_kib, &off) < 8 ||
	    off < 0 || !rest[off] || strlen(rest + off) >= sizeof(x->app) || when < 0)
		return -1;
	x->when = when;
	snprintf(x->app, sizeof(x->app), "%s", rest + off);
	return 0;
}

/* One record line into s: 0, or -1 with why in *why. */
static int parse_line(char *line, struct statefile *s, const char **why)
{
	if (strncmp(line, "forecast ", 9) == 0) {
		if (s->n_fc == STATEFILE_MAX_ENTRIES)
			return *why = "too many forecasts", -1;
		if (parse_forecast(line + 9, &s->fc[s->n_fc]) < 0)
			return *why = "malformed forecast", -1;
		s->n_fc++;
		return 0;
	}
	if (strncmp(line, "census ", 7) == 0) {
		if (s->n_cs == STATEFILE_MAX_ENTRIES)
			return *why = "too many censuses", -1;
		if (parse_census(line + 7, &s->cs[s->n_cs]) < 0)
			return *why = "malformed census", -1;
		s->n_cs++;
		return 0;
	}
	return *why = "unknown record", -1;
}

int statefile_load(const char *dir, struct statefile *s, char *err, size_t errlen)
{
	char path[4200], line[512];
	const char *why = NULL;
	unsigned lineno = 0;
	FILE *f;

	memset(s, 0, sizeof(*s));
	path_of(path, sizeof(path), dir, STATEFILE_NAME);
	if (!(f = fopen(path, "re"))) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		size_t l = strlen(line);

		lineno++;
		if (!l || line[l - 1] != '\n') {
			why = l == sizeof(line) - 1 ? "line too long" : "truncated line";
			break;
		}
		line[l - 1] = '\0';
		if (lineno == 1) {
			if (strcmp(line, STATEFILE_HEADER) != 0) {
				why = "not a ksmplusd state file (or of another version)";
				break;
			}
			continue;
		}
		if (parse_line(line, s, &why) < 0)
			break;
	}
	if (!why && lineno == 0)
		why = "empty";
	fclose(f);
	if (!why)
		return 0;
	snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
	memset(s, 0, sizeof(*s));
	return -EINVAL;
}

/* The directory, made if missing; refused if it is a symlink or someone
 * else's (another user could swap the file under root's rename). */
static int prepare_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: cannot create the state directory: %s", dir,
			 strerror(errno));
		return -errno;
	}
	if (lstat(dir, &st) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: the state directory is not a directory", dir);
		return -ENOTDIR;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 0022)) {
		snprintf(err, errlen, "%s: the state directory must be ours (uid %d) and not "
			 "writable by others", dir, (int)geteuid());
		return -EPERM;
	}
	return 0;
}

static bool name_ok(const char *app)
{
	return *app && !strchr(app, '\n');
}

static int write_all(FILE *f, const struct statefile *s)
{
	fprintf(f, "%s\n", STATEFILE_HEADER);
	for (size_t i = 0; i < s->n_fc; i++) {
		const struct statefile_forecast *x = &s->fc[i];

		if (name_ok(x->app))
			fprintf(f, "forecast %lld %u %lld %lld %lld %lld %s\n", (long long)x->when,
				x->sample, x->saved_kib, x->shared_kib, x->depends_kib, x->net_kib,
				x->app);
	}
	for (size_t i = 0; i < s->n_cs; i++) {
		const struct statefile_census *x = &s->cs[i];

		if (name_ok(x->app))
			fprintf(f, "census %lld %llu %llu %llu %llu %llu %llu %lld %s\n",
				(long long)x->when, x->procs, x->ranges, x->planned_kib,
				x->hashed_kib, x->cpu_ms, x->censuses, x->net_kib, x->app);
	}
	return fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0 ? 0 : -errno;
}

int statefile_save(const char *dir, const struct statefile *s, char *err, size_t errlen)
{
	char path[4200], tmp[4300];
	FILE *f;
	int fd, rc;

	if ((rc = prepare_dir(dir, err, errlen)) < 0)
		return rc;
	path_of(path, sizeof(path), dir, STATEFILE_NAME);
	snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, STATEFILE_NAME);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: cannot create a temporary file: %s", dir, strerror(errno));
		return -errno;
	}
	if (fchmod(fd, 0644) < 0 || !(f = fdopen(fd, "w"))) {
		rc = -errno;
		close(fd);
		goto fail;
	}
	rc = write_all(f, s);
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc == 0)
		return 0;
fail:
	snprintf(err, errlen, "%s: cannot write: %s", path, strerror(-rc));
	unlink(tmp);
	return rc;
}

/* x into arr (n entries, n updated): over its app's entry, else a new one,
 * else (full) over the oldest. A macro: the two lists differ in type only. */
#define PUT(arr, n, x)                                                               \
	do {                                                                         \
		size_t at_ = 0;                                                      \
		while (at_ < (n) && strcmp((arr)[at_].app, (x)->app) != 0)           \
			at_++;                                                       \
		if (at_ == STATEFILE_MAX_ENTRIES) {                                  \
			at_ = 0;                                                     \
			for (size_t i_ = 1; i_ < (n); i_++)                          \
				if ((arr)[i_].when < (arr)[at_].when)                \
					at_ = i_;                                    \
		} else if (at_ == (n)) {                                             \
			(n)++;                                                       \
		}                                                                    \
		(arr)[at_] = *(x);                                                   \
	} while (0)

void statefile_put_forecast(struct statefile *s, const struct statefile_forecast *x)
{
	PUT(s->fc, s->n_fc, x);
}

void statefile_put_census(struct statefile *s, const struct statefile_census *x)
{
	PUT(s->cs, s->n_cs, x);
}
