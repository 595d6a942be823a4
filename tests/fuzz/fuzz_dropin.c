/* fuzz_dropin.c — libFuzzer harness for the ksmplusctl drop-in's write ->
 * read round trip (daemon/applist.c over config.c): whatever names clients
 * send with `ksmplusctl add NAME` / `remove NAME`, the drop-in written must
 * read back as the same app list, or the name must be refused before
 * anything is written.  Never a file the next start or reload cannot load.
 *
 * Input: requests, each an op byte then a NUL-terminated name (as it comes
 * off the control socket: any bytes but NUL).  op % 4: 0 add, 1 add
 * --runtime, 2 remove, 3 remove --runtime.  The main config lists "cfgapp".
 *
 * After every request: the drop-in reads back as exactly the applist's ctl
 * list, in order; the whole config still loads and its apps are the main
 * file's plus the drop-in's; a name just added (persistently, without error)
 * is in the drop-in, byte for byte. */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "applist.h"
#include "config.h"
#include "fuzz_tmpdir.h"

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_dropin: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

#define MAX_REQUESTS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail_load(const char *what, const char *name, const char *err)
{
	fprintf(stderr, "fuzz_dropin: after %s '%s': %s\n", what, name, err);
	abort();
}

static bool same_list(const struct strlist *a, const struct strlist *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

static void check_state(const struct applist *a, const char *main_path, const char *what,
			const char *name)
{
	struct strlist back = { 0 };
	struct config c;
	char err[1024] = "";

	if (config_read_ctl_dropin(a->dropin_dir, &back, err, sizeof(err)) < 0)
		fail_load(what, name, err);
	if (!same_list(&back, &a->ctl)) {
		fprintf(stderr, "fuzz_dropin: after %s '%s': drop-in reads back %zu names, "
			"the app list has %zu\n", what, name, back.n, a->ctl.n);
		abort();
	}
	strlist_clear(&back);

	config_init(&c);
	if (config_load(main_path, &c, err, sizeof(err)) < 0)
		fail_load(what, name, err);
	CHECK(strlist_contains(&c.apps, "cfgapp"));
	for (size_t i = 0; i < a->ctl.n; i++)
		CHECK(strlist_contains(&c.apps, a->ctl.v[i]));
	CHECK(c.apps.n == a->ctl.n + !strlist_contains(&a->ctl, "cfgapp"));
	config_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ops[] = { "add", "add --runtime", "remove", "remove --runtime" };
	const char *dir = fuzz_tmpdir();
	char main_path[PATH_MAX], dropin[PATH_MAX], err[1024] = "";
	struct applist a = { 0 };
	struct config c;
	size_t pos = 0;

	snprintf(main_path, sizeof(main_path), "%s/ksmplusd.conf", dir);
	snprintf(dropin, sizeof(dropin), "%s.d/%s", main_path, CONFIG_CTL_DROPIN);
	(void)unlink(dropin);
	fuzz_write_file(main_path, "[apps]\napp = cfgapp\n", 20);
	config_init(&c);
	CHECK(config_load(main_path, &c, err, sizeof(err)) == 0);
	CHECK(applist_load(&a, &c, err, sizeof(err)) == 0);
	config_free(&c);

	for (int n = 0; n < MAX_REQUESTS && pos < size; n++) {
		unsigned op = data[pos++] % 4;
		const char *name = (const char *)data + pos;
		size_t len = strnlen(name, size - pos);
		char *copy = strndup(name, len);
		int r;

		CHECK(copy);
		pos += len + (pos + len < size);
		if (op < 2)
			r = applist_add(&a, copy, op == 1, err, sizeof(err));
		else
			r = applist_remove(&a, copy, op == 3, main_path, err, sizeof(err));
		CHECK(r == 0 || r == -1);
		if (r < 0)
			CHECK(err[0] != '\0');
		if (r == 0 && op == 0)
			CHECK(strlist_contains(&a.effective, copy));
		if (r == 0 && op == 0 && strcmp(copy, "cfgapp") != 0)
			CHECK(strlist_contains(&a.ctl, copy));
		check_state(&a, main_path, ops[op], copy);
		free(copy);
	}
	applist_free(&a);
	return 0;
}
