//! `find`'s unit tests: listings of a host in, os.walk's results out.

use super::*;
use crate::modules::Answer;
use crate::modules::testing::{args, plan_answers};

/// A listing record: kind, kind through links, mode, size, mtime, path (depth from slashes).
fn rec(kind: char, through: char, mode: &str, size: u64, mtime: u64, path: &str) -> String {
    format!(
        "@@{kind}|{through}|{mode}|0|1001|root|1001|{size}|7|40|1|{mtime}.5000000000|{mtime}.2500000000|{mtime}.0|{}\t{path}\n",
        path.matches('/').count() - 1
    )
}

/// The tree /t: files a.conf (old), .h.conf, b.txt (big), a link to sub, sub/ with c.conf and
/// .hid/d.conf, in this (directory) order as find lists it.
fn tree() -> String {
    [
        "@@now 1000000.0\n@@dir\n".to_string(),
        rec('f', 'f', "644", 10, 1000, "/t/a.conf"),
        rec('f', 'f', "600", 0, 999_000, "/t/.h.conf"),
        rec('l', 'd', "777", 3, 999_000, "/t/lnk"),
        rec('d', 'd', "755", 4096, 999_000, "/t/sub"),
        rec('f', 'f', "644", 0, 999_000, "/t/sub/c.conf"),
        rec('d', 'd', "700", 4096, 999_000, "/t/sub/.hid"),
        rec('f', 'f', "644", 0, 999_000, "/t/sub/.hid/d.conf"),
        rec('f', 'f', "4755", 5_000_000, 999_000, "/t/b.txt"),
    ]
    .concat()
}

fn run(pairs: &[(&str, Value)], listing: &str) -> Plan {
    plan_answers(
        &Find,
        args("find", pairs),
        vec![Answer::Command(crate::host::CmdOutput {
            rc: 0,
            stdout: listing.into(),
            stderr: String::new(),
        })],
    )
}

fn paths(p: &Plan) -> Vec<String> {
    p.result["files"]
        .try_iter()
        .unwrap()
        .map(|f| f.get_attr("path").unwrap().to_string())
        .collect()
}

#[test]
fn walks_as_os_walk_does() {
    let p = run(&[("paths", "/t".into())], &tree());
    assert!(!p.changed);
    assert_eq!(paths(&p), ["/t/a.conf", "/t/b.txt"]);
    // Only the top directory was walked: 5 entries.
    assert_eq!(p.result["examined"], Value::from(5));
    assert_eq!(p.result["matched"], Value::from(2));
    assert_eq!(p.result["msg"], Value::from("All paths examined"));

    let p = run(
        &[
            ("paths", "/t/".into()),
            ("recurse", true.into()),
            ("file_type", "any".into()),
        ],
        &tree(),
    );
    // Top: its files, then its directories (a link to a directory is one of os.walk's dirs,
    // not walked), then sub's walk; hidden entries are skipped but their directories walked.
    assert_eq!(
        paths(&p),
        [
            "/t/a.conf",
            "/t/b.txt",
            "/t/lnk",
            "/t/sub",
            "/t/sub/c.conf",
            "/t/sub/.hid/d.conf"
        ]
    );
    assert_eq!(p.result["examined"], Value::from(8));

    let p = run(
        &[
            ("paths", "/t".into()),
            ("recurse", true.into()),
            ("hidden", true.into()),
        ],
        &tree(),
    );
    assert_eq!(
        paths(&p),
        [
            "/t/a.conf",
            "/t/.h.conf",
            "/t/b.txt",
            "/t/sub/c.conf",
            "/t/sub/.hid/d.conf"
        ]
    );
    let p = run(
        &[
            ("paths", "/t".into()),
            ("recurse", true.into()),
            ("hidden", true.into()),
            ("depth", 2.into()),
        ],
        &tree(),
    );
    assert_eq!(
        paths(&p),
        ["/t/a.conf", "/t/.h.conf", "/t/b.txt", "/t/sub/c.conf"]
    );
    // .hid was walked (its entry counted) though beyond the depth.
    assert_eq!(p.result["examined"], Value::from(8));
}

#[test]
fn filters_as_ansible_does() {
    let one = |pairs: &[(&str, Value)]| {
        let mut all = vec![("paths", Value::from("/t")), ("recurse", true.into())];
        all.extend_from_slice(pairs);
        paths(&run(&all, &tree()))
    };
    assert_eq!(
        one(&[("patterns", "*.conf".into())]),
        ["/t/a.conf", "/t/sub/c.conf", "/t/sub/.hid/d.conf"]
    );
    assert_eq!(
        one(&[
            ("patterns", "*.conf,*.txt".into()),
            ("excludes", "a*".into())
        ]),
        ["/t/b.txt", "/t/sub/c.conf", "/t/sub/.hid/d.conf"]
    );
    // re.match: anchored at the start, not at the end.
    assert_eq!(
        one(&[("patterns", "[ab]\\.".into()), ("use_regex", true.into())]),
        ["/t/a.conf", "/t/b.txt"]
    );
    assert_eq!(one(&[("size", "1m".into())]), ["/t/b.txt"]);
    assert_eq!(
        one(&[("size", "-5".into())]),
        ["/t/sub/c.conf", "/t/sub/.hid/d.conf"]
    );
    // now 1000000: a.conf is 999000 seconds old.
    assert_eq!(one(&[("age", "1w".into())]), ["/t/a.conf"]);
    assert_eq!(
        one(&[("age", "-1d".into())]),
        ["/t/b.txt", "/t/sub/c.conf", "/t/sub/.hid/d.conf"]
    );
    assert_eq!(one(&[("mode", "4755".into())]), ["/t/b.txt"]);
    assert_eq!(
        one(&[("mode", "u+s".into()), ("exact_mode", false.into())]),
        ["/t/b.txt"]
    );
    assert_eq!(one(&[("file_type", "directory".into())]), ["/t/sub"]);
    assert_eq!(one(&[("file_type", "link".into())]), ["/t/lnk"]);
    let p = run(
        &[
            ("paths", "/t".into()),
            ("recurse", true.into()),
            ("limit", 1.into()),
        ],
        &tree(),
    );
    assert_eq!(paths(&p), ["/t/a.conf"]);
    assert_eq!(p.result["msg"], Value::from("Limit of matches reached"));
}

#[test]
fn entries_carry_ansibles_stat_keys() {
    let p = run(
        &[("paths", "/t".into()), ("patterns", "b.txt".into())],
        &tree(),
    );
    let f = p.result["files"].get_item(&Value::from(0)).unwrap();
    assert_eq!(f.get_attr("mode").unwrap(), Value::from("4755"));
    assert_eq!(f.get_attr("isuid").unwrap(), Value::from(true));
    assert_eq!(f.get_attr("xoth").unwrap(), Value::from(true));
    assert_eq!(f.get_attr("woth").unwrap(), Value::from(false));
    assert_eq!(f.get_attr("gid").unwrap(), Value::from(1001));
    // An unknown group has no name.
    assert_eq!(f.get_attr("gr_name").unwrap(), Value::from(""));
    assert_eq!(f.get_attr("pw_name").unwrap(), Value::from("root"));
    assert_eq!(f.get_attr("mtime").unwrap(), Value::from(999_000.25));
    assert_eq!(f.get_attr("size").unwrap(), Value::from(5_000_000));
}

#[test]
fn paths_that_are_not_directories_are_skipped_with_a_warning() {
    let out = format!("{}@@notdir\n", tree());
    let p = run(&[("paths", Value::from(vec!["/t", "/etc/passwd"]))], &out);
    assert_eq!(paths(&p).len(), 2);
    assert_eq!(
        p.result["skipped_paths"].get_attr("/etc/passwd").unwrap(),
        Value::from("'/etc/passwd' is not a directory")
    );
    assert_eq!(
        p.result["msg"],
        Value::from("Not all paths examined, check warnings for details")
    );
}

#[test]
fn hostile_input_is_an_error() {
    let env = crate::modules::testing::env();
    for bad in [
        vec![("paths", Value::from("relative"))],
        vec![("paths", Value::from("/t")), ("age", "1y".into())],
        vec![
            ("paths", Value::from("/t")),
            ("size", "99999999999999999999".into()),
        ],
        vec![("paths", Value::from("/t")), ("size", "9999999999t".into())],
        vec![("paths", Value::from("/t")), ("limit", 0.into())],
        vec![("paths", Value::from("/t")), ("mode", 644.into())],
        vec![
            ("paths", Value::from("/t")),
            ("use_regex", true.into()),
            ("patterns", "(".into()),
        ],
        vec![("paths", Value::from("/t")), ("contains", "x".into())],
        vec![("paths", Value::from("/t")), ("follow", true.into())],
    ] {
        assert!(Find.prepare(args("find", &bad), &env).is_err(), "{bad:?}");
    }
    // A garbled listing is an error, never a panic.
    for out in [
        "",
        "@@dir\n",
        "@@now 1\n@@dir\n@@f|x\t/t/a\n",
        "@@now 1\n@@dir\n@@f|f|644|0|0|r|r|0|1|1|1|1|1|1|1\t/elsewhere\n",
    ] {
        let mut planner = Find
            .prepare(args("find", &[("paths", "/t".into())]), &env)
            .unwrap();
        let mut probes = Probes::default();
        planner.ask(&mut probes);
        let obs = Observed {
            answers: vec![Answer::Command(crate::host::CmdOutput {
                rc: 0,
                stdout: out.into(),
                stderr: String::new(),
            })],
        };
        assert!(planner.plan(&obs).is_err(), "{out:?}");
    }
}

#[test]
fn the_probe_lists_with_find() {
    let a = args(
        "find",
        &[
            ("paths", "/a b".into()),
            ("recurse", true.into()),
            ("depth", 2.into()),
        ],
    );
    let probes = crate::modules::testing::probes_of(&Find, a);
    let crate::modules::Probe::Command(script) = &probes[0] else {
        panic!("{probes:?}")
    };
    assert!(script.contains("p='/a b'"), "{script}");
    assert!(
        script.contains("-mindepth 1 -maxdepth 3 -printf"),
        "{script}"
    );
}
