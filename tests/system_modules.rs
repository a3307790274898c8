//! The system modules prov runs natively instead of through Ansible's Python (getent, find,
//! tempfile, service_facts, package_facts, timezone, hostname, wait_for), against a real
//! Debian root used with `--chroot`: each play converges, a second run changes nothing, check
//! mode predicts exactly what apply does, and where it is cheap the registered results are
//! compared with what ansible-playbook registers for the same play on a root of its own.

mod common;

use common::{Project, Prov, Root, ansible_playbook};
use serde_json::Value;

const HOST: &str = "localhost";

/// ansible-playbook (the fixtures' venv) on `root` through the chroot connection, with the
/// JSON callback: the whole document.
fn ansible(p: &Project, root: &Root, extra: &[&str]) -> Value {
    let inventory = p.path("ansible-inventory.yml");
    std::fs::write(
        &inventory,
        format!(
            "all:\n  hosts:\n    {HOST}:\n      ansible_connection: community.general.chroot\n      ansible_host: {}\n      ansible_python_interpreter: /usr/bin/python3\n",
            root.path.display()
        ),
    )
    .unwrap();
    let bin = ansible_playbook();
    let home = p.path("ansible-home");
    let out = std::process::Command::new(&bin)
        .arg("-i")
        .arg(&inventory)
        .arg("site.yml")
        .args(extra)
        .current_dir(&p.dir.path)
        .env(
            "PATH",
            format!(
                "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                bin.parent().unwrap().display()
            ),
        )
        .env("ANSIBLE_HOME", &home)
        .env("ANSIBLE_LOCAL_TEMP", home.join("tmp"))
        .env("ANSIBLE_STDOUT_CALLBACK", "ansible.posix.json")
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .expect("running ansible-playbook");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let start = stdout.find("\n{").map_or(0, |i| i + 1);
    serde_json::from_str(&stdout[start..]).unwrap_or_else(|e| {
        panic!(
            "ansible-playbook's output is not JSON ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The result of ansible's last task with this name.
fn ansible_task(doc: &Value, name: &str) -> Value {
    let mut found = Value::Null;
    for play in doc["plays"].as_array().unwrap() {
        for t in play["tasks"].as_array().unwrap() {
            if t["task"]["name"] == name {
                found = t["hosts"][HOST].clone();
            }
        }
    }
    assert!(
        !found.is_null(),
        "no task {name:?} in ansible's run:\n{doc}"
    );
    found
}

/// prov on `root` with `--chroot` (JSON output).
fn prov(p: &Project, root: &Root, extra: &[&str]) -> common::Run {
    let r = Prov::apply(p, "site.yml")
        .chroot(root)
        .args(extra)
        .json()
        .run();
    r.ok();
    r
}

/// The variable a `debug: var=NAME` task printed, in prov's run.
fn prov_var(r: &common::Run, task: &str, var: &str) -> Value {
    r.task(HOST, task)["result"][var].clone()
}

/// Its value in ansible's run.
fn ansible_var(doc: &Value, task: &str, var: &str) -> Value {
    ansible_task(doc, task)[var].clone()
}

fn changed(r: &common::Run) -> u64 {
    r.stats(HOST)["changed"].as_u64().unwrap()
}

#[test]
fn getent_sets_the_facts_ansible_sets() {
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: root
      getent: {database: passwd, key: root}
      register: root_entry
    - name: all groups
      getent: {database: group}
    - name: a hosts file
      copy:
        dest: /etc/hosts
        content: "127.0.0.1 localhost\n10.0.0.1 gw gateway\n10.0.0.1 gw2\n"
    - name: hosts split on white space
      getent: {database: hosts}
      register: hosts
    - name: the facts
      debug:
        msg: "{{ getent_passwd.root[4] }} {{ ansible_facts.getent_group.root[1] }} {{ getent_hosts['10.0.0.1'] | length }}"
    - name: a missing key, tolerated
      getent: {database: group, key: no-such-group, fail_key: false}
      register: missing
    - name: the facts replaced
      debug:
        msg: "{{ getent_group['no-such-group'] is none }} {{ ansible_facts.getent_group | length }}"
    - name: show root
      debug: {var: root_entry}
    - name: show missing
      debug: {var: missing}
    - name: show hosts
      debug: {var: hosts}
    - name: a missing key fails
      getent: {database: passwd, key: no-such-user}
      ignore_errors: true
      register: failing
    - name: show failing
      debug: {var: failing.msg}
"#,
    );
    let root = Root::new();
    let r = prov(&p, &root, &[]);
    assert_eq!(changed(&r), 1);
    assert_eq!(r.task(HOST, "the facts")["result"]["msg"], "/root 0 2");
    assert_eq!(
        r.task(HOST, "the facts replaced")["result"]["msg"],
        "True 1"
    );
    let a = ansible(&p, &Root::new(), &[]);
    for (task, var) in [
        ("show root", "root_entry"),
        ("show missing", "missing"),
        ("show hosts", "hosts"),
        ("show failing", "failing.msg"),
    ] {
        assert_eq!(
            prov_var(&r, task, var),
            ansible_var(&a, task, var),
            "{task}"
        );
    }
    for task in ["the facts", "the facts replaced"] {
        assert_eq!(
            r.task(HOST, task)["result"]["msg"],
            ansible_task(&a, task)["msg"]
        );
    }
    // A second run and check mode read the same and change nothing.
    let c = prov(&p, &root, &["--check"]);
    assert_eq!(changed(&c), 0);
    assert_eq!(
        prov_var(&c, "show root", "root_entry"),
        prov_var(&r, "show root", "root_entry")
    );
}

