/* applist.c — see applist.h. */
#include "applist.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int rebuild(struct applist *a)
{
	const struct strlist *srcs[] = { &a->config, &a->ctl, &a->runtime_added };

	strlist_clear(&a->effective);
	for (size_t s = 0; s < sizeof(srcs) / sizeof(srcs[0]); s++)
		for (size_t i = 0; i < srcs[s]->n; i++)
			if (!strlist_contains(&a->runtime_removed, srcs[s]->v[i]) &&
			    strlist_add(&a->effective, srcs[s]->v[i]) < 0)
				return -ENOMEM;
	return 0;
}

int applist_load(struct applist *a, const struct config *c, char *err, size_t errlen)
{
	snprintf(a->dropin_dir, sizeof(a->dropin_dir), "%s", c->dropin_dir);
	strlist_clear(&a->config);
	strlist_clear(&a->ctl);
	if (strlist_copy(&a->config, &c->apps) < 0 ||
	    config_read_ctl_dropin(a->dropin_dir, &a->ctl, err, errlen) < 0)
		return -1;
	return rebuild(a);
}

void applist_free(struct applist *a)
{
	strlist_clear(&a->config);
	strlist_clear(&a->ctl);
	strlist_clear(&a->runtime_added);
	strlist_clear(&a->runtime_removed);
	strlist_clear(&a->effective);
}

const char *applist_source(const struct applist *a, const char *name)
{
	if (strlist_contains(&a->ctl, name))
		return "ctl";
	if (strlist_contains(&a->config, name))
		return "config";
	return "runtime";
}

/* One rule for names everywhere: the config parser's. */
bool applist_valid_name(const char *name, char *err, size_t errlen)
{
	const char *why = NULL;
	char shown[4 * CONFIG_NAME_MAX + 8];

	if (config_name_ok(name, &why))
		return true;
	/* Echoed to the terminal and the log: "\x1b[2J" must not act there. */
	snprintf(err, errlen, "invalid app name '%s': %s", log_escape(name, shown, sizeof(shown)),
		 why ? why : "not allowed");
	return false;
}

static int persist_ctl(struct applist *a, char *err, size_t errlen)
{
	return config_write_ctl_dropin(a->dropin_dir, &a->ctl, err, errlen);
}

int applist_add(struct applist *a, const char *name, bool runtime, char *err, size_t errlen)
{
	if (!applist_valid_name(name, err, errlen))
		return -1;
	strlist_remove(&a->runtime_removed, name);
	if (runtime) {
		if (strlist_add(&a->runtime_added, name) < 0)
			goto nomem;
	} else if (!strlist_contains(&a->ctl, name) && !strlist_contains(&a->config, name)) {
		if (strlist_add(&a->ctl, name) < 0)
			goto nomem;
		if (persist_ctl(a, err, errlen) < 0) {
			strlist_remove(&a->ctl, name);
			rebuild(a);
			return -1;
		}
	}
	return rebuild(a);
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int applist_remove(struct applist *a, const char *name, bool runtime, const char *config_path,
		   char *err, size_t errlen)
{
	if (!strlist_contains(&a->effective, name)) {
		snprintf(err, errlen, "'%s' is not in the app list", name);
		return -1;
	}
	if (runtime) {
		strlist_remove(&a->runtime_added, name);
		if (strlist_add(&a->runtime_removed, name) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		return rebuild(a);
	}
	if (strlist_contains(&a->config, name) && !strlist_contains(&a->ctl, name)) {
		snprintf(err, errlen, "'%s' is listed in %s or its drop-ins, which ksmplusctl does not "
			 "rewrite: delete it there and reload, or remove it with --runtime", name,
			 config_path);
		return -1;
	}
	strlist_remove(&a->runtime_added, name);
	if (strlist_remove(&a->ctl, name)) {
		if (persist_ctl(a, err, errlen) < 0) {
			strlist_add(&a->ctl, name);
			return -1;
		}
		/* The loaded config holds the drop-in's names too, until reload. */
		strlist_remove(&a->config, name);
	}
	return rebuild(a);
}
