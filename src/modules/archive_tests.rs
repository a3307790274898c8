//! Unit tests of `archive`: path arithmetic, plans from fixture listings, and whole plans whose
//! probe and script run for real on this machine against a temporary directory.

use std::path::{Path, PathBuf};

use minijinja::Value;

use super::*;
use crate::host::{Answer, CmdOutput, Probe};
use crate::modules::testing::{args, env, plan_answers_env};

struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "prov-archive-t-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    fn s(&self, rel: &str) -> String {
        self.0.join(rel).to_str().unwrap().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sh(script: &str, cwd: &Path) -> std::process::Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// Prepare, run every probe here, plan; then (unless check mode) run its steps here and
/// return the plan with whether a step reported a change.
fn run_here(pairs: &[(&str, Value)], check: bool) -> (Plan, bool) {
    let e = ModuleEnv {
        check_mode: check,
        ..env()
    };
    let mut planner = Archive
        .prepare(args("archive", pairs), &e)
        .expect("prepare");
    let mut asked = Probes::default();
    planner.ask(&mut asked);
    let answers = asked
        .into_list()
        .into_iter()
        .map(|p| match p {
            Probe::Command(script) => {
                let out = sh(&script, Path::new("/"));
                Answer::Command(CmdOutput {
                    rc: out.status.code().unwrap_or(-1),
                    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                })
            }
            p => panic!("{p:?}"),
        })
        .collect();
    let plan = planner.plan(&Observed { answers }).expect("plan");
    let mut changed = false;
    for step in &plan.steps {
        let Step::Run { cmd, .. } = step else {
            panic!()
        };
        let out = sh(cmd.shell.as_ref().unwrap(), Path::new("/"));
        let rc = out.status.code().unwrap();
        assert!(
            rc == 0 || Some(rc) == cmd.unchanged_rc,
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        changed |= rc == 0;
    }
    (plan, changed)
}

fn strs(v: &Value) -> Vec<String> {
    v.try_iter().unwrap().map(|x| x.to_string()).collect()
}

/// `src/app/{a.txt, sub/b.txt, skip.log}` under a scratch directory.
fn tree() -> Scratch {
    let s = Scratch::new();
    let out = sh(
        "mkdir -p src/app/sub && echo a > src/app/a.txt && echo b > src/app/sub/b.txt && echo l > src/app/skip.log",
        &s.0,
    );
    assert!(out.status.success());
    s
}

#[test]
fn paths_are_reduced_as_ansible_does() {
    assert_eq!(common_path(&["/opt/app".into()]), "/opt/");
    assert_eq!(common_path(&["/a/b/c".into(), "/a/b/d".into()]), "/a/b/");
    assert_eq!(common_path(&["/a/bc/x".into(), "/a/bd/y".into()]), "/a/");
    assert_eq!(common_path(&["/x".into()]), "/");
    assert_eq!(dirname("/a/b/"), "/a/b");
    assert_eq!(dirname("a"), "");
    assert!(is_archive("/x/y.TAR.GZ") && is_archive("a.tgz") && !is_archive("a.gz"));
    assert_eq!(glob_word("/var/log/*.log"), "/var/log/*.log");
    assert_eq!(glob_word("/a b/x?"), "'/a b/x'?");
}

#[test]
fn bad_arguments_and_listings_fail() {
    let err = |pairs: &[(&str, Value)]| match Archive.prepare(args("archive", pairs), &env()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("accepted"),
    };
    assert!(err(&[("path", "/a".into()), ("format", "rar".into())]).contains("must be one of"));
    assert!(err(&[("path", Value::from(Vec::<Value>::new()))]).contains("required"));
    assert!(err(&[("path", "/a\nb".into())]).contains("newline"));
    let plan = |pairs: &[(&str, Value)], listing: &str| {
        plan_answers_env(
            &Archive,
            args("archive", pairs),
            vec![Answer::Command(CmdOutput {
                rc: 0,
                stdout: listing.into(),
                stderr: String::new(),
            })],
            &env(),
        )
    };
    let p = plan(&[("path", "/a/*".into())], "");
    assert_eq!(
        p.failed.as_deref(),
        Some("Error, no source paths were found")
    );
    let p = plan(&[("path", "/a".into())], "P\t/a\nE\td\t/a\n");
    assert!(p.failed.unwrap().contains("must specify \"dest\""));
    let p = plan(
        &[
            ("path", "/a".into()),
            ("dest", "/a/x.tgz".into()),
            ("remove", true.into()),
        ],
        "P\t/a\nE\td\t/a\n",
    );
    assert!(p.failed.unwrap().contains("can not be contained"));
    let p = plan(
        &[("path", "/a".into()), ("dest", "/x.tgz".into())],
        "garbage\n",
    );
    assert!(p.failed.unwrap().contains("unexpected line"));
    // Excluded paths leave nothing: the same error, with the expansions.
    let p = plan(
        &[
            ("path", "/a".into()),
            ("exclude_path", "/a".into()),
            ("dest", "/x".into()),
        ],
        "P\t/a\nE\tf\t/a\nX\t/a\n",
    );
    assert_eq!(
        p.failed.as_deref(),
        Some("Error, no source paths were found")
    );
    assert_eq!(p.result["expanded_exclude_paths"].as_str(), Some("/a"));
}

#[test]
fn a_tree_is_archived_once_then_left_alone() {
    for format in ["gz", "tar", "bz2", "xz", "zip"] {
        let s = tree();
        let dest = s.s(&format!("out.{format}"));
        let pairs: Vec<(&str, Value)> = vec![
            ("path", s.s("src/app").into()),
            ("dest", dest.clone().into()),
            ("format", format.into()),
            ("exclusion_patterns", "*.log".into()),
        ];
        let (check, _) = run_here(&pairs, true);
        assert!(check.changed && check.steps.is_empty(), "{format}");
        assert_eq!(check.result["dest_state"].as_str(), Some("absent"));
        let (plan, changed) = run_here(&pairs, false);
        assert!(changed, "{format}");
        assert_eq!(plan.result["dest_state"].as_str(), Some("archive"));
        assert_eq!(plan.result["arcroot"].to_string(), s.s("src/"));
        let mut archived = strs(&plan.result["archived"]);
        archived.sort();
        assert_eq!(
            archived,
            [
                s.s("src/app/a.txt"),
                s.s("src/app/sub"),
                s.s("src/app/sub/b.txt")
            ],
            "{format}"
        );
        let listing = if format == "zip" {
            sh(&format!("unzip -Z1 {dest} | sort"), &s.0)
        } else {
            sh(&format!("tar -tf {dest} | sort"), &s.0)
        };
        assert_eq!(
            String::from_utf8_lossy(&listing.stdout),
            "app/a.txt\napp/sub/\napp/sub/b.txt\n",
            "{format}"
        );
        // Again: the same content, no change (and no temporary directory left).
        let (_, changed) = run_here(&pairs, false);
        assert!(!changed, "{format}");
        let left = sh("ls -A | grep -c prov-archive", &s.0);
        assert_eq!(String::from_utf8_lossy(&left.stdout).trim(), "0");
        // New content is a change.
        std::fs::write(s.0.join("src/app/a.txt"), "A!\n").unwrap();
        let (_, changed) = run_here(&pairs, false);
        assert!(changed, "{format}");
    }
}

#[test]
fn a_touched_file_changes_a_tar_but_not_a_zip() {
    for (format, expect) in [("tar", true), ("zip", false)] {
        let s = tree();
        let pairs: Vec<(&str, Value)> = vec![
            ("path", s.s("src/app/*.txt").into()),
            ("dest", s.s("x").into()),
            ("format", format.into()),
        ];
        assert!(run_here(&pairs, false).1);
        sh("touch -d '2001-01-01' src/app/a.txt", &s.0);
        assert_eq!(run_here(&pairs, false).1, expect, "{format}");
    }
}

#[test]
fn a_single_file_is_compressed_next_to_itself_and_removed() {
    let s = tree();
    let pairs: Vec<(&str, Value)> = vec![
        ("path", s.s("src/app/a.txt").into()),
        ("remove", true.into()),
        ("mode", "0600".into()),
    ];
    let (check, _) = run_here(&pairs, true);
    assert!(check.changed);
    let (plan, changed) = run_here(&pairs, false);
    assert!(changed);
    assert_eq!(plan.result["dest"].to_string(), s.s("src/app/a.txt.gz"));
    assert_eq!(plan.result["dest_state"].as_str(), Some("compress"));
    assert!(!s.0.join("src/app/a.txt").exists());
    let out = sh("gzip -dc src/app/a.txt.gz", &s.0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\n");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(s.0.join("src/app/a.txt.gz"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // The source is gone: nothing to do, the archive is reported as it is.
    let (plan, changed) = run_here(&pairs, false);
    assert!(!changed);
    assert_eq!(strs(&plan.result["missing"]), [s.s("src/app/a.txt")]);
    assert_eq!(plan.result["dest_state"].as_str(), Some("compress"));
    // Check mode with dest present: no change.
    std::fs::write(s.0.join("src/app/a.txt"), "a\n").unwrap();
    let (check, _) = run_here(&pairs, true);
    assert!(!check.changed);
}

#[test]
fn a_tree_is_removed_after_archiving() {
    let s = tree();
    let pairs: Vec<(&str, Value)> = vec![
        (
            "path",
            vec![Value::from(s.s("src/app")), Value::from(s.s("src/none"))].into(),
        ),
        ("dest", s.s("out.tgz").into()),
        ("remove", true.into()),
    ];
    let (plan, changed) = run_here(&pairs, false);
    assert!(changed);
    assert_eq!(plan.result["dest_state"].as_str(), Some("incomplete"));
    assert_eq!(strs(&plan.result["missing"]), [s.s("src/none")]);
    assert!(!s.0.join("src/app").exists());
    let out = sh("tar -tzf out.tgz | sort", &s.0);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "app/a.txt\napp/skip.log\napp/sub/\napp/sub/b.txt\n"
    );
}
