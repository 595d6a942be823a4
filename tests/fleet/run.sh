#!/bin/sh
# make check-fleet — the fleet path (Containerfile, deploy/kubernetes), offline:
#   manifests   tests/fleet/check_manifests.py on deploy/kubernetes
#   breaks      it must report each of a list of broken manifests (negative cases)
#   kustomize   `kubectl kustomize` renders the directory, and the rendered
#               stream passes the same check (SKIP without kubectl)
#   image       tests/fleet/image.sh builds the image (SKIP without a builder
#               and local base images)
# No cluster, no network, no KSM. BUILD names the build directory (ksmplusd
# --check-config on the ConfigMap, the binaries' libraries).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD=$(cd "${BUILD:-build}" && pwd)
export BUILD
python3 -c 'import yaml' 2> /dev/null ||
	{ echo "FAIL: fleet: python3 has no yaml module (make deps installs python3-yaml)" >&2; exit 1; }
. "$here/../tally.sh"
tmp=$(mktemp -d /tmp/ksmplus-fleet.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

kustomize() {
	command -v kubectl > /dev/null 2>&1 || { echo "SKIP: kustomize: no kubectl" >&2; return 77; }
	mkdir -p "$tmp/rendered"
	kubectl kustomize "$root/deploy/kubernetes" > "$tmp/rendered/all.yaml" || return 1
	python3 "$here/check_manifests.py" --build "$BUILD" "$tmp/rendered"
}

for name in manifests breaks kustomize image; do
	echo "== fleet/$name"
	case $name in
	manifests) python3 "$here/check_manifests.py" --build "$BUILD" ;;
	breaks) python3 "$here/test_check_manifests.py" ;;
	kustomize) kustomize ;;
	image) sh "$here/image.sh" ;;
	esac
	tally "fleet/$name" $?
done
tally_summary fleet
