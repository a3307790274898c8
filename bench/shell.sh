#!/bin/sh
# Run bench/baseline.sh on every host at once, one OpenSSH session per host:
#   sh bench/shell.sh HOSTS KEY KNOWN_HOSTS URL     (HOSTS: lines of "name port node_ip")
# Exits non-zero when any host failed.
set -u
hosts=$1 key=$2 known=$3 url=$4
dir=$(dirname "$0")
pids=""
while read -r name port ip; do
    { printf 'NODE_IP=%s\nURL=%s\n' "$ip" "$url"; cat "$dir/baseline.sh"; } |
        ssh -q -o BatchMode=yes -o UserKnownHostsFile="$known" -i "$key" -p "$port" tester@127.0.0.1 'sudo sh -s' &
    pids="$pids $!"
done < "$hosts"
rc=0
for p in $pids; do wait "$p" || rc=1; done
exit $rc
