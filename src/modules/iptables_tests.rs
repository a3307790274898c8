//! Unit tests of `iptables`. The table `iptables_cases.json` (made by
//! tests/fixtures/iptables_cases.py) holds what Ansible's own module (ansible-core 2.19 from
//! the test fixtures' venv) did for each task's arguments on a simulated host: failure and
//! message, `changed`, the result, and the commands that change the firewall. Here the probe
//! script runs for real in `sh` against fake `iptables`/`ip6tables` programs that answer as
//! that host and log any modifying call (the probe must make none).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;
use crate::host::CmdOutput;
use crate::modules::testing::{args, env, probes_of};
use crate::modules::{Answer, Probe};

fn task_args(json: &serde_json::Value) -> Args {
    let pairs: Vec<(&str, Value)> = json
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), crate::vars::from_json(v)))
        .collect();
    args("iptables", &pairs)
}

const FAKE: &str = r#"#!/bin/sh
for a; do case "$a" in --version) echo "${0##*/} v$FAKE_VERSION"; exit 0 ;; esac; done
case "$3" in
-C)
    [ "$FAKE_RULE" = 1 ] && exit 0
    echo "iptables: Bad rule (does a matching rule exist in that chain?)." >&2
    exit 1 ;;
-L)
    if [ "$FAKE_CHAIN" = 1 ]; then
        echo "Chain $4 (policy $FAKE_POLICY)"
        echo "target     prot opt source               destination"
        exit 0
    fi
    echo "iptables: No chain/target/match by that name." >&2
    exit 1 ;;
esac
echo "$0 $*" >> "$FAKE_LOG"
"#;

/// A directory with the fake programs.
fn fakes() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("prov-ipt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["iptables", "ip6tables"] {
        let p = dir.join(name);
        std::fs::write(&p, FAKE).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// Run the task's probe in `sh` on the simulated host; returns its output and what the fakes
/// logged (modifying calls).
fn probe(dir: &Path, a: Args, host: &serde_json::Value) -> (Vec<Answer>, String) {
    let log = dir.join(format!("log-{:?}", std::thread::current().id()));
    let _ = std::fs::remove_file(&log);
    let mut answers = Vec::new();
    for p in probes_of(&Iptables, a) {
        let Probe::Command(script) = p else {
            panic!("{p:?}")
        };
        let flag = |k: &str| if host[k] == true { "1" } else { "0" };
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&script)
            .env("PATH", format!("{}:/usr/bin:/bin", dir.display()))
            .env("FAKE_VERSION", host["version"].as_str().unwrap())
            .env("FAKE_RULE", flag("rule"))
            .env("FAKE_CHAIN", flag("chain"))
            .env("FAKE_POLICY", host["policy"].as_str().unwrap())
            .env("FAKE_LOG", &log)
            .output()
            .unwrap();
        answers.push(Answer::Command(CmdOutput {
            rc: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }));
    }
    (answers, std::fs::read_to_string(&log).unwrap_or_default())
}

fn commands(p: &Plan, dir: &Path) -> Vec<Vec<String>> {
    p.steps
        .iter()
        .map(|s| match s {
            Step::Run { cmd, ok_rcs } => {
                assert_eq!(ok_rcs, &[0]);
                let mut argv = cmd.argv.clone().unwrap();
                let name = argv[0].rsplit('/').next().unwrap().to_string();
                assert_eq!(argv[0], format!("{}/{name}", dir.display()));
                argv[0] = format!("/usr/sbin/{name}");
                argv
            }
            s => panic!("{s:?}"),
        })
        .collect()
}

fn json_of(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap()
}

#[test]
fn decides_as_ansibles_module() {
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("iptables_cases.json")).unwrap();
    assert!(cases.len() > 300);
    let dir = fakes();
    let mut plans = 0;
    for case in &cases {
        let what = format!(
            "{} on {} check={}",
            case["args"], case["host"], case["check"]
        );
        let mut e = env();
        e.check_mode = case["check"] == true;
        let a = task_args(&case["args"]);
        let (answers, modified) = probe(&dir, a.clone(), &case["host"]);
        assert_eq!(modified, "", "the probe modified the firewall: {what}");
        let p = crate::modules::testing::plan_answers_env(&Iptables, a, answers, &e);
        match case["outcome"].as_str().unwrap() {
            "invalid" => assert_eq!(
                p.failed,
                Some(format!("iptables: {}", case["msg"].as_str().unwrap())),
                "{what}"
            ),
            "crash" => {
                let msg = p.failed.unwrap_or_else(|| panic!("{what}: no failure"));
                assert!(msg.contains("Ansible's module fails"), "{what}: {msg}");
            }
            "failed" => assert_eq!(p.failed.as_deref(), case["msg"].as_str(), "{what}"),
            _ => {
                plans += 1;
                assert_eq!(p.failed, None, "{what}");
                assert_eq!(p.changed, case["changed"], "{what}");
                let want = case["result"].as_object().unwrap();
                assert_eq!(p.result.len(), want.len(), "{what}: {:?}", p.result);
                for (k, v) in want {
                    assert_eq!(&json_of(&p.result[k.as_str()]), v, "{what}: {k}");
                }
                // Check mode runs nothing (the engine does not execute a dry run's steps);
                // the plan's steps are what a real run executes.
                if case["check"] == false {
                    let want: Vec<Vec<String>> =
                        serde_json::from_value(case["commands"].clone()).unwrap();
                    assert_eq!(commands(&p, &dir), want, "{what}");
                } else {
                    assert_eq!(case["commands"], serde_json::json!([]), "{what}");
                }
            }
        }
    }
    assert!(plans > 200);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn params(pairs: &[(&str, Value)]) -> Params {
    Params::parse(&args("iptables", pairs)).unwrap()
}

#[test]
fn construct_rule_quirks() {
    let p = params(&[
        ("chain", Value::from("INPUT")),
        ("protocol", Value::from("icmp")),
        ("icmp_type", Value::from("8")),
        ("ip_version", Value::from("both")),
    ]);
    assert_eq!(
        construct_rule(&p).unwrap(),
        ["-p", "icmp", "--icmp-type --icmpv6-type", "8"]
    );
    let p = params(&[
        ("chain", Value::from("OUTPUT")),
        ("uid_owner", Value::from("!root")),
        ("destination_port", Value::from(22)),
        ("flush", Value::from("no")),
    ]);
    assert_eq!(
        construct_rule(&p).unwrap(),
        [
            "--destination-port",
            "22",
            "-m",
            "owner",
            "!",
            "--uid-owner",
            "root"
        ]
    );
    // A list given as text is split on every comma, nothing trimmed (Ansible's type=list).
    let p = params(&[
        ("chain", Value::from("INPUT")),
        ("ctstate", Value::from("NEW, ESTABLISHED")),
    ]);
    assert_eq!(
        construct_rule(&p).unwrap(),
        ["-m", "conntrack", "--ctstate", "NEW, ESTABLISHED"]
    );
    let p = params(&[
        ("chain", Value::from("INPUT")),
        ("action", Value::from("insert")),
        ("rule_num", Value::from(3)),
        ("wait", Value::from(5)),
        ("jump", Value::from("ACCEPT")),
    ]);
    assert_eq!(
        push_arguments(&p, "-I", true).unwrap(),
        [
            "-t", "filter", "-I", "INPUT", "3", "-w", "5", "-j", "ACCEPT"
        ]
    );
    assert_eq!(
        push_arguments(&p, "-C", true).unwrap(),
        ["-t", "filter", "-C", "INPUT", "-w", "5", "-j", "ACCEPT"]
    );
}

#[test]
fn loose_version_as_python() {
    assert_eq!(
        loose_cmp("1.8.9 (nf_tables)", "1.6.0"),
        Ok(Ordering::Greater)
    );
    assert_eq!(loose_cmp("1.6.0 (legacy)", "1.6.0"), Ok(Ordering::Greater));
    assert_eq!(loose_cmp("1.4.21", "1.6.0"), Ok(Ordering::Less));
    assert_eq!(loose_cmp("1.4.20", "1.4.20"), Ok(Ordering::Equal));
    assert_eq!(loose_cmp("1.10", "1.9"), Ok(Ordering::Greater));
    assert!(loose_cmp("a.1", "1.6.0").is_err());
    assert_eq!(
        loose_parts("1.8.9 (nf_tables)"),
        [
            Part::Num(1),
            Part::Num(8),
            Part::Num(9),
            Part::Text(" (".into()),
            Part::Text("nf".into()),
            Part::Text("_".into()),
            Part::Text("tables".into()),
            Part::Text(")".into()),
        ]
    );
}

#[test]
fn chroot_is_skipped_without_probing() {
    let mut e = env();
    e.is_chroot = true;
    let a = args(
        "iptables",
        &[
            ("chain", Value::from("INPUT")),
            ("policy", Value::from("DROP")),
        ],
    );
    let mut planner = Iptables.prepare(a, &e).unwrap();
    let mut asked = Probes::default();
    planner.ask(&mut asked);
    assert!(asked.into_list().is_empty());
    let p = planner
        .plan(&Observed {
            answers: Vec::new(),
        })
        .unwrap();
    assert_eq!(p.skipped.as_deref(), Some("skipped (chroot)"));
    assert!(p.steps.is_empty());
    assert_eq!(p.result["chain"], Value::from("INPUT"));
}

/// Hostile arguments fail the task or run as one argument each; nothing panics.
#[test]
fn hostile_input_never_panics() {
    let nasty = [
        "",
        "!",
        "!!",
        "'; rm -rf / #",
        "$(touch /tmp/x)",
        "a\nb",
        "\u{0}",
        "é!",
        "!é",
        "--",
        ",",
        " ",
    ];
    let opts = [
        "protocol",
        "source",
        "destination",
        "match",
        "jump",
        "comment",
        "ctstate",
        "destination_ports",
        "uid_owner",
        "match_set",
        "match_set_flags",
        "log_level",
        "icmp_type",
        "rule_num",
        "wait",
        "chain",
        "table",
        "policy",
        "tcp_flags",
    ];
    for o in opts {
        for n in nasty {
            let mut pairs = vec![("chain", Value::from("INPUT"))];
            pairs.retain(|(k, _)| *k != o);
            pairs.push((o, Value::from(n)));
            let a = args("iptables", &pairs);
            let mut planner = Iptables.prepare(a, &env()).unwrap();
            let mut asked = Probes::default();
            planner.ask(&mut asked);
            let answers = asked
                .into_list()
                .iter()
                .map(|_| {
                    Answer::Command(CmdOutput {
                        rc: 0,
                        stdout: format!("4.bin=/sbin/iptables\n4.ver.rc=0\n4.ver.out=iptables v{n}\n4.n.rc=0\n4.n.out=Chain {n} (policy {n})\n4.w.rc=1\n"),
                        stderr: String::new(),
                    })
                })
                .collect();
            let p = planner.plan(&Observed { answers }).unwrap();
            for s in &p.steps {
                let Step::Run { cmd, .. } = s else { panic!() };
                assert!(cmd.argv.as_ref().unwrap().iter().all(|a| !a.contains('\0')));
            }
        }
    }
    // A NUL byte cannot be an argument: the task fails before anything is asked.
    let a = args(
        "iptables",
        &[("chain", Value::from("X")), ("source", Value::from("a\0b"))],
    );
    let p = crate::modules::testing::plan_answers(&Iptables, a, Vec::new());
    assert!(p.failed.unwrap().contains("NUL"));
    assert!(p.steps.is_empty());
}

/// Answers as the probe prints them.
fn decide_with(pairs: &[(&str, Value)], out: &str) -> Plan {
    let a = args("iptables", pairs);
    crate::modules::testing::plan_answers(
        &Iptables,
        a,
        vec![Answer::Command(CmdOutput {
            rc: 0,
            stdout: out.into(),
            stderr: String::new(),
        })],
    )
}

#[test]
fn missing_programs_and_odd_versions_fail_as_ansible() {
    let both = [
        ("chain", Value::from("INPUT")),
        ("ip_version", Value::from("both")),
        ("flush", Value::from(true)),
    ];
    let p = decide_with(
        &both,
        "paths=/usr/bin:/bin:/sbin\n4.bin=/sbin/iptables\n4.ver.rc=0\n4.ver.out=iptables v1.8.9\n",
    );
    assert_eq!(
        p.failed.as_deref(),
        Some("Failed to find required executable \"ip6tables\" in paths: /usr/bin:/bin:/sbin")
    );
    assert!(p.steps.is_empty(), "nothing runs when a program is missing");
    let p = decide_with(
        &both[..1],
        "4.bin=/sbin/iptables\n4.ver.rc=0\n4.ver.out=iptables 1.8.9\n",
    );
    assert!(p.failed.unwrap().contains("IndexError"));
    let p = decide_with(
        &both[..1],
        "4.bin=/sbin/iptables\n4.ver.rc=2\n4.ver.err=iptables: permission denied\n",
    );
    assert_eq!(p.failed.as_deref(), Some("iptables: permission denied"));
    // A version Python cannot order against 1.4.20: LooseVersion's TypeError.
    let p = decide_with(
        &[
            ("chain", Value::from("INPUT")),
            ("wait", Value::from(2)),
            ("jump", Value::from("ACCEPT")),
        ],
        "4.bin=/sbin/iptables\n4.ver.rc=0\n4.ver.out=iptables vX.1\n4.w.rc=1\n4.n.rc=1\n",
    );
    assert!(p.failed.unwrap().contains("TypeError"));
    // The policy line without a policy: Ansible's "Can't detect current policy".
    let p = decide_with(
        &[
            ("chain", Value::from("MINE")),
            ("policy", Value::from("DROP")),
        ],
        "4.bin=/sbin/iptables\n4.ver.rc=0\n4.ver.out=iptables v1.8.9\n4.n.rc=0\n4.n.out=Chain MINE (0 references)\n",
    );
    assert_eq!(p.failed.as_deref(), Some("Can't detect current policy"));
}
