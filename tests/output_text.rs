//! The text output as an Ansible user reads it, checked against ansible-playbook 2.19's: a
//! loop's items printed as each finishes with its diff before its line, the recap's columns,
//! skip reasons and what a dry run cannot know (`unknown until apply`, `unknown=N`), and the
//! live line of a long task on a terminal (and nothing of it without one).

mod common;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use common::{Project, Prov, TempDir};

/// The lines printed under `TASK [name]`, up to the next blank line before a banner.
fn task_block(stdout: &str, name: &str) -> String {
    let start = stdout
        .find(&format!("TASK [{name}] "))
        .unwrap_or_else(|| panic!("no task {name}:\n{stdout}"));
    let body = &stdout[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    let end = ["\n\nTASK [", "\n\nPLAY RECAP", "\n\nRUNNING HANDLER"]
        .iter()
        .filter_map(|b| body.find(b))
        .min()
        .unwrap_or(body.len());
    body[..end].to_string()
}

fn local(p: &Project, playbook: &str) -> Prov {
    Prov::apply(p, playbook).args(["-i", "localhost,", "-c", "local"])
}

/// ansible-playbook 2.19, `copy` with content over three items and `--diff`: each item's diff,
/// an empty line, then the item's line, in item order; nothing for the task itself.
#[test]
fn each_loop_item_follows_its_diff() {
    let dir = TempDir::new("loop-diff");
    std::fs::write(dir.path.join("b.txt"), "old\n").unwrap();
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: write three
      copy: {content: "{{ item }}\n", dest: "{{ dir }}/{{ item }}.txt"}
      loop: [a, b, c]
"#,
    );
    let r = local(&p, "site.yml")
        .arg("-e")
        .arg(format!("dir={}", dir.path.display()))
        .arg("--diff")
        .run();
    r.ok();
    let d = dir.path.display();
    let want = format!(
        "--- before: {d}/a.txt (content)
+++ after: {d}/a.txt (content)
@@ -0,0 +1 @@
+a

changed: [localhost] => (item=a)
--- before: {d}/b.txt (content)
+++ after: {d}/b.txt (content)
@@ -1 +1 @@
-old
+b

changed: [localhost] => (item=b)
--- before: {d}/c.txt (content)
+++ after: {d}/c.txt (content)
@@ -0,0 +1 @@
+c

changed: [localhost] => (item=c)"
    );
    assert_eq!(task_block(&r.stdout, "write three"), want);
}

/// Ansible prints each item's line as the item finishes (`v2_runner_item_on_ok`), not when the
/// loop ends: here the second item waits for a file the test writes only once it has read the
/// first item's line.
#[test]
fn loop_items_are_printed_as_they_finish() {
    let dir = TempDir::new("loop-stream");
    let go = dir.path.join("go");
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: in turn
      shell: "[ {{ item }} = first ] || timeout 30 sh -c 'until [ -e {{ go }} ]; do sleep 0.1; done'"
      loop: [first, second]
"#,
    );
    let mut child = local(&p, "site.yml")
        .arg("-e")
        .arg(format!("go={}", go.display()))
        .spawn();
    let stdout = child.child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no line for the first item while the loop runs: {seen:?}"));
        let first = line == "changed: [localhost] => (item=first)";
        seen.push(line);
        if first {
            break;
        }
    }
    assert!(!seen.iter().any(|l| l.contains("item=second")), "{seen:?}");
    std::fs::write(&go, "").unwrap();
    let r = child.finish();
    reader.join().unwrap();
    seen.extend(rx.try_iter());
    assert_eq!(r.code, 0, "{seen:?}\n{}", r.stderr);
    assert!(
        seen.iter()
            .any(|l| l == "changed: [localhost] => (item=second)"),
        "{seen:?}"
    );
}

const TWO_HOSTS: &str = "all:
  hosts:
    localhost:
    a-very-long-host-name-beyond-26-chars.example.com:
  vars:
    ansible_connection: local
";

const CMD_AND_SKIP: &str = r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: cmd
      command: echo hi
    - name: fail one
      fail: msg=x
      when: inventory_hostname == 'localhost'
      ignore_errors: true
"#;

/// ansible-playbook 2.19's recap for this play and inventory, byte for byte: hosts sorted, the
/// host padded to 26 columns (a longer name as it is), each count padded to 4.
#[test]
fn the_recap_has_ansibles_columns() {
    let p = Project::new()
        .file("hosts.yml", TWO_HOSTS)
        .file("site.yml", CMD_AND_SKIP);
    let r = Prov::apply(&p, "site.yml").args(["-i", "hosts.yml"]).run();
    r.ok();
    let recap: Vec<&str> = r.stdout[r.stdout.find("PLAY RECAP").unwrap()..]
        .lines()
        .collect();
    assert_eq!(
        recap[..3],
        [
            "PLAY RECAP *********************************************************************",
            "a-very-long-host-name-beyond-26-chars.example.com : ok=1    changed=1    unreachable=0    failed=0    skipped=1    rescued=0    ignored=0   ",
            "localhost                  : ok=2    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=1   ",
        ]
    );
}

/// In a dry run Ansible prints `skipping: [h]` for a command (it cannot know what it would do)
/// and for a false `when` alike. prov says which is which: the command's line gives the reason
/// as `unknown until apply`, the recap adds `unknown=N` after Ansible's columns, and the JSON
/// has `"unknown"` per result and in the stats. A real run has no such column.
#[test]
fn a_dry_run_marks_what_it_cannot_know() {
    let p = Project::new()
        .file("hosts.yml", TWO_HOSTS)
        .file("site.yml", CMD_AND_SKIP);
    let r = Prov::new()
        .cwd(&p.dir.path)
        .args(["check", "site.yml", "-i", "hosts.yml"])
        .run();
    r.ok();
    let long = "a-very-long-host-name-beyond-26-chars.example.com";
    let why = "(unknown until apply: Command would have run if not in check mode)";
    assert_eq!(
        task_block(&r.stdout, "cmd"),
        format!("skipping: [localhost] {why}\nskipping: [{long}] {why}")
    );
    // A false `when` is Ansible's bare line.
    assert!(
        task_block(&r.stdout, "fail one").ends_with(&format!("\nskipping: [{long}]")),
        "{}",
        r.stdout
    );
    r.stdout_has(&format!(
        "\n{long} : ok=0    changed=0    unreachable=0    failed=0    skipped=2    rescued=0    ignored=0    unknown=1   \n"
    ));
    r.stdout_has("\nlocalhost                  : ok=1    changed=0    unreachable=0    failed=0    skipped=1    rescued=0    ignored=1    unknown=1   \n");

    let j = Prov::new()
        .cwd(&p.dir.path)
        .args(["check", "site.yml", "-i", "hosts.yml"])
        .json()
        .run();
    j.ok();
    assert_eq!(j.task("localhost", "cmd")["unknown"], true);
    assert_eq!(j.task(long, "fail one")["unknown"], false);
    assert_eq!(j.task(long, "fail one")["skipped"], true);
    assert_eq!(j.stats("localhost")["unknown"], 1);
    assert_eq!(j.stats("localhost")["skipped"], 1);

    let applied = Prov::apply(&p, "site.yml").args(["-i", "hosts.yml"]).run();
    applied.ok();
    assert!(!applied.stdout.contains("unknown"), "{}", applied.stdout);
}

/// A module that skips itself in a dry run (Ansible 2.19: `skipping: [localhost]`, with -v
/// "This action (uri) does not support check mode."): prov's line says it is unknown and why.
#[test]
fn a_module_without_a_dry_run_is_unknown_until_apply() {
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: post
      uri: {url: "http://127.0.0.1:9/x", method: POST}
"#,
    );
    let check = || {
        Prov::new()
            .cwd(&p.dir.path)
            .args(["check", "site.yml", "-i", "localhost,", "-c", "local"])
    };
    let r = check().run();
    r.ok();
    assert_eq!(
        task_block(&r.stdout, "post"),
        "skipping: [localhost] (unknown until apply: POST requests do not run in check mode)"
    );
    r.stdout_has("skipped=1    rescued=0    ignored=0    unknown=1   \n");
    let j = check().json().run();
    assert_eq!(j.task("localhost", "post")["unknown"], true);
}

const SLOW: &str = r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: sleep a while
      command: sleep 2
    - name: quick
      debug: {msg: done}
"#;

/// Without a terminal nothing but the result lines is written: no live line on stderr, and
/// stdout as before (the task's line, the debug, the recap).
#[test]
fn a_long_task_without_a_terminal_prints_only_its_result() {
    let p = Project::new().file("site.yml", SLOW);
    let r = local(&p, "site.yml").run();
    r.ok();
    assert_eq!(r.stderr, "");
    assert_eq!(
        task_block(&r.stdout, "sleep a while"),
        "changed: [localhost]"
    );
    assert_eq!(
        task_block(&r.stdout, "quick"),
        "ok: [localhost] => {\n    \"msg\": \"done\"\n}"
    );
}

/// What a terminal shows once every carriage return, line erase and cursor move is applied.
fn rendered(raw: &str) -> Vec<String> {
    let mut lines: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut col) = (0usize, 0usize);
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                row += 1;
                col = 0;
                if lines.len() <= row {
                    lines.push(Vec::new());
                }
            }
            '\r' => col = 0,
            '\x1b' => {
                let mut seq = String::new();
                if chars.peek() == Some(&'[') {
                    chars.next();
                    while let Some(&n) = chars.peek() {
                        chars.next();
                        seq.push(n);
                        if n.is_ascii_alphabetic() {
                            break;
                        }
                    }
                }
                let n: usize = seq
                    .trim_end_matches(|c: char| c.is_ascii_alphabetic())
                    .parse()
                    .unwrap_or(1);
                match seq.chars().last() {
                    Some('K') => lines[row].truncate(if seq.starts_with('2') { 0 } else { col }),
                    Some('A') => row = row.saturating_sub(n),
                    Some('G') => col = n.saturating_sub(1),
                    _ => {}
                }
                if seq.ends_with('K') && seq.starts_with('2') {
                    col = 0;
                }
            }
            c => {
                let line = &mut lines[row];
                while line.len() < col {
                    line.push(' ');
                }
                if col < line.len() {
                    line[col] = c;
                } else {
                    line.push(c);
                }
                col += 1;
            }
        }
    }
    lines
        .into_iter()
        .map(|l| l.into_iter().collect::<String>().trim_end().to_string())
        .collect()
}

/// On a terminal a task running for more than a second shows `name  <spinner> 1.2s host`
/// on stderr until its result is printed; the line is cleared first, so what the terminal
/// finally shows is exactly the output of a run without one.
#[test]
fn a_long_task_on_a_terminal_shows_a_live_line_then_its_result() {
    let p = Project::new().file("site.yml", SLOW);
    let term = local(&p, "site.yml").spawn_pty();
    let live = term.expect("sleep a while  ", 15);
    let (code, screen) = term.finish(30);
    assert_eq!(code, 0, "{screen}");
    let at = live.rfind("sleep a while  ").unwrap();
    let line: String = live[at..]
        .chars()
        .take_while(|c| *c != '\r' && *c != '\n')
        .collect();
    assert!(
        line.contains("s localhost") && line.contains("1."),
        "live line {line:?}"
    );
    let shown = rendered(&screen);
    let plain = local(&p, "site.yml").run();
    let want: Vec<&str> = plain.stdout.lines().collect();
    let time = |l: &&str| l.starts_with("Total time:");
    let shown: Vec<&str> = shown
        .iter()
        .map(String::as_str)
        .filter(|l| !time(l))
        .collect();
    let want: Vec<&str> = want.into_iter().filter(|l| !time(l)).collect();
    assert_eq!(
        shown.join("\n").trim(),
        want.join("\n").trim(),
        "raw: {screen:?}"
    );
}

/// Ctrl-C while the live line shows: the line is cleared for the interrupt's message, and none
/// is left on the screen once the run has stopped (exit 99, the recap printed).
#[test]
fn an_interrupt_clears_the_live_line_for_its_message() {
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: sleep long
      command: sleep 30
"#,
    );
    let mut term = local(&p, "site.yml").spawn_pty();
    term.expect("sleep long  ", 15);
    term.ctrl_c();
    let (code, screen) = term.finish(30);
    assert_eq!(code, 99, "{screen}");
    let shown = rendered(&screen);
    assert!(
        shown
            .iter()
            .any(|l| l == "[prov] interrupted: stopping after cleanup (a second signal forces)"),
        "{shown:#?}"
    );
    assert!(
        !shown.iter().any(|l| l.contains("sleep long  ")),
        "a live line was left: {shown:#?}"
    );
    assert!(
        shown.iter().any(|l| l.starts_with("PLAY RECAP")),
        "{shown:#?}"
    );
}
