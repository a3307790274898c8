//! Unit tests of `unarchive`: plans from fixture states, and the unpack script run for real
//! with this machine's GNU tar against a temporary directory.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use minijinja::Value;

use super::*;
use crate::host::Answer;
use crate::modules::testing::{args, cmd, dir, env, file, missing, plan_answers_env};

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "prov-unarchive-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sh(script: &str, cwd: &Path) {
    let st = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(cwd)
        .status()
        .unwrap();
    assert!(st.success(), "{script}");
}

/// A project dir with `files/app.tar.gz` holding `app/bin/run` (0755) and `app/README`.
fn project() -> Scratch {
    let s = Scratch::new("proj");
    sh(
        "mkdir -p src/app/bin files && printf '#!/bin/sh\\n' > src/app/bin/run && chmod 755 src/app/bin/run \
         && printf 'hello\\n' > src/app/README && tar --sort=name -czf files/app.tar.gz -C src app",
        &s.0,
    );
    s
}

fn env_in(dir: &Path, check: bool) -> ModuleEnv {
    ModuleEnv {
        playbook_dir: dir.to_path_buf(),
        check_mode: check,
        ..env()
    }
}

fn a(pairs: &[(&str, Value)]) -> Args {
    args("unarchive", pairs)
}

/// Run a plan's script here, its temporary files in a private TMPDIR that must end empty.
fn run_script(plan: &Plan) -> i32 {
    let Step::Run { cmd, .. } = &plan.steps[0] else {
        panic!("{:?}", plan.steps)
    };
    let tmp = Scratch::new("tmpdir");
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd.shell.as_ref().unwrap())
        .env("TMPDIR", &tmp.0)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, cmd.stdin.as_deref().unwrap_or_default()).unwrap();
    drop(stdin);
    let rc = child.wait().unwrap().code().unwrap();
    assert_eq!(
        std::fs::read_dir(&tmp.0).unwrap().count(),
        0,
        "temporary files left"
    );
    rc
}

#[test]
fn formats_are_told_by_their_first_bytes() {
    assert_eq!(Format::from_bytes(&[0x1f, 0x8b, 8]), Format::Gz);
    assert_eq!(Format::from_bytes(b"BZh91AY"), Format::Bz2);
    assert_eq!(
        Format::from_bytes(&[0xfd, b'7', b'z', b'X', b'Z', 0]),
        Format::Xz
    );
    assert_eq!(Format::from_bytes(&[0x28, 0xb5, 0x2f, 0xfd]), Format::Zstd);
    assert_eq!(Format::from_bytes(b"PK\x03\x04rest"), Format::Zip);
    assert_eq!(Format::from_bytes(b"app/\0\0\0"), Format::Tar);
    assert_eq!(Format::Xz.tar_flag(), "-J");
    assert_eq!(Format::Tar.handler(), "TarArchive");
    assert_eq!(Format::Gz.handler(), "TgzArchive");
}

#[test]
fn members_drop_a_leading_slash_and_refuse_dot_dot() {
    assert_eq!(members("/etc/x\na/\n").unwrap(), vec!["etc/x", "a/"]);
    assert!(members("a/../../etc/passwd\n").is_err());
    assert!(members("..\n").is_err());
    assert_eq!(members("a..b/c\n").unwrap(), vec!["a..b/c"]);
}

#[test]
fn creates_skips_before_anything_else() {
    let p = project();
    let e = env_in(&p.0, false);
    let plan = plan_answers_env(
        &Unarchive,
        a(&[
            ("src", "app.tar.gz".into()),
            ("dest", "/opt".into()),
            ("creates", "/opt/app".into()),
        ]),
        vec![Answer::File(dir("/opt/app", 0o755))],
        &e,
    );
    assert_eq!(
        plan.skipped.as_deref(),
        Some("skipped, since /opt/app exists")
    );
    assert!(plan.steps.is_empty());
}

#[test]
fn dest_must_be_an_existing_directory() {
    let p = project();
    let e = env_in(&p.0, false);
    let plan = plan_answers_env(
        &Unarchive,
        a(&[("src", "app.tar.gz".into()), ("dest", "/opt/x".into())]),
        vec![Answer::File(missing("/opt/x"))],
        &e,
    );
    assert_eq!(
        plan.failed.as_deref(),
        Some("dest '/opt/x' must be an existing dir")
    );
    let plan = plan_answers_env(
        &Unarchive,
        a(&[("src", "app.tar.gz".into()), ("dest", "/opt/x".into())]),
        vec![Answer::File(file("/opt/x", 0o644, ""))],
        &e,
    );
    assert!(plan.failed.is_some());
}

#[test]
fn check_mode_skips_tar_archives_as_ansible_does() {
    let p = project();
    let e = env_in(&p.0, true);
    let plan = plan_answers_env(
        &Unarchive,
        a(&[("src", "app.tar.gz".into()), ("dest", "/opt".into())]),
        vec![Answer::File(dir("/opt", 0o755))],
        &e,
    );
    assert_eq!(plan.skipped.as_deref(), Some(CHECK_MODE_SKIP));
    assert!(plan.steps.is_empty());
}

#[test]
fn a_controller_archive_is_listed_and_sent_on_stdin() {
    let p = project();
    let e = env_in(&p.0, false);
    let plan = plan_answers_env(
        &Unarchive,
        a(&[
            ("src", "app.tar.gz".into()),
            ("dest", "/opt/".into()),
            ("list_files", true.into()),
        ]),
        vec![Answer::File(dir("/opt", 0o755))],
        &e,
    );
    assert_eq!(plan.failed, None);
    assert!(plan.changed);
    assert_eq!(plan.result["handler"].as_str(), Some("TgzArchive"));
    assert_eq!(plan.result["dest"].as_str(), Some("/opt"));
    let mut files: Vec<String> = plan.result["files"]
        .try_iter()
        .unwrap()
        .map(|v| v.to_string())
        .collect();
    files.sort();
    assert_eq!(files, ["app/", "app/README", "app/bin/", "app/bin/run"]);
    let Step::Run { cmd, ok_rcs } = &plan.steps[0] else {
        panic!()
    };
    assert_eq!(ok_rcs, &[0]);
    assert_eq!(cmd.unchanged_rc, Some(UNCHANGED_RC));
    let data = std::fs::read(p.0.join("files/app.tar.gz")).unwrap();
    assert_eq!(cmd.stdin.as_deref(), Some(&data[..]));
    let script = cmd.shell.as_deref().unwrap();
    assert!(script.contains("tar --extract -C \"$dest\" -z"), "{script}");
    assert!(script.contains("rm -f -- \"$tmp\""), "{script}");
}

#[test]
fn option_errors_are_reported() {
    let p = project();
    let e = env_in(&p.0, false);
    let err = |pairs: &[(&str, Value)]| match Unarchive.prepare(a(pairs), &e) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("accepted {pairs:?}"),
    };
    assert!(
        err(&[
            ("src", "app.tar.gz".into()),
            ("dest", "/o".into()),
            ("copy", false.into()),
            ("remote_src", true.into()),
        ])
        .contains("mutually exclusive")
    );
    assert!(
        err(&[
            ("src", "app.tar.gz".into()),
            ("dest", "/o".into()),
            ("include", "a".into()),
            ("exclude", "b".into()),
        ])
        .contains("mutually exclusive")
    );
    assert!(err(&[("src", "https://x/a.tgz".into()), ("dest", "/o".into())]).contains("URI src"));
    assert!(
        err(&[("src", "nothere.tgz".into()), ("dest", "/o".into())]).contains("could not find")
    );
    assert!(err(&[("dest", "/o".into())]).contains("required"));
    assert!(
        err(&[
            ("src", "app.tar.gz".into()),
            ("dest", "/o".into()),
            ("attributes", "+i".into()),
        ])
        .contains("not supported")
    );
}

#[test]
fn an_empty_or_zip_archive_fails_clearly() {
    let p = project();
    std::fs::write(p.0.join("files/empty.tgz"), b"").unwrap();
    std::fs::write(p.0.join("files/a.zip"), b"PK\x03\x04rest").unwrap();
    let e = env_in(&p.0, false);
    let plan = plan_answers_env(
        &Unarchive,
        a(&[("src", "empty.tgz".into()), ("dest", "/opt".into())]),
        vec![Answer::File(dir("/opt", 0o755))],
        &e,
    );
    assert!(plan.failed.unwrap().contains("the file is 0 bytes"));
    let plan = plan_answers_env(
        &Unarchive,
        a(&[("src", "a.zip".into()), ("dest", "/opt".into())]),
        vec![Answer::File(dir("/opt", 0o755))],
        &e,
    );
    assert!(plan.failed.unwrap().contains("could not handle archive"));
}

#[test]
fn a_host_archive_is_decided_from_its_probe() {
    let e = env();
    let args = || {
        a(&[
            ("src", "/tmp/a.tar.xz".into()),
            ("dest", "/opt".into()),
            ("remote_src", true.into()),
            ("list_files", true.into()),
        ])
    };
    let mut tarball = file("/tmp/a.tar.xz", 0o644, "x");
    tarball.size = 100;
    let answers = |listing: crate::host::Answer| {
        vec![
            Answer::File(dir("/opt", 0o755)),
            Answer::File(tarball.clone()),
            listing,
        ]
    };
    let plan = plan_answers_env(
        &Unarchive,
        args(),
        answers(cmd(0, "fd377a585a00\nd/\nd/f\n")),
        &e,
    );
    assert_eq!(plan.failed, None);
    assert_eq!(plan.result["handler"].as_str(), Some("TarXzArchive"));
    assert_eq!(plan.result["files"].len(), Some(2));
    let Step::Run { cmd: c, .. } = &plan.steps[0] else {
        panic!()
    };
    assert_eq!(c.stdin, None);
    assert!(c.shell.as_deref().unwrap().contains("src=/tmp/a.tar.xz"));

    let plan = plan_answers_env(&Unarchive, args(), answers(cmd(0, "1f8b08\n../evil\n")), &e);
    assert!(plan.failed.unwrap().contains("leaves the destination"));
    let plan = plan_answers_env(&Unarchive, args(), answers(cmd(2, "0000\n")), &e);
    assert!(plan.failed.unwrap().contains("Failed to find handler"));
    let plan = plan_answers_env(&Unarchive, args(), answers(cmd(0, "0000\n")), &e);
    assert!(plan.failed.unwrap().contains("Empty archive"));
    let plan = plan_answers_env(
        &Unarchive,
        args(),
        vec![
            Answer::File(dir("/opt", 0o755)),
            Answer::File(missing("/tmp/a.tar.xz")),
        ],
        &e,
    );
    assert_eq!(
        plan.failed.as_deref(),
        Some("Source '/tmp/a.tar.xz' does not exist")
    );
}

#[test]
fn the_host_probe_lists_a_real_archive() {
    let p = project();
    let src = p.0.join("files/app.tar.gz");
    let spec = Spec {
        exclude: vec!["app/README".into()],
        ..Default::default()
    };
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(remote_probe(&spec, src.to_str().unwrap(), false))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text, "1f8b08000000\napp/\napp/bin/\napp/bin/run\n",
        "{text}"
    );
}

#[test]
fn the_script_unpacks_once_then_reports_no_change() {
    let p = project();
    let dest = Scratch::new("dest");
    let e = env_in(&p.0, false);
    let d = dest.0.to_str().unwrap();
    let plan_it = |extra: &[(&str, Value)]| {
        let mut pairs = vec![("src", "app.tar.gz".into()), ("dest", d.into())];
        pairs.extend(extra.iter().cloned());
        plan_answers_env(&Unarchive, a(&pairs), vec![Answer::File(dir(d, 0o755))], &e)
    };
    let plan = plan_it(&[]);
    assert_eq!(run_script(&plan), 0);
    assert_eq!(
        std::fs::read_to_string(dest.0.join("app/README")).unwrap(),
        "hello\n"
    );
    assert_eq!(run_script(&plan), UNCHANGED_RC);
    // A changed member is put back.
    std::fs::write(dest.0.join("app/README"), "HELLO\n").unwrap();
    assert_eq!(run_script(&plan), 0);
    assert_eq!(
        std::fs::read_to_string(dest.0.join("app/README")).unwrap(),
        "hello\n"
    );
    // A missing member too.
    std::fs::remove_file(dest.0.join("app/bin/run")).unwrap();
    assert_eq!(run_script(&plan), 0);
    assert!(dest.0.join("app/bin/run").exists());
    // mode is applied to every member (a change once), and a mode differing from the
    // archive's is then no reason to unpack again.
    let plan = plan_it(&[("mode", "u=rwX,go=rX".into())]);
    std::fs::write(dest.0.join("app/README"), "hello\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dest.0.join("app/README"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    assert_eq!(run_script(&plan), 0);
    let mode = |rel: &str| {
        std::fs::metadata(dest.0.join(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("app/README"), 0o644);
    assert_eq!(mode("app/bin/run"), 0o755);
    assert_eq!(run_script(&plan), UNCHANGED_RC);
}

#[test]
fn a_failing_unpack_fails_and_cleans_up() {
    let p = project();
    std::fs::write(p.0.join("files/bad.tgz"), b"\x1f\x8b\x08garbage").unwrap();
    let dest = Scratch::new("bad");
    let tmpdir = Scratch::new("tmp");
    let e = env_in(&p.0, false);
    let d = dest.0.to_str().unwrap();
    // The controller cannot list it: the plan fails without a step.
    let plan = plan_answers_env(
        &Unarchive,
        a(&[("src", "bad.tgz".into()), ("dest", d.into())]),
        vec![Answer::File(dir(d, 0o755))],
        &e,
    );
    assert!(plan.failed.unwrap().contains("Unable to list files"));
    // The script itself, fed a broken archive, fails and removes its temporary file.
    let spec = Spec {
        dest: d.into(),
        ..Default::default()
    };
    let script = format!(
        "TMPDIR={}; export TMPDIR\n{}",
        tmpdir.0.display(),
        unpack_script(&spec, Format::Gz, None)
    );
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"\x1f\x8b\x08garbage").unwrap();
    drop(stdin);
    assert_eq!(child.wait().unwrap().code(), Some(1));
    assert_eq!(std::fs::read_dir(&tmpdir.0).unwrap().count(), 0);
}

#[test]
fn every_tar_compression_unpacks_from_the_controller_and_the_host() {
    let p = project();
    sh(
        "mkdir -p s/d && printf 'x\\n' > s/d/f && for z in 'tar:' 'tar.bz2:-j' 'tar.xz:-J' 'tar.zst:--zstd'; do \
         tar ${z#*:} -cf files/a.${z%%:*} -C s d; done",
        &p.0,
    );
    let e = env_in(&p.0, false);
    for (ext, handler) in [
        ("tar", "TarArchive"),
        ("tar.bz2", "TarBzipArchive"),
        ("tar.xz", "TarXzArchive"),
        ("tar.zst", "TarZstdArchive"),
    ] {
        let dest = Scratch::new("fmt");
        let d = dest.0.to_str().unwrap();
        let plan = plan_answers_env(
            &Unarchive,
            a(&[("src", format!("a.{ext}").into()), ("dest", d.into())]),
            vec![Answer::File(dir(d, 0o755))],
            &e,
        );
        assert_eq!(plan.failed, None, "{ext}");
        assert_eq!(plan.result["handler"].as_str(), Some(handler));
        assert_eq!(run_script(&plan), 0, "{ext}");
        assert_eq!(std::fs::read_to_string(dest.0.join("d/f")).unwrap(), "x\n");
        assert_eq!(run_script(&plan), UNCHANGED_RC, "{ext}");
        // The same archive already on the host.
        let src = p.0.join(format!("files/a.{ext}"));
        let spec = Spec {
            dest: d.into(),
            ..Default::default()
        };
        let format = Format::from_bytes(&std::fs::read(&src).unwrap());
        let script = unpack_script(&spec, format, Some(src.to_str().unwrap()));
        std::fs::remove_file(dest.0.join("d/f")).unwrap();
        let st = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .status()
            .unwrap();
        assert_eq!(st.code(), Some(0), "{ext}");
        assert!(dest.0.join("d/f").exists());
    }
}
