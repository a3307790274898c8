#!/usr/bin/env bash
# Build prov and provision a throw-away Debian root (an overlay over the cached test root)
# with examples/site.yml: a dry run with diffs, the real run, then a re-run that changes
# nothing. Needs root (mounts and chroot). Usage: examples/demo.sh [PLAYBOOK]
set -euo pipefail
cd "$(dirname "$0")/.."
playbook=${1:-examples/site.yml}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --quiet
prov="$CARGO_TARGET_DIR/release/prov"
base=$(tests/fixtures/rootfs.sh)
work=$(mktemp -d /tmp/prov-demo.XXXXXX)
mkdir -p "$work/upper" "$work/work" "$work/root"
mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/work" "$work/root"
trap 'umount "$work/root" 2>/dev/null || umount -l "$work/root"; rm -rf "$work"' EXIT
echo "== dry run (prov check) =="
"$prov" check "$playbook" --chroot "$work/root"
echo "== apply =="
"$prov" apply "$playbook" --chroot "$work/root"
echo "== re-apply: nothing to change =="
"$prov" apply "$playbook" --chroot "$work/root"
