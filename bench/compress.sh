#!/bin/sh
# The compression figures (README, "Publishing images"): `prov image compress` of a worker
# image with xz and zstd at several levels and thread counts — time, compressed size and peak
# memory (max RSS). Prints a Markdown table. Needs an image: give one, or build golyat-1 first (bench/image.sh's recipe).
#
#   bench/compress.sh IMG [PROV]      (PROV default: a release build of this tree)
set -eu
cd "$(dirname "$0")/.."
img=$1
if [ $# -ge 2 ]; then
    prov=$2
else
    cargo build --release --quiet
    prov="${CARGO_TARGET_DIR:-target}/release/prov"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A copy beside the outputs (compress writes IMG.xz next to IMG); sparse, so cheap.
cp --sparse=always "$img" "$work/node.img"
used=$(( $(stat -c %b "$work/node.img") * 512 >> 20 ))
echo "Image: $(( $(stat -c %s "$work/node.img") >> 20 )) MiB, $used MiB used; $(nproc) cores."
echo
echo "| command | time | size | peak RSS |"
echo "|---|---|---|---|"
row() {
    label=$1; out=$2; shift 2
    rm -f "$out"
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" > /dev/null 2> "$work/err" || { cat "$work/err" >&2; exit 1; }
    read -r secs rss < "$work/time"
    printf '| %s | %.0f s | %d MiB | %d MiB |\n' "$label" "$secs" $(( $(stat -c %s "$out") >> 20 )) $(( rss >> 10 ))
}
# "codec level threads" rows; BENCH_SPECS="xz 3 2;zstd 9 2" runs some of them.
specs=${BENCH_SPECS:-"xz 1 2;xz 3 2;xz 6 2;zstd 3 2;zstd 9 2;zstd 19 2"}
echo "$specs" | tr ';' '\n' | while read -r spec; do
    set -- $spec
    ext=$1; [ "$ext" = zstd ] && ext=zst
    row "prov image compress --$1 --level $2 --threads $3" "$work/node.img.$ext" \
        "$prov" image compress "--$1" --level "$2" --threads "$3" "$work/node.img"
done
# The seed's `xz -9 -T0` is not run: it needs 674 MiB with one thread and 2.5 GiB with two
# (`xz -vv` says so), past the 200 MB goal, and takes longer than any row here.
