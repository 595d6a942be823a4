/* fake_sysfs.h — test helper: a temporary directory that plays
 * /sys/kernel/mm/ksm (ksmd_set_root), for the unit tests that drive ksmd's
 * knobs (test_ksmd.c, test_governor_io.c). Header-only; include after
 * cmocka.h. */
#ifndef KSMPLUS_TEST_FAKE_SYSFS_H
#define KSMPLUS_TEST_FAKE_SYSFS_H
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ksmd.h"

/* Writes value into dir/file: a knob, or any file of a fake tree. */
static inline void put(const char *dir, const char *file, const char *value)
{
	char p[2 * PATH_MAX];
	FILE *f;

	assert_true(snprintf(p, sizeof(p), "%s/%s", dir, file) < (int)sizeof(p));
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(value, f);
	fclose(f);
}

/* knob's value as ksmd.c reads it (the selected one of a [choice] list). */
static inline void get(const char *knob, char *buf, size_t len)
{
	assert_int_equal(ksmd_read_knob(knob, buf, len), 0);
}

static inline void assert_knob(const char *knob, const char *want)
{
	char v[64];

	get(knob, v, sizeof(v));
	assert_string_equal(v, want);
}

/* A fresh /tmp/ksmplus-TAG.XXXXXX in dir (PATH_MAX bytes). 0, or -1. */
static inline int fake_sysfs_make(char *dir, const char *tag)
{
	snprintf(dir, PATH_MAX, "/tmp/ksmplus-%s.XXXXXX", tag);
	return mkdtemp(dir) ? 0 : -1;
}

/* Drops what ksmd_apply saved (a failed test must not leak saved knobs into
 * the next) and removes dir. 0, or -1. */
static inline int fake_sysfs_remove(const char *dir)
{
	char cmd[PATH_MAX + 16];

	ksmd_restore();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}
#endif
