/* ksmplusctl — command-line client of ksmplusd's control socket.
 *
 *   ksmplusctl [--socket PATH] COMMAND [ARGS]
 *
 * Exit codes: 0 ok, 1 the daemon refused (ok=0) or broke the protocol,
 * 2 usage error, 3 cannot connect to the daemon. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "ctl_format.h"
#include "protocol.h"

#define VERSION "0.1.0"
#define CALL_TIMEOUT_MS 30000
#define FRESH_TIMEOUT_MS 30000

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_NOCONN = 3 };

static const char *socket_path = PROTO_DEFAULT_SOCKET;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ksmplusctl [--socket PATH] COMMAND [ARGS]\n"
		"Control ksmplusd, which enrolls named programs' memory with Linux KSM.\n"
		"\n"
		"Commands:\n"
		"  add NAME... [--runtime]        enroll programs named NAME (root) and their\n"
		"                                 child processes; --runtime: until the daemon\n"
		"                                 stops, not saved\n"
		"  add --cgroup GLOB...           enroll every process in the cgroups matching\n"
		"                                 GLOB (a scope name, or a path with '/')\n"
		"  remove NAME... [--unmerge] [--runtime]\n"
		"                                 stop enrolling NAME (root); --unmerge: also\n"
		"                                 undo merging in its running processes\n"
		"  list                           configured apps and where each comes from\n"
		"  status [--json] [--fresh]      KSM figures, per-app memory, skipped processes;\n"
		"                                 --fresh waits for savings computed after the call\n"
		"  reload                         re-read the configuration (root)\n"
		"  unmerge --all                  kill switch (root): undo every enrollment,\n"
		"                                 unmerge every KSM page, restore ksmd's knobs,\n"
		"                                 enroll nothing until resume\n"
		"  resume                         enroll again after unmerge --all (root)\n"
		"  analyze NAME | --pid PID [--sample N] [--json]\n"
		"                                 duplicate census (root): hash the resident\n"
		"                                 anonymous pages of NAME's processes (enrolled\n"
		"                                 or not) and forecast what KSM would save and\n"
		"                                 cost; --sample N hashes one page in N\n"
		"\n"
		"Options:\n"
		"  --socket PATH   control socket (default %s)\n"
		"  -h, --help      show this help\n"
		"  --version       show the version\n"
		"\n"
		"Exit status: 0 ok, 1 the daemon refused, 2 usage error, 3 cannot connect.\n",
		PROTO_DEFAULT_SOCKET);
}

static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("ksmplusctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'ksmplusctl --help'.\n", stderr);
	return EXIT_USAGE;
}

/* One request, one connection. On success *out holds the reply and the
 * return is EXIT_OK or EXIT_REFUSED (error already printed). */
static int call(const struct proto_record *req, struct control_reply *out)
{
	memset(out, 0, sizeof(*out));
	int fd = control_connect(socket_path);
	if (fd < 0) {
		fprintf(stderr, "ksmplusctl: cannot connect to %s: %s — is ksmplusd running?\n",
			socket_path, strerror(-fd));
		return EXIT_NOCONN;
	}
	int r = control_call(fd, req, CALL_TIMEOUT_MS, out);
	close(fd);
	if (r < 0) {
		const char *why = r == -EPROTO ? "malformed reply" :
				  r == -ECONNRESET ? "connection closed before the reply ended" :
				  r == -ETIMEDOUT ? "timed out waiting for the reply" : strerror(-r);
		fprintf(stderr, "ksmplusctl: talking to ksmplusd on %s: %s\n", socket_path, why);
		control_reply_free(out);
		return EXIT_REFUSED;
	}
	if (strcmp(proto_get(&out->rec[0], "ok"), "1") != 0) {
		const char *e = proto_get(&out->rec[0], "error");
		fprintf(stderr, "ksmplusctl: %s\n", e && *e ? e : "request failed");
		control_reply_free(out);
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

static int simple_op(const char *op, FILE *out_f, int mode)
{
	struct proto_record req;
	struct control_reply rep;
	proto_record_init(&req);
	proto_set(&req, "op", "%s", op);
	int rc = call(&req, &rep);
	if (rc != EXIT_OK)
		return rc;
	if (mode == 1)
		ctl_print_list(out_f, &rep);
	else if (mode == 2)
		ctl_print_status(out_f, &rep);
	else if (mode == 3)
		ctl_print_status_json(out_f, &rep);
	control_reply_free(&rep);
	if (fflush(out_f) != 0 || ferror(out_f)) {
		fprintf(stderr, "ksmplusctl: write error: %s\n", strerror(errno));
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* status --fresh: the daemon computes exact savings in the background and
 * answers from the latest result (figures_age_ms old). Asks again until the
 * figures were started after our first request, so that what is printed
 * includes every merge that happened before the command ran. */
static int fresh_status(FILE *out_f, bool json)
{
	struct proto_record req;
	struct control_reply rep;
	double t0 = mono_ms();

	proto_record_init(&req);
	proto_set(&req, "op", "status");
	for (;;) {
		int rc = call(&req, &rep);
		if (rc != EXIT_OK)
			return rc;
		const char *age = NULL;
		for (size_t k = 0; k < rep.n; k++) {
			const char *type = proto_get(&rep.rec[k], "type");

			if (type && strcmp(type, "global") == 0)
				age = proto_get(&rep.rec[k], "figures_age_ms");
		}
		double waited = mono_ms() - t0;
		if (!age || (atoll(age) >= 0 && atoll(age) <= waited))
			break;
		control_reply_free(&rep);
		if (waited > FRESH_TIMEOUT_MS) {
			fprintf(stderr, "ksmplusctl: status --fresh: no new figures after %d s\n",
				FRESH_TIMEOUT_MS / 1000);
			return EXIT_REFUSED;
		}
		usleep(100 * 1000);
	}
	if (json)
		ctl_print_status_json(out_f, &rep);
	else
		ctl_print_status(out_f, &rep);
	control_reply_free(&rep);
	return fflush(out_f) == 0 && !ferror(out_f) ? EXIT_OK : EXIT_REFUSED;
}

/* analyze: starts the census, then asks for its result until it is done
 * (the daemon hashes in a worker thread; see analysis.c). */
static int analyze_op(int argc, char **argv)
{
	const char *name = NULL, *pid = NULL, *sample = NULL;
	bool json = false;
	struct proto_record req;
	struct control_reply rep;
	char id[32];
	int rc;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		char *end;

		if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "--pid") == 0 || strcmp(a, "--sample") == 0) {
			if (i + 1 >= argc)
				return usage_error("analyze: %s needs a number", a);
			const char *v = argv[++i];
			long n = strtol(v, &end, 10);
			if (!*v || *end || n <= 0)
				return usage_error("analyze: %s needs a positive number, not '%s'", a, v);
			if (strcmp(a, "--pid") == 0)
				pid = v;
			else
				sample = v;
		} else if (a[0] == '-') {
			return usage_error("analyze: unknown option '%s'", a);
		} else if (name) {
			return usage_error("analyze: one NAME at a time ('%s' and '%s')", name, a);
		} else if (strlen(a) >= PROTO_VALUE_MAX) {
			return usage_error("NAME too long: %s", a);
		} else {
			name = a;
		}
	}
	if (!name == !pid)
		return usage_error("analyze needs a NAME or --pid PID (not both)");
	proto_record_init(&req);
	proto_set(&req, "op", "analyze");
	if (name)
		proto_set(&req, "name", "%s", name);
	else
		proto_set(&req, "pid", "%s", pid);
	if (sample)
		proto_set(&req, "sample", "%s", sample);
	if ((rc = call(&req, &rep)) != EXIT_OK)
		return rc;
	for (;;) {
		const char *state = NULL, *got_id = NULL;

		for (size_t k = 0; k < rep.n; k++)
			if (proto_get(&rep.rec[k], "type") &&
			    strcmp(proto_get(&rep.rec[k], "type"), "census") == 0) {
				state = proto_get(&rep.rec[k], "state");
				got_id = proto_get(&rep.rec[k], "id");
			}
		if (!state || !got_id) {
			fprintf(stderr, "ksmplusctl: analyze: malformed reply\n");
			control_reply_free(&rep);
			return EXIT_REFUSED;
		}
		if (strcmp(state, "done") == 0)
			break;
		snprintf(id, sizeof(id), "%s", got_id);
		control_reply_free(&rep);
		usleep(50 * 1000);
		proto_record_init(&req);
		proto_set(&req, "op", "analyze");
		proto_set(&req, "id", "%s", id);
		if ((rc = call(&req, &rep)) != EXIT_OK)
			return rc;
	}
	if (json)
		ctl_print_analysis_json(stdout, &rep);
	else
		ctl_print_analysis(stdout, &rep);
	control_reply_free(&rep);
	return fflush(stdout) == 0 && !ferror(stdout) ? EXIT_OK : EXIT_REFUSED;
}

/* add/remove: names and flags in any order; "--" ends the flags. */
static int names_op(const char *op, int argc, char **argv)
{
	bool runtime = false, unmerge = false, cgroup = false, dashdash = false;
	int n_names = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!dashdash && a[0] == '-') {
			if (strcmp(a, "--") == 0)
				dashdash = true;
			else if (strcmp(a, "--runtime") == 0)
				runtime = true;
			else if (strcmp(a, "--unmerge") == 0 && strcmp(op, "remove") == 0)
				unmerge = true;
			else if (strcmp(a, "--cgroup") == 0)
				cgroup = true;
			else
				return usage_error("unknown option '%s'", a);
			continue;
		}
		if (a[0] == '\0')
			return usage_error("empty NAME");
		if (strlen(a) >= PROTO_VALUE_MAX)
			return usage_error("NAME too long: %s", a);
		n_names++;
	}
	if (n_names == 0)
		return usage_error("%s needs at least one NAME", op);

	int worst = EXIT_OK;
	dashdash = false;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!dashdash && a[0] == '-') {
			dashdash = strcmp(a, "--") == 0;
			continue;
		}
		struct proto_record req;
		struct control_reply rep;
		proto_record_init(&req);
		proto_set(&req, "op", "%s", op);
		/* --cgroup GLOB is the app "cgroup:GLOB" (see ksmplusd.conf(5)) */
		proto_set(&req, "name", "%s%s", cgroup && strncmp(a, "cgroup:", 7) != 0 ? "cgroup:" : "",
			  a);
		if (runtime)
			proto_set(&req, "runtime", "1");
		if (unmerge)
			proto_set(&req, "unmerge", "1");
		int rc = call(&req, &rep);
		if (rc == EXIT_OK) {
			ctl_print_change(stdout, op, &rep);
			control_reply_free(&rep);
		}
		if (rc == EXIT_NOCONN)
			return rc;              /* no point trying the other names */
		if (rc > worst)
			worst = rc;
	}
	return worst;
}

int main(int argc, char **argv)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(a, "--version") == 0) {
			printf("ksmplus " VERSION "\n");
			return EXIT_OK;
		} else if (strcmp(a, "--socket") == 0) {
			if (++i >= argc)
				return usage_error("%s needs a PATH", a);
			socket_path = argv[i];
		} else if (strncmp(a, "--socket=", 9) == 0) {
			socket_path = a + 9;
		} else {
			return usage_error("unknown option '%s'", a);
		}
		if (!*socket_path)
			return usage_error("empty socket PATH");
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[i++];
	int nargs = argc - i;
	char **args = argv + i;

	if (strcmp(cmd, "add") == 0 || strcmp(cmd, "remove") == 0)
		return names_op(cmd, nargs, args);
	if (strcmp(cmd, "analyze") == 0)
		return analyze_op(nargs, args);
	if (strcmp(cmd, "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(cmd, "status") == 0) {
		bool json = false, fresh = false;
		for (int k = 0; k < nargs; k++) {
			if (strcmp(args[k], "--json") == 0)
				json = true;
			else if (strcmp(args[k], "--fresh") == 0)
				fresh = true;
			else
				return usage_error("status: unexpected argument '%s'", args[k]);
		}
		if (fresh)
			return fresh_status(stdout, json);
		return simple_op("status", stdout, json ? 3 : 2);
	}
	if (strcmp(cmd, "unmerge") == 0) {
		if (nargs != 1 || strcmp(args[0], "--all") != 0)
			return usage_error("unmerge takes --all (one app: remove NAME --unmerge)");
		struct proto_record req;
		struct control_reply rep;
		proto_record_init(&req);
		proto_set(&req, "op", "unmerge");
		proto_set(&req, "all", "1");
		int rc = call(&req, &rep);
		if (rc == EXIT_OK) {
			ctl_print_change(stdout, "unmerge", &rep);
			control_reply_free(&rep);
		}
		return rc;
	}
	if (strcmp(cmd, "resume") == 0) {
		if (nargs > 0)
			return usage_error("unexpected argument '%s'", args[0]);
		return simple_op("resume", stdout, 0);
	}
	if (strcmp(cmd, "list") == 0 || strcmp(cmd, "reload") == 0) {
		if (nargs > 0)
			return usage_error("unexpected argument '%s'", args[0]);
		return simple_op(cmd, stdout, strcmp(cmd, "list") == 0 ? 1 : 0);
	}
	return usage_error("unknown command '%s'", cmd);
}
