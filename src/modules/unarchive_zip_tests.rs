//! Unit tests of zip `unarchive`: the comparison from fixture listings, and whole plans whose
//! probes and steps run for real on this machine (its `unzip`) against a temporary directory.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use minijinja::Value;

use super::super::Unarchive;
use super::*;
use crate::host::{Answer, CmdOutput, FileKind, FileState, Probe, Probes};
use crate::modules::testing::{args, env};
use crate::modules::{Module, ModuleEnv, Observed, Plan, Step};

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "prov-unzip-t-{tag}-{}-{}",
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

/// A project with `files/app.zip`: `app/` (0755), `app/run` (0750), `app/doc.txt` (0640).
fn project() -> Scratch {
    let s = Scratch::new("proj");
    sh(
        "mkdir -p t/app files && printf 'run\\n' > t/app/run && chmod 750 t/app/run \
         && printf 'doc\\n' > t/app/doc.txt && chmod 640 t/app/doc.txt \
         && (cd t && zip -qr ../files/app.zip app) && rm -rf t",
        &s.0,
    );
    s
}

/// Prepare, answer every probe on this machine, plan.
fn plan_here(pairs: &[(&str, Value)], e: &ModuleEnv) -> Plan {
    let mut planner = Unarchive
        .prepare(args("unarchive", pairs), e)
        .expect("prepare");
    let mut asked = Probes::default();
    planner.ask(&mut asked);
    let answers = asked
        .into_list()
        .into_iter()
        .map(|p| match p {
            Probe::File(f) => Answer::File(match std::fs::metadata(&f.path) {
                Ok(m) => FileState {
                    path: f.path.clone(),
                    exists: true,
                    kind: Some(if m.is_dir() {
                        FileKind::Directory
                    } else {
                        FileKind::File
                    }),
                    size: m.len(),
                    ..Default::default()
                },
                Err(_) => FileState::missing(&f.path),
            }),
            Probe::Command(script) => {
                let out = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(&script)
                    .output()
                    .unwrap();
                Answer::Command(CmdOutput {
                    rc: out.status.code().unwrap_or(-1),
                    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                })
            }
            p => panic!("unexpected probe {p:?}"),
        })
        .collect();
    planner.plan(&Observed { answers }).expect("plan")
}

fn run_steps(plan: &Plan) {
    for step in &plan.steps {
        let Step::Run { cmd, .. } = step else {
            panic!("{step:?}")
        };
        let tmp = Scratch::new("tmp");
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd.shell.as_ref().unwrap())
            .env("TMPDIR", &tmp.0)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        std::io::Write::write_all(&mut stdin, cmd.stdin.as_deref().unwrap_or_default()).unwrap();
        drop(stdin);
        assert!(child.wait().unwrap().success());
        assert_eq!(std::fs::read_dir(&tmp.0).unwrap().count(), 0);
    }
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn a_controller_zip_is_unpacked_once_predicted_in_check_mode() {
    let p = project();
    let dest = Scratch::new("dest");
    let d = dest.0.to_str().unwrap();
    let pairs: Vec<(&str, Value)> = vec![
        ("src", "app.zip".into()),
        ("dest", d.into()),
        ("list_files", true.into()),
    ];
    let check = ModuleEnv {
        playbook_dir: p.0.clone(),
        check_mode: true,
        ..env()
    };
    let plan = plan_here(&pairs, &check);
    assert_eq!(plan.failed, None);
    assert!(plan.changed && plan.steps.is_empty());
    assert_eq!(plan.result["handler"].as_str(), Some("ZipArchive"));
    assert_eq!(plan.result["files"].len(), Some(3));
    let diff = &plan.diffs[0].after;
    assert!(diff.contains(">d++++++.?? app/\n"), "{diff}");
    assert!(diff.contains(">f++++++.?? app/run\n"), "{diff}");

    let real = ModuleEnv {
        check_mode: false,
        ..check
    };
    let plan = plan_here(&pairs, &real);
    assert_eq!(plan.steps.len(), 1);
    run_steps(&plan);
    assert_eq!(
        std::fs::read_to_string(dest.0.join("app/doc.txt")).unwrap(),
        "doc\n"
    );
    assert_eq!(mode(&dest.0.join("app/run")), 0o750);
    // Unpacked: nothing to do, in check mode or not.
    let again = plan_here(&pairs, &real);
    assert!(!again.changed, "{:?}", again.diffs);
    assert!(again.steps.is_empty());
    // Content changed with the same size and time: the CRC tells.
    let doc = dest.0.join("app/doc.txt");
    let mtime = std::fs::metadata(&doc).unwrap().modified().unwrap();
    std::fs::write(&doc, "DOC\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&doc)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let plan = plan_here(&pairs, &real);
    assert!(plan.changed);
    assert_eq!(plan.diffs[0].after, ".fc......?? app/doc.txt\n");
    run_steps(&plan);
    assert_eq!(std::fs::read_to_string(&doc).unwrap(), "doc\n");
    // A mode asked for is compared instead of the archive's, and applied.
    let mut with_mode = pairs.clone();
    with_mode.push(("mode", "u=rwX,g=rX,o=".into()));
    let plan = plan_here(&with_mode, &real);
    assert!(plan.changed);
    // u=rwX,g=rX,o= is 0750 on the executable (as archived) and 0640 on the rest (as archived)
    // but 0750 on the directory, archived 0755.
    assert_eq!(
        plan.diffs[0].after, ".d...p...?? app/\n",
        "{}",
        plan.diffs[0].after
    );
    run_steps(&plan);
    assert_eq!(mode(&dest.0.join("app")), 0o750);
    assert_eq!(mode(&dest.0.join("app/run")), 0o750);
    assert_eq!(mode(&dest.0.join("app/doc.txt")), 0o640);
    assert!(!plan_here(&with_mode, &real).changed);
}

#[test]
fn a_host_zip_is_probed_there_with_excludes() {
    let p = project();
    let dest = Scratch::new("dest");
    let d = dest.0.to_str().unwrap();
    let src = p.0.join("files/app.zip");
    let pairs: Vec<(&str, Value)> = vec![
        ("src", src.to_str().unwrap().into()),
        ("dest", d.into()),
        ("remote_src", true.into()),
        ("exclude", "app/doc.txt".into()),
        ("list_files", true.into()),
    ];
    let plan = plan_here(&pairs, &env());
    assert_eq!(plan.failed, None);
    let files: Vec<String> = plan.result["files"]
        .try_iter()
        .unwrap()
        .map(|v| v.to_string())
        .collect();
    assert_eq!(files, ["app/", "app/run"]);
    run_steps(&plan);
    assert!(dest.0.join("app/run").exists());
    assert!(!dest.0.join("app/doc.txt").exists());
    assert!(!plan_here(&pairs, &env()).changed);
}

#[test]
fn a_hostile_or_broken_zip_is_refused() {
    let p = project();
    let dest = Scratch::new("dest");
    let d = dest.0.to_str().unwrap();
    sh(
        "python3 -c 'import zipfile\nz=zipfile.ZipFile(\"files/evil.zip\",\"w\")\nz.writestr(\"a/../../evil\",\"x\")\nz.close()'",
        &p.0,
    );
    std::fs::write(p.0.join("files/bad.zip"), b"PK\x03\x04garbage").unwrap();
    let e = ModuleEnv {
        playbook_dir: p.0.clone(),
        ..env()
    };
    let plan = plan_here(&[("src", "evil.zip".into()), ("dest", d.into())], &e);
    assert!(plan.failed.unwrap().contains("leaves the destination"));
    let plan = plan_here(&[("src", "bad.zip".into()), ("dest", d.into())], &e);
    assert!(plan.failed.unwrap().contains("could not handle archive"));
    assert_eq!(std::fs::read_dir(&dest.0).unwrap().count(), 0);
}

fn sections(zipinfo: &str, dest: &str) -> Sections {
    Sections {
        zipinfo: zipinfo.into(),
        crcs: "       3  Stored        3   0% 2024-01-02 03:04 ed6f7a7a  d/f\n".into(),
        names: "d/\nd/f\n".into(),
        umask: 0o022,
        user: "root".into(),
        group: "root".into(),
        dest: dest.into(),
        ..Default::default()
    }
}

const INFO: &str = "Archive:  a.zip\n\
    drwxr-xr-x  3.0 unx        0 bx stor 20240102.030405 d/\n\
    -rw-r--r--  3.0 unx        3 tx stor 20240102.030405 d/f\n\
    2 files, 3 bytes uncompressed\n";

#[test]
fn the_comparison_follows_ansibles_rules() {
    let spec = Spec::default();
    let here_dir = "S|directory|755|root|0|root|0|4096|2024-01-02 03:04:05.000000000 +0000||d/\n";
    let here_f =
        "S|regular file|644|root|0|root|0|3|2024-01-02 03:04:05.000000000 +0000|7a7a6fed|d/f\n";
    let d = decide(&spec, &sections(INFO, &format!("{here_dir}{here_f}"))).unwrap();
    assert!(d.unarchived, "{d:?}");
    // Missing.
    let d = decide(&spec, &sections(INFO, here_dir)).unwrap();
    assert!(!d.unarchived);
    assert_eq!(d.diff, ">f++++++.?? d/f\n");
    // Other time (even by a fraction of a second), size, owner.
    let other = here_f
        .replace("|root|0|root|0|3", "|www|33|root|0|3")
        .replace(":05.000000000", ":05.500000000")
        .replace("|3|", "|4|");
    let d = decide(&spec, &sections(INFO, &format!("{here_dir}{other}"))).unwrap();
    assert_eq!(d.diff, ".f.st.o..?? d/f\n", "{d:?}");
    // A directory where a file should be.
    let as_dir = here_f.replace("regular file", "directory");
    let d = decide(&spec, &sections(INFO, &format!("{here_dir}{as_dir}"))).unwrap();
    assert_eq!(d.diff, "cf++++++.?? d/f\n");
    // keep_newer: a newer file on the host is left alone.
    let newer = here_f.replace("2024-01-02 03:04:05", "2025-01-01 00:00:00");
    let keep = Spec {
        keep_newer: true,
        ..Default::default()
    };
    assert!(
        decide(&keep, &sections(INFO, &format!("{here_dir}{newer}")))
            .unwrap()
            .unarchived
    );
    assert!(
        !decide(&spec, &sections(INFO, &format!("{here_dir}{newer}")))
            .unwrap()
            .unarchived
    );
    // FAT entries take 0666/0777 through the umask.
    let fat = "-rw-a--     2.0 fat        3 t- stor 20240102.030405 d/f\n";
    let d = decide(&spec, &sections(fat, here_f)).unwrap();
    assert!(d.unarchived, "{d:?}");
    // A broken permission string is an error, not a panic.
    let bad = "-wr-r--r--  3.0 unx        3 tx stor 20240102.030405 d/f\n";
    let err = decide(&spec, &sections(bad, here_f)).unwrap_err();
    assert!(err.contains("perm format incorrect"), "{err}");
    // Lines that are not entries (headers, garbage) are skipped.
    let noise = "-rwzrwzrwz  3.0 unx        3 tx stor 20240102.030405 d/f\nx y\n";
    assert!(decide(&spec, &sections(noise, here_f)).unwrap().unarchived);
}

#[test]
fn sections_and_fields_parse() {
    let s = Sections::parse(
        "\u{1e}zipinfo\nline one\n\u{1e}zipinfo_rc\n9\n\u{1e}env\n0027\n1000\nme\nus\n\u{1e}dest\nS|x\n",
        Sections::default(),
    );
    assert_eq!(s.zipinfo, "line one\n");
    assert_eq!(s.zipinfo_rc, 9);
    assert_eq!(
        (s.umask, s.uid, s.user.as_str(), s.group.as_str()),
        (0o27, 1000, "me", "us")
    );
    assert_eq!(s.dest, "S|x\n");
    assert_eq!(splitn_ws("  a  b c d", 3), vec!["a", "b", "c d"]);
    assert_eq!(permstr_to_octal("rwxr-x---", 0), 0o750);
    assert_eq!(permstr_to_octal("rw-rw-rw-", 0o022), 0o644);
    assert!(perm_ok("rwsr-xr-T") && !perm_ok("rw-r--r") && !perm_ok("rwzr--r--"));
    assert!(parse_here("S|regular file|644|root|0|root|0|3|garbage|00|n").is_none());
}
