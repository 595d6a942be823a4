# make install honours DESTDIR/PREFIX, installs daemon, CLI, unit, man pages
# and the config, and never overwrites an existing /etc/ksmplusd.conf.
. "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
D=$TMP/dest
make -s -C "$root" BUILD="$BUILD" DESTDIR="$D" PREFIX=/usr install > "$TMP/install.log" 2>&1 ||
	fail "make install failed: $(tail -5 "$TMP/install.log")"
for f in usr/sbin/ksmplusd usr/bin/ksmplusctl lib/systemd/system/ksmplusd.service \
	 etc/ksmplusd.conf usr/share/man/man8/ksmplusd.8 usr/share/man/man1/ksmplusctl.1 \
	 usr/share/man/man5/ksmplusd.conf.5 usr/share/bash-completion/completions/ksmplusctl; do
	[ -e "$D/$f" ] || fail "make install did not install /$f"
done
[ -d "$D/etc/ksmplusd.conf.d" ] || fail "no /etc/ksmplusd.conf.d"
grep -q "^ExecStart=/usr/sbin/ksmplusd " "$D/lib/systemd/system/ksmplusd.service" ||
	fail "unit's ExecStart does not point at the installed daemon"
echo "# mine" >> "$D/etc/ksmplusd.conf"
make -s -C "$root" BUILD="$BUILD" DESTDIR="$D" PREFIX=/usr install > "$TMP/install.log" 2>&1 ||
	fail "second make install failed"
grep -q "# mine" "$D/etc/ksmplusd.conf" || fail "make install overwrote the existing config"
"$D/usr/sbin/ksmplusd" --config "$D/etc/ksmplusd.conf" --check-config > /dev/null ||
	fail "installed config does not validate"
# uninstall takes back what install put, the config (an admin's) excepted
make -s -C "$root" BUILD="$BUILD" DESTDIR="$D" PREFIX=/usr uninstall > "$TMP/install.log" 2>&1 ||
	fail "make uninstall failed"
left=$(find "$D" -type f ! -path "$D/etc/*")
[ -z "$left" ] || fail "make uninstall left: $left"
exit 0
