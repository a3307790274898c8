//! Unit tests of `git`: options as Ansible checks them, the probe's report parsed, and
//! Ansible's decisions (clone, update, check mode, local modifications, remote heads) made
//! from fixture reports. The scripts themselves run against real repositories in
//! tests/git_module.rs.

use super::*;
use crate::modules::testing::{args, cmd, env, plan_answers_env, probes_of};
use crate::modules::{Probe, Step};
use minijinja::Value;

fn git_args(pairs: &[(&str, Value)]) -> Args {
    args("git", pairs)
}

fn base(extra: &[(&str, Value)]) -> Vec<(&'static str, Value)> {
    let mut v: Vec<(&'static str, Value)> = vec![
        ("repo", Value::from("/srv/repo.git")),
        ("dest", Value::from("/opt/app/")),
    ];
    for (k, val) in extra {
        let k: &'static str = Box::leak(k.to_string().into_boxed_str());
        v.retain(|(n, _)| *n != k);
        v.push((k, val.clone()));
    }
    v
}

fn spec_of(extra: &[(&str, Value)], check: bool) -> Result<Spec> {
    let mut e = env();
    e.check_mode = check;
    spec(&git_args(&base(extra)), &e)
}

const SHA1: &str = "1111111111111111111111111111111111111111";
const SHA2: &str = "2222222222222222222222222222222222222222";
const TAGOBJ: &str = "3333333333333333333333333333333333333333";

fn lr(name: &str, rc: i32, out: &str) -> (String, LsRemote) {
    (
        name.into(),
        LsRemote {
            rc,
            out: out.into(),
            err: if rc == 0 {
                String::new()
            } else {
                "fatal: no such repository\n".into()
            },
        },
    )
}

fn existing(before: &str) -> Found {
    Found {
        git_version: Some("git version 2.47.3".into()),
        exists: true,
        before: Some(before.into()),
        remote_url: Some("file:///srv/repo.git".into()),
        head_branch: Some("main".into()),
        ls: vec![
            lr("branch", 0, ""),
            lr("tag", 0, ""),
            lr("head", 0, &format!("{SHA2}\trefs/heads/main\n")),
        ],
        ..Default::default()
    }
}

fn decide_with(extra: &[(&str, Value)], check: bool, f: &Found) -> Plan {
    decide(&spec_of(extra, check).unwrap(), f, "")
}

#[test]
fn refuses_what_it_does_not_do_and_checks_options_as_ansible() {
    for (k, v) in [
        ("archive", Value::from("/tmp/a.zip")),
        ("separate_git_dir", Value::from("/srv/g")),
        ("verify_commit", Value::from(true)),
    ] {
        let e = spec_of(&[(k, v)], false).unwrap_err();
        assert!(e.message.contains("not supported"), "{}", e.message);
    }
    let e = spec_of(
        &[
            ("accept_hostkey", Value::from(true)),
            ("accept_newhostkey", Value::from(true)),
        ],
        false,
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "parameters are mutually exclusive: accept_hostkey|accept_newhostkey"
    );
    let e = spec(&git_args(&[("repo", Value::from("x"))]), &env()).unwrap_err();
    assert_eq!(
        e.message,
        "the destination directory must be specified unless clone=no"
    );
    let e = spec_of(&[("umask", Value::from(18))], false).unwrap_err();
    assert_eq!(e.message, "umask must be defined as a quoted octal integer");
    let e = spec_of(&[("umask", Value::from("9"))], false).unwrap_err();
    assert_eq!(e.message, "umask must be an octal integer");
    for bad in ["-x", "a\nb", ""] {
        assert!(spec_of(&[("version", Value::from(bad))], false).is_err());
    }
    let s = spec_of(&[("umask", Value::from("022"))], false).unwrap();
    assert_eq!(s.umask, Some(0o22));
    assert_eq!(s.repo, "file:///srv/repo.git");
    assert_eq!(s.dest.as_deref(), Some("/opt/app"));
    assert_eq!(s.ssh_command, "ssh  -o BatchMode=yes");
}

#[test]
fn builds_the_ssh_command_as_ansible() {
    let s = spec_of(
        &[
            ("accept_hostkey", Value::from(true)),
            ("key_file", Value::from("/root/.ssh/deploy")),
        ],
        false,
    )
    .unwrap();
    assert_eq!(
        s.ssh_command,
        "ssh  -o StrictHostKeyChecking=no -o BatchMode=yes  -i /root/.ssh/deploy -o IdentitiesOnly=yes"
    );
    let s = spec_of(
        &[
            ("accept_newhostkey", Value::from(true)),
            ("ssh_opts", Value::from("-p 2222")),
        ],
        false,
    )
    .unwrap();
    assert_eq!(
        s.ssh_command,
        "ssh  -p 2222 -o StrictHostKeyChecking=accept-new -o BatchMode=yes"
    );
}

#[test]
fn parses_the_probe_report() {
    let text = format!(
        "@version git version 2.39.5\n@exists\n@before {SHA1}\n@mods 2\n@url https://h/r.git\n@head main\n@local\n@lr branch 0\n| {SHA2}\trefs/heads/main\n@lr tag 128\n! fatal: x\n! more\n"
    );
    let f = Found::parse(&text);
    assert!(f.exists && f.local_mods && f.local_branch);
    assert_eq!(f.before.as_deref(), Some(SHA1));
    assert_eq!(f.head_branch.as_deref(), Some("main"));
    assert_eq!(
        f.ls("branch").unwrap().out,
        format!("{SHA2}\trefs/heads/main\n")
    );
    assert_eq!(f.ls("tag").unwrap().rc, 128);
    assert_eq!(f.ls("tag").unwrap().err, "fatal: x\nmore\n");
    assert!(f.version_at_least((1, 9, 1)));
    assert!(!f.version_at_least((2, 40, 0)));
    // Garbage is no report, never a panic.
    for junk in ["", "@lr", "| x", "@lr a b c\n@mods x\n@version", "\0\n@@@"] {
        let f = Found::parse(junk);
        assert!(!f.exists);
    }
    assert!(!Found::parse("@mods 0\n").local_mods);
}

#[test]
fn finds_the_remote_head_as_ansible() {
    let s = spec_of(&[], true).unwrap();
    assert_eq!(remote_head_of(&s, &existing(SHA1)), Ok(SHA2.into()));
    // An annotated tag: its dereferenced commit.
    let mut f = existing(SHA1);
    f.ls = vec![
        lr("branch", 0, ""),
        lr("tag", 0, &format!("{TAGOBJ}\trefs/tags/v2\n")),
        lr(
            "tagstar",
            0,
            &format!("{TAGOBJ}\trefs/tags/v2\n{SHA2}\trefs/tags/v2^{{}}\n{SHA1}\trefs/tags/v2.1\n"),
        ),
    ];
    let s = spec_of(&[("version", Value::from("v2"))], true).unwrap();
    assert_eq!(remote_head_of(&s, &f), Ok(SHA2.into()));
    // A SHA is taken as it is; an empty answer is an error.
    let s = spec_of(&[("version", Value::from("abc123"))], true).unwrap();
    assert_eq!(remote_head_of(&s, &f), Ok("abc123".into()));
    let mut f = existing(SHA1);
    f.ls[2] = lr("head", 0, "");
    let s = spec_of(&[], true).unwrap();
    assert_eq!(
        remote_head_of(&s, &f),
        Err("Could not determine remote revision for HEAD".into())
    );
}

fn remote_head_of(s: &Spec, f: &Found) -> std::result::Result<String, String> {
    decide::remote_head(s, f)
}

#[test]
fn check_mode_reports_a_clone_and_an_update_truthfully() {
    let mut fresh = existing(SHA1);
    fresh.exists = false;
    fresh.before = None;
    let p = decide_with(&[], true, &fresh);
    assert!(p.changed && p.steps.is_empty());
    assert_eq!(p.result["after"].as_str(), Some(SHA2));
    assert!(p.result["before"].is_none());
    assert_eq!(p.diffs[0].after, format!("{SHA2}\n"));

    let p = decide_with(&[], true, &existing(SHA1));
    assert!(p.changed && p.steps.is_empty());
    assert!(!p.result["remote_url_changed"].is_true());
    let p = decide_with(&[], true, &existing(SHA2));
    assert!(!p.changed && p.diffs.is_empty());

    let mut moved = existing(SHA2);
    moved.remote_url = Some("file:///elsewhere".into());
    let p = decide_with(&[], true, &moved);
    assert!(p.changed);
    assert!(p.result["remote_url_changed"].is_true());
}

#[test]
fn local_modifications_fail_without_force() {
    let mut f = existing(SHA1);
    f.local_mods = true;
    for check in [true, false] {
        let p = decide_with(&[], check, &f);
        assert_eq!(
            p.failed.as_deref(),
            Some("Local modifications exist in the destination: /opt/app (force=no).")
        );
    }
    // With force, check mode says what the heads say; a real run resets and reports it.
    let mut same = f.clone();
    same.before = Some(SHA2.into());
    assert!(!decide_with(&[("force", Value::from(true))], true, &same).changed);
    let p = decide_with(&[("force", Value::from(true))], false, &same);
    assert_eq!(
        p.result["msg"].as_str(),
        Some("Local modifications exist in the destination: /opt/app")
    );
    let Step::Run { cmd, .. } = &p.steps[0] else {
        panic!()
    };
    let script = cmd.shell.as_deref().unwrap();
    assert!(script.contains("reset --hard HEAD"));
    assert!(script.contains("fetch --tags --force"));
    // Local modifications are a change even when HEAD stays.
    assert!(!script.contains(&format!("exit {UNCHANGED_RC}")));
}

#[test]
fn a_real_run_clones_or_updates_in_one_script() {
    let mut fresh = existing(SHA1);
    fresh.exists = false;
    let p = decide_with(
        &[("depth", Value::from(1)), ("version", Value::from("main"))],
        false,
        &Found {
            ls: vec![
                lr("branch", 0, &format!("{SHA2}\trefs/heads/main\n")),
                lr("tag", 0, ""),
                lr("tagstar", 0, ""),
            ],
            ..fresh
        },
    );
    assert!(p.changed);
    let Step::Run { cmd, .. } = &p.steps[0] else {
        panic!()
    };
    assert!(cmd.result_lines && cmd.unchanged_rc == Some(UNCHANGED_RC));
    let script = cmd.shell.as_deref().unwrap();
    assert!(script.contains("clone --origin origin --depth 1 --branch main -- \"$R\" \"$D\""));
    assert!(!script.contains("/srv/repo.git"), "the URL is a variable");

    let p = decide_with(&[("update", Value::from(false))], false, &existing(SHA1));
    assert!(!p.changed && p.steps.is_empty());
    assert_eq!(p.result["after"].as_str(), Some(SHA1));

    let p = decide_with(&[], false, &existing(SHA2));
    let Step::Run { cmd, .. } = &p.steps[0] else {
        panic!()
    };
    assert!(cmd.shell.as_deref().unwrap().contains(&format!(
        "[ \"$a\" = {SHA2} ] && [ \"$sc\" = 0 ] && exit {UNCHANGED_RC}"
    )));
    assert!(p.diffs.is_empty());
}

#[test]
fn failures_of_the_probe_are_ansibles_messages() {
    let f = Found {
        no_git: Some("/usr/bin:/bin".into()),
        ..Default::default()
    };
    assert_eq!(
        decide_with(&[], false, &f).failed.as_deref(),
        Some("Failed to find required executable \"git\" in paths: /usr/bin:/bin")
    );
    let mut f = existing(SHA1);
    f.ls[0] = lr("branch", 128, "");
    assert_eq!(
        decide_with(&[], true, &f).failed.as_deref(),
        Some("fatal: no such repository")
    );
    let f = Found {
        bad_git_dir: Some("/x".into()),
        ..Default::default()
    };
    assert!(
        decide_with(&[], true, &f)
            .failed
            .unwrap()
            .starts_with("Current repo")
    );
}

#[test]
fn probes_once_with_the_url_in_a_variable() {
    let probes = probes_of(&Git, git_args(&base(&[])));
    let [Probe::Command(script)] = &probes[..] else {
        panic!("{probes:?}")
    };
    assert!(script.contains("R=file:///srv/repo.git\n"));
    assert!(script.contains("lr head \"$R\" -h HEAD"));
    // A failing probe is a failed task.
    let mut e = env();
    e.check_mode = true;
    let p = plan_answers_env(&Git, git_args(&base(&[])), vec![cmd(2, "")], &e);
    assert!(p.failed.is_some());
}
