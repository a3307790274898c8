//! `timezone`'s unit tests: a Debian root's clock files, or `timedatectl status`, in; plans out.

use super::*;
use crate::modules::testing::{args, cmd, file, link, missing, plan_answers_env};
use crate::modules::{Answer, FileState};

const TOOLS: &str =
    "dpkg-reconfigure=/usr/sbin/dpkg-reconfigure\nhwclock=/usr/sbin/hwclock\nln=/usr/bin/ln\n";

/// /etc/localtime, a link to `target`, read through it.
fn linked(target: &str) -> FileState {
    FileState {
        is_link: true,
        link_target: Some(target.into()),
        ..file("/etc/localtime", 0o644, "TZif2")
    }
}

/// A root whose zone is `zone` (/etc/timezone and the /etc/localtime link).
fn root(zone: &str, rcs: Option<&str>) -> Vec<Answer> {
    vec![
        cmd(0, TOOLS),
        Answer::File(file(
            "/usr/share/zoneinfo/Europe/Paris",
            0o644,
            "TZif2 paris",
        )),
        Answer::File(file("/etc/timezone", 0o644, &format!("{zone}\n"))),
        Answer::File(linked(&format!("/usr/share/zoneinfo/{zone}"))),
        Answer::File(match rcs {
            Some(t) => file("/etc/default/rcS", 0o644, t),
            None => missing("/etc/default/rcS"),
        }),
        Answer::File(missing("/etc/adjtime")),
    ]
}

fn run(pairs: &[(&str, Value)], answers: Vec<Answer>, chroot: bool) -> Plan {
    let mut env = crate::modules::testing::env();
    env.chroot_connection = chroot;
    env.is_chroot = chroot;
    plan_answers_env(&Timezone, args("timezone", pairs), answers, &env)
}

#[test]
fn debian_path_edits_links_and_reconfigures() {
    let p = run(
        &[("name", "Europe/Paris".into())],
        root("Etc/UTC", None),
        true,
    );
    assert!(p.changed);
    assert_eq!(
        p.result["msg"],
        Value::from("Added 1 line and deleted 1 line(s) on /etc/timezone")
    );
    assert!(
        matches!(&p.steps[0], Step::Write(w) if w.path == "/etc/timezone" && w.content == b"Europe/Paris\n")
    );
    assert!(
        matches!(&p.steps[1], Step::Link { src, path, hard: false } if src == "/usr/share/zoneinfo/Europe/Paris" && path == "/etc/localtime")
    );
    assert!(
        matches!(&p.steps[2], Step::Run { cmd, .. } if cmd.argv.as_deref().unwrap().join(" ") == "/usr/sbin/dpkg-reconfigure --frontend noninteractive tzdata")
    );
    assert_eq!(p.diffs[0].before, "{\n    \"name\": \"Etc/UTC\"\n}\n");
    assert_eq!(p.diffs[0].after, "{\n    \"name\": \"Europe/Paris\"\n}\n");
    // In place: nothing to do.
    let p = run(
        &[("name", "Europe/Paris".into())],
        root("Europe/Paris", None),
        true,
    );
    assert!(!p.changed && p.steps.is_empty());
    assert!(p.result.get("msg").is_none());
}

#[test]
fn the_link_and_the_file_must_both_say_so() {
    // /etc/timezone says Paris, the link points elsewhere: the link's zone is current.
    let mut a = root("Europe/Paris", None);
    a[3] = Answer::File(linked("/usr/share/zoneinfo/Asia/Tokyo"));
    let p = run(&[("name", "Europe/Paris".into())], a, true);
    assert_eq!(p.diffs[0].before, "{\n    \"name\": \"Asia/Tokyo\"\n}\n");
    // A broken link: n/a.
    let mut a = root("Europe/Paris", None);
    a[3] = Answer::File(link("/etc/localtime", "/usr/share/zoneinfo/Europe/Paris"));
    let p = run(&[("name", "Europe/Paris".into())], a, true);
    assert!(p.diffs[0].before.contains("n/a"));
    // A copy of the zone file counts as set; a different file does not.
    let mut a = root("Europe/Paris", None);
    a[3] = Answer::File(file("/etc/localtime", 0o644, "TZif2 paris"));
    assert!(!run(&[("name", "Europe/Paris".into())], a, true).changed);
    let mut a = root("Europe/Paris", None);
    a[3] = Answer::File(file("/etc/localtime", 0o644, "TZif2 other"));
    assert!(run(&[("name", "Europe/Paris".into())], a, true).changed);
    // Other lines of /etc/timezone: zone lines go, the rest stays.
    let mut a = root("Etc/UTC", None);
    a[2] = Answer::File(file("/etc/timezone", 0o644, "\n  # x\nEtc/UTC\nUTC\n"));
    let p = run(&[("name", "Europe/Paris".into())], a, true);
    assert!(matches!(&p.steps[0], Step::Write(w) if w.content == b"\n  # x\nEurope/Paris\n"));
    assert_eq!(
        p.result["msg"],
        Value::from("Added 1 line and deleted 2 line(s) on /etc/timezone")
    );
}

#[test]
fn unknown_zones_fail_as_ansible_fails() {
    let mut a = root("Etc/UTC", None);
    a[1] = Answer::File(missing("/usr/share/zoneinfo/Mars/Base"));
    let p = run(&[("name", "Mars/Base".into())], a, true);
    assert_eq!(
        p.failed.as_deref(),
        Some("Error message:\ngiven timezone \"Mars/Base\" is not available")
    );
    let env = crate::modules::testing::env();
    for bad in [
        vec![],
        vec![("name", Value::from("../../etc/passwd"))],
        vec![("hwclock", Value::from("utc"))],
    ] {
        assert!(Timezone.prepare(args("timezone", &bad), &env).is_err());
    }
}

#[test]
fn hwclock_is_skipped_in_a_chroot_and_set_elsewhere() {
    let pairs = [("hwclock", Value::from("local"))];
    let p = run(&pairs, root("Etc/UTC", Some("UTC=yes\n")), true);
    assert_eq!(p.skipped.as_deref(), Some("skipped (chroot)"));
    assert!(p.steps.is_empty());
    let p = run(&pairs, root("Etc/UTC", Some("# x\nUTC=yes\n")), false);
    assert!(
        matches!(&p.steps[0], Step::Write(w) if w.path == "/etc/default/rcS" && w.content == b"# x\nUTC=no\n")
    );
    assert!(
        matches!(&p.steps[1], Step::Run { cmd, .. } if cmd.argv.as_deref().unwrap().join(" ") == "/usr/sbin/hwclock --systohc --localtime")
    );
    assert_eq!(
        p.result["msg"],
        Value::from(
            "Added 1 line and deleted 1 line(s) on /etc/default/rcS\nexecuted `/usr/sbin/hwclock --systohc --localtime`"
        )
    );
    // rcS says local but adjtime (missing: UTC) does not.
    let p = run(&pairs, root("Etc/UTC", Some("UTC=no\n")), false);
    assert_eq!(p.diffs[0].before, "{\n    \"hwclock\": \"UTC\"\n}\n");
}

#[test]
fn timedatectl_decides_where_it_answers() {
    let mut a = root("Etc/UTC", None);
    a[0] = cmd(
        0,
        &format!(
            "timedatectl=/usr/bin/timedatectl\nstatus:               Local time: Mon 2026-12-07 07:00:00 UTC\nstatus:                Time zone: Etc/UTC (UTC, +0000)\nstatus:          RTC in local TZ: no\n{TOOLS}"
        ),
    );
    let p = run(
        &[("name", "Europe/Paris".into()), ("hwclock", "UTC".into())],
        a,
        false,
    );
    assert_eq!(p.steps.len(), 1);
    assert!(
        matches!(&p.steps[0], Step::Run { cmd, .. } if cmd.argv.as_deref().unwrap().join(" ") == "/usr/bin/timedatectl set-timezone Europe/Paris")
    );
    assert_eq!(
        p.result["msg"],
        Value::from("executed `/usr/bin/timedatectl set-timezone Europe/Paris`")
    );
    assert_eq!(
        p.diffs[0].before,
        "{\n    \"hwclock\": \"UTC\",\n    \"name\": \"Etc/UTC\"\n}\n"
    );
    // The chroot connection never asks timedatectl.
    let mut env = crate::modules::testing::env();
    env.chroot_connection = true;
    let mut planner = Timezone
        .prepare(args("timezone", &[("name", "UTC".into())]), &env)
        .unwrap();
    let mut probes = Probes::default();
    planner.ask(&mut probes);
    let list = probes.into_list();
    let crate::modules::Probe::Command(s) = &list[0] else {
        panic!("{list:?}")
    };
    assert!(!s.contains("timedatectl"), "{s}");
}
