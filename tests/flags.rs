//! ansible-playbook's run-shaping flags: several playbooks in one command, `--start-at-task`,
//! `--step`, `-k/--ask-pass`, `--ssh-common-args`/`--ssh-extra-args`. Each test states what
//! ansible-playbook 2.19 does (checked with the fixture venv where it can run the case); the
//! SSH ones run against real OpenSSH test hosts (tests/common/ssh.rs).

mod common;

use common::ssh::{Client, SUDO_PASSWORD, SshHost};
use common::{Project, Prov, Run};

const FIRST: &str = "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: first\n      debug: msg=one\n      changed_when: true\n      notify: the handler\n    - name: second\n      debug: msg=two\n    - name: third\n      debug: msg=three\n  handlers:\n    - name: the handler\n      debug: msg=handled\n- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: later play\n      debug: msg=later\n";
const OTHER: &str = "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: other task\n      debug: msg=other\n";
const FAILING: &str =
    "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: boom\n      fail: msg=boom\n";

fn project() -> Project {
    Project::new()
        .file("a.yml", FIRST)
        .file("b.yml", OTHER)
        .file("fail.yml", FAILING)
        .file(
            "roled.yml",
            "- hosts: localhost\n  gather_facts: false\n  roles: [web]\n  tasks:\n    - name: after the role\n      debug: msg=after\n",
        )
        .file(
            "roles/web/tasks/main.yml",
            "- name: install\n  debug: msg=install\n- name: configure\n  debug: msg=configure\n",
        )
}

fn prov(p: &Project, args: &[&str]) -> Prov {
    Prov::new()
        .cwd(&p.dir.path)
        .args(["apply", "-c", "local", "-i", "localhost,"])
        .args(args)
}

/// The TASK banners of a text run, in order.
fn tasks_run(r: &Run) -> Vec<String> {
    r.stdout
        .lines()
        .filter_map(|l| {
            l.strip_prefix("TASK [")
                .or(l.strip_prefix("RUNNING HANDLER ["))
        })
        .filter_map(|l| l.split_once("] ").map(|(n, _)| n.to_string()))
        .collect()
}

/// ansible-playbook a.yml b.yml runs them in order, its stats adding up over both; 2.19 prints
/// a recap after each playbook, with the counts so far, and so does prov. A playbook
/// after which a host failed is the last: `fail.yml b.yml` never starts b.yml (exit 2). A
/// missing playbook is reported before anything runs (Ansible: "the playbook: nope.yml could
/// not be found"). --syntax-check and --list-tasks go over every playbook, each headed
/// `playbook: NAME`.
#[test]
fn several_playbooks_run_in_order_as_one_run() {
    let p = project();
    let r = prov(&p, &["b.yml", "a.yml"]).run();
    r.ok();
    assert_eq!(
        tasks_run(&r),
        [
            "other task",
            "first",
            "second",
            "third",
            "the handler",
            "later play"
        ]
    );
    assert_eq!(r.stdout.matches("PLAY RECAP").count(), 2, "{}", r.stdout);
    let (first, last) = r.stdout.split_once("PLAY RECAP").unwrap();
    let (interim, _) = last
        .split_once("PLAY [")
        .expect("a.yml's play after b.yml's recap");
    assert!(first.contains("other task") && !first.contains("TASK [first]"));
    assert!(interim.contains("ok=1 "), "{interim}");
    r.stdout_has("ok=6 ");

    let r = prov(&p, &["fail.yml", "b.yml"]).run();
    r.code(2);
    assert_eq!(tasks_run(&r), ["boom"], "b.yml must not start");

    let r = prov(&p, &["b.yml", "nope.yml"]).run();
    r.code(1)
        .stderr_has("the playbook: nope.yml could not be found");
    assert!(
        tasks_run(&r).is_empty() && !r.stdout.contains("PLAY"),
        "{}",
        r.stdout
    );

    let r = prov(&p, &["b.yml", "a.yml", "--syntax-check"]).run();
    r.ok();
    let b = r.stdout.find("playbook: b.yml").expect("b.yml checked");
    let a = r.stdout.find("playbook: a.yml").expect("a.yml checked");
    assert!(b < a, "{}", r.stdout);
    let r = prov(&p, &["b.yml", "a.yml", "--list-tasks"]).run();
    r.ok();
    let order: Vec<usize> = [
        "playbook: b.yml",
        "other task",
        "playbook: a.yml",
        "later play",
    ]
    .iter()
    .map(|w| {
        r.stdout
            .find(w)
            .unwrap_or_else(|| panic!("{w}: {}", r.stdout))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", r.stdout);

    // `prov check` too: the same order, nothing changed.
    let r = Prov::new()
        .cwd(&p.dir.path)
        .args(["check", "-c", "local", "-i", "localhost,", "b.yml", "a.yml"])
        .run();
    r.ok();
    assert_eq!(
        tasks_run(&r).first().map(String::as_str),
        Some("other task")
    );
}

/// ansible-playbook --start-at-task NAME: the tasks before the first whose name (or
/// `role : name`) equals or fnmatch-es NAME are not run and not printed (a handler they would
/// have notified does not run); the plays before it print their header only; later plays and
/// playbooks run whole. No match anywhere: every play header, an empty recap, then `[ERROR]:
/// No matching task "NAME" found. Note: --start-at-task can only follow static includes.` on
/// stderr, and exit 0.
#[test]
fn start_at_task_passes_over_what_comes_before() {
    let p = project();
    let r = prov(&p, &["a.yml", "--start-at-task", "second"]).run();
    r.ok();
    assert_eq!(tasks_run(&r), ["second", "third", "later play"]);
    assert!(!r.stdout.contains("msg\": \"one") && !r.stdout.contains("handled"));

    // A glob, across playbooks: b.yml runs nothing, a.yml starts at "third".
    let r = prov(&p, &["b.yml", "a.yml", "--start-at-task", "th*"]).run();
    r.ok();
    assert_eq!(tasks_run(&r), ["third", "later play"]);
    assert_eq!(
        r.stdout.matches("PLAY [localhost]").count(),
        3,
        "{}",
        r.stdout
    );

    // `role : name` and a role task's bare name both match.
    for pattern in ["web : configure", "configure"] {
        let r = prov(&p, &["roled.yml", "--start-at-task", pattern]).run();
        r.ok();
        assert_eq!(tasks_run(&r), ["web : configure", "after the role"]);
    }

    let r = prov(&p, &["b.yml", "a.yml", "--start-at-task", "nothing"]).run();
    r.ok().stderr_has(
        "[ERROR]: No matching task \"nothing\" found. Note: --start-at-task can only follow static includes.",
    );
    assert!(tasks_run(&r).is_empty(), "{}", r.stdout);
    r.stdout_has("PLAY RECAP");
}

/// ansible-playbook --step asks before each task `Perform task: TASK: NAME (N)o/(y)es/(c)ontinue: `
/// with Python's input(): it reads stdin (a pipe works) and prints the question on stdout,
/// then again as a banner. `n` (or anything else) passes over the task silently, `y` runs
/// it, `c` runs it and the rest of the play without asking; the next play asks again.
/// (Ansible dies with a traceback when stdin ends; prov stops as on Ctrl-C.)
#[test]
fn step_asks_before_each_task() {
    let p = project();
    let r = prov(&p, &["a.yml", "--step"]).stdin("n\ny\nc\ny\n").run();
    r.ok();
    assert_eq!(tasks_run(&r), ["second", "third", "later play"]);
    for q in ["first", "second", "third", "later play"] {
        r.stdout_has(&format!("Perform task: TASK: {q} (N)o/(y)es/(c)ontinue: "));
    }
    assert_eq!(r.stdout.matches("Perform task:").count(), 8, "{}", r.stdout);

    // Stdin ends before the last answer: the run stops as on Ctrl-C.
    let r = prov(&p, &["a.yml", "--step"]).stdin("y\n").run();
    r.code(99)
        .stdout_has("--step: stdin ended without an answer");
    assert_eq!(tasks_run(&r).first().map(String::as_str), Some("first"));
    assert!(
        !tasks_run(&r)
            .iter()
            .any(|t| t == "second" || t == "later play")
    );

    // At a terminal, as a person answers.
    let mut t = prov(&p, &["a.yml", "--step"]).spawn_pty();
    t.expect("Perform task: TASK: first (N)o/(y)es/(c)ontinue: ", 30);
    t.send("y");
    t.expect("Perform task: TASK: second (N)o/(y)es/(c)ontinue: ", 30);
    t.send("n");
    t.expect("Perform task: TASK: third (N)o/(y)es/(c)ontinue: ", 30);
    t.send("c");
    t.expect("Perform task: TASK: later play (N)o/(y)es/(c)ontinue: ", 30);
    t.send("no");
    let (code, screen) = t.finish(30);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("TASK [third]") && screen.contains("RUNNING HANDLER [the handler]"));
    assert!(!screen.contains("TASK [second]") && !screen.contains("TASK [later play]"));
}

/// ssh arguments prov's connections cannot honour are refused before anything runs, naming
/// the option (exit 5, prov's bad-options code; Ansible would pass them to ssh).
#[test]
fn unsupported_ssh_arguments_are_refused_by_name() {
    let p = project();
    for (flag, value, named) in [
        ("--ssh-common-args", "-o ForwardAgent=yes", "ForwardAgent"),
        (
            "--ssh-extra-args",
            "-o Port=22 -R 8080:localhost:80",
            "'-R'",
        ),
        (
            "--ssh-extra-args",
            "-o ServerAliveInterval=often",
            "serveraliveinterval",
        ),
    ] {
        let r = prov(&p, &["b.yml", flag, value]).run();
        r.code(5).stderr_has(flag).stderr_has(named);
        assert!(!r.stdout.contains("PLAY"), "{}", r.stdout);
    }
}

/// A test host that also takes passwords (pwuser's is [`SUDO_PASSWORD`]), and an inventory
/// that logs in as pwuser without a key.
fn password_host(client: &Client, name: &str) -> (SshHost, Project) {
    let host = SshHost::start_with(
        name,
        client,
        &[
            "PasswordAuthentication=yes",
            "KbdInteractiveAuthentication=no",
        ],
        |_| {},
    );
    client.trust(&[&host]);
    let p = Project::new()
        .file(
            "hosts.yml",
            &format!(
                "all:\n  hosts:\n    {name}:\n      ansible_host: 127.0.0.1\n      ansible_port: {}\n      ansible_user: pwuser\n",
                host.port
            ),
        )
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: who\n      command: id -un\n      register: who\n    - debug: var=who.stdout\n",
        );
    (host, p)
}

/// ansible-playbook -k asks `SSH password: ` (getpass: the terminal, or stdin with a warning
/// when there is none) and logs in with it; `ansible_password` in the inventory does the
/// same without asking. A wrong password is an authentication failure: the host is
/// UNREACHABLE and the exit code 4. (Checked against the documentation: the venv has no
/// sshpass, which Ansible's ssh connection needs for passwords.)
#[test]
fn ask_pass_and_ansible_password_log_in_with_a_password() {
    let client = Client::new();
    let (_host, p) = password_host(&client, "pw-1");
    let run = |extra: &[&str], stdin: &str| {
        client
            .prov()
            .cwd(&p.dir.path)
            .args(["apply", "site.yml", "-i", "hosts.yml"])
            .args(extra)
            .stdin(stdin)
            .run()
    };
    let r = run(&["-k"], &format!("{SUDO_PASSWORD}\n"));
    r.ok().stdout_has("\"who.stdout\": \"pwuser\"");
    r.stderr_has("SSH password: ");
    assert!(!r.stdout.contains(SUDO_PASSWORD) && !r.stderr.contains(SUDO_PASSWORD));

    // At a terminal: asked there, never echoed.
    let mut t = client
        .prov()
        .cwd(&p.dir.path)
        .args(["apply", "site.yml", "-i", "hosts.yml", "-k"])
        .spawn_pty();
    t.expect("SSH password: ", 30);
    t.send(SUDO_PASSWORD);
    let (code, screen) = t.finish(60);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("\"who.stdout\": \"pwuser\""), "{screen}");
    assert!(!screen.contains(SUDO_PASSWORD), "echoed: {screen}");

    // Without -k there is nothing to log in with.
    run(&[], "").code(4).stdout_has("UNREACHABLE");
    let r = run(&["-k"], "not-the-password\n");
    r.code(4).stdout_has("UNREACHABLE");
    assert!(r.stdout.contains("password") || r.stderr.contains("password"));

    // -k then -K: the become password defaults to the SSH password when left empty.
    let r = run(&["-k", "-K", "-b"], &format!("{SUDO_PASSWORD}\n\n"));
    r.ok().stdout_has("\"who.stdout\": \"root\"");
    r.stderr_has("BECOME password[defaults to SSH password]: ");

    // The inventory's ansible_password, no prompt.
    let r = run(&["-e", &format!("ansible_password={SUDO_PASSWORD}")], "");
    r.ok().stdout_has("\"who.stdout\": \"pwuser\"");
    assert!(!r.stderr.contains("SSH password"));

    // PasswordAuthentication=no in the ssh arguments: the password is not offered.
    let r = run(
        &["-k", "--ssh-extra-args", "-o PasswordAuthentication=no"],
        &format!("{SUDO_PASSWORD}\n"),
    );
    r.code(4).stdout_has("UNREACHABLE");
}

/// --ssh-common-args/--ssh-extra-args reach the connection as ssh would take them: the port
/// and user from `-o Port=`/`-l`, the key from `-i`, host keys from `-o
/// StrictHostKeyChecking=accept-new -o UserKnownHostsFile=FILE` (the new key recorded in
/// FILE). Ansible passes these to ssh.
#[test]
fn ssh_arguments_take_effect() {
    let client = Client::new();
    let host = SshHost::start("args-1", &client);
    let known = client.dir.path.join("other_known_hosts");
    let p = Project::new()
        .file(
            "hosts.yml",
            "all:\n  hosts:\n    args-1:\n      ansible_host: 127.0.0.1\n",
        )
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: id -un\n      register: who\n    - debug: var=who.stdout\n",
        );
    let args = format!(
        "-o Port={} -l tester -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={}",
        host.port,
        known.display()
    );
    let run = |extra: &[&str]| {
        client
            .prov()
            .cwd(&p.dir.path)
            .args(["apply", "site.yml", "-i", "hosts.yml"])
            .args(extra)
            .run()
    };
    let key = format!("-i {} -o IdentitiesOnly=yes", client.key.display());
    let r = run(&["--ssh-common-args", &args, "--ssh-extra-args", &key]);
    r.ok().stdout_has("\"who.stdout\": \"tester\"");
    let recorded = std::fs::read_to_string(&known).unwrap();
    assert!(
        recorded.contains(&format!("[127.0.0.1]:{}", host.port))
            && recorded.contains(host.host_key.trim()),
        "{recorded}"
    );
    // Without the arguments: port 22 of 127.0.0.1 is not this host.
    assert!(
        !std::fs::read_to_string(client.known_hosts())
            .unwrap_or_default()
            .contains(&host.port.to_string())
    );
    // Strict host key checking against an empty known_hosts file refuses the host.
    let empty = client.dir.path.join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let strict = format!(
        "-o Port={} -l tester -o StrictHostKeyChecking=yes -o UserKnownHostsFile={}",
        host.port,
        empty.display()
    );
    run(&["--ssh-common-args", &strict, "--ssh-extra-args", &key])
        .code(4)
        .stdout_has("not in known_hosts");
}
