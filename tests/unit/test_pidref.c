/* test_pidref.c — start-time parsing and pidref identity (PID reuse). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pidref.h"

static void test_parse(void **state)
{
	(void)state;
	unsigned long long st = 0;
	/* comm with spaces and parentheses: fields count after the last ')' */
	const char *odd = "4242 (a) (b c)) R 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
			  "987654321 1000 100 18446744073709551615\n";
	assert_int_equal(proc_stat_parse_start(odd, &st), 0);
	assert_int_equal(st, 987654321ULL);
	const char *plain = "1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 17 2 3\n";
	assert_int_equal(proc_stat_parse_start(plain, &st), 0);
	assert_int_equal(st, 17ULL);
	assert_int_equal(proc_stat_parse_start("1 (x) S 1 2 3\n", &st), -EINVAL);
	assert_int_equal(proc_stat_parse_start("no paren at all", &st), -EINVAL);
	assert_int_equal(proc_stat_parse_start("1 (x) S 0 1 1 0 -1 4 1 2 3 4 5 6 7 8 20 0 1 0 x1 2",
					       &st), -EINVAL);
}

static void test_self(void **state)
{
	(void)state;
	unsigned long long st = 0, st2 = 0;
	assert_int_equal(proc_start_time(getpid(), &st), 0);
	assert_true(st > 0);
	struct pidref r;
	assert_int_equal(pidref_open(&r, getpid(), 0), 0);
	assert_int_equal(r.start_time, st);
	assert_true(pidref_alive(&r));
	assert_int_equal(pidref_verify(&r), 0);
	pidref_close(&r);
	assert_int_equal(r.pidfd, -1);
	assert_int_equal(pidref_open(&r, getpid(), st), 0);
	pidref_close(&r);
	assert_int_equal(pidref_open(&r, getpid(), st + 1), -ESRCH);
	assert_int_equal(r.pidfd, -1);
	assert_int_equal(proc_start_time(getpid(), &st2), 0);
	assert_int_equal(st, st2);
}

static void test_bogus_pids(void **state)
{
	(void)state;
	struct pidref r;
	unsigned long long st;
	assert_int_equal(pidref_open(&r, 0, 0), -ESRCH);
	assert_int_equal(pidref_open(&r, -5, 0), -ESRCH);
	assert_int_equal(pidref_open(&r, 0x3fffffff, 0), -ESRCH);
	assert_int_equal(proc_start_time(0x3fffffff, &st), -ESRCH);
	assert_false(pidref_alive(&r));
	pidref_close(&r);   /* harmless on a closed ref */
}

static void test_child_lifecycle(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	fflush(NULL);
	pid_t c = fork();
	assert_true(c >= 0);
	if (c == 0) {
		prctl(PR_SET_NAME, "x) (y z)");
		close(p[0]);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	char ch;
	assert_int_equal(read(p[0], &ch, 1), 1);
	close(p[0]);

	struct pidref r;
	assert_int_equal(pidref_open(&r, c, 0), 0);
	unsigned long long st;
	assert_int_equal(proc_start_time(c, &st), 0);
	assert_int_equal(st, r.start_time);
	assert_true(pidref_alive(&r));
	assert_int_equal(pidref_verify(&r), 0);

	struct pidref wrong = r;
	wrong.start_time++;
	assert_int_equal(pidref_verify(&wrong), -ESRCH);

	kill(c, SIGKILL);
	/* a zombie is not alive, though its PID is still taken */
	for (int i = 0; i < 1000 && pidref_alive(&r); i++)
		usleep(1000);
	assert_false(pidref_alive(&r));
	assert_int_equal(pidref_verify(&r), -ESRCH);
	assert_int_equal(waitpid(c, NULL, 0), c);
	assert_false(pidref_alive(&r));
	assert_int_equal(pidref_verify(&r), -ESRCH);
	struct pidref again;
	assert_int_equal(pidref_open(&again, c, r.start_time), -ESRCH);
	pidref_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_bogus_pids),
		cmocka_unit_test(test_child_lifecycle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
