//! What a killed, interrupted or dry run leaves in a chroot: never half a file, no temp files,
//! no policy-rc.d of prov's, no mounts; a user's own policy-rc.d and mounts kept exactly; a
//! dry run that changes not a byte, a time stamp or a directory entry.
//!
//! The kill test's figures go to `$PROV_RELIABILITY_REPORT` when it is set (docs/reliability.sh
//! runs it with more kills and writes docs/reliability.md).

mod common;

use std::time::{Duration, Instant};

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

/// A process of the test's `sleep 30` runs inside this root.
fn sleeping_in(root: &Root) -> bool {
    !sleepers(root).is_empty()
}

fn sleepers(root: &Root) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("cmdline"))
                .is_ok_and(|c| c.starts_with("sleep\x0030"))
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

/// SIGKILL and SIGTERM at random points of a write-heavy apply into a chroot: every managed
/// file is old or new in full at every kill; SIGTERM cleans up by itself (exit 143, no
/// policy-rc.d, no temp files, no mounts); after SIGKILL the next run removes what was left.
#[test]
fn killed_at_any_moment_a_chroot_run_leaves_old_or_new_files_never_half() {
    let kills: usize = std::env::var("PROV_RELIABILITY_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let root = Root::new();
    reset(&root);
    let p = Project::new().file(
        "write.yml",
        &format!(
            r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: big files
      copy:
        dest: "/srv/data/f{{{{ item }}}}"
        content: "{{{{ ('new-' ~ item ~ '-') * (150000 + item * 30000) }}}}"
      loop: "{{{{ range({FILES}) | list }}}}"
    - name: a template too
      copy: {{dest: /etc/prov-written, content: "done\n"}}
"#
        ),
    );
    // One whole run, timed, sets the range of kill points.
    let started = Instant::now();
    Prov::apply(&p, "write.yml").chroot(&root).run().ok();
    let whole = started.elapsed();
    check_files(&root, "after a whole run").unwrap();
    assert_eq!(root.read("srv/data/f3"), new_content(3));

    let mut rng = Lcg(0x5eed_2026);
    let (mut sigkills, mut sigterms, mut mid_write) = (0, 0, 0);
    let mut failures = Vec::new();
    for k in 0..kills {
        reset(&root);
        let signal = if k % 3 == 2 {
            libc::SIGTERM
        } else {
            libc::SIGKILL
        };
        let delay = Duration::from_millis(rng.next(whole.as_millis() as u64 + 50));
        let run = Prov::apply(&p, "write.yml").chroot(&root).spawn();
        std::thread::sleep(delay);
        if !temp_files(&root).is_empty() {
            mid_write += 1;
        }
        run.signal(signal);
        let out = run.finish();
        if let Err(e) = check_files(&root, &format!("kill {k} after {delay:?}")) {
            failures.push(e);
        }
        if signal == libc::SIGTERM {
            sigterms += 1;
            // Handled like Ctrl-C: exit 143 once cleaned up (or 0 if it finished first).
            if !matches!(out.code, 143 | 0) {
                failures.push(format!("SIGTERM {k}: exit {}: {}", out.code, out.stdout));
            }
            if root.exists("usr/sbin/policy-rc.d") {
                failures.push(format!("SIGTERM {k}: policy-rc.d left behind"));
            }
            if !root.mounts_inside().is_empty() {
                failures.push(format!(
                    "SIGTERM {k}: mounts left: {:?}",
                    root.mounts_inside()
                ));
            }
            // The write in progress finished or was abandoned whole.
            wait_until(10, "orphaned writers to finish", || {
                temp_files(&root).is_empty()
            });
        } else {
            sigkills += 1;
            if !root.mounts_inside().is_empty() {
                failures.push(format!(
                    "SIGKILL {k}: mounts leaked: {:?}",
                    root.mounts_inside()
                ));
            }
        }
    }
    // The next run after all of that: converges, and leaves nothing of prov behind.
    Prov::apply(&p, "write.yml").chroot(&root).run().ok();
    check_files(&root, "after the last run").unwrap();
    assert_eq!(root.read("srv/data/f0"), new_content(0));
    assert!(!root.exists("usr/sbin/policy-rc.d"));
    assert_eq!(temp_files(&root), Vec::<String>::new());
    assert!(root.mounts_inside().is_empty());
    if let Ok(path) = std::env::var("PROV_RELIABILITY_REPORT") {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(
            f,
            "chroot\t{kills}\t{sigkills}\t{sigterms}\t{mid_write}\t{}\t{:.2}",
            failures.len(),
            whole.as_secs_f64()
        )
        .unwrap();
    }
    assert_eq!(failures, Vec::<String>::new());
}
