//! `pip`'s unit tests: PEP 440 versions and specifiers, PEP 508 names, Ansible's name list
//! handling and freeze-list lookups, option checks, and the plans made from probe output.

use super::*;
use crate::modules::pip_req::{Requirement, Specifier, Version, canonicalize};
use crate::modules::testing::{args, cmd, plan_answers};

fn v(s: &str) -> Version {
    Version::parse(s).unwrap_or_else(|| panic!("{s} is a version"))
}

#[test]
fn versions_order_as_pep_440_says() {
    // An epoch outranks any release.
    assert!(v("1!0.1") > v("99.0"));
    let chain = [
        "0.9",
        "1.0.dev1",
        "1.0a1.dev1",
        "1.0a1",
        "1.0b2",
        "1.0rc1",
        "1.0",
        "1.0+local.1",
        "1.0.post1.dev1",
        "1.0.post1",
        "1.0.1",
        "1.1",
    ];
    for w in chain.windows(2) {
        assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
    }
    for (a, b) in [
        ("1.0", "1.0.0"),
        ("1.0-1", "1.0.post1"),
        ("1.0alpha1", "1.0a1"),
        ("v1.0", "1.0"),
        ("1.0RC1", "1.0rc1"),
        ("1.0c1", "1.0rc1"),
        ("1.0.dev", "1.0.dev0"),
    ] {
        assert_eq!(v(a).cmp(&v(b)), std::cmp::Ordering::Equal, "{a} == {b}");
    }
    assert!(v("1.0+abc") < v("1.0+1"));
    for bad in ["", "1.0-", "abc", "1..0", "1.0+", "99999999999999999999999"] {
        assert!(Version::parse(bad).is_none(), "{bad:?}");
    }
}

fn contains(spec: &str, version: &str) -> bool {
    Specifier::parse(spec)
        .unwrap_or_else(|| panic!("{spec} is a specifier"))
        .contains(version)
}

#[test]
fn specifiers_match_as_packaging_does_with_prereleases() {
    for (spec, yes, no) in [
        (
            ">=1.2",
            &["1.2", "1.2.0", "2.0", "1.3a1"][..],
            &["1.1", "1.2rc1"][..],
        ),
        (
            "<2",
            &["1.9", "1.9.post1"],
            &["2.0", "2.0a1", "2.0.dev1", "2.1"],
        ),
        ("<2.0rc1", &["2.0a1"], &["2.0rc1"]),
        (
            ">1.0",
            &["1.1", "1.0.1"],
            &["1.0", "1.0.post1", "1.0+local"],
        ),
        (">1.0.post1", &["1.0.post2"], &["1.0.post1"]),
        ("<=1.0", &["1.0", "1.0+local", "0.1"], &["1.0.post1"]),
        ("==1.0", &["1.0", "1.0.0", "1.0+local"], &["1.0.1", "1.0a1"]),
        ("==1.0+local", &["1.0+local"], &["1.0", "1.0+other"]),
        ("==1.*", &["1.0", "1.9.9", "1", "1.0rc1"], &["2.0", "0.9"]),
        ("==1.0.*", &["1", "1.0.5"], &["1.1"]),
        ("!=1.5.*", &["1.4", "1.6"], &["1.5", "1.5.2"]),
        ("!=1.5", &["1.4"], &["1.5.0"]),
        ("~=1.4.5", &["1.4.5", "1.4.9"], &["1.5.0", "1.4.4"]),
        ("~=2.2", &["2.2", "2.9"], &["3.0", "2.1"]),
        ("===1.0", &["1.0"], &["1.0.0"]),
    ] {
        for y in yes {
            assert!(contains(spec, y), "{y} in {spec}");
        }
        for n in no {
            assert!(!contains(spec, n), "{n} not in {spec}");
        }
    }
    // An installed version that is not PEP 440 satisfies nothing but ===.
    assert!(!contains(">=0", "not-a-version"));
    for bad in ["1.0", ">=", ">=1.0.*", "~=1", "==1.0+x.*", ">= 1 2", "=>1"] {
        assert!(Specifier::parse(bad).is_none(), "{bad:?}");
    }
}

#[test]
fn requirements_parse_and_print_as_packaging_does() {
    let r =
        Requirement::parse("Django[Bcrypt, argon2] (>=1.11, <2) ; python_version > '3'").unwrap();
    assert_eq!(r.name, "Django");
    assert_eq!(
        r.to_text(),
        "Django[Bcrypt,argon2]<2,>=1.11; python_version > '3'"
    );
    assert_eq!(Requirement::parse(" foo ").unwrap().to_text(), "foo");
    assert_eq!(
        Requirement::parse("pkg @ file:///tmp/pkg")
            .unwrap()
            .url
            .as_deref(),
        Some("file:///tmp/pkg")
    );
    for bad in [
        "/tmp/pkg",
        "./pkg",
        "git+https://example.invalid/x.git",
        "foo==",
        "foo bar",
        "foo[",
        "",
        "foo;",
        "-e",
    ] {
        assert!(Requirement::parse(bad).is_none(), "{bad:?}");
    }
    assert_eq!(canonicalize("Foo_Bar..baz-Q"), "foo-bar-baz-q");
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn names_are_recovered_as_ansible_recovers_them() {
    assert_eq!(
        recover_package_names(&strings(&[
            "django>1.11.1",
            "<1.11.3",
            "ipaddress",
            "simpleproject>1.1.0",
            "<2.0.0"
        ])),
        strings(&[
            "django>1.11.1,<1.11.3",
            "ipaddress",
            "simpleproject>1.1.0,<2.0.0"
        ])
    );
    assert_eq!(
        recover_package_names(&strings(&[
            "django>1.11.1,<1.11.3,ipaddress",
            "simpleproject>1.1.0,<2.0.0"
        ])),
        strings(&[
            "django>1.11.1,<1.11.3",
            "ipaddress",
            "simpleproject>1.1.0,<2.0.0"
        ])
    );
    assert_eq!(
        recover_package_names(&strings(&["requests[security,socks]>=2"])),
        strings(&["requests[security,socks]>=2"])
    );
}

#[test]
fn presence_is_read_from_the_freeze_list() {
    let out =
        "You are using pip version 9\nFoo-Bar==1.2.0\nbaz==2.0rc1\nweird==1==2\nnoversion\n\n";
    let installed = freeze_lines(out);
    assert_eq!(installed.len(), 4);
    let p = |n: &str| is_present(&Package::new(n, None), &installed);
    assert!(p("foo_bar"));
    assert!(p("foo.bar>=1.2,<2"));
    assert!(!p("foo-bar>1.2"));
    assert!(p("baz>=2.0a1"));
    assert!(p("baz"));
    assert!(!p("weird"));
    assert!(!p("noversion"));
    assert!(!p("/tmp/foo-bar"));
    assert!(is_present(
        &Package::new("foo-bar", Some("1.2")),
        &installed
    ));
    assert!(!is_present(
        &Package::new("foo-bar", Some("1.3")),
        &installed
    ));
    assert!(is_present(
        &Package::new("foo-bar", Some(">=1")),
        &installed
    ));
    assert_eq!(Package::new("foo-bar", Some(">=1")).to_text(), "foo-bar>=1");
}

fn pip_args(pairs: &[(&str, Value)]) -> Args {
    args("pip", pairs)
}

fn spec(pairs: &[(&str, Value)]) -> Spec {
    parse(&pip_args(pairs), "python3".into()).unwrap()
}

fn error(pairs: &[(&str, Value)]) -> String {
    match parse(&pip_args(pairs), "python3".into()) {
        Err(e) => e.to_string(),
        Ok(s) => panic!("accepted: {s:?}"),
    }
}

#[test]
fn options_are_checked_as_ansible_checks_them() {
    assert!(error(&[]).contains("one of the following is required: name, requirements"));
    assert!(
        error(&[("name", "a".into()), ("requirements", "r.txt".into())])
            .contains("mutually exclusive: name|requirements")
    );
    assert!(
        error(&[
            ("name", "a".into()),
            ("executable", "pip3".into()),
            ("virtualenv", "/v".into())
        ])
        .contains("mutually exclusive: executable|virtualenv")
    );
    assert!(
        error(&[
            ("name", "a".into()),
            ("state", "latest".into()),
            ("version", "1".into())
        ])
        .contains("version is incompatible with state=latest")
    );
    assert!(error(&[("name", "a,b".into()), ("version", "1".into())]).contains("ambiguous"));
    assert!(error(&[("name", "a>1".into()), ("version", "1".into())]).contains("conflicts"));
    assert!(error(&[("name", "a".into()), ("umask", "999".into())]).contains("octal"));
    assert!(error(&[("name", "a\0".into())]).contains("NUL"));
    assert!(
        error(&[("name", "a".into()), ("extra_args", "'unclosed".into())]).contains("extra_args")
    );
    assert!(error(&[("name", "a".into()), ("state", "installed".into())]).contains("state"));
    assert!(error(&[("name", "a".into()), ("virtualenv_command", "".into())]).contains("empty"));

    assert_eq!(
        spec(&[("name", "a".into()), ("umask", "0022".into())]).umask,
        Some(0o22)
    );
    assert_eq!(
        spec(&[("name", "a".into()), ("umask", 18.into())]).umask,
        Some(0o22)
    );
    assert!(error(&[("name", "a".into()), ("umask", (-1).into())]).contains("octal"));
    let s = spec(&[("name", "pkg".into()), ("version", "1.0".into())]);
    assert_eq!(s.packages[0].to_text(), "pkg==1.0");
    let s = spec(&[
        ("name", "pkg".into()),
        ("editable", true.into()),
        ("extra_args", "--no-index".into()),
        ("chdir", "/srv/app".into()),
        ("virtualenv", "venv".into()),
    ]);
    assert_eq!(s.extra_args, ["--no-index", "-e"]);
    assert_eq!(s.env.as_deref(), Some("/srv/app/venv"));
    assert!(is_venv_command(&strings(&["python3", "-m", "venv"])));
    assert!(!is_venv_command(&strings(&["/usr/bin/pyvenv"])));
    assert!(is_venv_command(&strings(&["pyvenv"])));
    assert!(!is_venv_command(&strings(&["virtualenv", "-p", "python3"])));
}

fn plan(pairs: &[(&str, Value)], out: &str) -> Plan {
    plan_answers(&Pip, pip_args(pairs), vec![cmd(0, out)])
}

const FREEZE: &str = "pipm=/usr/bin/python3\nfreeze=list\n---\nrequests==2.31.0\nurllib3==2.0.7\n";

#[test]
fn plans_predict_from_the_freeze_list() {
    // Everything there: nothing to run, in check mode and apply alike.
    let p = plan(
        &[("name", Value::from(vec!["Requests>=2", "urllib3"]))],
        FREEZE,
    );
    assert!(!p.changed && p.steps.is_empty() && p.failed.is_none());
    assert_eq!(
        p.result["cmd"],
        Value::from(vec![
            "/usr/bin/python3",
            "-m",
            "pip",
            "install",
            "Requests>=2",
            "urllib3"
        ])
    );
    assert_eq!(p.result["state"], Value::from("present"));
    assert!(p.result["virtualenv"].is_none());
    // One missing or too old: pip runs, and says whether it changed anything.
    for names in [vec!["requests", "six"], vec!["requests>2.31"]] {
        let p = plan(&[("name", Value::from(names.clone()))], FREEZE);
        assert!(p.changed, "{names:?}");
        let [Step::Run { cmd, .. }] = &p.steps[..] else {
            panic!("{:?}", p.steps)
        };
        assert_eq!(cmd.unchanged_rc, Some(UNCHANGED_RC));
        assert!(
            cmd.shell
                .as_ref()
                .unwrap()
                .contains("Successfully installed")
        );
    }
    let p = plan(
        &[("name", "six".into()), ("state", "absent".into())],
        FREEZE,
    );
    assert!(!p.changed);
    let p = plan(
        &[("name", "requests".into()), ("state", "absent".into())],
        FREEZE,
    );
    assert!(p.changed);
    assert!(
        matches!(&p.steps[..], [Step::Run { cmd, .. }] if cmd.shell.as_ref().unwrap().contains("uninstall -y requests"))
    );
    // What the freeze list cannot tell is a change, as in Ansible's check mode.
    for extra in [
        ("state", Value::from("latest")),
        ("state", Value::from("forcereinstall")),
        ("extra_args", Value::from("--no-index")),
        ("editable", Value::from(true)),
    ] {
        assert!(
            plan(&[("name", "requests".into()), extra.clone()], FREEZE).changed,
            "{extra:?}"
        );
    }
    // An empty name list: Ansible's warning, no change.
    let p = plan(
        &[
            ("name", Value::from(Vec::<String>::new())),
            ("version", "1".into()),
        ],
        FREEZE,
    );
    assert!(!p.changed && p.steps.is_empty() && p.failed.is_none());
    assert!(p.result["warnings"].len() == Some(1));
    let p = plan(&[("requirements", "/srv/req.txt".into())], FREEZE);
    assert!(p.changed);
    assert!(p.steps.iter().any(|s| matches!(s, Step::Run { cmd, .. } if cmd.shell.as_ref().unwrap().contains("before=$(freeze)"))));
}

#[test]
fn virtualenvs_are_made_when_missing() {
    let pairs = [
        ("name", Value::from("requests")),
        ("virtualenv", Value::from("/srv/venv")),
        ("virtualenv_command", Value::from("python3 -m venv")),
    ];
    let p = plan(&pairs, "venv=0\n");
    assert!(p.changed);
    let [Step::Run { cmd, .. }] = &p.steps[..] else {
        panic!("{:?}", p.steps)
    };
    let script = cmd.shell.as_ref().unwrap();
    assert!(script.contains("set -- python3 -m venv\n"), "{script}");
    assert!(!script.contains("-p$py"));
    assert_eq!(p.result["virtualenv"], Value::from("/srv/venv"));
    assert_eq!(
        p.result["cmd"].get_item(&Value::from(0)).unwrap(),
        Value::from("/srv/venv/bin/pip3")
    );
    // virtualenv gets the module's Python, or the one asked for.
    let p = plan(
        &[("name", "x".into()), ("virtualenv", "/v".into())],
        "venv=0\n",
    );
    assert!(
        matches!(&p.steps[..], [Step::Run { cmd, .. }] if cmd.shell.as_ref().unwrap().contains("\"-p$py\""))
    );
    let mut with_python = pairs.to_vec();
    with_python.push(("virtualenv_python", "python3.11".into()));
    assert_eq!(
        plan(&with_python, "venv=0\n").failed.as_deref(),
        Some(
            "virtualenv_python should not be used when using the venv module or pyvenv as virtualenv_command"
        )
    );
    // An existing one without pip.
    let p = plan(&pairs, "venv=1\nnopip\n");
    assert_eq!(
        p.failed.as_deref(),
        Some(
            "Unable to find pip in the virtualenv, /srv/venv, under any of these names: pip3, pip. Make sure pip is present in the virtualenv."
        )
    );
    let p = plan(&[("name", "x".into())], "nopip\n");
    assert_eq!(
        p.failed.as_deref(),
        Some("Unable to find any of pip3 to use.  pip needs to be installed.")
    );
    let p = plan(
        &[("name", "x".into())],
        "pip=/usr/bin/pip3\nfreeze=failed\n---\nboom\n",
    );
    assert_eq!(p.failed.as_deref(), Some("stdout: boom"));
}

#[test]
fn the_tasks_environment_reaches_the_probe() {
    let mut e = crate::modules::testing::env();
    e.environment = vec![
        ("PIP_NO_INDEX".into(), "1".into()),
        ("bad name".into(), "x".into()),
    ];
    let mut planner = Pip.prepare(pip_args(&[("name", "x".into())]), &e).unwrap();
    let mut asked = Probes::default();
    planner.ask(&mut asked);
    let [crate::modules::Probe::Command(script)] = &asked.into_list()[..] else {
        panic!("one command probe")
    };
    assert!(script.starts_with("export PIP_NO_INDEX=1\n"), "{script}");
    assert!(!script.contains("bad name"));
    let p = plan_answers_env_of(&e);
    assert!(matches!(&p.steps[..], [Step::Run { cmd, .. }] if cmd.env == e.environment));
}

fn plan_answers_env_of(e: &crate::modules::ModuleEnv) -> Plan {
    crate::modules::testing::plan_answers_env(
        &Pip,
        pip_args(&[("name", "x".into())]),
        vec![cmd(0, FREEZE)],
        e,
    )
}

#[test]
fn the_probe_and_step_quote_what_they_are_given() {
    let s = spec(&[
        ("name", Value::from(vec!["x'; reboot #"])),
        ("virtualenv", "/tmp/a b/$(id)".into()),
    ]);
    let step = step_script(&s);
    assert!(step.contains("env='/tmp/a b/$(id)'"), "{step}");
    assert!(step.contains("'x'\"'\"'; reboot #'"), "{step}");
    // Both are valid sh.
    for text in [step, probe_script(&s)] {
        let out = std::process::Command::new("sh")
            .arg("-n")
            .arg("-c")
            .arg(&text)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn odd_probe_output_and_names_never_panic() {
    for out in [
        "",
        "---",
        "\n---\n",
        "pip=\nfreeze=list\n---\n==\n====\n=\n",
        "venv=1\npipm=\n---\nx==1==2\n\u{0}==\u{1}\n",
        "freeze=failed\n",
    ] {
        for state in ["present", "absent", "latest", "forcereinstall"] {
            let _ = plan(&[("name", "a>=1,<2".into()), ("state", state.into())], out);
        }
    }
    for name in [
        "", ",", "[", "]", "a[", "<1", ">=", "a==1.*.*", "a @", "a;", "\u{feff}", "a===", "a[b]c",
        "9", "a~=1",
    ] {
        let _ = parse(&pip_args(&[("name", name.into())]), "python3".into());
        let _ = Package::new(name, Some(name));
        let _ = Specifier::parse(name);
        let _ = Version::parse(name);
    }
}
