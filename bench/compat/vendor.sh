#!/bin/sh
# Vendor the roles of bench/compat/corpus.yml into bench/compat/roles/<name>/: for each role,
# `git archive <commit> <path>` of its repository, only the role's own directories (defaults,
# files, handlers, library, meta, tasks, templates, vars, ...) and README, plus the
# repository's LICENSE file. Molecule scenarios, tests and CI files are left out.
#
#   bench/compat/vendor.sh [MIRROR]
#
# MIRROR holds one bare git directory per repository, MIRROR/<owner>+<name>/repo (what the
# workspace's fetch tool makes; default /work/.mirror), or a clone at MIRROR/<owner>+<name>
# (e.g. `git clone --bare https://github.com/<owner>/<name> MIRROR/<owner>+<name>/repo`). The
# commit must be in it. Existing role directories are replaced.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mirror=${1:-/work/.mirror}
PARTS="defaults files handlers library meta module_utils filter_plugins tasks templates vars README.md"

python3 - "$here/corpus.yml" <<'EOF' | while read -r name repo commit path; do
import sys, yaml
for r in yaml.safe_load(open(sys.argv[1]))["roles"]:
    print(r["name"], r["repo"], r["commit"], r["path"])
EOF
    git="$mirror/$(echo "$repo" | tr / +)/repo"
    [ -d "$git" ] || git="$mirror/$(echo "$repo" | tr / +)"
    dest="$here/roles/$name"
    rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
    if [ "$path" = "." ]; then
        strip=0
        prefix=""
    else
        strip=$(echo "$path" | tr -cd / | wc -c)
        strip=$((strip + 1))
        prefix="$path/"
    fi
    wanted=""
    for part in $PARTS; do
        if git --git-dir="$git" cat-file -e "$commit:$prefix$part" 2>/dev/null; then
            wanted="$wanted $prefix$part"
        fi
    done
    # shellcheck disable=SC2086
    git --git-dir="$git" archive "$commit" $wanted | tar -x -C "$dest.tmp" --strip-components=$strip
    license=$(git --git-dir="$git" ls-tree --name-only "$commit" | grep -i '^licen[cs]e' | head -1)
    git --git-dir="$git" archive "$commit" "$license" | tar -x -C "$dest.tmp"
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
    echo "$name: $repo@$commit $path ($(find "$dest" -type f | wc -l) files)"
done
