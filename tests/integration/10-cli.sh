# The command-line surface: help, version, config checking, clear errors.
. "$(dirname "$0")/lib.sh"

"$BUILD/ksmplusd" --help | grep -q -- "--config" || fail "ksmplusd --help lacks --config"
"$BUILD/ksmplusctl" --help | grep -q "add" || fail "ksmplusctl --help lacks add"
"$BUILD/ksmplusd" --version | grep -q "ksmplusd " || fail "no version"

write_conf "[apps]" "app = gimp evince"
out=$("$BUILD/ksmplusd" --config "$CONF" --check-config) || fail "good config rejected: $out"
echo "$out" | grep -q "2 apps" || fail "check-config miscounted: $out"

write_conf "[apps]" "app = gimp" "[ksmd]" "pages = 5"
out=$("$BUILD/ksmplusd" --config "$CONF" --check-config 2>&1); rc=$?
[ $rc = 1 ] || fail "bad key: exit $rc, want 1"
echo "$out" | grep -q "$CONF:4:" || fail "bad key: no file:line in '$out'"

mkdir "$CONF.d"
printf '[apps]\napp = okular\n' > "$CONF.d/10-a.conf"
printf '[bogus]\n' > "$CONF.d/20-b.conf"
write_conf "[apps]" "app = gimp"
out=$("$BUILD/ksmplusd" --config "$CONF" --check-config 2>&1) && fail "bad drop-in accepted"
echo "$out" | grep -q "20-b.conf:1:" || fail "bad drop-in: no file:line in '$out'"
rm "$CONF.d/20-b.conf"
out=$("$BUILD/ksmplusd" --config "$CONF" --check-config) || fail "drop-in rejected: $out"
echo "$out" | grep -q "2 apps" || fail "drop-in not read: $out"

out=$("$BUILD/ksmplusd" --config "$TMP/nonexistent.conf" --check-config 2>&1) && fail "missing config accepted"
echo "$out" | grep -q "nonexistent.conf" || fail "missing config: no file name in '$out'"

"$BUILD/ksmplusd" --bogus-option >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "unknown option: exit $rc, want 2"

out=$("$BUILD/ksmplusctl" --socket "$TMP/none.sock" status 2>&1); rc=$?
[ $rc = 3 ] || fail "ksmplusctl without daemon: exit $rc, want 3"
echo "$out" | grep -q "none.sock" || fail "ksmplusctl: socket not named in '$out'"
"$BUILD/ksmplusctl" frobnicate >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "ksmplusctl unknown command: exit $rc, want 2"
exit 0
