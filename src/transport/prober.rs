//! The resident prober: one long-lived perl process per host (perl-base is essential on Debian
//! and Ubuntu) that answers a task's file probes and [queries](crate::host::query) itself.
//! Over SSH it is the persistent session ([`super::ssh::session`]) instead of the shell loop;
//! in a chroot it is a child process of prov started in the root ([`Piped`]).
//!
//! Why: on a run with nothing to change nearly all of a host's CPU goes into short-lived
//! processes, about a millisecond each (fork, exec, dynamic linking): per task the shell loop's
//! `head` reading the script, then `stat` and `head -c` for every file the task compares. The
//! prober answers those with system calls (`lstat`, `readlink`, `read`) in the one process that
//! stays for the whole run, and runs only what needs a shell in one.
//!
//! It speaks the shell loop's [`protocol`](super::protocol), script frames (each script run by
//! `/bin/sh` on its own stdin) and the probe frame the shell loop does not know.
//! Its answer is exactly what [`super::script::probe_script`] would print for the same probes (the
//! same tagged records, parsed by the same [`super::script::parse_probe_output`]); a unit test runs
//! both on the same files and compares. It announces itself with `@PROV-PROBER` where the
//! shell loop says `@PROV-READY`; a host without perl, or whose perl does not start, gets the
//! shell loop (or no session) as before, and a chroot without perl runs every probe as a
//! script.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::host::{CONTENT_LIMIT, Probe};
use crate::shlex::quote;
use crate::transport::ExecOutput;
use crate::transport::protocol::{nonce, probe_frame, take_answer};

/// The program (perl builtins only).
const PROGRAM: &str = include_str!("prober.pl");

/// Shell lines that run the prober when the host has perl and end the session's shell when it
/// ended well (at the end of its input); they fall through to the shell loop when perl is
/// missing or fails (a perl that cannot start says so before it is ready).
pub fn start_lines(nonce: &str) -> String {
    format!(
        "if command -v perl >/dev/null 2>&1; then\n    perl -e {} {nonce} {CONTENT_LIMIT} && exit 0\nfi\n",
        quote(PROGRAM)
    )
}

/// A prober run as a child process of prov (in a chroot), spoken to over its stdin and stdout.
pub struct Piped {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::process::ChildStdout,
    nonce: String,
    buf: Vec<u8>,
}

impl Piped {
    /// Start `perl` (a command the caller prepared: chroot, environment) with the program, and
    /// wait until it is ready; `None` when it does not start or says something else.
    pub async fn start(mut perl: tokio::process::Command) -> Option<Piped> {
        use std::process::Stdio;
        let nonce = nonce();
        perl.arg("-e")
            .arg(PROGRAM)
            .arg(&nonce)
            .arg(CONTENT_LIMIT.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut child = perl.spawn().ok()?;
        let mut p = Piped {
            stdin: child.stdin.take()?,
            stdout: child.stdout.take()?,
            child,
            nonce,
            buf: Vec::new(),
        };
        const READY: &[u8] = b"@PROV-PROBER\n";
        while p.buf.len() < READY.len() {
            if !p.read().await {
                return None;
            }
        }
        if !p.buf.starts_with(READY) {
            return None;
        }
        p.buf.drain(..READY.len());
        Some(p)
    }

    async fn read(&mut self) -> bool {
        let mut chunk = [0u8; 65536];
        match self.stdout.read(&mut chunk).await {
            Ok(n) if n > 0 => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            _ => false,
        }
    }

    /// The output [`super::script::probe_script`] would give for these probes; an error when the
    /// prober went away.
    pub async fn probe(&mut self, probes: &[Probe]) -> Result<ExecOutput, String> {
        self.stdin
            .write_all(&probe_frame(probes))
            .await
            .map_err(|e| e.to_string())?;
        loop {
            if let Some(answer) = take_answer(&mut self.buf, &self.nonce) {
                return answer;
            }
            if !self.read().await {
                return Err("the prober ended".into());
            }
        }
    }

    /// End it (it removes its scratch directory) and wait briefly for that.
    pub async fn finish(self) {
        let Piped {
            mut child, stdin, ..
        } = self;
        drop(stdin);
        let wait = tokio::time::timeout(std::time::Duration::from_secs(3), child.wait());
        if wait.await.is_err() {
            let _ = child.kill().await;
        }
    }

    /// Stop it now.
    pub async fn abort(mut self) {
        let _ = self.child.kill().await;
    }

    /// Stop it now, without awaiting (for drop paths).
    pub fn kill(mut self) {
        let _ = self.child.start_kill();
        for _ in 0..100 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::query::{Policy, Query};
    use crate::host::{Answer, CmdOutput, FileProbe};
    use crate::transport::protocol::script_frame;
    use crate::transport::script;
    use std::io::Write;

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

    /// Run the probes through the prober, and through the probe script in a shell; both
    /// parsed.
    fn both_ways(probes: &[Probe]) -> (crate::host::Observed, crate::host::Observed) {
        let theirs = by_shell(probes);
        (
            natively(probes, &std::env::var("PATH").unwrap_or_default()),
            theirs,
        )
    }

    /// The probes' answers from the probe script run by the shell.
    fn by_shell(probes: &[Probe]) -> crate::host::Observed {
        let shell = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(script::probe_script(probes))
            .output()
            .unwrap();
        script::parse_probe_output(probes, &shell.stdout).unwrap()
    }

    /// The probes' answers from the prober, run with this PATH.
    fn natively(probes: &[Probe], path: &str) -> crate::host::Observed {
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

    /// Queries answered by the prober, by the shell, and by the prober with no program on
    /// its PATH (only what it answers itself): for the queries `native` picks, all three
    /// agree; for the others, the first two.
    fn three_ways(queries: &[Query], native: impl Fn(&Query, &CmdOutput) -> bool) -> usize {
        let probes: Vec<Probe> = queries.iter().cloned().map(Probe::Query).collect();
        let (mine, theirs) = both_ways(&probes);
        let empty = tempdir("empty-path");
        let alone = natively(&probes, &empty.display().to_string());
        let mut own = 0;
        for (i, q) in queries.iter().enumerate() {
            let (a, b) = (mine.cmd_at(i).unwrap(), theirs.cmd_at(i).unwrap());
            assert_eq!(a, b, "{q:?}");
            if native(q, b) {
                assert_eq!(alone.cmd_at(i).unwrap(), b, "{q:?} needed a program");
                own += 1;
            }
        }
        std::fs::remove_dir_all(&empty).unwrap();
        own
    }

    /// `systemctl is-enabled` is answered natively for enabled units, and as systemctl
    /// answers for every unit of this machine (enabled, disabled, static, aliases, templates,
    /// missing ones).
    #[test]
    fn unit_states_are_answered_as_systemctl_answers_them() {
        if !std::path::Path::new("/usr/bin/systemctl").exists() {
            eprintln!("no systemctl here: nothing to compare");
            return;
        }
        let mut names: Vec<String> = ["/lib/systemd/system", "/etc/systemd/system"]
            .iter()
            .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".d") && !n.ends_with(".wants") && n.contains('.'))
            .collect();
        names.sort();
        names.dedup();
        // Without a suffix, a service; and names nothing has.
        let bare: Vec<String> = names
            .iter()
            .filter_map(|n| n.strip_suffix(".service").map(str::to_string))
            .collect();
        names.extend(bare);
        names.extend([
            "no-such-unit".into(),
            "no-such.timer".into(),
            "getty@tty1".into(),
        ]);
        let queries: Vec<Query> = names.into_iter().map(Query::UnitState).collect();
        // In chunks: a shell command line has a limit.
        let own: usize = queries
            .chunks(40)
            .map(|c| {
                three_ways(c, |q, out| {
                    let Query::UnitState(n) = q else { return false };
                    !n.contains('@') && out.stdout.contains("\nenabled=enabled\n")
                })
            })
            .sum();
        // This machine has enabled units (systemd's own timers at least), or nothing was
        // shown.
        let enabled = std::fs::read_dir("/etc/systemd/system")
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".wants"));
        assert!(own > 0 || !enabled, "no unit was answered natively");
    }

    /// The packages query answers `dpkg-query` natively for installed packages (every one of
    /// this machine's), and asks apt exactly when the shell form does.
    #[test]
    fn packages_are_answered_as_dpkg_query_answers_them() {
        let status = std::fs::read_to_string("/var/lib/dpkg/status").unwrap();
        let available = std::fs::read_to_string("/var/lib/dpkg/available").unwrap_or_default();
        let mut names: Vec<String> = status
            .lines()
            .filter_map(|l| l.strip_prefix("Package: ").map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        assert!(names.iter().any(|n| n == "dpkg"));
        // A file's paragraphs for a package.
        let paragraphs = |file: &str, n: &str| -> Vec<String> {
            file.split("\n\n")
                .filter(|p| p.trim_start().starts_with(&format!("Package: {n}\n")))
                .map(str::to_string)
                .collect()
        };
        let field = |p: &str, f: &str| {
            p.lines()
                .find_map(|l| l.strip_prefix(&format!("{f}: ")).map(str::to_string))
        };
        let version = |n: &str| {
            let p = paragraphs(&status, n);
            field(p.first()?, "Version")
        };
        // What the prober answers itself: one instance with a version, no other architecture
        // in the available file.
        let simple = |n: &str| {
            let p = paragraphs(&status, n);
            p.len() == 1
                && field(&p[0], "Version").is_some()
                && paragraphs(&available, n)
                    .iter()
                    .all(|a| field(a, "Architecture") == field(&p[0], "Architecture"))
        };
        let (easy, hard): (Vec<String>, Vec<String>) =
            names.iter().cloned().partition(|n| simple(n));
        let dpkg_version = version("dpkg").unwrap();
        let plain = |names: Vec<String>| Query::Packages {
            names,
            policy: None,
        };
        let mut queries: Vec<Query> = easy
            .chunks(50)
            .chain(hard.chunks(50))
            .map(|c| plain(c.to_vec()))
            .collect();
        let policy = |names: &[&str], always: bool, wanted: &[String]| Query::Packages {
            names: names.iter().map(|s| s.to_string()).collect(),
            policy: Some(Policy {
                always,
                wanted: wanted.to_vec(),
            }),
        };
        queries.extend([
            // Unsorted, repeated: dpkg sorts and shows each once.
            plain(vec!["dpkg".into(), "bash".into(), "dpkg".into()]),
            policy(&["dpkg", "bash"], false, &["dpkg".into(), "bash".into()]),
            policy(&["dpkg"], false, &[format!("dpkg={dpkg_version}")]),
            // These ask apt.
            policy(&["dpkg"], false, &["dpkg=0.0-not-this".into()]),
            policy(&["dpkg"], true, &["dpkg".into()]),
            policy(
                &["dpkg", "no-such-package-prov"],
                false,
                &["dpkg".into(), "no-such-package-prov".into()],
            ),
            plain(vec!["no-such-package-prov".into()]),
            plain(vec!["dpkg:amd64".into(), "bas*".into()]),
        ]);
        let own = three_ways(&queries, |q, _| match q {
            Query::Packages { names, policy } => {
                names.iter().all(|n| simple(n) && !n.contains([':', '*']))
                    && policy.as_ref().is_none_or(|p| {
                        !p.always && p.wanted.iter().all(|w| !w.contains("not-this"))
                    })
            }
            _ => false,
        });
        assert!(simple("dpkg"));
        assert!(own >= easy.len() / 50 + 3, "{own}");
    }

    /// The facts, natively and by the facts script, for every subset and both kinds of
    /// target: the same lines (the free memory and the uptime aside, which move).
    #[test]
    fn facts_are_answered_as_the_facts_script_answers_them() {
        use crate::host::facts_script::Subsets;
        let mut queries = Vec::new();
        for network in [true, false] {
            for hardware in [true, false] {
                for chroot in [true, false] {
                    queries.push(Query::Facts {
                        subsets: Subsets { network, hardware },
                        chroot,
                    });
                }
            }
        }
        let probes: Vec<Probe> = queries.iter().cloned().map(Probe::Query).collect();
        let (mine, theirs) = both_ways(&probes);
        let steady = |o: &CmdOutput| -> String {
            o.stdout
                .lines()
                .filter(|l| !l.starts_with("memfree_kb=") && !l.starts_with("uptime="))
                .map(|l| format!("{l}\n"))
                .collect()
        };
        for (i, q) in queries.iter().enumerate() {
            let (a, b) = (mine.cmd_at(i).unwrap(), theirs.cmd_at(i).unwrap());
            assert_eq!((a.rc, &a.stderr), (b.rc, &b.stderr), "{q:?}");
            assert_eq!(steady(a), steady(b), "{q:?}");
        }
        // And they are this machine's.
        let all = &mine.cmd_at(0).unwrap().stdout;
        let uname = std::process::Command::new("uname")
            .arg("-m")
            .output()
            .unwrap();
        let arch = String::from_utf8(uname.stdout).unwrap();
        assert!(
            all.contains(&format!("\nuname_m={}\n", arch.trim())),
            "{all}"
        );
        let id = |a: &str| {
            let o = std::process::Command::new("id").arg(a).output().unwrap();
            String::from_utf8(o.stdout).unwrap().trim().to_string()
        };
        assert!(all.contains(&format!("\nuser_uid={}\n", id("-u"))), "{all}");
        assert!(all.contains(&format!("\nuser_id={}\n", id("-un"))), "{all}");
        for k in ["osr_ID=", "vcpus=", "interfaces=", "elf=", "memtotal_kb="] {
            assert!(all.contains(&format!("\n{k}")), "{k} in {all}");
        }
        // The prober says the same as a cold shell, with the volatile lines as they are.
        let facts = crate::modules::facts::parse(all);
        assert!(facts.contains_key("architecture"), "{facts:?}");
    }

    /// `dpkg --get-selections '*'` natively, on this machine's dpkg database.
    #[test]
    fn selections_are_answered_as_dpkg_answers_them() {
        // Natively unless a package has several architectures or foreign ones are configured.
        let status = std::fs::read_to_string("/var/lib/dpkg/status").unwrap();
        let mut names: Vec<&str> = status
            .lines()
            .filter_map(|l| l.strip_prefix("Package: "))
            .collect();
        let all = names.len();
        names.sort();
        names.dedup();
        let native = names.len() == all && !std::path::Path::new("/var/lib/dpkg/arch").exists();
        let own = three_ways(&[Query::Selections], |_, _| native);
        assert_eq!(own, usize::from(native));
    }

    /// Digests: SHA-1 natively for files up to 1 KiB, the `*sum` programs otherwise, nothing for
    /// what is not a readable regular file.
    #[test]
    fn digests_are_answered_as_the_sum_programs_answer_them() {
        let d = tempdir("digests");
        let mut queries = Vec::new();
        for n in [
            0usize, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 1000, 1024, 1025, 200_000,
        ] {
            let f = d.join(format!("f{n}"));
            let bytes: Vec<u8> = (0..n).map(|i| (i * 7 + n) as u8).collect();
            std::fs::write(&f, bytes).unwrap();
            for algo in ["sha1", "sha256", "md5"] {
                queries.push(Query::Digest {
                    algo: algo.into(),
                    path: f.display().to_string(),
                });
            }
        }
        std::os::unix::fs::symlink(d.join("f64"), d.join("link")).unwrap();
        for p in ["link", "missing", "."] {
            queries.push(Query::Digest {
                algo: "sha1".into(),
                path: d.join(p).display().to_string(),
            });
        }
        let own = three_ways(&queries, |q, _| match q {
            Query::Digest { algo, path } => {
                algo == "sha1" && std::fs::metadata(path).map_or(true, |m| m.len() <= 1024)
            }
            _ => false,
        });
        assert!(own >= 14, "{own}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// Every query answered natively gives what its shell form prints, on this machine's own
    /// users, groups, files and apt lists.
    #[test]
    fn queries_are_answered_as_their_shell_forms_answer_them() {
        use crate::host::query::Db;
        let d = tempdir("queries");
        let path = |n: &str| d.join(n).display().to_string();
        std::fs::write(d.join("value"), "1\n").unwrap();
        std::fs::write(d.join("partial"), "one\ntwo\nno newline").unwrap();
        std::fs::create_dir(d.join(".ssh")).unwrap();
        std::fs::write(d.join(".ssh/keys"), "ssh-ed25519 AAAA a@b\n").unwrap();
        std::fs::set_permissions(
            d.join(".ssh"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // A group with members, if this machine has one (for supplementary groups).
        let (group, member) = std::fs::read_to_string("/etc/group")
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                let first = f.get(3)?.split(',').next()?;
                (!first.is_empty()).then(|| (f[0].to_string(), first.to_string()))
            })
            .unwrap_or_else(|| ("root".into(), "root".into()));
        let queries = vec![
            Query::Getent {
                db: Db::Passwd,
                keys: words(&["root", "nosuchuser", "daemon", "65534", &member]),
            },
            Query::Getent {
                db: Db::Group,
                keys: words(&["root", &group, "nosuchgroup", "0", "users"]),
            },
            Query::GroupNames("root".into()),
            Query::GroupNames(member.clone()),
            Query::GroupNames("nobody".into()),
            Query::GroupNames("nosuchuser".into()),
            Query::ShadowHash("root".into()),
            Query::ShadowHash("nosuchuser".into()),
            Query::Lines("/proc/sys/kernel/ostype".into()),
            Query::Lines(path("value")),
            Query::Lines(path("partial")),
            Query::Lines(path("missing")),
            Query::AuthorizedKeys {
                user: "root".into(),
                path: None,
            },
            Query::AuthorizedKeys {
                user: "root".into(),
                path: Some(path(".ssh/keys")),
            },
            Query::AuthorizedKeys {
                user: "root".into(),
                path: Some(path(".ssh/missing")),
            },
            Query::AuthorizedKeys {
                user: "nosuchuser".into(),
                path: None,
            },
            Query::AptListsAge,
        ];
        let probes: Vec<Probe> = queries.iter().cloned().map(Probe::Query).collect();
        let (mine, theirs) = both_ways(&probes);
        for (i, q) in queries.iter().enumerate() {
            let (a, b) = (mine.cmd_at(i).unwrap(), theirs.cmd_at(i).unwrap());
            if *q == Query::AptListsAge {
                // Seconds may tick between the two.
                let age = |t: &str| -> i64 {
                    t.lines()
                        .find_map(|l| l.strip_prefix("cache_age="))
                        .unwrap()
                        .parse()
                        .unwrap()
                };
                assert!((age(&a.stdout) - age(&b.stdout)).abs() <= 1, "{a:?} {b:?}");
                assert_eq!(a.stdout.lines().nth(1), b.stdout.lines().nth(1));
                continue;
            }
            assert_eq!(a, b, "{q:?}");
        }
        // Not the same mistake twice: the answers are the machine's.
        assert!(mine.cmd_at(0).unwrap().stdout.starts_with("root:x:0:0:"));
        if mine
            .cmd_at(0)
            .unwrap()
            .stdout
            .contains(&format!("{member}:x:"))
        {
            assert!(mine.cmd_at(3).unwrap().stdout.contains(&group));
        }
        assert_eq!(mine.cmd_at(9).unwrap().stdout, "1\n");
        assert_eq!(mine.cmd_at(10).unwrap().stdout, "one\ntwo\n");
        assert!(
            mine.cmd_at(13)
                .unwrap()
                .stdout
                .contains("dir=700|0|0\nfile=644|0|0\ncontent:\nssh-ed25519 AAAA a@b\n")
        );
        assert_eq!(mine.cmd_at(15).unwrap().stdout, "nouser\n");
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A query the prober does not know fails (exit code 127), rather than answering nothing.
    #[test]
    fn unknown_queries_fail() {
        let probes = vec![Probe::Query(crate::host::query::Query::Lines(
            "/proc/sys/kernel/ostype".into(),
        ))];
        let mut f = probe_frame(&probes);
        let at = f.windows(5).position(|w| w == b"lines").unwrap();
        f[at..at + 5].copy_from_slice(b"lined");
        let out = prober(&[f]);
        assert!(
            String::from_utf8_lossy(&out).contains("@X 0 127 0 0\n\n"),
            "{}",
            String::from_utf8_lossy(&out)
        );
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
}
