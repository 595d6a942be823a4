/* Remote MADV_MERGEABLE needs CAP_SYS_NICE and ptrace attach access:
 *   a) caller uid 1000 without CAP_SYS_NICE, target uid 1000 (ptrace access
 *      granted): EPERM;
 *   b) caller uid 1000 with only CAP_SYS_NICE, target uid 0 (no ptrace
 *      access): refused (EACCES from mm_access(), or EPERM);
 *   d) read access but no attach access: with Yama's ptrace_scope=1 a
 *      caller uid 1000 with CAP_SYS_NICE may read, not attach to, a uid
 *      1000 target that is not its descendant: MADV_COLD is allowed (read
 *      access suffices for it), MADV_MERGEABLE must fail with EACCES.
 *      Kernels without Yama or another LSM make no difference between read
 *      and attach access (the check-kernel config has none): d) is skipped
 *      there and says so;
 *   c) control: caller uid 1000 with only CAP_SYS_NICE, target uid 1000:
 *      allowed, so a), b) and d) fail for the reason they test.
 * In a), b) and d) the target's VMA must stay unmergeable. */
#include <grp.h>
#include <stdbool.h>
#include <linux/capability.h>
#include "kt.h"

#define UID 1000
#define LEN (16 * KT_PAGE)

static void become_user(void)
{
	if (setgroups(0, NULL) || setresgid(UID, UID, UID) || setresuid(UID, UID, UID))
		_exit(3);
	/* A uid change makes the process non-dumpable, which would deny
	 * ptrace access even to the same uid. */
	prctl(PR_SET_DUMPABLE, 1);
}

/* Sets permitted = effective = caps (a CAP_* bit mask of the first word). */
static int set_caps(unsigned int caps)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { caps, caps, 0 }, { 0, 0, 0 } };

	return (int)syscall(SYS_capset, &h, d);
}

/* Runs process_madvise(advice) on the target from a child with uid UID and
 * the given capabilities. Returns 0 on success, else errno. */
static int try_advice(const struct kt_twin *t, unsigned int caps, int advice)
{
	int p[2], res = -1;
	pid_t pid;

	if (pipe(p))
		kt_fail("pipe: errno=%s", kt_errname(errno));
	pid = fork();
	if (pid < 0)
		kt_fail("fork: errno=%s", kt_errname(errno));
	if (pid == 0) {
		int fd, r = 0;

		prctl(PR_SET_KEEPCAPS, 1);
		become_user();
		if (set_caps(caps))
			r = 1000 + errno;
		else if ((fd = kt_pidfd_open(t->pid)) < 0)
			r = 2000 + errno;
		else if (kt_pmadvise(fd, (void *)t->addr, t->len, advice) < 0)
			r = errno;
		if (write(p[1], &r, sizeof(r)) != sizeof(r))
			_exit(4);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &res, sizeof(res)) != sizeof(res))
		kt_fail("caller child died");
	close(p[0]);
	waitpid(pid, NULL, 0);
	if (res >= 2000)
		kt_fail("pidfd_open as uid %d: errno=%s", UID, kt_errname(res - 2000));
	if (res >= 1000)
		kt_fail("capset as uid %d: errno=%s", UID, kt_errname(res - 1000));
	return res;
}

static int try_as_user(const struct kt_twin *t, unsigned int caps)
{
	return try_advice(t, caps, MADV_MERGEABLE);
}

#define YAMA "/proc/sys/kernel/yama/ptrace_scope"

/* d): returns false when the kernel has no Yama to deny attach access. */
static bool read_but_no_attach(const struct kt_twin *t)
{
	char old[16] = "0";
	FILE *f = fopen(YAMA, "r");
	int cold, merge;

	if (!f)
		return false;
	if (!fgets(old, sizeof(old), f))
		strcpy(old, "0");
	fclose(f);
	if (kt_write_file(YAMA, "1"))
		kt_fail("d) write " YAMA "=1: errno=%s", kt_errname(errno));
	cold = try_advice(t, 1U << CAP_SYS_NICE, MADV_COLD);
	merge = try_advice(t, 1U << CAP_SYS_NICE, MADV_MERGEABLE);
	kt_write_file(YAMA, old);
	if (cold)
		kt_fail("d) ptrace_scope=1: MADV_COLD with read access refused: errno=%s",
			kt_errname(cold));
	if (merge != EACCES)
		kt_fail("d) read access only: MADV_MERGEABLE got %s, want EACCES: errno=%s",
			merge ? kt_errname(merge) : "success", merge ? kt_errname(merge) : "none");
	if (kt_vma_has_flag(t->pid, t->addr, "mg") != 0)
		kt_fail("d) refused, yet the target's VMA became mergeable");
	return true;
}

int main(void)
{
	bool yama;
	struct kt_twin user_target, root_target;
	int e;

	kt_twin_spawn(&user_target, LEN, become_user);
	kt_twin_spawn(&root_target, LEN, NULL);

	e = try_as_user(&user_target, 0);
	if (e != EPERM)
		kt_fail("a) no CAP_SYS_NICE: got %s, want EPERM: errno=%s",
			e ? kt_errname(e) : "success", e ? kt_errname(e) : "none");
	if (kt_vma_has_flag(user_target.pid, user_target.addr, "mg") != 0)
		kt_fail("a) refused, yet the target's VMA became mergeable");

	e = try_as_user(&root_target, 1U << CAP_SYS_NICE);
	if (e != EACCES && e != EPERM)
		kt_fail("b) no ptrace access: got %s, want EACCES or EPERM: errno=%s",
			e ? kt_errname(e) : "success", e ? kt_errname(e) : "none");
	if (kt_vma_has_flag(root_target.pid, root_target.addr, "mg") != 0)
		kt_fail("b) refused, yet the target's VMA became mergeable");

	yama = read_but_no_attach(&user_target);
	if (!yama)
		kt_log("d) skipped: no Yama, read and attach access are the same here");

	e = try_as_user(&user_target, 1U << CAP_SYS_NICE);
	if (e)
		kt_fail("c) CAP_SYS_NICE and ptrace access: refused: errno=%s", kt_errname(e));
	if (kt_vma_has_flag(user_target.pid, user_target.addr, "mg") != 1)
		kt_fail("c) allowed, but the target's VMA is not mergeable");

	kt_twin_stop(&user_target);
	kt_twin_stop(&root_target);
	kt_pass("no CAP_SYS_NICE: EPERM; no ptrace access: refused; %s; with both: allowed",
		yama ? "read but no attach access: EACCES" : "no Yama: read-only case not run");
}
