#!/bin/busybox sh
# shellcheck shell=dash
# /init of the check-systemd guest (tests/systemd/run.sh builds the
# initramfs): the host's root, read-only over virtio-9p ("root"), under a
# tmpfs overlay, becomes the root file system of the host's own systemd.
# The writable 9p share "state" holds what survives the guest's reboot: the
# overlay's changes (upper.tar) and the check's stage (see check.sh). On the
# first boot the overlay gets /payload: the project as `make install` put it,
# the check and its unit.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/null >/dev/console 2>&1
die() { echo "SDTEST-INIT FAIL $*"; sync; poweroff -f; }
mkdir -p /lower /upper /state /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 root /lower || die "9p root"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 state /state || die "9p state"
mount -t tmpfs -o mode=0755 tmpfs /upper || die "tmpfs"
mkdir -p /upper/upper /upper/work
if [ -e /state/upper.tar ]; then
	tar -C /upper/upper -xf /state/upper.tar || die "restoring the overlay"
else
	cp -a /payload/. /upper/upper/ || die "payload"
fi
mount -t overlay -o lowerdir=/lower,upperdir=/upper/upper,workdir=/upper/work overlay /newroot ||
	die "overlay"
# The host is a container (its /.dockerenv): hidden, or systemd would take
# the guest for one and skip what a machine runs.
rm -f /newroot/.dockerenv /newroot/run/.containerenv
# Both stay reachable from the new root: check.sh saves the overlay's
# changes before it reboots the guest.
mkdir -p /newroot/mnt/ksmplus-upper /newroot/mnt/ksmplus-state
mount --move /upper /newroot/mnt/ksmplus-upper
mount --move /state /newroot/mnt/ksmplus-state
# The API file systems, as an initramfs hands them over: what is at these
# paths in the lower layer is the host's (its /proc, /run, ...) over 9p.
for m in proc sys dev; do mount --move /$m /newroot/$m || die "moving /$m"; done
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /newroot/run || die "/run"
echo "SDTEST-INIT switching to systemd (boot $(cat /newroot/mnt/ksmplus-state/stage 2>/dev/null || echo 1))"
exec switch_root /newroot /lib/systemd/systemd
