//! Unit tests of `alternatives`, on administrative files as dpkg writes them (from a Debian 12
//! root). The commands expected are those Ansible's module runs for the same report.

use super::*;
use crate::modules::Answer;
use crate::modules::testing::{args, dir, env, file, link, missing, plan_answers};
use minijinja::Value;

const IPTABLES: &str = "auto\n/usr/sbin/iptables\niptables-restore\n/usr/sbin/iptables-restore\niptables-save\n/usr/sbin/iptables-save\n\n/usr/sbin/iptables-legacy\n10\n/usr/sbin/iptables-legacy-restore\n/usr/sbin/iptables-legacy-save\n/usr/sbin/iptables-nft\n20\n/usr/sbin/iptables-nft-restore\n/usr/sbin/iptables-nft-save\n\n";

fn alt_args(json: serde_json::Value) -> Args {
    let pairs: Vec<(&str, Value)> = json
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), crate::vars::from_json(v)))
        .collect();
    args("alternatives", &pairs)
}

/// The plan with update-alternatives in /usr/bin, the admin file (none: missing), the current
/// link's target, and whether `path` exists.
fn run(json: serde_json::Value, admin: Option<&str>, current: Option<&str>, exists: bool) -> Plan {
    let name = json["name"].as_str().unwrap().to_string();
    let path = json["path"].as_str().unwrap_or("/x").to_string();
    let mut answers: Vec<Answer> =
        crate::modules::bin_path::in_usr_bin("update-alternatives", 0o755);
    answers.push(Answer::File(dir("/var/lib/dpkg", 0o755)));
    let admin_path = format!("{ADMIN_DIR}/{name}");
    answers.push(Answer::File(match admin {
        Some(t) => file(&admin_path, 0o644, t),
        None => missing(&admin_path),
    }));
    let alt = format!("{ALT_DIR}/{name}");
    answers.push(Answer::File(match current {
        Some(t) => link(&alt, t),
        None => missing(&alt),
    }));
    answers.push(Answer::File(if exists {
        file(&path, 0o755, "")
    } else {
        missing(&path)
    }));
    plan_answers(&Alternatives, alt_args(json), answers)
}

fn commands(p: &Plan) -> Vec<String> {
    p.steps
        .iter()
        .map(|s| match s {
            Step::Run { cmd, .. } => {
                assert_eq!(cmd.env, [("LC_ALL".to_string(), "C".to_string())]);
                cmd.argv.as_ref().unwrap().join(" ")
            }
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn reads_the_administrative_file() {
    let c = parse_admin("iptables", IPTABLES).unwrap();
    assert_eq!(c.mode.as_deref(), Some("auto"));
    assert_eq!(c.link.as_deref(), Some("/usr/sbin/iptables"));
    assert_eq!(c.choices.len(), 2);
    assert_eq!(c.choices[1].priority, 20);
    assert_eq!(
        c.choices[1].followers[0],
        Follower {
            name: "iptables-restore".into(),
            path: "/usr/sbin/iptables-nft-restore".into(),
            link: "/usr/sbin/iptables-restore".into(),
        }
    );
    // A follower a choice has no path for is not one of its followers.
    let c = parse_admin("x", "manual\n/usr/bin/x\nx.1\n/m/x.1\n\n/a\n5\n\n\n").unwrap();
    assert!(c.choices[0].followers.is_empty());
    // Ansible's pattern for the master link takes word characters only.
    assert_eq!(
        parse_admin("x-y", "auto\n/usr/bin/x-y\n\n\n").unwrap().link,
        None
    );
    assert!(parse_admin("x", "broken\n").is_err());
    assert!(parse_admin("x", "auto\n/l\n\n/a\nten\n\n").is_err());
    assert!(parse_admin("x", "auto\n/l\n").is_err());
}

#[test]
fn selects_installs_and_resets_as_ansible_does() {
    let j = |v: serde_json::Value| v;
    // Already the current choice: nothing.
    let p = run(
        j(serde_json::json!({"name": "iptables", "path": "/usr/sbin/iptables-nft"})),
        Some(IPTABLES),
        Some("/usr/sbin/iptables-nft"),
        true,
    );
    assert!(!p.changed && p.steps.is_empty(), "{p:?}");
    // Another choice: --set (the mode becomes manual).
    let p = run(
        j(serde_json::json!({"name": "iptables", "path": "/usr/sbin/iptables-legacy"})),
        Some(IPTABLES),
        Some("/usr/sbin/iptables-nft"),
        true,
    );
    assert_eq!(
        commands(&p),
        ["update-alternatives --set iptables /usr/sbin/iptables-legacy"]
    );
    assert_eq!(
        p.result["msg"].as_str(),
        Some("Set alternative '/usr/sbin/iptables-legacy' for 'iptables'.")
    );
    // present: a choice is enough, selected or not.
    let p = run(
        j(
            serde_json::json!({"name": "iptables", "path": "/usr/sbin/iptables-legacy", "state": "present"}),
        ),
        Some(IPTABLES),
        Some("/usr/sbin/iptables-nft"),
        true,
    );
    assert!(!p.changed);
    // Another priority: reinstalled with the master link it has.
    let p = run(
        j(
            serde_json::json!({"name": "iptables", "path": "/usr/sbin/iptables-legacy", "priority": 30, "state": "present"}),
        ),
        Some(IPTABLES),
        Some("/usr/sbin/iptables-nft"),
        true,
    );
    assert_eq!(
        commands(&p),
        ["update-alternatives --install /usr/sbin/iptables iptables /usr/sbin/iptables-legacy 30"]
    );
    // auto: only from manual mode.
    let manual = IPTABLES.replacen("auto", "manual", 1);
    let p = run(
        j(
            serde_json::json!({"name": "iptables", "path": "/usr/sbin/iptables-legacy", "state": "auto"}),
        ),
        Some(&manual),
        Some("/usr/sbin/iptables-legacy"),
        true,
    );
    assert_eq!(commands(&p), ["update-alternatives --auto iptables"]);
    let p = run(
        j(
            serde_json::json!({"name": "iptables", "path": "/usr/sbin/iptables-legacy", "state": "auto"}),
        ),
        Some(IPTABLES),
        Some("/usr/sbin/iptables-nft"),
        true,
    );
    assert!(!p.changed);
}

#[test]
fn new_alternatives_and_followers() {
    let subs = serde_json::json!([{"name": "editor.1.gz", "path": "/usr/share/man/man1/ed.1.gz", "link": "/usr/share/man/man1/editor.1.gz"}]);
    let p = run(
        serde_json::json!({"name": "editor", "path": "/bin/ed", "link": "/usr/bin/editor", "priority": 5, "subcommands": subs}),
        None,
        None,
        true,
    );
    assert_eq!(
        commands(&p),
        [
            "update-alternatives --install /usr/bin/editor editor /bin/ed 5 --slave /usr/share/man/man1/editor.1.gz editor.1.gz /usr/share/man/man1/ed.1.gz",
            "update-alternatives --set editor /bin/ed",
        ]
    );
    assert_eq!(
        p.result["msg"].as_str(),
        Some("Install alternative '/bin/ed' for 'editor'. Set alternative '/bin/ed' for 'editor'.")
    );
    // The same followers (in any order): nothing to reinstall.
    let admin = "manual\n/usr/bin/editor\neditor.1.gz\n/usr/share/man/man1/editor.1.gz\n\n/bin/ed\n5\n/usr/share/man/man1/ed.1.gz\n\n";
    let p = run(
        serde_json::json!({"name": "editor", "path": "/bin/ed", "subcommands": subs}),
        Some(admin),
        Some("/bin/ed"),
        true,
    );
    assert!(!p.changed, "{p:?}");
    // Another follower set: reinstalled (the priority it has is kept).
    let p = run(
        serde_json::json!({"name": "editor", "path": "/bin/ed", "subcommands": []}),
        Some(admin),
        Some("/bin/ed"),
        true,
    );
    assert_eq!(
        commands(&p),
        ["update-alternatives --install /usr/bin/editor editor /bin/ed 5"]
    );
    // A new one needs its path and a link.
    let p = run(
        serde_json::json!({"name": "editor", "path": "/bin/ed", "link": "/usr/bin/editor"}),
        None,
        None,
        false,
    );
    assert_eq!(
        p.failed.as_deref(),
        Some("Specified path /bin/ed does not exist")
    );
    let p = run(
        serde_json::json!({"name": "x-www-browser", "path": "/bin/ed"}),
        Some("auto\n/usr/bin/x-www-browser\n\n/usr/bin/lynx\n10\n\n"),
        Some("/usr/bin/lynx"),
        true,
    );
    assert!(p.failed.unwrap().contains("missing the link"));
}

#[test]
fn removes_and_refuses() {
    let p = run(
        serde_json::json!({"name": "iptables", "path": "/usr/sbin/iptables-legacy", "state": "absent"}),
        Some(IPTABLES),
        Some("/usr/sbin/iptables-nft"),
        true,
    );
    assert_eq!(
        commands(&p),
        ["update-alternatives --remove iptables /usr/sbin/iptables-legacy"]
    );
    let p = run(
        serde_json::json!({"name": "iptables", "path": "/usr/sbin/other", "state": "absent"}),
        Some(IPTABLES),
        Some("/usr/sbin/iptables-nft"),
        true,
    );
    assert!(!p.changed);
    let p = run(
        serde_json::json!({"name": "iptables", "path": "/x"}),
        Some("auto\n/l\n\n/a\nten\n\n"),
        None,
        true,
    );
    assert!(p.failed.unwrap().contains("corrupt"));
    for (j, msg) in [
        (
            serde_json::json!({"name": "a", "family": "f"}),
            "'family' is not supported",
        ),
        (serde_json::json!({"name": "a"}), "required: path, family"),
        (
            serde_json::json!({"name": "../a", "path": "/x"}),
            "invalid alternative name",
        ),
        (
            serde_json::json!({"name": "a", "path": "/x", "subcommands": [{"name": "b"}]}),
            "needs 'path'",
        ),
        (
            serde_json::json!({"name": "a", "path": "/x", "state": "on"}),
            "must be one of",
        ),
    ] {
        let e = Alternatives
            .prepare(alt_args(j.clone()), &env())
            .err()
            .unwrap();
        assert!(e.message.contains(msg), "{j}: {}", e.message);
    }
}
