//! Playbook semantics, run for real: variable precedence, roles and their directories,
//! blocks, loops, includes and imports, handlers, tags, delegation, environment, become_user,
//! per-task check mode, lookups and magic variables. Tasks that touch files run against a
//! chroot root; pure controller-side checks use the local connection without touching a host.

mod common;

use common::{Project, Prov, Root};

fn msg(run: &common::Run, host: &str, task: &str) -> String {
    run.task(host, task)["result"]["msg"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn variable_precedence_follows_ansible() {
    let p = Project::new()
        .file(
            "inventory/hosts.yml",
            "all:\n  vars: {a: inv_all, b: inv_all}\n  children:\n    parent:\n      vars: {b: inv_parent, c: inv_parent}\n      children:\n        child:\n          vars: {c: inv_child, d: inv_child}\n          hosts:\n            node1: {d: inv_host, e: inv_host}\n",
        )
        .file("inventory/group_vars/child.yml", "c: group_vars_child\n")
        .file("roles/r/defaults/main.yml", "a: role_default\nz: role_default\nlazy: \"{{ e }}-{{ f }}\"\n")
        .file("roles/r/vars/main.yml", "g: role_vars\nh: role_vars\n")
        .file("roles/r/tasks/main.yml", "- name: from role\n  debug: {msg: \"{{ [z, a, b, c, d, e, f, g, h, i, l, lazy] | join(' ') }}\"}\n  vars: {i: task_vars}\n")
        .file("vars/files.yml", "f: vars_files\ng: vars_files\n")
        .file(
            "site.yml",
            r#"
- hosts: node1
  gather_facts: false
  vars: {e: play_vars, f: play_vars, l: play_vars}
  vars_files: [vars/files.yml]
  roles:
    - r
  tasks:
    - set_fact: {k: set_fact, l: set_fact}
    - block:
        - name: outside role
          debug: {msg: "{{ [a, b, c, d, e, f, g, h, j, k, l] | join(' ') }}"}
          vars: {j: task_vars}
      vars: {h: block_vars, j: block_vars}
"#,
        );
    let r = Prov::apply(&p, "site.yml")
        .args([
            "-i",
            "inventory/hosts.yml",
            "-c",
            "local",
            "-e",
            "l=extra_vars",
        ])
        .json()
        .run();
    r.ok();
    assert_eq!(
        msg(&r, "node1", "r : from role"),
        "role_default inv_all inv_parent group_vars_child inv_host play_vars vars_files role_vars role_vars task_vars extra_vars play_vars-vars_files"
    );
    assert_eq!(
        msg(&r, "node1", "outside role"),
        "inv_all inv_parent group_vars_child inv_host play_vars vars_files role_vars block_vars task_vars set_fact extra_vars"
    );
}

#[test]
fn roles_blocks_loops_includes_and_handlers() {
    let root = Root::new();
    let p = Project::new()
        .file("playbooks/site.yml", SITE)
        .file("roles/base/meta/main.yml", "dependencies:\n  - role: common\n    vars: {common_flag: from_base}\n")
        .file("roles/common/tasks/main.yml", "- name: common marker\n  copy: {dest: /etc/common-marker, content: \"{{ common_flag }} {{ role_name }}\\n\"}\n")
        .file("roles/base/defaults/main.yml", "base_packages: [curl, jq]\nbase_motd: \"hello from {{ inventory_hostname }}\"\n")
        .file("roles/base/files/banner", "BANNER\n")
        .file("roles/base/templates/motd.j2", "{{ base_motd }}\n{% for p in base_packages %}\n- {{ p }}\n{% endfor %}\n")
        .file(
            "roles/base/tasks/main.yml",
            "- name: banner\n  copy: {src: banner, dest: /etc/banner}\n  notify: banner changed\n- name: motd\n  template: {src: motd.j2, dest: /etc/motd}\n  notify: [banner changed, motd topic]\n- import_tasks: extra.yml\n",
        )
        .file("roles/base/tasks/extra.yml", "- name: from import\n  file: {path: /etc/base.d, state: directory}\n")
        .file(
            "roles/base/handlers/main.yml",
            "- name: banner changed\n  shell: echo banner >> /var/log/handlers\n- name: motd listener\n  shell: echo motd >> /var/log/handlers\n  listen: motd topic\n",
        )
        .file("playbooks/inc/item.yml", "- name: included for {{ item }}\n  copy: {dest: \"/etc/inc-{{ item }}\", content: \"{{ item }} {{ extra_var }}\\n\"}\n")
        .file("roles/other/tasks/main.yml", "- name: other main\n  copy: {dest: /etc/other-main, content: \"main\\n\"}\n")
        .file("roles/other/tasks/alt.yml", "- name: other alt\n  copy: {dest: /etc/other-alt, content: \"alt {{ role_name }}\\n\"}\n");
    let r = Prov::apply(&p, "playbooks/site.yml")
        .chroot(&root)
        .json()
        .run();
    r.ok();
    assert_eq!(root.read("etc/common-marker"), "from_base common\n");
    assert_eq!(root.read("etc/banner"), "BANNER\n");
    assert_eq!(
        root.read("etc/motd"),
        "hello from localhost\n- curl\n- jq\n"
    );
    assert!(root.file("etc/base.d").is_dir());
    // Each handler ran once, in definition order, after the tasks that notified it.
    assert_eq!(root.read("var/log/handlers"), "banner\nmotd\n");
    // Loops with register, loop_control, and per-item results.
    assert_eq!(root.read("etc/loop-a"), "0:a\n");
    assert_eq!(root.read("etc/loop-b"), "1:b\n");
    assert_eq!(msg(&r, "localhost", "results"), "a=changed b=changed");
    // `"{{ item.value }}\n"` with a number is the number: ansible-core 2.19 writes `1`.
    assert_eq!(root.read("etc/dict-x"), "1");
    // Dynamic include with a loop, and include_role with tasks_from; import_role.
    assert_eq!(root.read("etc/inc-one"), "one included\n");
    assert_eq!(root.read("etc/inc-two"), "two included\n");
    assert_eq!(root.read("etc/other-alt"), "alt other\n");
    assert_eq!(root.read("etc/other-main"), "main\n");
    // Block: the failure is rescued, always runs, the recap counts a rescue.
    assert_eq!(root.read("etc/rescued"), "rescued after: boom\n");
    assert!(root.exists("etc/always"));
    assert!(!root.exists("etc/never"));
    let stats = r.stats("localhost");
    assert_eq!(stats["rescued"], 1);
    assert_eq!(stats["failed"], 0);
    assert_eq!(stats["ignored"], 1);
    // when/changed_when/failed_when.
    assert_eq!(r.task("localhost", "skipped by when")["status"], "skipped");
    assert_eq!(r.task("localhost", "never changed")["status"], "ok");
    assert_eq!(r.task("localhost", "failure ignored")["ignored"], true);
    // delegate_to localhost and run_once.
    assert_eq!(r.task("localhost", "on the controller")["status"], "ok");
    assert_eq!(msg(&r, "localhost", "show controller"), "controller ran");
    // environment and become_user.
    assert_eq!(root.read("etc/env-out"), "play task\n");
    assert_eq!(root.read("tmp/whoami"), "nobody\n");

    let again = Prov::apply(&p, "playbooks/site.yml")
        .chroot(&root)
        .json()
        .run();
    again.ok();
    assert!(
        !again.stdout.contains("RUNNING HANDLER"),
        "no handler runs when nothing changed"
    );
    let changed = again.tasks_with("localhost", "changed");
    // Only the deliberately unconditional tasks change on a second run.
    assert_eq!(
        changed,
        ["rescue it", "always mark", "as nobody"],
        "{changed:?}"
    );
}

const SITE: &str = r#"
- hosts: all
  gather_facts: false
  environment: {PLAY_VAR: play}
  roles:
    - base
  tasks:
    - name: loop with register
      copy: {dest: "/etc/loop-{{ x }}", content: "{{ i }}:{{ x }}\n"}
      loop: [a, b]
      loop_control: {loop_var: x, index_var: i, label: "{{ x }}"}
      register: looped
    - name: results
      debug: {msg: "{{ looped.results | map(attribute='x') | zip(looped.results | map(attribute='changed') | map('ternary', 'changed', 'ok')) | map('join', '=') | join(' ') }}"}
      when: looped is changed
    - name: dict loop
      copy: {dest: "/etc/dict-{{ item.key }}", content: "{{ item.value }}\n"}
      with_dict: {x: 1}
    - include_tasks: inc/item.yml
      loop: [one, two]
      vars: {extra_var: included}
    - include_role: {name: other, tasks_from: alt}
    - import_role: {name: other}
    - name: guarded
      block:
        - name: fail then rescue
          shell: echo boom >&2; exit 3
        - name: not reached
          copy: {dest: /etc/never, content: x}
      rescue:
        - name: rescue it
          shell: 'echo "rescued after: {{ ansible_failed_result.stderr | default(''?'') }}" > /etc/rescued'
      always:
        - name: always mark
          file: {path: /etc/always, state: touch}
    - name: skipped by when
      debug: msg=never
      when:
        - true
        - inventory_hostname == 'nobody-here'
    - name: never changed
      command: cat /etc/os-release
      changed_when: false
    - name: failure ignored
      command: /bin/false
      ignore_errors: true
    - name: on the controller
      command: echo controller ran
      delegate_to: localhost
      run_once: true
      register: ctl
      changed_when: false
    - name: show controller
      debug: {msg: "{{ ctl.stdout }}"}
    - name: env
      shell: echo "$PLAY_VAR $TASK_VAR" > /etc/env-out
      args: {creates: /etc/env-out}
      environment: {TASK_VAR: task}
    - name: as nobody
      shell: id -un > /tmp/whoami; chmod 644 /tmp/whoami
      become: true
      become_user: nobody
"#;

#[test]
fn check_mode_overrides_and_the_dry_run_sees_earlier_changes() {
    let root = Root::new();
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: create config
      copy: {dest: /etc/app.conf, content: "a=1\n"}
    - name: edit created config
      lineinfile: {path: /etc/app.conf, line: "b=2"}
    - name: always real
      command: touch /etc/real-even-in-check
      args: {creates: /etc/real-even-in-check}
      check_mode: false
    - name: always dry
      copy: {dest: /etc/dry-always, content: x}
      check_mode: true
    - name: plain command
      command: touch /etc/plain
    - name: mode flag
      debug: {msg: "check={{ ansible_check_mode }}"}
"#,
    );
    let r = Prov::apply(&p, "site.yml")
        .chroot(&root)
        .args(["--check", "--diff"])
        .json()
        .run();
    r.ok();
    // lineinfile on a file that only an earlier task would create is predicted, not failed
    // (Ansible's check mode fails here).
    let edit = r.task("localhost", "edit created config");
    assert_eq!(edit["status"], "changed");
    assert_eq!(edit["diff"][0]["before"], "a=1\n");
    assert_eq!(edit["diff"][0]["after"], "a=1\nb=2\n");
    assert!(!root.exists("etc/app.conf"));
    assert!(
        root.exists("etc/real-even-in-check"),
        "check_mode: false runs for real"
    );
    assert_eq!(r.task("localhost", "plain command")["status"], "skipped");
    assert_eq!(msg(&r, "localhost", "mode flag"), "check=True");
    let r = Prov::apply(&p, "site.yml").chroot(&root).json().run();
    r.ok();
    assert!(
        !root.exists("etc/dry-always"),
        "check_mode: true never changes anything"
    );
    assert_eq!(root.read("etc/app.conf"), "a=1\nb=2\n");
}

#[test]
fn yaml_11_values_reach_the_host_as_ansible_reads_them() {
    let root = Root::new();
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  vars:
    base: &base {mode: 0640, owner: root}
    flags: {enabled: yes, legacy: off}
  tasks:
    - name: octal mode from an anchor merge
      copy:
        <<: *base
        dest: /etc/octal
        content: "{{ flags.enabled }} {{ flags.legacy }} {{ 0644 }}\n"
    - name: quoted mode
      file: {path: /etc/octal2, state: touch, mode: "0600"}
    - name: native types survive templating
      assert:
        that:
          - (flags | dict2items | length) == 2
          - "(flags | to_json) == '{\"enabled\": true, \"legacy\": false}'"
          - flags.enabled is sameas true
"#,
    );
    Prov::apply(&p, "site.yml").chroot(&root).run().ok();
    assert_eq!(root.mode("etc/octal"), 0o640);
    assert_eq!(
        root.read("etc/octal"),
        "True False 644\n",
        "Jinja reads 0644 as decimal, YAML as octal"
    );
    assert_eq!(root.mode("etc/octal2"), 0o600);
}

#[test]
fn lookups_and_magic_variables() {
    let p = Project::new()
        .file("inventory.ini", "[workers]\ngolyat-[1:2] ansible_connection=local\n[cp]\nshanghai-1 ansible_connection=local role=cp\n")
        .file("files/key.pub", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE test@example\n\n")
        .file("templates/t.j2", "{{ inventory_hostname }} in {{ group_names | join(',') }}")
        .file(
            "site.yml",
            r#"
- hosts: workers
  gather_facts: false
  tasks:
    - name: magic
      debug:
        msg: "{{ inventory_hostname }} {{ inventory_hostname_short }} {{ groups['workers'] | join(',') }} {{ ansible_play_hosts | length }} {{ hostvars['shanghai-1']['role'] }} {{ playbook_dir | basename }}"
    - name: lookups
      debug:
        msg: "{{ lookup('file', 'key.pub') }}|{{ lookup('template', 't.j2') }}|{{ lookup('env', 'PROV_TEST_ENV') }}"
    - name: omit drops the option
      file: {path: "{{ playbook_dir }}/omitted", state: touch, mode: "{{ wanted_mode | default(omit) }}"}
      run_once: true
"#,
        );
    let r = Prov::apply(&p, "site.yml")
        .args(["-i", "inventory.ini"])
        .env("PROV_TEST_ENV", "from-env")
        .json()
        .run();
    r.ok();
    let dir = p
        .dir
        .path
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        msg(&r, "golyat-2", "magic"),
        format!("golyat-2 golyat-2 golyat-1,golyat-2 2 cp {dir}")
    );
    assert_eq!(
        msg(&r, "golyat-1", "lookups"),
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE test@example|golyat-1 in workers|from-env"
    );
    assert!(p.path("omitted").exists());
}

#[test]
fn flush_handlers_and_the_check_command() {
    let root = Root::new();
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: config
      copy: {dest: /etc/h1, content: "1\n"}
      notify: mark
    - meta: flush_handlers
    - name: after flush
      shell: test -f /etc/handler-ran && echo yes > /etc/after-flush
      args: {creates: /etc/after-flush}
  handlers:
    - name: mark
      file: {path: /etc/handler-ran, state: touch}
"#,
    );
    // `prov check` is apply --check --diff: it shows the diff and changes nothing.
    let r = Prov::new()
        .cwd(&p.dir.path)
        .args(["check", "site.yml", "--chroot"])
        .arg(&root.path)
        .run();
    r.ok().stdout_has("+1").stdout_has("RUNNING HANDLER [mark]");
    assert!(!root.exists("etc/h1") && !root.exists("etc/handler-ran"));
    Prov::apply(&p, "site.yml").chroot(&root).run().ok();
    assert_eq!(
        root.read("etc/after-flush"),
        "yes\n",
        "the handler ran before the next task"
    );
}

#[test]
fn serial_batches_and_any_errors_fatal() {
    let p = Project::new()
        .file("hosts.ini", "[web]\nh[1:3] ansible_connection=local\n")
        .file("serial.yml", "- hosts: web\n  serial: 2\n  gather_facts: false\n  tasks:\n    - name: batch\n      debug: {msg: \"{{ ansible_play_batch | join(',') }}\"}\n")
        .file(
            "fatal.yml",
            "- hosts: web\n  any_errors_fatal: true\n  gather_facts: false\n  tasks:\n    - fail: {msg: stop}\n      when: inventory_hostname == 'h2'\n    - name: after\n      debug: msg=after\n",
        );
    let r = Prov::apply(&p, "serial.yml")
        .args(["-i", "hosts.ini"])
        .json()
        .run();
    r.ok();
    let doc = r.json();
    let batches: Vec<String> = doc["plays"][0]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            t["hosts"].as_object().unwrap().values().next().unwrap()["result"]["msg"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(batches, ["h1,h2", "h3"]);
    let r = Prov::apply(&p, "fatal.yml").args(["-i", "hosts.ini"]).run();
    r.code(2);
    assert!(
        !r.stdout.contains("TASK [after]"),
        "no host goes on after a fatal error:\n{}",
        r.stdout
    );
}
