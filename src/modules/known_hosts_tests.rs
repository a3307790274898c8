//! Unit tests of `known_hosts`. The table `known_hosts_cases.json` holds what Ansible's module
//! (ansible-core 2.19 from the test fixtures' venv, run in check mode with diff, with the real
//! `ssh-keygen`) returned for each file and arguments; the lookup itself is also compared with
//! `ssh-keygen -F` on this machine.

use super::*;
use crate::modules::Answer;
use crate::modules::testing::{args, env, file, missing, plan_answers};
use minijinja::Value;

const PATH: &str = "/root/.ssh/known_hosts";

fn kh_args(json: &serde_json::Value) -> Args {
    let mut pairs: Vec<(&str, Value)> = json
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), crate::vars::from_json(v)))
        .collect();
    pairs.push(("path", Value::from(PATH)));
    args("known_hosts", &pairs)
}

/// ssh-keygen found in /usr/bin, then the file.
fn answers(state: FileState) -> Vec<Answer> {
    let mut a: Vec<Answer> = crate::modules::bin_path::in_usr_bin("ssh-keygen", 0o755);
    a.push(Answer::File(state));
    a
}

#[test]
fn decides_as_ansible_does() {
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("known_hosts_cases.json")).unwrap();
    assert!(cases.len() > 25);
    for case in &cases {
        let what = format!("{} on {:?}", case["args"], case["input"]);
        let state = match case["input"].as_str() {
            Some(text) => file(PATH, 0o644, text),
            None => missing(PATH),
        };
        if case["failed"] == true {
            let e = KnownHosts
                .prepare(kh_args(&case["args"]), &env())
                .err()
                .expect(&what);
            assert_eq!(
                e.message.strip_prefix("known_hosts: "),
                case["msg"].as_str(),
                "{what}"
            );
            continue;
        }
        let p = plan_answers(&KnownHosts, kh_args(&case["args"]), answers(state));
        assert_eq!(p.failed, None, "{what}");
        assert_eq!(p.changed, case["changed"], "{what}");
        assert_eq!(p.result["path"].as_str(), Some(PATH));
        assert_eq!(
            p.result["name"].as_str(),
            case["args"]["name"].as_str(),
            "{what}"
        );
        if !p.changed {
            assert!(p.steps.is_empty(), "{what}");
            continue;
        }
        assert_eq!(
            Some(p.diffs[0].after.as_str()),
            case["after"].as_str(),
            "{what}"
        );
        match &p.steps[..] {
            [Step::Write(w)] => assert_eq!(
                Some(String::from_utf8(w.content.clone()).unwrap().as_str()),
                case["after"].as_str(),
                "{what}"
            ),
            [Step::Run { cmd, .. }] => assert_eq!(
                cmd.argv.as_deref().unwrap(),
                ["ssh-keygen", "-R", "example.com", "-f", PATH]
            ),
            other => panic!("{what}: {other:?}"),
        }
    }
}

const K1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHD7bNvVeTZueVFF2LSdR0aUQyeAoElpTeiNi6vJwNnx";

#[test]
fn lookup_matches_ssh_keygen() {
    let hashed = hash_key("h3.example.org", &format!("x {K1}"), &[7; 20]).unwrap();
    let text = format!(
        "# comment\nh1.example.org {K1}\n  h2.example.org,10.1.2.3 {K1} c\n*.wild.org {K1}\n!bad.wild.org,*.wild.org {K1}\n{hashed}\n[h1.example.org]:2222 {K1}\n@cert-authority *.ca.org {K1}\n@revoked rev.org {K1}\n@bogus h1.example.org {K1}\nh?.q.org {K1}\nH5.Example.ORG {K1}\nh1.example.org\n|1|broken|hash {K1}\nh1.example.org\tssh-ed25519\tAAAAbroken\n\n"
    );
    let dir = std::env::temp_dir().join(format!("prov-kh-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("known_hosts");
    std::fs::write(&path, &text).unwrap();
    for host in [
        "h1.example.org",
        "h2.example.org",
        "10.1.2.3",
        "a.wild.org",
        "bad.wild.org",
        "h3.example.org",
        "[h1.example.org]:2222",
        "x.ca.org",
        "rev.org",
        "h4.q.org",
        "h44.q.org",
        "h5.example.org",
        "nothing.org",
    ] {
        let out = std::process::Command::new("ssh-keygen")
            .args(["-F", host, "-f"])
            .arg(&path)
            .output()
            .expect("ssh-keygen (openssh-client) is needed by this test");
        let stdout = String::from_utf8(out.stdout).unwrap();
        let want: Vec<(usize, String)> = stdout
            .split('\n')
            .collect::<Vec<_>>()
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| {
                let n = c[0].split("found: line ").nth(1).unwrap();
                let n = n.split(' ').next().unwrap().parse().unwrap();
                (n, c[1].to_string())
            })
            .collect();
        assert_eq!(find(&text, host).0, want, "{host}\n{stdout}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hashed_names_and_tilde_paths() {
    let j = serde_json::json!({"name": "example.com", "key": format!("example.com {K1}"), "hash_host": true});
    let p = plan_answers(&KnownHosts, kh_args(&j), answers(missing(PATH)));
    let Step::Write(w) = &p.steps[0] else {
        panic!("{p:?}")
    };
    let line = String::from_utf8(w.content.clone()).unwrap();
    assert!(
        line.starts_with("|1|") && line.ends_with(&format!(" {K1}\n")),
        "{line}"
    );
    assert_eq!(find(&line, "example.com").0.len(), 1);
    // Hashed again with another salt: the same entry.
    let p = plan_answers(&KnownHosts, kh_args(&j), answers(file(PATH, 0o600, &line)));
    assert!(!p.changed, "{p:?}");
    // The default path is the user's: the shell expands it.
    assert_eq!(tilde("~/.ssh/known_hosts"), Some(("~", ".ssh/known_hosts")));
    assert_eq!(tilde("~deploy/kh"), Some(("~deploy", "kh")));
    assert_eq!(tilde("~$(x)/kh"), None);
    let f = parse_home("/home/u/.ssh/known_hosts\nfile\naGkK\n").unwrap();
    assert_eq!(f.content.as_deref(), Some(&b"hi\n"[..]));
    assert!(
        !parse_home("/home/u/.ssh/known_hosts\nmissing\n")
            .unwrap()
            .exists
    );
    assert!(parse_home("~/x\n").is_err());
}

#[test]
fn hostile_input_is_an_error() {
    let j = serde_json::json!({"name": "example.com", "key": format!("example.com {K1}")});
    let mut bad = file(PATH, 0o644, "");
    bad.content = Some(b"example.com \xff\n".to_vec());
    let p = plan_answers(&KnownHosts, kh_args(&j), answers(bad));
    assert!(p.failed.unwrap().contains("not UTF-8"));
    // A line naming the host with a type and no key: Ansible's parse fails.
    let mut planner = KnownHosts.prepare(kh_args(&j), &env()).unwrap();
    planner.ask(&mut Probes::default());
    let obs = Observed {
        answers: answers(file(PATH, 0o644, "example.com ssh-ed25519\n")),
    };
    let r = planner.plan(&obs);
    assert!(r.is_err(), "{r:?}");
    let e = KnownHosts
        .prepare(
            kh_args(&serde_json::json!({"name": "example.com", "key": "@cert-authority"})),
            &env(),
        )
        .err()
        .unwrap();
    assert!(e.message.contains("does not match"), "{}", e.message);
}
