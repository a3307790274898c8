//! The prober's tests: every primitive answered by the prober as its shell form answers it,
//! byte for byte; every query, computed from either's answers, as the program it is named
//! after answers it on this machine; and with an empty PATH, which answers needed no program.

use super::*;
use crate::host::Probe;
use crate::host::query::Query;
use crate::host::resolve::{ReadCache, Rounds};
use crate::host::{Answer, CmdOutput, FileProbe, Observed};
use crate::transport::protocol::{probe_frame, script_frame};
use crate::transport::script;
use std::io::Write;

#[path = "prober_query_tests.rs"]
mod queries;

/// The prober run by the local perl in a scratch directory: frames in, everything it
/// printed out.
fn prober(frames: &[Vec<u8>]) -> Vec<u8> {
    prober_with_path(frames, &std::env::var("PATH").unwrap_or_default())
}

/// The prober with this PATH (an empty directory: no program to fall back to).
fn prober_with_path(frames: &[Vec<u8>], path: &str) -> Vec<u8> {
    let t = tempdir("t");
    let mut child = std::process::Command::new("/usr/bin/perl")
        .env("TMPDIR", &t)
        .env("PATH", path)
        .arg("-e")
        .arg(PROGRAM)
        .arg("N0NCE")
        .arg(CONTENT_LIMIT.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    for f in frames {
        input.write_all(f).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    // Its scratch directory is gone.
    assert_eq!(std::fs::read_dir(&t).unwrap().count(), 0);
    std::fs::remove_dir_all(&t).unwrap();
    out.stdout
}

fn tempdir(name: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("prov-prober-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Scripts get exactly the shell loop's answers (the same frames as session.rs's test).
#[test]
fn scripts_are_answered_as_the_shell_loop_answers_them() {
    let out = prober(&[
        script_frame("echo one; echo err >&2; exit 3", b"ignored input\n"),
        script_frame("cat; printf 'x'", b"line 1\nline 2\n"),
        script_frame("printf '%s' \"$#\"; rm -rf \"$PROV_TMP\"", b""),
        script_frame("[ -d \"$PROV_TMP\" ] && printf 'back'", b""),
        script_frame("kill -9 $$", b""),
        // Scripts get SIGPIPE as usual (the prober ignores it for itself).
        script_frame("yes | head -n 1", b""),
        // A script too long for an argument.
        script_frame(&format!("{}\necho long", "#".repeat(200_000)), b""),
    ]);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "@PROV-PROBER\none\n\nN0NCE-\nerr\n\nN0NCE 3\nline 1\nline 2\nx\nN0NCE-\n\nN0NCE 0\n0\nN0NCE-\n\nN0NCE 0\nback\nN0NCE-\n\nN0NCE 0\n\nN0NCE-\n\nN0NCE 137\ny\n\nN0NCE-\n\nN0NCE 0\nlong\n\nN0NCE-\n\nN0NCE 0\n"
    );
}

/// The probes' answers from the probe script run by the shell.
fn by_shell(probes: &[Probe]) -> crate::host::Observed {
    // On stdin: it may be longer than an argument may be.
    let mut child = std::process::Command::new("/bin/sh")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Written from a thread: sh runs the script as it reads it, so its output (more than a
    // pipe holds) must be read meanwhile.
    let script = script::probe_script(probes);
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
    let shell = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    script::parse_probe_output(probes, &shell.stdout).unwrap()
}

/// The probes' answers from the prober, run with this PATH.
fn natively(probes: &[Probe], path: &str) -> Observed {
    let out = prober_with_path(&[probe_frame(probes)], path);
    let body = out
        .strip_prefix(b"@PROV-PROBER\n")
        .and_then(|t| {
            let end = b"\nN0NCE-\n";
            (0..t.len())
                .find(|&k| t[k..].starts_with(end))
                .map(|k| &t[..k])
        })
        .unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&out)));
    script::parse_probe_output(probes, body).unwrap()
}

/// Run the probes through the prober, and through the probe script in a shell; both
/// parsed.
fn both_ways(probes: &[Probe]) -> (Observed, Observed) {
    (
        natively(probes, &std::env::var("PATH").unwrap_or_default()),
        by_shell(probes),
    )
}

/// Every primitive, answered by the prober and by its shell form: the same bytes.
#[test]
fn primitives_are_answered_as_their_shell_forms_answer_them() {
    use crate::host::primitive::{Primitive, Run};
    use std::os::unix::fs::symlink;
    let d = tempdir("primitives");
    let path = |n: &str| d.join(n).display().to_string();
    std::fs::write(d.join("text"), "one\ntwo\nno newline").unwrap();
    std::fs::create_dir_all(d.join("a.wants")).unwrap();
    std::fs::create_dir_all(d.join("a")).unwrap();
    std::fs::create_dir_all(d.join("b.wants")).unwrap();
    std::fs::write(d.join("a.wants/x y"), "").unwrap();
    std::fs::write(d.join("a/x y"), "").unwrap();
    std::fs::write(d.join("b.wants/.hidden"), "").unwrap();
    symlink("nowhere", d.join("b.wants/x y")).unwrap();
    std::fs::write(d.join("odd 'name'\n*"), "").unwrap();
    let tag = {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(d.join("text")).unwrap();
        format!("{}:{}:{}:{}", m.len(), m.mtime(), m.ino(), m.ctime())
    };
    let read = |p: String, limit: u64, unless: Option<String>| {
        Probe::Primitive(Primitive::Read {
            path: p,
            limit,
            unless,
            paragraphs: None,
        })
    };
    std::fs::write(
        d.join("status"),
        "\n\nPackage: a\nStatus: x\n\n\nPackage: b\nDescription: y\n a: z\n\nPackage: ab\n\nVersion: 1\nPackage: a\n\nPackage: c",
    )
    .unwrap();
    let paragraphs = |values: &[&str]| {
        Probe::Primitive(Primitive::Read {
            path: path("status"),
            limit: 10,
            unless: None,
            paragraphs: Some(crate::host::primitive::Paragraphs {
                field: "Package".into(),
                values: values.iter().map(|v| v.to_string()).collect(),
            }),
        })
    };
    let prim = Probe::Primitive;
    let probes = vec![
        read(path("text"), 1 << 20, None),
        read(path("text"), 5, None),
        read(path("text"), 1 << 20, Some(tag.clone())),
        read(path("text"), 1 << 20, Some("0:0:0:0".into())),
        read(path("missing"), 100, None),
        read(path("a"), 100, None),
        read("/proc/sys/kernel/ostype".into(), 100, None),
        prim(Primitive::Glob(format!("{}/*/x y", d.display()))),
        prim(Primitive::Glob(format!("{}/*.wants/*", d.display()))),
        prim(Primitive::Glob(format!("{}/*", d.display()))),
        prim(Primitive::Glob(format!("{}/nothing*", d.display()))),
        prim(Primitive::Glob(format!("{}/text", d.display()))),
        prim(Primitive::Passwd("root".into())),
        prim(Primitive::Passwd("0".into())),
        prim(Primitive::Passwd("nosuchuser".into())),
        prim(Primitive::Group("root".into())),
        prim(Primitive::Group("0".into())),
        prim(Primitive::Group("nosuchgroup".into())),
        prim(Primitive::Groups),
        prim(Primitive::Shadow("root".into())),
        prim(Primitive::Shadow("nosuchuser".into())),
        prim(Primitive::Me),
        prim(Primitive::Env("HOME".into())),
        prim(Primitive::Env("PROV_NOT_SET".into())),
        prim(Primitive::Env("A;B".into())),
        prim(Primitive::Run(Run::new(&["printf", "%s\\n", "a b", "c"]))),
        prim(Primitive::Run(Run::new(&[
            "sh",
            "-c",
            "echo out; echo err >&2; exit 4",
        ]))),
        prim(Primitive::Run(Run {
            argv: vec!["sh".into(), "-c".into(), "echo out; echo err >&2".into()],
            merge: true,
            ..Run::new(&[])
        })),
        prim(Primitive::Run(Run {
            argv: vec!["cat".into()],
            stdin: Some(path("text")),
            ..Run::new(&[])
        })),
        prim(Primitive::Run(Run::new(&["sh", "-c", "echo $LC_ALL"]))),
        prim(Primitive::Run(Run::new(&["no-such-program-prov"]))),
        prim(Primitive::Which(vec![
            "sh".into(),
            "no-such-program-prov".into(),
            "perl".into(),
        ])),
        prim(Primitive::Run(Run {
            when_dir: Some(path("a")),
            ..Run::new(&["echo", "ran"])
        })),
        prim(Primitive::Run(Run {
            when_dir: Some(path("text")),
            ..Run::new(&["echo", "ran"])
        })),
        prim(Primitive::ReadAll {
            pattern: format!("{}/*", d.display()),
            limit: 4,
        }),
        prim(Primitive::ReadAll {
            pattern: "/sys/class/net/*/address".into(),
            limit: 4096,
        }),
        paragraphs(&["a", "c", "x y", "'"]),
        paragraphs(&[]),
        paragraphs(&["Status:"]),
        // The same file again in the same frame: another order, another field.
        paragraphs(&["c", "b", "a"]),
        prim(Primitive::Read {
            path: path("status"),
            limit: 10,
            unless: None,
            paragraphs: Some(crate::host::primitive::Paragraphs {
                field: "Version".into(),
                values: vec!["1".into()],
            }),
        }),
        prim(Primitive::Hex(path("text"))),
        prim(Primitive::Hex(path("missing"))),
        prim(Primitive::Hex(path("a"))),
        prim(Primitive::Hex(path("odd 'name'\n*"))),
        prim(Primitive::Run(Run {
            memo: vec![path("text"), format!("{}/*.wants", d.display())],
            ..Run::new(&["cat", &path("text")])
        })),
    ];
    let (mine, theirs) = both_ways(&probes);
    // Access times aside (the field after mtime in a stat line): looking at a link may
    // change its own.
    let steady = |c: &CmdOutput| -> CmdOutput {
        let stdout = c
            .stdout
            .split('\n')
            .map(|l| {
                let mut f: Vec<&str> = l.split('|').collect();
                if f.len() == 11 {
                    f[8] = "-";
                }
                f.join("|")
            })
            .collect::<Vec<_>>()
            .join("\n");
        CmdOutput {
            stdout,
            ..c.clone()
        }
    };
    for (i, p) in probes.iter().enumerate() {
        let (a, b) = (mine.cmd_at(i).unwrap(), theirs.cmd_at(i).unwrap());
        assert_eq!(steady(a), steady(b), "{p:?}");
    }
    // The answers are the files' and the accounts' (not the same mistake twice).
    let out = |i: usize| mine.cmd_at(i).unwrap();
    assert_eq!(out(0).stdout, format!("{tag}\none\ntwo\nno newline"));
    assert_eq!(out(1).stdout, format!("{tag}\none\nt"));
    assert_eq!((out(2).rc, out(2).stdout.as_str()), (3, ""));
    assert_eq!(out(3).rc, 0);
    assert_eq!((out(4).rc, out(5).rc), (1, 1));
    let names = |i: usize| -> Vec<String> {
        crate::host::primitive::glob_matches(&out(i).stdout)
            .into_iter()
            .map(|(p, _)| {
                p.strip_prefix(&format!("{}/", d.display()))
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    // Sorted as whole paths ('.' before '/'), links included, dotfiles not.
    assert_eq!(names(7), ["a.wants/x y", "a/x y", "b.wants/x y"]);
    assert_eq!(names(8), ["a.wants/x y", "b.wants/x y"]);
    assert_eq!(names(9).len(), 6);
    assert!(names(10).is_empty());
    assert_eq!(names(11), ["text"]);
    assert!(out(12).stdout.starts_with("root:x:0:0:"));
    assert_eq!(out(12), out(13));
    assert_eq!(out(14).stdout, "");
    assert!(out(18).stdout.lines().count() > 5);
    assert_eq!((out(23).rc, out(24).rc), (1, 1));
    assert_eq!(out(25).stdout, "a b\nc\n");
    assert_eq!((out(26).rc, out(26).stdout.as_str()), (4, "out\n"));
    assert_eq!(out(27).stdout, "out\nerr\n");
    assert_eq!(out(28).stdout, "one\ntwo\nno newline");
    assert_eq!(out(29).stdout, "C\n");
    assert_eq!(out(30).rc, 127);
    assert!(out(31).stdout.ends_with("/perl\n") && out(31).stdout.lines().count() == 2);
    assert_eq!(
        (out(32).stdout.as_str(), out(33).stdout.as_str()),
        ("ran\n", "")
    );
    let files = crate::host::primitive::read_all(&out(34).stdout);
    let file = |n: &str| {
        files
            .iter()
            .find(|(p, _)| p.ends_with(n))
            .map(|f| f.1.as_str())
    };
    assert_eq!(
        (file("/text"), file("/odd 'name'\n*")),
        (Some("one\n"), Some(""))
    );
    assert_eq!(files.len(), 3);
    assert!(
        out(35)
            .stdout
            .contains("/sys/class/net/lo/address\n18\n00:00:00:00:00:00\n")
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// A file a query read is sent again only when it changed.
#[test]
fn files_queries_read_are_sent_again_only_when_changed() {
    let d = tempdir("cache");
    let status = d.join("status");
    let name = status.display().to_string();
    let cache = ReadCache::default();
    let path = std::env::var("PATH").unwrap_or_default();
    let ask = |reads: &crate::host::resolve::Reads| {
        let p = reads.ask(&name, None);
        let obs = natively(std::slice::from_ref(&p), &path);
        let c = obs.cmd_at(0).unwrap().clone();
        (c.rc, reads.text(&name, None, &c).unwrap())
    };
    let reads = cache.reader("");
    std::fs::write(&status, "Package: a\n").unwrap();
    let (rc, text) = ask(&reads);
    assert_eq!((rc, text.as_deref()), (0, Some("Package: a\n")));
    let (rc, text) = ask(&reads);
    assert_eq!((rc, text.as_deref()), (3, Some("Package: a\n")));
    // dpkg replaces the file (a new inode).
    std::fs::write(d.join("new"), "Package: b\n").unwrap();
    std::fs::rename(d.join("new"), &status).unwrap();
    let (rc, text) = ask(&reads);
    assert_eq!((rc, text.as_deref()), (0, Some("Package: b\n")));
    // Another reader (a become user) has its own.
    let (rc, _) = ask(&cache.reader("boxp"));
    assert_eq!(rc, 0);
    std::fs::remove_file(&status).unwrap();
    let (rc, text) = ask(&reads);
    assert_eq!((rc, text), (1, None));
    std::fs::remove_dir_all(&d).unwrap();
}

/// A primitive the prober does not know fails (exit code 127), rather than answering
/// nothing; a query sent as is goes unanswered, which the parse reports.
#[test]
fn unknown_primitives_fail() {
    let probes = vec![Probe::Primitive(crate::host::primitive::Primitive::Now)];
    let mut f = probe_frame(&probes);
    let at = f.windows(3).position(|w| w == b"now").unwrap();
    f[at..at + 3].copy_from_slice(b"nod");
    let out = prober(&[f]);
    assert!(
        String::from_utf8_lossy(&out).contains("@X 0 127 0 0\n\n"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    let q = vec![Probe::Query(Query::Lines("/etc/hostname".into()))];
    assert!(script::parse_probe_output(&q, b"").is_err());
    assert!(!script::probe_script(&q).contains("hostname"));
}

/// Every kind of file probe, answered by the prober and by the probe script run by the
/// shell: the same parsed answers (access times aside: reading a file may change them).
#[test]
fn probes_are_answered_as_the_probe_script_answers_them() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let d = tempdir("files");
    let path = |n: &str| d.join(n).display().to_string();
    std::fs::write(d.join("text"), "héllo\n\nno newline").unwrap();
    std::fs::write(d.join("binary"), b"\x00\x01\n@E 0\n\xff").unwrap();
    std::fs::write(d.join("empty"), "").unwrap();
    std::fs::write(d.join("big"), vec![b'x'; CONTENT_LIMIT as usize + 1]).unwrap();
    std::fs::write(d.join("odd name\nwith newline 'q'"), "odd").unwrap();
    std::fs::set_permissions(d.join("text"), PermissionsExt::from_mode(0o4750)).unwrap();
    std::fs::create_dir(d.join("dir")).unwrap();
    symlink("text", d.join("link")).unwrap();
    symlink("nowhere", d.join("dangling")).unwrap();
    let file = |n: &str, follow: bool, content: bool, checksum: bool| {
        Probe::File(FileProbe {
            path: path(n),
            follow,
            content,
            checksum,
        })
    };
    let probes = vec![
        file("text", false, true, true),
        Probe::Command("printf 'é\\n\\n'; echo err >&2; exit 3".into()),
        file("binary", false, true, false),
        file("empty", true, true, true),
        file("big", false, true, true),
        file("big", false, false, true),
        file("odd name\nwith newline 'q'", false, true, false),
        file("dir", true, true, true),
        file("link", false, true, true),
        file("link", true, true, true),
        file("dangling", true, true, false),
        file("dangling", false, false, false),
        file("missing", true, true, true),
        Probe::Command("printf 'no newline'".into()),
        Probe::stat("/proc/self"),
        Probe::read("/proc/sys/kernel/ostype"),
        Probe::stat("/"),
    ];
    let (mine, theirs) = both_ways(&probes);
    assert_eq!(mine.answers.len(), probes.len());
    for (i, (a, b)) in mine.answers.iter().zip(&theirs.answers).enumerate() {
        match (a, b) {
            (Answer::File(a), Answer::File(b)) => {
                let (mut a, mut b) = (a.clone(), b.clone());
                a.atime = 0.0;
                b.atime = 0.0;
                if a.path.starts_with("/proc/self") {
                    // Each process sees itself.
                    a.link_target = None;
                    b.link_target = None;
                    a.mtime = 0.0;
                    b.mtime = 0.0;
                }
                assert_eq!(a, b, "probe {i}: {:?}", probes[i]);
            }
            _ => assert_eq!(a, b, "probe {i}"),
        }
    }
    // The answers are the files' (not merely the same mistakes twice).
    let text_file = mine.file_at(0).unwrap();
    assert_eq!(text_file.mode, 0o4750);
    assert_eq!(
        text_file.content.as_deref(),
        Some("héllo\n\nno newline".as_bytes())
    );
    assert_eq!(
        mine.file_at(2).unwrap().content.as_deref(),
        Some(&b"\x00\x01\n@E 0\n\xff"[..])
    );
    let big = mine.file_at(4).unwrap();
    assert_eq!((big.content.as_ref(), big.size), (None, CONTENT_LIMIT + 1));
    assert_eq!(
        big.sha256.as_deref(),
        Some(crate::host::sha256_hex(&vec![b'x'; CONTENT_LIMIT as usize + 1]).as_str())
    );
    assert_eq!(
        mine.file_at(9).unwrap().content.as_deref(),
        text_file.content.as_deref()
    );
    assert_eq!(
        mine.file_at(8).unwrap().link_target.as_deref(),
        Some("text")
    );
    assert!(mine.file_at(10).unwrap().exists && !mine.file_at(12).unwrap().exists);
    assert_eq!(mine.cmd_at(1).unwrap().stderr, "err\n");
    assert_eq!(
        mine.file_at(15).unwrap().content.as_deref(),
        Some(&b"Linux\n"[..])
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// The hex primitives' text is od's, and `environ` is the answering process's own
/// environment: the prober's, or the probe shell's.
#[test]
fn hex_is_od_s_text_and_environ_is_the_answerer_s() {
    use crate::host::primitive::Primitive;
    let d = tempdir("hex");
    let bytes: Vec<u8> = (0..=255u8).chain(*b"\0tail").collect();
    std::fs::write(d.join("bin"), &bytes).unwrap();
    let probes = vec![
        Probe::Primitive(Primitive::Hex(d.join("bin").display().to_string())),
        Probe::Primitive(Primitive::Environ),
    ];
    let (mine, theirs) = both_ways(&probes);
    let od = std::process::Command::new("od")
        .args(["-An", "-v", "-tx1"])
        .arg(d.join("bin"))
        .output()
        .unwrap();
    assert_eq!(mine.cmd_at(0).unwrap().stdout.as_bytes(), od.stdout);
    assert_eq!(mine.cmd_at(0).unwrap(), theirs.cmd_at(0).unwrap());
    let unhex = |t: &str| -> Vec<String> {
        let b: Vec<u8> = t
            .split_whitespace()
            .map(|x| u8::from_str_radix(x, 16).unwrap())
            .collect();
        String::from_utf8_lossy(&b)
            .split('\0')
            .map(str::to_string)
            .collect()
    };
    // The prober was started with TMPDIR set (its scratch directory's parent); the shell
    // inherited this test's environment, whose PATH it has.
    let prober_env = unhex(&mine.cmd_at(1).unwrap().stdout);
    assert!(
        prober_env.iter().any(|v| v.starts_with("TMPDIR=")),
        "{prober_env:?}"
    );
    assert!(!prober_env.iter().any(|v| v.starts_with("LC_ALL=")));
    let shell_env = unhex(&theirs.cmd_at(1).unwrap().stdout);
    let path = format!("PATH={}", std::env::var("PATH").unwrap());
    assert!(shell_env.contains(&path), "{shell_env:?}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// A run with `memo` is answered from the prober's memory while what it depends on stays as
/// it was; a change of a dependency (content, a new match of a pattern) runs it again, and a
/// state changed in the last seconds is not kept.
#[tokio::test]
async fn memo_runs_are_kept_while_their_files_stay() {
    use crate::host::primitive::{Primitive, Run};
    let d = tempdir("memo");
    std::fs::write(d.join("dep"), "1").unwrap();
    std::fs::create_dir(d.join("lib")).unwrap();
    std::fs::create_dir(d.join("bin")).unwrap();
    // Older than the two seconds a kept state must be.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let mut perl = tokio::process::Command::new("/usr/bin/perl");
    let path = format!(
        "{}:{}",
        d.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    perl.env("TMPDIR", &d).env("PATH", path);
    let mut p = Piped::start(perl, Mode::Run).await.unwrap();
    let uuid = ["cat", "/proc/sys/kernel/random/uuid"];
    let memo = Probe::Primitive(Primitive::Run(Run {
        memo: vec![
            d.join("dep").display().to_string(),
            format!("{}/lib/*.so", d.display()),
        ],
        ..Run::new(&uuid)
    }));
    let plain = Probe::Primitive(Primitive::Run(Run::new(&uuid)));
    let mut ask = async |probe: &Probe| -> String {
        let probes = std::slice::from_ref(probe);
        let out = p.probe(&probe_frame(probes)).await.unwrap();
        let obs = script::parse_probe_output(probes, &out.stdout).unwrap();
        let c = obs.cmd_at(0).unwrap();
        assert_eq!(c.rc, 0);
        assert_eq!(c.stdout.len(), 37, "{c:?}");
        c.stdout.clone()
    };
    let first = ask(&memo).await;
    assert_eq!(ask(&memo).await, first);
    assert_ne!(ask(&plain).await, first);
    // The dependency changes: run again; its new state is too recent to keep.
    std::fs::write(d.join("dep"), "2").unwrap();
    let second = ask(&memo).await;
    assert_ne!(second, first);
    assert_ne!(ask(&memo).await, second);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let third = ask(&memo).await;
    assert_eq!(ask(&memo).await, third);
    // A new match of a pattern is a change too.
    std::fs::write(d.join("lib/x.so"), "").unwrap();
    assert_ne!(ask(&memo).await, third);
    // A program not on PATH: kept as failing to start until it appears.
    let missing = Probe::Primitive(Primitive::Run(Run {
        memo: vec![d.join("dep").display().to_string()],
        ..Run::new(&["prov-memo-missing"])
    }));
    let ask_raw = async |p: &mut Piped, probe: &Probe| -> CmdOutput {
        let probes = std::slice::from_ref(probe);
        let out = p.probe(&probe_frame(probes)).await.unwrap();
        let obs = script::parse_probe_output(probes, &out.stdout).unwrap();
        obs.cmd_at(0).unwrap().clone()
    };
    for _ in 0..2 {
        let c = ask_raw(&mut p, &missing).await;
        assert_eq!((c.rc, c.stdout.as_str()), (127, ""), "{c:?}");
    }
    let prog = d.join("bin/prov-memo-missing");
    std::fs::write(&prog, "#!/bin/sh\necho here\n").unwrap();
    std::fs::set_permissions(&prog, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let c = ask_raw(&mut p, &missing).await;
    assert_eq!((c.rc, c.stdout.as_str()), (0, "here\n"), "{c:?}");
    p.finish().await;
    std::fs::remove_dir_all(&d).unwrap();
}

/// dpkg's status split into paragraphs is kept across frames while its tag stays; a file
/// rewritten in place (same size, even within the same second as its last change) is split
/// again.
#[tokio::test]
async fn paragraphs_follow_a_file_rewritten_between_frames() {
    use crate::host::primitive::{Paragraphs, Primitive};
    let d = tempdir("para");
    let status = d.join("status");
    let write = |version: &str| {
        // In place: same inode, same size.
        use std::io::{Seek, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&status)
            .unwrap();
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        write!(
            f,
            "Package: a\nVersion: {version}\n\nPackage: b\nVersion: 0\n"
        )
        .unwrap();
    };
    write("1");
    let mut perl = tokio::process::Command::new("/usr/bin/perl");
    perl.env("TMPDIR", &d);
    let mut p = Piped::start(perl, Mode::Run).await.unwrap();
    let probe = Probe::Primitive(Primitive::Read {
        path: status.display().to_string(),
        limit: 1 << 20,
        unless: None,
        paragraphs: Some(Paragraphs {
            field: "Package".into(),
            values: vec!["a".into()],
        }),
    });
    let mut ask = async || -> String {
        let probes = std::slice::from_ref(&probe);
        let out = p.probe(&probe_frame(probes)).await.unwrap();
        let obs = script::parse_probe_output(probes, &out.stdout).unwrap();
        let text = obs.cmd_at(0).unwrap().stdout.clone();
        text.split_once('\n').unwrap().1.to_string()
    };
    assert_eq!(ask().await, "Package: a\nVersion: 1\n\n");
    write("2");
    assert_eq!(ask().await, "Package: a\nVersion: 2\n\n");
    // Old enough to be kept, then rewritten: split again.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(ask().await, "Package: a\nVersion: 2\n\n");
    write("3");
    assert_eq!(ask().await, "Package: a\nVersion: 3\n\n");
    assert_eq!(ask().await, "Package: a\nVersion: 3\n\n");
    p.finish().await;
    std::fs::remove_dir_all(&d).unwrap();
}

/// A resident prober answers the clock and the host's canonical name itself, as the prober
/// of one run does by starting `date` and `hostname -f`: in several time zones (TZ, and
/// /etc/localtime changed under the running prober), and for a host name /etc/hosts gives a
/// domain (the file changed under it too). Both run in a mount and UTS namespace of the test's
/// own, with its own /etc/hosts, /etc/localtime and host name, so no name goes to DNS.
#[tokio::test]
async fn resident_probers_answer_the_clock_and_the_name_as_date_and_hostname_do() {
    use crate::host::primitive::Primitive;
    let d = tempdir("clock");
    let zone = |z: &str| std::fs::read(format!("/usr/share/zoneinfo/{z}")).unwrap();
    let hosts = |domain: &str| {
        format!("127.0.0.1 localhost\n127.0.1.1 node1.{domain} node1\n").into_bytes()
    };
    // Rewritten in place below: the bind mounts keep the inode.
    let rewrite = |f: &str, bytes: &[u8]| {
        use std::io::{Seek, Write};
        let mut w = std::fs::OpenOptions::new()
            .write(true)
            .open(d.join(f))
            .unwrap();
        w.set_len(0).unwrap();
        w.seek(std::io::SeekFrom::Start(0)).unwrap();
        w.write_all(bytes).unwrap();
    };
    std::fs::write(d.join("localtime"), zone("UTC")).unwrap();
    std::fs::write(d.join("hosts"), hosts("example.org")).unwrap();
    std::fs::write(d.join("nsswitch.conf"), "hosts: files\n").unwrap();
    // A perl without the modules a resident prober loads (Time::HiRes is not in perl-base).
    let missing = d.join("missing");
    for m in ["Time/HiRes.pm", "Socket.pm"] {
        std::fs::create_dir_all(missing.join("Time")).unwrap();
        std::fs::write(missing.join(m), "die \"not installed\";\n").unwrap();
    }
    let start = async |mode: Mode, tz: Option<&str>| {
        let mut perl = tokio::process::Command::new("unshare");
        perl.args(["--mount", "--uts", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "for f in hosts localtime nsswitch.conf; do mount --bind {0}/$f /etc/$f || exit; done; hostname node1 && exec perl \"$@\"",
                d.display()
            ))
            .arg("sh")
            .env("TMPDIR", &d);
        match tz {
            Some("missing modules") => perl.env_remove("TZ").env("PERL5LIB", &missing),
            Some(tz) => perl.env("TZ", tz),
            None => perl.env_remove("TZ"),
        };
        Piped::start(perl, mode).await.unwrap()
    };
    async fn ask(p: &mut Piped, q: Primitive) -> CmdOutput {
        let probes = [Probe::Primitive(q)];
        let out = p.probe(&probe_frame(&probes)).await.unwrap();
        let obs = script::parse_probe_output(&probes, &out.stdout).unwrap();
        obs.cmd_at(0).unwrap().clone()
    }
    // The two clocks agree but for the seconds and what follows them, read in the same second.
    async fn same_clock(resident: &mut Piped, run: &mut Piped, what: &str) {
        for _ in 0..5 {
            let a = ask(run, Primitive::Clock).await;
            let b = ask(resident, Primitive::Clock).await;
            let c = ask(run, Primitive::Clock).await;
            let f = |o: &CmdOutput| -> Vec<String> {
                assert_eq!(o.rc, 0, "{o:?}");
                o.stdout.trim_end().split('|').map(String::from).collect()
            };
            let (a, b, c) = (f(&a), f(&b), f(&c));
            assert_eq!(b.len(), 13, "{what}: {b:?}");
            assert_eq!(b[10].len(), 9, "{what}: nanoseconds {b:?}");
            if a[9] != c[9] {
                continue;
            }
            let mut b2 = b.clone();
            b2[10] = a[10].clone();
            assert_eq!(b2, a, "{what}");
            return;
        }
        panic!("{what}: no two reads of date in the same second");
    }
    for tz in [
        None,
        Some("UTC"),
        Some("Europe/Berlin"),
        Some("America/St_Johns"),
        Some("Asia/Kolkata"),
        Some("XYZ+5:30"),
        // Not a zone: a resident prober whose perl lacks Time::HiRes and Socket.
        Some("missing modules"),
    ] {
        let mut resident = start(Mode::Resident, tz).await;
        let mut run = start(Mode::Run, tz).await;
        Box::pin(same_clock(&mut resident, &mut run, &format!("TZ={tz:?}"))).await;
        if tz.is_none() || tz == Some("missing modules") {
            // /etc/localtime rewritten in place under the running prober, within the second
            // it was read in (same inode, same mtime in seconds: glibc alone keeps the old).
            Box::pin(same_clock(&mut resident, &mut run, "/etc/localtime UTC")).await;
            rewrite("localtime", &zone("Asia/Tokyo"));
            Box::pin(same_clock(
                &mut resident,
                &mut run,
                "/etc/localtime now Asia/Tokyo",
            ))
            .await;
            let jst = ask(&mut resident, Primitive::Clock).await.stdout;
            assert!(jst.trim_end().ends_with("|JST|+0900"), "{jst}");
            rewrite("localtime", &zone("UTC"));
            let utc = ask(&mut resident, Primitive::Clock).await.stdout;
            assert!(utc.trim_end().ends_with("|UTC|+0000"), "{utc}");
            // The name, before and after /etc/hosts changed.
            for domain in ["example.org", "cluster.test"] {
                rewrite("hosts", &hosts(domain));
                let theirs = ask(&mut run, Primitive::Fqdn).await;
                assert_eq!(theirs.stdout, format!("node1.{domain}\n"), "{theirs:?}");
                assert_eq!(ask(&mut resident, Primitive::Fqdn).await, theirs);
            }
            // A name that does not resolve: both fail alike (files only, nothing asks DNS).
            rewrite("nsswitch.conf", b"hosts: files\n");
            rewrite("hosts", b"127.0.0.1 localhost\n");
            let theirs = ask(&mut run, Primitive::Fqdn).await;
            assert_eq!((theirs.rc, theirs.stdout.as_str()), (1, ""), "{theirs:?}");
            assert_eq!(ask(&mut resident, Primitive::Fqdn).await, theirs);
        }
        resident.finish().await;
        run.finish().await;
    }
    std::fs::remove_dir_all(&d).unwrap();
}

/// The mounts' statvfs as the prober answers it (reading the mount table itself, starting
/// only `stat`) and as the shell form does, in one mount namespace of the test's own with
/// mount points that need escapes in the table (space, tab, newline, backslash), a device
/// that needs one (kept), and one that is not a path (left out): the same mount points in the same order with the same sizes (free counts may move
/// between the two looks) and the same exit code.
#[tokio::test]
async fn statfs_reads_the_mount_table_as_the_shell_form_does() {
    use crate::host::primitive::Primitive;
    let d = tempdir("statfs");
    let names = ["a b", "t\tab", "new\nline", "back\\slash", "plain"];
    for n in names {
        std::fs::create_dir(d.join(n)).unwrap();
    }
    std::fs::create_dir(d.join("none")).unwrap();
    std::fs::create_dir(d.join("srv")).unwrap();
    let shell_form = Primitive::Statfs.shell();
    // A script does the mounts (names from the environment), runs the shell form into a
    // file, then becomes the prober.
    let script = d.join("ns.sh");
    std::fs::write(
        &script,
        format!(
            "set -e\ncd {dir}\ni=1\nfor n in \"$N1\" \"$N2\" \"$N3\" \"$N4\" \"$N5\"; do mount -t tmpfs -o size=${{i}}m /dev/prov-test \"$n\"; i=$((i + 1)); done\nmount -t tmpfs -o size=1m tmpfs none\nmount -t tmpfs -o size=1m '\\\\srv' srv\nset +e\nsh -c {shell} > shell.out 2>/dev/null\necho $? > shell.rc\nexec perl \"$@\"\n",
            dir = d.display(),
            shell = crate::shlex::quote(&shell_form)
        ),
    )
    .unwrap();
    let mut perl = tokio::process::Command::new("unshare");
    perl.args(["--mount", "--propagation", "private", "sh"])
        .arg(&script)
        .env("TMPDIR", &d);
    for (i, n) in names.iter().enumerate() {
        perl.env(format!("N{}", i + 1), n);
    }
    let mut p = Piped::start(perl, Mode::Run).await.unwrap();
    let probes = [Probe::Primitive(Primitive::Statfs)];
    let out = p.probe(&probe_frame(&probes)).await.unwrap();
    let mine = script::parse_probe_output(&probes, &out.stdout)
        .unwrap()
        .cmd_at(0)
        .unwrap()
        .clone();
    p.finish().await;
    let theirs = std::fs::read_to_string(d.join("shell.out")).unwrap();
    let rc: i32 = std::fs::read_to_string(d.join("shell.rc"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Mount point and sizes: all but f_bavail and f_ffree.
    let steady = |t: &str| -> Vec<String> {
        t.split_terminator('\n')
            .map(|l| {
                let mut w: Vec<&str> = l.splitn(7, ' ').collect();
                if w.len() == 7 {
                    w[3] = "-";
                    w[5] = "-";
                }
                w.join(" ")
            })
            .collect()
    };
    assert_eq!(mine.rc, rc, "{mine:?}");
    assert_eq!(steady(&mine.stdout), steady(&theirs));
    for n in names.iter().chain(&["srv"]) {
        let line = format!(" {}/{n}\n", d.display());
        assert!(mine.stdout.contains(&line), "{n:?} in {}", mine.stdout);
    }
    assert!(
        !mine.stdout.contains(&format!("{}/none", d.display())),
        "{}",
        mine.stdout
    );
    std::fs::remove_dir_all(&d).unwrap();
}
