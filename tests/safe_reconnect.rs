//! Lockout-safe sshd changes (`prov_safe_reconnect`, src/engine/safe_reconnect.rs) on live SSH
//! test hosts whose sshd really re-reads its configuration: the host's `systemctl` stand-in
//! is wrapped so that restarting or reloading `ssh` sends SIGHUP to the host's own sshd (inside
//! the host's PID namespace; nothing outside it). A change that locks the login user out is
//! reverted by the target itself and the task fails; a good one is kept; a prov killed after
//! arming leaves a target that reverts by itself.
//!
//! Ansible has no such feature (it ignores the `prov_safe_reconnect` task variable); the
//! reference is the issue's design and `netplan try`.

mod common;

use std::time::{Duration, Instant};

use common::ssh::{Client, SshHost};
use common::{Project, Run, Snapshot, wait_until};

/// The wrapper: `systemctl restart|reload ssh` makes the host's sshd (the listener started by
/// PID 1 as `/usr/sbin/sshd -D ...`, titled `sshd: /usr/sbin/sshd -D ... [listener]` once it
/// runs; not the sessions) re-exec and re-read sshd_config, then logs through the original stand-in.
const SYSTEMCTL_HOOK: &str = r#"#!/bin/sh
case "$1" in
    restart|reload|reload-or-restart|try-restart)
        case "$2" in
            ssh|sshd|ssh.service|sshd.service)
                for p in /proc/[0-9]*; do
                    case "$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null)" in
                        "/usr/sbin/sshd -D "*|"sshd: /usr/sbin/sshd -D "*) kill -HUP "${p#/proc/}" ;;
                    esac
                done
                sleep 1 ;;
        esac ;;
esac
exec /usr/local/sbin/systemctl-logging "$@"
"#;

/// A live host whose ssh restarts are real SIGHUPs, trusted by the client.
fn host(name: &str, client: &Client) -> SshHost {
    hooked(SshHost::start_live(name, client), client)
}

fn hooked(h: SshHost, client: &Client) -> SshHost {
    let root = &h.root;
    std::fs::rename(
        root.file("usr/local/sbin/systemctl"),
        root.file("usr/local/sbin/systemctl-logging"),
    )
    .unwrap();
    root.write("usr/local/sbin/systemctl", SYSTEMCTL_HOOK);
    std::fs::set_permissions(
        root.file("usr/local/sbin/systemctl"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    client.trust(&[&h]);
    h
}

/// A play that changes sshd_config with `change` (a task body, indented for a task) and
/// restarts ssh when it changed; `extra_handler` is appended to the handlers.
fn playbook(change: &str, extra_handler: &str) -> String {
    format!(
        r#"- hosts: all
  become: true
  gather_facts: false
  vars:
    prov_safe_reconnect_timeout: 5
  tasks:
    - name: Change sshd
{change}
      notify: [Restart SSH, Then wait]
    - name: After the change
      ansible.builtin.command: "true"
  handlers:
    - name: Restart SSH
      ansible.builtin.systemd:
        name: ssh
        state: restarted
    - name: Then wait
      ansible.builtin.command: "{extra_handler}"
"#
    )
}

fn lineinfile(line: &str) -> String {
    format!(
        r#"      ansible.builtin.lineinfile:
        path: /etc/ssh/sshd_config
        line: "{line}"
        validate: sshd -t -f %s
      vars:
        prov_safe_reconnect: true"#
    )
}

fn apply(client: &Client, h: &SshHost, play: &str, extra: &[&str]) -> Run {
    let p = Project::new()
        .file("hosts.yml", &client.inventory(&[h], "tester"))
        .file("site.yml", play);
    client.apply(&p, "site.yml").args(extra).json().run()
}

fn can_login(client: &Client, h: &SshHost) -> bool {
    h.ssh(client, "true").status.success()
}

/// Revert watchdogs still running on the host.
fn watchdogs(client: &Client, h: &SshHost) -> String {
    let out = h.ssh(
        client,
        "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f 2>/dev/null; echo; done | grep 'prov-rever[t]' || true",
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// What changed on the host apart from the stand-ins' log.
fn changes(before: &Snapshot, h: &SshHost) -> Vec<String> {
    before
        .diff(&h.root.snapshot())
        .into_iter()
        .filter(|d| !d.contains("var/log/prov-standins.log"))
        .collect()
}

/// A lockout: the task fails saying what is reverted, the host takes logins again with the
/// old file, and nothing else on the host changed.
#[track_caller]
fn assert_reverted(client: &Client, h: &SshHost, run: &Run, before: &Snapshot, original: &str) {
    run.code(2);
    assert_eq!(run.task(&h.name, "Change sshd")["status"], "changed");
    let confirm = run.task(&h.name, "Confirm over a new connection: Change sshd");
    assert_eq!(confirm["status"], "failed", "{confirm}");
    let msg = confirm["msg"].as_str().unwrap();
    assert!(
        msg.contains("could not be confirmed over a new connection")
            && msg.contains("the target reverts to the previous files (")
            && msg.contains("/etc/ssh/sshd_config")
            && msg.ends_with("the host accepts logins again"),
        "{msg}"
    );
    // The handlers ran before the confirm; the play stopped for the host after it.
    assert!(
        h.standin_calls()
            .contains(&"systemctl restart ssh".to_string())
    );
    assert!(
        run.json()["stats"][&h.name]["failed"].as_u64().unwrap() >= 1,
        "{}",
        run.stdout
    );
    assert!(can_login(client, h));
    assert_eq!(h.root.read("etc/ssh/sshd_config"), original);
    assert_eq!(changes(before, h), Vec::<String>::new());
    assert_eq!(watchdogs(client, h), "");
}

#[test]
fn a_good_sshd_change_is_confirmed_and_kept() {
    let client = Client::new();
    let h = host("safe-good", &client);
    let play = playbook(&lineinfile("LoginGraceTime 42"), "true");
    let before = h.root.snapshot();

    // The dry run says what it would arm and arms nothing.
    let check = apply(&client, &h, &play, &["--check"]);
    check.ok();
    let planned = check.task(&h.name, "Change sshd");
    assert_eq!(
        planned["result"]["prov_safe_reconnect"],
        "a revert would be armed (5 s) for: /etc/ssh/sshd_config",
        "{planned}"
    );
    assert_eq!(changes(&before, &h), Vec::<String>::new());

    let run = apply(&client, &h, &play, &[]);
    run.ok();
    let changed = run.task(&h.name, "Change sshd");
    assert_eq!(
        changed["result"]["prov_safe_reconnect"],
        "revert armed (watchdog, 5 s) for: /etc/ssh/sshd_config",
        "{changed}"
    );
    let confirm = run.task(&h.name, "Confirm over a new connection: Change sshd");
    assert_eq!(confirm["status"], "ok", "{confirm}");
    assert_eq!(run.task(&h.name, "After the change")["status"], "changed");
    // Past the revert window: the change is still there, no watchdog, no snapshot left.
    std::thread::sleep(Duration::from_secs(7));
    assert!(
        h.root
            .read("etc/ssh/sshd_config")
            .ends_with("\nLoginGraceTime 42\n")
    );
    assert!(!h.root.file("var/lib/prov").exists());
    assert_eq!(watchdogs(&client, &h), "");
    assert!(can_login(&client, &h));
    let changed: Vec<String> = changes(&before, &h);
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(
        changed[0].starts_with("changed etc/ssh/sshd_config"),
        "{changed:?}"
    );
}

#[test]
fn allow_users_nobody_is_reverted() {
    let client = Client::new();
    let h = host("safe-allow", &client);
    let original = h.root.read("etc/ssh/sshd_config");
    let before = h.root.snapshot();
    let run = apply(
        &client,
        &h,
        &playbook(&lineinfile("AllowUsers nobody"), "true"),
        &[],
    );
    assert_reverted(&client, &h, &run, &before, &original);
    // The failed host ran nothing after the confirm.
    assert!(
        run.tasks_where(&h.name, |_| true)
            .iter()
            .all(|(n, _)| n != "After the change")
    );
}

#[test]
fn a_no_log_change_is_confirmed_without_showing_what_it_reverts() {
    let client = Client::new();
    let h = host("safe-nolog", &client);
    let change = format!("{}\n      no_log: true", lineinfile("AllowUsers nobody"));
    let run = apply(&client, &h, &playbook(&change, "true"), &[]);
    run.code(2);
    let confirm = run.task(&h.name, "Confirm over a new connection: Change sshd");
    assert_eq!(confirm["status"], "failed", "{confirm}");
    // Neither the reverted paths nor the failure's details, in any output.
    for out in [&run.stdout, &run.stderr] {
        assert!(!out.contains("sshd_config"), "{out}");
        assert!(!out.contains("could not be confirmed"), "{out}");
    }
    assert!(can_login(&client, &h));
}

#[test]
fn a_match_block_denying_the_admin_is_reverted() {
    let client = Client::new();
    let h = host("safe-match", &client);
    let original = h.root.read("etc/ssh/sshd_config");
    let before = h.root.snapshot();
    // The task keyword form (prov turns it into the task variable).
    let change = r#"      ansible.builtin.blockinfile:
        path: /etc/ssh/sshd_config
        block: |
          Match User tester
              DenyUsers tester
        validate: sshd -t -f %s
      prov_safe_reconnect: true"#;
    let run = apply(&client, &h, &playbook(change, "true"), &[]);
    assert_reverted(&client, &h, &run, &before, &original);
}

#[test]
fn a_wrong_port_is_reverted() {
    let client = Client::new();
    // This host's sshd takes its Port from sshd_config (the harness passes none).
    let h = SshHost::start_live_with("safe-port", &client, |root| {
        root.write("etc/ssh/port-in-config", "")
    });
    let h = hooked(h, &client);
    let original = h.root.read("etc/ssh/sshd_config");
    assert!(
        original.starts_with(&format!("Port {}\n", h.port)),
        "{original}"
    );
    let before = h.root.snapshot();
    let wrong = common::ssh::free_port();
    let change = format!(
        r#"      ansible.builtin.lineinfile:
        path: /etc/ssh/sshd_config
        regexp: "^Port "
        line: "Port {wrong}"
        validate: sshd -t -f %s
      vars:
        prov_safe_reconnect: true"#
    );
    let run = apply(&client, &h, &playbook(&change, "true"), &[]);
    assert_reverted(&client, &h, &run, &before, &original);
}

/// A restart that also ends the existing sessions (as `systemctl restart ssh` does where the
/// unit kills its whole control group) leaves prov no connection to revert over: the target's
/// watchdog reverts by itself and prov waits for it.
#[test]
fn a_restart_that_ends_the_old_session_is_reverted_by_the_target() {
    let client = Client::new();
    let h = host("safe-sessions", &client);
    // Right after the handler, every sshd session process (not the listener) is killed, well
    // within the confirm's retries (5 s with a 10 s revert window).
    h.root.write(
        "usr/local/bin/end-ssh-sessions",
        r#"#!/bin/sh
setsid sh -c 'sleep 0.2; for p in /proc/[0-9]*; do case "$(cat $p/comm 2>/dev/null) $(tr "\0" " " < $p/cmdline)" in "sshd /usr/sbin/sshd -D "*|"sshd sshd: /usr/sbin/sshd -D "*) ;; sshd*) kill -9 "${p#/proc/}";; esac; done' </dev/null >/dev/null 2>&1 &
"#,
    );
    std::fs::set_permissions(
        h.root.file("usr/local/bin/end-ssh-sessions"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let original = h.root.read("etc/ssh/sshd_config");
    let before = h.root.snapshot();
    let run = apply(
        &client,
        &h,
        &playbook(&lineinfile("AllowUsers nobody"), "end-ssh-sessions"),
        &["-e", "prov_safe_reconnect_timeout=10"],
    );
    let confirm = run.task(&h.name, "Confirm over a new connection: Change sshd");
    let msg = confirm["msg"].as_str().unwrap_or_default();
    assert!(
        msg.contains("the target reverts to the previous files (by itself within")
            && msg.ends_with("the host accepts logins again"),
        "{confirm}\n{}",
        run.stdout
    );
    assert_reverted(&client, &h, &run, &before, &original);
}

#[test]
fn a_killed_prov_leaves_a_target_that_reverts_by_itself() {
    let client = Client::new();
    let h = host("safe-killed", &client);
    let original = h.root.read("etc/ssh/sshd_config");
    let before = h.root.snapshot();
    let p = Project::new()
        .file("hosts.yml", &client.inventory(&[&h], "tester"))
        .file(
            "site.yml",
            &playbook(&lineinfile("AllowUsers nobody"), "sleep 60"),
        );
    let prov = client.apply(&p, "site.yml").json().spawn();
    // Armed, changed and restarted: the host now refuses the admin.
    wait_until(60, "the change and its restart", || {
        h.standin_calls()
            .contains(&"systemctl restart ssh".to_string())
    });
    assert!(
        h.root
            .read("etc/ssh/sshd_config")
            .contains("AllowUsers nobody")
    );
    assert!(!can_login(&client, &h));
    prov.kill();
    let killed = Instant::now();
    wait_until(30, "the target to revert by itself", || {
        h.root.read("etc/ssh/sshd_config") == original && !h.root.file("var/lib/prov").exists()
    });
    assert!(killed.elapsed() < Duration::from_secs(15));
    wait_until(10, "logins to work again", || can_login(&client, &h));
    // The killed prov's transport leaves its session directory in /tmp (as any SIGKILL
    // does); the handler's own command (`sleep 60`, orphaned) is no file change. Nothing else.
    let left: Vec<String> = changes(&before, &h)
        .into_iter()
        .filter(|c| !c.starts_with("added tmp/prov."))
        .collect();
    assert_eq!(left, Vec::<String>::new());
    assert_eq!(watchdogs(&client, &h), "");
}

/// A local (or chroot) connection has no connection to lose: the setting does nothing, and -v
/// says so once for the run.
#[test]
fn local_connection_ignores_the_setting() {
    let p = Project::new().file("hosts.ini", "me ansible_connection=local\n");
    let dir = p.path("out");
    let task = |n: u32| {
        format!(
            "    - name: write {n}\n      copy: {{dest: \"{}/f{n}\", content: \"x\\n\"}}\n      prov_safe_reconnect: true\n",
            dir.display()
        )
    };
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - file: {{path: \"{}\", state: directory}}\n{}{}",
        dir.display(),
        task(1),
        task(2)
    );
    let p = p.file("site.yml", &play);
    let run = common::Prov::new()
        .cwd(&p.dir.path)
        .args(["apply", "site.yml", "-i", "hosts.ini", "-v"])
        .run();
    run.ok();
    assert_eq!(
        run.stdout
            .matches("prov_safe_reconnect does nothing on local, chroot and delegated tasks")
            .count(),
        1,
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("Confirm over a new connection"));
    assert!(!run.stdout.contains("revert armed"));
    assert_eq!(std::fs::read_to_string(dir.join("f2")).unwrap(), "x\n");
}

/// A chroot-like target over SSH (an image build; `ansible_is_chroot` gathered true): its sshd
/// is not the one being configured, so nothing is armed or confirmed.
#[test]
fn a_chroot_like_target_is_not_armed() {
    let client = Client::new();
    let h = SshHost::start("safe-chroot", &client);
    client.trust(&[&h]);
    let play = playbook(&lineinfile("LoginGraceTime 42"), "true")
        .replace("gather_facts: false", "gather_facts: true");
    let run = apply(&client, &h, &play, &[]);
    run.ok();
    let changed = run.task(&h.name, "Change sshd");
    assert_eq!(changed["status"], "changed");
    assert!(
        changed["result"].get("prov_safe_reconnect").is_none(),
        "{changed}"
    );
    assert!(!run.stdout.contains("Confirm over a new connection"));
    assert!(!h.root.file("var/lib/prov").exists());
}
