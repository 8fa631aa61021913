#!/usr/bin/env bash
# Builds kube-apiserver, etcd and kubectl (and, when named, kube-controller-manager, kube-scheduler and kwok for
# the local simulated cluster) from Go modules into bin/k8s/<version>/ (the directory envtest reads through
# KUBEBUILDER_ASSETS). kube-apiserver takes ~8 minutes cold on 2 cores, so a binary already built from
# the same go.mod, go.sum and this script is never rebuilt: a stamp file records their hash. Binaries are built
# one at a time to keep peak memory near 2.5 GB.
#
#   build.sh                 build whatever is missing of kube-apiserver, etcd and kubectl
#   build.sh kubectl         build only the named binaries
#   build.sh --print-dir     print the output directory
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
version=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/go.mod")
version=${version#v}
out=${K8S_BIN_DIR:-$root/bin/k8s/$version}

if [[ "${1:-}" == "--print-dir" ]]; then
	echo "$out"
	exit 0
fi

bins=("$@")
if [[ ${#bins[@]} -eq 0 ]]; then
	bins=(etcd kubectl kube-apiserver)
fi

mkdir -p "$out"
key=$(cat "$here/go.mod" "$here/go.sum" "$here/build.sh" | sha256sum | cut -d' ' -f1)
minor=$(echo "$version" | cut -d. -f2)
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"

for bin in "${bins[@]}"; do
	if [[ -x "$out/$bin" && "$(cat "$out/$bin.stamp" 2>/dev/null)" == "$key" ]]; then
		continue
	fi
	echo "building $bin v$version into $out (only when its sources change)" >&2
	start=$(date +%s)
	(cd "$here" && GOTOOLCHAIN=local go build -buildvcs=false -trimpath -ldflags "$ldflags" -o "$out/$bin.tmp" "./$bin")
	mv "$out/$bin.tmp" "$out/$bin"
	echo "$key" >"$out/$bin.stamp"
	echo "built $bin in $(( $(date +%s) - start ))s" >&2
done
