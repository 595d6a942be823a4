/* vmas.h — VMA discovery: the anonymous private writable ranges of a process
 * (from /proc/PID/maps) that KSM can merge. */
#ifndef KSMPLUS_VMAS_H
#define KSMPLUS_VMAS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct vma_range {
	uintptr_t start, end;
};

struct vma_list {
	struct vma_range *v;
	size_t n, cap;
};

/* Parses maps text; appends eligible ranges (private, writable, anonymous,
 * [heap], [stack], [anon:...]; never [vdso]/[vvar]/[vsyscall] or shared/file
 * mappings). Adjacent ranges are coalesced. 0, or -EINVAL on a malformed
 * line (*bad_line set to its 1-based number if non-NULL), -ENOMEM. */
int vmas_parse(const char *text, struct vma_list *out, int *bad_line);
/* Reads /proc/PID/maps. 0 or -errno. */
int vmas_read(pid_t pid, struct vma_list *out);
/* out = ranges of cur not covered by prev (both sorted, coalesced); out is
 * overwritten and must be neither of them. 0 or -ENOMEM. */
int vmas_subtract(const struct vma_list *cur, const struct vma_list *prev, struct vma_list *out);
size_t vmas_bytes(const struct vma_list *l);
void vmas_clear(struct vma_list *l);
void vmas_free(struct vma_list *l);
#endif
