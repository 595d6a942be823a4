/* applist.h — the effective app list and where each name came from: the
 * user's config files, the ksmplusctl drop-in (persisted `ksmplusctl add`), or
 * runtime-only changes (`--runtime`, gone at restart). The user's own files
 * are never rewritten. */
#ifndef KSMPLUS_APPLIST_H
#define KSMPLUS_APPLIST_H
#include <limits.h>
#include <stdbool.h>
#include "config.h"
#include "strlist.h"

struct applist {
	struct strlist config;            /* every app in the loaded files */
	struct strlist ctl;               /* those in the ksmplusctl drop-in */
	struct strlist runtime_added;
	struct strlist runtime_removed;
	struct strlist effective;         /* (config ∪ ctl ∪ added) − removed */
	char dropin_dir[PATH_MAX];
};

/* Takes the apps of a freshly loaded config; keeps runtime changes. */
int applist_load(struct applist *a, const struct config *c, char *err, size_t errlen);
void applist_free(struct applist *a);
/* "config", "ctl" or "runtime". */
const char *applist_source(const struct applist *a, const char *name);
bool applist_valid_name(const char *name, char *err, size_t errlen);
int applist_add(struct applist *a, const char *name, bool runtime, char *err, size_t errlen);
int applist_remove(struct applist *a, const char *name, bool runtime, const char *config_path,
		   char *err, size_t errlen);
#endif
