/* An iovec of three ranges, the second with an unmapped hole: remote
 * process_madvise(MADV_MERGEABLE) returns the bytes of the first range only
 * (the ranges before the failing one), the first range is mergeable and
 * the third, after the failing one, is left alone. */
#include "kt.h"

int main(void)
{
	struct kt_twin t;
	struct iovec iov[3];
	unsigned long a, b, c;
	size_t err;
	long r;

	/* 16 pages: A = 0..3, B = 4..11 with page 6 unmapped, C = 12..15. */
	kt_twin_spawn(&t, 16 * KT_PAGE, NULL);
	err = kt_twin_cmd(&t, 'u', 6);
	if (err)
		kt_fail("munmap in the target: errno=%s", kt_errname((int)err));
	a = t.addr;
	b = t.addr + 4 * KT_PAGE;
	c = t.addr + 12 * KT_PAGE;
	iov[0] = (struct iovec){ (void *)a, 4 * KT_PAGE };
	iov[1] = (struct iovec){ (void *)b, 8 * KT_PAGE };
	iov[2] = (struct iovec){ (void *)c, 4 * KT_PAGE };
	r = kt_pmadvisev(t.pidfd, iov, 3, MADV_MERGEABLE);
	if (r < 0)
		kt_fail("process_madvise(MADV_MERGEABLE, iovec with a hole): errno=%s",
			kt_errname(errno));
	if (r != (long)(4 * KT_PAGE))
		kt_fail("returned %ld, want %lu (the bytes before the range with the hole)",
			r, 4 * KT_PAGE);
	if (kt_vma_has_flag(t.pid, a, "mg") != 1)
		kt_fail("first range not mergeable after the call");
	if (kt_vma_has_flag(t.pid, c, "mg") != 0)
		kt_fail("third range (after the hole) was advised too");
	kt_twin_stop(&t);
	kt_pass("returned %ld = bytes of the range before the hole; later range untouched", r);
}
