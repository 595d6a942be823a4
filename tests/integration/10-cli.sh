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

write_conf "[apps]" "app = gimp" "[ksmd]" "pages_to_scan = 4321"
out=$("$BUILD/ksmplusd" --config "$CONF" stray 2>&1); rc=$?
[ $rc = 2 ] || fail "stray argument: exit $rc, want 2"
echo "$out" | grep -q "unexpected argument 'stray'" || fail "stray argument not named in '$out'"

# A control socket that cannot be made (its directory is a file), found once
# the knobs are applied: exit 1 naming the path, the knobs put back.
[ "$(id -u)" = 0 ] && [ -w "$KSM/run" ] || { note "no root or KSM: socket failure not run"; exit 0; }
ksm_save
before=$(cat "$KSM/pages_to_scan")
: > "$TMP/file"
out=$("$BUILD/ksmplusd" --config "$CONF" --socket "$TMP/file/ksmplusd.sock" 2>&1); rc=$?
[ $rc = 1 ] || fail "unusable socket: exit $rc, want 1 ($out)"
echo "$out" | grep -q "$TMP/file/ksmplusd.sock: Not a directory" || fail "unusable socket: path not named in '$out'"
echo "$out" | grep -q "pages_to_scan = 4321" || fail "the failure came before the knobs: '$out'"
[ "$(cat "$KSM/pages_to_scan")" = "$before" ] || fail "pages_to_scan left at $(cat "$KSM/pages_to_scan"), was $before"
exit 0
