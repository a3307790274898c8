//! `iptables` natively, side by side with ansible-playbook. Nothing here touches this machine's
//! firewall: every run happens inside a private, empty network namespace made for it (`unshare
//! --net --mount`), and the script refuses to go on if its namespace is the machine's. prov
//! runs with the local connection (forbidden to fall back to Ansible's module code); each
//! phase's `changed` per task and the resulting `iptables -S`/`ip6tables -S` (and the nat
//! table's) must be what ansible-playbook's runs of the same playbooks give in a namespace of
//! their own; `--check --diff` must predict the first run's changes and leave the tables as
//! they were.
//!
//! Through the chroot connection the module reports `skipped (chroot)` (the root shares the
//! build machine's network namespace), and a shell's `iptables` there meets the guard's
//! refusing stand-in: the namespace's tables stay empty.
//!
//! Debian 12's `iptables` is the nf_tables variant (`iptables-nft`); in a fresh namespace both
//! variants start with empty tables and ACCEPT policies. .ci/setup installs it.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Project, Root, TempDir, ansible_playbook, ansible_python};
use serde_json::Value;

/// Rules, a chain, a policy, nat, IPv6 and logging options (jump LOG added by the module).
const PHASE1: &str = r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: append
      iptables: {chain: INPUT, protocol: tcp, destination_port: 22, jump: ACCEPT, comment: ssh in}
    - name: insert first
      iptables: {chain: INPUT, protocol: tcp, destination_port: 80, jump: ACCEPT, action: insert, rule_num: 1}
    - name: multiport with ctstate
      iptables: {chain: INPUT, protocol: tcp, destination_ports: ["443", "8081:8083"], ctstate: [NEW, ESTABLISHED], jump: ACCEPT}
    - name: create chain
      iptables: {chain: ALLOWLIST, chain_management: true}
    - name: rule in chain
      iptables: {chain: ALLOWLIST, source: 10.0.0.0/8, jump: RETURN}
    - name: jump to chain
      iptables: {chain: INPUT, in_interface: "!lo", jump: ALLOWLIST}
    - name: policy
      iptables: {chain: FORWARD, policy: DROP}
    - name: ipv6 rule
      iptables: {chain: INPUT, ip_version: ipv6, protocol: ipv6-icmp, icmp_type: echo-request, jump: ACCEPT}
    - name: both
      iptables: {chain: OUTPUT, ip_version: both, protocol: udp, destination_port: 53, jump: ACCEPT, wait: 5}
    - name: nat
      iptables: {table: nat, chain: POSTROUTING, out_interface: eth0, jump: MASQUERADE}
    - name: log
      iptables: {chain: INPUT, limit: 2/second, limit_burst: 20, log_prefix: "IPT: ", log_level: info}
    - name: reject
      iptables: {chain: INPUT, protocol: tcp, destination_port: 23, reject_with: tcp-reset}
"#;

/// Removals: a rule, a flush, the chain (after the rule jumping to it), the policy back.
const PHASE2: &str = r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: absent
      iptables: {chain: INPUT, protocol: tcp, destination_port: 22, jump: ACCEPT, comment: ssh in, state: absent}
    - name: absent again
      iptables: {chain: INPUT, protocol: tcp, destination_port: 22, jump: ACCEPT, comment: ssh in, state: absent}
    - name: flush chain
      iptables: {chain: ALLOWLIST, flush: true}
    - name: unjump
      iptables: {chain: INPUT, in_interface: "!lo", jump: ALLOWLIST, state: absent}
    - name: delete chain
      iptables: {chain: ALLOWLIST, chain_management: true, state: absent}
    - name: chain gone
      iptables: {chain: ALLOWLIST, chain_management: true, state: absent}
    - name: policy back
      iptables: {chain: FORWARD, policy: ACCEPT, numeric: true}
    - name: flush nat
      iptables: {table: nat, flush: true}
    - name: policy of a missing chain
      iptables: {chain: NOPE, policy: DROP}
      ignore_errors: true
    - name: rule in a missing chain
      iptables: {chain: NOPE, source: 10.9.9.9, jump: DROP}
      ignore_errors: true
"#;

/// The listing the script appends after each run.
const LIST: &str = "list() { echo \"== $1\"; iptables -S; iptables -t nat -S; ip6tables -S; }";

/// Run `script` with `sh` in a new network (and mount) namespace; `$HOST_NETNS` is this
/// process's namespace, which the script must not be in.
fn in_netns(script: &str, envs: &[(&str, &Path)]) -> std::process::Output {
    let host_ns = std::fs::read_link("/proc/self/ns/net").unwrap();
    let guarded = format!(
        "set -u\n[ \"$(readlink /proc/self/ns/net)\" != \"$HOST_NETNS\" ] || {{ echo 'not in a private network namespace' >&2; exit 99; }}\n{LIST}\n{script}"
    );
    assert!(
        Command::new("sh")
            .args([
                "-c",
                "command -v iptables && command -v ip6tables && command -v unshare"
            ])
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .output()
            .unwrap()
            .status
            .success(),
        "iptables, ip6tables and unshare are needed (.ci/setup installs them)"
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--net", "--mount", "--", "sh", "-c", &guarded])
        .env("HOST_NETNS", host_ns)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_CONFIG");
    common::isolate(&mut cmd);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "netns script failed ({:?}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Task name -> status of prov's JSON output.
fn prov_statuses(path: &Path) -> Vec<(String, String)> {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    doc["plays"][0]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let h = &t["hosts"]["localhost"];
            (
                t["task"]["name"].as_str().unwrap().to_string(),
                h["status"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

/// Task name -> changed/ok/failed of ansible-playbook's JSON callback.
fn ansible_statuses(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    doc["plays"][0]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let h = &t["hosts"]["localhost"];
            let s = if h["failed"] == true {
                "failed"
            } else if h["changed"] == true {
                "changed"
            } else {
                "ok"
            };
            (t["task"]["name"].as_str().unwrap().to_string(), s.into())
        })
        .collect()
}

fn all(names: &[(String, String)], status: &str) -> bool {
    names.iter().all(|(_, s)| s == status)
}

#[test]
fn iptables_in_a_private_netns_as_ansible() {
    let project = Project::new()
        .file("phase1.yml", PHASE1)
        .file("phase2.yml", PHASE2);
    let out = TempDir::new("iptables-out");
    let prov = Path::new(env!("CARGO_BIN_EXE_prov"));
    let run_prov = r#"p() { pb=$1; shift; "$PROV" apply "$DIR/$pb" -i localhost, -c local --format json "$@"; }
cd "$DIR"
export PROV_ANSIBLE_PYTHON=/nonexistent/python3
list start > "$OUT/prov.lists"
p phase1.yml --check --diff > "$OUT/check.json" || exit 1
list check >> "$OUT/prov.lists"
p phase1.yml > "$OUT/p1.json" || exit 1
list p1 >> "$OUT/prov.lists"
p phase1.yml > "$OUT/p1b.json" || exit 1
list p1b >> "$OUT/prov.lists"
p phase2.yml --check > "$OUT/check2.json" || exit 1
list check2 >> "$OUT/prov.lists"
p phase2.yml > "$OUT/p2.json" || exit 1
list p2 >> "$OUT/prov.lists"
"#;
    in_netns(
        run_prov,
        &[
            ("PROV", prov),
            ("DIR", &project.dir.path),
            ("OUT", &out.path),
        ],
    );

    let ansible = ansible_playbook();
    let python = ansible_python();
    let work = TempDir::new("iptables-ansible");
    let run_ansible = r#"a() { pb=$1; shift; "$ANSIBLE" -i localhost, -c local "$DIR/$pb" -e "ansible_python_interpreter=$PY" "$@"; }
export ANSIBLE_STDOUT_CALLBACK=ansible.posix.json ANSIBLE_HOME="$WORK/home" ANSIBLE_LOCAL_TEMP="$WORK/tmp" ANSIBLE_NOCOLOR=1
cd "$DIR"
a phase1.yml --check > "$OUT/ac1.json" || exit 1
a phase1.yml > "$OUT/a1.json" || exit 1
list p1 > "$OUT/ansible.lists"
a phase1.yml > "$OUT/a1b.json" || exit 1
list p1b >> "$OUT/ansible.lists"
a phase2.yml --check > "$OUT/ac2.json" || exit 1
a phase2.yml > "$OUT/a2.json" || exit 1
list p2 >> "$OUT/ansible.lists"
"#;
    in_netns(
        run_ansible,
        &[
            ("ANSIBLE", &ansible),
            ("PY", &python),
            ("DIR", &project.dir.path),
            ("OUT", &out.path),
            ("WORK", &work.path),
        ],
    );

    let read = |n: &str| std::fs::read_to_string(out.path.join(n)).unwrap();
    let lists = read("prov.lists");
    let sections: Vec<&str> = lists.split("== ").filter(|s| !s.is_empty()).collect();
    let body = |name: &str| -> String {
        sections
            .iter()
            .find(|s| s.starts_with(&format!("{name}\n")))
            .unwrap_or_else(|| panic!("no {name} in {lists}"))
            .split_once('\n')
            .unwrap()
            .1
            .to_string()
    };
    // A fresh namespace: empty tables; check mode changed none of them.
    let fresh = "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-P PREROUTING ACCEPT\n-P INPUT ACCEPT\n-P OUTPUT ACCEPT\n-P POSTROUTING ACCEPT\n-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n";
    assert_eq!(body("start"), fresh);
    assert_eq!(body("check"), fresh, "--check changed the tables");

    // prov's first run: what its dry run predicted, and every task a change.
    let check = prov_statuses(&out.path.join("check.json"));
    let p1 = prov_statuses(&out.path.join("p1.json"));
    assert_eq!(check, p1, "check mode predicted differently");
    assert!(all(&p1, "changed"), "{p1:?}");
    assert!(
        all(&prov_statuses(&out.path.join("p1b.json")), "ok"),
        "second run changed something"
    );
    let p1_list = body("p1");
    for rule in [
        "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT",
        "-A INPUT -p tcp -m tcp --dport 22 -m comment --comment \"ssh in\" -j ACCEPT",
        "-A INPUT ! -i lo -j ALLOWLIST",
        "-P FORWARD DROP",
        "-N ALLOWLIST",
        "-A ALLOWLIST -s 10.0.0.0/8 -j RETURN",
        "-A POSTROUTING -o eth0 -j MASQUERADE",
        "-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT",
        "-A OUTPUT -p udp -m udp --dport 53 -j ACCEPT",
        "-A INPUT -m limit --limit 2/sec --limit-burst 20 -j LOG --log-prefix \"IPT: \" --log-level 6",
        "-A INPUT -p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset",
    ] {
        assert!(p1_list.contains(rule), "{rule:?} missing in\n{p1_list}");
    }
    // rule_num 1: the inserted rule comes first.
    let first = p1_list.lines().find(|l| l.starts_with("-A INPUT")).unwrap();
    assert_eq!(first, "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT");
    assert_eq!(body("p1b"), p1_list);
    assert_eq!(body("check2"), p1_list, "--check changed the tables");
    let p2 = prov_statuses(&out.path.join("p2.json"));
    let p2_list = body("p2");
    assert!(!p2_list.contains("ALLOWLIST"), "{p2_list}");
    assert!(!p2_list.contains("--dport 22"), "{p2_list}");
    assert!(!p2_list.contains("MASQUERADE"), "{p2_list}");
    assert!(p2_list.contains("-P FORWARD ACCEPT"), "{p2_list}");

    // Failures: the policy's read fails with iptables' own message, as Ansible's.
    let doc: Value = serde_json::from_str(&read("p2.json")).unwrap();
    let ours = doc["plays"][0]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"]["name"] == "policy of a missing chain")
        .unwrap()["hosts"]["localhost"]
        .clone();
    let doc: Value = serde_json::from_str(&read("a2.json")).unwrap();
    let theirs = doc["plays"][0]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"]["name"] == "policy of a missing chain")
        .unwrap()["hosts"]["localhost"]
        .clone();
    assert_eq!(ours["result"]["msg"], theirs["msg"], "{ours}\n{theirs}");
    assert!(!theirs["msg"].as_str().unwrap().is_empty());

    // Side by side with Ansible: the same changes and the same tables.
    assert_eq!(p1, ansible_statuses(&out.path.join("a1.json")));
    assert_eq!(
        prov_statuses(&out.path.join("p1b.json")),
        ansible_statuses(&out.path.join("a1b.json"))
    );
    assert_eq!(p2, ansible_statuses(&out.path.join("a2.json")));
    assert_eq!(check, ansible_statuses(&out.path.join("ac1.json")));
    assert_eq!(
        prov_statuses(&out.path.join("check2.json")),
        ansible_statuses(&out.path.join("ac2.json")),
        "check mode predicted differently from Ansible's check mode"
    );
    let alists = read("ansible.lists");
    for name in ["p1", "p1b", "p2"] {
        let theirs = alists
            .split("== ")
            .find(|s| s.starts_with(&format!("{name}\n")))
            .unwrap()
            .split_once('\n')
            .unwrap()
            .1;
        assert_eq!(body(name), theirs, "tables after {name}");
    }
}

/// In a chroot nothing reaches the firewall (here a private namespace's, watched): the module
/// reports skipped, a shell's `iptables -A` is refused by the guard's stand-in.
#[test]
fn iptables_in_a_chroot_is_skipped() {
    let root = Root::new();
    let project = Project::new().file(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: rule
      iptables: {chain: INPUT, protocol: tcp, destination_port: 22, jump: DROP}
    - name: policy
      iptables: {chain: INPUT, policy: DROP}
    - name: flush
      iptables: {flush: true}
    - name: chain
      iptables: {chain: NEWCHAIN, chain_management: true}
    - name: shell
      shell: iptables -A INPUT -j DROP; ip6tables -P INPUT DROP
"#,
    );
    let out = TempDir::new("iptables-chroot");
    let prov = Path::new(env!("CARGO_BIN_EXE_prov"));
    in_netns(
        r#"cd "$DIR"
list before > "$OUT/lists"
"$PROV" apply site.yml --chroot "$ROOT" --format json > "$OUT/run.json" || exit 1
list after >> "$OUT/lists"
"#,
        &[
            ("PROV", prov),
            ("DIR", &project.dir.path),
            ("OUT", &out.path),
            ("ROOT", &root.path),
        ],
    );
    let lists = std::fs::read_to_string(out.path.join("lists")).unwrap();
    let (before, after) = lists.split_once("== after\n").unwrap();
    assert_eq!(before.trim_start_matches("== before\n"), after);
    assert!(!after.contains("DROP"), "{after}");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path.join("run.json")).unwrap()).unwrap();
    for t in doc["plays"][0]["tasks"].as_array().unwrap() {
        let name = t["task"]["name"].as_str().unwrap();
        let h = &t["hosts"]["localhost"];
        if name == "shell" {
            assert_eq!(h["status"], "changed", "{h}");
            let err = h["result"]["stderr"].as_str().unwrap();
            assert_eq!(err.matches("prov: refused in a chroot").count(), 2, "{err}");
        } else {
            assert_eq!(h["status"], "skipped", "{name}: {h}");
            assert_eq!(
                h["result"]["skip_reason"], "skipped (chroot)",
                "{name}: {h}"
            );
        }
    }
}
