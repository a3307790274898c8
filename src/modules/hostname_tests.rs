//! `hostname`'s unit tests: Debian roots and systemd hosts in, plans out.

use super::*;
use crate::modules::Answer;
use crate::modules::testing::{args, cmd, file, missing, plan_answers_env};

fn run(pairs: &[(&str, Value)], out: &str, etc: Option<&str>, chroot: bool) -> Plan {
    let mut env = crate::modules::testing::env();
    env.chroot_connection = chroot;
    env.is_chroot = chroot;
    let f = match etc {
        Some(t) => file("/etc/hostname", 0o644, t),
        None => missing("/etc/hostname"),
    };
    plan_answers_env(
        &Hostname,
        args("hostname", pairs),
        vec![cmd(0, out), Answer::File(f)],
        &env,
    )
}

const DEBIAN: &str = "fqdn=vm\nos=debian \n";
const SYSTEMD: &str = "fqdn=old.example.org\nos=debian \nmanaged=1\nhostnamectl=/usr/bin/hostnamectl\nstatic_rc=0\nstatic=old\ntransient_rc=0\ntransient=old\n";

#[test]
fn debian_roots_get_the_file_only() {
    let p = run(
        &[("name", "web1.example.org".into())],
        DEBIAN,
        Some("vm\n"),
        true,
    );
    assert!(p.changed);
    assert!(
        matches!(&p.steps[..], [Step::Write(w)] if w.path == "/etc/hostname" && w.content == b"web1.example.org\n")
    );
    assert_eq!(p.diffs[0].before, "hostname = vm\n");
    assert_eq!(p.diffs[0].after, "hostname = web1.example.org\n");
    assert_eq!(p.result["name"], Value::from("web1.example.org"));
    let f = &p.result["ansible_facts"];
    assert_eq!(f.get_attr("hostname").unwrap(), Value::from("web1"));
    assert_eq!(
        f.get_attr("nodename").unwrap(),
        Value::from("web1.example.org")
    );
    assert_eq!(f.get_attr("fqdn").unwrap(), Value::from("vm"));
    assert_eq!(f.get_attr("domain").unwrap(), Value::from(""));
    // Surrounding white space does not count.
    let p = run(
        &[("name", "web1".into())],
        DEBIAN,
        Some("  web1 \n\n"),
        true,
    );
    assert!(!p.changed && p.diffs.is_empty());
    // No file: the name was ''.
    let p = run(&[("name", "web1".into())], DEBIAN, None, false);
    assert_eq!(p.diffs[0].before, "hostname = \n");
}

#[test]
fn systemd_hosts_use_hostnamectl() {
    let p = run(&[("name", "new".into())], SYSTEMD, Some("old\n"), false);
    let argvs: Vec<String> = p
        .steps
        .iter()
        .map(|s| match s {
            Step::Run { cmd, .. } => cmd.argv.as_deref().unwrap().join(" "),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        argvs,
        [
            "/usr/bin/hostnamectl --pretty --static set-hostname new",
            "/usr/bin/hostnamectl --transient set-hostname new"
        ]
    );
    assert_eq!(
        p.result["ansible_facts"].get_attr("domain").unwrap(),
        Value::from("example.org")
    );
    // Only the live name differs.
    let out = SYSTEMD.replace("static=old", "static=new");
    let p = run(&[("name", "new".into())], &out, Some("new\n"), false);
    assert_eq!(p.steps.len(), 1);
    assert_eq!(p.diffs[0].before, "hostname = old\n");
    let p = run(&[("name", "x".repeat(65).into())], SYSTEMD, None, false);
    assert!(p.failed.unwrap().contains("64 characters"));
    let out = SYSTEMD.replace("static_rc=0", "static_rc=1");
    let p = run(&[("name", "new".into())], &out, None, false);
    assert!(p.failed.unwrap().starts_with("Command failed rc=1"));
}

#[test]
fn use_systemd_in_a_chroot_writes_the_file_and_skips_the_live_name() {
    let p = run(
        &[("name", "web1".into()), ("use", "systemd".into())],
        DEBIAN,
        Some("vm\n"),
        true,
    );
    assert!(matches!(&p.steps[..], [Step::Write(_)]));
    assert_eq!(p.result["live"], Value::from("skipped (chroot)"));
    let mut env = crate::modules::testing::env();
    env.chroot_connection = true;
    let mut planner = Hostname
        .prepare(args("hostname", &[("name", "a".into())]), &env)
        .unwrap();
    let mut probes = Probes::default();
    planner.ask(&mut probes);
    let list = probes.into_list();
    let crate::modules::Probe::Command(s) = &list[0] else {
        panic!("{list:?}")
    };
    assert!(!s.contains("hostnamectl"), "{s}");
}

#[test]
fn other_hosts_and_bad_names_are_refused() {
    let p = run(&[("name", "a".into())], "fqdn=x\nos=alpine \n", None, true);
    assert!(p.failed.is_some());
    let env = crate::modules::testing::env();
    for bad in [
        vec![("name", Value::from("a\nb"))],
        vec![("name", Value::from("a")), ("use", Value::from("redhat"))],
        vec![("name", Value::from("a")), ("use", Value::from("nope"))],
        vec![],
    ] {
        assert!(Hostname.prepare(args("hostname", &bad), &env).is_err());
    }
}

#[test]
fn fqdn_is_pythons_getfqdn_on_this_machine() {
    let Ok(py) = std::process::Command::new("python3")
        .args(["-c", "import socket; print(socket.getfqdn())"])
        .output()
    else {
        return;
    };
    let sh = std::process::Command::new("sh")
        .args(["-c", FQDN])
        .output()
        .unwrap();
    let ours = String::from_utf8_lossy(&sh.stdout);
    assert_eq!(
        field(&ours, "fqdn").unwrap(),
        String::from_utf8_lossy(&py.stdout).trim()
    );
}
