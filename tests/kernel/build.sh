# shellcheck shell=bash
# tests/kernel/build.sh — builds a patched or unpatched 6.12 kernel for QEMU,
# cached under $CACHE/images by a hash of its inputs. Sourced by
# tests/kernel/run.sh (make check-kernel) and tests/systemd/run.sh
# (make check-systemd), which set, before sourcing:
#   REPO, and log() / die();
# it checks the tools, sets BUSYBOX and starts the phase timings (T0).
# and may set, before sourcing:
#   EXTRA_FRAGMENTS  more Kconfig fragments merged after $FRAGMENT (a guest
#                    that needs more than the tinyconfig one); part of the key
#   KERNEL_WORK_NAME the work tree, under $CACHE (default work). A flavor with
#                    its own config keeps its own tree: sharing one would
#                    rebuild everything at each switch of config.
# The runners' common settings (see tests/kernel/run.sh's Environment):
CACHE=${KSMPLUS_KERNEL_CACHE:-/var/tmp/ksmplus-kernel}
TARBALL=${KSMPLUS_KERNEL_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
JOBS=${KSMPLUS_KERNEL_JOBS:-2}
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
PATCHDIR=$REPO/kernel-patch
FRAGMENT=$PATCHDIR/config.fragment
# Bump when the way a kernel is built changes, so cached bzImages are rebuilt.
RECIPE=1
declare -p EXTRA_FRAGMENTS >/dev/null 2>&1 || EXTRA_FRAGMENTS=()
KERNEL_WORK=$CACHE/${KERNEL_WORK_NAME:-work}

# Phase timings, printed at the end of a run.
T0=$(date +%s)
declare -a TIMINGS=()
phase_start() { PHASE_T=$(date +%s); }
phase_end() { TIMINGS+=("$(printf '%-28s %4ds' "$1" $(($(date +%s) - PHASE_T)))"); }

# What building a kernel and booting it with a busybox initramfs takes.
for tool in qemu-system-x86_64 gcc make patch cpio flock timeout sha256sum; do
	command -v "$tool" >/dev/null || die "$tool not found (make deps?)"
done
BUSYBOX=$(command -v busybox || true)
if [ -z "$BUSYBOX" ] || ldd "$BUSYBOX" >/dev/null 2>&1; then
	die "a static busybox is needed (apt-get install busybox-static)"
fi

# --- patches ----------------------------------------------------------------

# Patch files named in the series, in order, as absolute paths.
series_patches() {
	local line
	[ -e "$PATCHDIR/series" ] || return 0
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%%#*}
		line=$(echo "$line" | tr -d '[:space:]')
		[ -n "$line" ] || continue
		[ -r "$PATCHDIR/$line" ] || die "series names $line, not in kernel-patch/"
		echo "$PATCHDIR/$line"
	done <"$PATCHDIR/series"
}

# Files a patch creates, modifies or deletes (paths relative to the tree).
patch_files() {
	sed -n -e 's#^--- a/\([^[:space:]]*\).*#\1#p' -e 's#^+++ b/\([^[:space:]]*\).*#\1#p' \
		-e 's#^\(rename\|copy\) \(from\|to\) \(.*\)#\3#p' "$1" | sort -u
}

# --- source -----------------------------------------------------------------

TARBALL_ID="$(basename "$TARBALL") $(stat -c %s "$TARBALL")"
SRC=$CACHE/src

extract_source() {
	if [ -e "$SRC/.ksmplus-stamp" ] && [ "$(cat "$SRC/.ksmplus-stamp")" = "$TARBALL_ID" ]; then
		return 0
	fi
	log "extracting $TARBALL into $SRC"
	rm -rf "$SRC.tmp" "$SRC"
	rm -rf "$CACHE"/work*    # trees hard-linked to the old source
	mkdir -p "$SRC.tmp"
	tar -xf "$TARBALL" -C "$SRC.tmp" --strip-components=1
	echo "$TARBALL_ID" >"$SRC.tmp/.ksmplus-stamp"
	mv "$SRC.tmp" "$SRC"
}

kernel_version() {
	awk -F' *= *' '/^VERSION/{v=$2} /^PATCHLEVEL/{p=$2} /^SUBLEVEL/{s=$2}
		/^EXTRAVERSION/{e=$2; print v"."p"."s e; exit}' "$SRC/Makefile"
}

# --- kernels ----------------------------------------------------------------

# The cache key of a kernel: the source tarball, the build recipe, the config
# fragment and every patch of the series that changes the kernel (name and
# contents, in order). A patch that only touches tools/ (0003's selftests)
# builds nothing into the bzImage: editing a selftest must not rebuild it.
kernel_key() {
	local p f
	{
		echo "tarball $TARBALL_ID"
		echo "recipe $RECIPE"
		echo "fragment"; cat "$FRAGMENT"
		# Only when there are any: the keys of existing kernels stay.
		for f in "${EXTRA_FRAGMENTS[@]}"; do echo "extra fragment $(basename "$f")"; cat "$f"; done
		for p in "$@"; do
			patch_files "$p" | grep -qv '^tools/' || continue
			echo "patch $(basename "$p")"; cat "$p"
		done
	} | sha256sum | cut -c1-16
}

# Every CONFIG_X=y / =m / =value line of the fragments must be in .config.
# A later fragment overrides an earlier one (as merge_config.sh does): only
# the last setting of each symbol is checked.
check_config() {
	local config=$1 missing=0 line sym
	local -A last=()
	local -a order=()
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) sym=${line%%=*} ;;
		"# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *} ;;
		*) continue ;;
		esac
		[ -n "${last[$sym]+set}" ] || order+=("$sym")
		last[$sym]=$line
	done < <(cat "$FRAGMENT" "${EXTRA_FRAGMENTS[@]}")
	for sym in "${order[@]}"; do
		line=${last[$sym]}
		case $line in
		CONFIG_*=*) grep -qx -- "$line" "$config" || {
				log "config: $line requested, .config has: $(grep -E "^(# )?${sym}[= ]" "$config" || echo nothing)"
				missing=1; } ;;
		*)	! grep -q "^$sym=" "$config" || { log "config: $sym should be off"; missing=1; } ;;
		esac
	done
	[ $missing = 0 ] || die "config fragment not satisfied (missing dependencies?)"
}

# build_kernel FLAVOR PATCH... -> sets KERNEL_IMAGE
# Kernels are built in one work tree ($KERNEL_WORK): src is a hard-linked
# copy of the pristine source, obj the O= build directory, both kept between
# runs. Files the previous series touched are restored to pristine (fresh
# copies, new mtime) before the series asked for is applied (hard links
# broken first), so switching between series rebuilds only what they touch:
# after the first kernel, the other flavor costs a few files and a relink.
build_kernel() {
	local flavor=$1; shift
	local key dir work=$KERNEL_WORK p f
	key=$(kernel_key "$@")
	dir=$CACHE/images/$key
	KERNEL_IMAGE=$dir/bzImage
	if [ -e "$KERNEL_IMAGE" ]; then
		log "$flavor kernel: cached $KERNEL_IMAGE"
		return 0
	fi
	log "$flavor kernel: building ($# patch(es), key $key)"
	# One kernel build at a time on this machine, whoever started it.
	exec 9>"$CACHE/.build.lock"
	flock 9
	if [ -e "$KERNEL_IMAGE" ]; then    # built meanwhile by another run
		flock -u 9
		log "$flavor kernel: built meanwhile by another run: $KERNEL_IMAGE"
		return 0
	fi
	if [ ! -d "$work/src" ]; then
		rm -rf "$work"
		mkdir -p "$work"
		cp -al "$SRC" "$work/src.tmp"
		mv "$work/src.tmp" "$work/src"
		: >"$work/touched"
	fi
	# Undo the previous series.
	while IFS= read -r f; do
		[ -n "$f" ] || continue
		rm -f "$work/src/$f"
		if [ -e "$SRC/$f" ]; then cp "$SRC/$f" "$work/src/$f"; fi
	done <"$work/touched"
	: >"$work/touched"
	for p in "$@"; do
		patch_files "$p" >>"$work/touched"
		# Break hard links to the pristine tree before patching.
		while IFS= read -r f; do
			if [ -e "$work/src/$f" ]; then
				cp "$work/src/$f" "$work/src/$f.ksmplus-tmp"
				mv "$work/src/$f.ksmplus-tmp" "$work/src/$f"
			fi
		done < <(patch_files "$p")
		log "  applying $(basename "$p")"
		patch -d "$work/src" -p1 --forward --batch --no-backup-if-mismatch -s <"$p" ||
			die "$(basename "$p") does not apply to $(kernel_version)"
	done
	mkdir -p "$work/obj"
	local mk=(make -C "$work/src" O="$work/obj" -s)
	"${mk[@]}" tinyconfig >/dev/null
	"$work/src/scripts/kconfig/merge_config.sh" -m -O "$work/obj" \
		"$work/obj/.config" "$FRAGMENT" "${EXTRA_FRAGMENTS[@]}" >"$work/merge_config.log"
	"${mk[@]}" olddefconfig >/dev/null
	check_config "$work/obj/.config"
	log "  make -j$JOBS bzImage (log: $work/build.log)"
	if ! "${mk[@]}" -j"$JOBS" bzImage >"$work/build.log" 2>&1; then
		tail -n 30 "$work/build.log" >&2
		die "$flavor kernel build failed, see $work/build.log"
	fi
	mkdir -p "$dir.tmp"
	cp "$work/obj/arch/x86/boot/bzImage" "$work/obj/.config" "$dir.tmp/"
	for p in "$@"; do basename "$p"; done >"$dir.tmp/series"
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
	flock -u 9
}

