//! Unit tests of `pamd`. The table `pamd_cases.json` holds what the collection's module
//! (community.general 11, from the test fixtures' Ansible venv; `pamd_cases.py` made it) did
//! to each file with each arguments: failed (with its message, or the Python exception it
//! crashed with), changed, change_count and the file it wrote (its time mark as `TIME`).

use super::*;
use crate::modules::testing::{args, cmd, dir, env, file, missing, plan_answers};
use crate::modules::{Answer, Step};
use minijinja::Value;

const FILE: &str = "/etc/pam.d/svc";
const NOW: &str = "2026-12-07T09:10:11.123456";

fn pamd_args(json: &serde_json::Value) -> Args {
    let pairs: Vec<(&str, Value)> = json
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), crate::vars::from_json(v)))
        .chain([("name", Value::from("svc"))])
        .collect();
    args("pamd", &pairs)
}

fn run(state: crate::modules::FileState, a: Args) -> Plan {
    plan_answers(
        &Pamd,
        a,
        vec![Answer::File(state), cmd(0, &format!("{NOW}\n"))],
    )
}

fn written(p: &Plan) -> Option<String> {
    p.steps.iter().find_map(|s| match s {
        Step::Write(w) => Some(String::from_utf8(w.content.clone()).unwrap()),
        _ => None,
    })
}

#[test]
fn edits_files_as_the_collection_does() {
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("pamd_cases.json")).unwrap();
    assert!(cases.len() >= 50);
    for case in &cases {
        let what = format!("{} on {:?}", case["args"], case["input"]);
        let a = pamd_args(&case["args"]);
        let msg = case["msg"].as_str();
        if msg.is_some_and(|m| m.starts_with("state is ")) {
            // Bad arguments: refused before the host is read.
            let e = Pamd.prepare(a, &env()).err().expect(&what);
            assert_eq!(Some(e.message.as_str()), msg, "{what}");
            continue;
        }
        let state = match case["input"].as_str() {
            Some(text) => file(FILE, 0o644, text),
            None => missing(FILE),
        };
        let p = run(state, a);
        if case["failed"] == true {
            let got = p.failed.as_deref().unwrap_or_else(|| panic!("{what}"));
            if let Some(m) = msg {
                assert_eq!(got, m.replace("DIR/", "/etc/pam.d/"), "{what}");
            }
            assert!(p.steps.is_empty(), "{what}");
            continue;
        }
        assert_eq!(p.failed, None, "{what}");
        assert_eq!(p.changed, case["changed"], "{what}");
        assert_eq!(
            p.result["change_count"].as_i64(),
            case["change_count"].as_i64(),
            "{what}"
        );
        if p.changed {
            let expected = case["after"].as_str().unwrap().replace(
                "# Updated by Ansible - TIME",
                &format!("# Updated by Ansible - {NOW}"),
            );
            assert_eq!(written(&p).as_deref(), Some(expected.as_str()), "{what}");
            assert_eq!(p.diffs.len(), 1, "{what}");
        } else {
            assert!(p.steps.is_empty(), "{what}");
        }
    }
}

fn rule_args(extra: &[(&str, Value)]) -> Args {
    let mut pairs = vec![
        ("name", Value::from("svc")),
        ("type", Value::from("auth")),
        ("control", Value::from("required")),
        ("module_path", Value::from("pam_env.so")),
    ];
    pairs.extend(extra.iter().cloned());
    args("pamd", &pairs)
}

#[test]
fn writes_through_the_path_with_backup_and_the_hosts_time() {
    let a = rule_args(&[
        ("new_control", Value::from("optional")),
        ("backup", Value::from(true)),
        ("path", Value::from("/srv/pam/")),
    ]);
    let p = plan_answers(
        &Pamd,
        a,
        vec![
            Answer::File(file("/srv/pam/svc", 0o644, "auth required pam_env.so\n")),
            cmd(0, "2026-01-02T03:04:05.000000\n"),
        ],
    );
    let Some(Step::Write(w)) = p.steps.first() else {
        panic!("{p:?}")
    };
    assert_eq!(w.path, "/srv/pam/svc");
    assert!(w.backup && w.follow);
    assert_eq!(
        String::from_utf8_lossy(&w.content),
        "\n# Updated by Ansible - 2026-01-02T03:04:05\nauth       optional pam_env.so\n"
    );
    assert_eq!(p.result["backupdest"].as_str(), Some(""));
}

#[test]
fn an_absolute_name_replaces_the_directory_and_a_directory_is_unreadable() {
    let a = rule_args(&[("name", Value::from("/etc/other"))]);
    let p = run(dir("/etc/other", 0o755), a);
    assert_eq!(
        p.failed.as_deref(),
        Some(
            "Unable to open/read PAM module file /etc/other with error [Errno 21] Is a directory: '/etc/other'."
        )
    );
}

#[test]
fn a_failed_clock_read_fails_only_a_change() {
    let text = "auth required pam_env.so\n";
    let p = plan_answers(
        &Pamd,
        rule_args(&[]),
        vec![Answer::File(file(FILE, 0o644, text)), cmd(127, "")],
    );
    assert_eq!(p.failed, None);
    assert!(!p.changed);
    let p = plan_answers(
        &Pamd,
        rule_args(&[("new_control", Value::from("optional"))]),
        vec![Answer::File(file(FILE, 0o644, text)), cmd(127, "")],
    );
    assert!(p.failed.unwrap().contains("clock"));
}

#[test]
fn parses_rules_as_the_modules_regex_does() {
    // The greedy `\[.*\]` reaches the last `]` followed by white space (as in Python).
    let r = Rule::parse("auth [success=1 default=ignore] pam_unix.so [a b] c [d]").unwrap();
    let words = ["success=1", "default=ignore", "pam_unix.so", "a", "b"];
    assert_eq!(
        r.control,
        Control::List(words.iter().map(|w| w.to_string()).collect())
    );
    assert_eq!(r.path, "c");
    assert_eq!(r.args, vec!["[d]".to_string()]);
    let r = Rule::parse("auth [success=1 default=ignore] pam_unix.so [a b] c").unwrap();
    assert_eq!(r.path, "c");
    let r = Rule::parse("auth  pam_unix.so").unwrap();
    assert_eq!(r.control, Control::Simple(String::new()));
    assert_eq!(r.path, "pam_unix.so");
    assert!(Rule::parse("nothing here").is_none());
    assert_eq!(
        parse_args(Some(&["a=1 [b c".to_string(), String::new()]), false),
        Some(vec!["a=1".into(), "[b".into(), "c".into()])
    );
    assert_eq!(parse_args(None, true), None);
    assert_eq!(parse_args(Some(&[String::new()]), true), Some(vec![]));
}

#[test]
fn control_actions_are_python_unsigned_ints() {
    for ok in ["0", "12", " 3 ", "+4", "1_000", "-0"] {
        assert!(unsigned_int(ok), "{ok}");
    }
    for bad in ["-1", "", "x", "1__0", "_1", "1_", "--1"] {
        assert!(!unsigned_int(bad), "{bad}");
    }
}

#[test]
fn hostile_input_fails_and_never_panics() {
    let inputs = [
        "auth [=] x\n",
        "auth [a=b=c] x\n",
        "auth [] x\n",
        "auth [ ] x\n",
        "auth\u{2028}required pam_env.so\n",
        "\u{85}\u{1c}\r\n\r",
        "auth required pam_env.so a=b=c\n",
        "-auth\t\t[success=1\u{3000}default=ignore]\tpam_env.so\n",
        "]]]][[[[",
        "@include\n#\n\n auth required pam_env.so\n",
    ];
    let states = [
        "updated",
        "before",
        "after",
        "args_present",
        "args_absent",
        "absent",
    ];
    for input in inputs {
        for state in states {
            let a = rule_args(&[
                ("state", Value::from(state)),
                ("new_type", Value::from("auth")),
                ("new_control", Value::from("[x=y")),
                ("new_module_path", Value::from("pam_x.so")),
                ("module_arguments", Value::from("a=1,b,c=d=e")),
            ]);
            let p = run(file(FILE, 0o644, input), a);
            assert!(
                p.failed.is_some() || p.steps.len() <= 1,
                "{input:?} {state}"
            );
        }
    }
    let p = run(
        crate::modules::FileState {
            content: Some(vec![0xff, 0xfe]),
            ..file(FILE, 0o644, "")
        },
        rule_args(&[]),
    );
    assert!(p.failed.unwrap().contains("UTF-8"));
}

#[test]
fn insert_after_the_last_rule_drops_the_trailing_comment_as_the_python_does() {
    let t = Task {
        state: "after".into(),
        rule_type: "auth".into(),
        control: "required".into(),
        module_path: "pam_a.so".into(),
        new: NewRule {
            rule_type: Some("auth".into()),
            control: Some("optional".into()),
            path: Some("pam_b.so".into()),
            args: None,
        },
    };
    let (n, s) = t.apply("# head\nauth required pam_a.so\n# tail\n").unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        s.render("T"),
        "# head\n# Updated by Ansible - T\nauth       required pam_a.so\nauth       optional pam_b.so\n"
    );
}
