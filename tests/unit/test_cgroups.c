/* test_cgroups.c — cgroup apps: glob matching against cgroup paths, this
 * process's own cgroup paths, and the mounted hierarchies. */
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
		cmocka_unit_test(test_match_app),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
