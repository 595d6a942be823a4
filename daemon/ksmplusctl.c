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
#include "ctl_wait.h"
#include "protocol.h"

#include "version.h"
#define CALL_TIMEOUT_MS 30000
#define FRESH_TIMEOUT_MS 30000
#define WAIT_TIMEOUT_MS (600 * 1000)    /* add --wait */

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
		"  add ... --wait                 then show merge progress until the saving\n"
		"                                 stops growing (<= 600 s), and print it\n"
		"  remove NAME... [--unmerge] [--runtime]\n"
		"                                 stop enrolling NAME (root); --unmerge: also\n"
		"                                 undo merging in its running processes\n"
		"  list                           configured apps and where each comes from\n"
		"  status [--json] [--fresh]      KSM figures, per-app memory, skipped processes;\n"
		"                                 --fresh waits for savings computed after the call\n"
		"  top [-d SECS] [-n COUNT]       per-app figures every SECS (2), with the\n"
		"                                 saving's trend; COUNT frames (not on a\n"
		"                                 terminal: 1 unless given)\n"
		"  metrics                        the figures in the Prometheus text format\n"
		"  reload                         re-read the configuration (root)\n"
		"  unmerge --all                  kill switch (root): undo every enrollment,\n"
		"                                 unmerge every KSM page, restore ksmd's knobs,\n"
		"                                 enroll nothing until resume\n"
		"  resume                         enroll again after unmerge --all (root)\n"
		"  analyze NAME | --pid PID | --cgroup GLOB [--sample N] [--json]\n"
		"                                 duplicate census (root): hash the resident\n"
		"                                 anonymous pages of NAME's processes (enrolled\n"
		"                                 or not; --cgroup: those in the cgroups matching\n"
		"                                 GLOB) and forecast what KSM would save and cost,\n"
		"                                 alone and with the other enrolled apps;\n"
		"                                 --sample N hashes one page in N\n"
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
	else if (mode == 4)
		ctl_print_metrics(out_f, &rep);
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
static int fresh_reply(struct control_reply *rep)
{
	struct proto_record req;
	double t0 = mono_ms();

	proto_record_init(&req);
	proto_set(&req, "op", "status");
	for (;;) {
		int rc = call(&req, rep);
		if (rc != EXIT_OK)
			return rc;
		const char *age = NULL;
		for (size_t k = 0; k < rep->n; k++) {
			const char *type = proto_get(&rep->rec[k], "type");

			if (type && strcmp(type, "global") == 0)
				age = proto_get(&rep->rec[k], "figures_age_ms");
		}
		double waited = mono_ms() - t0;
		if (!age || (atoll(age) >= 0 && atoll(age) <= waited))
			return EXIT_OK;
		control_reply_free(rep);
		if (waited > FRESH_TIMEOUT_MS) {
			fprintf(stderr, "ksmplusctl: no new figures from the daemon after %d s\n",
				FRESH_TIMEOUT_MS / 1000);
			return EXIT_REFUSED;
		}
		usleep(100 * 1000);
	}
}

static int fresh_status(FILE *out_f, bool json)
{
	struct control_reply rep;
	int rc = fresh_reply(&rep);

	if (rc != EXIT_OK)
		return rc;
	if (json)
		ctl_print_status_json(out_f, &rep);
	else
		ctl_print_status(out_f, &rep);
	control_reply_free(&rep);
	return fflush(out_f) == 0 && !ferror(out_f) ? EXIT_OK : EXIT_REFUSED;
}

/* top: the apps' figures every interval seconds, count times (0: until
 * interrupted); redrawn in place on a terminal, one frame after another
 * otherwise (a log, a pipe, a test). */
static int top(double interval, long count)
{
	bool tty = isatty(STDOUT_FILENO);
	struct control_reply prev = { 0 }, now;
	double t_prev = 0;
	int rc = EXIT_OK;

	for (long i = 0; count == 0 || i < count; i++) {
		struct proto_record req;
		char when[16];
		time_t wall = time(NULL);
		double t;

		if (i > 0)
			usleep((useconds_t)(interval * 1e6));
		proto_record_init(&req);
		proto_set(&req, "op", "status");
		proto_set(&req, "procs", "0");
		if ((rc = call(&req, &now)) != EXIT_OK)
			break;
		t = mono_ms();
		strftime(when, sizeof(when), "%H:%M:%S", localtime(&wall));
		if (tty)
			fputs("\033[H\033[2J", stdout);       /* home, clear */
		else if (i > 0)
			putchar('\n');
		ctl_print_top(stdout, when, &now, i > 0 ? &prev : NULL, i > 0 ? (t - t_prev) / 1e3 : 0);
		control_reply_free(&prev);
		prev = now;
		t_prev = t;
		if (fflush(stdout) != 0 || ferror(stdout)) {
			/* `ksmplusctl top | head` closing the pipe is no error */
			rc = errno == EPIPE ? EXIT_OK : EXIT_REFUSED;
			if (rc != EXIT_OK)
				fprintf(stderr, "ksmplusctl: write error: %s\n", strerror(errno));
			break;
		}
	}
	control_reply_free(&prev);
	return rc;
}

/* top's -d SECS and -n COUNT */
static int top_args(int argc, char **argv)
{
	double interval = 2;
	long count = isatty(STDOUT_FILENO) ? 0 : 1;
	char *end;

	for (int k = 0; k < argc; k++) {
		if ((strcmp(argv[k], "-d") == 0 || strcmp(argv[k], "-n") == 0) && k + 1 >= argc)
			return usage_error("top: %s needs a value", argv[k]);
		if (strcmp(argv[k], "-d") == 0) {
			interval = strtod(argv[++k], &end);
			if (*end || !(interval >= 0.1 && interval <= 3600))
				return usage_error("top: -d takes seconds, 0.1..3600, not '%s'", argv[k]);
		} else if (strcmp(argv[k], "-n") == 0) {
			count = strtol(argv[++k], &end, 10);
			if (*end || count < 1 || count > 1000000)
				return usage_error("top: -n takes a count, 1..1000000, not '%s'", argv[k]);
		} else {
			return usage_error("top: unexpected argument '%s'", argv[k]);
		}
	}
	return top(interval, count);
}

/* add --wait: until ctl_wait_merged (ctl_wait.h): ksmd's full scans pass
 * with no more of app's pages merging (what KSM needs to merge new memory:
 * one scan to see a page unchanged, one to find its twin; more while
 * smart_scan is on), then what it saves, exactly.
 * Progress on a terminal: merging MiB of enrolled MiB, as a bar. */
static int wait_merged(const char *app)
{
	struct proto_record req;
	struct control_reply rep;
	struct ctl_app_now a;
	struct ctl_wait w;
	bool tty = isatty(STDERR_FILENO), merged;
	double t0 = mono_ms();
	int rc;

	proto_record_init(&req);
	proto_set(&req, "op", "status");
	proto_set(&req, "procs", "0");
	ctl_wait_init(&w);
	for (;;) {
		if ((rc = call(&req, &rep)) != EXIT_OK)
			return rc;
		rc = ctl_app_now(&rep, app, &a);
		control_reply_free(&rep);
		if (rc < 0) {
			fprintf(stderr, "ksmplusctl: %s: not an app of the daemon any more\n", app);
			return EXIT_REFUSED;
		}
		if (a.paused) {
			fprintf(stderr, "ksmplusctl: %s: enrollment is paused by 'unmerge --all' and ksmd "
				"stopped: nothing will merge (ksmplusctl resume)\n", app);
			return EXIT_REFUSED;
		}
		if (a.procs == 0) {
			printf("%s: no running process enrolled; nothing to wait for\n", app);
			return EXIT_OK;
		}
		if (a.run != 1) {
			fprintf(stderr, "ksmplusctl: %s: ksmd is not running (run = %d): nothing will "
				"merge\n", app, a.run);
			return EXIT_REFUSED;
		}
		merged = ctl_wait_merged(&w, &a);
		if (tty) {
			int width = 30, fill = a.enrolled_kib > 0 ?
				(int)(width * (a.merging_kib > a.enrolled_kib ? 1 : (double)a.merging_kib / (double)a.enrolled_kib)) : 0;

			fprintf(stderr, "\r%s: [%.*s%*s] %.1f of %.1f MiB merging, %lld full scans ", app,
				fill, "##############################", width - fill, "",
				(double)a.merging_kib / 1024, (double)a.enrolled_kib / 1024,
				a.full_scans - w.scans0);
		}
		if (merged)
			break;
		if (mono_ms() - t0 > WAIT_TIMEOUT_MS) {
			fprintf(stderr, "%sksmplusctl: %s: still merging after %d s (%.1f MiB so far); "
				"see ksmplusctl top\n", tty ? "\n" : "", app, WAIT_TIMEOUT_MS / 1000,
				(double)a.merging_kib / 1024);
			return EXIT_REFUSED;
		}
		usleep(250 * 1000);
	}
	if (tty)
		fputc('\n', stderr);
	/* the saving from page frames computed after the merge, not before */
	if ((rc = fresh_reply(&rep)) != EXIT_OK)
		return rc;
	ctl_app_now(&rep, app, &a);
	control_reply_free(&rep);
	printf("%s: merged; %.1f MiB merging in %lld processes, saving %.1f MiB\n", app,
	       (double)a.merging_kib / 1024, a.procs, (double)a.saved_kib / 1024);
	return EXIT_OK;
}

/* analyze: starts the census, then asks for its result until it is done
 * (the daemon hashes in a worker thread; see analysis.c). */
static int analyze_op(int argc, char **argv)
{
	const char *name = NULL, *pid = NULL, *sample = NULL, *cgroup = NULL;
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
		} else if (strcmp(a, "--cgroup") == 0) {
			if (i + 1 >= argc || !argv[i + 1][0])
				return usage_error("analyze: --cgroup needs a GLOB");
			cgroup = argv[++i];
			if (strlen(cgroup) > 200)
				return usage_error("analyze: --cgroup GLOB longer than 200 characters");
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
	if ((name != NULL) + (pid != NULL) + (cgroup != NULL) != 1)
		return usage_error("analyze needs one of NAME, --pid PID or --cgroup GLOB");
	proto_record_init(&req);
	proto_set(&req, "op", "analyze");
	if (name)
		proto_set(&req, "name", "%s", name);
	else if (pid)
		proto_set(&req, "pid", "%s", pid);
	else
		proto_set(&req, "cgroup", "%s", cgroup);
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
	bool runtime = false, unmerge = false, cgroup = false, dashdash = false, wait = false;
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
			else if (strcmp(a, "--wait") == 0 && strcmp(op, "add") == 0)
				wait = true;
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
			fflush(stdout);
			if (wait)
				rc = wait_merged(proto_get(&req, "name"));
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
			printf("ksmplus " KSMPLUS_VERSION "\n");
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
	if (strcmp(cmd, "top") == 0)
		return top_args(nargs, args);
	if (strcmp(cmd, "metrics") == 0) {
		if (nargs > 0)
			return usage_error("unexpected argument '%s'", args[0]);
		return simple_op("metrics", stdout, 4);
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
