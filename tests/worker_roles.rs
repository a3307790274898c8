//! The worker playbook and its roles (`playbooks/worker.yml`), run with `--chroot` against a
//! real Debian root, with the signed apt repositories and the keys endpoint served locally:
//! only the URLs' host part is overridden, so the roles' path templates are exercised.

mod common;

use std::os::unix::fs::MetadataExt;

use common::{Project, Prov, RepoServer, Root, repo_root};

/// `prov apply playbooks/worker.yml` from the repository root (its ansible.cfg and inventory),
/// with the upstream hosts replaced by the local server.
fn worker(server: &RepoServer, root: &Root) -> Prov {
    let url = server.url();
    Prov::new()
        .cwd(&repo_root())
        .args(["apply", "playbooks/worker.yml", "--limit", "golyat-1"])
        .chroot(root)
        .arg("-e")
        .arg(format!("kubernetes_apt_base_url={url} crio_apt_base_url={url} user_management_github_keys_url={url}/boxp.keys"))
}

fn prepare(root: &Root) {
    // What the seed's autoinstall leaves behind: cloud-init allows passwords, and a swap file.
    root.write(
        "etc/ssh/sshd_config.d/50-cloud-init.conf",
        "PasswordAuthentication yes\n",
    );
    root.write(
        "etc/fstab",
        "# /etc/fstab\nUUID=0a1b / ext4 defaults 0 1\n/swap.img none swap sw 0 0\n",
    );
}

fn sh(root: &Root, script: &str) -> String {
    let out = root.sh(script);
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn worker_playbook_builds_a_golyat_root() {
    let server = RepoServer::start();
    let root = Root::new();
    prepare(&root);
    // Logging stand-ins for the live-only commands: a chroot run must never call them.
    common::ssh::install_standins(&root);
    worker(&server, &root).json().run().ok();
    assert_eq!(common::ssh::standin_calls(&root), Vec::<String>::new());

    // sshd: the effective settings win over cloud-init's drop-in.
    let effective = sh(&root, "sshd -T");
    for want in [
        "permitrootlogin no",
        "passwordauthentication no",
        "pubkeyauthentication yes",
        "kbdinteractiveauthentication no",
    ] {
        assert!(
            effective.lines().any(|l| l == want),
            "sshd -T lacks {want:?}"
        );
    }
    // The admin user, sudo and keys.
    assert!(sh(&root, "id boxp").contains("(sudo)"));
    assert_eq!(sh(&root, "getent passwd boxp | cut -d: -f7"), "/bin/bash\n");
    sh(&root, "visudo -c");
    assert_eq!(
        root.read("etc/sudoers.d/boxp"),
        "boxp ALL=(ALL:ALL) NOPASSWD: ALL\n"
    );
    assert_eq!(root.mode("etc/sudoers.d/boxp"), 0o440);
    let keys = std::fs::read_to_string(server.dir.join("boxp.keys")).unwrap();
    assert_eq!(root.read("home/boxp/.ssh/authorized_keys"), keys);
    assert_eq!(root.mode("home/boxp/.ssh"), 0o700);
    assert_eq!(root.mode("home/boxp/.ssh/authorized_keys"), 0o600);
    let uid: u32 = sh(&root, "id -u boxp").trim().parse().unwrap();
    assert_eq!(root.owner("home/boxp/.ssh/authorized_keys").0, uid);
    // netplan: static address from the inventory, validated.
    let netplan = root.read("etc/netplan/01-prov.yaml");
    assert!(
        netplan.contains("- 192.168.10.101/24")
            && netplan.contains("via: 192.168.10.1")
            && netplan.contains("name: \"e*\""),
        "{netplan}"
    );
    assert!(netplan.contains("- 8.8.8.8\n          - 8.8.4.4"));
    assert_eq!(root.mode("etc/netplan/01-prov.yaml"), 0o600);
    sh(&root, "netplan generate --root-dir /");
    // Repositories: deb822 with Signed-By and Architectures, keyrings de-armored.
    let k8s = root.read("etc/apt/sources.list.d/kubernetes.sources");
    assert!(
        k8s.contains(&format!(
            "URIs: {}/core:/stable:/v1.32/deb/\n",
            server.url()
        )),
        "{k8s}"
    );
    assert!(
        k8s.contains("Suites: /\n")
            && k8s.contains("Architectures: amd64\n")
            && k8s.contains("Signed-By: /etc/apt/keyrings/kubernetes-apt-keyring.gpg\n")
    );
    let crio = root.read("etc/apt/sources.list.d/cri-o.sources");
    assert!(
        crio.contains(&format!(
            "URIs: {}/isv:/cri-o:/stable:/v1.32/deb/\n",
            server.url()
        )),
        "{crio}"
    );
    for (keyring, name) in [
        ("etc/apt/keyrings/kubernetes-apt-keyring.gpg", "kubernetes"),
        ("etc/apt/keyrings/cri-o-apt-keyring.gpg", "cri-o"),
    ] {
        let data = std::fs::read(root.file(keyring)).unwrap();
        assert!(!prov::pgp::is_armored(&data), "{keyring} is binary");
        assert_eq!(
            prov::pgp::fingerprints(&data).unwrap(),
            vec![server.fingerprint(name)]
        );
    }
    // Packages: pinned, the newest cri-o of the stream, all held.
    let versions = sh(
        &root,
        "dpkg-query -W -f='${Package} ${Version}\\n' kubelet kubeadm kubectl cri-o",
    );
    assert_eq!(
        versions,
        "cri-o 1.32.1-1.1\nkubeadm 1.32.0-1.1\nkubectl 1.32.0-1.1\nkubelet 1.32.0-1.1\n"
    );
    assert_eq!(
        sh(&root, "apt-mark showhold"),
        "cri-o\nkubeadm\nkubectl\nkubelet\n"
    );
    // Kernel, swap, kubelet, units.
    assert_eq!(root.read("etc/modules-load.d/overlay.conf"), "overlay\n");
    assert_eq!(
        root.read("etc/modules-load.d/br_netfilter.conf"),
        "br_netfilter\n"
    );
    assert_eq!(
        root.read("etc/sysctl.d/99-kubernetes-cri.conf"),
        "net.ipv4.ip_forward=1\nnet.bridge.bridge-nf-call-iptables=1\nnet.bridge.bridge-nf-call-ip6tables=1\n"
    );
    assert!(
        root.read("etc/fstab")
            .contains("\n# /swap.img none swap sw 0 0\n")
    );
    assert!(root.read("etc/default/kubelet").contains("KUBELET_EXTRA_ARGS=\"--node-ip=192.168.10.101 --cluster-dns=10.96.0.10 --cluster-domain=cluster.local\""));
    for unit in ["crio", "kubelet", "ssh"] {
        assert!(
            root.exists(&format!(
                "etc/systemd/system/multi-user.target.wants/{unit}.service"
            )),
            "{unit} enabled"
        );
    }
    assert!(root.mounts_inside().is_empty());

    // Second apply: nothing to change.
    let again = worker(&server, &root).json().run();
    again.ok();
    assert_eq!(
        again.stats("golyat-1")["changed"],
        0,
        "{:?}",
        again.tasks_with("golyat-1", "changed")
    );
    // ...and reads the host at most once per task.
    let heavy = again.tasks_where("golyat-1", |r| r["round_trips"].as_u64().unwrap() > 1);
    assert!(
        heavy.is_empty(),
        "tasks with several round trips: {heavy:?}"
    );

    // Drift four things; the dry run reports exactly those four and touches nothing.
    std::fs::write(root.file("etc/sysctl.d/99-kubernetes-cri.conf"), "net.ipv4.ip_forward=0\nnet.bridge.bridge-nf-call-iptables=1\nnet.bridge.bridge-nf-call-ip6tables=1\n").unwrap();
    std::fs::write(
        root.file("etc/default/kubelet"),
        "KUBELET_EXTRA_ARGS=\"--node-ip=10.0.0.1\"\n",
    )
    .unwrap();
    sh(&root, "echo kubelet install | dpkg --set-selections");
    std::fs::remove_file(root.file("etc/modules-load.d/overlay.conf")).unwrap();
    let before = root.snapshot();
    let check = worker(&server, &root)
        .args(["--check", "--diff"])
        .json()
        .run();
    check.ok();
    assert_eq!(
        before.diff(&root.snapshot()),
        Vec::<String>::new(),
        "check mode modified the root"
    );
    assert_eq!(
        check.tasks_with("golyat-1", "changed"),
        [
            "kubernetes_components : Hold the versions",
            "kubernetes_components : Kernel modules at boot",
            "kubernetes_components : Kernel parameters for container networking",
            "kubernetes_components : kubelet settings",
        ]
    );
    let diff = &check.task("golyat-1", "kubernetes_components : kubelet settings")["diff"][0];
    assert_eq!(
        diff["before"],
        "KUBELET_EXTRA_ARGS=\"--node-ip=10.0.0.1\"\n"
    );
}

#[test]
fn arm64_nodes_get_the_arm64_repositories() {
    let server = RepoServer::start();
    let root = Root::new();
    let url = server.url();
    // Different URLs for the two architectures: the arm64 ones live under /arm64.
    worker(&server, &root)
        .args(["--tags", "k8s-repos", "-e", "ansible_architecture=aarch64"])
        .arg("-e")
        .arg(format!(
            "kubernetes_apt_repository_arm64={url}/arm64/core:/stable:/v{{{{ kubernetes_version }}}}/deb/ crio_apt_repository_arm64={url}/arm64/isv:/cri-o:/stable:/v{{{{ crio_version }}}}/deb/"
        ))
        .run()
        .ok();
    let k8s = root.read("etc/apt/sources.list.d/kubernetes.sources");
    assert!(
        k8s.contains(&format!("URIs: {url}/arm64/core:/stable:/v1.32/deb/\n")),
        "{k8s}"
    );
    assert!(k8s.contains("Architectures: arm64\n"), "{k8s}");
    let crio = root.read("etc/apt/sources.list.d/cri-o.sources");
    assert!(
        crio.contains(&format!(
            "URIs: {url}/arm64/isv:/cri-o:/stable:/v1.32/deb/\n"
        )) && crio.contains("Architectures: arm64\n"),
        "{crio}"
    );
    // The repository tasks ran alone: no packages were installed.
    assert!(!root.exists("usr/bin/kubelet"));
}

#[test]
fn key_endpoint_failures_never_lock_anyone_out() {
    let server = RepoServer::start();
    let root = Root::new();
    worker(&server, &root).args(["--tags", "users"]).run().ok();
    let good = root.read("home/boxp/.ssh/authorized_keys");
    let url = server.url();
    for (bad, why) in [
        (format!("{url}/status/500"), "HTTP Error 500"),
        (format!("{url}/empty.keys"), "contains no SSH public key"),
        (format!("{url}/html.keys"), "is not an SSH public key"),
    ] {
        let run = worker(&server, &root)
            .args(["--tags", "users", "-e"])
            .arg(format!("user_management_github_keys_url={bad}"))
            .run();
        run.code(2).stdout_has(why);
        assert_eq!(
            root.read("home/boxp/.ssh/authorized_keys"),
            good,
            "{bad} changed authorized_keys"
        );
    }
}

#[test]
fn repository_key_fingerprints_are_enforced() {
    let server = RepoServer::start();
    let root = Root::new();
    let run = worker(&server, &root)
        .args([
            "--tags",
            "k8s-repos",
            "-e",
            "kubernetes_apt_key_fingerprint=0123456789ABCDEF0123456789ABCDEF01234567",
        ])
        .run();
    run.code(2).stdout_has("key fingerprint mismatch");
    assert!(!root.exists("etc/apt/sources.list.d/kubernetes.sources"));
    assert!(!root.exists("etc/apt/keyrings/kubernetes-apt-keyring.gpg"));
    let fpr = server.fingerprint("kubernetes");
    worker(&server, &root)
        .args(["--tags", "k8s-repos", "-e"])
        .arg(format!("kubernetes_apt_key_fingerprint={fpr}"))
        .run()
        .ok();
    assert!(root.exists("etc/apt/sources.list.d/kubernetes.sources"));
}

#[test]
fn netplan_is_validated_before_it_is_written() {
    let server = RepoServer::start();
    let root = Root::new();
    let run = worker(&server, &root)
        .args(["--tags", "network", "-e", "network_prefix=99"])
        .run();
    run.code(2).stdout_has("failed to validate");
    assert!(!root.exists("etc/netplan/01-prov.yaml"));
}

#[test]
fn a_new_worker_takes_one_inventory_entry() {
    let server = RepoServer::start();
    let root = Root::new();
    let p = Project::new();
    let src = repo_root();
    let copy = Command::new("cp")
        .arg("-r")
        .args(["ansible.cfg", "inventory", "playbooks", "roles", "vars"].map(|f| src.join(f)))
        .arg(&p.dir.path)
        .status()
        .unwrap();
    assert!(copy.success());
    let hosts = p.path("inventory/production/hosts.yml");
    let text = std::fs::read_to_string(&hosts).unwrap();
    let entry = "        golyat-3:\n          ansible_host: 192.168.10.106\n          node_ip: 192.168.10.106\n";
    assert!(text.contains(entry));
    let added = text.replace(entry, &format!("{entry}        golyat-4:\n          ansible_host: 192.168.10.107\n          node_ip: 192.168.10.107\n"));
    std::fs::write(&hosts, added).unwrap();
    Prov::apply(&p, "playbooks/worker.yml")
        .args(["--list-hosts", "--limit", "workers"])
        .run()
        .ok()
        .stdout_has("hosts (4):")
        .stdout_has("golyat-4");
    let url = server.url();
    Prov::apply(&p, "playbooks/worker.yml")
        .args(["--limit", "golyat-4", "-e"])
        .arg(format!("kubernetes_apt_base_url={url} crio_apt_base_url={url} user_management_github_keys_url={url}/boxp.keys"))
        .chroot(&root)
        .run()
        .ok();
    assert!(
        root.read("etc/netplan/01-prov.yaml")
            .contains("- 192.168.10.107/24")
    );
    assert!(
        root.read("etc/default/kubelet")
            .contains("--node-ip=192.168.10.107 ")
    );
    let m = std::fs::metadata(root.file("etc/default/kubelet")).unwrap();
    assert_eq!(m.mode() & 0o777, 0o644);
}

use std::process::Command;

#[test]
fn the_playbook_still_passes_ansible_syntax_check() {
    let script = repo_root().join("tests/fixtures/ansible.sh");
    let out = Command::new("sh").arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "installing ansible: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ansible_playbook = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let check = Command::new(&ansible_playbook)
        .current_dir(repo_root())
        .args(["--syntax-check", "playbooks/worker.yml"])
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "ansible-playbook --syntax-check failed:\n{}\n{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    // Ansible and prov read the inventory the same way.
    let inventory = std::path::Path::new(&ansible_playbook).with_file_name("ansible-inventory");
    let theirs = Command::new(inventory)
        .current_dir(repo_root())
        .arg("--list")
        .output()
        .unwrap();
    assert!(
        theirs.status.success(),
        "{}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    let ours = Prov::new()
        .cwd(&repo_root())
        .args(["inventory", "--list"])
        .run();
    let theirs: serde_json::Value = serde_json::from_slice(&theirs.stdout).unwrap();
    let ours = ours.json();
    assert_eq!(ours["_meta"]["hostvars"], theirs["_meta"]["hostvars"]);
    for g in ["workers", "control_plane"] {
        assert_eq!(ours[g]["hosts"], theirs[g]["hosts"], "{g}");
    }
}

#[test]
fn downloads_requests_groups_mounts_and_repo_lines() {
    let server = RepoServer::start();
    let root = Root::new();
    let url = server.url();
    let key_sha = {
        use sha2::Digest;
        let data = std::fs::read(server.dir.join("core:/stable:/v1.32/deb/Release.key")).unwrap();
        format!("{:x}", sha2::Sha256::digest(&data))
    };
    let p = Project::new().file(
        "site.yml",
        &format!(
            r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: download
      get_url: {{url: "{url}/core:/stable:/v1.32/deb/Release.key", dest: /etc/k8s.asc, mode: "0640", checksum: "sha256:{key_sha}"}}
    - name: bad checksum
      get_url: {{url: "{url}/boxp.keys", dest: /etc/never, checksum: "sha256:0000"}}
      ignore_errors: true
      register: bad
    - name: request
      uri: {{url: "{url}/boxp.keys", return_content: true}}
      register: keys
    - name: missing page
      uri: {{url: "{url}/status/404", status_code: [200, 404]}}
      register: missing
    - name: results
      assert:
        that:
          - bad is failed
          - "'did not match' in bad.msg"
          - keys.status == 200
          - keys.content.startswith('ssh-ed25519')
          - missing.status == 404
    - name: group
      group: {{name: kube, gid: 2001}}
    - name: fstab entry
      mount: {{path: /data, src: "UUID=1234", fstype: ext4, state: present}}
    - name: one-line repo
      apt_repository: {{repo: "deb [signed-by=/etc/apt/keyrings/k.gpg] {url}/core:/stable:/v1.32/deb/ /", filename: oneline, update_cache: false}}
"#
        ),
    );
    for _ in 0..2 {
        Prov::apply(&p, "site.yml").chroot(&root).run().ok();
    }
    let again = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    assert_eq!(
        again.tasks_with("localhost", "changed"),
        Vec::<String>::new()
    );
    assert_eq!(
        std::fs::read(root.file("etc/k8s.asc")).unwrap(),
        std::fs::read(server.dir.join("core:/stable:/v1.32/deb/Release.key")).unwrap()
    );
    assert_eq!(root.mode("etc/k8s.asc"), 0o640);
    assert!(!root.exists("etc/never"));
    assert!(sh(&root, "getent group kube").starts_with("kube:x:2001:"));
    assert!(
        root.read("etc/fstab")
            .contains("UUID=1234 /data ext4 defaults 0 0\n")
    );
    assert_eq!(
        root.read("etc/apt/sources.list.d/oneline.list"),
        format!("deb [signed-by=/etc/apt/keyrings/k.gpg] {url}/core:/stable:/v1.32/deb/ /\n")
    );
}

#[test]
fn a_dry_run_of_a_fresh_root_goes_all_the_way() {
    // Ansible's check mode stops at the first task that depends on an earlier one (the keys
    // of a user not created yet, packages from a repository not added yet). prov's dry run
    // carries the predicted users, files and package installs forward: the packages' .debs are
    // fetched (not installed) from the repositories the dry run would have added, so the units
    // they bring are known too.
    let server = RepoServer::start();
    let root = Root::new();
    prepare(&root);
    // apt's update hooks (Docker's docker-clean, Ubuntu's update stamp) must not run in a dry
    // run: the dry run's `apt-get update` clears them.
    root.write(
        "etc/apt/apt.conf.d/99prov-test-hooks",
        "APT::Update::Pre-Invoke { \"touch /var/tmp/pre-invoke\"; };\n\
         APT::Update::Post-Invoke { \"touch /var/tmp/post-invoke\"; };\n\
         APT::Update::Post-Invoke-Success { \"touch /var/tmp/post-invoke-success\"; };\n",
    );
    let before = root.snapshot_with_times();
    let check = worker(&server, &root)
        .args(["--check", "--diff"])
        .json()
        .run();
    check.ok();
    // Nothing of the dry run is left in the root: no file, no apt list or cache, no temp dir,
    // not even a directory's time stamp.
    assert_eq!(
        before.diff(&root.snapshot_with_times()),
        Vec::<String>::new()
    );
    let keys = check.task("golyat-1", "user_management : Authorized keys from GitHub");
    assert_eq!(keys["status"], "changed");
    assert_eq!(
        keys["diff"][1]["after"],
        std::fs::read_to_string(server.dir.join("boxp.keys")).unwrap()
    );
    let units = check.task(
        "golyat-1",
        "kubernetes_components : CRI-O and kubelet start at boot",
    );
    assert_eq!(units["status"], "changed", "{units}");
    let apply = worker(&server, &root).args(["--diff"]).json().run();
    apply.ok();
    assert_same_changes(&check, &apply, "golyat-1");
}

#[test]
fn a_dry_run_plans_against_the_files_of_packages_it_would_install() {
    // Ansible's check mode cannot know them (its apt module installs nothing, so a later stat
    // says the file is missing); prov reads the packages' .debs fetched from the repository the
    // dry run would have added, and later tasks plan against their files.
    let server = RepoServer::start();
    let root = Root::new();
    let url = server.url();
    let p = Project::new().file(
        "site.yml",
        &format!(
            r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: key
      apt_key: {{url: "{url}/core:/stable:/v1.32/deb/Release.key", keyring: /etc/apt/keyrings/k.gpg}}
    - name: repository
      deb822_repository: {{name: k, types: [deb], uris: ["{url}/core:/stable:/v1.32/deb/"], suites: ["/"], signed_by: /etc/apt/keyrings/k.gpg}}
    - name: packages
      apt: {{name: kubelet=1.32.0-1.1, update_cache: true}}
    - name: program
      stat: {{path: /usr/bin/kubelet}}
      register: program
    # The package ships /lib/systemd/system/kubelet.service; /lib is a link to usr/lib here.
    - name: unit by its merged-/usr name
      stat: {{path: /usr/lib/systemd/system/kubelet.service}}
      register: unit
    - name: the program is there
      assert:
        that:
          - program.stat.exists
          - program.stat.mode == '0755'
          - unit.stat.exists
    - name: unit tuned
      lineinfile: {{path: /lib/systemd/system/kubelet.service, line: "Restart=always", insertafter: '^\[Service\]'}}
    - name: unit enabled
      systemd: {{name: kubelet, enabled: true}}
"#
        ),
    );
    let before = root.snapshot();
    let check = Prov::apply(&p, "site.yml")
        .chroot(&root)
        .args(["--check", "--diff"])
        .json()
        .run();
    check.ok();
    assert_eq!(before.diff(&root.snapshot()), Vec::<String>::new());
    let tuned = check.task("localhost", "unit tuned");
    assert!(
        tuned["diff"][0]["before"]
            .as_str()
            .is_some_and(|b| b.contains("ExecStart=/usr/bin/kubelet")),
        "{tuned}"
    );
    let apply = Prov::apply(&p, "site.yml")
        .chroot(&root)
        .arg("--diff")
        .json()
        .run();
    apply.ok();
    assert_same_changes(&check, &apply, "localhost");
    assert_eq!(check.tasks_with("localhost", "changed").len(), 5);
}

/// A dry run is exact: the same tasks change on `host` in the check run as in the apply that
/// follows it, with the same diffs, and the dry run left nothing it could have known unknown.
fn assert_same_changes(check: &common::Run, apply: &common::Run, host: &str) {
    let predicted = check.tasks_with(host, "changed");
    let made = apply.tasks_with(host, "changed");
    assert_eq!(predicted, made, "check vs apply changed tasks");
    let unknown = check.tasks_where(host, |r| r["unknown"] == true);
    assert_eq!(unknown, Vec::new(), "tasks the dry run left unknown");
    for name in &made {
        let (c, a) = (check.task(host, name), apply.task(host, name));
        assert_eq!(c["diff"], a["diff"], "diff of {name}");
        assert_eq!(c["changed"], a["changed"], "{name}");
    }
}

/// The seed's image build: the root is an ext4 image mounted at a directory, so `/` inside is a
/// filesystem root (inode 2) and `/proc/1/root` may be unreadable (as in this sandbox). A
/// `--chroot` target is a chroot by definition: `ansible_is_chroot` is true, the roles take
/// their offline branches, and what a role runs without a `when:` still never reaches the
/// build machine (guarded commands, dropped capabilities, read-only /proc/sys).
#[test]
fn a_mounted_image_root_is_a_chroot_and_the_build_machine_is_never_touched() {
    let server = RepoServer::start();
    let root = Root::ext4_image();
    prepare(&root);
    common::ssh::install_standins(&root);
    let run = worker(&server, &root).json().run();
    run.ok();
    assert_eq!(common::ssh::standin_calls(&root), Vec::<String>::new());
    assert!(
        !run.stdout.contains("prov: refused"),
        "the roles skip their live steps themselves"
    );

    // Live-only actions without a `when:`: each is refused, none reaches a stand-in.
    let p = Project::new().file(
        "live.yml",
        r#"
- hosts: all
  tasks:
    - assert: {that: [ansible_is_chroot, "ansible_facts.is_chroot"]}
    - {name: modprobe, command: modprobe br_netfilter}
    - {name: sysctl, shell: sysctl --system && sysctl -w net.ipv4.ip_forward=1}
    - {name: swap, command: swapoff -a}
    - {name: services, shell: systemctl restart ssh; service ssh reload}
    - {name: netplan, command: netplan apply}
    - {name: mount, command: mount /dev/vdb1 /mnt}
    - {name: enable now, command: systemctl enable --now ssh}
    - name: no capabilities for modules, reboot, clock or network
      shell: grep CapBnd /proc/self/status
      register: caps
    - name: /proc/sys is read-only
      shell: v=$(cat /proc/sys/kernel/printk_ratelimit); echo "$v" > /proc/sys/kernel/printk_ratelimit
      register: procsys
      failed_when: "'Read-only file system' not in procsys.stderr"
    - name: the modules skip their live parts
      modprobe: {name: overlay, state: present}
    - name: no disk of the build machine in /dev, the harmless devices there
      shell: test -z "$(find /dev -type b)" && test -c /dev/null && test -c /dev/urandom && test -d /dev/pts && echo ok > /dev/null
"#,
    );
    let run = Prov::apply(&p, "live.yml").chroot(&root).json().run();
    run.ok();
    assert_eq!(common::ssh::standin_calls(&root), Vec::<String>::new());
    for task in ["modprobe", "sysctl", "swap", "services", "netplan", "mount"] {
        let t = run.task("localhost", task);
        assert!(
            t["result"]["stderr"]
                .as_str()
                .unwrap_or_default()
                .contains("prov: refused in a chroot"),
            "{task}: {t}"
        );
    }
    assert!(
        root.exists("etc/systemd/system/multi-user.target.wants/ssh.service"),
        "enable --now still enables"
    );
    let caps = run.task(
        "localhost",
        "no capabilities for modules, reboot, clock or network",
    );
    let hex = caps["result"]["stdout"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_string();
    let bits = u64::from_str_radix(&hex, 16).unwrap();
    for cap in [12, 16, 22, 25] {
        assert_eq!(bits & (1 << cap), 0, "capability {cap} kept: {hex}");
    }
    assert!(
        root.mounts_inside().is_empty(),
        "{:?}",
        root.mounts_inside()
    );
}
