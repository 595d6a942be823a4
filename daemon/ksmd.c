/* ksmd.c — ksmd's knobs in /sys/kernel/mm/ksm/. The daemon borrows them: each
 * knob it changes is remembered with the value it found, and put back in
 * reverse order at stop (reverse order matters: pages_to_scan is refused
 * while advisor_mode is scan-time, so undo must mirror do). */
#include "ksmd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

struct saved_knob {
	char knob[40];
	char old[64];
};

static char ksmd_root[256] = KSMD_SYSFS;   /* short: knob paths fit PATH_MAX */
static struct saved_knob saved[CONFIG_MAX_KNOBS + 1];
static size_t n_saved;
static unsigned n_restores;

void ksmd_set_root(const char *sysfs_root)
{
	snprintf(ksmd_root, sizeof(ksmd_root), "%s", sysfs_root);
}

static void knob_path(const char *knob, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", ksmd_root, knob);
}

int ksmd_available(void)
{
	char p[PATH_MAX];

	knob_path("run", p, sizeof(p));
	return access(p, R_OK) == 0;
}

/* Reads a knob; "[none] scan-time" style choices are reduced to the
 * selected word so the value can be written back as is. */
int ksmd_read_knob(const char *knob, char *buf, size_t len)
{
	char p[PATH_MAX], raw[256];
	ssize_t n;
	int fd;

	knob_path(knob, p, sizeof(p));
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, raw, sizeof(raw) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	raw[n] = '\0';
	raw[strcspn(raw, "\n")] = '\0';
	char *lb = strchr(raw, '['), *rb = lb ? strchr(lb, ']') : NULL;
	if (lb && rb) {
		*rb = '\0';
		snprintf(buf, len, "%s", lb + 1);
	} else {
		snprintf(buf, len, "%s", raw);
	}
	return 0;
}

static int write_knob(const char *knob, const char *value)
{
	char p[PATH_MAX];
	size_t len = strlen(value);
	int fd, rc = 0;

	knob_path(knob, p, sizeof(p));
	fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);   /* TRUNC: harmless on sysfs, needed on test fakes */
	if (fd < 0)
		return -errno;
	if (write(fd, value, len) != (ssize_t)len)
		rc = -errno;
	close(fd);
	return rc;
}

/* Writes one knob, remembering the old value the first time it changes. */
static int set_knob(const char *knob, const char *value);

int ksmd_unmerge_all(void)
{
	return set_knob("run", "2");
}

/* The first value of a knob is the one to restore; false if already saved. */
static bool save_old(const char *knob, const char *old)
{
	for (size_t i = 0; i < n_saved; i++)
		if (strcmp(saved[i].knob, knob) == 0)
			return false;
	if (n_saved < sizeof(saved) / sizeof(saved[0])) {
		snprintf(saved[n_saved].knob, sizeof(saved[n_saved].knob), "%s", knob);
		snprintf(saved[n_saved].old, sizeof(saved[n_saved].old), "%s", old);
		n_saved++;
	}
	return true;
}

static int set_knob(const char *knob, const char *value)
{
	char old[64];
	int rc;

	rc = ksmd_read_knob(knob, old, sizeof(old));
	if (rc < 0)
		return rc;
	if (strcmp(old, value) == 0)
		return 0;
	rc = write_knob(knob, value);
	if (rc < 0)
		return rc;
	if (save_old(knob, old))
		log_info("ksmd: %s = %s (was %s)", knob, value, old);
	return 0;
}

int ksmd_remember(const char *knob)
{
	char old[64];
	int rc = ksmd_read_knob(knob, old, sizeof(old));

	if (rc < 0)
		return rc;
	save_old(knob, old);
	return 0;
}

static int apply_one(const struct ksmd_setting *s, char *err, size_t errlen)
{
	char p[PATH_MAX];
	int rc;

	knob_path(s->knob, p, sizeof(p));
	if (access(p, F_OK) != 0) {
		snprintf(err, errlen, "%s:%d: ksmd knob '%s' is not available on this kernel (no %s)",
			 s->file, s->line, s->knob, p);
		return -1;
	}
	rc = set_knob(s->knob, s->value);
	if (rc < 0) {
		snprintf(err, errlen, "%s:%d: kernel refused %s = %s: %s", s->file, s->line,
			 s->knob, s->value, strerror(-rc));
		return -1;
	}
	return 0;
}

static bool sets_knob(const struct ksmd_setting *s, size_t n, const char *knob)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s[i].knob, knob) == 0)
			return true;
	return false;
}

/* advisor_mode=none must come before pages_to_scan; turning the advisor on
 * must come after it. Other knobs keep config order. */
static int apply_pass(const struct ksmd_setting *s, size_t n, int pass, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		bool advisor = strcmp(s[i].knob, "advisor_mode") == 0;
		bool early = advisor && strcmp(s[i].value, "none") == 0;
		int want = early ? 0 : advisor ? 2 : 1;

		if (want == pass && apply_one(&s[i], err, errlen) < 0)
			return -1;
	}
	return 0;
}

int ksmd_apply(const struct ksmd_setting *s, size_t n, char *err, size_t errlen)
{
	for (int pass = 0; pass < 3; pass++) {
		if (apply_pass(s, n, pass, err, errlen) < 0) {
			ksmd_restore();
			return -1;
		}
	}
	/* Without ksmd running nothing merges: run=1 is the default. */
	if (!sets_knob(s, n, "run")) {
		int rc = set_knob("run", "1");
		if (rc < 0) {
			snprintf(err, errlen, "cannot start ksmd (%s/run): %s", ksmd_root, strerror(-rc));
			ksmd_restore();
			return -1;
		}
	}
	return 0;
}

int ksmd_steer(const char *knob, const char *value)
{
	return set_knob(knob, value);
}

void ksmd_forget(const char *knob)
{
	for (size_t i = 0; i < n_saved; i++) {
		if (strcmp(saved[i].knob, knob) != 0)
			continue;
		log_info("ksmd: %s will not be restored (was %s): changed by someone else",
			 knob, saved[i].old);
		memmove(&saved[i], &saved[i + 1], (n_saved - i - 1) * sizeof(saved[0]));
		n_saved--;
		return;
	}
}

unsigned ksmd_restores(void)
{
	return n_restores;
}

void ksmd_restore(void)
{
	n_restores++;
	while (n_saved > 0) {
		struct saved_knob *k = &saved[--n_saved];
		int rc = write_knob(k->knob, k->old);

		if (rc < 0)
			log_warn("ksmd: cannot restore %s = %s: %s", k->knob, k->old, strerror(-rc));
		else
			log_info("ksmd: restored %s = %s", k->knob, k->old);
	}
}

static long long read_num(const char *knob)
{
	char buf[64];

	if (ksmd_read_knob(knob, buf, sizeof(buf)) < 0)
		return 0;
	return strtoll(buf, NULL, 10);
}

int ksmd_read_global(struct ksmd_global *g)
{
	if (!ksmd_available())
		return -ENOENT;
	g->pages_shared = read_num("pages_shared");
	g->pages_sharing = read_num("pages_sharing");
	g->pages_unshared = read_num("pages_unshared");
	g->pages_volatile = read_num("pages_volatile");
	g->full_scans = read_num("full_scans");
	g->general_profit = read_num("general_profit");
	g->ksm_zero_pages = read_num("ksm_zero_pages");
	g->run = (int)read_num("run");
	return 0;
}

/* ---- the ksmd thread ------------------------------------------------------ */

static int stat_fields(pid_t pid, char *comm, size_t commlen, int *ppid, unsigned long long *ticks)
{
	char p[64], buf[1024];
	unsigned long long ut, st;
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	char *l = strchr(buf, '('), *r = strrchr(buf, ')');
	if (!l || !r || r < l)
		return -EIO;
	snprintf(comm, commlen, "%.*s", (int)(r - l - 1), l + 1);
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime */
	if (sscanf(r + 1, " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   ppid, &ut, &st) != 3)
		return -EIO;
	*ticks = ut + st;
	return 0;
}

pid_t ksmd_thread_pid(void)
{
	char comm[32];
	int ppid;
	unsigned long long ticks;

	/* kernel threads start early: low PIDs first, and stop at the first match */
	for (pid_t pid = 3; pid < 4096; pid++)
		if (stat_fields(pid, comm, sizeof(comm), &ppid, &ticks) == 0 &&
		    ppid == 2 && strcmp(comm, "ksmd") == 0)
			return pid;
	return 0;
}

int ksmd_thread_ticks(pid_t pid, unsigned long long *ticks)
{
	char comm[32];
	int ppid;

	if (stat_fields(pid, comm, sizeof(comm), &ppid, ticks) < 0 || ppid != 2 ||
	    strcmp(comm, "ksmd") != 0)
		return -1;
	return 0;
}
