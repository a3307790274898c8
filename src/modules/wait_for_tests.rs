//! `wait_for`'s unit tests: options checked as Ansible checks them, results and messages from
//! the loop's output, and the loop itself run with bash against listeners on 127.0.0.1, files
//! in temporary directories and fixture `/proc/net/tcp` files.

use super::*;
use crate::modules::testing::{args, cmd, env, plan_answers, plan_answers_env, probes_of};
use crate::modules::{Probe, Step};

fn spec(pairs: &[(&str, Value)]) -> Spec {
    parse(&args("wait_for", pairs)).unwrap().unwrap()
}

fn invalid(pairs: &[(&str, Value)]) -> String {
    parse(&args("wait_for", pairs)).unwrap().unwrap_err()
}

fn error(pairs: &[(&str, Value)]) -> String {
    match parse(&args("wait_for", pairs)) {
        Err(e) => e.to_string(),
        Ok(r) => panic!("accepted: {r:?}"),
    }
}

#[test]
fn defaults_are_ansibles() {
    let s = spec(&[("port", 22.into())]);
    assert_eq!(s.host, "127.0.0.1");
    assert_eq!(
        (s.timeout, s.connect_timeout, s.delay, s.sleep),
        (300, 5, 0, 1)
    );
    assert_eq!(s.state, "started");
    assert_eq!(s.states, ["01", "04", "05", "03", "02", "06"]);
    assert_eq!(mode(&s), "up");
    assert_eq!(mode(&spec(&[])), "sleep");
    assert_eq!(mode(&spec(&[("state", "drained".into())])), "drained");
    assert_eq!(
        mode(&spec(&[("path", "/x".into()), ("state", "absent".into())])),
        "gone"
    );
    // Port 0 is no port, as `if port:` has it.
    assert_eq!(spec(&[("port", 0.into())]).port, None);
    // Numbers as strings, as Ansible's int conversion takes them.
    assert_eq!(spec(&[("timeout", "7".into())]).timeout, 7);
}

#[test]
fn ansibles_own_checks_fail_the_task_with_its_messages() {
    assert_eq!(
        invalid(&[("port", 22.into()), ("path", "/x".into())]),
        "port and path parameter can not both be passed to wait_for"
    );
    assert_eq!(
        invalid(&[("path", "/x".into()), ("state", "stopped".into())]),
        "state=stopped should only be used for checking a port in the wait_for module"
    );
    assert_eq!(
        invalid(&[("path", "/x".into()), ("state", "drained".into())]),
        "state=drained should only be used for checking a port in the wait_for module"
    );
    assert_eq!(
        invalid(&[("port", 22.into()), ("exclude_hosts", "10.0.0.1".into())]),
        "exclude_hosts should only be with state=drained"
    );
    assert_eq!(
        invalid(&[
            ("port", 22.into()),
            (
                "active_connection_states",
                Value::from(vec!["ESTABLISHED", "LISTEN"])
            )
        ]),
        "unknown active_connection_state (LISTEN) defined"
    );
    assert!(
        invalid(&[("path", "/x".into()), ("search_regex", "(".into())])
            .starts_with("Invalid regular expression: ")
    );
    // The task fails with elapsed 0, without reading the host.
    let p = plan_answers(
        &WaitFor,
        args("wait_for", &[("port", 22.into()), ("path", "/x".into())]),
        vec![],
    );
    assert_eq!(
        p.failed.as_deref(),
        Some("port and path parameter can not both be passed to wait_for")
    );
    assert_eq!(p.result["elapsed"], Value::from(0));
    assert!(
        probes_of(
            &WaitFor,
            args("wait_for", &[("port", 22.into()), ("path", "/x".into())])
        )
        .is_empty()
    );
}

#[test]
fn hostile_options_are_errors_not_panics() {
    assert!(error(&[("port", "ssh".into())]).contains("port"));
    assert!(error(&[("state", "up".into())]).contains("state"));
    assert!(error(&[("path", "/a\0b".into())]).contains("NUL"));
    assert!(error(&[("search_regex", "a\0".into())]).contains("NUL"));
    assert!(error(&[("exclude_hosts", "a\0b".into())]).contains("NUL"));
    assert!(error(&[("timeout", i64::MAX.into())]).contains("out of range"));
    assert!(error(&[("delay", (-1).into())]).contains("negative"));
    assert!(error(&[("sleep", (-1).into())]).contains("negative"));
    // Odd but valid values build a script; quoting keeps them data.
    let s = spec(&[
        ("path", "/tmp/it's $(reboot) `x`\n".into()),
        ("search_regex", "'; rm -rf / #".into()),
        ("port", Value::from(())),
    ]);
    let text = script(&s, "/proc/net");
    assert!(
        text.contains("path='/tmp/it'\"'\"'s $(reboot) `x`\n'"),
        "{text}"
    );
    assert!(script(&spec(&[("port", 99999.into())]), "/proc/net").contains("hexport=none"));
}

#[test]
fn check_mode_skips_as_ansible_does() {
    let mut e = env();
    e.check_mode = true;
    let p = plan_answers_env(
        &WaitFor,
        args("wait_for", &[("port", 22.into())]),
        vec![],
        &e,
    );
    assert_eq!(
        p.skipped.as_deref(),
        Some("remote module (wait_for) does not support check mode")
    );
    assert!(p.steps.is_empty());
}

#[test]
fn the_wait_is_one_read_only_probe() {
    let probes = probes_of(&WaitFor, args("wait_for", &[("port", 8080.into())]));
    assert!(matches!(&probes[..], [Probe::Command(c)] if c.contains("exec bash -c")));
    let p = plan_answers(
        &WaitFor,
        args("wait_for", &[("port", 8080.into())]),
        vec![cmd(0, "ok 3\n")],
    );
    assert!(!p.changed && p.failed.is_none());
    assert!(!p.steps.iter().any(|s| matches!(s, Step::Run { .. })));
    assert_eq!(p.result["elapsed"], Value::from(3));
    assert_eq!(p.result["port"], Value::from(8080));
    assert_eq!(p.result["state"], Value::from("started"));
    assert!(p.result["path"].is_none());
    assert!(p.result["search_regex"].is_none());
    assert_eq!(p.result["match_groups"].len(), Some(0));
    assert_eq!(p.result["match_groupdict"].len(), Some(0));
}

fn failed(pairs: &[(&str, Value)], out: &str) -> String {
    let p = decide(&spec(pairs), out, "").unwrap();
    assert_eq!(
        p.result["elapsed"].as_i64(),
        out.split_whitespace().nth(1).and_then(|e| e.parse().ok())
    );
    p.failed.expect("a failure")
}

#[test]
fn timeouts_say_what_ansible_says() {
    let port = ("port", Value::from(8000));
    let path = ("path", Value::from("/tmp/f"));
    assert_eq!(
        failed(std::slice::from_ref(&port), "timeout 5\n"),
        "Timeout when waiting for 127.0.0.1:8000"
    );
    assert_eq!(
        failed(&[port.clone(), ("host", "db".into())], "timeout 5\n"),
        "Timeout when waiting for db:8000"
    );
    assert_eq!(
        failed(&[port.clone(), ("state", "stopped".into())], "timeout 5\n"),
        "Timeout when waiting for 127.0.0.1:8000 to stop."
    );
    assert_eq!(
        failed(
            &[port.clone(), ("search_regex", "OpenSSH".into())],
            "timeout 5\n"
        ),
        "Timeout when waiting for search string OpenSSH in 127.0.0.1:8000"
    );
    assert_eq!(
        failed(&[port.clone(), ("state", "drained".into())], "timeout 5\n"),
        "Timeout when waiting for 127.0.0.1:8000 to drain"
    );
    assert_eq!(
        failed(std::slice::from_ref(&path), "timeout 2\n"),
        "Timeout when waiting for file /tmp/f"
    );
    assert_eq!(
        failed(&[path.clone(), ("state", "absent".into())], "timeout 2\n"),
        "Timeout when waiting for /tmp/f to be absent."
    );
    assert_eq!(
        failed(
            &[path.clone(), ("search_regex", "done".into())],
            "timeout 2\n"
        ),
        "Timeout when waiting for search string done in /tmp/f"
    );
    assert_eq!(
        failed(std::slice::from_ref(&path), "staterr 0\nPermission denied"),
        "Failed to stat /tmp/f, Permission denied"
    );
    assert_eq!(
        failed(&[path.clone(), ("msg", "no file".into())], "timeout 2\n"),
        "no file"
    );
    // What the loop cannot do is said, never guessed.
    for out in ["nobash 0\n", "nogrep 0\n", "gone 1\n", "", "garbage"] {
        let p = decide(&spec(std::slice::from_ref(&port)), out, "").unwrap();
        assert!(p.failed.is_some(), "{out:?}");
    }
}

#[test]
fn a_files_match_gives_pythons_groups() {
    let s = spec(&[
        ("path", "/var/log/app".into()),
        ("search_regex", r"^pid=(?P<pid>\d+)( ready)?(x)?$".into()),
    ]);
    let p = decide(
        &s,
        "ok 1\nP 0 4 640 20 file root adm\nstarting\npid=42 ready\n",
        "",
    )
    .unwrap();
    assert!(p.failed.is_none());
    let groups: Vec<Value> = p.result["match_groups"].try_iter().unwrap().collect();
    assert_eq!(
        groups,
        [Value::from("42"), Value::from(" ready"), Value::from(())]
    );
    assert_eq!(
        p.result["match_groupdict"].get_attr("pid").unwrap(),
        Value::from("42")
    );
    assert_eq!(
        p.result["search_regex"],
        Value::from(r"^pid=(?P<pid>\d+)( ready)?(x)?$")
    );
    assert_eq!(p.result["path"], Value::from("/var/log/app"));
    assert!(p.result["port"].is_none());
    // add_path_info's keys; the state is the file's kind.
    assert_eq!(p.result["state"], Value::from("file"));
    assert_eq!(p.result["mode"], Value::from("0640"));
    assert_eq!(p.result["group"], Value::from("adm"));
    assert_eq!(p.result["gid"], Value::from(4));
    assert_eq!(p.result["size"], Value::from(20));
    // A path that is not there (state=absent) keeps the task's state.
    let s = spec(&[("path", "/run/x.lock".into()), ("state", "absent".into())]);
    let p = decide(&s, "ok 0\nN\n", "").unwrap();
    assert_eq!(p.result["state"], Value::from("absent"));
    assert!(p.result.get("mode").is_none());
}

// The loop itself, run with bash.

/// A temporary directory, removed when dropped.
struct Tmp(std::path::PathBuf);

impl Tmp {
    fn new() -> Tmp {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let d = std::env::temp_dir().join(format!("prov-wait-for-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Tmp(d)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_loop(spec: &Spec, net: &str) -> String {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script(spec, net))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn status(out: &str) -> &str {
    out.split_whitespace().next().unwrap_or("")
}

#[test]
fn the_loop_waits_for_ports_to_open_and_close() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port() as i64;
    let up = spec(&[("port", port.into()), ("timeout", 5.into())]);
    assert_eq!(run_loop(&up, "/proc/net"), "ok 0\n");
    let stopped = spec(&[
        ("port", port.into()),
        ("state", "stopped".into()),
        ("timeout", 1.into()),
    ]);
    assert_eq!(status(&run_loop(&stopped, "/proc/net")), "timeout");
    drop(listener);
    assert_eq!(run_loop(&stopped, "/proc/net"), "ok 0\n");
    let up = spec(&[("port", port.into()), ("timeout", 1.into())]);
    assert_eq!(run_loop(&up, "/proc/net"), "timeout 1\n");
}

#[test]
fn the_loop_reads_a_ports_banner() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port() as i64;
    let server = std::thread::spawn(move || {
        use std::io::Write;
        // The first client gets a banner without the string, the next one with it.
        for banner in ["HELLO 1\n", "SSH-2.0-OpenSSH_9.2\r\n"] {
            let (mut c, _) = listener.accept().unwrap();
            c.write_all(banner.as_bytes()).unwrap();
        }
    });
    let s = spec(&[
        ("port", port.into()),
        ("search_regex", r"OpenSSH_\d".into()),
        ("timeout", 10.into()),
    ]);
    let out = run_loop(&s, "/proc/net");
    server.join().unwrap();
    assert_eq!(status(&out), "ok", "{out}");
}

#[test]
fn the_loop_waits_for_files_and_their_content() {
    let dir = Tmp::new();
    let path = dir.0.join("log");
    let p = path.to_str().unwrap();
    let s = spec(&[
        ("path", p.into()),
        ("search_regex", r"^ready (\d+)$".into()),
        ("timeout", 10.into()),
    ]);
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            std::fs::write(&path, "starting\n").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(1200));
            std::fs::write(&path, "starting\nready 7\n").unwrap();
        })
    };
    let out = run_loop(&s, "/proc/net");
    writer.join().unwrap();
    assert!(out.starts_with("ok "), "{out}");
    let p = decide(&s, &out, "").unwrap();
    assert_eq!(
        p.result["match_groups"].get_item(&Value::from(0)).unwrap(),
        Value::from("7")
    );
    let absent = spec(&[
        ("path", p_str(&path)),
        ("state", "absent".into()),
        ("timeout", 1.into()),
    ]);
    assert_eq!(status(&run_loop(&absent, "/proc/net")), "timeout");
    std::fs::remove_file(&path).unwrap();
    assert_eq!(run_loop(&absent, "/proc/net"), "ok 0\nN\n");
    let missing = spec(&[
        ("path", format!("{}/x", p_str(&path)).as_str().into()),
        ("timeout", 1.into()),
    ]);
    assert_eq!(run_loop(&missing, "/proc/net"), "timeout 1\n");
    // A path under a file: stat's error, as Ansible's os.stat gives it.
    std::fs::write(&path, "").unwrap();
    let under = spec(&[("path", format!("{}/x", p_str(&path)).as_str().into())]);
    assert_eq!(run_loop(&under, "/proc/net"), "staterr 0\nNot a directory");
}

fn p_str(p: &std::path::Path) -> Value {
    Value::from(p.to_str().unwrap())
}

const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1\n";
const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0000000000000000FFFF00000100007F:1F91 0000000000000000FFFF00000A00000A:C000 06 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000 100 0 0 10 0\n";

#[test]
fn drained_counts_the_connections_in_proc_net_tcp() {
    let dir = Tmp::new();
    let net = dir.0.to_str().unwrap();
    std::fs::write(dir.0.join("tcp"), TCP).unwrap();
    std::fs::write(dir.0.join("tcp6"), TCP6).unwrap();
    let drained = |pairs: &[(&str, Value)]| {
        let mut all = vec![
            ("state", Value::from("drained")),
            ("timeout", Value::from(1)),
        ];
        all.extend(pairs.iter().cloned());
        status(&run_loop(&spec(&all), net)).to_string()
    };
    // 127.0.0.1:8080 has an ESTABLISHED connection (the LISTEN line does not count).
    assert_eq!(drained(&[("port", 8080.into())]), "timeout");
    assert_eq!(
        drained(&[("port", 8080.into()), ("host", "0.0.0.0".into())]),
        "timeout"
    );
    assert_eq!(
        drained(&[("port", 8080.into()), ("host", "10.9.9.9".into())]),
        "ok"
    );
    assert_eq!(
        drained(&[("port", 8080.into()), ("exclude_hosts", "127.0.0.1".into())]),
        "ok"
    );
    assert_eq!(
        drained(&[
            ("port", 8080.into()),
            ("active_connection_states", Value::from(vec!["TIME_WAIT"]))
        ]),
        "ok"
    );
    // 8081 has a TIME_WAIT connection to an IPv4-mapped address in tcp6.
    assert_eq!(drained(&[("port", 8081.into())]), "timeout");
    assert_eq!(
        drained(&[("port", 8081.into()), ("host", "0.0.0.0".into())]),
        "timeout"
    );
    assert_eq!(
        drained(&[("port", 8081.into()), ("host", "::1".into())]),
        "ok"
    );
    assert_eq!(
        drained(&[
            ("port", 8081.into()),
            ("exclude_hosts", Value::from(vec!["10.0.0.10"]))
        ]),
        "ok"
    );
    assert_eq!(drained(&[("port", 8082.into())]), "ok");
    // No files to read: nothing is connected.
    assert_eq!(
        status(&run_loop(
            &spec(&[("state", "drained".into()), ("port", 1.into())]),
            "/nonexistent"
        )),
        "ok"
    );
}

#[test]
fn the_probe_runs_under_sh() {
    let s = spec(&[("timeout", 0.into())]);
    let out = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "command -v bash >/dev/null 2>&1 || {{ echo 'nobash 0'; exit 0; }}\nexec bash -c {}",
            quote(&script(&s, "/proc/net"))
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok 0\n");
}
