#!/usr/bin/env bash
# make mutation: mutation testing (gremlins) of the pure code, the functions whose tests need no API server: the
# desired-state builders, the webhook's decision, the volume lookup, and the status and progress computations.
# A package fails when its test efficacy (killed mutants over killed and lived) is under THRESHOLD percent; the
# surviving mutants are listed (LIVED: a test ran the code and still passed; NOT COVERED: no pure test runs it).
#
# The tests run with the build tag `mutation`, which leaves out each package's envtest files (they carry
# `//go:build !mutation`): a mutant must be judged by the table tests in seconds, not by starting an API server.
#
# Why a copy: gremlins copies the whole module once per worker, and bin/ holds gigabytes of control-plane binaries.
# It runs on a copy of the tracked (and new, not ignored) files instead.
#
# Why a cache: a pass costs minutes. A package's passing report is kept under $CACHE, keyed by the sha256 of
# every file of the module packages its tests build from, of go.sum, and of the gremlins and Go versions; a
# package whose key is unchanged is not run again. Only passing reports are kept.
set -euo pipefail

: "${GREMLINS:?path of the gremlins binary}"
THRESHOLD=${THRESHOLD:-95}
CACHE=${CACHE:-bin/mutation-cache}
WORKERS=${WORKERS:-2}

# package: the files whose mutants count (all: every non-test file of the package).
TARGETS=(
	"pkg/cluster/desired:all"
	"pkg/volumes:all"
	"pkg/schedulerwebhook:decide.go handler.go"
	"pkg/cluster:status.go"
	"pkg/job:status.go fit.go desired.go"
	"pkg/upgrade:transitions.go progress.go backoff.go"
	"pkg/nfs:status.go desired.go"
)

root=$(pwd)
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
	[ -f "$f" ] || continue # deleted in the work tree, not yet in the index
	mkdir -p "$work/src/$(dirname "$f")"
	cp "$f" "$work/src/$f"
done
cd "$work/src"

# key prints the cache key of a package: its module dependencies' files (tests included) and the tools.
key() {
	local pkg=$1
	{
		# The binary is named by its version (bin/gremlins-vX.Y.Z); its --version says only "dev".
		echo "$(basename "$GREMLINS") $(go version) threshold=$THRESHOLD targets=$2"
		sha256sum go.mod go.sum
		go list -deps -test -tags mutation -f '{{if not .Standard}}{{.Dir}}{{end}}' "./$pkg" |
			grep "^$work/src/" | sort -u | while read -r dir; do
				# The package's files, testdata (golden files) included; subpackages are hashed as their own deps.
				find "$dir" \( -name '*.go' -o -path '*/testdata/*' \) -type f -print0 | sort -z | xargs -0 sha256sum |
					sed "s|$work/src/||"
			done
		# Files the tests read from elsewhere in the repository (samples, webhook manifests).
		find config -type f -print0 | sort -z | xargs -0 sha256sum
	} | sha256sum | cut -c1-16
}

# excluded prints a regexp of the package's non-test files (subpackages too: gremlins scans the tree) that are
# not targets, relative to the package as gremlins matches them.
excluded() {
	local pkg=$1 files=$2 all=()
	while IFS= read -r f; do
		f=${f#"$pkg/"}
		[[ " $files " == *" $f "* ]] || all+=("$(printf '%s' "$f" | sed 's/[.]/\\./g')")
	done < <(find "$pkg" -name '*.go' ! -name '*_test.go' | sort)
	[ ${#all[@]} -eq 0 ] && return
	(IFS='|'; echo "^(${all[*]})\$")
}

failed=()
ran=0
for target in "${TARGETS[@]}"; do
	pkg=${target%%:*} files=${target#*:}
	# PACKAGES (space-separated) runs only those targets.
	[ -z "${PACKAGES:-}" ] || [[ " $PACKAGES " == *" $pkg "* ]] || continue
	ran=$((ran + 1))
	[ "$files" = all ] && files=$(cd "$pkg" && ls -- *.go | grep -v '_test\.go$' | tr '\n' ' ')
	k=$(key "$pkg" "$files")
	report="$CACHE/${pkg//\//_}-$k.txt"
	if [ -f "$report" ]; then
		echo "== $pkg ($files): unchanged since a passing run"
		grep -E '^(Killed|Timed out|Test efficacy|Mutator coverage)' "$report"
		continue
	fi
	echo "== $pkg ($files)"
	# The timeout is generous (30 times the coverage run) because a mutant's test is compiled and linked first,
	# on a machine that may be busy; a mutant that hangs its tests only costs that much.
	args=(unleash --tags mutation --workers "$WORKERS" --timeout-coefficient 30 --output-statuses lc)
	ex=$(excluded "$pkg" "$files")
	[ -n "$ex" ] && args+=(--exclude-files "$ex")
	# -count=1: gremlins sets each mutant's timeout from how long the coverage run took, so that run must not
	# be a cached result. -vet=off: go test vets every mutant before running it, and vet is make lint's job.
	status=0
	GOFLAGS="-count=1 -vet=off" "$GREMLINS" "${args[@]}" "./$pkg" >"$work/report.txt" 2>&1 || status=$?
	cat "$work/report.txt"
	# gremlins v0.6.0 exits 0 whatever --threshold-efficacy says, so the threshold is checked here.
	efficacy=$(sed -n 's/^Test efficacy: \([0-9.]*\)%$/\1/p' "$work/report.txt")
	if [ "$status" -eq 0 ] && [ -n "$efficacy" ] && awk -v e="$efficacy" -v t="$THRESHOLD" 'BEGIN { exit !(e >= t) }'; then
		cp "$work/report.txt" "$report"
	else
		failed+=("$pkg (${efficacy:-no}% efficacy)")
	fi
done

if [ "$ran" -eq 0 ]; then
	echo "mutation: PACKAGES=\"$PACKAGES\" names no target (targets: ${TARGETS[*]%%:*})" >&2
	exit 1
fi
if [ ${#failed[@]} -gt 0 ]; then
	echo "mutation: under ${THRESHOLD}% efficacy (or gremlins failed): ${failed[*]}" >&2
	exit 1
fi
