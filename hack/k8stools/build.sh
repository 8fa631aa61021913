#!/usr/bin/env bash
# Builds kube-apiserver, etcd and kubectl from Go modules into bin/k8s/<version>/ (the directory envtest
# reads through KUBEBUILDER_ASSETS). A binary already present is never rebuilt: kube-apiserver takes
# ~12 minutes cold on 2 cores. Binaries are built one at a time to keep peak memory near 2.5 GB.
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

mkdir -p "$out"
minor=$(echo "$version" | cut -d. -f2)
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"

for bin in etcd kubectl kube-apiserver; do
	if [[ -x "$out/$bin" ]]; then
		continue
	fi
	echo "building $bin v$version into $out (first time only)" >&2
	start=$(date +%s)
	(cd "$here" && GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -buildvcs=false -trimpath -ldflags "$ldflags" -o "$out/$bin.tmp" "./$bin")
	mv "$out/$bin.tmp" "$out/$bin"
	echo "built $bin in $(( $(date +%s) - start ))s" >&2
done
