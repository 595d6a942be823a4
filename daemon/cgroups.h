/* cgroups.h — apps that are cgroups. Desktop sessions put each launched app
 * in its own systemd scope (app-gnome-org.gnome.Epiphany-4711.scope) and
 * container runtimes put each container in its own cgroup, so an app can be
 * named by its cgroup: `app = cgroup:GLOB`. Both layouts are supported: pure
 * cgroup v2 (the path after "0::" in /proc/PID/cgroup) and hybrid systems,
 * whose v1 "name=systemd" hierarchy holds the same scopes. */
#ifndef KSMPLUS_CGROUPS_H
#define KSMPLUS_CGROUPS_H
#include <stdbool.h>
#include <sys/types.h>
#include "strlist.h"

#define CGROUP_APP_PREFIX "cgroup:"

/* Is this app name a cgroup app ("cgroup:GLOB")? */
bool cgroup_is_app(const char *app);
/* Does glob match the cgroup path (absolute, as in /proc/PID/cgroup)? A glob
 * with a '/' matches the whole path; one without matches any single
 * component, so an app's sub-cgroups belong to it too. fnmatch(3) syntax. */
bool cgroup_glob_match(const char *glob, const char *path);
/* Reads pid's cgroup paths: the unified one and the name=systemd one (either
 * may be absent: ""). 0, or -errno (the process is gone). */
int cgroup_paths_of(pid_t pid, char *unified, size_t ulen, char *named, size_t nlen);
/* From one line of /proc/PID/cgroup ("ID:controllers:path"): the v2 path
 * ("0::path") into unified, or the v1 memory controller's path (a line
 * whose controller list holds "memory") into memory; other lines change
 * nothing. What `ksmplusctl analyze --cgroup` matches: the unified path on
 * pure v2 systems, the memory one where memory is still a v1 controller. */
void cgroup_parse_mem_line(const char *line, char *unified, size_t ulen, char *memory,
			   size_t mlen);
/* Does glob match pid's unified or v1 memory cgroup path? 1, 0, or -errno
 * (the process is gone). */
int cgroup_mem_match(const char *glob, pid_t pid);
/* The first cgroup app of apps that pid belongs to, or NULL. */
const char *cgroup_match_app(const struct strlist *apps, pid_t pid);
/* Calls cb for every process in a cgroup that a cgroup app of apps names:
 * nothing announces a process moved into a cgroup, so the daemon looks on a
 * timer. Walks the mounted cgroup2 tree and, on hybrid systems, the
 * name=systemd one. Returns how many processes were reported. */
size_t cgroup_each_member(const struct strlist *apps, void (*cb)(pid_t pid, void *ud), void *ud);
/* For tests: where the hierarchies are mounted ("" = not mounted). */
void cgroup_mounts(char *unified, size_t ulen, char *named, size_t nlen);
#endif
