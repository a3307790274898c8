//! Unit tests of `ini_file`. The table `ini_file_cases.json` holds what the collection's own
//! `do_ini` (community.general 11, from the test fixtures' Ansible venv) returned for each file
//! and arguments: whether it changed, its message and the file it would write.

use super::*;
use crate::modules::testing::{args, file, missing, plan_with};
use crate::modules::{FileState, Step};
use minijinja::Value;

fn ini_args(json: &serde_json::Value) -> Args {
    let pairs: Vec<(&str, Value)> = json
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), crate::vars::from_json(v)))
        .chain([("path", Value::from("/etc/f.ini"))])
        .collect();
    args("ini_file", &pairs)
}

fn run(state: FileState, json: &serde_json::Value) -> Plan {
    plan_with(&IniFile, ini_args(json), &[state])
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
        serde_json::from_str(include_str!("ini_file_cases.json")).unwrap();
    assert!(cases.len() > 70);
    for case in &cases {
        let state = match case["input"].as_str() {
            Some(text) => file("/etc/f.ini", 0o644, text),
            None => missing("/etc/f.ini"),
        };
        let p = run(state, &case["args"]);
        let what = format!("{} on {:?}", case["args"], case["input"]);
        assert_eq!(p.failed, None, "{what}");
        assert_eq!(p.changed, case["changed"], "{what}");
        assert_eq!(p.result["msg"].as_str(), case["msg"].as_str(), "{what}");
        if p.changed {
            assert_eq!(written(&p).as_deref(), case["after"].as_str(), "{what}");
            assert_eq!(p.diffs.len(), 1, "{what}");
        } else {
            assert!(p.steps.is_empty(), "{what}");
        }
    }
}

#[test]
fn unchanged_files_keep_their_line_endings_and_bom() {
    let j = serde_json::json!({"section": "a", "option": "k", "value": "1"});
    let p = run(file("/etc/f.ini", 0o644, "\u{feff}[a]\r\nk = 1\r\n"), &j);
    assert!(!p.changed && p.steps.is_empty());
    assert_eq!(p.result["msg"].as_str(), Some("OK"));
}

#[test]
fn attributes_are_applied_without_content_change() {
    let j = serde_json::json!({"section": "a", "option": "k", "value": "1", "mode": "0600"});
    let p = run(file("/etc/f.ini", 0o644, "[a]\nk = 1\n"), &j);
    assert!(p.changed);
    assert!(matches!(&p.steps[..], [Step::SetAttrs { attrs, .. }] if attrs.mode == Some(0o600)));
    assert_eq!(p.result["msg"].as_str(), Some("OK"));
    let p = run(missing("/etc/f.ini"), &j);
    let Step::Write(w) = &p.steps[0] else {
        panic!("{p:?}")
    };
    assert_eq!(w.attrs.mode, Some(0o600));
    assert!(w.make_parents);
}

#[test]
fn missing_file_without_create_fails() {
    let j = serde_json::json!({"section": "a", "option": "k", "value": "1", "create": false});
    let p = run(missing("/etc/f.ini"), &j);
    assert_eq!(
        p.failed.as_deref(),
        Some("Destination /etc/f.ini does not exist!")
    );
    assert_eq!(p.result["rc"], Value::from(257));
}

#[test]
fn hostile_input_is_an_error_not_a_panic() {
    let j = serde_json::json!({"section": "a", "option": "k", "value": "1"});
    let mut bad = file("/etc/f.ini", 0o644, "");
    bad.content = Some(b"[a]\nk = \xff\xfe\n".to_vec());
    let p = run(bad, &j);
    assert!(p.failed.unwrap().contains("not UTF-8"));
    let p = run(crate::modules::testing::dir("/etc/f.ini", 0o755), &j);
    assert!(p.failed.unwrap().contains("not a regular file"));
    // Regex metacharacters in names are literal.
    let j = serde_json::json!({"section": "a(b", "option": "k[*", "value": "$1\\"});
    let p = run(file("/etc/f.ini", 0o644, "[a(b]\nk[* = 0\n"), &j);
    assert_eq!(written(&p).as_deref(), Some("[a(b]\nk[* = $1\\\n"));
    // A value given without an option, for a section that exists: Ansible crashes there.
    let j = serde_json::json!({"section": "a", "value": "1"});
    let planner = IniFile
        .prepare(ini_args(&j), &crate::modules::testing::env())
        .unwrap();
    let obs = Observed {
        answers: vec![crate::modules::Answer::File(file(
            "/etc/f.ini",
            0o644,
            "[a]\nk = 1\n",
        ))],
    };
    assert!(planner.plan(&obs).is_err());
}

#[test]
fn bad_arguments_are_refused() {
    let env = crate::modules::testing::env();
    let prep = |j: serde_json::Value| IniFile.prepare(ini_args(&j), &env).err().unwrap().message;
    assert!(prep(serde_json::json!({"section": "a", "option": "k"})).contains("value(s)"));
    assert!(
        prep(serde_json::json!({"option": "k", "value": "1", "values": ["2"]}))
            .contains("mutually exclusive")
    );
    assert!(
        prep(serde_json::json!({"option": "k", "value": "1", "attributes": "+i"}))
            .contains("not supported")
    );
    assert!(
        prep(
            serde_json::json!({"option": "k", "value": "1", "section_has_values": [{"value": "x"}]})
        )
        .contains("option is required")
    );
    assert!(
        prep(serde_json::json!({"option": "k", "value": "1", "section_has_values": "x"}))
            .contains("section_has_values")
    );
}
