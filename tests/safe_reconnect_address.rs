//! Lockout-safe address changes (`prov_safe_reconnect_address`, src/engine/safe_reconnect.rs)
//! with the shipped `network_configuration` role, in a network namespace the test makes.
//!
//! Each test runs in a thread that `unshare(CLONE_NEWNET)`s itself: the namespace is new and
//! empty (the test checks it has only `lo` before touching anything), the thread adds a veth pair
//! (`eth0`, `peer0`; no dummy driver here) with 10.77.0.1/24 on eth0, and everything it starts inherits the namespace: the live SSH test
//! host (its sshd listens on every address there) and prov itself. The namespace goes away with
//! them; this machine's own network is never touched.
//!
//! The host's `netplan apply` stand-in (tests/common/ssh.rs) runs `NETPLAN_ADDRESSES` here:
//! it applies the IPv4 `addresses` of /etc/netplan/*.yaml to the interfaces whose name matches
//! `match: name` (a glob, as netplan matches) and removes every other IPv4 address from them;
//! routes, DNS and the renderer are not applied (nothing in the namespace needs them).
//!
//! Cases: a good address is confirmed there and kept; a netplan file that puts the address on
//! no interface is reverted by the host; a prov killed after the address moved leaves a host
//! that moves back by itself.
//!
//! Ansible has no such feature (it ignores the variables; an Ansible user changes
//! `ansible_host` with `set_fact` and waits with `wait_for_connection`, with nothing to undo a
//! bad address); the reference is the issue's design and `netplan try`.

mod common;

use common::ssh::{Client, SshHost};
use common::{Project, Prov, Run, Snapshot, repo_root, wait_until};
use std::process::Command;

/// The test's `netplan apply`: moves the IPv4 addresses as the netplan files say.
const NETPLAN_ADDRESSES: &str = r#"#!/usr/bin/python3
# Test stand-in (tests/safe_reconnect_address.rs): the IPv4 addresses of /etc/netplan/*.yaml,
# applied with ip(8) to the interfaces their `match: name` glob selects; other IPv4 addresses
# of those interfaces (and of interfaces no file selects) are removed. Nothing else is applied.
import fnmatch, glob, json, subprocess, yaml

want = []
for path in sorted(glob.glob("/etc/netplan/*.yaml")):
    with open(path) as f:
        doc = yaml.safe_load(f) or {}
    for eth in ((doc.get("network") or {}).get("ethernets") or {}).values():
        pattern = (eth.get("match") or {}).get("name", "*")
        want += [(pattern, a) for a in eth.get("addresses") or []]
for link in json.loads(subprocess.check_output(["ip", "-j", "addr", "show"])):
    name = link["ifname"]
    if name == "lo":
        continue
    have = ["%s/%s" % (a["local"], a["prefixlen"]) for a in link.get("addr_info", []) if a["family"] == "inet"]
    new = [a for p, a in want if fnmatch.fnmatch(name, p)]
    for a in have:
        if a not in new:
            subprocess.run(["ip", "addr", "del", a, "dev", name], check=True)
    for a in new:
        if a not in have:
            subprocess.run(["ip", "addr", "add", a, "dev", name], check=True)
"#;

/// The node's netplan file before the change: 10.77.0.1 on e*.
const OLD_NETPLAN: &str = "network:\n  version: 2\n  ethernets:\n    primary:\n      match:\n        name: \"e*\"\n      addresses:\n        - 10.77.0.1/24\n";

/// Run `f` in a thread of its own in a new, empty network namespace with eth0 at 10.77.0.1/24.
fn in_new_netns<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // Only this thread (and what it starts) moves; panics before touching anything
                // if the namespace cannot be made.
                assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0, "unshare");
                let links = sh("ip -o link show");
                assert_eq!(links.lines().count(), 1, "not a new namespace: {links}");
                assert!(links.contains(": lo:"), "{links}");
                sh("ip link set lo up && ip link add eth0 type veth peer name peer0 && ip link set peer0 up && ip link set eth0 up && ip addr add 10.77.0.1/24 dev eth0");
                f()
            })
            .join()
            .unwrap()
    })
}

#[track_caller]
fn sh(cmd: &str) -> String {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The IPv4 addresses on eth0 (in the test's namespace).
fn addresses() -> Vec<String> {
    sh("ip -o -4 addr show dev eth0")
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3).map(str::to_string))
        .collect()
}

/// A live host in the namespace, at 10.77.0.1 with OLD_NETPLAN, trusted by the client there.
fn host(client: &Client) -> SshHost {
    let h = SshHost::start_live_with("node-a", client, |root| {
        root.write("etc/ssh/listen-any", "");
        root.write("etc/netplan/01-prov.yaml", OLD_NETPLAN);
        std::fs::set_permissions(
            root.file("etc/netplan/01-prov.yaml"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        root.write(
            "usr/local/lib/prov-test/netplan-addresses",
            NETPLAN_ADDRESSES,
        );
        std::fs::set_permissions(
            root.file("usr/local/lib/prov-test/netplan-addresses"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    });
    std::fs::write(
        client.known_hosts(),
        format!("[10.77.0.1]:{} {}\n", h.port, h.host_key.trim()),
    )
    .unwrap();
    h
}

/// A project applying the shipped role with these extra role variables, reaching the host at
/// 10.77.0.1.
fn project(client: &Client, h: &SshHost, role_vars: &str) -> Project {
    let inventory = format!(
        "all:\n  hosts:\n    node-a:\n      ansible_host: 10.77.0.1\n      ansible_port: {}\n      ansible_user: tester\n      ansible_ssh_private_key_file: {}\n",
        h.port,
        client.key.display()
    );
    let play = format!(
        r#"- hosts: all
  become: true
  gather_facts: false
  roles:
    - role: network_configuration
      vars:
        prov_safe_reconnect_timeout: 20
        network_gateway: 10.77.0.254
        network_ip_address: 10.77.0.2
{role_vars}
  tasks:
    - name: After the change
      ansible.builtin.command: hostname
"#
    );
    Project::new()
        .file("hosts.yml", &inventory)
        .file("site.yml", &play)
}

/// `prov apply` of the project's play, with JSON output.
fn prov(client: &Client, p: &Project) -> Prov {
    client
        .apply(p, "site.yml")
        .env(
            "ANSIBLE_ROLES_PATH",
            repo_root().join("roles").to_str().unwrap(),
        )
        .json()
}

fn apply(client: &Client, h: &SshHost, role_vars: &str, extra: &[&str]) -> Run {
    let p = project(client, h, role_vars);
    prov(client, &p).args(extra).run()
}

/// What changed on the host apart from the stand-ins' log and the bytecode caches of netplan's
/// own Python (the role validates the file with the real `netplan generate`).
fn changes(before: &Snapshot, h: &SshHost) -> Vec<String> {
    before
        .diff(&h.root.snapshot())
        .into_iter()
        .filter(|d| !d.contains("var/log/prov-standins.log") && !d.contains("/__pycache__"))
        .collect()
}

fn confirm_of(run: &Run) -> serde_json::Value {
    run.tasks_where("node-a", |_| true)
        .into_iter()
        .find(|(n, _)| {
            n.starts_with("Confirm over a new connection:") && n.contains("Static address")
        })
        .unwrap_or_else(|| panic!("no confirm step:\n{}", run.stdout))
        .1
}

#[test]
fn a_new_address_is_confirmed_there_and_kept() {
    in_new_netns(|| {
        let client = Client::new();
        let h = host(&client);
        let before = h.root.snapshot();
        // The dry run says where it would confirm, and arms and changes nothing.
        let check = apply(&client, &h, "", &["--check"]);
        check.ok();
        let (name, _) = check
            .tasks_where("node-a", |_| true)
            .into_iter()
            .find(|(n, _)| n.ends_with("Static address with netplan"))
            .unwrap();
        let planned = check.task("node-a", &name);
        assert_eq!(planned["status"], "changed", "{planned}");
        assert_eq!(
            planned["result"]["prov_safe_reconnect"],
            "a revert would be armed (20 s, confirmed at 10.77.0.2) for: /etc/netplan/01-prov.yaml",
            "{planned}"
        );
        assert_eq!(changes(&before, &h), Vec::<String>::new());
        assert_eq!(addresses(), ["10.77.0.1/24"]);

        let run = apply(&client, &h, "", &[]);
        run.ok();
        let confirm = confirm_of(&run);
        assert_eq!(confirm["status"], "ok", "{confirm}");
        assert!(
            confirm["msg"]
                .as_str()
                .unwrap()
                .starts_with("confirmed at 10.77.0.2 (ansible_host from now on)"),
            "{confirm}"
        );
        // The handler's answer never came back over the old address; the confirm decided.
        let handler = run
            .tasks_where("node-a", |_| true)
            .into_iter()
            .find(|(n, _)| n.ends_with("Apply netplan"))
            .unwrap()
            .1;
        assert_eq!(handler["status"], "changed", "{handler}");
        assert!(
            handler["msg"]
                .as_str()
                .unwrap()
                .starts_with("no answer over the old connection within 5 s"),
            "{handler}"
        );
        // The later task reached the host at its new address.
        assert_eq!(run.task("node-a", "After the change")["status"], "changed");
        assert_eq!(addresses(), ["10.77.0.2/24"]);
        let file = h.root.read("etc/netplan/01-prov.yaml");
        assert!(file.contains("- 10.77.0.2/24"), "{file}");
        assert!(!h.root.file("var/lib/prov").exists());
        assert_eq!(h.standin_calls(), ["netplan apply"]);
    });
}

#[test]
fn an_address_on_no_interface_is_reverted_by_the_target() {
    in_new_netns(|| {
        let client = Client::new();
        let h = host(&client);
        let before = h.root.snapshot();
        // A wrong NIC name: netplan apply takes 10.77.0.1 away and puts 10.77.0.2 nowhere.
        let run = apply(
            &client,
            &h,
            "        network_interface_name_match: enp9s9",
            &[],
        );
        run.code(2);
        let confirm = confirm_of(&run);
        assert_eq!(confirm["status"], "failed", "{confirm}");
        let msg = confirm["msg"].as_str().unwrap();
        assert!(
            msg.contains("could not be confirmed over a new connection to 10.77.0.2")
                && msg.contains("the target reverts to the previous files (")
                && msg.contains("/etc/netplan/01-prov.yaml")
                && msg.ends_with("the host accepts logins again"),
            "{msg}"
        );
        // netplan apply ran twice: the handler, then the target's revert.
        assert_eq!(h.standin_calls(), ["netplan apply", "netplan apply"]);
        assert_eq!(addresses(), ["10.77.0.1/24"]);
        assert_eq!(h.root.read("etc/netplan/01-prov.yaml"), OLD_NETPLAN);
        // The session the address change cut (prov gave it up) ends, removing its temporary
        // directory, once its TCP connection closes: when the old address is back and the
        // controller's side retransmits its FIN.
        wait_until(120, "the cut session to end", || {
            changes(&before, &h).is_empty()
        });
        let login = Command::new("ssh")
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
            .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])
            .arg("-i")
            .arg(&client.key)
            .args(["-p", &h.port.to_string(), "tester@10.77.0.1", "true"])
            .status()
            .unwrap();
        assert!(login.success());
    });
}

#[test]
fn a_prov_killed_after_the_address_moved_leaves_a_target_that_reverts_by_itself() {
    in_new_netns(|| {
        let client = Client::new();
        let h = host(&client);
        let before = h.root.snapshot();
        let p = project(&client, &h, "");
        let run = prov(&client, &p).spawn();
        // Armed, written and applied: the host has left 10.77.0.1.
        wait_until(60, "netplan apply", || !h.standin_calls().is_empty());
        wait_until(10, "the address to move", || {
            addresses() == ["10.77.0.2/24"]
        });
        run.kill();
        // Unconfirmed, so the target puts the old file back and re-applies it by itself.
        wait_until(40, "the target to revert by itself", || {
            addresses() == ["10.77.0.1/24"] && !h.root.file("var/lib/prov").exists()
        });
        assert_eq!(h.root.read("etc/netplan/01-prov.yaml"), OLD_NETPLAN);
        assert_eq!(h.standin_calls(), ["netplan apply", "netplan apply"]);
        // The killed prov's transport may leave its session directory in /tmp (as any SIGKILL
        // does, tests/safe_reconnect.rs); nothing else changed.
        let left: Vec<String> = changes(&before, &h)
            .into_iter()
            .filter(|c| !c.starts_with("added tmp/prov."))
            .collect();
        assert_eq!(left, Vec::<String>::new());
    });
}
