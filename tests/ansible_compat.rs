//! Idioms of real-world Ansible roles, run as ansible-playbook runs them. Each expected value
//! below is what ansible-core 2.19 (the test fixtures' venv) printed for the same playbook;
//! the comment on each test says so where the behaviour is surprising.

mod common;

use common::{Project, Prov};

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
