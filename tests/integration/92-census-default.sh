# policy = census is the default: a config that names no policy, an app
# added with `ksmplusctl add` (persisted in the drop-in) is censused and
# enrolled by range: status --json says policy census, ranges are advised
# (VmFlags mg), nothing is merge-any, and the twins' duplicates merge.
. "$(dirname "$0")/lib.sh"
need_root
need_ksm
ksm_save
ksm_set use_zero_pages 0

write_conf "[ksmd]" "pages_to_scan = 5000" "sleep_millisecs = 10"
grep -q policy "$CONF" && fail "the config names a policy: not a default"
start_daemon
a=$(start_twin ksmpcdef 20 --distinct)
b=$(start_twin ksmpcdef 20 --distinct)
ctl add ksmpcdef > /dev/null || fail "add failed"
grep -qs "ksmpcdef" "$CONF.d/90-ksmplusctl.conf" || fail "add did not persist the app"
app() { ctl status --json | python3 -c '
import json, sys
a = next(a for a in json.load(sys.stdin)["apps"] if a["name"] == "ksmpcdef")
print(a.get("policy", "whole"), a.get("census_ranges", 0), a.get("census_advised_kib", 0))'; }
advised() { set -- $(app); [ "$1" = census ] && [ "$2" -gt 0 ] && [ "$3" -ge 40000 ]; }
# counted in censuses and full scans, not seconds (lib.sh: a census paces
# itself, ksmd slows down on a loaded machine)
census_within ksmpcdef 2 advised || fail "not censused and advised (policy, ranges, advised KiB): $(app)"
mg_kib() { awk '/^[0-9a-f]+-[0-9a-f]+ / { size = 0 } $1 == "Size:" { size = $2 }
	$1 == "VmFlags:" { for (i = 2; i <= NF; i++) if ($i == "mg") kib += size }
	END { print kib + 0 }' "/proc/$1/smaps"; }
for p in $a $b; do
	grep -q "ksm_merge_any: yes" "/proc/$p/ksm_stat" && fail "$p enrolled whole (merge-any) by default"
	[ "$(mg_kib "$p")" -ge 20480 ] || fail "$p: $(mg_kib "$p") KiB advised, want its 20 MiB"
done
merged() { [ $(( $(merging "$a") + $(merging "$b") )) -ge $((10240 * 95 / 100)) ]; }
scans_within 16 merged || fail "twins not merged: $(merging "$a") $(merging "$b")"
note "default policy: $(app | cut -d' ' -f1), $(app | cut -d' ' -f2) ranges; merged $(merging "$a") + $(merging "$b") pages"
for p in $a $b; do verify_twin "$p"; done
stop_daemon || fail "daemon exited non-zero"
exit 0
