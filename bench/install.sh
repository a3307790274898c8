#!/bin/sh
# The installer figures (README, "Installing onto a disk"): golyat-1's image booted in QEMU
# with TCG (as on a machine without KVM) and an empty 4 GiB virtio disk; inside that one VM,
# with the page cache dropped before each:
#   1. `install-to-disk --target /dev/disk/by-id/virtio-prov-install-target --yes`: the whole
#      install's time and the copy step's line (MiB, seconds, MiB/s);
#   2. `cp -ax /. /mnt` onto the root partition it made (reformatted), then `sync`: the same
#      tree by the usual tool, for the "within 1.5x of cp -a" goal.
# Needs root, QEMU and OVMF, and .ci/setup's packages and fixtures. Prints a Markdown table.
#
#   bench/install.sh [PROV] [IMAGE]   (default: a release build of this tree; a fresh build of
#                                      golyat-1 from images/worker-bookworm.yml)
set -eu
cd "$(dirname "$0")/.."
if [ $# -ge 1 ]; then
    prov=$1
else
    cargo build --release --quiet
    prov="${CARGO_TARGET_DIR:-target}/release/prov"
fi
www=$(tests/fixtures/aptrepo.sh)
key="$www/../build/boxp1"
work=$(mktemp -d)
python3 tests/fixtures/serve.py "$www" > "$work/port" &
server=$!
qemu=
trap 'kill $server $qemu 2>/dev/null; rm -rf "$work"' EXIT
while [ ! -s "$work/port" ]; do sleep 0.1; done
url="http://127.0.0.1:$(cat "$work/port")"
vars="kubernetes_apt_base_url=$url crio_apt_base_url=$url user_management_github_keys_url=$url/boxp.keys"
if [ $# -ge 2 ]; then
    img=$2
else
    "$prov" image build --node golyat-1 --definition images/worker-bookworm.yml -o "$work" \
        --cache "${PROV_IMAGE_CACHE:-$HOME/.cache/prov-test/image-cache}" -e "$vars" > "$work/build.log" 2>&1 \
        || { cat "$work/build.log" >&2; exit 1; }
    img="$work/golyat-1.img"
fi
# The node's static address, from the image's netplan file (the VM's network imitates it).
start=$(sfdisk --json "$img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][2]["start"])')
addr=$(debugfs -R "cat /etc/netplan/01-prov.yaml" "$img?offset=$((start * 512))" 2>/dev/null \
    | grep -o '[0-9.]*/[0-9]*' | head -1 | cut -d/ -f1)
net=$(echo "$addr" | cut -d. -f1-3)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
truncate -s 4G "$work/target.img"
qemu-system-x86_64 -accel tcg -m 1536 -smp 2 -display none -monitor none \
    -serial "file:$work/serial.log" -bios /usr/share/ovmf/OVMF.fd \
    -device qemu-xhci -drive "if=none,id=boot,format=raw,snapshot=on,file=$img" \
    -device usb-storage,drive=boot,bootindex=0 \
    -drive "if=none,id=target,format=raw,file=$work/target.img" \
    -device virtio-blk-pci,drive=target,serial=prov-install-target \
    -netdev "user,id=n0,net=$net.0/24,host=$net.1,hostfwd=tcp:127.0.0.1:$port-$addr:22" \
    -device virtio-net-pci,netdev=n0 &
qemu=$!
vm() {
    ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o LogLevel=ERROR -o ConnectTimeout=10 -i "$key" -p "$port" boxp@127.0.0.1 "$@"
}
booted=$(date +%s)
until vm true 2>/dev/null; do
    [ $(( $(date +%s) - booted )) -lt 900 ] || { tail -5 "$work/serial.log" >&2; exit 1; }
    sleep 5
done
drop='sync; echo 3 > /proc/sys/vm/drop_caches'
vm "sudo sh -c '$drop'"
t0=$(date +%s.%N)
vm "sudo install-to-disk --target /dev/disk/by-id/virtio-prov-install-target --yes" > "$work/install.log" 2>&1 \
    || { cat "$work/install.log" >&2; exit 1; }
t1=$(date +%s.%N)
copy=$(sed -n 's/^\[prov install\] copy: \([0-9]* MiB in [0-9.]* s ([0-9.]* MiB\/s)\)$/\1/p' "$work/install.log")
copy_secs=$(echo "$copy" | sed 's/.* in \([0-9.]*\) s.*/\1/')
mib=$(echo "$copy" | cut -d' ' -f1)
vm "sudo sh -c 'mkfs.ext4 -q -F /dev/vda3 && mount /dev/vda3 /mnt && $drop'"
# The guest has no bc: it prints the start and end times, the host subtracts.
cp_secs=$(vm "sudo sh -c 'date +%s.%N; cp -ax /. /mnt/ && sync; date +%s.%N'" | tr '\n' ' ' \
    | awk '{ print $2 - $1 }')
vm "sudo umount /mnt; sudo systemctl poweroff" || true
ratio=$(echo "scale=2; $copy_secs / $cp_secs" | bc)

echo "| measure (TCG, 2 vCPUs, 1.5 GiB) | goal | measured |"
echo "|---|---|---|"
printf '| install-to-disk, whole (GRUB, GPT, copy, identity, ESP, BIOS) | - | %.0f s |\n' "$(echo "$t1 - $t0" | bc)"
printf '| its copy step (mkfs.ext4 -d) | - | %s |\n' "$copy"
printf '| cp -ax /. onto the same partition, then sync | - | %.1f s (%.1f MiB/s) |\n' "$cp_secs" "$(echo "$mib / $cp_secs" | bc -l)"
printf '| copy / cp -a | <= 1.5 | %.2f |\n' "$ratio"
