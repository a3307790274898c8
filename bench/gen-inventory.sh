#!/usr/bin/env bash
# Generate a realistic site inventory of N hosts in directory DIR (for bench/inventory.sh):
#   DIR/10-hosts.yml  YAML: all -> 3 regions -> datacenters (1000 hosts) -> racks (40 hosts),
#                     every host with ansible_host, rack_unit and a serial; vars on every level
#   DIR/20-roles.ini  INI: a function group per rack written as a host range (web, app, db,
#                     cache), [frontend:children]/[backend:children], [*:vars] sections
#   DIR/group_vars/   all.yml, one file per region, a directory for web (two files)
#   DIR/host_vars/    a file for every 100th host
# Usage: bench/gen-inventory.sh N DIR
set -euo pipefail
n=${1:?number of hosts}
dir=${2:?output directory}
mkdir -p "$dir/group_vars/web" "$dir/host_vars"
awk -v n="$n" -v dir="$dir" 'BEGIN {
    rack_size = 40; dc_size = 1000;
    split("eu us ap", region, " ");
    split("web app db cache", fn, " ");
    yml = dir "/10-hosts.yml"; ini = dir "/20-roles.ini";
    print "all:\n  vars:\n    ansible_user: deploy\n    ntp_servers: [ntp1.example.net, ntp2.example.net]\n  children:" > yml;
    for (r = 1; r <= 3; r++) {
        printf "    %s:\n      vars:\n        region: %s\n      children:\n", region[r], region[r] > yml;
        for (d = 0; d * dc_size < n; d++) {
            if (d % 3 != r - 1) continue;
            printf "        %s_dc%02d:\n          vars: {datacenter: dc%02d, dns_domain: dc%02d.example.net}\n          children:\n", region[r], d, d, d, d > yml;
            for (k = d * dc_size; k < n && k < (d + 1) * dc_size; k += rack_size) {
                rack = k / rack_size;
                printf "            rack%05d:\n              vars: {rack: %d}\n              hosts:\n", rack, rack > yml;
                for (h = k; h < n && h < k + rack_size; h++)
                    printf "                node%06d: {ansible_host: 10.%d.%d.%d, rack_unit: %d, serial: SN%08d}\n", h, int(h / 65536) % 256, int(h / 256) % 256, h % 256, h - k + 1, h > yml;
            }
        }
    }
    for (k = 0; k < n; k += rack_size) {
        last = (k + rack_size - 1 < n) ? k + rack_size - 1 : n - 1;
        printf "[%s]\nnode[%06d:%06d]\n", fn[(k / rack_size) % 4 + 1], k, last > ini;
    }
    print "[frontend:children]\nweb\ncache\n[backend:children]\napp\ndb" > ini;
    print "[web:vars]\nhttp_port=8080\n[db:vars]\npg_version=16" > ini;
    print "---\nmonitoring: true\nsyslog_host: logs.example.net" > (dir "/group_vars/all.yml");
    for (r = 1; r <= 3; r++) printf "---\nmirror: http://mirror.%s.example.net/debian\n", region[r] > (dir "/group_vars/" region[r] ".yml");
    print "---\nnginx_workers: 8" > (dir "/group_vars/web/nginx.yml");
    print "---\ntls_profile: modern" > (dir "/group_vars/web/tls.yml");
    for (h = 0; h < n; h += 100) printf "---\nmaintenance_window: sunday\nnote: host %d\n", h > (dir "/host_vars/" sprintf("node%06d", h) ".yml");
}'
