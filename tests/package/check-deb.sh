#!/bin/sh
# make check-deb: the Debian package (debian/) from build to purge, on this
# machine. It builds (make deb: dpkg-buildpackage -us -uc -b out of a copy,
# the source tree left as it was), lintian finds no error, dpkg -i installs it
# without systemd as PID 1 (postinst enables the unit the Debian way and
# starts nothing), the installed daemon validates and runs the installed
# config, the config is a conffile (an edit survives a reinstall), and
# dpkg --purge takes back every file the package and its tools put here:
# the file list of /etc, /usr and dpkg's and deb-systemd-helper's state, the
# KSM knobs and the process table are as before the install.
. "$(dirname "$0")/../integration/lib.sh"
need_root
root=$(cd "$(dirname "$0")/../.." && pwd)
case ${BUILD:-build} in /*) B=$BUILD ;; *) B=$root/${BUILD:-build} ;; esac
INSTALLED=""

for c in dpkg-buildpackage dh lintian; do
	command -v "$c" > /dev/null ||
		fail "$c missing (make deps installs debhelper, lintian and dpkg-dev)"
done
# This test installs and purges the package: a ksmplus already here (a
# package or a make install) would be overwritten, then removed.
if dpkg-query -W -f='${Status}' ksmplus 2> /dev/null | grep -qv 'not-installed'; then
	skip "the ksmplus package is installed on this machine; check-deb would purge it"
fi
for f in /etc/ksmplusd.conf /etc/ksmplusd.conf.d /usr/sbin/ksmplusd /usr/bin/ksmplusctl \
	 /lib/systemd/system/ksmplusd.service; do
	[ -e "$f" ] && skip "$f exists (a make install?); check-deb would overwrite and then purge it"
done

# Every Build-Depends is in make deps' list (debhelper-compat is debhelper).
for p in $(sed -n '/^Build-Depends:/,/^[A-Z]/p' "$root/debian/control" |
	   sed 's/^Build-Depends://; /^[A-Z]/d; s/([^)]*)//g' | tr ',' '\n' | tr -d ' \t'); do
	[ "$p" = debhelper-compat ] && p=debhelper
	grep -qw -- "$p" "$root/scripts/deps.sh" || fail "Build-Depends $p is not in scripts/deps.sh (make deps)"
done

# -- build (no KSM lock needed)
tree_state() { git -C "$root" status --porcelain --untracked-files=all 2> /dev/null; }
tree0=$(tree_state)
start=$(date +%s)
make -C "$root" BUILD="$B" deb > "$TMP/build.log" 2>&1 ||
	fail "make deb failed: $(tail -n 25 "$TMP/build.log")"
build_sec=$(( $(date +%s) - start ))
[ "$(tree_state)" = "$tree0" ] || fail "make deb changed the source tree: $(tree_state)"
# The package's build is its own, in its copy's build/ (an inherited
# MAKEFLAGS once carried BUILD= and compiled it into this tree's build dir).
[ -x "$B/deb/ksmplus/build/ksmplusd" ] ||
	fail "the package was not compiled in its copy ($B/deb/ksmplus/build): make deb leaks variables"
# dpkg-buildflags' hardening reaches the compiler: -D_FORTIFY_SOURCE comes
# in CPPFLAGS, which the Makefile once left out.
grep -e '-c daemon/ksmplusd.c' "$TMP/build.log" | grep -q -e '-D_FORTIFY_SOURCE=' ||
	fail "the package's compile lines lack dpkg-buildflags' CPPFLAGS: $(grep -e '-c daemon/ksmplusd.c' "$TMP/build.log")"
set -- "$B"/deb/ksmplus_*.deb
[ $# = 1 ] && [ -f "$1" ] || fail "make deb made no single $B/deb/ksmplus_*.deb: $*"
deb=$1
version=$(sed -n 's/^#define KSMPLUS_VERSION "\(.*\)"/\1/p' "$root/daemon/version.h")
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] ||
	fail "package version $(dpkg-deb -f "$deb" Version) is not daemon/version.h's $version (debian/changelog)"

lintian --allow-root --fail-on error --display-info --show-overrides "$B"/deb/ksmplus_*.changes > "$TMP/lintian.txt" 2>&1 ||
	fail "lintian: $(grep -v '^[IWNP]:' "$TMP/lintian.txt")"
tags=$(grep -c '^[EWIPO]:' "$TMP/lintian.txt")
while read -r line; do note "lintian: $line"; done < "$TMP/lintian.txt"

# -- install and purge: the machine's KSM knobs and files, so under the lock
lock=${KSMPLUS_TEST_LOCK:-/var/lock/ksmplus-tests.lock}
exec 9>> "$lock"
waited=$(date +%s)
flock 9
phase2=$(date +%s)
waited=$((phase2 - waited))

# What the package may touch: files, symlinks, dirs and their modes. Python's
# caches are written by anything that runs python3 meanwhile.
snapshot() {
	find /etc /usr /var/lib/systemd /var/lib/dpkg/info -xdev -printf '%y %m %p\n' 2> /dev/null |
		grep -v '/__pycache__/' | LC_ALL=C sort
}
knobs() {
	find "$KSM" -maxdepth 1 -type f -perm -u=w | LC_ALL=C sort | while read -r f; do
		echo "$f $(cat "$f")"
	done
}
# Processes running the installed daemon (even once it is deleted).
daemons() {
	for p in /proc/[0-9]*; do
		readlink "$p/exe" 2> /dev/null
	done | grep -c '^/usr/sbin/ksmplusd'
}
# On failure too the machine is left as found: the package purged, and
# ksmplusctl's drop-in (nothing of ksmplus was here: see the skips above).
test_cleanup() {
	[ -n "$INSTALLED" ] && dpkg --purge ksmplus > /dev/null 2>&1
	rm -f /etc/ksmplusd.conf.d/90-ksmplusctl.conf
	[ -d /etc/ksmplusd.conf.d ] && rmdir --ignore-fail-on-non-empty /etc/ksmplusd.conf.d
	return 0
}

snapshot > "$TMP/files.before"
knobs > "$TMP/knobs.before"
ksm_save
running0=$(daemons)

INSTALLED=1
dpkg -i "$deb" < /dev/null > "$TMP/dpkg.log" 2>&1 || fail "dpkg -i failed: $(tail -n 20 "$TMP/dpkg.log")"
[ "$(dpkg-query -W -f='${Status}' ksmplus)" = "install ok installed" ] ||
	fail "after dpkg -i: $(dpkg-query -W -f='${Status}' ksmplus)"
for f in /usr/sbin/ksmplusd /usr/bin/ksmplusctl /lib/systemd/system/ksmplusd.service \
	 /etc/ksmplusd.conf /usr/share/man/man8/ksmplusd.8.gz /usr/share/man/man1/ksmplusctl.1.gz \
	 /usr/share/man/man5/ksmplusd.conf.5.gz /usr/share/bash-completion/completions/ksmplusctl \
	 /usr/share/doc/ksmplus/copyright /usr/share/doc/ksmplus/changelog.gz; do
	dpkg -L ksmplus | grep -qx "$f" || fail "the package does not install $f"
	[ -e "$f" ] || fail "$f listed but not on disk"
done
grep -q '^ExecStart=/usr/sbin/ksmplusd ' /lib/systemd/system/ksmplusd.service ||
	fail "installed unit's ExecStart: $(grep ExecStart= /lib/systemd/system/ksmplusd.service)"
dpkg-query -W -f='${Conffiles}\n' ksmplus | grep -q '^ /etc/ksmplusd.conf ' ||
	fail "/etc/ksmplusd.conf is not a conffile: $(dpkg-query -W -f='${Conffiles}' ksmplus)"
# Enabled the Debian way (deb-systemd-helper), with or without systemd.
[ "$(readlink /etc/systemd/system/multi-user.target.wants/ksmplusd.service)" = \
  /lib/systemd/system/ksmplusd.service ] || fail "postinst did not enable ksmplusd.service"
if [ -d /run/systemd/system ]; then
	note "systemd runs here: postinst started the unit (not the case this test is for)"
else
	# No systemd as PID 1: postinst succeeded (above) and started nothing.
	[ "$(daemons)" = "$running0" ] || fail "postinst started ksmplusd without systemd"
fi
/usr/sbin/ksmplusd --check-config > "$TMP/check.out" 2>&1 ||
	fail "ksmplusd --check-config on the installed /etc/ksmplusd.conf: $(cat "$TMP/check.out")"
# bash-completion finds the completion where the package put it.
if [ -f /usr/share/bash-completion/bash_completion ]; then
	bash -c '. /usr/share/bash-completion/bash_completion; __load_completion ksmplusctl; complete -p ksmplusctl' \
		2>&1 | grep -q ' _ksmplusctl ksmplusctl$' || fail "bash-completion does not load ksmplusctl's completion"
fi

# The installed programs run: the daemon on the installed config (its
# socket private to this test), `add` writes ksmplusctl's drop-in, which
# purge must take away too.
/usr/sbin/ksmplusd --socket "$SOCK" > "$DLOG" 2>&1 &
DAEMON_PID=$!
wait_until 20 test -S "$SOCK" || fail "installed daemon did not create $SOCK"
wait_until 20 grep -q "ready" "$DLOG" || fail "installed daemon not ready"
/usr/bin/ksmplusctl --socket "$SOCK" add ksmplus-deb-probe > "$TMP/add.out" 2>&1 ||
	fail "ksmplusctl add: $(cat "$TMP/add.out")"
grep -q 'ksmplus-deb-probe' /etc/ksmplusd.conf.d/90-ksmplusctl.conf 2> /dev/null ||
	fail "ksmplusctl add wrote no /etc/ksmplusd.conf.d/90-ksmplusctl.conf"
stop_daemon || fail "installed daemon exited with $rc on SIGTERM"

# A conffile: an admin's edit survives a reinstall (no prompt: stdin is
# /dev/null), and postinst's upgrade path starts nothing either.
echo "# edited by check-deb" >> /etc/ksmplusd.conf
dpkg -i "$deb" < /dev/null > "$TMP/dpkg.log" 2>&1 || fail "dpkg -i again failed: $(tail -n 20 "$TMP/dpkg.log")"
grep -q '^# edited by check-deb' /etc/ksmplusd.conf || fail "reinstalling overwrote the edited /etc/ksmplusd.conf"
[ -d /run/systemd/system ] || [ "$(daemons)" = "$running0" ] || fail "postinst (upgrade) started ksmplusd"

dpkg --purge ksmplus > "$TMP/purge.log" 2>&1 || fail "dpkg --purge failed: $(tail -n 20 "$TMP/purge.log")"
INSTALLED=""
! dpkg-query -W -f='${Status}' ksmplus 2> /dev/null | grep -qv 'not-installed' ||
	fail "after purge dpkg still knows ksmplus: $(dpkg-query -W -f='${Status}' ksmplus)"
snapshot > "$TMP/files.after"
knobs > "$TMP/knobs.after"
diff "$TMP/files.before" "$TMP/files.after" > "$TMP/files.diff" ||
	fail "the machine's files differ after purge (< before, > after): $(head -n 30 "$TMP/files.diff")"
diff "$TMP/knobs.before" "$TMP/knobs.after" > "$TMP/knobs.diff" ||
	fail "KSM knobs differ after purge: $(cat "$TMP/knobs.diff")"
[ "$(daemons)" = "$running0" ] || fail "a ksmplusd from the package still runs after purge"

note "figures: build_sec=$build_sec lock_wait_sec=$waited install_to_purge_sec=$(( $(date +%s) - phase2 ))" \
	"deb_bytes=$(stat -c %s "$deb") lintian_tags=$tags paths_compared=$(wc -l < "$TMP/files.before")"
exit 0
