//! Persistent connections (`--persist`, `prov agent`) against real OpenSSH test hosts
//! (tests/common/ssh.rs), whose sshd logs every login at LogLevel VERBOSE ("Accepted
//! publickey for USER"): a warm run logs in nowhere and reports what a cold run reports; other
//! credentials get a connection of their own; a connection the host dropped is made again;
//! a killed agent or a killed run leaves nothing that blocks the next; the socket is private.
//!
//! Each test gives the agent a directory of its own (XDG_RUNTIME_DIR) and stops it at the end.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::ssh::{Client, SUDO_PASSWORD, SshHost};
use common::{Prov, Run, TempDir, wait_until};

const PLAYBOOK: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: who
      command: id -un
      register: who
      changed_when: false
    - name: login user's file
      copy:
        dest: "/tmp/persist-{{ who.stdout }}"
        content: "hello {{ who.stdout }}\n"
    - name: root's file
      become: true
      copy:
        dest: /etc/persist-root
        content: "root\n"
    - name: facts of a file
      stat:
        path: /etc/hostname
"#;

/// Logins sshd accepted for `user`.
fn logins(host: &SshHost, user: &str) -> usize {
    host.sshd_log()
        .matches(&format!("Accepted publickey for {user} "))
        .count()
}

/// The task statuses of a JSON run on `host`.
fn statuses(run: &Run, host: &str) -> Vec<(String, String)> {
    ["ok", "changed", "skipped", "failed"]
        .iter()
        .flat_map(|s| {
            run.tasks_with(host, s)
                .into_iter()
                .map(|t| (t, s.to_string()))
        })
        .collect()
}

/// `prov agent status`'s pid, or None when no agent runs.
fn agent_pid(run_dir: &Path, client: &Client) -> Option<u32> {
    let run = agent(run_dir, client, "status");
    let line = run.stdout.lines().next()?;
    let pid = line.strip_prefix("prov agent running (pid ")?;
    pid.split(',').next()?.parse().ok()
}

fn agent(run_dir: &Path, client: &Client, cmd: &str) -> Run {
    client
        .prov()
        .env("XDG_RUNTIME_DIR", run_dir.to_str().unwrap())
        .args(["agent", cmd])
        .run()
}

fn alive(pid: u32) -> bool {
    // A zombie has gone for our purposes (the test harness is not its parent, but be safe).
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// Kill the host's sshd processes serving `user`'s connections: the host drops them.
fn drop_connections(host: &SshHost, user: &str) -> usize {
    let top = host.pid().unwrap();
    let mut parents = std::collections::HashMap::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid: u32 = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        parents.insert(pid, ppid);
    }
    let below = |mut pid: u32| {
        while pid > 1 {
            if pid == top {
                return true;
            }
            pid = parents.get(&pid).copied().unwrap_or(0);
        }
        false
    };
    let mut killed = 0;
    for (&pid, _) in parents.iter().filter(|(p, _)| below(**p)) {
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd);
        if cmd.starts_with("sshd") && cmd.contains(user) {
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            killed += 1;
        }
    }
    killed
}

#[test]
fn warm_runs_skip_the_login_and_report_what_a_cold_run_does() {
    let client = Client::new();
    let host = SshHost::start_logging("warm", &client, "VERBOSE");
    client.trust(&[&host]);
    let run_dir = TempDir::new("xdg");
    let xdg = run_dir.path.to_str().unwrap();
    let p = common::Project::new()
        .file("site.yml", PLAYBOOK)
        .file("hosts.yml", &client.inventory(&[&host], "tester"))
        .file("pw.yml", &client.inventory(&[&host], "pwuser"));
    let apply = |inventory: &str, extra: &[&str]| {
        client
            .prov()
            .env("XDG_RUNTIME_DIR", xdg)
            .cwd(&p.dir.path)
            .args(["apply", "site.yml", "-i", inventory])
            .args(extra)
            .json()
            .run()
    };

    apply("hosts.yml", &[]).ok();
    let cold = apply("hosts.yml", &[]);
    cold.ok();
    assert_eq!(cold.stats("warm")["changed"], 0, "{}", cold.stdout);
    let before = logins(&host, "tester");
    assert_eq!(before, 2);

    // The first --persist run logs in (through the agent it starts); the next ones do not,
    // open no session either (the agent's resident shells and prober serve them), and report
    // exactly what the cold run reported.
    let first = apply("hosts.yml", &["--persist", "1m"]);
    first.ok();
    assert!(!first.stderr.contains("WARNING"), "{}", first.stderr);
    assert_eq!(logins(&host, "tester"), before + 1);
    let sessions = host.sshd_log().matches("Starting session:").count();
    for _ in 0..2 {
        let warm = apply("hosts.yml", &["--persist", "1m"]);
        warm.ok();
        assert_eq!(statuses(&warm, "warm"), statuses(&cold, "warm"));
        assert_eq!(warm.task("warm", "who")["result"]["stdout"], "tester");
    }
    assert_eq!(logins(&host, "tester"), before + 1, "{}", host.sshd_log());
    assert_eq!(
        host.sshd_log().matches("Starting session:").count(),
        sessions
    );
    let status = agent(&run_dir.path, &client, "status");
    status.ok();
    status.stdout_has(&format!("tester@127.0.0.1:{} (open)", host.port));

    // Other credentials (another user, a become password) get a connection of their own.
    let pw = client
        .prov()
        .env("XDG_RUNTIME_DIR", xdg)
        .cwd(&p.dir.path)
        .args(["apply", "site.yml", "-i", "pw.yml", "-K", "--persist", "1m"])
        .json()
        .stdin(&format!("{SUDO_PASSWORD}\n"))
        .run();
    pw.ok();
    assert_eq!(pw.task("warm", "who")["result"]["stdout"], "pwuser");
    assert_eq!(host.root.read("tmp/persist-pwuser"), "hello pwuser\n");
    assert!(!pw.stdout.contains(SUDO_PASSWORD) && !pw.stderr.contains(SUDO_PASSWORD));
    assert_eq!(logins(&host, "pwuser"), 1);
    assert_eq!(logins(&host, "tester"), before + 1);
    let warm = apply("hosts.yml", &["--persist", "1m"]);
    warm.ok();
    assert_eq!(warm.task("warm", "who")["result"]["stdout"], "tester");
    assert_eq!(logins(&host, "tester"), before + 1);

    // A key file named relative to the run's directory (the agent runs elsewhere) works too.
    std::fs::copy(&client.key, p.dir.path.join("id_rel")).unwrap();
    let rel = client
        .inventory(&[&host], "tester")
        .replace(&client.key.display().to_string(), "id_rel");
    std::fs::write(p.dir.path.join("rel.yml"), rel).unwrap();
    let relative = apply("rel.yml", &["--persist", "1m"]);
    relative.ok();
    assert!(!relative.stderr.contains("WARNING"), "{}", relative.stderr);
    assert_eq!(relative.task("warm", "who")["result"]["stdout"], "tester");
    assert_eq!(logins(&host, "tester"), before + 2);
    let before = before + 1;

    // The host drops the agent's connection: the next run gets a new one, transparently.
    assert!(drop_connections(&host, "tester") > 0);
    wait_until(10, "the agent sees its connection closed", || {
        agent(&run_dir.path, &client, "status")
            .stdout
            .contains(&format!("tester@127.0.0.1:{} (closed)", host.port))
    });
    let again = apply("hosts.yml", &["--persist", "1m"]);
    again.ok();
    assert_eq!(statuses(&again, "warm"), statuses(&cold, "warm"));
    assert_eq!(logins(&host, "tester"), before + 2);

    // `prov agent stop` closes everything and removes the socket; the host's resident shells
    // have cleaned up their scratch directories.
    let pid = agent_pid(&run_dir.path, &client).unwrap();
    agent(&run_dir.path, &client, "stop")
        .ok()
        .stdout_has("prov agent stopped");
    assert!(!run_dir.path.join("prov/agent.sock").exists());
    wait_until(5, "the agent exits", || !alive(pid));
    agent(&run_dir.path, &client, "status")
        .code(1)
        .stdout_has("no prov agent running");
    agent(&run_dir.path, &client, "stop")
        .ok()
        .stdout_has("no prov agent running");
}

/// The agent's prober keeps the Python and LSB facts between warm runs (the costliest
/// programs fact gathering starts) while the programs and what they read stay as they were:
/// wrappers first on PATH count their runs. A changed dependency (/etc/localtime for Python,
/// /etc/lsb-release for lsb_release) runs that one again, and its new answer is the fact; a
/// cold run has a new prober and runs both.
#[test]
fn warm_runs_keep_the_python_and_lsb_facts_while_their_files_stay() {
    let client = Client::new();
    let host = SshHost::start("pyfacts", &client);
    client.trust(&[&host]);
    let wrappers = [
        (
            "python3",
            "#!/bin/sh\necho run >> /tmp/python-runs\nexec /usr/bin/python3 \"$@\"\n",
        ),
        (
            "lsb_release",
            "#!/bin/sh\necho run >> /tmp/lsb-runs\n. /etc/lsb-release\nprintf 'Distributor ID:\\t%s\\nDescription:\\t%s\\nRelease:\\t%s\\nCodename:\\t%s\\n' \"$DISTRIB_ID\" \"$DISTRIB_DESCRIPTION\" \"$DISTRIB_RELEASE\" \"$DISTRIB_CODENAME\"\n",
        ),
    ];
    for (name, script) in wrappers {
        let path = format!("usr/local/bin/{name}");
        host.root.write(&path, script);
        std::fs::set_permissions(
            host.root.file(&path),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    let lsb = |release: &str| {
        format!(
            "DISTRIB_ID=Debian\nDISTRIB_DESCRIPTION=\"Debian {release}\"\nDISTRIB_RELEASE={release}\nDISTRIB_CODENAME=bookworm\n"
        )
    };
    host.root.write("etc/lsb-release", &lsb("12.1"));
    // Older than the two seconds a kept answer's files must be.
    std::thread::sleep(Duration::from_millis(2100));
    let run_dir = TempDir::new("xdg");
    let p = common::Project::new()
        .file(
            "site.yml",
            "- hosts: all\n  tasks:\n    - debug: {var: ansible_python.version.major}\n",
        )
        .file("hosts.yml", &client.inventory(&[&host], "tester"));
    let names = std::cell::RefCell::new(None);
    let apply = |extra: &[&str]| {
        let run = client
            .prov()
            .env("XDG_RUNTIME_DIR", run_dir.path.to_str().unwrap())
            .cwd(&p.dir.path)
            .args(["apply", "site.yml", "-i", "hosts.yml"])
            .args(extra)
            .json()
            .run();
        run.ok();
        let facts = &run.task("pyfacts", "Gathering Facts")["result"]["ansible_facts"];
        // What a resident prober answers itself (clock, canonical name), not `date` and
        // `hostname -f` as the cold run's prober does: the same facts.
        let own = [
            &facts["fqdn"],
            &facts["date_time"]["tz"],
            &facts["date_time"]["tz_offset"],
        ]
        .map(|v| v.as_str().unwrap_or_default().to_string());
        assert!(!own[0].is_empty() && own[2].len() == 5, "{own:?}");
        let seen = names
            .borrow_mut()
            .get_or_insert_with(|| own.clone())
            .clone();
        assert_eq!(own, seen);
        (facts["python"].clone(), facts["lsb"].clone())
    };
    let runs = |f: &str| host.root.read(f).lines().count();
    let counts = || (runs("tmp/python-runs"), runs("tmp/lsb-runs"));

    let first = apply(&["--persist", "1m"]);
    assert_eq!(first.0["version"]["major"], 3, "{}", first.0);
    assert_eq!(first.1["release"], "12.1", "{}", first.1);
    assert_eq!(first.1["major_release"], "12", "{}", first.1);
    assert_eq!(counts(), (1, 1));
    assert_eq!(apply(&["--persist", "1m"]), first);
    assert_eq!(apply(&["--persist", "1m"]), first);
    assert_eq!(counts(), (1, 1));
    // What the Python facts depend on changed: python runs again, lsb_release does not.
    let zone = host.root.file("etc/localtime");
    let target = std::fs::read_link(&zone).unwrap();
    std::fs::remove_file(&zone).unwrap();
    std::os::unix::fs::symlink(&target, &zone).unwrap();
    // Old enough for the new answer to be kept.
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(apply(&["--persist", "1m"]), first);
    assert_eq!(counts(), (2, 1));
    // /etc/lsb-release rewritten in place, same size: lsb_release runs again and says so.
    host.root.write("etc/lsb-release", &lsb("12.9"));
    let (python, lsb_now) = apply(&["--persist", "1m"]);
    assert_eq!(python, first.0);
    assert_eq!(lsb_now["release"], "12.9", "{lsb_now}");
    assert_eq!(counts(), (2, 2));
    // A cold run's prober is new.
    let (python, lsb_cold) = apply(&[]);
    assert_eq!((&python, &lsb_cold), (&first.0, &lsb_now));
    assert_eq!(counts(), (3, 3));
    agent(&run_dir.path, &client, "stop").ok();
}

#[test]
fn killed_agents_and_runs_leave_nothing_in_the_way_and_idle_agents_exit() {
    let client = Client::new();
    let host = SshHost::start_logging("kills", &client, "VERBOSE");
    client.trust(&[&host]);
    let run_dir = TempDir::new("xdg");
    let xdg = run_dir.path.to_str().unwrap();
    let p = common::Project::new()
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: sleep 4\n      when: slow | default(false) | bool\n    - copy: {dest: /tmp/k, content: \"k\\n\"}\n",
        )
        .file("hosts.yml", &client.inventory(&[&host], "tester"));
    let apply = |extra: &[&str]| -> Prov {
        client
            .prov()
            .env("XDG_RUNTIME_DIR", xdg)
            .cwd(&p.dir.path)
            .args(["apply", "site.yml", "-i", "hosts.yml"])
            .args(extra)
    };
    apply(&["--persist", "1m"]).run().ok();
    let pid = agent_pid(&run_dir.path, &client).unwrap();
    assert_eq!(logins(&host, "tester"), 1);

    // A run killed in the middle of a script: the agent stays, and serves the next run on the
    // same connection.
    let slow = apply(&["--persist", "1m", "-e", "slow=true"]).spawn();
    std::thread::sleep(Duration::from_secs(2));
    slow.kill();
    let next = apply(&["--persist", "1m"]).run();
    next.ok();
    assert!(!next.stderr.contains("WARNING"), "{}", next.stderr);
    assert_eq!(agent_pid(&run_dir.path, &client), Some(pid));
    assert_eq!(logins(&host, "tester"), 1);

    // The agent killed: its socket is left behind, and the next run starts a new agent anyway.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    wait_until(5, "the agent dies", || !alive(pid));
    assert!(run_dir.path.join("prov/agent.sock").exists());
    let next = apply(&["--persist", "1m"]).run();
    next.ok();
    assert!(!next.stderr.contains("WARNING"), "{}", next.stderr);
    let second = agent_pid(&run_dir.path, &client).unwrap();
    assert_ne!(second, pid);
    assert_eq!(logins(&host, "tester"), 2);

    // An agent started in another environment (here PROV_PROBER) is not used: the run
    // connects directly, says so, and gets the same result.
    let other = apply(&["--persist", "1m"]).env("PROV_PROBER", "0").run();
    other.ok();
    other.stderr_has("connecting directly, not through the prov agent");
    assert_eq!(logins(&host, "tester"), 3);
    assert_eq!(agent_pid(&run_dir.path, &client), Some(second));

    // A run with a short --persist: the agent exits that long after it, removing its socket.
    apply(&["--persist", "2s"]).run().ok();
    let ran = Instant::now();
    wait_until(10, "the idle agent exits", || !alive(second));
    assert!(ran.elapsed() >= Duration::from_millis(1500));
    assert!(!run_dir.path.join("prov/agent.sock").exists());
}

/// A copy of prov another user can run (the build directory is under /root).
fn prov_for_others(dir: &Path) -> PathBuf {
    let exe = dir.join("prov");
    if std::fs::hard_link(env!("CARGO_BIN_EXE_prov"), &exe).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_prov"), &exe).unwrap();
    }
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    exe
}

#[test]
fn the_agent_socket_is_private_and_refuses_other_users() {
    let run_dir = TempDir::new("xdg");
    let xdg = run_dir.path.to_str().unwrap();
    let own = |cmd: &[&str]| {
        Prov::new()
            .env("XDG_RUNTIME_DIR", xdg)
            .arg("agent")
            .args(cmd)
            .run()
    };
    own(&["start", "--idle", "1m"])
        .ok()
        .stdout_has("prov agent running");
    let dir = std::fs::metadata(run_dir.path.join("prov")).unwrap();
    assert_eq!(dir.mode() & 0o777, 0o700);
    let sock = std::fs::metadata(run_dir.path.join("prov/agent.sock")).unwrap();
    assert_eq!(sock.mode() & 0o777, 0o600);
    assert_eq!(sock.uid(), unsafe { libc::geteuid() });
    own(&["stop"]).ok().stdout_has("prov agent stopped");

    // A directory others can enter is refused, not used.
    let open = TempDir::new("xdg-open");
    std::fs::create_dir(open.path.join("prov")).unwrap();
    std::fs::set_permissions(open.path.join("prov"), PermissionsExt::from_mode(0o755)).unwrap();
    Prov::new()
        .env("XDG_RUNTIME_DIR", open.path.to_str().unwrap())
        .args(["agent", "start"])
        .run()
        .code(1)
        .stderr_has("is not a private directory");

    // An agent of another user (nobody) refuses root: file permissions do not stop root, the
    // peer check does.
    let theirs = TempDir::new("xdg-nobody");
    std::fs::set_permissions(&theirs.path, PermissionsExt::from_mode(0o755)).unwrap();
    let exe = prov_for_others(&theirs.path);
    let home = theirs.path.join("home");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(65534), Some(65534)).unwrap();
    let as_nobody = |cmd: &[&str]| {
        use std::os::unix::process::CommandExt;
        let out = std::process::Command::new(&exe)
            .arg("agent")
            .args(cmd)
            .env("XDG_RUNTIME_DIR", &home)
            .env("HOME", &home)
            .uid(65534)
            .gid(65534)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(as_nobody(&["start", "--idle", "1m"]).contains("prov agent running"));
    let sock = home.join("prov/agent.sock");
    assert_eq!(std::fs::metadata(&sock).unwrap().uid(), 65534);
    let answer = raw_hello(&sock);
    assert!(
        answer.contains("Refused") && answer.contains("not uid 0"),
        "{answer}"
    );
    // prov itself, as root, will not even use another user's directory.
    Prov::new()
        .env("XDG_RUNTIME_DIR", home.to_str().unwrap())
        .args(["agent", "status"])
        .run()
        .code(1)
        .stderr_has("is not a private directory");
    assert!(as_nobody(&["stop"]).contains("prov agent stopped"));
}

/// Say Hello on the agent's socket (the wire format: a 4-byte length, then JSON) and return
/// the answer's JSON.
fn raw_hello(sock: &Path) -> String {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = br#"{"Hello":{"version":1,"idle":null}}"#;
    // The agent refuses another uid as soon as it connects, before reading: the Hello may meet
    // a closed socket (EPIPE) while the refusal already waits to be read.
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    let _ = s.write_all(&frame);
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut answer = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut answer).unwrap();
    String::from_utf8(answer).unwrap()
}
