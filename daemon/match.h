/* match.h — does a process belong to a named app?  NAME matches a process
 * whose comm equals it, or whose executable's basename equals NAME or is
 * NAME-<version> (GIMP runs as gimp-2.10).  Names longer than 15 chars match
 * only on the executable (comm is truncated to 15). Excludes win. */
#ifndef KSMPLUS_MATCH_H
#define KSMPLUS_MATCH_H
#include <stdbool.h>
#include "strlist.h"

#define COMM_MAX 15

bool match_name(const char *name, const char *comm, const char *exe_base);
/* Does any name in names match? */
bool match_any(const struct strlist *names, const char *comm, const char *exe_base);
/* Returns the first app in apps that matches and is not excluded, or NULL. */
const char *match_app(const struct strlist *apps, const struct strlist *excludes,
		      const char *comm, const char *exe_base);
/* basename of a /proc/PID/exe link target, with " (deleted)" removed. */
const char *match_exe_base(const char *exe_path, char *buf, size_t len);
#endif
