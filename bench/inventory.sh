#!/usr/bin/env bash
# Inventory loading at scale (issue 12): time and peak RSS of `prov inventory --list` and
# `--graph` on generated site inventories (bench/gen-inventory.sh) of several sizes.
# Goals: 20k hosts <= 1 s, 100k hosts <= 5 s (release build). No root needed.
# Usage: bench/inventory.sh [SIZES...]   (default 5000 20000 100000). Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(5000 20000 100000)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --quiet
prov="$CARGO_TARGET_DIR/release/prov"
work=$(mktemp -d /tmp/prov-inventory.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Best of three: wall seconds and peak RSS (MB) of one command, output discarded.
measure() {
    local best="" rss="" secs kb
    for _ in 1 2 3; do
        /usr/bin/time -o "$work/time" -f '%e %M' "$@" >/dev/null 2>&1
        read -r secs kb <"$work/time"
        if [ -z "$best" ] || awk -v a="$secs" -v b="$best" 'BEGIN {exit !(a < b)}'; then
            best=$secs; rss=$((kb / 1024))
        fi
    done
    echo "$best s, $rss MB"
}

echo "| hosts | groups | inventory --list | inventory --graph |"
echo "|---|---|---|---|"
for n in "${sizes[@]}"; do
    dir="$work/inv$n"
    bench/gen-inventory.sh "$n" "$dir"
    hosts=$("$prov" inventory -i "$dir" --list | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["_meta"]["hostvars"]), len(d) - 1)')
    read -r count groups <<<"$hosts"
    [ "$count" = "$n" ] || { echo "expected $n hosts, prov listed $count" >&2; exit 1; }
    echo "| $n | $groups | $(measure "$prov" inventory -i "$dir" --list) | $(measure "$prov" inventory -i "$dir" --graph) |"
done
