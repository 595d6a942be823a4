/* rlimits.h — the daemon's own resource limits. */
#ifndef KSMPLUS_RLIMITS_H
#define KSMPLUS_RLIMITS_H
#include <sys/resource.h>

/* Raises the soft RLIMIT_NOFILE to the hard limit: the daemon holds one
 * pidfd per tracked process, and an app forking a pool of workers passes the
 * usual soft limit of 1024 at once. Safe because nothing here uses select().
 * Returns the soft limit now in force. */
rlim_t rlimits_raise_nofile(void);
#endif
