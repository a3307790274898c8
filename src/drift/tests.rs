//! The drift report built from hand-written `prov check` documents, and its renderings.

use serde_json::json;

use super::*;

fn doc() -> Value {
    json!({
        "plays": [{
            "play": {"name": "p"},
            "tasks": [
                {"task": {"name": "web : config file", "handler": false}, "hosts": {
                    "a": {"status": "ok", "changed": false, "failed": false, "unreachable": false, "unknown": false, "diff": []},
                    "b": {"status": "changed", "changed": true, "failed": false, "unreachable": false, "unknown": false,
                          "diff": [{"before_header": "/etc/x", "after_header": "/etc/x", "before": "one\n", "after": "two\n"}]}
                }},
                {"task": {"name": "pkgs", "handler": false}, "hosts": {
                    "b": {"status": "changed", "changed": true, "failed": false, "unreachable": false, "unknown": false, "diff": [],
                          "items": [{"item": "vim", "status": "ok"}, {"item": "git|x", "status": "changed"}]}
                }},
                {"task": {"name": "web : restart", "handler": true}, "hosts": {
                    "b": {"status": "changed", "changed": true, "failed": false, "unreachable": false, "unknown": false, "diff": []}
                }},
                {"task": {"name": "web : ignored", "handler": false}, "hosts": {
                    "a": {"status": "failed", "changed": false, "failed": true, "ignored": true, "unreachable": false, "unknown": false, "diff": []}
                }}
            ]
        }],
        "stats": {
            "b": {"ok": 1, "changed": 2, "unreachable": 0, "failed": 0},
            "a": {"ok": 1, "changed": 0, "unreachable": 0, "failed": 0}
        }
    })
}

#[test]
fn groups_changed_tasks_by_host_and_role() {
    let r = build(&doc());
    assert_eq!(r.hosts.len(), 2);
    let a = &r.hosts[0];
    assert_eq!((a.host.as_str(), a.state), ("a", HostState::InSync));
    assert!(a.roles.is_empty(), "an ignored failure is no drift");
    let b = &r.hosts[1];
    assert_eq!(b.state, HostState::Drifted);
    let roles: Vec<&str> = b.roles.iter().map(|r| r.role.as_str()).collect();
    assert_eq!(roles, ["web", PLAY_TASKS], "the handler is left out");
    assert_eq!(b.roles[0].items[0].task, "config file");
    assert_eq!(b.roles[0].items[0].kind, ItemKind::Changed);
    assert!(
        b.roles[0].items[0].diff.contains("-one\n+two\n"),
        "{}",
        b.roles[0].items[0].diff
    );
    assert_eq!(b.roles[1].items[0].items, ["git|x"]);
    assert_eq!(r.exit_code(), 2);
}

#[test]
fn exit_codes_in_sync_failed_and_unreachable_over_drift() {
    let mut d = doc();
    d["plays"][0]["tasks"].as_array_mut().unwrap().truncate(1);
    d["plays"][0]["tasks"][0]["hosts"]
        .as_object_mut()
        .unwrap()
        .remove("b");
    assert_eq!(build(&d).exit_code(), 0);

    let mut failed = d.clone();
    failed["plays"][0]["tasks"][0]["hosts"]["a"]["failed"] = json!(true);
    failed["plays"][0]["tasks"][0]["hosts"]["a"]["msg"] = json!("boom");
    let r = build(&failed);
    assert_eq!(r.hosts[0].state, HostState::Failed);
    assert_eq!(r.hosts[0].roles[0].items[0].msg.as_deref(), Some("boom"));
    assert_eq!(r.exit_code(), 2);

    let mut unreachable = doc();
    unreachable["stats"]["a"]["unreachable"] = json!(1);
    let r = build(&unreachable);
    assert_eq!(r.hosts[0].state, HostState::Unreachable);
    assert_eq!(r.exit_code(), 4, "unreachable wins over b's drift");
}

#[test]
fn unknown_results_are_listed_as_such() {
    let mut d = doc();
    d["plays"][0]["tasks"][0]["hosts"]["a"]["unknown"] = json!(true);
    d["plays"][0]["tasks"][0]["hosts"]["a"]["status"] = json!("skipped");
    let r = build(&d);
    assert_eq!(r.hosts[0].roles[0].items[0].kind, ItemKind::Unknown);
    assert_eq!(r.hosts[0].state, HostState::Drifted);
}

#[test]
fn markdown_has_the_table_and_a_diff_fence_per_item() {
    let md = markdown(&build(&doc()));
    let expected = "## Drift report\n\n\
        2 hosts: 1 in sync, 1 drifted, 0 failed, 0 unreachable\n\n\
        | Host | Status | Drifted items |\n\
        | --- | --- | --- |\n\
        | a | in sync | 0 |\n\
        | b | drifted | 2 |\n\
        \n<details>\n<summary>b: drifted (2 items)</summary>\n\
        \n**web**\n\n\
        - changed: config file\n\
        \n```diff\n--- before: /etc/x\n+++ after: /etc/x\n@@ -1 +1 @@\n-one\n+two\n```\n\n\
        \n**(play)**\n\n\
        - changed: pkgs (items: git\\|x)\n\
        \n</details>\n";
    assert_eq!(md, expected);
}

#[test]
fn markdown_escapes_cells_and_fences_backticks() {
    let mut d = doc();
    let stats = d["stats"]["b"].clone();
    d["stats"]["b|<c>"] = stats;
    d["plays"][0]["tasks"][0]["hosts"]["b"]["diff"][0]["after"] = json!("```\n");
    let md = markdown(&build(&d));
    assert!(md.contains("| b\\|&lt;c&gt; | in sync | 0 |"), "{md}");
    assert!(md.contains("\n````diff\n"), "{md}");
    assert!(!md.contains("<c>"), "{md}");
}

#[test]
fn text_and_json_renderings() {
    let r = build(&doc());
    let t = text(&r);
    assert!(t.contains("\na: in sync\n"), "{t}");
    assert!(
        t.contains(
            "\nb: drifted (2 items)\n  [web]\n    changed: config file\n      --- before: /etc/x\n"
        ),
        "{t}"
    );
    let j: Value = serde_json::from_str(&json(&r)).unwrap();
    assert_eq!(j["exit_code"], 2);
    assert_eq!(j["summary"]["drifted"], 1);
    assert_eq!(j["hosts"][1]["roles"][0]["items"][0]["kind"], "changed");
    assert_eq!(j["hosts"][1]["state"], "drifted");
}

#[test]
fn hostile_documents_give_an_empty_report() {
    for d in [
        json!(null),
        json!({"plays": 3, "stats": []}),
        json!({"plays": [{"tasks": [{"hosts": 1}]}]}),
    ] {
        let r = build(&d);
        assert!(r.hosts.is_empty());
        assert_eq!(r.exit_code(), 0);
    }
}

#[test]
fn an_unreachable_task_marks_its_host_unreachable() {
    let mut d = doc();
    let a = &mut d["plays"][0]["tasks"][0]["hosts"]["a"];
    a["unreachable"] = json!(true);
    a["msg"] = json!("cannot connect");
    let r = build(&d);
    assert_eq!(r.hosts[0].state, HostState::Unreachable);
    assert_eq!(r.hosts[0].roles[0].items[0].kind, ItemKind::Unreachable);
    assert_eq!(r.exit_code(), 4);
    assert!(
        text(&r).contains("\na: unreachable (1 item)\n  [web]\n    unreachable: config file\n      cannot connect\n"),
        "{}",
        text(&r)
    );
}

#[test]
fn an_interrupted_run_is_marked_partial() {
    let mut d = doc();
    d["interrupted"] = json!(true);
    let r = build(&d);
    assert!(r.interrupted);
    assert!(text(&r).contains(
        "\nInterrupted: the run was stopped before it finished; this report is partial.\n"
    ));
    assert!(markdown(&r).contains("unreachable\n\n**Interrupted: the run was stopped before it finished; this report is partial.**\n\n| Host |"), "{}", markdown(&r));
    let j: Value = serde_json::from_str(&json(&r)).unwrap();
    assert_eq!(
        (j["interrupted"].clone(), j["exit_code"].clone()),
        (json!(true), json!(null))
    );
    assert!(!text(&build(&doc())).contains("Interrupted"));
}
