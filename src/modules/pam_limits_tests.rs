//! Unit tests of `pam_limits`. The table `pam_limits_cases.json` holds what the collection's
//! module (community.general 11, from the test fixtures' Ansible venv, run in check mode with
//! diff) returned for each file and arguments: failed, changed, its message and the new file.

use super::*;
use crate::modules::Step;
use crate::modules::testing::{args, dir, env, file, missing, plan_with};
use minijinja::Value;

fn pam_args(json: &serde_json::Value) -> Args {
    let pairs: Vec<(&str, Value)> = json
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), crate::vars::from_json(v)))
        .collect();
    args("pam_limits", &pairs)
}

fn written(p: &Plan) -> Option<String> {
    p.steps.iter().find_map(|s| match s {
        Step::Write(w) => Some(String::from_utf8(w.content.clone()).unwrap()),
        _ => None,
    })
}

const DEST: &str = "/etc/security/limits.conf";

#[test]
fn edits_files_as_the_collection_does() {
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("pam_limits_cases.json")).unwrap();
    assert!(cases.len() > 20);
    for case in &cases {
        let what = format!("{} on {:?}", case["args"], case["input"]);
        let a = pam_args(&case["args"]);
        if case["failed"] == true && case["input"].is_null() {
            // Bad arguments: refused before the host is read.
            let e = PamLimits.prepare(a, &env()).err().expect(&what);
            assert_eq!(Some(e.message.as_str()), case["msg"].as_str(), "{what}");
            continue;
        }
        let state = match case["input"].as_str() {
            Some(text) => file(DEST, 0o644, text),
            None => missing(DEST),
        };
        let p = plan_with(&PamLimits, a, &[state, dir("/etc/security", 0o755)]);
        if case["failed"] == true {
            assert_eq!(p.failed.as_deref(), case["msg"].as_str(), "{what}");
            continue;
        }
        assert_eq!(p.failed, None, "{what}");
        assert_eq!(p.changed, case["changed"], "{what}");
        assert_eq!(p.result["msg"].as_str(), case["msg"].as_str(), "{what}");
        if p.changed {
            assert_eq!(written(&p).as_deref(), case["after"].as_str(), "{what}");
        } else {
            assert!(p.steps.is_empty(), "{what}");
        }
    }
}

#[test]
fn needs_an_existing_directory_and_a_regular_file() {
    let j = serde_json::json!({"domain": "*", "limit_type": "soft", "limit_item": "nofile", "value": "1"});
    let p = plan_with(
        &PamLimits,
        pam_args(&j),
        &[missing(DEST), missing("/etc/security")],
    );
    assert_eq!(
        p.failed.as_deref(),
        Some("directory /etc/security is not writable (check presence, access rights, use sudo)")
    );
    let p = plan_with(
        &PamLimits,
        pam_args(&j),
        &[dir(DEST, 0o755), dir("/etc/security", 0o755)],
    );
    assert!(p.failed.unwrap().contains("not a regular file"));
    let mut bad = file(DEST, 0o644, "");
    bad.content = Some(b"* soft nofile 1 # \xff\n".to_vec());
    let p = plan_with(
        &PamLimits,
        pam_args(&j),
        &[bad, dir("/etc/security", 0o755)],
    );
    assert!(p.failed.unwrap().contains("not UTF-8"));
}

#[test]
fn backup_and_bad_arguments() {
    let j = serde_json::json!({"domain": "*", "limit_type": "soft", "limit_item": "nofile", "value": "2", "backup": true});
    let p = plan_with(
        &PamLimits,
        pam_args(&j),
        &[
            file(DEST, 0o600, "* soft nofile 1\n"),
            dir("/etc/security", 0o755),
        ],
    );
    let Step::Write(w) = &p.steps[0] else {
        panic!("{p:?}")
    };
    assert!(w.backup);
    assert_eq!(w.attrs, crate::modules::Attrs::default(), "mode is kept");
    for (j, err) in [
        (
            serde_json::json!({"domain": "*", "limit_type": "soft", "limit_item": "nofile", "value": "2", "use_max": true, "use_min": true}),
            "Cannot use use_min and use_max",
        ),
        (
            serde_json::json!({"domain": "*", "limit_type": "medium", "limit_item": "nofile", "value": "2"}),
            "must be one of soft, hard, -",
        ),
        (
            serde_json::json!({"domain": "*", "limit_type": "soft", "limit_item": "files", "value": "2"}),
            "must be one of core",
        ),
        (
            serde_json::json!({"limit_type": "soft", "limit_item": "nofile", "value": "2"}),
            "missing required option 'domain'",
        ),
    ] {
        let e = PamLimits.prepare(pam_args(&j), &env()).err().unwrap();
        assert!(e.message.contains(err), "{j}: {}", e.message);
    }
}
