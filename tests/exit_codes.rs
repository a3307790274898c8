//! Exit codes, row by row as README.md's "Exit codes" table gives them: each case runs prov and
//! the test fixtures' ansible-playbook (ansible-core 2.19) on the same files and asserts both
//! exit with the table's code; the deliberate differences are asserted on both sides too, so a
//! change in either shows.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Project, Prov, wait_until};

/// A play on the implicit localhost that changes nothing.
const OK: &str = "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - debug: msg=hi\n";

fn play(tasks: &str) -> String {
    format!("- hosts: localhost\n  gather_facts: false\n  tasks:\n{tasks}")
}

/// ansible-playbook with these arguments in `dir`; its exit code as a shell reports it
/// (128 + the signal that killed it).
fn ansible_command(dir: &Path, args: &[&str]) -> Command {
    // Ansible's module payloads go to TMPDIR; one it was killed in stays there: keep them in
    // the project, which the test removes.
    let tmp = dir.join(".tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut cmd = Command::new(common::ansible_playbook());
    cmd.current_dir(dir)
        .env("TMPDIR", &tmp)
        .args(args)
        .env_remove("ANSIBLE_CONFIG")
        .env("ANSIBLE_LOCALHOST_WARNING", "false")
        .env("ANSIBLE_NOCOLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn shell_code(status: std::process::ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

fn ansible(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = ansible_command(dir, args)
        .output()
        .expect("run ansible-playbook");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (shell_code(out.status), text)
}

fn prov(dir: &Path, args: &[&str]) -> (i32, String) {
    let r = Prov::new().cwd(dir).arg("apply").args(args).run();
    (r.code, r.stdout + &r.stderr)
}

/// One row: files, arguments after `apply`/`ansible-playbook`, the code both must give and a
/// text prov's output must hold.
struct Case {
    what: &'static str,
    files: Vec<(&'static str, String)>,
    args: Vec<&'static str>,
    code: i32,
    says: &'static str,
}

fn case(
    what: &'static str,
    files: &[(&'static str, &str)],
    args: &[&'static str],
    code: i32,
    says: &'static str,
) -> Case {
    Case {
        what,
        files: files.iter().map(|(f, c)| (*f, c.to_string())).collect(),
        args: args.to_vec(),
        code,
        says,
    }
}

fn project(files: &[(&'static str, String)]) -> Project {
    files.iter().fold(Project::new(), |p, (f, c)| p.file(f, c))
}

#[test]
fn every_row_of_the_table_is_ansible_playbooks_code() {
    let fail = play("    - fail: {msg: boom}\n");
    let undefined = play("    - debug: {msg: \"{{ nope }}\"}\n");
    let cases = [
        case(
            "a run that goes through",
            &[("pb.yml", OK)],
            &["pb.yml"],
            0,
            "ok=1",
        ),
        case(
            "the playbook does not exist",
            &[],
            &["nosuch.yml"],
            1,
            "the playbook: nosuch.yml could not be found",
        ),
        case(
            "the playbook is a directory",
            &[("dir/x", "")],
            &["dir"],
            1,
            "the playbook: dir does not appear to be a file",
        ),
        case(
            "a role does not exist",
            &[(
                "pb.yml",
                "- hosts: localhost\n  gather_facts: false\n  roles: [nosuchrole]\n",
            )],
            &["pb.yml"],
            1,
            "role 'nosuchrole' not found",
        ),
        case(
            "an imported tasks file does not exist",
            &[("pb.yml", &play("    - import_tasks: missing.yml\n"))],
            &["pb.yml"],
            1,
            "could not find imported tasks file 'missing.yml'",
        ),
        case(
            "an -e @file does not exist",
            &[("pb.yml", OK)],
            &["pb.yml", "-e", "@missing.yml"],
            1,
            "missing.yml",
        ),
        case(
            "a --limit selects no host of the inventory",
            &[
                ("pb.yml", OK),
                ("hosts.ini", "h1 ansible_connection=local\n"),
            ],
            &["pb.yml", "-i", "hosts.ini", "--limit", "nosuch"],
            1,
            "--limit leaves us with no hosts to target",
        ),
        case("a task fails", &[("pb.yml", &fail)], &["pb.yml"], 2, "boom"),
        case(
            "a templating error while a task runs",
            &[("pb.yml", &undefined)],
            &["pb.yml"],
            2,
            "nope",
        ),
        case(
            "an unknown flag",
            &[("pb.yml", OK)],
            &["pb.yml", "--no-such-flag"],
            2,
            "--no-such-flag",
        ),
        case(
            "a flag's value does not parse",
            &[("pb.yml", OK)],
            &["pb.yml", "-f", "notanumber"],
            2,
            "notanumber",
        ),
        case(
            "a host is unreachable",
            &[
                (
                    "pb.yml",
                    "- hosts: far\n  gather_facts: false\n  tasks:\n    - ping:\n",
                ),
                (
                    "hosts.ini",
                    "far ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh\n",
                ),
            ],
            &["pb.yml", "-i", "hosts.ini", "-T", "5"],
            4,
            "UNREACHABLE!",
        ),
        case(
            "a YAML syntax error",
            &[(
                "pb.yml",
                "- hosts: localhost\n  tasks:\n    - debug: msg=hi\n   bad: [\n",
            )],
            &["pb.yml"],
            4,
            "pb.yml:",
        ),
        case(
            "an unknown module",
            &[("pb.yml", &play("    - nosuchmod: x=1\n"))],
            &["pb.yml"],
            4,
            "'nosuchmod'",
        ),
        case(
            "an unknown task keyword",
            &[("pb.yml", &play("    - debug: msg=hi\n      nme: x\n"))],
            &["pb.yml"],
            4,
            "'nme'",
        ),
        case(
            "an unknown play keyword",
            &[(
                "pb.yml",
                "- hosts: localhost\n  nosuchplaykw: 1\n  tasks: []\n",
            )],
            &["pb.yml"],
            4,
            "'nosuchplaykw'",
        ),
        case(
            "a keyword's value does not convert",
            &[(
                "pb.yml",
                "- hosts: localhost\n  gather_facts: fals\n  tasks: []\n",
            )],
            &["pb.yml"],
            4,
            "gather_facts",
        ),
        case(
            "ansible.cfg does not parse",
            &[("pb.yml", OK), ("ansible.cfg", "[defaults\nx=1\n")],
            &["pb.yml"],
            5,
            "ansible.cfg",
        ),
    ];
    let mut wrong = Vec::new();
    for c in &cases {
        let p = project(&c.files);
        let (prov_code, prov_out) = prov(&p.dir.path, &c.args);
        let (ansible_code, ansible_out) = ansible(&p.dir.path, &c.args);
        if ansible_code != c.code {
            wrong.push(format!(
                "{}: ansible-playbook exits {ansible_code}, the table says {}\n{ansible_out}",
                c.what, c.code
            ));
        }
        if prov_code != c.code || !prov_out.contains(c.says) {
            wrong.push(format!(
                "{}: prov exits {prov_code} (want {}, saying {:?})\n{prov_out}",
                c.what, c.code, c.says
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// (what, files, args, prov's code, ansible-playbook's code)
type Difference<'a> = (
    &'a str,
    &'a [(&'static str, &'a str)],
    &'a [&'static str],
    i32,
    i32,
);

#[test]
fn deliberate_differences_are_what_the_readme_says() {
    let rows: [Difference; 3] = [
        // Ansible warns "Unable to parse ... as an inventory source" and runs on the implicit
        // localhost; prov stops, as Ansible with inventory_unparsed_failed does (exit 1).
        (
            "an inventory that does not parse",
            &[("pb.yml", OK), ("hosts.yml", "all:\n  hosts:\n    x: [\n")],
            &["pb.yml", "-i", "hosts.yml"],
            1,
            0,
        ),
        // Ansible fails the host when it reaches the task; prov refuses before anything runs.
        (
            "a module option that does not exist",
            &[("pb.yml", &play("    - debug: {msg: 1, nosuch: 2}\n"))],
            &["pb.yml"],
            4,
            2,
        ),
        // Ansible fails each host ("the connection plugin 'telnet' was not found").
        (
            "an unknown connection type",
            &[(
                "pb.yml",
                "- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n",
            )],
            &["pb.yml", "-i", "x,", "-c", "telnet"],
            5,
            2,
        ),
    ];
    for (what, files, args, prov_want, ansible_want) in rows {
        let files: Vec<(&'static str, String)> =
            files.iter().map(|(f, c)| (*f, c.to_string())).collect();
        let p = project(&files);
        let (code, out) = prov(&p.dir.path, args);
        assert_eq!(code, prov_want, "{what}: prov\n{out}");
        let (code, out) = ansible(&p.dir.path, args);
        assert_eq!(code, ansible_want, "{what}: ansible-playbook\n{out}");
    }
}

/// Ctrl-C gives 99 ("User interrupted execution"), SIGTERM 143, in both, after the task under
/// way started.
#[test]
fn signals_stop_a_run_with_ansibles_codes() {
    let pb = play(
        "    - copy: {dest: \"{{ playbook_dir }}/started\", content: x}\n    - command: sleep 30\n",
    );
    for (signal, want) in [(libc::SIGINT, 99), (libc::SIGTERM, 143)] {
        let p = Project::new().file("pb.yml", &pb);
        let marker = p.path("started");
        let run = Prov::new()
            .cwd(&p.dir.path)
            .args(["apply", "pb.yml"])
            .spawn();
        wait_until(60, "prov's first task", || marker.exists());
        std::thread::sleep(Duration::from_millis(500));
        run.signal(signal);
        let done = run.finish();
        assert_eq!(
            done.code, want,
            "prov, signal {signal}\n{}{}",
            done.stdout, done.stderr
        );

        std::fs::remove_file(&marker).unwrap();
        let mut child = ansible_command(&p.dir.path, &["pb.yml"]).spawn().unwrap();
        wait_until(120, "ansible-playbook's first task", || marker.exists());
        std::thread::sleep(Duration::from_millis(1500));
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = child.wait().unwrap();
        assert_eq!(
            shell_code(status),
            want,
            "ansible-playbook, signal {signal}"
        );
    }
}
