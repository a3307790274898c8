//! What a killed, interrupted or dry run leaves in a chroot: never half a file, no temp files,
//! no policy-rc.d of prov's, no mounts; a user's own policy-rc.d and mounts kept exactly; a
//! dry run that changes not a byte, a time stamp or a directory entry.
//!
//! The kill test's figures go to `$PROV_RELIABILITY_REPORT` when it is set (docs/reliability.sh
//! runs it with more kills and writes docs/reliability.md).

mod common;

use std::time::{Duration, Instant};

use common::ssh::{Client, SUDO_PASSWORD, SshHost};
use common::{Project, Prov, Root, wait_until};

const OURS: &str = "#!/bin/sh\n# prov-policy-rc.d: written by prov for the duration of a chroot run, so that no\n# daemons start. A copy left behind by an interrupted run is removed by the next run.\nexit 101\n";

fn quick(content: &str) -> Project {
    Project::new().file(
        "site.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: {{dest: /etc/motd, content: \"{content}\\n\"}}\n"
        ),
    )
}

#[test]
fn a_stale_policy_rc_d_of_prov_is_removed_by_the_next_run() {
    for stale in [
        OURS.to_string(),
        // What prov wrote before it had the marker line.
        "#!/bin/sh\n# Written by prov for the duration of a chroot run: no daemons start.\nexit 101\n"
            .to_string(),
    ] {
        let root = Root::new();
        root.write("usr/sbin/policy-rc.d", &stale);
        Prov::apply(&quick("hi"), "site.yml")
            .chroot(&root)
            .run()
            .ok();
        assert!(!root.exists("usr/sbin/policy-rc.d"), "{stale}");
        assert_eq!(root.read("etc/motd"), "hi\n");
    }
}

#[test]
fn a_users_own_policy_rc_d_is_put_back_exactly() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let root = Root::new();
    let mine = "#!/bin/sh\n# the user's: everything may start\nexit 0\n";
    root.write("usr/sbin/policy-rc.d", mine);
    let f = root.file("usr/sbin/policy-rc.d");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o700)).unwrap();
    let before = std::fs::metadata(&f).unwrap();
    let p = Project::new()
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: prov's is in place during the run\n      shell: /usr/sbin/policy-rc.d; echo \"rc=$?\"\n      register: r\n      failed_when: \"'rc=101' not in r.stdout\"\n",
        )
        .file(
            "slow.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: sleep 30\n",
        );
    Prov::apply(&p, "site.yml").chroot(&root).run().ok();
    let after = std::fs::metadata(&f).unwrap();
    assert_eq!(root.read("usr/sbin/policy-rc.d"), mine);
    assert_eq!(
        (after.ino(), after.mode(), after.mtime_nsec()),
        (before.ino(), before.mode(), before.mtime_nsec())
    );
    assert!(!root.exists("usr/sbin/policy-rc.d.prov-saved"));

    // Killed mid-run: prov's stays for now, the user's waits beside it, and the next run puts
    // the user's back.
    let run = Prov::apply(&p, "slow.yml").chroot(&root).spawn();
    wait_until(20, "the run to start", || sleeping_in(&root));
    run.kill();
    assert_eq!(root.read("usr/sbin/policy-rc.d"), OURS);
    Prov::apply(&p, "site.yml").chroot(&root).run().ok();
    assert_eq!(root.read("usr/sbin/policy-rc.d"), mine);
    assert_eq!(std::fs::metadata(&f).unwrap().ino(), before.ino());
    assert!(!root.exists("usr/sbin/policy-rc.d.prov-saved"));
    kill_sleepers(&root);
}

/// Two policy-rc.d of the user's (one at the path, one where prov sets them aside): prov
/// cannot know which is the real one, so it stops and touches neither.
#[test]
fn an_ambiguous_policy_rc_d_is_an_error_not_a_guess() {
    let root = Root::new();
    root.write("usr/sbin/policy-rc.d", "#!/bin/sh\nexit 0\n");
    root.write("usr/sbin/policy-rc.d.prov-saved", "#!/bin/sh\nexit 104\n");
    Prov::apply(&quick("hi"), "site.yml")
        .chroot(&root)
        .run()
        .code(2)
        .stdout_has("which one is yours");
    assert_eq!(root.read("usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 0\n");
    assert_eq!(
        root.read("usr/sbin/policy-rc.d.prov-saved"),
        "#!/bin/sh\nexit 104\n"
    );
    assert!(root.mounts_inside().is_empty());
}

/// A process of the test's `sleep 30` runs inside this root.
fn sleeping_in(root: &Root) -> bool {
    !sleepers(root).is_empty()
}

fn sleepers(root: &Root) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("cmdline")).is_ok_and(|c| c == "sleep\x0030\x00")
                && std::fs::read_link(e.path().join("root")).is_ok_and(|r| r == root.path)
        })
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

fn kill_sleepers(root: &Root) {
    for pid in sleepers(root) {
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

#[test]
fn a_dry_run_changes_nothing_in_the_root_not_even_a_time_stamp() {
    let root = Root::new();
    root.write("etc/app.conf", "a=1\n");
    let p = Project::new().file(
        "site.yml",
        r#"
- hosts: all
  tasks:
    - copy: {dest: /etc/motd, content: "new\n"}
    - lineinfile: {path: /etc/app.conf, line: b=2}
    - file: {path: /srv/data, state: directory, mode: "0750"}
    - user: {name: alice, shell: /bin/bash}
    - systemd: {name: ssh, enabled: false}
    - command: touch /never
    - apt: {name: curl, state: present}
"#,
    );
    let before = root.snapshot_with_times();
    Prov::new()
        .cwd(&p.dir.path)
        .args(["check", "site.yml", "--diff"])
        .chroot(&root)
        .run()
        .ok()
        .stdout_has("changed: [localhost]");
    assert_eq!(
        before.diff(&root.snapshot_with_times()),
        Vec::<String>::new()
    );
    assert!(root.mounts_inside().is_empty());
}

#[test]
fn mounts_a_user_prepared_are_used_and_kept() {
    let root = Root::new();
    let r = root.path.display().to_string();
    let sh = |script: &str| {
        let st = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .status()
            .unwrap();
        assert!(st.success(), "{script}");
    };
    // As arch-chroot or a user preparing /mnt by hand leave it.
    sh(&format!(
        "mount -t proc proc {r}/proc && mount -t sysfs -o ro sysfs {r}/sys && mount --rbind /dev {r}/dev && mount --make-rslave {r}/dev && mount -t tmpfs tmpfs {r}/run"
    ));
    let before = root.mounts_inside();
    let p = Project::new().file(
        "site.yml",
        "- hosts: all\n  tasks:\n    - copy: {dest: /etc/motd, content: \"{{ ansible_distribution }}\\n\"}\n    - command: test -e /dev/null -a -d /proc/1 -a -d /sys/kernel\n",
    );
    Prov::apply(&p, "site.yml").chroot(&root).run().ok();
    assert_eq!(root.read("etc/motd"), "Debian\n");
    assert_eq!(root.mounts_inside(), before, "the user's mounts stay");
    assert!(
        !root.exists("run/prov"),
        "prov's scratch is gone from the user's /run"
    );
    assert!(!root.exists("usr/sbin/policy-rc.d"));
    sh(&format!(
        "umount {r}/run && umount -R {r}/dev && umount {r}/sys && umount {r}/proc"
    ));
}

/// A small deterministic generator for kill points.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below.max(1)
    }
}

const FILES: usize = 8;

fn old_content(i: usize) -> String {
    format!("old-{i}\n").repeat(1000 + i * 37)
}

fn new_content(i: usize) -> String {
    // 1.2-3 MB each: a write takes long enough to be killed in the middle of.
    format!("new-{i}-").repeat(150_000 + i * 30_000)
}

/// Every managed file holds its old or its new content, in full.
fn check_files(root: &Root, what: &str) -> Result<(), String> {
    for i in 0..FILES {
        let rel = format!("srv/data/f{i}");
        let got = std::fs::read(root.file(&rel)).unwrap_or_default();
        if got != old_content(i).as_bytes() && got != new_content(i).as_bytes() {
            return Err(format!(
                "{what}: {rel} is neither old nor new ({} bytes)",
                got.len()
            ));
        }
    }
    Ok(())
}

fn temp_files(root: &Root) -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["srv/data", "etc", "usr/sbin"] {
        for e in std::fs::read_dir(root.file(dir)).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(".prov_tmp") || n.contains("prov-new") {
                out.push(format!("{dir}/{n}"));
            }
        }
    }
    out
}

fn reset(root: &Root) {
    for i in 0..FILES {
        root.write(&format!("srv/data/f{i}"), &old_content(i));
    }
}

/// The write-heavy playbook: eight files of 1.2-3 MB and a small one.
fn write_project(become_: bool) -> Project {
    Project::new().file(
        "write.yml",
        &format!(
            r#"
- hosts: all
  gather_facts: false
  become: {become_}
  tasks:
    - name: big files
      copy:
        dest: "/srv/data/f{{{{ item }}}}"
        content: "{{{{ ('new-' ~ item ~ '-') * (150000 + item * 30000) }}}}"
      loop: "{{{{ range({FILES}) | list }}}}"
    - name: a small one too
      copy: {{dest: /etc/prov-written, content: "done\n"}}
"#
        ),
    )
}

/// What a series of kills found.
struct Series {
    kills: usize,
    sigkills: usize,
    sigterms: usize,
    ctrl_cs: usize,
    sighups: usize,
    /// SIGTERM or Ctrl-C that arrived before prov's first instruction.
    before_start: usize,
    /// Kills that landed while a temp file existed (a write in progress).
    mid_write: usize,
    failures: Vec<String>,
    whole: Duration,
}

/// SIGKILL (two of five), SIGTERM, Ctrl-C and SIGHUP at random points of `apply`, which writes
/// the managed files of `root`; `chroot` adds the chroot's own checks (mounts, policy-rc.d).
fn kill_series(root: &Root, chroot: bool, apply: &dyn Fn() -> Prov) -> Series {
    let kills: usize = std::env::var("PROV_RELIABILITY_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    reset(root);
    // One whole run, timed, sets the range of kill points.
    let started = Instant::now();
    apply().run().ok();
    let whole = started.elapsed();
    check_files(root, "after a whole run").unwrap();
    assert_eq!(root.read("srv/data/f3"), new_content(3));

    let mut rng = Lcg(0x5eed_2026);
    let mut series = Series {
        kills,
        sigkills: 0,
        sigterms: 0,
        ctrl_cs: 0,
        sighups: 0,
        before_start: 0,
        mid_write: 0,
        failures: Vec::new(),
        whole,
    };
    for k in 0..kills {
        reset(root);
        // Two of five SIGKILL, one SIGTERM and one SIGHUP to prov, one Ctrl-C to prov's process
        // group (the write script in the target's process group gets it too when it is local).
        let signal = match k % 5 {
            2 => libc::SIGTERM,
            3 => libc::SIGINT,
            4 => libc::SIGHUP,
            _ => libc::SIGKILL,
        };
        let delay = Duration::from_millis(rng.next(whole.as_millis() as u64 + 50));
        let run = apply().spawn_job();
        std::thread::sleep(delay);
        if !temp_files(root).is_empty() {
            series.mid_write += 1;
        }
        if signal == libc::SIGINT {
            run.ctrl_c();
        } else {
            run.signal(signal);
        }
        let out = run.finish();
        if let Err(e) = check_files(root, &format!("kill {k} after {delay:?}")) {
            series.failures.push(e);
        }
        if signal != libc::SIGKILL {
            match signal {
                libc::SIGTERM => series.sigterms += 1,
                libc::SIGHUP => series.sighups += 1,
                _ => series.ctrl_cs += 1,
            }
            // Handled like Ctrl-C: exit 99 (Ctrl-C, as ansible-playbook) or 128 + signal once
            // cleaned up (0 if it finished first).
            // A signal in the first instants, while the dynamic loader still runs (before
            // prov's first instruction holds signals back), kills it with nothing begun.
            if out.code == -1 && out.stdout.is_empty() {
                series.before_start += 1;
            } else if out.code != 0
                && out.code
                    != if signal == libc::SIGINT {
                        99
                    } else {
                        128 + signal
                    }
            {
                series.failures.push(format!(
                    "signal {signal} {k}: exit {}: {}",
                    out.code, out.stdout
                ));
            }
            if chroot && root.exists("usr/sbin/policy-rc.d") {
                series
                    .failures
                    .push(format!("signal {signal} {k}: policy-rc.d left behind"));
            }
            // The write in progress finished or was abandoned whole.
            wait_until(20, "writers to finish", || temp_files(root).is_empty());
        } else {
            series.sigkills += 1;
        }
        if chroot && !root.mounts_inside().is_empty() {
            series.failures.push(format!(
                "kill {k}: mounts leaked: {:?}",
                root.mounts_inside()
            ));
        }
        // Files are checked again once every writer of the killed run is gone. A writer is a
        // script of its own and finishes or removes its temp file by itself; prov's own
        // `.policy-rc.d.prov-new`, caught by a SIGKILL between its write and its rename, has
        // no one left to remove it: the next run does (checked at the end of the series).
        wait_until(20, "writers to finish", || {
            temp_files(root)
                .iter()
                .all(|f| signal == libc::SIGKILL && f.contains("prov-new"))
        });
        if let Err(e) = check_files(root, &format!("kill {k} after {delay:?}, settled")) {
            series.failures.push(e);
        }
    }
    // The next run after all of that: converges, and leaves nothing of prov behind.
    apply().run().ok();
    check_files(root, "after the last run").unwrap();
    assert_eq!(root.read("srv/data/f0"), new_content(0));
    assert_eq!(temp_files(root), Vec::<String>::new());
    if chroot {
        assert!(!root.exists("usr/sbin/policy-rc.d"));
        assert!(root.mounts_inside().is_empty());
    }
    series
}

/// Append a series' figures to `$PROV_RELIABILITY_REPORT` (docs/reliability.sh).
fn report(target: &str, s: &Series) {
    append_report(format!(
        "{target}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.2}",
        s.kills,
        s.sigkills,
        s.sigterms,
        s.ctrl_cs,
        s.sighups,
        s.before_start,
        s.mid_write,
        s.failures.len(),
        s.whole.as_secs_f64()
    ));
}

/// One line of figures for docs/reliability.sh, when it asked for them.
fn append_report(line: String) {
    if let Ok(path) = std::env::var("PROV_RELIABILITY_REPORT") {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(f, "{line}").unwrap();
    }
}

/// SIGKILL, SIGTERM, Ctrl-C and SIGHUP at random points of a write-heavy apply into a chroot:
/// every managed file is old or new in full at every kill; SIGTERM, Ctrl-C and SIGHUP clean up
/// by themselves (exit 143/99/129, no policy-rc.d, no temp files, no mounts); after SIGKILL the next run removes
/// what was left.
#[test]
fn killed_at_any_moment_a_chroot_run_leaves_old_or_new_files_never_half() {
    let root = Root::new();
    let p = write_project(false);
    let s = kill_series(&root, true, &|| Prov::apply(&p, "write.yml").chroot(&root));
    report("chroot", &s);
    assert_eq!(s.failures, Vec::<String>::new());
}

/// The same over SSH, through the persistent session and through one channel per script
/// (`PROV_SSH_SESSIONS=0`), with passwordless sudo and with a sudo password (fed on stdin
/// ahead of the content).
#[test]
fn killed_at_any_moment_an_ssh_run_leaves_old_or_new_files_never_half() {
    let client = Client::new();
    let host = SshHost::start("killme", &client);
    client.trust(&[&host]);
    let p = write_project(true)
        .file("hosts.yml", &client.inventory(&[&host], "tester"))
        .file(
            "pw.yml",
            &format!(
                "{}      ansible_become_password: {SUDO_PASSWORD}\n",
                client.inventory(&[&host], "pwuser")
            ),
        );
    for (target, sessions, inventory) in [
        ("ssh session", "1", "hosts.yml"),
        ("ssh per-script", "0", "hosts.yml"),
        ("ssh sudo password", "1", "pw.yml"),
    ] {
        let s = kill_series(&host.root, false, &|| {
            client
                .prov()
                .cwd(&p.dir.path)
                .args(["apply", "write.yml", "-i", inventory])
                .env("PROV_SSH_SESSIONS", sessions)
        });
        report(target, &s);
        assert_eq!(s.failures, Vec::<String>::new(), "{target}");
    }
}

/// Temp files of writers that died (their PID is in the name) are removed by the next write
/// into their directory; a live writer's is left alone.
#[test]
fn the_next_write_removes_temp_files_of_dead_writers() {
    let root = Root::new();
    // The chroot shares this machine's kernel: its host name and its PIDs.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host = host.trim().split('.').next().unwrap().to_string();
    // Above any pid_max: no such process can exist.
    let dead = format!("etc/.prov_tmp.{host}.4194999.AbCdEf");
    root.write(&dead, "half a file");
    let live = format!("etc/.prov_tmp.{host}.{}.XyZ123", std::process::id());
    root.write(&live, "a write in progress");
    // Another machine's writer (a shared directory): its PIDs mean nothing here.
    root.write(
        "etc/.prov_tmp.othermachine.4194999.AbCdEf",
        "someone else's",
    );
    Prov::apply(&quick("hi"), "site.yml")
        .chroot(&root)
        .run()
        .ok();
    assert!(!root.exists(&dead));
    assert!(root.exists(&live));
    assert!(root.exists("etc/.prov_tmp.othermachine.4194999.AbCdEf"));
}

/// Mutate a YAML text: delete, duplicate or swap lines, insert YAML and Jinja syntax, break
/// indentation, cut it short, or nest deeply.
fn mutate(text: &str, rng: &mut Lcg) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let n = lines.len().max(1) as u64;
    const BITS: &[&str] = &[
        ":",
        "- ",
        "{",
        "}",
        "[",
        "]",
        "*a",
        "&a ",
        "!!",
        "|",
        ">",
        "'",
        "\"",
        "{{",
        "}}",
        "{%",
        "%}",
        "\t",
        "#",
        "? ",
        "<<: *x",
        "\u{0}",
        "\u{feff}",
        "\\",
        "---",
        "...",
        "@",
        "`",
        "{{ x | foo(1, }}",
        "{{ lookup('file', '/etc/shadow') }}",
        "!vault |",
        "%YAML 1.1",
    ];
    for _ in 0..=rng.next(3) {
        let at = rng.next(n) as usize % lines.len().max(1);
        match rng.next(8) {
            0 if !lines.is_empty() => {
                lines.remove(at);
            }
            1 if !lines.is_empty() => {
                let l = lines[at].clone();
                lines.insert(at, l);
            }
            2 if lines.len() > 1 => {
                let other = rng.next(n) as usize % lines.len();
                lines.swap(at, other);
            }
            3 if !lines.is_empty() => {
                let l = &mut lines[at];
                let mut cut = rng.next(l.len() as u64 + 1) as usize;
                while !l.is_char_boundary(cut) {
                    cut -= 1;
                }
                l.insert_str(cut, BITS[rng.next(BITS.len() as u64) as usize]);
            }
            4 if !lines.is_empty() => {
                let l = &mut lines[at];
                if rng.next(2) == 0 {
                    l.insert_str(0, "  ");
                } else if l.starts_with(' ') {
                    l.remove(0);
                }
            }
            5 => lines.truncate(at),
            6 => {
                let depth = 1 + rng.next(5000) as usize;
                lines.insert(at, format!("x: {}{}", "[".repeat(depth), "]".repeat(depth)));
            }
            _ => {
                let l = BITS[rng.next(BITS.len() as u64) as usize];
                lines.insert(at, l.to_string());
            }
        }
    }
    lines.join("\n") + "\n"
}

/// Mutated playbooks, role task files and inventories (from this repository's own) never make
/// prov abort: every run ends in a result or an error, and every parse error says where.
#[test]
fn mutated_playbooks_and_inventories_end_in_errors_never_aborts() {
    let cases: usize = std::env::var("PROV_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let repo = common::repo_root();
    let read = |rel: &str| std::fs::read_to_string(repo.join(rel)).unwrap();
    let originals = [
        ("playbooks/worker.yml", read("playbooks/worker.yml")),
        (
            "roles/user_management/tasks/main.yml",
            read("roles/user_management/tasks/main.yml"),
        ),
        (
            "roles/kubernetes_components/tasks/main.yml",
            read("roles/kubernetes_components/tasks/main.yml"),
        ),
        (
            "inventory/production/hosts.yml",
            read("inventory/production/hosts.yml"),
        ),
    ];
    let mut rng = Lcg(0xf022_2026);
    let (mut errors, mut ok, mut without_place) = (0, 0, Vec::new());
    let work = common::TempDir::new("fuzz");
    let copy = |from: &std::path::Path, to: &std::path::Path| {
        let st = std::process::Command::new("cp")
            .arg("-a")
            .arg(from)
            .arg(to)
            .status()
            .unwrap();
        assert!(st.success());
    };
    for dir in ["playbooks", "roles", "inventory", "vars"] {
        copy(&repo.join(dir), &work.path.join(dir));
    }
    copy(&repo.join("ansible.cfg"), &work.path.join("ansible.cfg"));
    for case in 0..cases {
        let (rel, text) = &originals[case % originals.len()];
        let mutated = mutate(text, &mut rng);
        std::fs::write(work.path.join(rel), &mutated).unwrap();
        let args: &[&str] = if rel.starts_with("inventory") {
            &["inventory", "--list"]
        } else {
            &["apply", "playbooks/worker.yml", "--syntax-check"]
        };
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_prov"))
            .current_dir(&work.path)
            .args(args)
            .output()
            .unwrap();
        std::fs::write(work.path.join(rel), text).unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.code().is_some() && !stderr.contains("panicked"),
            "case {case}: prov aborted ({:?}) on {rel}:\n{mutated}\n{stderr}",
            out.status
        );
        if out.status.success() {
            ok += 1;
            continue;
        }
        errors += 1;
        // file:line[:col] of the file or of another one it led to.
        let placed = regex_lite_place(&stderr);
        if !placed {
            without_place.push(format!("case {case} ({rel}): {}", stderr.trim()));
        }
    }
    append_report(format!(
        "fuzz\t{cases}\t{ok}\t{errors}\t{}",
        without_place.len()
    ));
    assert_eq!(without_place, Vec::<String>::new());
}

/// Whether an error message names a place: `some.yml:12` (with or without a column).
fn regex_lite_place(text: &str) -> bool {
    text.split(".yml:")
        .skip(1)
        .chain(text.split(".yaml:").skip(1))
        .any(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}
