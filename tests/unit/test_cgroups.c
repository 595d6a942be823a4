/* test_cgroups.c — cgroup apps: glob matching against cgroup paths, this
 * process's own cgroup paths, and the mounted hierarchies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cgroups.h"

static void test_is_app(void **state)
{
	(void)state;
	assert_true(cgroup_is_app("cgroup:app-*.scope"));
	assert_false(cgroup_is_app("gimp"));
	assert_false(cgroup_is_app("cgroupd"));
}

static void test_glob(void **state)
{
	static const char scope[] =
		"/user.slice/user-1000.slice/user@1000.service/app.slice/"
		"app-gnome-org.gnome.Epiphany-4711.scope";

	(void)state;
	/* without '/': any one component, so sub-cgroups belong too */
	assert_true(cgroup_glob_match("app-gnome-org.gnome.Epiphany-*.scope", scope));
	assert_true(cgroup_glob_match("app.slice", scope));
	assert_true(cgroup_glob_match("app-gnome-org.gnome.Epiphany-*.scope",
				      "/user.slice/app-gnome-org.gnome.Epiphany-1.scope/sub"));
	assert_false(cgroup_glob_match("app-flatpak-*", scope));
	assert_false(cgroup_glob_match("Epiphany", scope));        /* whole components only */
	/* with '/': the whole path */
	assert_true(cgroup_glob_match("/user.slice/*", scope));     /* fnmatch: '*' spans '/' */
	assert_false(cgroup_glob_match("/system.slice/*", scope));
	assert_true(cgroup_glob_match("/system.slice/docker-[0-9a-f]*.scope",
				      "/system.slice/docker-3fa1.scope"));
	/* the root and odd inputs */
	assert_false(cgroup_glob_match("x", "/"));
	assert_false(cgroup_glob_match("x", ""));
	assert_true(cgroup_glob_match("/", "/"));
}

static void test_own_paths(void **state)
{
	char unified[4096], named[4096], mu[4096], mn[4096];

	(void)state;
	assert_int_equal(cgroup_paths_of(getpid(), unified, sizeof(unified), named, sizeof(named)), 0);
	cgroup_mounts(mu, sizeof(mu), mn, sizeof(mn));
	/* every current system mounts cgroup2 somewhere; a process in it has a
	 * path starting with '/' */
	if (mu[0])
		assert_true(unified[0] == '/');
	if (mn[0])
		assert_true(named[0] == '/');
	fprintf(stderr, "  cgroup2 at '%s' (this process: %s), name=systemd at '%s' (%s)\n", mu,
		unified, mn, named);
	assert_true(cgroup_paths_of(0x7ffffff0, unified, sizeof(unified), named, sizeof(named)) < 0);
}

/* analyze --cgroup: the v2 line on pure v2 and hybrid systems, the v1
 * memory controller's line (alone or co-mounted) on v1 and hybrid ones. */
static void test_parse_mem_line(void **state)
{
	char u[64] = "", m[64] = "";

	(void)state;
	cgroup_parse_mem_line("0::/user.slice/app-x.scope\n", u, sizeof(u), m, sizeof(m));
	assert_string_equal(u, "/user.slice/app-x.scope");
	assert_string_equal(m, "");
	cgroup_parse_mem_line("12:memory:/system.slice/db.service\n", u, sizeof(u), m, sizeof(m));
	assert_string_equal(m, "/system.slice/db.service");
	cgroup_parse_mem_line("3:cpu,memory:/co\n", u, sizeof(u), m, sizeof(m));
	assert_string_equal(m, "/co");
	/* neither: memsw-like names, other controllers, named hierarchies */
	cgroup_parse_mem_line("5:memoryx:/no\n", u, sizeof(u), m, sizeof(m));
	cgroup_parse_mem_line("6:cpuset:/no\n", u, sizeof(u), m, sizeof(m));
	cgroup_parse_mem_line("1:name=systemd:/no\n", u, sizeof(u), m, sizeof(m));
	cgroup_parse_mem_line("garbage\n", u, sizeof(u), m, sizeof(m));
	assert_string_equal(u, "/user.slice/app-x.scope");
	assert_string_equal(m, "/co");
}

/* This process matches its own cgroup's last component (the v2 one, or the
 * v1 memory one when the v2 path is the root, as on hybrid hosts); a gone
 * PID is an error. */
static void test_mem_match_self(void **state)
{
	char u[4096] = "", m[4096] = "", line[4200];
	const char *last = NULL;
	FILE *f = fopen("/proc/self/cgroup", "re");

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		cgroup_parse_mem_line(line, u, sizeof(u), m, sizeof(m));
	fclose(f);
	if (strrchr(u, '/') && strrchr(u, '/')[1])
		last = strrchr(u, '/') + 1;
	else if (strrchr(m, '/') && strrchr(m, '/')[1])
		last = strrchr(m, '/') + 1;
	if (!last)
		skip();         /* in the root cgroups: nothing to name */
	assert_int_equal(cgroup_mem_match(last, getpid()), 1);
	assert_int_equal(cgroup_mem_match("ksmplus-no-such-cgroup-*", getpid()), 0);
	assert_true(cgroup_mem_match("x", 0x3ffffff0) < 0);
}

static void test_match_app(void **state)
{
	char unified[4096], named[4096];
	struct strlist apps = { 0 };
	char glob[4200];

	(void)state;
	assert_int_equal(cgroup_paths_of(getpid(), unified, sizeof(unified), named, sizeof(named)), 0);
	assert_int_equal(strlist_add(&apps, "gimp"), 0);
	assert_int_equal(strlist_add(&apps, "cgroup:no-such-scope-*"), 0);
	assert_null(cgroup_match_app(&apps, getpid()));
	/* this process's own unified path, as a whole-path glob */
	snprintf(glob, sizeof(glob), "cgroup:%s", unified[0] ? unified : named);
	assert_int_equal(strlist_add(&apps, glob), 0);
	assert_string_equal(cgroup_match_app(&apps, getpid()), glob);
	strlist_clear(&apps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_app),
		cmocka_unit_test(test_glob),
		cmocka_unit_test(test_own_paths),
		cmocka_unit_test(test_parse_mem_line),
		cmocka_unit_test(test_mem_match_self),
		cmocka_unit_test(test_match_app),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
