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
# The debug flavour's variants (tests/kernel/run.sh --debug). A setup that
# fails says "KTEST-SETUP-FAIL", which fails the boot: a variant that did
# not take effect must not pass as tested.
man_nodes=$(sed -n 's/.*ksmplus.merge_across_nodes=\([01]\).*/\1/p' /proc/cmdline)
if [ -n "$man_nodes" ]; then
	echo "$man_nodes" >/sys/kernel/mm/ksm/merge_across_nodes &&
		echo "KTEST-SETUP merge_across_nodes=$(cat /sys/kernel/mm/ksm/merge_across_nodes)" ||
		echo "KTEST-SETUP-FAIL merge_across_nodes=$man_nodes"
	echo "KTEST-SETUP numa nodes: $(find /sys/devices/system/node -maxdepth 1 -name "node[0-9]*" 2>/dev/null | wc -l)"
fi
if grep -q 'ksmplus.swap=zram' /proc/cmdline; then
	# 512 MiB of compressed swap: the guest's 2 GiB hold the tests' memory,
	# swap is there for memcg limits and reclaim to push merged pages out.
	{ echo 512M >/sys/block/zram0/disksize && mkswap /dev/zram0 >/dev/null &&
		swapon /dev/zram0; } &&
		echo "KTEST-SETUP swap: $(sed -n 's/^SwapTotal: *//p' /proc/meminfo)" ||
		echo "KTEST-SETUP-FAIL swap on zram"
fi
if [ -d /sys/kernel/mm/transparent_hugepage ]; then
	echo "KTEST-SETUP thp: $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
fi
kmemleak=/sys/kernel/debug/kmemleak
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
if [ -e $kmemleak ]; then
	# What boot left unreferenced is not the tests': scan once, forget it.
	# A kmemleak that disabled itself refuses the scan (EPERM).
	echo scan >$kmemleak && echo clear >$kmemleak &&
		echo "KTEST-SETUP kmemleak: boot-time suspects cleared" ||
		echo "KTEST-SETUP-FAIL kmemleak refused a scan (disabled itself?)"
fi
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
if [ -e $kmemleak ]; then
	# An object is reported once it is 5 s old and unreferenced in two
	# scans: wait, scan twice, print every suspect (the host fails on any).
	# No verdict unless both scans ran: the host requires "suspects=0".
	sleep 6
	if echo scan >$kmemleak && echo scan >$kmemleak; then
		echo "KTEST-KMEMLEAK-BEGIN"
		cat $kmemleak
		echo "KTEST-KMEMLEAK-END suspects=$(grep -c '^unreferenced object' $kmemleak)"
	else
		echo "KTEST-KMEMLEAK-FAIL kmemleak refused a scan (disabled itself?)"
	fi
fi
echo "KTEST-DMESG-BEGIN"
dmesg
echo "KTEST-DMESG-END"
echo "KTEST-DONE"
sync
reboot -f
