/* test_applist.c — where app names come from, and what add/remove persist. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applist.h"

struct fixture {
	char dir[64];
	struct config cfg;
	struct applist apps;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ksmplus-applist.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	config_init(&f->cfg);
	snprintf(f->cfg.path, sizeof(f->cfg.path), "%s/ksmplusd.conf", f->dir);
	snprintf(f->cfg.dropin_dir, sizeof(f->cfg.dropin_dir), "%s/ksmplusd.conf.d", f->dir);
	strlist_add(&f->cfg.apps, "gimp");       /* as if from the user's file */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[PATH_MAX + 16];

	applist_free(&f->apps);
	config_free(&f->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	free(f);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_add_persists_in_dropin(void **state)
{
	struct fixture *f = *state;
	struct strlist on_disk = { 0 };
	char err[512] = "";

	assert_int_equal(applist_load(&f->apps, &f->cfg, err, sizeof(err)), 0);
	assert_int_equal(applist_add(&f->apps, "evince", false, err, sizeof(err)), 0);
	assert_true(strlist_contains(&f->apps.effective, "evince"));
	assert_string_equal(applist_source(&f->apps, "evince"), "ctl");
	assert_string_equal(applist_source(&f->apps, "gimp"), "config");
	assert_int_equal(config_read_ctl_dropin(f->cfg.dropin_dir, &on_disk, err, sizeof(err)), 0);
	assert_int_equal(on_disk.n, 1);
	assert_string_equal(on_disk.v[0], "evince");
	strlist_clear(&on_disk);

	assert_int_equal(applist_remove(&f->apps, "evince", false, f->cfg.path, err, sizeof(err)), 0);
	assert_false(strlist_contains(&f->apps.effective, "evince"));
	assert_int_equal(config_read_ctl_dropin(f->cfg.dropin_dir, &on_disk, err, sizeof(err)), 0);
	assert_int_equal(on_disk.n, 0);
	strlist_clear(&on_disk);
}

static void test_runtime_not_persisted(void **state)
{
	struct fixture *f = *state;
	char err[512] = "";
	char path[PATH_MAX + 32];

	assert_int_equal(applist_load(&f->apps, &f->cfg, err, sizeof(err)), 0);
	assert_int_equal(applist_add(&f->apps, "okular", true, err, sizeof(err)), 0);
	assert_string_equal(applist_source(&f->apps, "okular"), "runtime");
	snprintf(path, sizeof(path), "%s/%s", f->cfg.dropin_dir, CONFIG_CTL_DROPIN);
	assert_int_not_equal(access(path, F_OK), 0);
	/* runtime changes survive a reload of the files */
	assert_int_equal(applist_load(&f->apps, &f->cfg, err, sizeof(err)), 0);
	assert_true(strlist_contains(&f->apps.effective, "okular"));
}

static void test_user_file_never_rewritten(void **state)
{
	struct fixture *f = *state;
	char err[512] = "";

	assert_int_equal(applist_load(&f->apps, &f->cfg, err, sizeof(err)), 0);
	assert_int_equal(applist_remove(&f->apps, "gimp", false, f->cfg.path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ksmplusd.conf"));
	assert_non_null(strstr(err, "--runtime"));
	assert_true(strlist_contains(&f->apps.effective, "gimp"));
	assert_int_equal(applist_remove(&f->apps, "gimp", true, f->cfg.path, err, sizeof(err)), 0);
	assert_false(strlist_contains(&f->apps.effective, "gimp"));
	/* re-adding undoes the runtime removal */
	assert_int_equal(applist_add(&f->apps, "gimp", true, err, sizeof(err)), 0);
	assert_true(strlist_contains(&f->apps.effective, "gimp"));
}

static void test_bad_names(void **state)
{
	struct fixture *f = *state;
	char err[512] = "";

	assert_int_equal(applist_load(&f->apps, &f->cfg, err, sizeof(err)), 0);
	assert_int_equal(applist_add(&f->apps, "", false, err, sizeof(err)), -1);
	assert_int_equal(applist_add(&f->apps, "a/b", false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "a/b"));
	assert_int_equal(applist_add(&f->apps, "two words", false, err, sizeof(err)), -1);
	assert_int_equal(applist_remove(&f->apps, "nothere", false, f->cfg.path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nothere"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_persists_in_dropin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runtime_not_persisted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_file_never_rewritten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
	};
	return cmocka_run_group_tests_name("applist", tests, NULL, NULL);
}
