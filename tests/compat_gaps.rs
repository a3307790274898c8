//! The gaps the compatibility corpus found (bench/compat/RESULTS.md), each on its smallest play
//! against a real Debian root used with `--chroot`. Every expectation is what ansible-core 2.19
//! (the fixtures' venv) did with the same play; the comment on each test says what that was.

mod common;

use common::{Project, Prov, RepoServer, Root};

fn play(tasks: &str) -> Project {
    Project::new().file(
        "site.yml",
        &format!("- hosts: all\n  gather_facts: false\n  tasks:\n{tasks}"),
    )
}

fn apply(p: &Project, root: &Root) -> common::Run {
    let run = Prov::apply(p, "site.yml").chroot(root).json().run();
    run.ok();
    run
}

/// Ansible's `type='path'` options go through `os.path.expanduser` on the target: `~root` is
/// root's home from passwd, `~` the running user's. A name the target lacks stays as written.
#[test]
fn tilde_paths_are_home_directories() {
    let root = Root::new();
    let p = play(
        r#"    - name: dir
      file: {path: "~root/.ssh", state: directory, mode: "0700"}
    - name: key
      copy: {content: "k\n", dest: "~root/.ssh/id_test", mode: "0600"}
    - name: authorized
      authorized_key:
        user: root
        key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBlqGmt3VZdnzxpGg0d+Qt7sHZk0Y3c2lEhF7y9nH1Qz t"
        path: "~root/.ssh/authorized_keys"
    - name: own home
      lineinfile: {path: "~/.profile-test", line: "x", create: true}
    - name: look
      stat: {path: "~root/.ssh/id_test"}
      register: st
    - name: check
      assert: {that: ["st.stat.exists", "st.stat.path == '/root/.ssh/id_test'"]}
"#,
    );
    let run = apply(&p, &root);
    assert_eq!(root.read("root/.ssh/id_test"), "k\n");
    assert_eq!(root.mode("root/.ssh/id_test") & 0o777, 0o600);
    assert!(root.read("root/.ssh/authorized_keys").contains("AAAAC3Nza"));
    assert_eq!(root.read("root/.profile-test"), "x\n");
    assert!(!root.exists("~root"), "a directory named ~root was made");
    assert_eq!(run.task("localhost", "check")["status"], "ok");
    let again = apply(&p, &root);
    assert_eq!(
        again.stats("localhost")["changed"],
        0,
        "{:?}",
        again.tasks_with("localhost", "changed")
    );
}

/// `key: ""` (a user without keys): Ansible ok, nothing written, not even `~/.ssh`; with
/// `exclusive` too when the file has no keys.
#[test]
fn an_empty_authorized_key_is_no_change() {
    let root = Root::new();
    let p = play(
        r#"    - {name: user, user: {name: web}}
    - {name: empty, authorized_key: {user: web, key: ""}}
    - {name: exclusive, authorized_key: {user: web, key: "", exclusive: true}}
"#,
    );
    let run = apply(&p, &root);
    for task in ["empty", "exclusive"] {
        assert_eq!(run.task("localhost", task)["status"], "ok", "{task}");
    }
    assert!(!root.exists("home/web/.ssh"));
}

/// `apt-transport-https` is a virtual package the installed apt provides (and the only one
/// that does): Ansible's apt takes it as installed (ok), also in check mode.
#[test]
fn a_virtual_package_provided_by_an_installed_one_is_installed() {
    let root = Root::new();
    let p = play("    - {name: virtual, apt: {name: apt-transport-https, state: present}}\n");
    let check = Prov::apply(&p, "site.yml")
        .chroot(&root)
        .arg("--check")
        .json()
        .run();
    check.ok();
    assert_eq!(check.task("localhost", "virtual")["status"], "ok");
    let run = apply(&p, &root);
    assert_eq!(run.task("localhost", "virtual")["status"], "ok");
    // A name nobody provides still fails as before.
    let none = play("    - {name: virtual, apt: {name: no-such-package-prov, state: present}}\n");
    Prov::apply(&none, "site.yml")
        .chroot(&root)
        .run()
        .code(2)
        .stdout_has("No package matching 'no-such-package-prov' is available");
}

/// `service:` hands the systemd module's options on (`daemon_reload`): parsed, and run.
#[test]
fn service_takes_the_service_managers_options() {
    let root = Root::new();
    root.write(
        "etc/systemd/system/prov-test.service",
        "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
    );
    let p = play(
        "    - {name: reload, service: {name: ssh-not-here, daemon_reload: true}, when: false}\n    - {name: enable, service: {name: prov-test, enabled: true, sleep: 1}}\n",
    );
    let run = apply(&p, &root);
    assert_eq!(run.task("localhost", "reload")["status"], "skipped");
    assert_eq!(run.task("localhost", "enable")["status"], "changed");
    assert!(root.exists("etc/systemd/system/multi-user.target.wants/prov-test.service"));
    let bad = play("    - {name: bad, service: {name: x, no_such_option: 1}}\n");
    Prov::apply(&bad, "site.yml")
        .chroot(&root)
        .run()
        .code(2)
        .stdout_has("unsupported parameter 'no_such_option'");
}

/// `password: "!"` and `groups` naming the primary group: Ansible's second run is ok.
#[test]
fn user_lock_passwords_and_primary_groups_are_stable() {
    let root = Root::new();
    let p = play(
        r#"    - {name: carol, user: {name: carol, password: "!"}}
    - {name: dave, user: {name: dave, group: users, groups: [users]}}
"#,
    );
    apply(&p, &root);
    assert!(root.read("etc/group").contains("users:x:100:dave"));
    let again = apply(&p, &root);
    assert_eq!(
        again.stats("localhost")["changed"],
        0,
        "{:?}",
        again.tasks_with("localhost", "changed")
    );
}

/// `apt: update_cache: true` alone: changed when the lists moved, ok when the repository did
/// not change; no stamp file is left (Ansible writes none on Debian).
#[test]
fn a_cache_refresh_is_a_change_only_when_the_lists_move() {
    let server = RepoServer::start();
    let root = Root::new();
    let repo = server.dir.join("core:/stable:/v1.32/deb");
    let key = std::fs::read_to_string(repo.join("Release.key")).unwrap();
    root.write("etc/apt/keyrings/local.asc", &key);
    root.write(
        "etc/apt/sources.list.d/local.list",
        &format!(
            "deb [signed-by=/etc/apt/keyrings/local.asc] {}/core:/stable:/v1.32/deb/ /\n",
            server.url()
        ),
    );
    let p = play("    - {name: refresh, apt: {update_cache: true}}\n");
    let first = apply(&p, &root);
    assert_eq!(first.task("localhost", "refresh")["status"], "changed");
    let second = apply(&p, &root);
    assert_eq!(second.task("localhost", "refresh")["status"], "ok");
    assert!(!root.exists("var/lib/apt/periodic/update-success-stamp"));
    // Ansible's dry run reports the refresh it would make.
    let check = Prov::apply(&p, "site.yml")
        .chroot(&root)
        .arg("--check")
        .json()
        .run();
    check.ok();
    assert_eq!(check.task("localhost", "refresh")["status"], "changed");
}

/// A dry run knows the directory an earlier task would create, also when the task wrote it
/// with a trailing slash (Ansible's dry run reports both changed).
#[test]
fn check_mode_writes_into_a_directory_an_earlier_task_would_make() {
    let root = Root::new();
    let p = play(
        r#"    - {name: dir, file: {path: /etc/ansible/facts.d/, state: directory}}
    - {name: fact, copy: {content: "{}\n", dest: /etc/ansible/facts.d/x.fact}}
"#,
    );
    let run = Prov::apply(&p, "site.yml")
        .chroot(&root)
        .arg("--check")
        .json()
        .run();
    run.ok();
    assert_eq!(run.task("localhost", "fact")["status"], "changed");
    assert!(!root.exists("etc/ansible"));
}

/// ansible-core 2.19: "Conditional result (True) was derived from value of type 'str' ...
/// Conditionals must have a boolean result." `ALLOW_BROKEN_CONDITIONALS` restores the old
/// rule.
#[test]
fn conditions_must_be_booleans() {
    let root = Root::new();
    let p = Project::new().file(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  vars: {group_name: staff, n: 3}
  tasks:
    - name: string
      debug: msg=ran
      when: group_name is defined and group_name
      ignore_errors: true
    - {name: number, debug: msg=ran, when: n, ignore_errors: true}
    - {name: boolean, debug: msg=ran, when: group_name is defined and group_name | length > 0}
"#,
    );
    let run = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    run.ok();
    for (task, ty) in [("string", "str"), ("number", "int")] {
        let r = run.task("localhost", task);
        assert_eq!(r["status"], "failed", "{r}");
        assert!(
            r["msg"].as_str().unwrap().contains(&format!("type '{ty}'")),
            "{r}"
        );
    }
    assert_eq!(run.task("localhost", "boolean")["status"], "ok");
    let old = Prov::apply(&p, "site.yml")
        .chroot(&root)
        .env("ANSIBLE_ALLOW_BROKEN_CONDITIONALS", "true")
        .json()
        .run();
    old.ok();
    assert_eq!(old.task("localhost", "string")["status"], "ok");
}

/// `"{{ n }}\n"` with a number is the number (Jinja drops the newline); a string keeps it.
/// ansible-core 2.19 wrote `3` and `x\n`.
#[test]
fn a_single_number_expression_drops_its_newline() {
    let root = Root::new();
    let p = Project::new().file(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  vars: {n: 3, s: x}
  tasks:
    - {copy: {content: "{{ n }}\n", dest: /tmp/n}}
    - {copy: {content: "{{ s }}\n", dest: /tmp/s}}
"#,
    );
    apply(&p, &root);
    assert_eq!(root.read("tmp/n"), "3");
    assert_eq!(root.read("tmp/s"), "x\n");
}

/// Firewall commands in a chroot would change the build machine's firewall: refused with a
/// message (exit 0, as the other stand-ins), so a firewall role completes with its files.
#[test]
fn firewall_commands_are_refused_in_a_chroot() {
    let root = Root::new();
    let p = play(
        "    - {name: flush, command: iptables -F}\n    - {name: nft, shell: nft flush ruleset || true}\n",
    );
    let run = apply(&p, &root);
    let r = run.task("localhost", "flush");
    assert_eq!(r["status"], "changed", "{r}");
    assert!(
        r["result"]["stderr"]
            .as_str()
            .unwrap()
            .contains("prov: refused in a chroot: iptables -F"),
        "{r}"
    );
}
