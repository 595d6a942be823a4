#!/bin/busybox sh
# shellcheck shell=dash
# /init of the check-kernel guest (tests/kernel/run.sh builds the initramfs).
# Runs every test listed in /tests/list ("FILE NAME" lines, in order) with a
# time limit, dumps the kernel log, and powers off. Everything goes to the
# serial console, which the host reads; it looks for the tests' own
# "KTEST NAME STATUS DETAIL" lines, for KTEST-DONE, and for kernel splats.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
exec </dev/null >/dev/console 2>&1
limit=$(sed -n 's/.*ksmplus.test_timeout=\([0-9]*\).*/\1/p' /proc/cmdline)
echo "KTEST-BEGIN kernel $(uname -r) cmdline: $(cat /proc/cmdline)"
while read -r file name; do
	echo "KTEST-RUN $name"
	start=$(date +%s)
	case $file in
	*.sh) KTEST_NAME=$name timeout -s KILL "${limit:-300}" sh "/tests/$file" ;;
	*)    timeout -s KILL "${limit:-300}" "/tests/$file" ;;
	esac
	echo "KTEST-EXIT $name rc=$? seconds=$(( $(date +%s) - start ))"
	# Whatever the test left running (PID 1 itself is spared).
	kill -KILL -1 2>/dev/null
	# Leave KSM as the next test expects to find it: stopped, all unmerged.
	[ -w /sys/kernel/mm/ksm/run ] && echo 2 >/sys/kernel/mm/ksm/run
done </tests/list
echo "KTEST-DMESG-BEGIN"
dmesg
echo "KTEST-DMESG-END"
echo "KTEST-DONE"
sync
reboot -f
