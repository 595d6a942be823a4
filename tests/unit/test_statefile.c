/* test_statefile.c — the state kept across restarts: a round trip keeps
 * every field (app names with spaces too), a later put replaces an app's
 * entry and a full list drops the oldest, the write is atomic (no
 * temporary file left, the old file intact when the write is refused),
 * and a corrupt, truncated or foreign file is refused naming file and line,
 * leaving nothing loaded. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "statefile.h"

static char dir[64];

static int setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/ksmplus-statefile.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st)
{
	char cmd[128];

	(void)st;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void write_file(const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, STATEFILE_NAME);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static size_t entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.' || strncmp(e->d_name, ".state", 6) == 0;
	closedir(d);
	return n;
}

static void test_round_trip(void **st)
{
	static struct statefile s, r;
	static struct statefile_forecast f = { "gimp", 1700000000, 8, 100, 120, 20, -3 };
	static struct statefile_forecast g = { "cgroup:app-flatpak-org.gimp GIMP-*.scope", 1700000100, 1,
					       1, 2, 1, 0 };
	static struct statefile_census c = { "firefox", 1700000200, 4, 12, 2048, 409600, 210, 3, 1900 };
	char err[512];

	(void)st;
	memset(&s, 0, sizeof(s));
	statefile_put_forecast(&s, &f);
	statefile_put_forecast(&s, &g);
	statefile_put_census(&s, &c);
	assert_int_equal(statefile_save(dir, &s, err, sizeof(err)), 0);
	assert_int_equal(entries(), 1);         /* the file, no temporary one */
	assert_int_equal(statefile_load(dir, &r, err, sizeof(err)), 0);
	assert_int_equal(r.n_fc, 2);
	assert_int_equal(r.n_cs, 1);
	assert_memory_equal(&r.fc[0], &f, sizeof(f));
	assert_memory_equal(&r.fc[1], &g, sizeof(g));
	assert_memory_equal(&r.cs[0], &c, sizeof(c));

	/* a later forecast of gimp replaces the first */
	f.when++;
	f.net_kib = 7;
	statefile_put_forecast(&s, &f);
	assert_int_equal(s.n_fc, 2);
	assert_int_equal(s.fc[0].net_kib, 7);
}

static void test_full(void **st)
{
	static struct statefile s;

	(void)st;
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < STATEFILE_MAX_ENTRIES + 3; i++) {
		struct statefile_forecast f = { .when = 1000 + i, .sample = 1 };

		snprintf(f.app, sizeof(f.app), "app%d", i);
		statefile_put_forecast(&s, &f);
	}
	assert_int_equal(s.n_fc, STATEFILE_MAX_ENTRIES);
	for (size_t i = 0; i < s.n_fc; i++)
		assert_true(s.fc[i].when >= 1003);      /* the three oldest went */
}

static void expect_refused(const char *text, const char *why)
{
	static struct statefile s;
	char err[512];

	write_file(text);
	assert_int_equal(statefile_load(dir, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, dir));
	if (!strstr(err, why))
		fail_msg("'%s' lacks '%s'", err, why);
	assert_int_equal(s.n_fc + s.n_cs, 0);
}

static void test_refused(void **st)
{
	static struct statefile s;
	char err[512];

	(void)st;
	assert_int_equal(statefile_load(dir, &s, err, sizeof(err)), 0);  /* none yet */
	expect_refused("[Desktop Entry]\nName=x\n", "state:1: not a ksmplusd state file");
	expect_refused("ksmplusd-state 2\n", "state:1: not a ksmplusd state file");
	expect_refused("", "state:0: empty");
	expect_refused("ksmplusd-state 1\nforecast 1 1 1 1 1 1 a\nforecast 1 x\n",
		       "state:3: malformed forecast");
	expect_refused("ksmplusd-state 1\nforecast 1 0 1 1 1 1 a\n", "state:2: malformed");
	expect_refused("ksmplusd-state 1\nforecast 1 1 1 1 1 1 \n", "state:2: malformed");
	expect_refused("ksmplusd-state 1\ncensus 1 1 1 1 1 1 1\n", "state:2: malformed census");
	expect_refused("ksmplusd-state 1\nrm -rf /\n", "state:2: unknown record");
	expect_refused("ksmplusd-state 1\nforecast 1 1 1 1 1 1 a", "state:2: truncated line");
}

static void test_unsafe_dir(void **st)
{
	static struct statefile s;
	char err[512], sub[128], link[128];

	(void)st;
	memset(&s, 0, sizeof(s));
	write_file("ksmplusd-state 1\n");
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(statefile_save(dir, &s, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "not writable by others"));
	assert_int_equal(chmod(dir, 0700), 0);
	/* a symlink in its place is not followed */
	snprintf(sub, sizeof(sub), "%s/real", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(symlink(sub, link), 0);
	assert_int_equal(statefile_save(link, &s, err, sizeof(err)), -ENOTDIR);
	/* a missing one is made */
	snprintf(sub, sizeof(sub), "%s/new", dir);
	assert_int_equal(statefile_save(sub, &s, err, sizeof(err)), 0);
}

static void test_dir(void **st)
{
	(void)st;
	assert_string_equal(statefile_dir("/x"), "/x");
	setenv("STATE_DIRECTORY", "/var/lib/a:/var/lib/b", 1);
	assert_string_equal(statefile_dir(NULL), "/var/lib/a");
	unsetenv("STATE_DIRECTORY");
	assert_string_equal(statefile_dir(NULL), STATEFILE_DEFAULT_DIR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test(test_full),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_dir, setup, teardown),
		cmocka_unit_test(test_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
