#!/bin/sh
# Installs what ksmplus needs to build, test and run the kernel checks
# (Debian 12).  clang + libclang-rt-14-dev (libFuzzer's runtime, which clang-14
# does not pull in) are for make fuzz, gcovr for make coverage, prometheus
# for promtool (tests check `ksmplusctl metrics` with it; its service is not
# started by anything here), debhelper and lintian for make deb / check-deb
# (bash-completion: check-deb loads the installed completion through it),
# zsh and python3-yaml for the zsh completion's and the Kubernetes manifests'
# tests. Idempotent; skips apt when everything is present.
set -eu
PKGS="build-essential pkg-config libsystemd-dev libproc2-dev libinih-dev libcmocka-dev libxxhash-dev
      valgrind cppcheck systemd procps util-linux python3
      linux-source-6.12 qemu-system-x86 busybox-static flex bison bc libelf-dev
      libssl-dev cpio xz-utils
      clang libclang-rt-14-dev gcovr
      prometheus zsh python3-yaml
      debhelper lintian bash-completion"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
		|| missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "deps: all present"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: need root to install:$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
