//! `prov drift`: `prov check` across the inventory, reported as only what differs, by host and
//! role, as text, JSON or Markdown; exit 0 in sync, 2 drifted, 4 unreachable (over drift).
//! Two inventory hosts on the local connection each own a temporary directory; the playbook's
//! role copies a file and sets a line in another; a play task copies a `no_log` secret.
//! (`prov drift` has no ansible-playbook counterpart; its run is `prov check`'s.)

mod common;

use std::collections::BTreeMap;

use common::{Project, Prov, Run, TempDir, wait_until};

const SECRET: &str = "S3CRET";

const PLAYBOOK: &str = r#"
- hosts: all
  gather_facts: false
  roles: [web]
  tasks:
    - name: secret file
      copy: {dest: "{{ dir }}/secret.txt", content: "S3CRET-value\n"}
      no_log: true
"#;

const ROLE_TASKS: &str = r#"
- name: config file
  copy: {dest: "{{ dir }}/app.conf", content: "port=80\n"}
- name: motd line
  lineinfile: {path: "{{ dir }}/motd", line: "managed by prov", create: true}
"#;

struct Fleet {
    project: Project,
    a: TempDir,
    b: TempDir,
}

fn fleet(extra_hosts: &str) -> Fleet {
    let a = TempDir::new("drift-a");
    let b = TempDir::new("drift-b");
    let inventory = format!(
        "a ansible_connection=local dir={}\nb ansible_connection=local dir={}\n{extra_hosts}",
        a.path.display(),
        b.path.display()
    );
    let project = Project::new()
        .file("site.yml", PLAYBOOK)
        .file("roles/web/tasks/main.yml", ROLE_TASKS)
        .file("hosts.ini", &inventory);
    Fleet { project, a, b }
}

impl Fleet {
    fn drift(&self, extra: &[&str]) -> Run {
        Prov::new()
            .cwd(&self.project.dir.path)
            .args(["drift", "site.yml", "-i", "hosts.ini"])
            .args(extra)
            .run()
    }

    /// Every file of both hosts' directories with its content.
    fn contents(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (host, dir) in [("a", &self.a), ("b", &self.b)] {
            for e in std::fs::read_dir(&dir.path).unwrap() {
                let e = e.unwrap();
                out.insert(
                    format!("{host}/{}", e.file_name().to_string_lossy()),
                    std::fs::read_to_string(e.path()).unwrap(),
                );
            }
        }
        out
    }
}

/// Apply the playbook, then make b drift: its config file and its secret differ.
fn drifted_fleet() -> Fleet {
    let f = fleet("");
    let apply = Prov::apply(&f.project, "site.yml")
        .args(["-i", "hosts.ini"])
        .run();
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    std::fs::write(f.b.path.join("app.conf"), "port=8080\n").unwrap();
    std::fs::write(f.b.path.join("secret.txt"), "S3CRET-old\n").unwrap();
    f
}

fn no_secret(run: &Run) {
    assert!(
        !run.stdout.contains(SECRET) && !run.stderr.contains(SECRET),
        "a no_log value was printed:\n{}{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn in_sync_hosts_exit_0() {
    let f = fleet("");
    let apply = Prov::apply(&f.project, "site.yml")
        .args(["-i", "hosts.ini"])
        .run();
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    let run = f.drift(&[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("\na: in sync\n"), "{}", run.stdout);
    assert!(run.stdout.contains("\nb: in sync\n"), "{}", run.stdout);
    assert!(
        run.stdout
            .starts_with("Drift report: 2 hosts: 2 in sync, 0 drifted, 0 failed, 0 unreachable\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn drift_is_reported_by_host_and_role_with_diffs_and_nothing_changes() {
    let f = drifted_fleet();
    let before = f.contents();
    let run = f.drift(&[]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let out = &run.stdout;
    assert!(out.contains("\na: in sync\n"), "{out}");
    let b = out.split("\nb: drifted (2 items)\n").nth(1).expect(out);
    assert!(
        b.starts_with("  [web]\n    changed: config file\n      --- before: "),
        "{out}"
    );
    assert!(b.contains("      -port=8080\n      +port=80\n"), "{out}");
    assert!(
        b.contains("  [(play)]\n    changed: secret file\n"),
        "{out}"
    );
    assert!(!b.contains("motd"), "the line is there: {out}");
    no_secret(&run);
    assert_eq!(f.contents(), before, "prov drift changed a host");
    assert_eq!(f.contents()["b/app.conf"], "port=8080\n");
}

#[test]
fn markdown_report_has_the_table_and_diff_blocks() {
    let f = drifted_fleet();
    let run = f.drift(&["--format", "markdown"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    no_secret(&run);
    let conf = f.b.path.join("app.conf");
    let expected = format!(
        "## Drift report\n\n\
         2 hosts: 1 in sync, 1 drifted, 0 failed, 0 unreachable\n\n\
         | Host | Status | Drifted items |\n\
         | --- | --- | --- |\n\
         | a | in sync | 0 |\n\
         | b | drifted | 2 |\n\
         \n<details>\n<summary>b: drifted (2 items)</summary>\n\
         \n**web**\n\n\
         - changed: config file\n\
         \n```diff\n--- before: {c} (content)\n+++ after: {c} (content)\n@@ -1 +1 @@\n-port=8080\n+port=80\n```\n\n\
         \n**(play)**\n\n\
         - changed: secret file\n\
         \n</details>\n",
        c = conf.display()
    );
    assert_eq!(run.stdout, expected);
}

#[test]
fn json_report_parses_with_hosts_roles_and_items() {
    let f = drifted_fleet();
    let run = f.drift(&["--format", "json"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    no_secret(&run);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect(&run.stdout);
    assert_eq!(doc["exit_code"], 2);
    assert_eq!(doc["summary"]["in_sync"], 1);
    assert_eq!(doc["summary"]["drifted"], 1);
    let b = &doc["hosts"][1];
    assert_eq!(b["host"], "b");
    assert_eq!(b["state"], "drifted");
    assert_eq!(b["unreachable"], false);
    assert_eq!(b["roles"][0]["role"], "web");
    let item = &b["roles"][0]["items"][0];
    assert_eq!(item["task"], "config file");
    assert_eq!(item["kind"], "changed");
    assert!(item["diff"].as_str().unwrap().contains("+port=80\n"));
    assert_eq!(b["roles"][1]["items"][0]["diff"], "", "no_log: no diff");
    assert_eq!(doc["hosts"][0]["roles"], serde_json::json!([]));
}

#[test]
fn an_unreachable_host_exits_4_over_drift() {
    let f = fleet(
        "far ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh dir=/nonexistent\n",
    );
    // a and b were never provisioned: both drift; far cannot be reached.
    let run = f.drift(&[]);
    assert_eq!(run.code, 4, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("\nfar: unreachable (1 item)\n  [web]\n    unreachable: config file\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("\nb: drifted ("), "{}", run.stdout);
    assert!(f.contents().is_empty(), "prov drift created files");
    // --limit leaves it out: drift only.
    let run = f.drift(&["--limit", "a,b"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("far"), "{}", run.stdout);
}

#[test]
fn a_missing_playbook_is_an_error() {
    // Without PLAYBOOK, the worker playbook (as ansible-playbook, a missing one is exit 1).
    let f = fleet("");
    let missing = Prov::new()
        .cwd(&f.project.dir.path)
        .args(["drift", "-i", "hosts.ini"])
        .run();
    assert_eq!(missing.code, 1, "{}{}", missing.stdout, missing.stderr);
    assert!(
        missing
            .stderr
            .contains("playbooks/worker.yml could not be found"),
        "the default playbook: {}",
        missing.stderr
    );
}

#[test]
fn help_states_the_default_playbook_and_the_exit_codes() {
    let help = Prov::new().args(["drift", "--help"]).run();
    assert_eq!(help.code, 0, "{}", help.stderr);
    for part in [
        "[default: playbooks/worker.yml]",
        "Exit 0: every host in sync; 2: a host drifted or a task failed; 4: a host unreachable",
        "--format <FORMAT>",
        "markdown",
    ] {
        assert!(help.stdout.contains(part), "no {part:?}: {}", help.stdout);
    }
}

#[test]
fn ctrl_c_reports_what_ran_as_partial_and_exits_99() {
    let dir = TempDir::new("drift-int");
    let project = Project::new().file(
        "site.yml",
        &format!(
            r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: config file
      copy: {{dest: "{d}/app.conf", content: "port=80\n"}}
    - name: long probe
      shell: touch {d}/started; sleep 30
      check_mode: false
      changed_when: false
"#,
            d = dir.path.display()
        ),
    );
    let run = Prov::new()
        .cwd(&project.dir.path)
        .args(["drift", "site.yml", "-c", "local"])
        .spawn_job();
    let started = dir.path.join("started");
    wait_until(20, "the long task", || started.exists());
    run.ctrl_c();
    let out = run.finish();
    // As `prov check` (and ansible-playbook): 99 after Ctrl-C.
    assert_eq!(out.code, 99, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(
            "\nInterrupted: the run was stopped before it finished; this report is partial.\n"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("    changed: config file\n"),
        "{}",
        out.stdout
    );
    assert!(!dir.path.join("app.conf").exists());
}
