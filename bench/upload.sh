#!/bin/sh
# The upload figures (README, "Publishing images"): `prov image upload` of a compressed image
# to SeaweedFS on 127.0.0.1 (tests/fixtures/seaweedfs.sh), its rate and peak memory, then
# `prov image fetch` back with verification. Prints a Markdown table.
#
#   bench/upload.sh [FILE [PROV]]   FILE: a compressed image (default: 1 GiB of random bytes
#                                   as bench.img.xz); PROV default: a release build
set -eu
cd "$(dirname "$0")/.."
if [ $# -ge 2 ]; then
    prov=$2
else
    cargo build --release --quiet
    prov="${CARGO_TARGET_DIR:-target}/release/prov"
fi
weed=$(tests/fixtures/seaweedfs.sh)
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_EC2_METADATA_DISABLED=true
mkdir -p "$work/data"
# weed mini picks its other ports from the S3 one's neighbourhood; only S3 is fixed here.
"$weed" mini -dir="$work/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -webdav=false \
    -s3.port="$port" -s3.port.iceberg=0 -s3.port.lance=0 -bucket=bench > "$work/weed.log" 2>&1 &
weed_pid=$!
trap 'kill $weed_pid 2>/dev/null; wait $weed_pid 2>/dev/null; rm -rf "$work"' EXIT
endpoint="http://127.0.0.1:$port"
node=bench
if [ $# -ge 1 ]; then
    cp "$1" "$work/$node.img.xz"
else
    head -c 1073741824 /dev/urandom > "$work/$node.img.xz"
fi
(cd "$work" && sha256sum "$node.img.xz" > "$node.img.xz.sha256")
printf '{"node": "%s", "arch": "amd64", "build_date": "2026-12-06T00:00:00Z"}\n' "$node" > "$work/$node.manifest.json"
size=$(stat -c %s "$work/$node.img.xz")
i=0
until "$prov" image list "s3://bench/images/" --endpoint-url "$endpoint" > /dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 100 ] || { cat "$work/weed.log" >&2; exit 1; }; sleep 0.3
done
measure() {
    /usr/bin/time -f "%e %M %U %S" -o "$work/time" "$@" > /dev/null 2> "$work/err" || { cat "$work/err" >&2; exit 1; }
    read -r secs rss user sys < "$work/time"
    printf '%s MB/s | %d MiB | %s s | %s s' "$(echo "scale=0; $size / 1000000 / $secs" | bc)" $(( rss >> 10 )) "$secs" "$(echo "$user + $sys" | bc)"
}
echo "File: $(( size >> 20 )) MiB; SeaweedFS on 127.0.0.1; $(nproc) cores."
echo
echo "| command | rate | peak RSS | wall | prov's CPU (user+sys) |"
echo "|---|---|---|---|---|"
# Part size (MiB) and parts at once: "32 4" is the default; UPLOAD_SHAPES="32 4;64 2" compares.
for shape in $(echo "${UPLOAD_SHAPES:-32 4}" | tr ' ;' ':\n'); do
    mib=${shape%:*}; par=${shape#*:}
    echo "| prov image upload (--part-size $mib --parallel $par) | $(measure "$prov" image upload "$work/$node.img.xz" s3://bench/images/ --endpoint-url "$endpoint" --part-size "$mib" --parallel "$par") |"
done
mkdir -p "$work/back"
echo "| prov image fetch (with sha256 verification) | $(measure "$prov" image fetch --node "$node" s3://bench/images/ --endpoint-url "$endpoint" -o "$work/back") |"
