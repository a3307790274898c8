//! `no_log: true` hides a task's arguments, loop items, results, diffs and error messages in
//! every output: text at every verbosity, `--diff`, check mode, `--format json` and stderr.
//! One playbook holds a task of each kind that could show the secret; it runs on the local
//! connection against files in a temporary directory, and every run's output is searched for
//! the secret.

mod common;

use common::{Project, Prov, Run, TempDir};

/// Every value the playbook hides starts with this.
const SECRET: &str = "S3CRET";

const CENSORED: &str =
    "the output has been hidden due to the fact that 'no_log: true' was specified for this result";

const PLAYBOOK: &str = r#"
- hosts: localhost
  gather_facts: false
  vars:
    secret: S3CRET-value
    hide: true
  tasks:
    - name: failing assert
      assert: {that: ["secret == 'x'"], msg: "bad {{ secret }}"}
      no_log: true
      ignore_errors: true
    - name: failing fail
      fail: {msg: "fail {{ secret }}"}
      no_log: true
      ignore_errors: true
    - name: echo ok
      command: echo {{ secret }}
      no_log: "{{ hide }}"
    - name: echo failing
      shell: echo {{ secret }}; echo {{ secret }} >&2; exit 3
      no_log: true
      ignore_errors: true
    - name: copy secret
      copy: {dest: "{{ dir }}/a.txt", content: "{{ secret }}\n"}
      no_log: true
    - name: template secret
      template: {src: t.j2, dest: "{{ dir }}/t.txt"}
      no_log: true
    - name: lineinfile secret
      lineinfile: {path: "{{ dir }}/l.txt", line: "pw={{ secret }}", create: true}
      no_log: true
    - name: loop secret
      command: echo {{ item }}
      loop: [S3CRET-a, S3CRET-b, S3CRET-c]
      changed_when: "'b' in item"
      failed_when: "'c' in item"
      no_log: true
      ignore_errors: true
    - name: loop labelled
      debug: {msg: "{{ item }}"}
      loop: [S3CRET-d]
      loop_control: {label: "{{ item }}"}
      no_log: true
    - name: undefined var
      debug: {msg: "{{ S3CRET_undefined }}"}
      no_log: true
      ignore_errors: true
    - name: debug secret
      debug: {msg: "{{ secret }}"}
      no_log: true
    - name: validate fails
      copy: {dest: "{{ dir }}/v.txt", content: "{{ secret }}\n", validate: "cat %s; false"}
      no_log: true
      ignore_errors: true
    - name: set fact
      set_fact: {other: "{{ secret }}"}
      no_log: true
    - name: skipped by secret condition
      debug: {msg: hi}
      when: secret == 'S3CRET-nope'
      no_log: true
    - name: meta with a broken condition
      meta: end_host
      when: S3CRET_undefined
      no_log: true
    - name: include missing
      include_tasks: "{{ secret }}.yml"
      no_log: true
"#;

/// Task names and their status in a run that is not in check mode.
const STATUSES: &[(&str, &str)] = &[
    ("failing assert", "failed"),
    ("failing fail", "failed"),
    ("echo ok", "changed"),
    ("echo failing", "failed"),
    ("copy secret", "changed"),
    ("template secret", "changed"),
    ("lineinfile secret", "changed"),
    ("loop secret", "failed"),
    ("loop labelled", "ok"),
    ("undefined var", "failed"),
    ("debug secret", "ok"),
    ("validate fails", "failed"),
    ("set fact", "ok"),
    ("skipped by secret condition", "skipped"),
    ("include missing", "failed"),
];

fn project() -> Project {
    Project::new()
        .file("site.yml", PLAYBOOK)
        .file("templates/t.j2", "key={{ secret }}\n")
}

/// Run the playbook with `args` on a fresh directory whose `a.txt` already holds a secret
/// (so a diff would show it on both sides).
fn run(p: &Project, args: &[&str]) -> Run {
    let dir = TempDir::new("nolog");
    std::fs::write(dir.path.join("a.txt"), "old S3CRET-before\n").unwrap();
    Prov::apply(p, "site.yml")
        .args(["-i", "localhost,", "-c", "local"])
        .arg("-e")
        .arg(format!("dir={}", dir.path.display()))
        .args(args)
        .run()
}

#[track_caller]
fn assert_hidden(r: &Run, args: &[&str]) {
    for (stream, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        assert!(
            !text.contains(SECRET),
            "{args:?}: the secret is on {stream}:\n--- stdout:\n{}\n--- stderr:\n{}",
            r.stdout,
            r.stderr
        );
    }
}

#[test]
fn no_log_hides_the_secret_in_every_output() {
    let p = project();
    let text_runs: &[&[&str]] = &[
        &[],
        &["-v"],
        &["-vvv"],
        &["--diff"],
        &["--diff", "-vvv"],
        &["--check", "--diff"],
        &["--check", "--diff", "-vvv"],
    ];
    for args in text_runs {
        let r = run(&p, args);
        r.code(2);
        assert_hidden(&r, args);
        for (name, _) in STATUSES {
            r.stdout_has(&format!("TASK [{name}]"));
        }
        r.stdout_has(&format!(
            "fatal: [localhost]: FAILED! => {{\"censored\": \"{CENSORED}\""
        ));
        r.stdout_has("(item=(censored due to no_log))");
        r.stdout_has("...ignoring");
    }
    let plain = run(&p, &[]);
    // A templating error's place is shown (as ansible-core 2.19's Origin:), but no line of
    // the file: the secret is censored, not the place.
    let line = PLAYBOOK
        .lines()
        .position(|l| l.contains("S3CRET_undefined }}"))
        .unwrap()
        + 1;
    plain.stdout_has(&format!("Origin: site.yml:{line}:"));
    assert!(!plain.stdout.contains(" | "), "{}", plain.stdout);
    // As Ansible: a censored loop item's label, whatever loop_control.label says; a failed
    // item is `failed: [host] (item=...) => {...}` (no `=>` before the item, as Ansible words it).
    plain.stdout_has("changed: [localhost] => (item=(censored due to no_log))");
    plain.stdout_has(&format!(
        "failed: [localhost] (item=(censored due to no_log)) => {{\"censored\": \"{CENSORED}\""
    ));

    let json_runs: &[&[&str]] = &[
        &["--format", "json"],
        &["--format", "json", "-vvv"],
        &["--format", "json", "--diff"],
        &["--format", "json", "--check", "--diff"],
    ];
    for args in json_runs {
        let r = run(&p, args);
        r.code(2);
        assert_hidden(&r, args);
        for (name, status) in STATUSES {
            let t = r.task("localhost", name);
            if !args.contains(&"--check") {
                assert_eq!(t["status"], *status, "{name}: {t}");
            }
            assert_eq!(t["result"]["censored"], CENSORED, "{name}: {t}");
        }
        let origin = r.task("localhost", "undefined var")["origin"].clone();
        assert!(
            origin.as_str().is_some_and(|o| o.starts_with("site.yml:")),
            "{origin}"
        );
        let items = r.task("localhost", "loop secret")["items"].clone();
        assert_eq!(items.as_array().map(Vec::len), Some(3), "{items}");
        assert_eq!(items[0]["item"], "(censored due to no_log)");
    }
}

/// As Ansible: `register` keeps the real result of a no_log task, and a later task that is not
/// no_log shows what it is asked to (hiding it there is the user's choice).
#[test]
fn a_registered_no_log_result_is_real_and_shown_by_a_later_debug() {
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: registered
      command: echo S3CRET-value
      register: reg
      no_log: true
    - name: show registered
      debug: {var: reg.stdout}
"#,
    );
    let r = Prov::apply(&p, "site.yml")
        .args(["-i", "localhost,", "-c", "local", "-v"])
        .run();
    r.ok();
    r.stdout_has(&format!(
        "changed: [localhost] => {{\"censored\": \"{CENSORED}\", \"changed\": true}}"
    ));
    r.stdout_has("\"reg.stdout\": \"S3CRET-value\"");
    assert_eq!(r.stdout.matches(SECRET).count(), 1, "{}", r.stdout);
}
