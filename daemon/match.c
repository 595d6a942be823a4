/* match.c — does a process belong to a named app?
 *
 * A process is identified by two strings from /proc: comm (the kernel's
 * 15-char truncated task name, which a program may also change) and the
 * basename of its executable.  Packaged programs often install a versioned
 * binary (GIMP runs as gimp-2.10), so NAME also matches NAME-<digit>...; the
 * digit requirement keeps "gimp" from swallowing "gimp-console". */
#include "match.h"

#include <ctype.h>
#include <string.h>

/* exe is NAME, or NAME '-' followed by a version that starts with a digit. */
static bool exe_matches(const char *name, size_t name_len, const char *exe)
{
	if (strncmp(exe, name, name_len) != 0)
		return false;
	if (exe[name_len] == '\0')
		return true;
	return exe[name_len] == '-' && isdigit((unsigned char)exe[name_len + 1]);
}

bool match_name(const char *name, const char *comm, const char *exe_base)
{
	size_t len;

	if (!name || !*name)
		return false;
	len = strlen(name);
	/* comm holds at most COMM_MAX chars; a longer name would only ever
	 * equal a truncated comm by accident of prefix, so skip comm. */
	if (comm && len <= COMM_MAX && strcmp(comm, name) == 0)
		return true;
	return exe_base && exe_matches(name, len, exe_base);
}

bool match_any(const struct strlist *names, const char *comm, const char *exe_base)
{
	for (size_t i = 0; names && i < names->n; i++)
		if (match_name(names->v[i], comm, exe_base))
			return true;
	return false;
}

const char *match_app(const struct strlist *apps, const struct strlist *excludes,
		      const char *comm, const char *exe_base)
{
	/* Excludes win so a broad app name can never enroll e.g. a database
	 * that manages its own memory. */
	if (match_any(excludes, comm, exe_base))
		return NULL;
	for (size_t i = 0; apps && i < apps->n; i++)
		if (strncmp(apps->v[i], "cgroup:", 7) != 0 &&     /* cgroups.c matches those */
		    match_name(apps->v[i], comm, exe_base))
			return apps->v[i];
	return NULL;
}

#define DELETED_SUFFIX " (deleted)"

const char *match_exe_base(const char *exe_path, char *buf, size_t len)
{
	const char *base;
	size_t n, suffix = strlen(DELETED_SUFFIX);

	if (!exe_path || !buf || len == 0)
		return NULL;
	/* The kernel appends " (deleted)" when the binary was replaced, e.g.
	 * by a package upgrade while the app runs; the app is still the app. */
	n = strlen(exe_path);
	if (n >= suffix && strcmp(exe_path + n - suffix, DELETED_SUFFIX) == 0)
		n -= suffix;
	base = memrchr(exe_path, '/', n);
	base = base ? base + 1 : exe_path;
	n -= (size_t)(base - exe_path);
	if (n == 0 || n >= len)
		return NULL;
	memcpy(buf, base, n);
	buf[n] = '\0';
	return buf;
}
