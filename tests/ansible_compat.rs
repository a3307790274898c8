//! Idioms of real-world Ansible roles, run as ansible-playbook runs them. Each expected value
//! below is what ansible-core 2.19 (the test fixtures' venv) printed for the same playbook;
//! the comment on each test says so where the behaviour is surprising.

mod common;

use common::{Project, Prov, Root};

fn msg(run: &common::Run, host: &str, task: &str) -> serde_json::Value {
    run.task(host, task)["result"]["msg"].clone()
}

/// Ansible takes the string constants inside `{{ }}` of a YAML string raw (YAML already
/// unescaped them), so `'\\1'` in a double-quoted YAML string is a back-reference, not 0x01.
/// Statements (`{% %}`) and conditions keep Jinja's escapes.
#[test]
fn backslashes_in_expressions_are_taken_as_ansible_takes_them() {
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: localhost
  gather_facts: false
  vars:
    v: "OpenSSH_9.2p1 Debian"
    a: "{{ v | regex_replace('^OpenSSH_([0-9]*.[0-9]).*', '\\1') }}"
    b: '{{ v | regex_replace("^OpenSSH_([0-9]*.[0-9]).*", "\1") }}'
    c: "x\\3 {{ 'it\\'s' }} {{ \"a\\\\b\" }}"
    d: '{{ "tab\there" }}|{% set t = "q\tz" %}{{ t }}'
    e: "{{ v is match('^Open\\w+') }}"
  tasks:
    - name: values
      debug: msg="{{ [a, b, c, d, e] | to_json }}"
    - name: condition
      debug: msg=ok
      when: v is search("\\d")
"#,
    );
    let r = Prov::apply(&p, "site.yml")
        .args(["-i", "localhost,", "-c", "local"])
        .json()
        .run();
    r.ok();
    assert_eq!(
        msg(&r, "localhost", "values"),
        r#"["9.2", "9.2", "x\\3 it\\'s a\\\\b", "tab\\there|q\tz", true]"#
    );
    assert_eq!(msg(&r, "localhost", "condition"), "ok");
}

/// How roles pick per-distribution files: `with_first_found` over `include_vars` looks in the
/// role's `vars/`, `lookup('first_found', {files, paths})` relative to the role (not under
/// `files/`: ansible-core 2.19 looks there only for `with_` on a file action), `skip: true`
/// gives no item (the task is skipped), and a missing file without it is an error.
#[test]
fn first_found_picks_per_distribution_files() {
    let p = Project::new()
        .file("roles/r/vars/Debian.yml", "who: debian\n")
        .file("roles/r/vars/default.yml", "who: default\n")
        .file("roles/r/files/motd-default", "x\n")
        .file(
            "roles/r/tasks/main.yml",
            r#"
- name: vars by distribution
  include_vars: "{{ item }}"
  with_first_found:
    - "{{ distro }}-12.yml"
    - "{{ distro }}.yml"
    - default.yml
- name: found
  debug: {msg: "{{ who }}"}
- name: as a lookup
  debug:
    msg: "{{ lookup('first_found', {'files': [distro ~ '.yml', 'default.yml'], 'paths': ['vars']}) | basename }}"
- name: a file under files/
  debug: {msg: "{{ lookup('first_found', ['files/motd-' ~ distro, 'files/motd-default']) | basename }}"}
- name: not under files/ as a lookup
  debug: {msg: "{{ lookup('first_found', ['motd-default'], errors='ignore') is none }}"}
- name: nothing found, skip
  include_vars: "{{ item }}"
  with_first_found:
    - files: [nope.yml]
      skip: true
"#,
        )
        .file("site.yml", "- hosts: localhost\n  gather_facts: false\n  roles: [r]\n");
    let run = |distro: &str| {
        Prov::apply(&p, "site.yml")
            .args(["-i", "localhost,", "-c", "local", "-e"])
            .arg(format!("distro={distro}"))
            .json()
            .run()
    };
    let r = run("Debian");
    r.ok();
    assert_eq!(msg(&r, "localhost", "r : found"), "debian");
    assert_eq!(msg(&r, "localhost", "r : as a lookup"), "Debian.yml");
    assert_eq!(
        msg(&r, "localhost", "r : a file under files/"),
        "motd-default"
    );
    assert_eq!(
        msg(&r, "localhost", "r : not under files/ as a lookup"),
        true
    );
    assert_eq!(
        r.task("localhost", "r : nothing found, skip")["status"],
        "skipped"
    );
    let r = run("Arch");
    r.ok();
    assert_eq!(msg(&r, "localhost", "r : found"), "default");
    assert_eq!(msg(&r, "localhost", "r : as a lookup"), "default.yml");

    let p = Project::new().file(
        "site.yml",
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: none\n      include_vars: \"{{ item }}\"\n      with_first_found: [a.yml, b.yml]\n",
    );
    let r = Prov::apply(&p, "site.yml")
        .args(["-i", "localhost,", "-c", "local"])
        .json()
        .run();
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.task_msg("localhost", "none")
            .contains("No file was found when using first_found"),
        "{}",
        r.stdout
    );
}

/// Ansible evaluates a loop first, but when that fails on an undefined variable it looks at
/// `when`: false skips the task, true reports the loop's error.
#[test]
fn an_undefined_loop_under_a_false_condition_is_skipped() {
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: guarded
      debug: {msg: "{{ item }}"}
      loop: "{{ only_on_redhat_packages }}"
      when: false
    - name: guarded with_items
      debug: {msg: "{{ item }}"}
      with_items: "{{ only_on_redhat_packages }}"
      when: ansible_check_mode and false
    - name: unguarded
      debug: {msg: "{{ item }}"}
      loop: "{{ only_on_redhat_packages }}"
      when: true
"#,
    );
    let r = Prov::apply(&p, "site.yml")
        .args(["-i", "localhost,", "-c", "local"])
        .json()
        .run();
    assert_eq!(r.task("localhost", "guarded")["status"], "skipped");
    assert_eq!(
        r.task("localhost", "guarded with_items")["status"],
        "skipped"
    );
    assert_eq!(r.task("localhost", "unguarded")["status"], "failed");
    assert!(
        r.task_msg("localhost", "unguarded")
            .contains("only_on_redhat_packages"),
        "{}",
        r.stdout
    );
}

/// In check mode a command's items are skipped; `with_subelements` over those results leaves
/// skipped items out (Ansible's subelements lookup), so the dependent task has no items.
/// Groups an earlier task of the dry run would create are known to `user`.
#[test]
fn check_mode_follows_skipped_results_and_predicted_groups() {
    let root = Root::new();
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: list
      command: "echo {{ item }}"
      loop: [a, b]
      register: out
      changed_when: false
    - name: each line
      debug: {msg: "{{ item.1 }}"}
      with_subelements:
        - "{{ out.results }}"
        - stdout_lines
    - name: group
      group: {name: developers}
    - name: user
      user: {name: alice, groups: [developers], shell: /bin/sh}
"#,
    );
    let r = Prov::apply(&p, "site.yml")
        .chroot(&root)
        .args(["--check"])
        .json()
        .run();
    r.ok();
    assert_eq!(r.task("localhost", "user")["status"], "changed");
    assert!(!root.read("etc/group").contains("developers"));
    let r = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    r.ok();
    assert_eq!(r.task("localhost", "user")["status"], "changed");
    let lines = r.task("localhost", "each line");
    assert_eq!(
        lines["result"]["results"].as_array().map(Vec::len),
        Some(2),
        "{lines}"
    );
    // groups: without group: the user's own primary group is no difference (changed=0).
    let r = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    r.ok();
    assert_eq!(r.task("localhost", "user")["status"], "ok", "{}", r.stdout);
}

/// A role's own module in `library/` and a collection module prov does not implement.
const FOREIGN_ROLE: &str = r#"
- name: role library module
  stamp: {path: /etc/stamp, text: hello}
- name: collection module
  community.general.filesize: {path: /etc/app.bin, size: 1024B, mode: "0640"}
- name: module facts
  debug: {msg: "{{ stamp_path }} {{ ansible_facts.stamp_path }} {{ ansible_stamp_size }} {{ ansible_facts.stamp_size }}"}
- name: redhat only
  dnf: {name: httpd}
  when: ansible_facts.os_family == 'RedHat'
- name: redhat only, short name routed to a collection
  selinux: {state: disabled}
  when: false
"#;

/// `library/stamp.py`: writes `text` to `path`, honouring check and diff mode.
const STAMP_MODULE: &str = r#"#!/usr/bin/python3
from ansible.module_utils.basic import AnsibleModule
import os
def main():
    m = AnsibleModule(argument_spec=dict(path=dict(type='path', required=True), text=dict(type='str', required=True)), supports_check_mode=True)
    p, text = m.params['path'], m.params['text'] + '\n'
    before = open(p).read() if os.path.exists(p) else ''
    changed = before != text
    if changed and not m.check_mode:
        with open(p, 'w') as f:
            f.write(text)
    m.exit_json(changed=changed, diff=dict(before=before, after=text), path=p,
                ansible_facts=dict(stamp_path=p, ansible_stamp_size=len(text)))
main()
"#;

/// Modules prov does not implement parse (a RedHat-only task behind a false `when` is just
/// skipped) and run through Ansible's own module code when the controller has ansible-core:
/// same file, idempotent, check mode and diff from the module.
#[test]
fn modules_prov_lacks_run_through_ansibles_code() {
    let python = common::ansible_python();
    let python = python.to_str().unwrap();
    let root = Root::new();
    let p = Project::new()
        .file("roles/r/library/stamp.py", STAMP_MODULE)
        .file("roles/r/tasks/main.yml", FOREIGN_ROLE)
        .file("site.yml", "- hosts: all\n  roles: [r]\n");
    let run = |check: bool| {
        let mut prov = Prov::apply(&p, "site.yml")
            .chroot(&root)
            .env("PROV_ANSIBLE_PYTHON", python)
            .json();
        if check {
            prov = prov.args(["--check", "--diff"]);
        }
        let r = prov.run();
        r.ok();
        r
    };
    let r = run(true);
    assert_eq!(
        r.task("localhost", "r : role library module")["status"],
        "changed"
    );
    assert_eq!(
        r.task("localhost", "r : collection module")["status"],
        "changed"
    );
    let diff = &r.task("localhost", "r : role library module")["diff"][0];
    assert_eq!(diff["after"], "hello\n", "{diff}");
    assert!(!root.exists("etc/stamp") && !root.exists("etc/app.bin"));
    assert_eq!(r.task("localhost", "r : redhat only")["status"], "skipped");
    // Facts a module returns: unprefixed ones are also variables of their own name.
    assert_eq!(
        msg(&r, "localhost", "r : module facts"),
        "/etc/stamp /etc/stamp 6 6"
    );
    let r = run(false);
    assert_eq!(root.read("etc/stamp"), "hello\n");
    // filesize: 1024 zero bytes.
    let data = std::fs::read(root.file("etc/app.bin")).unwrap();
    assert!(data.len() == 1024 && data.iter().all(|b| *b == 0));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root.file("etc/app.bin"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    assert_eq!(
        r.task("localhost", "r : collection module")["status"],
        "changed"
    );
    let r = run(false);
    for t in ["r : role library module", "r : collection module"] {
        assert_eq!(r.task("localhost", t)["status"], "ok", "{t}: {}", r.stdout);
    }
    // -v names the module that ran in prov's place.
    let out = Prov::apply(&p, "site.yml")
        .chroot(&root)
        .env("PROV_ANSIBLE_PYTHON", python)
        .args(["-v"])
        .run();
    assert!(
        out.stdout
            .contains("(ansible module community.general.filesize)"),
        "{}",
        out.stdout
    );
}

/// Without ansible-core on the controller, such a task fails when it runs and says why; the
/// rest of the play still parsed and ran.
#[test]
fn without_ansible_a_foreign_module_fails_clearly() {
    let p = Project::new().file(
        "site.yml",
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: before\n      debug: {msg: hi}\n    - name: foreign\n      community.general.filesize: {path: /tmp/x.bin, size: 1024B}\n",
    );
    let r = Prov::apply(&p, "site.yml")
        .args(["-i", "localhost,", "-c", "local"])
        .env("PROV_ANSIBLE_PYTHON", "/nonexistent/python3")
        .env("PATH", "/nonexistent")
        .json()
        .run();
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert_eq!(r.task("localhost", "before")["status"], "ok");
    let msg = r.task_msg("localhost", "foreign");
    assert!(
        msg.contains("not implemented by prov") && msg.contains("ansible-core"),
        "{msg}"
    );
    // An action that runs on the controller cannot be stood in for by module code.
    let p2 = Project::new().file(
        "site.yml",
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: add\n      fetch: {src: /etc/hostname, dest: /tmp/fetched}\n",
    );
    let r = Prov::apply(&p2, "site.yml")
        .args(["-i", "localhost,", "-c", "local"])
        .json()
        .run();
    assert!(
        r.task_msg("localhost", "add")
            .contains("is an Ansible action that runs on the controller"),
        "{}",
        r.stdout
    );
    // A name Ansible does not know either is still a parse error.
    let p = Project::new().file(
        "site.yml",
        "- hosts: localhost\n  tasks:\n    - nosuch_module_anywhere: {}\n",
    );
    let r = Prov::apply(&p, "site.yml")
        .args(["-i", "localhost,", "-c", "local"])
        .run();
    assert!(
        r.stderr.contains("is not a module or task keyword"),
        "{}",
        r.stderr
    );
}

/// `ansible_connection` is defined for every connection (Ansible's play context sets it):
/// `chroot` under `--chroot`, the `-c` or play connection, else the host's own or `ssh`;
/// `ansible_role_name` inside a role.
#[test]
fn connection_and_role_name_variables_are_defined() {
    let p = Project::new()
        .file("roles/web/tasks/main.yml", "- name: role\n  debug: {msg: \"{{ ansible_role_name }}\"}\n")
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  roles: [web]\n  tasks:\n    - name: conn\n      debug: {msg: \"{{ ansible_connection }}\"}\n",
        );
    let root = Root::new();
    let r = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    r.ok();
    assert_eq!(msg(&r, "localhost", "conn"), "chroot");
    assert_eq!(msg(&r, "localhost", "web : role"), "web");
    let r = Prov::apply(&p, "site.yml")
        .args(["-i", "localhost,", "-c", "local"])
        .json()
        .run();
    r.ok();
    assert_eq!(msg(&r, "localhost", "conn"), "local");
    let p = p.file(
        "hosts.yml",
        "all:\n  hosts:\n    box: {ansible_connection: local}\n",
    );
    let r = Prov::apply(&p, "site.yml")
        .args(["-i", "hosts.yml"])
        .json()
        .run();
    r.ok();
    assert_eq!(msg(&r, "box", "conn"), "local");
}

/// Python's regular expressions: look-ahead and look-behind in `regexp` options and the regex
/// filters, as hardening roles use them (Ansible's results).
#[test]
fn python_regular_expressions_with_look_around() {
    let root = Root::new();
    root.write(
        "etc/demo.conf",
        "#PermitRootLogin yes\nPermitRootLogin yes\nPort 22\n",
    );
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: not the comment
      lineinfile: {path: /etc/demo.conf, regexp: '^(?!#)\s*PermitRootLogin', line: PermitRootLogin no}
    - name: after the word
      debug: {msg: "{{ 'Port 22' | regex_replace('(?<=Port )\\d+', '2222') }}"}
    - name: backreference
      debug: {msg: "{{ 'aa-bb-cd' | regex_findall('(\\w)\\1') }}"}
"#,
    );
    let r = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    r.ok();
    assert_eq!(
        root.read("etc/demo.conf"),
        "#PermitRootLogin yes\nPermitRootLogin no\nPort 22\n"
    );
    assert_eq!(msg(&r, "localhost", "after the word"), "Port 2222");
    assert_eq!(
        msg(&r, "localhost", "backreference"),
        serde_json::json!(["a", "b"])
    );
}

/// `group_by` puts hosts into groups made from their variables; a later play targets the
/// group, and `groups`/`group_names` show it (Ansible's behaviour).
#[test]
fn group_by_makes_groups_later_plays_target() {
    let p = Project::new()
        .file(
            "hosts.yml",
            "all:\n  hosts:\n    a: {ansible_connection: local, tier: web}\n    b: {ansible_connection: local, tier: db}\n",
        )
        .file(
            "site.yml",
            r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: group
      group_by: {key: "tier_{{ tier }}", parents: [tiers]}
    - name: names
      debug: {msg: "{{ group_names }}"}
- hosts: tier_web
  gather_facts: false
  tasks:
    - name: only web
      debug: {msg: "{{ groups['tier_db'] }} {{ groups['tiers'] | default('none') }}"}
"#,
        );
    let r = Prov::apply(&p, "site.yml")
        .args(["-i", "hosts.yml"])
        .json()
        .run();
    r.ok();
    assert_eq!(
        msg(&r, "a", "names"),
        serde_json::json!(["tier_web", "tiers"])
    );
    assert_eq!(msg(&r, "a", "only web"), "['b'] ['a', 'b']");
    assert!(
        !r.tasks_with("b", "ok").iter().any(|t| t == "only web"),
        "{}",
        r.stdout
    );
}

/// `delegate_facts: true`: facts a delegated task sets belong to the delegate (Ansible's
/// behaviour); without it they stay with the host.
#[test]
fn delegate_facts_give_facts_to_the_delegate() {
    let p = Project::new()
        .file(
            "hosts.yml",
            "all:\n  hosts:\n    a: {ansible_connection: local}\n    b: {ansible_connection: local}\n",
        )
        .file(
            "site.yml",
            r#"
- hosts: a
  gather_facts: false
  tasks:
    - set_fact: {given: from_a}
      delegate_to: b
      delegate_facts: true
    - set_fact: {kept: on_a}
      delegate_to: b
- hosts: all
  gather_facts: false
  tasks:
    - name: show
      debug: {msg: "{{ given | default('-') }} {{ kept | default('-') }}"}
"#,
        );
    let r = Prov::apply(&p, "site.yml")
        .args(["-i", "hosts.yml"])
        .json()
        .run();
    r.ok();
    assert_eq!(msg(&r, "a", "show"), "- on_a");
    assert_eq!(msg(&r, "b", "show"), "from_a -");
}

/// `notify` on a block: its tasks notify the handler when they change (geerlingguy.docker).
#[test]
fn a_block_may_notify() {
    let root = Root::new();
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - block:
        - name: write
          copy: {dest: /etc/block-notify, content: "x\n"}
        - name: own
          copy: {dest: /etc/block-own, content: "y\n"}
          notify: other
      notify: restart
  handlers:
    - name: restart
      copy: {dest: /etc/handler-ran, content: "restart\n"}
    - name: other
      copy: {dest: /etc/other-ran, content: "other\n"}
"#,
    );
    let r = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    r.ok();
    assert_eq!(root.read("etc/handler-ran"), "restart\n");
    assert_eq!(root.read("etc/other-ran"), "other\n");
}

/// add_host runs once per task (a loop adds one host per item), is changed only when the
/// inventory changes, and later plays target the new hosts with their groups and variables.
/// ansible-core 2.19 printed the same statuses and messages for this playbook.
#[test]
fn add_host_grows_the_inventory_for_later_plays() {
    let p = Project::new().file(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: add
      add_host: {name: "box{{ item }}", groups: [web, "tier{{ item }}"], ansible_connection: local, role: "r{{ item }}"}
      loop: [1, 2]
    - name: again
      add_host: {name: box1, groups: web, ansible_connection: local, role: r1}
    - name: more vars
      add_host: {name: box1, extra: true}
    - name: seen
      debug: msg="{{ groups['web'] | sort | join(',') }} {{ hostvars['box2']['role'] }} {{ groups['tier1'] }}"
- hosts: web
  gather_facts: false
  tasks:
    - name: each
      debug: msg="{{ inventory_hostname }} {{ role }} {{ group_names | sort | join(',') }}"
"#,
    );
    let r = Prov::apply(&p, "site.yml")
        .args(["-i", "localhost,"])
        .json()
        .run();
    r.ok();
    let status = |host: &str, task: &str| r.task(host, task)["status"].clone();
    assert_eq!(status("localhost", "add"), "changed");
    assert_eq!(status("localhost", "again"), "ok");
    assert_eq!(status("localhost", "more vars"), "changed");
    assert_eq!(msg(&r, "localhost", "seen"), "box1,box2 r2 ['box1']");
    assert_eq!(msg(&r, "box1", "each"), "box1 r1 tier1,web");
    assert_eq!(msg(&r, "box2", "each"), "box2 r2 tier2,web");
    assert_eq!(r.stats("box2")["ok"], 1);
}
