//! Unit tests of `apt` (`apt.rs`): plans from fixture answers of dpkg, apt-cache and apt's
//! lists, and the package probe answered by this machine's own dpkg database.

use super::*;
use crate::modules::Probe;
use crate::modules::testing::{args, cmd, plan_answers};

const POLICY: &str = "kubelet:\n  Installed: (none)\n  Candidate: 1.32.1-1.1\n  Version table:\n     1.32.1-1.1 500\n        500 http://127.0.0.1/core:/stable:/v1.32/deb  Packages\n     1.32.0-1.1 500\n        500 http://127.0.0.1/core:/stable:/v1.32/deb  Packages\ncri-o:\n  Installed: (none)\n  Candidate: 1.32.2-1.1\n  Version table:\n     1.32.2-1.1 500\n        500 http://127.0.0.1/isv:/cri-o:/stable:/v1.32/deb  Packages\n";

fn plan(pairs: &[(&str, Value)], age: u64, dpkg: &str, policy: &str) -> Plan {
    plan_answers(
        &Apt,
        args("apt", pairs),
        vec![
            cmd(0, &format!("cache_age={age}\nnow=1\n")),
            cmd(0, &format!("{dpkg}@@policy\n{policy}")),
        ],
    )
}

/// The package probe answered by this machine's shell from its own dpkg database.
#[test]
fn apt_cache_runs_only_when_something_is_to_be_installed() {
    let run = |pairs: &[(&str, Value)]| {
        let probes = crate::modules::testing::probes_of(&Apt, args("apt", pairs));
        let Probe::Query(q) = &probes[1] else {
            panic!("{probes:?}")
        };
        crate::modules::testing::answer_here(q).stdout
    };
    // dpkg itself is installed wherever these tests run.
    let installed = run(&[("name", Value::from("dpkg"))]);
    assert!(installed.starts_with("dpkg\t"), "{installed}");
    assert!(!installed.contains("@@policy"), "{installed}");
    let pinned_elsewhere = run(&[("name", Value::from("dpkg=0.0-not-this"))]);
    assert!(pinned_elsewhere.contains("@@policy"), "{pinned_elsewhere}");
    let missing = run(&[("name", Value::from(vec!["dpkg", "no-such-package-prov"]))]);
    assert!(missing.contains("@@policy"), "{missing}");
    let latest = run(&[
        ("name", Value::from("dpkg")),
        ("state", Value::from("latest")),
    ]);
    assert!(latest.contains("@@policy"), "{latest}");
}

#[test]
fn pinned_install_in_one_call_with_cache_refresh() {
    let p = plan(
        &[
            (
                "name",
                Value::from(vec![
                    Value::from("kubelet=1.32.0-1.1"),
                    Value::from("cri-o"),
                ]),
            ),
            ("update_cache", Value::from(true)),
            ("cache_valid_time", Value::from(3600)),
        ],
        7200,
        "",
        POLICY,
    );
    assert!(p.changed);
    assert_eq!(p.steps.len(), 2, "update, then one install: {:?}", p.steps);
    let Step::Run { cmd, .. } = &p.steps[1] else {
        panic!()
    };
    let script = cmd.shell.as_deref().unwrap();
    assert!(
        script.contains("apt-get install -y -q") && script.contains("kubelet=1.32.0-1.1 cri-o"),
        "{script}"
    );
    assert!(
        cmd.env
            .contains(&("DEBIAN_FRONTEND".into(), "noninteractive".into()))
    );
    assert_eq!(p.diffs[0].after, "kubelet 1.32.0-1.1\ncri-o 1.32.2-1.1\n");
}

#[test]
fn nothing_to_do_when_installed_and_cache_fresh() {
    let dpkg = "kubelet\t1.32.0-1.1\thi \thold ok installed\ncri-o\t1.32.2-1.1\tii \tinstall ok installed\n";
    let p = plan(
        &[
            ("name", Value::from("kubelet=1.32.0-1.1,cri-o")),
            ("update_cache", Value::from(true)),
            ("cache_valid_time", Value::from(3600)),
        ],
        60,
        dpkg,
        POLICY,
    );
    assert!(!p.changed && p.steps.is_empty(), "{p:?}");
}

/// Ansible's apt marks the packages it is given as manually installed, also those that
/// were already there as dependencies, without reporting a change; the second run has
/// nothing left to do.
#[test]
fn an_automatically_installed_package_is_marked_manual() {
    let dpkg = "cri-o\t1.32.2-1.1\tii \tinstall ok installed\n";
    let answers = |auto: &str| {
        vec![
            cmd(0, "cache_age=60\nnow=1\n"),
            cmd(0, &format!("{dpkg}@@policy\n{POLICY}")),
            cmd(0, auto),
        ]
    };
    let a = || args("apt", &[("name", Value::from("cri-o"))]);
    let p = plan_answers(&Apt, a(), answers("cri-o\n"));
    assert!(!p.changed && p.diffs.is_empty(), "{p:?}");
    let Step::Run { cmd: c, .. } = &p.steps[0] else {
        panic!("{p:?}")
    };
    assert!(
        c.shell
            .as_deref()
            .unwrap_or_default()
            .contains("apt-mark manual cri-o"),
        "{c:?}"
    );
    assert!(plan_answers(&Apt, a(), answers("")).steps.is_empty());
}

#[test]
fn held_downgrades_and_unknown_versions_fail_early() {
    let dpkg = "kubelet\t1.32.1-1.1\thi \thold ok installed\n";
    let p = plan(
        &[("name", Value::from("kubelet=1.32.0-1.1"))],
        60,
        dpkg,
        POLICY,
    );
    assert!(p.failed.unwrap().contains("downgrade"));
    let p = plan(
        &[
            ("name", Value::from("kubelet=1.32.0-1.1")),
            ("allow_downgrade", Value::from(true)),
        ],
        60,
        dpkg,
        POLICY,
    );
    assert!(p.failed.unwrap().contains("held packages would change"));
    let p = plan(&[("name", Value::from("kubelet=9.9.9"))], 60, "", POLICY);
    assert!(
        p.failed
            .unwrap()
            .contains("No package matching 'kubelet=9.9.9'")
    );
    let p = plan(&[("name", Value::from("nope"))], 60, "", POLICY);
    assert_eq!(
        p.failed.as_deref(),
        Some("No package matching 'nope' is available")
    );
}

#[test]
fn latest_and_absent() {
    let dpkg = "kubelet\t1.32.0-1.1\tii \tinstall ok installed\n";
    let p = plan(
        &[
            ("name", Value::from("kubelet")),
            ("state", Value::from("latest")),
        ],
        60,
        dpkg,
        POLICY,
    );
    assert!(p.changed);
    assert_eq!(p.diffs[0].after, "kubelet 1.32.1-1.1\n");
    let p = plan(
        &[
            ("name", Value::from("kubelet")),
            ("state", Value::from("absent")),
            ("purge", Value::from(true)),
        ],
        60,
        dpkg,
        POLICY,
    );
    let Step::Run { cmd, .. } = &p.steps[0] else {
        panic!()
    };
    assert!(cmd.shell.as_deref().unwrap().contains("apt-get purge"));
}

#[test]
fn a_new_source_makes_the_cache_stale() {
    let p = plan_answers(
        &Apt,
        args(
            "apt",
            &[
                ("name", Value::from("kubelet")),
                ("update_cache", Value::from(true)),
                ("cache_valid_time", Value::from(3600)),
            ],
        ),
        vec![
            cmd(0, "cache_age=10\nsources_newer=1\n"),
            cmd(0, ""),
            cmd(0, ""),
        ],
    );
    assert_eq!(p.steps.len(), 2, "refresh, then install: {p:?}");
    assert!(p.failed.is_none());
}

#[test]
fn cache_only_update_reports_change() {
    let p = plan_answers(
        &Apt,
        args(
            "apt",
            &[
                ("update_cache", Value::from(true)),
                ("cache_valid_time", Value::from(60)),
            ],
        ),
        vec![cmd(0, "cache_age=3600\n")],
    );
    assert!(p.changed);
    let p = plan_answers(
        &Apt,
        args(
            "apt",
            &[
                ("update_cache", Value::from(true)),
                ("cache_valid_time", Value::from(60)),
            ],
        ),
        vec![cmd(0, "cache_age=10\n")],
    );
    assert!(!p.changed);
}

/// A virtual package: with one installed provider it is installed (Ansible's package_status);
/// with providers apt must choose from, apt-get is asked to install it; unknown, it fails.
#[test]
fn virtual_packages_follow_their_providers() {
    let policy =
        "apt-transport-https:\n  Installed: (none)\n  Candidate: (none)\n  Version table:\n";
    let with = |virt: &str| {
        plan_answers(
            &Apt,
            args("apt", &[("name", Value::from("apt-transport-https"))]),
            vec![
                cmd(0, "cache_age=60\nnow=1\n"),
                cmd(0, &format!("@@policy\n{policy}{virt}")),
                cmd(0, ""),
            ],
        )
    };
    let p = with("@@virtual\napt-transport-https\tapt\tinstalled\n");
    assert!(!p.changed && p.failed.is_none(), "{p:?}");
    let p = with("@@virtual\napt-transport-https\tapt,apt-ng\t\n");
    assert!(p.changed, "{p:?}");
    let Step::Run { cmd: c, .. } = &p.steps[0] else {
        panic!("{p:?}")
    };
    assert!(
        c.shell
            .as_deref()
            .unwrap_or_default()
            .contains("apt-get install -y -q"),
        "{c:?}"
    );
    let p = with("");
    assert!(
        p.failed
            .as_deref()
            .unwrap_or_default()
            .contains("No package matching 'apt-transport-https'"),
        "{p:?}"
    );
}
