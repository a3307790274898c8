//! The core modules against a real Debian root used with `--chroot`: every scenario converges,
//! a second run changes nothing, and check mode predicts exactly the changes apply then makes
//! while modifying nothing at all.

mod common;

use common::{Project, Prov, Root};

const PLAYBOOK: &str = r#"
- hosts: all
  vars:
    app_dir: /srv/app
  tasks:
    - name: app dir
      file: {path: "{{ app_dir }}", state: directory, mode: "0750", owner: root, group: adm}
    - name: config from content
      copy: {dest: "{{ app_dir }}/app.conf", content: "port=8080\n", mode: 0644}
    - name: motd from files
      copy: {src: motd, dest: /etc/motd, mode: "u=rw,g=r,o=r"}
    - name: env from template
      template: {src: app.env.j2, dest: "{{ app_dir }}/app.env", mode: "0600"}
    - name: port line
      lineinfile: {path: "{{ app_dir }}/settings", regexp: '^port=', line: 'port=9090', create: true, mode: "0640"}
    - name: hosts block
      blockinfile: {path: /etc/hosts, block: "192.0.2.10 registry\n192.0.2.11 mirror", create: true}
    - name: fstab header
      replace: {path: /etc/fstab, regexp: '^# UNCONFIGURED FSTAB.*$', replace: '# managed by prov'}
    - name: link
      file: {src: "{{ app_dir }}/app.conf", dest: /etc/app.conf, state: link}
    - name: stamp
      file: {path: "{{ app_dir }}/stamp", state: touch, modification_time: "202001010000.00", access_time: preserve}
    - name: remove issue.net
      file: {path: /etc/issue.net, state: absent}
    - name: stat link
      stat: {path: /etc/app.conf}
      register: st
    - name: check stat
      assert:
        that:
          - st.stat.islnk
          - st.stat.lnk_target == app_dir + '/app.conf'
    - name: slurp
      slurp: {src: "{{ app_dir }}/settings"}
      register: sl
    - name: check slurp
      assert: {that: "'port=9090' in (sl.content | b64decode)"}
    - name: command with creates
      command: touch {{ app_dir }}/created creates={{ app_dir }}/created
    - name: shell with creates
      shell: echo "$((1+2))" > {{ app_dir }}/shell.out
      args: {creates: "{{ app_dir }}/shell.out"}
    - name: enable networkd
      systemd: {name: systemd-networkd, enabled: true}
    - name: computed fact
      set_fact: {computed: "{{ app_dir }}/x"}
    - name: show fact
      debug: {var: computed}
"#;

fn project() -> Project {
    Project::new()
        .file("site.yml", PLAYBOOK)
        .file("files/motd", "Welcome to a prov-managed host\n")
        .file(
            "templates/app.env.j2",
            "# {{ ansible_managed }}\n{% for k in ['a', 'b'] %}\n{{ k | upper }}={{ app_dir }}/{{ k }}\n{% endfor %}\nARCH={{ ansible_architecture }}\n",
        )
}

#[test]
fn modules_converge_then_change_nothing() {
    let root = Root::new();
    let p = project();
    let first = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    first.ok();
    assert!(
        first.stats("localhost")["changed"].as_u64().unwrap() >= 12,
        "{}",
        first.stdout
    );
    assert_eq!(root.mode("srv/app"), 0o750);
    assert_eq!(root.owner("srv/app").1, 4, "group adm");
    assert_eq!(root.read("srv/app/app.conf"), "port=8080\n");
    assert_eq!(root.mode("srv/app/app.conf"), 0o644);
    assert_eq!(root.read("srv/app/settings"), "port=9090\n");
    assert_eq!(root.mode("srv/app/settings"), 0o640);
    assert!(root.read("etc/hosts").ends_with("# BEGIN ANSIBLE MANAGED BLOCK\n192.0.2.10 registry\n192.0.2.11 mirror\n# END ANSIBLE MANAGED BLOCK\n"));
    assert_eq!(root.read("etc/motd"), "Welcome to a prov-managed host\n");
    assert_eq!(root.mode("etc/motd"), 0o644);
    assert_eq!(
        root.read("srv/app/app.env"),
        "# Ansible managed\nA=/srv/app/a\nB=/srv/app/b\nARCH=x86_64\n"
    );
    assert_eq!(root.mode("srv/app/app.env"), 0o600);
    assert!(root.read("etc/fstab").starts_with("# managed by prov"));
    assert_eq!(
        std::fs::read_link(root.file("etc/app.conf"))
            .unwrap()
            .to_str(),
        Some("/srv/app/app.conf")
    );
    assert!(!root.exists("etc/issue.net"));
    assert!(root.exists("srv/app/created"));
    assert_eq!(root.read("srv/app/shell.out"), "3\n");
    assert!(root.exists("etc/systemd/system/multi-user.target.wants/systemd-networkd.service"));
    let mtime = std::fs::metadata(root.file("srv/app/stamp")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::mtime(&mtime), 1577836800);
    assert!(
        root.mounts_inside().is_empty(),
        "mounts left: {:?}",
        root.mounts_inside()
    );
    assert!(!root.exists("usr/sbin/policy-rc.d"));

    let second = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    second.ok();
    assert_eq!(
        second.stats("localhost")["changed"],
        0,
        "second run changed: {:?}",
        second.tasks_with("localhost", "changed")
    );
}

#[test]
fn check_mode_predicts_apply_and_touches_nothing() {
    let root = Root::new();
    let p = project();
    let before = root.snapshot();
    let check = Prov::apply(&p, "site.yml")
        .chroot(&root)
        .args(["--check", "--diff"])
        .json()
        .run();
    check.ok();
    let after = root.snapshot();
    assert_eq!(
        before.diff(&after),
        Vec::<String>::new(),
        "check mode modified the root"
    );
    let predicted = check.tasks_with("localhost", "changed");
    // Diffs are part of the dry run.
    let motd = check.task("localhost", "motd from files");
    assert_eq!(motd["diff"][0]["after"], "Welcome to a prov-managed host\n");

    let apply = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    apply.ok();
    assert_eq!(predicted, apply.tasks_with("localhost", "changed"));
    assert!(root.mounts_inside().is_empty());

    // From the converged state, check mode predicts nothing and still changes nothing.
    let before = root.snapshot();
    let check = Prov::apply(&p, "site.yml")
        .chroot(&root)
        .args(["--check", "--diff"])
        .json()
        .run();
    check.ok();
    assert_eq!(
        check.tasks_with("localhost", "changed"),
        Vec::<String>::new()
    );
    assert_eq!(before.diff(&root.snapshot()), Vec::<String>::new());
}
