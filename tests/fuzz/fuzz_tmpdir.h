/* fuzz_tmpdir.h — a private scratch directory for the harnesses that must
 * go through files (the config parser reads paths, not buffers).  Made once
 * per process under $TMPDIR (tests/fuzz/run.sh points it at /dev/shm when it
 * can, so fsync costs nothing) and removed at exit; the process works in it,
 * and fuzz_tmpdir() returns ".". */
#ifndef KSMPLUS_FUZZ_TMPDIR_H
#define KSMPLUS_FUZZ_TMPDIR_H
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir[PATH_MAX];

static void fuzz_tmpdir_remove(void)
{
	char cmd[PATH_MAX + 16];

	/* Only a directory this process created with mkdtemp. */
	if (fuzz_dir[0] && snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fuzz_dir) < (int)sizeof(cmd))
		(void)!system(cmd);
}

static const char *fuzz_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	if (fuzz_dir[0])
		return ".";
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/ksmplus-fuzz.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(fuzz_dir)) {
		perror(fuzz_dir);
		abort();
	}
	atexit(fuzz_tmpdir_remove);
	/* Work inside it by relative paths: the random name must not reach
	 * the code under test, or its bytes would end up in error messages,
	 * compared strings and so in libFuzzer's mutations, and a run with a
	 * fixed seed would not repeat itself (tests/fuzz/run.sh relies on it). */
	if (chdir(fuzz_dir) != 0) {
		perror(fuzz_dir);
		abort();
	}
	return ".";
}

/* Writes len bytes to path (truncating); aborts on failure, which would be
 * the harness's fault, not the code's. */
static void fuzz_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "we");

	if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
		perror(path);
		abort();
	}
}
#endif
