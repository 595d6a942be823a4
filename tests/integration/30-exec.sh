# Processes started after `add` are enrolled at exec; the app list survives
# a restart (persisted drop-in) but --runtime additions do not.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save

write_conf "[apps]" "app = ksmpexec"
start_daemon
p=$(start_twin ksmpexec 4)
enrolled() { grep -q "ksm_merge_any: yes\|ksm_mergeable: yes" "/proc/$1/ksm_stat"; }
wait_until 10 enrolled "$p" || fail "new process $p not enrolled at exec"
ctl status | grep -q "ksmpexec" || fail "status lacks ksmpexec"

# not matching: a differently named copy stays out
q=$(start_twin ksmpother 4)
sleep 1
enrolled "$q" && fail "non-matching process $q enrolled"

ctl add ksmpother --runtime || fail "add --runtime failed"
wait_until 10 enrolled "$q" || fail "running process $q not enrolled at add"
[ -e "$CONF.d/90-ksmplusctl.conf" ] && grep -q ksmpother "$CONF.d/90-ksmplusctl.conf" && fail "--runtime persisted"
ctl remove ksmpexec >/dev/null 2>&1 && fail "removing an app of the user's own file must be refused"
ctl remove ksmpexec --runtime --unmerge || fail "remove --runtime failed"
wait_until 10 sh -c "! grep -q 'ksm_merge_any: yes\|ksm_mergeable: yes' /proc/$p/ksm_stat" || fail "$p still enrolled"
grep -q "gimp\|ksmpexec" "$CONF" || fail "user config was rewritten"

stop_daemon || fail "daemon exited non-zero"
# after restart: runtime changes are gone; the config file's app is back
start_daemon
ctl list | grep -q ksmpexec || fail "config app missing after restart"
ctl list | grep -q ksmpother && fail "runtime app survived restart"
exit 0
