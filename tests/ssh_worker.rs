//! The worker playbook (`playbooks/worker.yml`) over SSH on three test hosts, with the signed
//! apt repositories and the keys endpoint served locally. The repository's own production
//! inventory is used unchanged; a second inventory source only says how to reach the hosts.
//! golyat-1 is a live system from its own point of view, golyat-2 and golyat-3 see themselves
//! as chroots (an image build), so both code paths of the roles run over SSH.

mod common;

use common::ssh::{Client, SshHost, assert_nothing_changed, assert_round_trips};
use common::worker::worker_problems;
use common::{Project, RepoServer, repo_root};

#[test]
fn worker_playbook_on_three_ssh_hosts() {
    let server = RepoServer::start();
    let client = Client::new();
    let hosts = [
        SshHost::start_live("golyat-1", &client),
        SshHost::start("golyat-2", &client),
        SshHost::start("golyat-3", &client),
    ];
    let all: Vec<&SshHost> = hosts.iter().collect();
    client.trust(&all);
    for h in &hosts {
        // What the seed's autoinstall leaves behind: cloud-init allows passwords, and a swap file.
        h.root.write(
            "etc/ssh/sshd_config.d/50-cloud-init.conf",
            "PasswordAuthentication yes\n",
        );
        h.root.write(
            "etc/fstab",
            "# /etc/fstab\nUUID=0a1b / ext4 defaults 0 1\n/swap.img none swap sw 0 0\n",
        );
    }
    let reach = Project::new().file("ssh.yml", &client.inventory(&all, "tester"));
    let url = server.url();
    let apply = || {
        client
            .prov()
            .cwd(&repo_root())
            .args(["apply", "playbooks/worker.yml", "--limit", "workers"])
            .args(["-i", "inventory/production/hosts.yml", "-i"])
            .arg(reach.path("ssh.yml"))
            .arg("-e")
            // The test hosts keep 127.0.0.1 (the netplan stand-in moves no address): the
            // netplan change's confirm logs in there, not at node_ip.
            .arg(format!("kubernetes_apt_base_url={url} crio_apt_base_url={url} user_management_github_keys_url={url}/boxp.keys network_safe_reconnect_address=127.0.0.1"))
            .json()
            .run()
    };

    let keys = std::fs::read_to_string(server.dir.join("boxp.keys")).unwrap();
    // The checker sees a fresh root for what it is.
    assert!(worker_problems(&hosts[1].root, "192.168.10.105", &keys).len() > 10);

    let first = apply();
    first.ok();
    // The control plane is in the inventory but never touched.
    assert!(first.json()["stats"].get("shanghai-1").is_none());
    for (h, ip) in hosts
        .iter()
        .zip(["192.168.10.101", "192.168.10.105", "192.168.10.106"])
    {
        let problems = worker_problems(&h.root, ip, &keys);
        assert!(problems.is_empty(), "{}: {problems:?}", h.name);
    }

    // The live host did what only a live host does; the chroot-like ones did none of it.
    let live = hosts[0].standin_calls();
    for want in [
        "netplan apply",
        "sysctl -p /etc/sysctl.d/99-kubernetes-cri.conf",
        "swapoff -a",
        "modprobe overlay",
        "modprobe br_netfilter",
        "systemctl restart ssh",
    ] {
        assert!(live.iter().any(|c| c == want), "{want} not in {live:?}");
    }
    for h in &hosts[1..] {
        assert_eq!(h.standin_calls(), Vec::<String>::new(), "{}", h.name);
    }
    // The sshd changes were kept after a fresh login confirmed them on the live host
    // (prov_safe_reconnect); the chroot-like hosts armed nothing.
    let confirm = "Confirm over a new connection: Harden SSH before other drop-ins";
    assert_eq!(first.task("golyat-1", confirm)["status"], "ok");
    let netplan = first
        .tasks_where("golyat-1", |_| true)
        .into_iter()
        .find(|(n, _)| n.starts_with("Confirm over a new connection:") && n.contains("netplan"));
    assert_eq!(netplan.expect("netplan confirm").1["status"], "ok");
    assert!(!hosts[0].root.file("var/lib/prov").exists());
    for h in &hosts[1..] {
        let names = first.tasks_where(&h.name, |_| true);
        assert!(names.iter().all(|(n, _)| n != confirm), "{}", h.name);
    }
    let facts = |host: &str| first.task(host, "Detect chroot environment")["result"].clone();
    assert_eq!(
        facts("golyat-1")["ansible_facts"]["is_chroot"],
        false,
        "{}",
        facts("golyat-1")
    );
    assert_eq!(facts("golyat-2")["ansible_facts"]["is_chroot"], true);

    // Again: nothing changes, one connection per host, at most one round trip per task.
    let again = apply();
    again.ok();
    assert_nothing_changed(&again, &all);
    assert_round_trips(&again, &all);
}

/// The dry run of a fresh host over SSH is exact: `prov check --diff` reports the same changed
/// tasks with the same diffs as the `prov apply --diff` that follows (the packages' units
/// included, read from .debs fetched into a temporary directory), and leaves the host's root
/// as it was.
#[test]
fn a_dry_run_of_a_fresh_ssh_host_matches_its_apply() {
    let server = RepoServer::start();
    let client = Client::new();
    let host = SshHost::start("golyat-2", &client);
    client.trust(&[&host]);
    host.root.write(
        "etc/ssh/sshd_config.d/50-cloud-init.conf",
        "PasswordAuthentication yes\n",
    );
    let reach = Project::new().file("ssh.yml", &client.inventory(&[&host], "tester"));
    let url = server.url();
    let run = |mode: &str| {
        client
            .prov()
            .cwd(&repo_root())
            .args([mode, "playbooks/worker.yml", "--limit", "golyat-2", "--diff"])
            .args(["-i", "inventory/production/hosts.yml", "-i"])
            .arg(reach.path("ssh.yml"))
            .arg("-e")
            .arg(format!("kubernetes_apt_base_url={url} crio_apt_base_url={url} user_management_github_keys_url={url}/boxp.keys network_safe_reconnect_address=127.0.0.1"))
            .json()
            .run()
    };
    let before = host.root.snapshot();
    let check = run("check");
    check.ok();
    assert_eq!(before.diff(&host.root.snapshot()), Vec::<String>::new());
    let units = check.task(
        "golyat-2",
        "kubernetes_components : CRI-O and kubelet start at boot",
    );
    assert_eq!(units["status"], "changed", "{units}");
    let apply = run("apply");
    apply.ok();
    let (predicted, made) = (
        check.tasks_with("golyat-2", "changed"),
        apply.tasks_with("golyat-2", "changed"),
    );
    assert_eq!(predicted, made);
    assert_eq!(
        check.tasks_where("golyat-2", |r| r["unknown"] == true),
        Vec::new()
    );
    for name in &made {
        assert_eq!(
            check.task("golyat-2", name)["diff"],
            apply.task("golyat-2", name)["diff"],
            "diff of {name}"
        );
    }
}

/// On a live host the dry run knows everything but command output: the two command tasks
/// (the swap check, whose `changed_when` reads its output, and the netplan handler) are
/// `unknown until apply`, and every other change the apply makes was predicted, with its diff.
#[test]
fn a_dry_run_of_a_fresh_live_ssh_host_leaves_only_commands_unknown() {
    let server = RepoServer::start();
    let client = Client::new();
    let host = SshHost::start_live("golyat-1", &client);
    client.trust(&[&host]);
    let reach = Project::new().file("ssh.yml", &client.inventory(&[&host], "tester"));
    let url = server.url();
    let run = |mode: &str| {
        client
            .prov()
            .cwd(&repo_root())
            .args([mode, "playbooks/worker.yml", "--limit", "golyat-1", "--diff"])
            .args(["-i", "inventory/production/hosts.yml", "-i"])
            .arg(reach.path("ssh.yml"))
            .arg("-e")
            .arg(format!("kubernetes_apt_base_url={url} crio_apt_base_url={url} user_management_github_keys_url={url}/boxp.keys network_safe_reconnect_address=127.0.0.1"))
            .json()
            .run()
    };
    let check = run("check");
    check.ok();
    let unknown: Vec<String> = check
        .tasks_where("golyat-1", |r| r["unknown"] == true)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        unknown,
        // The netplan handler runs right after its lockout-safe task, in the dry run too.
        [
            "network_configuration : Apply netplan",
            "kubernetes_components : No swap now"
        ]
    );
    let apply = run("apply");
    apply.ok();
    let predicted = check.tasks_with("golyat-1", "changed");
    let made: Vec<String> = apply
        .tasks_with("golyat-1", "changed")
        .into_iter()
        .filter(|t| !unknown.contains(t))
        .collect();
    assert_eq!(predicted, made);
    for name in &made {
        let (c, a) = (check.task("golyat-1", name), apply.task("golyat-1", name));
        // The test host's systemctl stand-in reports every loaded unit active, so the restart
        // handler's `before` is the stand-in's, not what a fresh kubelet would be.
        if name == "kubernetes_components : Restart kubelet" {
            assert_eq!(c["diff"][0]["after"], a["diff"][0]["after"]);
            continue;
        }
        assert_eq!(c["diff"], a["diff"], "diff of {name}");
    }
}
