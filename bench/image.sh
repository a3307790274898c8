#!/bin/sh
# The worker image figures (README, "Worker images"): `prov image build` of golyat-1 from an
# empty bootstrap cache and again from the cache, the image's size and used blocks, whether two
# builds with the same SOURCE_DATE_EPOCH are byte-identical, and `prov image test` with both
# firmwares. Needs root, network access to Debian's archive, and .ci/setup's packages and
# fixtures. Prints a Markdown table.
#
#   bench/image.sh [PROV]      (default: a release build of this tree)
set -eu
cd "$(dirname "$0")/.."
if [ $# -ge 1 ]; then
    prov=$1
else
    cargo build --release --quiet
    prov="${CARGO_TARGET_DIR:-target}/release/prov"
fi
www=$(tests/fixtures/aptrepo.sh)
work=$(mktemp -d)
python3 tests/fixtures/serve.py "$www" > "$work/port" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
while [ ! -s "$work/port" ]; do sleep 0.1; done
url="http://127.0.0.1:$(cat "$work/port")"
vars="kubernetes_apt_base_url=$url crio_apt_base_url=$url user_management_github_keys_url=$url/boxp.keys"
export SOURCE_DATE_EPOCH=1765000000

secs() { start=$(date +%s.%N); "$@" > "$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }; echo "$(date +%s.%N) - $start" | bc; }

cold=$(secs "$prov" image build --node golyat-1 --definition images/worker-bookworm.yml -o "$work/a" --cache "$work/cache" -e "$vars")
warm=$(secs "$prov" image build --node golyat-1 --definition images/worker-bookworm.yml -o "$work/b" --cache "$work/cache" -e "$vars")
img="$work/a/golyat-1.img"
size=$(stat -c %s "$img")
used=$(( $(stat -c %b "$img") * 512 ))
same=no
[ "$(sha256sum < "$img")" = "$(sha256sum < "$work/b/golyat-1.img")" ] && same=yes
boot=$(secs "$prov" image test "$img" --private-key "$www/../build/boxp1" -e "$vars")
accel=$(grep accelerator "$work/log" | cut -d' ' -f2)
uefi=$(grep '^uefi:' "$work/log" | sed 's/.*SSH after \([0-9]*\) s.*/\1/')
bios=$(grep '^bios:' "$work/log" | sed 's/.*SSH after \([0-9]*\) s.*/\1/')

echo "| measure | goal | measured |"
echo "|---|---|---|"
printf '| build golyat-1, empty bootstrap cache (Debian archive) | <= 240 s | %.0f s |\n' "$cold"
printf '| build golyat-1, bootstrap cached | <= 60 s | %.0f s |\n' "$warm"
printf '| boot test, UEFI and BIOS at once, to 0 changes (%s) | <= 240 s | %.0f s (SSH after %s s UEFI, %s s BIOS) |\n' "$accel" "$boot" "$uefi" "$bios"
printf '| image: size / used blocks | used <= 1.2 GB | %d MiB / %d MiB |\n' $((size >> 20)) $((used >> 20))
printf '| two builds, same SOURCE_DATE_EPOCH, byte-identical | yes | %s |\n' "$same"
