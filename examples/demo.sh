#!/usr/bin/env bash
# The main job, on a throw-away root: build prov, then provision an overlay copy of the cached
# Debian test root as worker golyat-1 with playbooks/worker.yml — a dry run with diffs, the
# real run, then a re-run that changes nothing. The Kubernetes/CRI-O repositories and the
# GitHub keys endpoint are served locally (tests/fixtures), since this machine cannot reach
# pkgs.k8s.io or github.com; only the URLs' host part differs from production.
# Needs root (mounts and chroot). The root is provisioned as the inventory's host golyat-1
# (ansible.cfg's inventory; a chroot is one host, so every playbook runs with --limit golyat-1).
#   examples/demo.sh                      # the worker playbook
#   examples/demo.sh examples/site.yml    # any other playbook, without the repository server
#   PROV_BIN=path/to/prov examples/demo.sh  # with that binary instead of a fresh release build
set -euo pipefail
cd "$(dirname "$0")/.."
playbook=${1:-playbooks/worker.yml}
if [ -n "${PROV_BIN:-}" ]; then
    prov=$PROV_BIN # a prov built already (the tests run the demo with theirs)
else
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
    cargo build --release --quiet
    prov="$CARGO_TARGET_DIR/release/prov"
fi
base=$(tests/fixtures/rootfs.sh)
work=$(mktemp -d /tmp/prov-demo.XXXXXX)
mkdir -p "$work/upper" "$work/work" "$work/root"
mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/work" "$work/root"
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null
    umount "$work/root" 2>/dev/null || umount -l "$work/root"
    rm -rf "$work"
}
trap cleanup EXIT
args=(--chroot "$work/root" --limit golyat-1)
if [ "$playbook" = playbooks/worker.yml ]; then
    www=$(tests/fixtures/aptrepo.sh 2>/dev/null)
    coproc SERVE { exec python3 tests/fixtures/serve.py "$www"; }
    server=$SERVE_PID
    read -r port <&"${SERVE[0]}"
    url="http://127.0.0.1:$port"
    args+=(-e "kubernetes_apt_base_url=$url crio_apt_base_url=$url user_management_github_keys_url=$url/boxp.keys")
fi
echo "== dry run (prov check) =="
"$prov" check "$playbook" "${args[@]}"
echo "== apply =="
"$prov" apply "$playbook" "${args[@]}"
echo "== re-apply: nothing to change =="
"$prov" apply "$playbook" "${args[@]}"
