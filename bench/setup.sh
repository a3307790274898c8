#!/bin/sh
# Install the engines the side-by-side benchmark compares prov with, each in its own
# virtualenv under ~/.cache/prov-bench (pinned versions, PyPI only), and build the benchmark's
# target root (the test root plus python3-apt and python3-debian, which Ansible's apt and
# deb822_repository modules need on a target). Prints nothing but errors.
#
#   ansible 12.3.0 (ansible-core 2.19.14, the newest 2.x; it bundles ansible.posix and
#                   community.general, which the worker playbook uses) -- shared with the tests
#   pyinfra 3.10.0
#   ansible-core-rs 0.16.0
set -eu
cd "$(dirname "$0")/.."
# GNU time measures each engine's peak RSS (bench/compare/measure.rs).
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
cache="${XDG_CACHE_HOME:-$HOME/.cache}/prov-bench"
mkdir -p "$cache"
venv() {
    name=$1 spec=$2 bin=$3
    if [ ! -x "$cache/$name/bin/$bin" ]; then
        rm -rf "$cache/$name"
        python3 -m venv "$cache/$name"
        "$cache/$name/bin/pip" install --quiet --disable-pip-version-check "$spec"
    fi
}
venv pyinfra pyinfra==3.10.0 pyinfra
venv acr ansible-core-rs==0.16.0 ansible
tests/fixtures/ansible.sh >/dev/null
PROV_ROOTFS_EXTRA=python3-apt,python3-debian tests/fixtures/rootfs.sh >/dev/null
tests/fixtures/aptrepo.sh >/dev/null 2>&1
