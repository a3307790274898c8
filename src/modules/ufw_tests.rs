//! Unit tests of the `ufw` module: version and status parsing, the whole decision (commands,
//! check-mode `changed`, failures) against the collection's own module run on simulated hosts
//! (src/modules/ufw_cases.json, made by tests/fixtures/ufw_cases.py), the insert arithmetic's
//! awk, hostile input.

use minijinja::Value;

use super::check::{default_changed, logging_changed, rule_changed, state_changed};
use super::plan::INSERT_AWK;
use super::*;
use crate::modules::pylines::splitlines_keepends as splitlines;
use crate::modules::{Command, Step};

#[test]
fn version_is_read_as_the_module_reads_it() {
    let v = |s: &str| ufw_version(s);
    assert_eq!(
        v("ufw 0.36.2\nCopyright 2008-2023 Canonical Ltd.\n"),
        Some((6, 2, 0))
    );
    assert_eq!(v("ufw 0.34\n"), Some((0, 34, 0)));
    assert_eq!(v("ufw 0.35\n"), Some((0, 35, 0)));
    assert_eq!(v("\n  \nufw 0.35.1\n"), Some((5, 1, 0)));
    assert_eq!(v("ufw 1.2.3.4\n"), Some((3, 4, 0)));
    assert_eq!(v("ufw 10.20\n"), Some((0, 20, 0)));
    assert_eq!(v(""), None);
    assert_eq!(v(" ufw 0.36\n"), None);
    assert_eq!(v("firewall 1.2\n"), None);
    assert_eq!(v("ufw1.2\n"), None);
    assert_eq!(v("ufw 99999999999999999999999.1\n"), Some((9, 1, 0)));
    assert!(comment_supported((0, 35, 0)) && comment_supported((6, 2, 0)));
    assert!(!comment_supported((0, 34, 0)));
}

#[test]
fn status_is_read_with_the_module_patterns() {
    let active = "Status: active\nLogging: on (low)\nDefault: deny (incoming), allow (outgoing), disabled (routed)\n";
    assert!(!state_changed("enabled", active) && state_changed("disabled", active));
    assert!(state_changed("enabled", "Status: inactive\n"));
    assert!(state_changed("reloaded", active) && state_changed("reset", active));
    assert!(!logging_changed("on", active) && !logging_changed("low", active));
    assert!(logging_changed("high", active) && logging_changed("off", active));
    assert!(logging_changed("on", "Status: inactive\n"));
    assert!(!default_changed("deny", None, active));
    assert!(default_changed("allow", Some("incoming"), active));
    assert!(!default_changed("allow", Some("outgoing"), active));
    // The routed policy is "disabled": never a change, as in the module.
    assert!(!default_changed("reject", Some("routed"), active));
    assert!(default_changed("deny", None, "Status: inactive\n"));
    assert_eq!(splitlines("a\r\nb\rc\nd"), ["a\r\n", "b\r", "c\n", "d"]);
    assert!(!rule_changed(
        "Skipping adding existing rule\n",
        "",
        "any",
        "any"
    ));
    assert!(!rule_changed(
        "Skipping x\nRules updated\n",
        "",
        "any",
        "any"
    ));
    assert!(rule_changed(
        "Skipping x\nRules updated\n",
        "### tuple ### a\n",
        "any",
        "any"
    ));
    // An IPv4 address: only the IPv4 lines are compared.
    let v6 = "### tuple ### allow any any ::/0 any 2001:db8::1 in\n";
    assert!(!rule_changed(v6, "", "10.0.0.1", "any"));
    assert!(rule_changed(v6, "", "any", "any"));
}

fn args(params: &serde_json::Value) -> Args {
    let pairs: Vec<(String, Value)> = params
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), crate::vars::from_json(v)))
        .collect();
    let refs: Vec<(&str, Value)> = pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    Args::from_pairs("ufw", &refs)
}

/// The insert position, as the probe computes it with awk.
fn insert_awk(numbered: &str, rel: &str, ins: i64) -> String {
    let out = std::process::Command::new("awk")
        .args([
            "-v",
            &format!("rel={rel}"),
            "-v",
            &format!("ins={ins}"),
            INSERT_AWK,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(numbered.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The probe's answer for a simulated host.
fn probe_output(host: &serde_json::Value, p: &Params) -> String {
    let s = |k: &str| host[k].as_str().unwrap().to_string();
    let lines = |key: &str, text: &str| -> String {
        text.lines().map(|l| format!("{key}.out={l}\n")).collect()
    };
    let mut out = String::from("paths=/usr/sbin:/usr/bin\nufw=/usr/sbin/ufw\ngrep=/usr/bin/grep\n");
    out += &format!("pre.rc=0\n{}", lines("pre", &s("status")));
    let rules = s("rules");
    out += &format!(
        "rules.rc={}\n{}",
        i32::from(rules.is_empty()),
        lines("rules", &rules)
    );
    out += &format!("ver.rc=0\n{}", lines("ver", &s("version")));
    if p.relative_insert() {
        let at = insert_awk(&s("numbered"), &p.insert_relative_to, p.insert.unwrap());
        out += &format!("insert={at}\n");
    }
    for key in ["dryc", "dryn"] {
        out += &format!("{key}.rc=0\n{}", lines(key, &s("dry")));
    }
    out
}

fn strings(v: &Value) -> Vec<String> {
    v.try_iter()
        .unwrap()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn decisions_are_the_collection_module_s() {
    let doc: serde_json::Value = serde_json::from_str(include_str!("ufw_cases.json")).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() > 300);
    for case in cases {
        let what = format!("{case}");
        let check = case["check"].as_bool().unwrap();
        let failed = case["failed"].as_bool().unwrap();
        let p = match Params::parse(&args(&case["params"])) {
            Ok(p) => p,
            Err(e) => {
                assert!(failed, "{what}: {e}");
                assert!(
                    e.to_string().contains(case["msg"].as_str().unwrap()),
                    "{what}: {e}"
                );
                continue;
            }
        };
        let host = &doc["hosts"][case["host"].as_str().unwrap()];
        let plan = plan::UfwPlan::new(p.clone(), check)
            .decide(&probe_output(host, &p))
            .unwrap();
        if failed {
            assert_eq!(plan.failed.as_deref(), case["msg"].as_str(), "{what}");
            continue;
        }
        assert_eq!(plan.failed, None, "{what}");
        let want: Vec<String> = case["commands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        let changed = case["changed"].as_bool().unwrap();
        if check {
            assert_eq!(plan.changed, changed, "{what}");
            assert!(plan.steps.is_empty(), "{what}");
            assert_eq!(strings(&plan.result["commands"]), want, "{what}");
            continue;
        }
        // A real run: one script; the host is unchanged after it, so the module's `changed`
        // is what it decided before comparing (the script's `changed=` start).
        let [Step::Run { cmd, ok_rcs }] = plan.steps.as_slice() else {
            panic!("{what}: {:?}", plan.steps)
        };
        let Command {
            shell: Some(script),
            unchanged_rc,
            result_lines,
            ..
        } = cmd
        else {
            panic!("{what}: {cmd:?}")
        };
        assert!(*result_lines && *unchanged_rc == Some(plan::UNCHANGED_RC) && ok_rcs == &[0]);
        assert!(
            script.contains(&format!("\nchanged={}\n", u8::from(changed))),
            "{what}"
        );
        let mut ran: Vec<String> = script
            .lines()
            .map(str::trim_start)
            .filter(|l| l.starts_with("ex 0 ") || l.starts_with("ex 1 "))
            .map(|l| crate::shlex::split(l).unwrap()[2].clone())
            .collect();
        if changed {
            // The module does not read the rules again once it knows.
            ran.pop();
        }
        assert_eq!(ran, want, "{what}");
    }
}

#[test]
fn the_insert_awk_numbers_as_the_module() {
    let numbered = "[ 1] 22/tcp ALLOW IN Anywhere\n[ 2] 80/tcp ALLOW IN Anywhere\n[ 3] 22/tcp (v6) ALLOW IN Anywhere (v6)\n";
    assert_eq!(insert_awk(numbered, "first-ipv4", 0), "1");
    assert_eq!(insert_awk(numbered, "last-ipv4", 0), "2");
    assert_eq!(insert_awk(numbered, "first-ipv6", 0), "3");
    assert_eq!(insert_awk(numbered, "last-ipv6", 0), "3");
    assert_eq!(insert_awk(numbered, "last-ipv6", 1), "");
    assert_eq!(insert_awk("Status: inactive\n", "first-ipv4", 0), "");
    assert_eq!(insert_awk("[10] x\n[ 9] y (v6)\n", "first-ipv6", -1), "10");
}

#[test]
fn hostile_input_fails_without_running_anything() {
    let plan_of = |pairs: &[(&str, Value)]| -> Plan {
        let a = Args::from_pairs("ufw", pairs);
        // Only a comment's quoting waits for the version (an older ufw does not get it).
        if !pairs.iter().any(|(k, _)| *k == "comment") {
            let probes = crate::modules::testing::probes_of(&Ufw, a.clone());
            assert!(probes.is_empty(), "{pairs:?}");
        }
        crate::modules::testing::plan_answers(&Ufw, a, vec![])
    };
    let cases: Vec<Vec<(&str, Value)>> = vec![
        vec![("rule", "allow".into()), ("comment", "it's".into())],
        vec![("rule", "allow".into()), ("name", "it's".into())],
        vec![("rule", "allow".into()), ("from_ip", "\"10.0.0.1".into())],
        vec![("rule", "allow".into()), ("to_port", "22\0".into())],
        vec![("rule", "open".into())],
        vec![("logging", "loud".into())],
        vec![("direction", "in".into())],
        vec![("rule", "allow".into()), ("interface", "eth0".into())],
        vec![
            ("rule", "allow".into()),
            ("name", "x".into()),
            ("proto", "tcp".into()),
        ],
        vec![("rule", "allow".into()), ("insert", "first".into())],
        vec![("default", "allow".into()), ("direction", "in".into())],
    ];
    for pairs in cases {
        let plan = plan_of(&pairs);
        assert!(plan.failed.is_some(), "{pairs:?}: {plan:?}");
        assert!(plan.steps.is_empty(), "{pairs:?}");
    }
}

#[test]
fn a_chroot_is_skipped_without_probing() {
    let mut env = crate::modules::testing::env();
    env.is_chroot = true;
    let a = Args::from_pairs("ufw", &[("state", "enabled".into())]);
    let mut asked = crate::modules::Probes::default();
    Ufw.prepare(a.clone(), &env).unwrap().ask(&mut asked);
    assert!(asked.into_list().is_empty());
    let plan = crate::modules::testing::plan_answers_env(&Ufw, a, vec![], &env);
    assert_eq!(plan.skipped.as_deref(), Some("skipped (chroot)"));
    assert!(plan.steps.is_empty() && !plan.changed);
}

#[test]
fn a_missing_ufw_fails_with_ansible_s_message() {
    let p = Params::parse(&Args::from_pairs("ufw", &[("state", "enabled".into())])).unwrap();
    let plan = plan::UfwPlan::new(p, false)
        .decide("paths=/usr/sbin:/usr/bin\nnobin=ufw\n")
        .unwrap();
    assert_eq!(
        plan.failed.as_deref(),
        Some("Failed to find required executable \"ufw\" in paths: /usr/sbin:/usr/bin")
    );
}

#[test]
fn odd_probe_output_never_panics() {
    let p = Params::parse(&Args::from_pairs(
        "ufw",
        &[
            ("rule", "allow".into()),
            ("insert", 2.into()),
            ("insert_relative_to", "last-ipv6".into()),
            ("comment", "ok".into()),
        ],
    ))
    .unwrap();
    for out in [
        "",
        "ufw=/u\ngrep=/g\n",
        "ufw=/u\ngrep=/g\npre.rc=x\n",
        "ufw=/u\ngrep=/g\npre.rc=0\nrules.rc=0\nver.rc=0\nver.out=ufw 0.36\ninsert=9.2e+18\n",
        "ufw=/u\ngrep=/g\npre.rc=0\nrules.rc=0\nver.rc=0\nver.out=ufw é0.3ü\n",
        "ufw=/u\ngrep=/g\npre.rc=0\nrules.rc=0\nver.rc=1\nver.err=boom\n",
        "ufw=/u\ngrep=/g\npre.rc=0\nrules.rc=0\nver.rc=0\nver.out=ufw 0.36\ninsert=1\ndryc.rc=1\n",
    ] {
        for check in [true, false] {
            let r = plan::UfwPlan::new(p.clone(), check).decide(out);
            assert!(
                r.is_err() || r.as_ref().unwrap().failed.is_some() || !check,
                "{out:?}: {r:?}"
            );
        }
    }
}
