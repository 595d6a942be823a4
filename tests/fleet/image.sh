#!/bin/sh
# Builds the Containerfile and runs what the DaemonSet runs in it, when a
# container builder (podman, buildah or docker with a reachable daemon) and
# both Debian 12 base images are present here; never pulls a base image.
# Otherwise exits 77 with the reason (SKIP). The build's apt-get needs the
# Debian archive: unreachable, that is a SKIP too, said so.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "SKIP: image build: $*" >&2; exit 77; }
fail() { echo "FAIL: image build: $*" >&2; exit 1; }
BASES="docker.io/library/debian:12 docker.io/library/debian:12-slim"

builder="" why=""
for b in podman buildah docker; do
	if ! command -v "$b" > /dev/null 2>&1; then
		why="$why $b: not installed;"
	elif [ "$b" = docker ] && ! docker info > /dev/null 2>&1; then
		why="$why docker: client only, no daemon reachable;"
	else
		builder=$b
		break
	fi
done
[ -n "$builder" ] || skip "no container builder:$why"
for img in $BASES; do
	case $builder in
	buildah) buildah inspect --type image "$img" > /dev/null 2>&1 ;;
	*) "$builder" image inspect "$img" > /dev/null 2>&1 ;;
	esac || skip "$builder has no local $img (this test does not pull; '$builder pull $img' first)"
done

tag=localhost/ksmplusd-test:$$
tmp=$(mktemp -d /tmp/ksmplus-image.XXXXXX)
ctr=""
cleanup() {
	[ -n "$ctr" ] && buildah rm "$ctr" > /dev/null 2>&1
	case $builder in
	buildah) buildah rmi "$tag" > /dev/null 2>&1 ;;
	*) "$builder" image rm "$tag" > /dev/null 2>&1 ;;
	esac
	rm -rf "$tmp"
}
trap cleanup EXIT

case $builder in
docker) set -- docker build ;;
*) set -- "$builder" build --pull=never ;;
esac
if ! "$@" -t "$tag" -f "$root/Containerfile" "$root" > "$tmp/build.log" 2>&1; then
	grep -qiE "temporary failure resolving|could not resolve|failed to fetch|network is unreachable" \
		"$tmp/build.log" && skip "the Debian archive is unreachable from the build: $(grep -iE \
		'resolv|fetch|unreachable' "$tmp/build.log" | head -1)"
	tail -20 "$tmp/build.log" >&2
	fail "$* -f Containerfile failed"
fi

# in_image ENTRYPOINT ARGS... — runs in the image, no network, config optional
in_image() {
	ep=$1; shift
	case $builder in
	buildah)
		[ -n "$ctr" ] || ctr=$(buildah from "$tag") || fail "buildah from $tag"
		buildah run --network none "$ctr" -- "$ep" "$@" ;;
	*) "$builder" run --rm --network none -v "$tmp/conf:/etc/ksmplusd.conf:ro" \
		--entrypoint "$ep" "$tag" "$@" ;;
	esac
}
# The ConfigMap's config, as the pod mounts it (buildah: the image's own).
sed -n '/^  ksmplusd.conf: |/,$p' "$root/deploy/kubernetes/configmap.yaml" | tail -n +2 |
	sed 's/^    //' > "$tmp/conf"
v=$(sed -n 's/.*KSMPLUS_VERSION "\(.*\)".*/\1/p' "$root/daemon/version.h")
out=$(in_image /usr/sbin/ksmplusd --version 2>&1) || fail "ksmplusd --version: $out"
[ "$out" = "ksmplusd $v" ] || fail "ksmplusd --version says '$out', not 'ksmplusd $v'"
out=$(in_image /usr/bin/ksmplusctl --version 2>&1) || fail "ksmplusctl --version: $out"
out=$(in_image /usr/sbin/ksmplusd --config /etc/ksmplusd.conf --check-config 2>&1) ||
	fail "the config in the image does not pass --check-config: $out"
missing=$(in_image /bin/sh -c 'ldd /usr/sbin/ksmplusd /usr/bin/ksmplusctl | grep "not found"')
[ -z "$missing" ] || fail "libraries missing in the image: $missing"
echo "image: built with $builder, ksmplusd $v runs, config checks, no library missing"
exit 0
