#!/bin/bash
# tests/systemd/run.sh — make check-systemd: boots a QEMU (TCG) guest whose
# PID 1 is systemd and drives ksmplusd as a user would, through systemctl,
# journalctl and ksmplusctl only (tests/systemd/check.sh, in the guest).
#
# The guest's root file system is the host's own, exported read-only over
# virtio-9p with a tmpfs overlay on top: no image to build, no network. A
# busybox initramfs (tests/systemd/init.sh) mounts both and switch_roots to
# /lib/systemd/systemd. The project is installed into the overlay with
# `make install DESTDIR=` (PREFIX=/usr/local). A second, writable 9p share
# (the "state" directory) carries the overlay's changes and the check's stage
# across the guest's reboot, as a disk would: `systemctl enable` + reboot.
#
# The kernel is check-kernel's patched 6.12 (tests/kernel/build.sh) with
# tests/systemd/config.fragment merged on top: its own cache key and work
# tree under KSMPLUS_KERNEL_CACHE, so neither flavor rebuilds the other.
#
# Usage: tests/systemd/run.sh [--build-only]
# Environment: as tests/kernel/run.sh (KSMPLUS_KERNEL_CACHE, _TARBALL, _JOBS),
#   KSMPLUS_SYSTEMD_TIMEOUT  seconds the whole QEMU run may take (default
#                            1200), a hang guard: the check waits for
#                            conditions, never for fixed times
#   BUILD                    where ksmplusd is built (default build); the
#                            initramfs and serial log go to BUILD/systemd
#   V=1                      print the whole serial log
set -euo pipefail

SELF=$(readlink -f "$0")
REPO=$(cd "$(dirname "$SELF")/../.." && pwd)
cd "$REPO"
TIMEOUT=${KSMPLUS_SYSTEMD_TIMEOUT:-1200}
TESTDIR=$REPO/tests/systemd
EXTRA_FRAGMENTS=("$TESTDIR/config.fragment")
KERNEL_WORK_NAME=work-systemd

build_only=0
case ${1:-} in
--build-only) build_only=1 ;;
"") ;;
*) sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac

log() { printf 'check-systemd: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=tests/kernel/build.sh
. "$REPO/tests/kernel/build.sh"
OUT=$BUILD/systemd
[ -x /lib/systemd/systemd ] || die "/lib/systemd/systemd missing: the guest boots the host's systemd (apt-get install systemd)"
[ -r "$TARBALL" ] || die "$TARBALL missing (apt-get install linux-source-6.12)"
mkdir -p "$CACHE" "$OUT"


# --- guest --------------------------------------------------------------------

# Units of the host's system that would wait for hardware, network or a
# login, or only cost boot time in a throw-away guest. The console is the
# serial port, owned by the check (no getty on it).
MASK=(getty@tty1.service serial-getty@ttyS0.service getty.target
	systemd-udevd.service systemd-udev-trigger.service systemd-udev-settle.service
	systemd-udevd-control.socket systemd-udevd-kernel.socket
	systemd-remount-fs.service systemd-timesyncd.service systemd-pstore.service
	networking.service systemd-networkd.service systemd-networkd-wait-online.service
	postgresql.service e2scrub_reap.service remote-fs.target cron.service ssh.service
	apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer
	fstrim.timer man-db.timer systemd-tmpfiles-clean.timer
	dev-hugepages.mount sys-kernel-debug.mount sys-kernel-tracing.mount
	proc-sys-fs-binfmt_misc.automount systemd-binfmt.service)

# The overlay's first contents: the project as `make install` puts it (the
# unit's ExecStart is /usr/local/sbin/ksmplusd), the check, its unit, the
# masks, and the exposure `make lint` computes offline, for the guest's
# systemd-analyze security to match.
build_payload() {
	local p=$OUT/payload etc u
	rm -rf "$p"
	mkdir -p "$p"
	make -s -C "$REPO" BUILD="$BUILD" DESTDIR="$p" PREFIX=/usr/local \
		UNITDIR=/usr/lib/systemd/system install >/dev/null
	install -D -m 0755 "$TESTDIR/check.sh" "$p/usr/local/libexec/ksmplus-check/check.sh"
	install -D -m 0755 "$BUILD/tests/twin" "$p/usr/local/libexec/ksmplus-check/twin"
	etc=$p/etc/systemd/system
	mkdir -p "$etc/multi-user.target.wants"
	install -m 0644 "$TESTDIR/ksmplus-check.service" "$etc/"
	ln -s ../ksmplus-check.service "$etc/multi-user.target.wants/ksmplus-check.service"
	ln -sfn /usr/lib/systemd/system/multi-user.target "$etc/default.target"
	for u in "${MASK[@]}"; do ln -s /dev/null "$etc/$u"; done
	systemd-analyze security --offline=true "$p/usr/lib/systemd/system/ksmplusd.service" 2>&1 |
		sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p' \
		>"$p/usr/local/libexec/ksmplus-check/exposure"
	[ -s "$p/usr/local/libexec/ksmplus-check/exposure" ] || die "systemd-analyze security --offline failed"
	EXPOSURE=$(cat "$p/usr/local/libexec/ksmplus-check/exposure")
}

INITRAMFS=$OUT/initramfs.cpio
build_initramfs() {
	local root=$OUT/root
	rm -rf "$root"
	mkdir -p "$root"/{bin,proc,sys,dev}
	cp "$BUSYBOX" "$root/bin/busybox"
	install -m 0755 "$TESTDIR/init.sh" "$root/init"
	cp -a "$OUT/payload" "$root/payload"
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$INITRAMFS.tmp"
	mv "$INITRAMFS.tmp" "$INITRAMFS"
}

KSPLAT='(WARNING:|BUG:|kernel BUG at|Oops|Call Trace:|Kernel panic|general protection fault|UBSAN:|INFO: task .* blocked|rcu: INFO:|watchdog: BUG:)'
# boot N: one QEMU run; the guest reboots (QEMU exits) at the end of each.
boot() {
	local n=$1 serial=$OUT/serial.$1.log rc
	log "boot $n (timeout ${TIMEOUT}s, serial log $serial)"
	set +e
	timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -machine mem-merge=off -m 1536 -smp 2 -nographic \
		-no-reboot -kernel "$IMAGE" -initrd "$INITRAMFS" \
		-virtfs local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$OUT/state,mount_tag=state,security_model=none,multidevs=remap" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4 systemd.show_status=0 ${KSMPLUS_GUEST_APPEND:-}" \
		</dev/null 2>&1 | stdbuf -oL tr -d '\r' | tee "$serial" |
		if [ "${V:-0}" = 1 ]; then cat; else grep --line-buffered -E "^(SDTEST|# )|$KSPLAT"; fi
	rc=${PIPESTATUS[0]}
	set -e
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		log "boot $n: TIMEOUT after ${TIMEOUT}s, qemu killed"; FAILED=$((FAILED + 1))
	elif [ "$rc" != 0 ]; then
		log "boot $n: qemu exited with status $rc"; FAILED=$((FAILED + 1))
	fi
	if grep -qE "$KSPLAT" "$serial"; then
		log "boot $n: kernel WARNING/BUG/Oops in the log:"
		grep -nE -A3 "$KSPLAT" "$serial" | head -n 40 >&2
		FAILED=$((FAILED + 1))
	fi
	grep -q "^SDTEST-DONE boot $n" "$serial" || { log "boot $n: the check did not finish (no SDTEST-DONE)"; FAILED=$((FAILED + 1)); }
}

# Each check of check.sh, by boot; a missing line is a failure.
CHECKS1=(start status add savings-exact rlimit cgroup reload-bad governor memevents journal security stop watchdog)
CHECKS2=(boot-enabled)
evaluate() {
	local n=$1 c line; shift
	for c in "$@"; do
		line=$(grep -E "^SDTEST $c (PASS|FAIL|SKIP)( |$)" "$OUT/serial.$n.log" | tail -n 1 || true)
		case $line in
		"SDTEST $c PASS"*) log "$c: ok (${line#SDTEST "$c" PASS })"; PASSED=$((PASSED + 1)) ;;
		"SDTEST $c SKIP"*) log "$c: SKIPPED (${line#SDTEST "$c" SKIP })"; SKIPPED=$((SKIPPED + 1)) ;;
		"") log "$c: NOT OK: no result line (boot $n)"; FAILED=$((FAILED + 1)) ;;
		*) log "$c: NOT OK: ${line#SDTEST "$c" FAIL }"; FAILED=$((FAILED + 1)) ;;
		esac
	done
}

PASSED=0 FAILED=0 SKIPPED=0

main() {
	phase_start; extract_source; phase_end "source"
	mapfile -t PATCHES < <(series_patches)
	[ ${#PATCHES[@]} -gt 0 ] || die "kernel-patch/series is empty"
	phase_start; build_kernel systemd "${PATCHES[@]}"; phase_end "kernel"
	IMAGE=$KERNEL_IMAGE
	[ -x "$BUILD/ksmplusd" ] && [ -x "$BUILD/tests/twin" ] || die "build first: make all $BUILD/tests/twin"
	phase_start; build_payload; build_initramfs; phase_end "payload + initramfs"
	[ $build_only = 0 ] || exit 0
	rm -rf "$OUT/state"
	mkdir -p "$OUT/state"
	phase_start; boot 1; phase_end "boot 1 + checks"
	evaluate 1 "${CHECKS1[@]}"
	if grep -qx 2 "$OUT/state/stage" 2>/dev/null; then
		phase_start; boot 2; phase_end "boot 2 (enabled at boot)"
	fi
	evaluate 2 "${CHECKS2[@]}"
	TIMINGS+=("$(printf '%-28s %4ds' total $(($(date +%s) - T0)))")
	log "timings:"
	for t in "${TIMINGS[@]}"; do echo "  $t" >&2; done
	[ $SKIPPED = 0 ] || log "$SKIPPED skipped"
	echo "check-systemd: $PASSED passed, $FAILED failed (offline exposure $EXPOSURE)"
	[ $FAILED = 0 ]
}

main "$@"; exit $?
