/* cgroups.c — apps named by cgroup (see cgroups.h). */
#include "cgroups.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Deep enough for any real hierarchy (systemd nests a handful of levels);
 * a bound keeps a hostile tree from exhausting the stack. */
#define WALK_DEPTH_MAX 32

bool cgroup_is_app(const char *app)
{
	return strncmp(app, CGROUP_APP_PREFIX, strlen(CGROUP_APP_PREFIX)) == 0;
}

bool cgroup_glob_match(const char *glob, const char *path)
{
	char comp[NAME_MAX + 1];

	if (strchr(glob, '/'))
		return fnmatch(glob, path, 0) == 0;
	for (const char *p = path; *p;) {
		size_t len;

		p += strspn(p, "/");
		len = strcspn(p, "/");
		if (len == 0)
			break;
		if (len < sizeof(comp)) {
			memcpy(comp, p, len);
			comp[len] = '\0';
			if (fnmatch(glob, comp, 0) == 0)
				return true;
		}
		p += len;
	}
	return false;
}

int cgroup_paths_of(pid_t pid, char *unified, size_t ulen, char *named, size_t nlen)
{
	char path[64], line[PATH_MAX + 64];
	FILE *f;

	unified[0] = named[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	/* "hierarchy-ID:controller-list:path"; v2 is "0::path". */
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "0::", 3) == 0)
			snprintf(unified, ulen, "%s", c2 + 1);
		else if ((size_t)(c2 - c1 - 1) == strlen("name=systemd") &&
			 strncmp(c1 + 1, "name=systemd", strlen("name=systemd")) == 0)
			snprintf(named, nlen, "%s", c2 + 1);
	}
	fclose(f);
	return 0;
}

void cgroup_parse_mem_line(const char *line, char *unified, size_t ulen, char *memory,
			   size_t mlen)
{
	const char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	size_t plen;

	if (!c2)
		return;
	plen = strcspn(c2 + 1, "\n");
	if (strncmp(line, "0::", 3) == 0) {
		snprintf(unified, ulen, "%.*s", (int)plen, c2 + 1);
		return;
	}
	/* "4:memory:/x" or a co-mounted "7:cpu,memory:/x" */
	for (const char *p = c1 + 1; p < c2;) {
		size_t len = strcspn(p, ",:");

		if (len == strlen("memory") && strncmp(p, "memory", len) == 0) {
			snprintf(memory, mlen, "%.*s", (int)plen, c2 + 1);
			return;
		}
		p += len + 1;
	}
}

int cgroup_mem_match(const char *glob, pid_t pid)
{
	char path[64], line[PATH_MAX + 64], unified[PATH_MAX] = "", memory[PATH_MAX] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		cgroup_parse_mem_line(line, unified, sizeof(unified), memory, sizeof(memory));
	fclose(f);
	return (unified[0] && cgroup_glob_match(glob, unified)) ||
	       (memory[0] && cgroup_glob_match(glob, memory));
}

const char *cgroup_match_app(const struct strlist *apps, pid_t pid)
{
	char unified[PATH_MAX], named[PATH_MAX];
	bool read = false;

	for (size_t i = 0; i < apps->n; i++) {
		const char *glob = apps->v[i] + strlen(CGROUP_APP_PREFIX);

		if (!cgroup_is_app(apps->v[i]))
			continue;
		/* Read lazily: most systems name no cgroup app at all. */
		if (!read && cgroup_paths_of(pid, unified, sizeof(unified), named, sizeof(named)) < 0)
			return NULL;
		read = true;
		if ((unified[0] && cgroup_glob_match(glob, unified)) ||
		    (named[0] && cgroup_glob_match(glob, named)))
			return apps->v[i];
	}
	return NULL;
}

void cgroup_mounts(char *unified, size_t ulen, char *named, size_t nlen)
{
	char line[PATH_MAX * 2];
	FILE *f = fopen("/proc/self/mountinfo", "re");

	unified[0] = named[0] = '\0';
	if (!f)
		return;
	/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS] - FSTYPE SOURCE SUPEROPTS" */
	while (fgets(line, sizeof(line), f)) {
		char root[PATH_MAX], point[PATH_MAX], fstype[32], superopts[512];
		const char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%*s %*s %*s %4095s %4095s", root, point) != 2 ||
		    sscanf(dash + 3, "%31s %*s %511s", fstype, superopts) != 2 ||
		    strcmp(root, "/") != 0)
			continue;
		if (strcmp(fstype, "cgroup2") == 0 && !unified[0])
			snprintf(unified, ulen, "%s", point);
		else if (strcmp(fstype, "cgroup") == 0 && strstr(superopts, "name=systemd") && !named[0])
			snprintf(named, nlen, "%s", point);
	}
	fclose(f);
}

struct walk {
	const struct strlist *apps;
	void (*cb)(pid_t pid, void *ud);
	void *ud;
	size_t reported;
};

static bool any_glob(const struct strlist *apps, const char *path)
{
	for (size_t i = 0; i < apps->n; i++)
		if (cgroup_is_app(apps->v[i]) &&
		    cgroup_glob_match(apps->v[i] + strlen(CGROUP_APP_PREFIX), path))
			return true;
	return false;
}

static void report_procs(struct walk *w, int dirfd)
{
	int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "re") : NULL;
	long pid;

	if (!f) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (fscanf(f, "%ld", &pid) == 1) {
		w->cb((pid_t)pid, w->ud);
		w->reported++;
	}
	fclose(f);
}

/* rel: the cgroup's path as /proc/PID/cgroup shows it ("/" for the root). */
static void walk_dir(struct walk *w, int dirfd, char *rel, size_t rellen, int depth)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	size_t base = strlen(rel);

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (any_glob(w->apps, rel))
		report_procs(w, dirfd);
	while (depth < WALK_DEPTH_MAX && (de = readdir(d))) {
		int sub;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (snprintf(rel + base, rellen - base, "%s%s", base > 1 ? "/" : "", de->d_name) >=
		    (int)(rellen - base))
			continue;
		sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0) {
			walk_dir(w, sub, rel, rellen, depth + 1);
			close(sub);
		}
		rel[base] = '\0';
	}
	closedir(d);
}

static void walk_root(struct walk *w, const char *mount)
{
	char rel[PATH_MAX] = "/";
	int fd;

	if (!mount[0])
		return;
	fd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	walk_dir(w, fd, rel, sizeof(rel), 0);
	close(fd);
}

size_t cgroup_each_member(const struct strlist *apps, void (*cb)(pid_t pid, void *ud), void *ud)
{
	char unified[PATH_MAX], named[PATH_MAX];
	struct walk w = { apps, cb, ud, 0 };
	bool any = false;

	for (size_t i = 0; i < apps->n && !any; i++)
		any = cgroup_is_app(apps->v[i]);
	if (!any)
		return 0;
	cgroup_mounts(unified, sizeof(unified), named, sizeof(named));
	walk_root(&w, unified);
	walk_root(&w, named);
	return w.reported;
}
