//! The chroot target itself: preparation (proc/sys/dev/tmpfs run, resolv.conf, policy-rc.d),
//! cleanup on success, failure and Ctrl-C, facts read from the root, sshd hardening validated
//! inside the root, systemd units enabled offline and restarts skipped.

mod common;

use std::time::{Duration, Instant};

use common::{Project, Prov, Root};

#[test]
fn sshd_hardening_is_validated_inside_the_root() {
    let root = Root::new();
    root.write(
        "etc/ssh/sshd_config.d/50-cloud-init.conf",
        "PasswordAuthentication yes\n",
    );
    let p = Project::new().file(
        "ssh.yml",
        r#"
- hosts: all
  tasks:
    - name: harden
      lineinfile:
        path: /etc/ssh/sshd_config
        regexp: "{{ item.regexp }}"
        line: "{{ item.line }}"
        validate: sshd -t -f %s
      loop:
        - { regexp: '^#?PermitRootLogin', line: 'PermitRootLogin no' }
        - { regexp: '^#?PubkeyAuthentication', line: 'PubkeyAuthentication yes' }
      notify: Restart SSH service
    - name: early drop-in wins over cloud-init
      copy:
        dest: /etc/ssh/sshd_config.d/00-prov-hardening.conf
        content: "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        validate: sshd -t -f %s
      notify: Restart SSH service
    - name: ssh enabled
      systemd: {name: ssh, enabled: true}
  handlers:
    - name: Restart SSH service
      systemd: {name: ssh, state: restarted}
"#,
    );
    let run = Prov::apply(&p, "ssh.yml").chroot(&root).run();
    run.ok()
        .stdout_has("RUNNING HANDLER [Restart SSH service]")
        // The handler's restart is skipped in the chroot: the reason once, not `(skipped (chroot))`.
        .stdout_has("\nskipping: [localhost] (chroot)\n");
    let cfg = root.read("etc/ssh/sshd_config");
    assert!(
        cfg.contains("\nPermitRootLogin no\n") && cfg.contains("\nPubkeyAuthentication yes\n"),
        "{cfg}"
    );
    let effective = root.sh("sshd -T");
    let t = String::from_utf8_lossy(&effective.stdout).to_string();
    assert!(
        t.contains("permitrootlogin no")
            && t.contains("passwordauthentication no")
            && t.contains("kbdinteractiveauthentication no"),
        "sshd -T: {t}{}",
        String::from_utf8_lossy(&effective.stderr)
    );
    // Applied again: nothing changes and no handler runs.
    let again = Prov::apply(&p, "ssh.yml").chroot(&root).json().run();
    again.ok();
    assert_eq!(again.stats("localhost")["changed"], 0);
    assert!(
        !again.stdout.contains("\"handler\": true"),
        "no handler runs when nothing changed"
    );

    // A bad line is rejected by validate and the file is left exactly as it was.
    let before = root.read("etc/ssh/sshd_config");
    let bad = Project::new().file(
        "bad.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - lineinfile: {path: /etc/ssh/sshd_config, regexp: '^PermitRootLogin', line: 'PermitRootLogin banana', validate: 'sshd -t -f %s'}\n",
    );
    let run = Prov::apply(&bad, "bad.yml").chroot(&root).run();
    run.code(2).stdout_has("failed to validate");
    assert_eq!(root.read("etc/ssh/sshd_config"), before);
    let leftovers: Vec<_> = std::fs::read_dir(root.file("etc/ssh"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".prov_tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left behind");
    assert!(root.mounts_inside().is_empty());
}

#[test]
fn preparation_is_visible_inside_and_gone_after() {
    let root = Root::new();
    // An Ubuntu-style resolv.conf: a link to systemd-resolved's stub under /run.
    std::fs::remove_file(root.file("etc/resolv.conf")).unwrap();
    std::os::unix::fs::symlink(
        "../run/systemd/resolve/stub-resolv.conf",
        root.file("etc/resolv.conf"),
    )
    .unwrap();
    root.write("etc/hostname", "golyat-1\n");
    let before = root.snapshot();
    let p = Project::new().file(
        "inspect.yml",
        r#"
- hosts: all
  tasks:
    - name: facts come from the root
      assert:
        that:
          - ansible_is_chroot
          - ansible_facts['is_chroot']
          - ansible_distribution == 'Debian'
          - ansible_distribution_release == 'bookworm'
          - ansible_os_family == 'Debian'
          - ansible_architecture == 'x86_64'
          - ansible_hostname == 'golyat-1'
          - ansible_service_mgr == 'systemd'
    - name: look inside
      shell: |
        set -e
        test -x /usr/sbin/policy-rc.d
        /usr/sbin/policy-rc.d || echo "policy=$?"
      register: policy
      failed_when: "'policy=101' not in policy.stdout"
      check_mode: false
    - name: resolv.conf resolves
      command: cat /etc/resolv.conf
      check_mode: false
    - name: run is a fresh tmpfs with sshd dir
      shell: test -d /run/sshd && test -d /run/lock && grep -q ' /run tmpfs' /proc/mounts && test -e /dev/null && test -d /proc/1
      check_mode: false
"#,
    );
    Prov::apply(&p, "inspect.yml").chroot(&root).run().ok();
    assert!(
        root.mounts_inside().is_empty(),
        "{:?}",
        root.mounts_inside()
    );
    assert_eq!(
        before.diff(&root.snapshot()),
        Vec::<String>::new(),
        "the run must leave the root as it found it"
    );
}

#[test]
fn mounts_are_undone_after_a_failure_and_after_ctrl_c() {
    let root = Root::new();
    let p = Project::new()
        .file("fail.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: /bin/false\n")
        .file("slow.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: sleep 30\n    - name: never reached\n      command: touch /never\n");
    Prov::apply(&p, "fail.yml").chroot(&root).run().code(2);
    assert!(root.mounts_inside().is_empty());
    assert!(!root.exists("usr/sbin/policy-rc.d"));

    let child = common::isolate(&mut std::process::Command::new(env!("CARGO_BIN_EXE_prov")))
        .current_dir(&p.dir.path)
        .args(["apply", "slow.yml", "--chroot"])
        .arg(&root.path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the command runs inside the root (this root: another process's `sleep 300`
    // must not count), then interrupt.
    let start = Instant::now();
    while !std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            std::fs::read_to_string(e.path().join("cmdline")).is_ok_and(|c| c == "sleep\x0030\x00")
                && std::fs::read_link(e.path().join("root")).is_ok_and(|r| r == root.path)
        })
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the sleep never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(25),
        "Ctrl-C must stop the run promptly"
    );
    assert_eq!(
        out.status.code(),
        Some(99),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Interrupted"));
    assert!(!root.exists("never"));
    assert!(root.mounts_inside().is_empty());
    assert!(!root.exists("usr/sbin/policy-rc.d"));
}

#[test]
fn chroot_needs_exactly_one_host() {
    let root = Root::new();
    let p = Project::new()
        .file("hosts.yml", "all:\n  children:\n    workers:\n      hosts:\n        golyat-1: {node_ip: 192.168.10.101}\n        golyat-2: {node_ip: 192.168.10.105}\n")
        .file("pb.yml", "- hosts: workers\n  gather_facts: false\n  tasks:\n    - copy: {dest: /etc/node_ip, content: \"{{ node_ip }}\\n\"}\n");
    Prov::apply(&p, "pb.yml")
        .args(["-i", "hosts.yml"])
        .chroot(&root)
        .run()
        .code(5)
        .stderr_has("exactly one host");
    // With --limit, golyat-1's root is built with golyat-1's inventory variables.
    Prov::apply(&p, "pb.yml")
        .args(["-i", "hosts.yml", "--limit", "golyat-1"])
        .chroot(&root)
        .run()
        .ok()
        .stdout_has("changed: [golyat-1]");
    assert_eq!(root.read("etc/node_ip"), "192.168.10.101\n");
}

#[test]
fn inventory_chroot_hosts_and_playbook_group_vars() {
    // A host whose connection is a chroot directory (community.general.chroot, ansible_host
    // is the directory), without --chroot: the mounts are undone explicitly at the end.
    let root = Root::new();
    let inventory = format!(
        "all:\n  children:\n    images:\n      hosts:\n        img1:\n          ansible_connection: community.general.chroot\n          ansible_host: {}\n",
        root.path.display()
    );
    let p = Project::new()
        .file("inventory/hosts.yml", &inventory)
        .file("playbooks/group_vars/images.yml", "motd_text: from playbook group_vars\n")
        .file("playbooks/site.yml", "- hosts: images\n  tasks:\n    - copy: {dest: /etc/motd, content: \"{{ motd_text }} on {{ ansible_distribution }}\\n\"}\n");
    Prov::apply(&p, "playbooks/site.yml")
        .args(["-i", "inventory/hosts.yml"])
        .run()
        .ok()
        .stdout_has("changed: [img1]");
    assert_eq!(
        root.read("etc/motd"),
        "from playbook group_vars on Debian\n"
    );
    assert!(
        root.mounts_inside().is_empty(),
        "{:?}",
        root.mounts_inside()
    );
    assert!(!root.exists("usr/sbin/policy-rc.d"));
}

#[test]
fn edits_keep_owner_and_mode_and_backups_are_taken() {
    let root = Root::new();
    root.write("etc/app.conf", "a=1\n");
    std::fs::set_permissions(
        root.file("etc/app.conf"),
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();
    std::os::unix::fs::chown(root.file("etc/app.conf"), Some(0), Some(4)).unwrap();
    let p = Project::new().file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - lineinfile: {path: /etc/app.conf, line: b=2, backup: true}\n      register: edit\n    - copy: {dest: /etc/backup-name, content: \"{{ edit.backup_file | default('none') }}\"}\n",
    );
    Prov::apply(&p, "site.yml").chroot(&root).run().ok();
    assert_eq!(root.read("etc/app.conf"), "a=1\nb=2\n");
    assert_eq!(root.mode("etc/app.conf"), 0o640);
    assert_eq!(root.owner("etc/app.conf"), (0, 4));
    let backup = root.read("etc/backup-name");
    assert!(
        backup.starts_with("/etc/app.conf.") && backup.ends_with('~'),
        "{backup}"
    );
    assert_eq!(root.read(&backup), "a=1\n");
}

#[test]
fn probes_as_another_user_and_of_pseudo_files() {
    // Read-only probes run as the become user (here `nobody`, who cannot write root's scratch
    // space), and /proc files whose stat size (0) is not their content's.
    let root = Root::new();
    let p = Project::new().file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: as nobody\n      apt: {name: dpkg, state: present}\n      become: true\n      become_user: nobody\n    - name: pseudo file\n      slurp: {src: /proc/sys/kernel/ostype}\n      register: ostype\n    - assert: {that: \"(ostype.content | b64decode) == 'Linux\\n'\"}\n",
    );
    let run = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    run.ok();
    assert_eq!(run.task("localhost", "as nobody")["status"], "ok");
}

#[test]
fn package_is_apt_on_debian_and_says_so_elsewhere() {
    // Ansible's generic `package` runs as apt where the host has apt-get, with the same
    // arguments; on a host without it, the task fails naming what it has.
    let root = Root::new();
    let p = Project::new().file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: installed\n      ansible.builtin.package: {name: [dpkg, perl-base], state: present}\n    - name: absent already\n      package: {name: no-such-package-prov, state: absent, use: auto}\n",
    );
    let run = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    run.ok();
    assert_eq!(run.task("localhost", "installed")["status"], "ok");
    assert_eq!(run.task("localhost", "absent already")["status"], "ok");
    std::fs::rename(
        root.file("usr/bin/apt-get"),
        root.file("usr/bin/apt-get.hidden"),
    )
    .unwrap();
    let run = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    run.code(2);
    let task = run.task("localhost", "installed");
    assert_eq!(task["status"], "failed");
    assert!(
        task["msg"]
            .as_str()
            .unwrap()
            .contains("no package manager found"),
        "{task}"
    );
}

#[test]
fn apt_marks_a_dependency_it_is_given_as_manually_installed() {
    // Ansible's apt leaves every package it was given marked manual (so autoremove keeps it),
    // also one that was already installed as a dependency, and reports no change for that
    // (ansible-core 2.19: changed=false); its dry run does not mark it.
    let root = Root::new();
    let p = Project::new().file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: keep adduser\n      apt: {name: adduser, state: present}\n",
    );
    let showauto = || {
        let out = std::process::Command::new("chroot")
            .arg(root.file(""))
            .args(["apt-mark", "showauto", "adduser"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        showauto(),
        "adduser\n",
        "the test root installs adduser as a dependency"
    );
    let run = Prov::apply(&p, "site.yml")
        .chroot(&root)
        .args(["--check", "--diff"])
        .json()
        .run();
    run.ok();
    assert_eq!(run.task("localhost", "keep adduser")["status"], "ok");
    assert_eq!(showauto(), "adduser\n");
    let run = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    run.ok();
    assert_eq!(run.task("localhost", "keep adduser")["status"], "ok");
    assert_eq!(showauto(), "");
    let run = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    run.ok();
    assert_eq!(run.task("localhost", "keep adduser")["status"], "ok");
}

#[test]
fn user_password_ageing_is_set_with_chage_once() {
    let root = Root::new();
    let p = Project::new().file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: ageing\n      user: {name: ager, password_expire_max: 90, password_expire_min: 1, password_expire_warn: 14}\n",
    );
    let run = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    run.ok();
    assert_eq!(run.task("localhost", "ageing")["status"], "changed");
    let shadow = root.read("etc/shadow");
    let line = shadow.lines().find(|l| l.starts_with("ager:")).unwrap();
    let f: Vec<&str> = line.split(':').collect();
    assert_eq!((f[3], f[4], f[5]), ("1", "90", "14"), "{line}");
    let run = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    run.ok();
    assert_eq!(run.task("localhost", "ageing")["status"], "ok");
}

#[test]
fn reboot_is_skipped_in_a_chroot() {
    let root = Root::new();
    let p = Project::new().file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: reboot\n      reboot: {}\n",
    );
    let run = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    run.ok();
    let r = run.task("localhost", "reboot");
    assert_eq!(r["status"], "skipped", "{r}");
    assert_eq!(r["msg"], "skipped (chroot)");
}

/// The README's `examples/demo.sh examples/site.yml`: the demo with a playbook of one's own,
/// on an overlay of the test root. A chroot is one host and the repository's inventory has
/// six, so the demo provisions every playbook as golyat-1: a dry run, the apply, then a
/// re-apply that changes nothing.
#[test]
fn the_demo_runs_another_playbook_as_golyat_1() {
    let out = common::isolate(&mut std::process::Command::new(
        common::repo_root().join("examples/demo.sh"),
    ))
    .arg("examples/site.yml")
    .env("PROV_BIN", env!("CARGO_BIN_EXE_prov"))
    .env("NO_COLOR", "1")
    .output()
    .expect("examples/demo.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n--- stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (first, again) = stdout
        .split_once("== re-apply: nothing to change ==")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(first.contains("== dry run (prov check) =="), "{stdout}");
    assert!(first.contains("changed: [golyat-1]"), "{stdout}");
    assert!(
        again.contains("golyat-1") && again.contains("changed=0") && !again.contains("changed:"),
        "{again}"
    );
}
