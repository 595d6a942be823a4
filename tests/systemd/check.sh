#!/bin/sh
# tests/systemd/check.sh — the check-systemd guest's test, run by
# ksmplus-check.service once the guest reached multi-user.target. It drives
# ksmplusd as a user would (systemctl, journalctl, ksmplusctl) and prints one
# "SDTEST NAME PASS|FAIL|SKIP DETAIL" line per check on the serial console,
# which tests/systemd/run.sh reads. Boot 1 runs the checks, enables the unit
# and reboots; boot 2 checks that the unit started at boot, then powers off.
# Every wait is for a condition, with a generous cap (TCG on a busy host).
set -u
HERE=/usr/local/libexec/ksmplus-check
STATE=/mnt/ksmplus-state
KSM=/sys/kernel/mm/ksm
U=ksmplusd
TMPD=$(mktemp -d)
PIDS=""
STAGE=$(cat "$STATE/stage" 2>/dev/null || echo 1)

say() { echo "$*"; echo "$*" >>"$STATE/results"; }
pass() { say "SDTEST $1 PASS ${2:-}"; }
fail() { say "SDTEST $1 FAIL ${2:-}"; }
skip() { say "SDTEST $1 SKIP ${2:-}"; }
note() { echo "# $*"; }
# wait_until SECS CMD... — polls CMD every 0.2 s; 1 on timeout.
wait_until() {
	secs=$1; shift
	end=$(( $(date +%s) + secs ))
	while ! "$@"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.2
	done
}
prop() { systemctl show -P "$2" "$1"; }
running() { [ "$(prop $U ActiveState)/$(prop $U SubState)" = active/running ]; }
journal() { journalctl -u $U --no-pager -o cat "$@"; }
# The journal of the current invocation of the unit only.
journal_now() { journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID="$(prop $U InvocationID)"; }
# ksmd's knobs (mode 0644; the counters are 0444; root passes [ -w ] on both).
knobs() { for f in $(find "$KSM" -maxdepth 1 -type f -perm -u+w | sort); do echo "$(basename "$f")=$(cat "$f")"; done; }

# twin NAME MIB — starts a copy of the twin workload named NAME (comm and
# exe are NAME); its PID in TWIN, once it has filled its memory.
NTWIN=0
twin() {
	NTWIN=$((NTWIN + 1))
	[ -x "$TMPD/$1" ] || cp "$HERE/twin" "$TMPD/$1"
	: >"$TMPD/st$NTWIN"
	"$TMPD/$1" --mib "$2" --status "$TMPD/st$NTWIN" >/dev/null 2>&1 &
	TWIN=$!
	PIDS="$PIDS $TWIN"
	ln -s "st$NTWIN" "$TMPD/st.$TWIN"
	wait_until 120 grep -q ready "$TMPD/st.$TWIN"
}
verify_twin() {
	: >"$TMPD/st.$1"
	kill -USR1 "$1"
	wait_until 120 grep -q verify "$TMPD/st.$1" && grep -q "verify ok" "$TMPD/st.$1"
}
ksm_stat() { v=$(awk -v k="$2" '$1 == k { print $2 }' "/proc/$1/ksm_stat" 2>/dev/null); echo "${v:-0}"; }
merged() { [ "$(cat $KSM/pages_sharing)" -gt 0 ] && [ "$(ksm_stat "$1" ksm_merging_pages)" -gt 0 ] &&
	[ "$(ksm_stat "$2" ksm_merging_pages)" -gt 0 ]; }

finish() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	echo "SDTEST-DONE boot $STAGE"
	sync
	# The machine has no ACPI: QEMU runs with -no-reboot and exits on a
	# reboot; run.sh boots it again for stage 2.
	systemctl reboot
	exit 0
}

note "boot $STAGE: $(uname -r), PID 1 is $(cat /proc/1/comm), cgroup $(stat -f -c %T /sys/fs/cgroup)"

if [ "$STAGE" = 2 ]; then
	# --- enable + reboot: started at boot, by systemd alone ---
	if [ "$(systemctl is-enabled $U)" = enabled ] && wait_until 120 running &&
		[ "$(prop $U NRestarts)" = 0 ]; then
		pass boot-enabled "$(prop $U ExecMainStartTimestamp)"
	else
		fail boot-enabled "is-enabled $(systemctl is-enabled $U), $(prop $U ActiveState)/$(prop $U SubState)"
	fi
	systemctl stop $U
	finish
fi

KNOBS0=$(knobs)
note "ksm knobs before: $(echo $KNOBS0)"

# --- start: Type=notify, active (running) once READY=1 came ---
if systemctl start $U && running; then
	pass start "$(prop $U MainPID) $(prop $U ActiveState)/$(prop $U SubState)"
else
	fail start "$(systemctl status $U --no-pager 2>&1 | tr '\n' '|')"
	journal | tail -n 20
	finish
fi

# --- status: the STATUS= line ---
has_status() { systemctl status $U --no-pager 2>/dev/null | grep -q '^ *Status: "backend '; }
if wait_until 60 has_status; then
	pass status "$(systemctl status $U --no-pager | grep 'Status:' | sed 's/^ *//')"
else
	fail status "$(systemctl status $U --no-pager 2>&1 | head -n 8 | tr '\n' '|')"
fi

# --- ksmplusctl add: two twins merge, their memory intact ---
if twin sdtwin 16 && A=$TWIN && twin sdtwin 16 && B=$TWIN; then
	if ! out=$(ksmplusctl add sdtwin 2>&1); then
		fail add "ksmplusctl add: $out"
	elif ! wait_until 600 merged "$A" "$B"; then
		fail add "no merging: pages_sharing $(cat $KSM/pages_sharing), $A $(ksm_stat "$A" ksm_merging_pages), $B $(ksm_stat "$B" ksm_merging_pages)"
	elif ! verify_twin "$A" || ! verify_twin "$B"; then
		fail add "twin memory changed"
	else
		pass add "pages_sharing $(cat $KSM/pages_sharing), merging $(ksm_stat "$A" ksm_merging_pages)+$(ksm_stat "$B" ksm_merging_pages)"
	fi
else
	fail add "twin workloads did not start"
fi

# --- exact savings: page frames and /proc/kpageflags readable in the sandbox ---
st=$(ksmplusctl status --fresh 2>&1)
if echo "$st" | grep -q '^sdtwin ' && ! echo "$st" | grep -q '^\* estimate'; then
	pass savings-exact "$(echo "$st" | grep '^sdtwin ' | tr -s ' ')"
else
	fail savings-exact "$(echo "$st" | grep -E '^(sdtwin |\* )' | tr '\n' '|')"
fi

# --- rlimits: the daemon may raise its open-file limit ---
if journal_now | grep -q 'cannot raise the open-file limit'; then
	fail rlimit "$(journal_now | grep 'open-file limit')"
else
	pass rlimit "LimitNOFILE $(prop $U LimitNOFILESoft):$(prop $U LimitNOFILE), $(grep 'open files' /proc/"$(prop $U MainPID)"/limits | tr -s ' ')"
fi

# --- cgroup matching: a transient scope, added by its name ---
SCOPE=ksmplus-check-twin.scope
cp "$HERE/twin" "$TMPD/cgtwin"
: >"$TMPD/st.cg"
systemd-run --quiet --scope --unit=$SCOPE "$TMPD/cgtwin" --mib 8 --status "$TMPD/st.cg" >/dev/null 2>&1 &
PIDS="$PIDS $!"
if wait_until 120 grep -q ready "$TMPD/st.cg" && C=$(pgrep -x cgtwin) &&
	out=$(ksmplusctl add --cgroup $SCOPE --runtime 2>&1); then
	cg_merging() { [ "$(ksm_stat "$C" ksm_merging_pages)" -gt 0 ]; }
	if wait_until 600 cg_merging; then
		pass cgroup "$SCOPE: pid $C merging $(ksm_stat "$C" ksm_merging_pages)"
	else
		fail cgroup "$SCOPE: pid $C not merging; $(ksmplusctl status | grep -i cgroup | tr '\n' '|')"
	fi
else
	fail cgroup "scope twin or ksmplusctl add --cgroup: ${out:-did not start}"
fi

# --- reload with a bad config: still running, file:line in the log ---
MAIN=$(prop $U MainPID)
printf '[ksmd]\nno_such_knob = 1\n' >/etc/ksmplusd.conf.d/50-bad.conf
systemctl reload $U; rc=$?
bad_logged() { journal_now | grep -q '/etc/ksmplusd.conf.d/50-bad.conf:2'; }
if [ $rc = 0 ] && wait_until 60 bad_logged && running && [ "$(prop $U MainPID)" = "$MAIN" ]; then
	pass reload-bad "$(journal_now | grep -m1 '50-bad.conf:2')"
else
	fail reload-bad "reload rc $rc, $(prop $U ActiveState)/$(prop $U SubState), pid $MAIN -> $(prop $U MainPID), log: $(journal_now | tail -n 3 | tr '\n' '|')"
fi
rm -f /etc/ksmplusd.conf.d/50-bad.conf

# --- governor = pressure: PSI, meminfo, ksmd's CPU, and the enrolled
# twins' cgroup (ksmplus-check.service) memory.pressure trigger ---
printf '[ksmd]\ngovernor = pressure\n' >/etc/ksmplusd.conf.d/60-governor.conf
systemctl reload $U
# A process enrolled once the governor runs has its cgroup watched.
gov_started() { journal_now | grep -q 'governor: pressure ('; }
gov_watching() { journal_now | grep -q 'memory pressure of '; }
if wait_until 120 gov_started && twin sdtwin 4 && wait_until 120 gov_watching; then
	w=$(journal_now | grep -E 'governor: (no system PSI|cannot read /proc/meminfo|no ksmd thread|cannot watch)' | tr '\n' '|')
	if [ -z "$w" ] && ksmplusctl status | grep -q '^governor: *pressure'; then
		pass governor "$(journal_now | grep -m1 'governor: pressure (') $(journal_now | grep -m1 'governor: watching')"
	else
		fail governor "${w:-no governor line in ksmplusctl status}"
	fi
else
	fail governor "not started: $(journal_now | grep governor | tr '\n' '|')"
fi

# --- governor: cgroup v2 memory.events (high): an enrolled twin in its own
# scope, watched; memory.high set under its usage, then it grows: the high
# counter rises (reclaim_high), which is pressure ---
HSCOPE=ksmplus-check-high.scope
cp "$HERE/twin" "$TMPD/sdhigh"
: >"$TMPD/st.high"
ksmplusctl add sdhigh --runtime >/dev/null 2>&1
systemd-run --quiet --scope --unit=$HSCOPE "$TMPD/sdhigh" --mib 4 --status "$TMPD/st.high" >/dev/null 2>&1 &
PIDS="$PIDS $!"
gov_events() { ksmplusctl status --json | sed -n 's/.*"gov_memory_events": *"\{0,1\}\([0-9]*\).*/\1/p' | head -n 1; }
ev_watched() { journal_now | grep -q "watching memory.events of .*$HSCOPE"; }
ev_seen() { [ "$(gov_events)" -ge 1 ] 2>/dev/null; }
if wait_until 120 grep -q ready "$TMPD/st.high" && H=$(pgrep -x sdhigh) && wait_until 120 ev_watched; then
	HCG=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/"$H"/cgroup)
	e0=$(gov_events)
	echo $((2 * 1024 * 1024)) >"$HCG/memory.high"
	kill -USR2 "$H"
	if [ "$e0" = 0 ] && wait_until 120 ev_seen; then
		pass memevents "$(journal_now | grep -m1 "watching memory.events of .*$HSCOPE"); high $(sed -n 's/^high //p' "$HCG/memory.events"), gov_memory_events $(gov_events), $(ksmplusctl status | grep '^governor:')"
	else
		fail memevents "gov_memory_events $e0 -> $(gov_events), $HCG/memory.events: $(tr '\n' ' ' <"$HCG/memory.events")"
	fi
	kill -9 "$H" 2>/dev/null
else
	fail memevents "sdhigh not watched: $(journal_now | grep -E 'sdhigh|memory.events' | tr '\n' '|')"
fi
ksmplusctl remove sdhigh --runtime >/dev/null 2>&1
rm -f /etc/ksmplusd.conf.d/60-governor.conf
systemctl reload $U

# --- journal: the daemon's log is in the journal, under its unit ---
if journal | grep -q '^ready: ' && journal | grep -q 'backend: '; then
	pass journal "$(journal | grep -c .) lines, e.g. $(journal | grep -m1 '^ready: ')"
else
	fail journal "$(journal | head -n 5 | tr '\n' '|')"
fi

# --- systemd-analyze security: the same exposure as make lint's offline one ---
want=$(cat "$HERE/exposure")
got=$(systemd-analyze security $U --no-pager 2>&1 | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
if [ -n "$got" ] && [ "$got" = "$want" ]; then
	pass security "exposure $got (offline $want)"
else
	fail security "exposure ${got:-?} in the guest, $want offline"
fi

# --- stop: ksmd's knobs as found ---
systemctl stop $U
if [ "$(prop $U ActiveState)" = inactive ] && [ "$(knobs)" = "$KNOBS0" ]; then
	pass stop "knobs restored: $(echo "$KNOBS0" | tr '\n' ' ')"
else
	fail stop "$(prop $U ActiveState); knobs before: $(echo $KNOBS0) after: $(echo $(knobs))"
fi

# --- watchdog: a main loop that stops answering is killed and restarted ---
systemctl start $U
MAIN=$(prop $U MainPID)
R0=$(prop $U NRestarts)
systemctl kill --signal=SIGSTOP $U
restarted() { running && [ "$(prop $U MainPID)" != "$MAIN" ] && [ "$(prop $U NRestarts)" -gt "$R0" ]; }
if wait_until 400 restarted; then
	pass watchdog "pid $MAIN -> $(prop $U MainPID), $(journalctl -u $U --no-pager -o cat | grep -m1 -i 'watchdog timeout')"
else
	fail watchdog "$(prop $U ActiveState)/$(prop $U SubState) pid $(prop $U MainPID) restarts $(prop $U NRestarts)"
fi

# --- enable, then reboot: boot 2 checks that it came up at boot ---
systemctl stop $U
if systemctl enable $U 2>/dev/null && [ "$(systemctl is-enabled $U)" = enabled ]; then
	echo 2 >"$STATE/stage"
	# What a disk would keep across the reboot: the overlay's changes.
	tar -C /mnt/ksmplus-upper/upper -cf "$STATE/upper.tar" . && sync
	finish
fi
fail boot-enabled "systemctl enable: $(systemctl is-enabled $U 2>&1)"
finish
