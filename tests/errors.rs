//! Templating errors raised while a task runs say where they come from, as parse errors do:
//! the task's host line is followed by `Origin: file:line:col`, that line of the file and a
//! caret under the column; `--format json` has the place as `"origin"`.
//!
//! ansible-core 2.19 (ansible-playbook of the fixture venv, a `hosts: localhost, connection:
//! local, gather_facts: false` play) prints for each case below `Origin: FILE:LINE:COL` with
//! the lines up to that one and a `^ column N` marker, at the start of the value holding the
//! expression: `msg: "{{ nope }}"` at its quote, `debug: msg="{{ nope }}"` at `msg=`, `when:
//! nope == 1` at `nope`, `loop: "{{ nope }}"` at its quote, a failing `assert` at the item of
//! `that`, a role's task at the line in the role's tasks file, and a `template` task at the
//! `.j2` file (without a line). Each is a per-host failure (`fatal: [localhost]: FAILED!`),
//! the run goes on to the recap and exits 2. prov points at the same value, and, when it knows
//! the failing name inside the expression (an undefined variable, an unknown filter), at that
//! name; in a template file, at its line and column.

mod common;

use common::{Project, Prov, Run};

const PLAY: &str = "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n";

/// Run `pb.yml` (the play header and `tasks`) in a project with `files`.
fn run(tasks: &str, files: &[(&str, &str)]) -> Run {
    let mut p = Project::new().file("pb.yml", &format!("{PLAY}{tasks}"));
    for (rel, content) in files {
        p = p.file(rel, content);
    }
    Prov::apply(&p, "pb.yml").args(["-i", "localhost,"]).run()
}

/// The task failed on the host, the run went on to the recap (exit 2), and its output points
/// at `file:line:col`, showing the line `text` with a caret under the column.
#[track_caller]
fn assert_origin(r: &Run, file: &str, line: usize, col: usize, text: &str) {
    r.code(2);
    r.stdout_has("fatal: [localhost]: FAILED!");
    r.stdout_has(&format!("{file}:{line}:{col}\n"));
    let number = line.to_string();
    let gutter = " ".repeat(number.len());
    let caret = " ".repeat(col - 1);
    r.stdout_has(&format!(
        "{gutter} |\n{number} | {text}\n{gutter} | {caret}^\n"
    ));
    r.stdout_has("PLAY RECAP");
    r.stdout_has("failed=1");
}

#[test]
fn an_undefined_variable_in_a_module_argument() {
    let r = run(
        "    - debug:\n        msg: \"hello {{ nope }} there\"\n",
        &[],
    );
    r.stdout_has("'nope' is undefined");
    assert_origin(
        &r,
        "pb.yml",
        6,
        24,
        "        msg: \"hello {{ nope }} there\"",
    );
    // Free form: the value is `msg=...`; the caret is under the name.
    let r = run("    - debug: msg=\"{{ nope }}\"\n", &[]);
    assert_origin(&r, "pb.yml", 5, 22, "    - debug: msg=\"{{ nope }}\"");
}

#[test]
fn an_unknown_filter_and_a_syntax_error() {
    let r = run(
        "    - debug:\n        msg: \"{{ 'x' | nosuchfilter }}\"\n",
        &[],
    );
    r.stdout_has("nosuchfilter");
    assert_origin(
        &r,
        "pb.yml",
        6,
        24,
        "        msg: \"{{ 'x' | nosuchfilter }}\"",
    );
    // minijinja gives no column inside a one-line expression: the expression's start.
    let r = run("    - debug:\n        msg: \"{{ 1 + }}\"\n", &[]);
    r.stdout_has("syntax error");
    assert_origin(&r, "pb.yml", 6, 18, "        msg: \"{{ 1 + }}\"");
}

#[test]
fn conditions_loops_and_asserts() {
    let r = run("    - debug: msg=x\n      when: nope == 1\n", &[]);
    r.stdout_has("The conditional check 'nope == 1' failed");
    assert_origin(&r, "pb.yml", 6, 13, "      when: nope == 1");
    let r = run("    - debug: msg=x\n      loop: \"{{ nope }}\"\n", &[]);
    r.stdout_has("Invalid data passed to loop");
    assert_origin(&r, "pb.yml", 6, 17, "      loop: \"{{ nope }}\"");
    let r = run(
        "    - assert:\n        that:\n          - 1 == 1\n          - nope.x == 2\n",
        &[],
    );
    assert_origin(&r, "pb.yml", 8, 13, "          - nope.x == 2");
    // A block's `when` is where its tasks' condition failed.
    let r = run(
        "    - block:\n        - debug: msg=x\n      when: nope_block\n",
        &[],
    );
    assert_origin(&r, "pb.yml", 7, 13, "      when: nope_block");
}

#[test]
fn a_role_task_and_a_template_file() {
    let r = run(
        "    - include_role: {name: r}\n",
        &[(
            "roles/r/tasks/main.yml",
            "- debug:\n    msg: \"{{ nope }}\"\n",
        )],
    );
    assert_origin(
        &r,
        "roles/r/tasks/main.yml",
        2,
        14,
        "    msg: \"{{ nope }}\"",
    );
    // In a template file: the file's line, under the name (after a `#jinja2:` header too).
    let task = "    - template: {src: t.j2, dest: \"{{ playbook_dir }}/out\"}\n";
    let r = run(task, &[("templates/t.j2", "one\nvalue {{ nope }}\n")]);
    r.stdout_has("'nope' is undefined");
    assert_origin(&r, "templates/t.j2", 2, 10, "value {{ nope }}");
    let r = run(
        task,
        &[(
            "templates/t.j2",
            "#jinja2: trim_blocks: False\none\n{{ 1 | nosuchf }}\n",
        )],
    );
    assert_origin(&r, "templates/t.j2", 3, 8, "{{ 1 | nosuchf }}");
    let r = run(task, &[("templates/t.j2", "one\n{% if %}\n")]);
    assert_origin(&r, "templates/t.j2", 2, 1, "{% if %}");
}

/// The failure is the host's, not the run's: another host goes on with the next task.
#[test]
fn a_templating_error_fails_only_its_host() {
    let p = Project::new()
        .file(
            "inv.ini",
            "h1 ansible_connection=local\nh2 ansible_connection=local only_h2=1\n",
        )
        .file(
            "pb.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=\"{{ only_h2 }}\"\n    - debug: msg=after\n",
        );
    let r = Prov::apply(&p, "pb.yml").args(["-i", "inv.ini"]).run();
    r.code(2);
    r.stdout_has("fatal: [h1]: FAILED!");
    r.stdout_has("pb.yml:4:22\n");
    r.stdout_has("\"msg\": \"after\"");
    // The recap pads the host to 26 columns, as Ansible's.
    r.stdout_has(&format!(
        "{:<26} : ok=0    changed=0    unreachable=0    failed=1",
        "h1"
    ));
    r.stdout_has(&format!(
        "{:<26} : ok=2    changed=0    unreachable=0    failed=0",
        "h2"
    ));
}

#[test]
fn json_output_has_the_origin() {
    let p = Project::new().file(
        "pb.yml",
        &format!("{PLAY}    - name: when\n      debug: msg=x\n      when: nope == 1\n"),
    );
    let r = Prov::apply(&p, "pb.yml")
        .args(["-i", "localhost,"])
        .json()
        .run();
    r.code(2);
    let t = r.task("localhost", "when");
    assert_eq!(t["origin"], "pb.yml:7:13", "{t}");
    assert_eq!(t["status"], "failed", "{t}");
}

/// ansible-core 2.19 shows a no_log task's Origin with its lines (the expression, not its
/// values) and censors the result. prov shows the place but never a line of a file that says
/// `no_log` (nor of a template a no_log task renders), and no value.
#[test]
fn a_no_log_task_shows_the_place_but_not_the_content() {
    let r = run(
        "    - debug:\n        msg: \"{{ secret }} {{ nope }}\"\n      no_log: true\n      vars: {secret: S3CRET}\n",
        &[],
    );
    r.code(2);
    r.stdout_has("pb.yml:6:31\n");
    r.stdout_has("\"censored\": \"the output has been hidden");
    r.stdout_has("PLAY RECAP");
    for text in [&r.stdout, &r.stderr] {
        assert!(!text.contains("S3CRET"), "{text}");
        assert!(!text.contains("{{ secret }}"), "{text}");
        assert!(!text.contains("nope"), "{text}");
        assert!(!text.contains(" | "), "an excerpt: {text}");
    }
    let r = run(
        "    - template: {src: t.j2, dest: \"{{ playbook_dir }}/out\"}\n      no_log: true\n",
        &[("templates/t.j2", "pw=S3CRET {{ nope }}\n")],
    );
    r.code(2);
    r.stdout_has("templates/t.j2:1:14\n");
    assert!(!r.stdout.contains("S3CRET"), "{}", r.stdout);
    assert!(!r.stdout.contains(" | "), "an excerpt: {}", r.stdout);
}
