#!/usr/bin/env bash
# Engine overhead benchmarks (issue: prov engine):
#   1. `prov --version` start-up time (goal: < 20 ms);
#   2. a no-change re-apply of the 30-task play bench/playbooks/thirty.yml on a chroot
#      (goal: median <= 0.3 s).
# Runs on an overlay copy of the cached test root (tests/fixtures/rootfs.sh); needs root.
# Usage: bench/engine.sh [RUNS]   (default 15). Prints a small Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-15}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --quiet
prov="$CARGO_TARGET_DIR/release/prov"
base=$(tests/fixtures/rootfs.sh)
work=$(mktemp -d /tmp/prov-bench.XXXXXX)
mkdir -p "$work/upper" "$work/work" "$work/root"
mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/work" "$work/root"
cleanup() { umount "$work/root" 2>/dev/null || umount -l "$work/root"; rm -rf "$work"; }
trap cleanup EXIT
# Its own one-host inventory: the repository's ansible.cfg would select the cluster's.
printf 'localhost\n' > "$work/hosts.ini"

# Median, min and max of a list of milliseconds.
stats() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f ms (min %.1f, max %.1f, n=%d)", m, a[1], a[NR], NR}'; }
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo "scale=3; ($e-$s)/1000000" | bc; }

version=$(for _ in $(seq "$runs"); do ms "$prov" --version; done | stats)

"$prov" apply bench/playbooks/thirty.yml -i "$work/hosts.ini" --chroot "$work/root" >/dev/null
check=$("$prov" apply bench/playbooks/thirty.yml -i "$work/hosts.ini" --chroot "$work/root" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["localhost"]["changed"])')
[ "$check" = 0 ] || { echo "re-apply changed $check tasks: not a no-change run" >&2; exit 1; }
reapply=$(for _ in $(seq "$runs"); do ms "$prov" apply bench/playbooks/thirty.yml -i "$work/hosts.ini" --chroot "$work/root"; done | stats)

echo "| measurement | median |"
echo "|---|---|"
echo "| prov --version | $version |"
echo "| 30-task no-change re-apply, chroot (facts included) | $reapply |"
