//! `ufw` natively, side by side with ansible-playbook. Nothing here touches this machine's
//! firewall or its ufw configuration: every run happens inside a private network and mount
//! namespace (`unshare --net --mount`) where throw-away copies of /etc/ufw, /lib/ufw and
//! /etc/default/ufw (with no sysctl file and no kernel modules to load) are bind-mounted over
//! the real ones, and the script refuses to go on if its network namespace is the machine's.
//! prov (local connection, never Ansible's module code) and ansible-playbook each run the
//! same playbooks in a namespace of their own; `changed` per task (real runs and `--check`),
//! user.rules, user6.rules, ufw.conf and `ufw status verbose` after each phase must be the
//! same, a second run must change nothing and `--check --diff` must write nothing.
//!
//! .ci/setup installs ufw (installed, it stays disabled: ENABLED=no).

mod common;

use std::path::Path;
use std::process::Command;

use common::{Project, TempDir, ansible_playbook, ansible_python};
use serde_json::Value;

const PHASE1: &str = r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: default incoming
      ufw: {default: deny, direction: incoming}
    - name: default outgoing
      ufw: {policy: allow, direction: outgoing}
    - name: logging
      ufw: {logging: medium}
    - name: limit ssh
      ufw: {rule: limit, port: ssh, proto: tcp}
    - name: web with comment
      ufw: {rule: allow, port: "80", proto: tcp, comment: web}
    - name: from a network
      ufw: {rule: allow, src: 10.0.0.0/8, port: "5432", proto: tcp}
    - name: deny v6
      ufw: {rule: deny, proto: tcp, src: "2001:db8::/32", port: "25"}
    # In check mode there is no rule 1 yet: ufw refuses the position (both fail, ignored).
    - name: insert first
      ufw: {rule: deny, from_ip: 192.0.2.1, insert: 1}
      ignore_errors: true
    - name: route
      ufw: {rule: allow, route: true, src: 192.0.2.0/24, dest: 198.51.100.0/24}
    - name: enable
      ufw: {state: enabled}
"#;

const PHASE2: &str = r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: delete web
      ufw: {rule: allow, port: "80", proto: tcp, comment: web, delete: true}
    - name: delete again
      ufw: {rule: allow, port: "80", proto: tcp, comment: web, delete: true}
    - name: reload
      ufw: {state: reloaded}
    - name: insert relative
      ufw: {rule: allow, port: "8080", proto: tcp, insert: 0, insert_relative_to: first-ipv6}
    - name: logging off
      ufw: {logging: "off"}
"#;

const PHASE3: &str = r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: reset
      ufw: {state: reset}
"#;

/// Set up the private copies (the script's prelude) and `snap NAME`, which appends the
/// files and the status to `$OUT/$SIDE.snap`.
const SETUP: &str = r#"set -u
[ "$(readlink /proc/self/ns/net)" != "$HOST_NETNS" ] || { echo 'not in a private network namespace' >&2; exit 99; }
mount --make-rprivate / || exit 98
c=$(mktemp -d) || exit 97
cp -a /etc/ufw "$c/etc-ufw" && cp -a /lib/ufw "$c/lib-ufw" || exit 97
sed -e 's|^IPT_SYSCTL=.*|IPT_SYSCTL=/dev/null|' -e 's|^IPT_MODULES=.*|IPT_MODULES=""|' /etc/default/ufw > "$c/default-ufw"
mount --bind "$c/etc-ufw" /etc/ufw && mount --bind "$c/lib-ufw" /lib/ufw && mount --bind "$c/default-ufw" /etc/default/ufw || exit 96
grep -q '^ENABLED=no' /etc/ufw/ufw.conf || { echo 'ufw is enabled in the copy' >&2; exit 95; }
snap() { { echo "== $1"; cat /etc/ufw/user.rules /etc/ufw/user6.rules /etc/ufw/ufw.conf; ufw status verbose; } >> "$OUT/$SIDE.snap"; }
"#;

fn in_netns(script: &str, envs: &[(&str, &Path)]) {
    let host_ns = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert!(
        Command::new("sh")
            .args(["-c", "command -v ufw && command -v unshare"])
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .output()
            .unwrap()
            .status
            .success(),
        "ufw and unshare are needed (.ci/setup installs them)"
    );
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--net",
        "--mount",
        "--",
        "sh",
        "-c",
        &format!("{SETUP}{script}"),
    ])
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
}

/// Task name -> changed/ok/failed/skipped, from prov's or ansible's JSON.
fn statuses(path: &Path, prov: bool) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    doc["plays"][0]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let h = &t["hosts"]["localhost"];
            let s = if prov {
                h["status"].as_str().unwrap_or("?").to_string()
            } else if h["failed"] == true {
                "failed".into()
            } else if h["changed"] == true {
                "changed".into()
            } else {
                "ok".into()
            };
            (t["task"]["name"].as_str().unwrap().to_string(), s)
        })
        .collect()
}

#[test]
fn ufw_in_a_private_netns_as_ansible() {
    let project = Project::new()
        .file("phase1.yml", PHASE1)
        .file("phase2.yml", PHASE2)
        .file("phase3.yml", PHASE3);
    let out = TempDir::new("ufw-out");
    let prov = Path::new(env!("CARGO_BIN_EXE_prov"));
    let runs = r#"cd "$DIR"
go() { f="$OUT/$SIDE-$1.json"; shift; r "$@" > "$f" || { echo "$SIDE $*:"; cat "$f"; exit 1; }; }
snap start
go c1 phase1.yml --check --diff
snap check
go 1 phase1.yml
snap p1
go 1b phase1.yml
go c2 phase2.yml --check
go 2 phase2.yml
snap p2
go 3 phase3.yml
snap p3
"#;
    let run_prov = format!(
        "SIDE=prov\nexport PROV_ANSIBLE_PYTHON=/nonexistent/python3\nr() {{ pb=$1; shift; \"$PROV\" apply \"$DIR/$pb\" -i localhost, -c local --format json \"$@\"; }}\n{runs}"
    );
    let env = [
        ("PROV", prov),
        ("DIR", &project.dir.path),
        ("OUT", &out.path),
    ];
    in_netns(&run_prov, &env);

    let ansible = ansible_playbook();
    let python = ansible_python();
    let work = TempDir::new("ufw-ansible");
    let run_ansible = format!(
        "SIDE=ansible\nexport ANSIBLE_STDOUT_CALLBACK=ansible.posix.json ANSIBLE_HOME=\"$WORK/home\" ANSIBLE_LOCAL_TEMP=\"$WORK/tmp\" ANSIBLE_NOCOLOR=1\nr() {{ pb=$1; shift; \"$ANSIBLE\" -i localhost, -c local \"$DIR/$pb\" -e \"ansible_python_interpreter=$PY\" \"$@\"; }}\n{runs}"
    );
    in_netns(
        &run_ansible,
        &[
            ("ANSIBLE", &ansible),
            ("PY", &python),
            ("DIR", &project.dir.path),
            ("OUT", &out.path),
            ("WORK", &work.path),
        ],
    );

    for run in ["c1", "1", "1b", "c2", "2", "3"] {
        let ours = statuses(&out.path.join(format!("prov-{run}.json")), true);
        let theirs = statuses(&out.path.join(format!("ansible-{run}.json")), false);
        assert_eq!(ours, theirs, "run {run}: prov and Ansible differ");
    }
    // An inactive ufw shows neither policies nor logging in its status: the policies are
    // not changes, the logging level is (the module's rules); so are the rules and enabling.
    let first = statuses(&out.path.join("prov-1.json"), true);
    let changed: Vec<&str> = first
        .iter()
        .filter(|(_, s)| s == "changed")
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        changed,
        [
            "logging",
            "limit ssh",
            "web with comment",
            "from a network",
            "deny v6",
            "insert first",
            "route",
            "enable"
        ],
        "{first:?}"
    );
    let second = statuses(&out.path.join("prov-1b.json"), true);
    assert!(second.iter().all(|(_, s)| s == "ok"), "{second:?}");

    let read = |n: &str| std::fs::read_to_string(out.path.join(n)).unwrap();
    let (ours, theirs) = (read("prov.snap"), read("ansible.snap"));
    assert_eq!(ours, theirs, "files or status differ");
    let section = |name: &str| -> String {
        ours.split("== ")
            .find(|s| s.starts_with(&format!("{name}\n")))
            .unwrap_or_else(|| panic!("no {name} in {ours}"))
            .to_string()
    };
    assert_eq!(
        section("start").replace("start\n", ""),
        section("check").replace("check\n", ""),
        "--check --diff changed something"
    );
    let p1 = section("p1");
    for want in [
        "Status: active",
        "Logging: on (medium)",
        "### tuple ### allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in comment=776562",
        "### tuple ### limit tcp 22 0.0.0.0/0 any 0.0.0.0/0 in",
        "### tuple ### route:allow any any 198.51.100.0/24 any 192.0.2.0/24 in",
        "ENABLED=yes",
    ] {
        assert!(p1.contains(want), "{want:?} missing in\n{p1}");
    }
    let p2 = section("p2");
    assert!(!p2.contains("comment=776562"), "{p2}");
    assert!(p2.contains("Logging: off"), "{p2}");
    let p3 = section("p3");
    assert!(
        p3.contains("Status: inactive") && p3.contains("ENABLED=no"),
        "{p3}"
    );
}

/// In a chroot (the chroot connection, or `ansible_is_chroot` with the local connection)
/// nothing reaches a firewall: every task reports `skipped (chroot)`, and the root's /etc,
/// the namespace's ufw files, status and iptables tables are as they were.
#[test]
fn ufw_in_a_chroot_is_skipped() {
    let root = common::Root::new();
    let tasks = r#"
  tasks:
    - name: enable
      ufw: {state: enabled}
    - name: rule
      ufw: {rule: allow, port: "22", proto: tcp}
    - name: policy
      ufw: {default: reject}
    - name: logging
      ufw: {logging: full}
    - name: reset
      ufw: {state: reset}
"#;
    let project = Project::new()
        .file(
            "site.yml",
            &format!("- hosts: all\n  gather_facts: false{tasks}"),
        )
        .file(
            "fact.yml",
            &format!(
                "- hosts: all\n  gather_facts: false\n  vars: {{ansible_is_chroot: true}}{tasks}"
            ),
        );
    let out = TempDir::new("ufw-chroot");
    let prov = Path::new(env!("CARGO_BIN_EXE_prov"));
    in_netns(
        r#"cd "$DIR"
state() { find "$ROOT/etc" -xdev -printf '%p %s %T@\n' | sort; iptables -S; cat /etc/ufw/user.rules /etc/ufw/ufw.conf; ufw status verbose; }
state > "$OUT/before"
"$PROV" apply site.yml --chroot "$ROOT" --format json > "$OUT/chroot.json" || exit 1
state > "$OUT/after-chroot"
"$PROV" apply fact.yml -i localhost, -c local --format json > "$OUT/local.json" || exit 1
state > "$OUT/after-local"
"#,
        &[
            ("PROV", prov),
            ("DIR", &project.dir.path),
            ("OUT", &out.path),
            ("ROOT", &root.path),
        ],
    );
    let read = |n: &str| std::fs::read_to_string(out.path.join(n)).unwrap();
    let before = read("before");
    assert!(before.contains("Status: inactive"), "{before}");
    assert_eq!(
        before,
        read("after-chroot"),
        "the chroot run changed something"
    );
    assert_eq!(
        before,
        read("after-local"),
        "the ansible_is_chroot run changed something"
    );
    for run in ["chroot.json", "local.json"] {
        let doc: Value = serde_json::from_str(&read(run)).unwrap();
        let tasks = doc["plays"][0]["tasks"].as_array().unwrap();
        assert_eq!(tasks.len(), 5, "{run}");
        for t in tasks {
            let h = t["hosts"].as_object().unwrap().values().next().unwrap();
            assert_eq!(h["status"], "skipped", "{run}: {h}");
            assert_eq!(h["result"]["skip_reason"], "skipped (chroot)", "{run}: {h}");
        }
    }
}
