//! The chroot transport: a directory treated as a host's root filesystem.
//!
//! Opening it prepares the directory the way image builds need: `proc`, `sys` (read-only) and
//! a `dev` of its own (a tmpfs with null, zero, full, random, urandom and tty bound in, a private
//! devpts and a /dev/shm: none of the build machine's disks) are mounted, `/run` gets a
//! fresh tmpfs (so nothing of the build host's `/run` leaks in; `/run/sshd` and `/run/lock`
//! exist for `sshd -t` and package scripts), a dangling `resolv.conf` stub link gets a target
//! inside that tmpfs, and a `usr/sbin/policy-rc.d` answering 101 keeps package scripts from
//! starting daemons. What is already mounted there (as `arch-chroot` or a user preparing `/mnt`
//! by hand leave it) is used as it is and left mounted. [`Transport::close`] undoes the rest.
//! When prov runs with `--chroot` it first moves into a private mount namespace
//! ([`private_mount_namespace`]), so the kernel drops the mounts even if prov is killed.
//!
//! A chroot shares the build machine's kernel, so everything that acts on a live system is
//! refused here, whatever a role's `when:` says ([`guard`]): scripts run without the
//! capabilities to load kernel modules, reboot, set the clock or configure the network,
//! `/proc/sys` is read-only, and commands that would start services, apply sysctl settings,
//! switch swap, apply netplan or mount devices find prov's refusing stand-ins first on `PATH`.
//!
//! prov's policy-rc.d carries a marker: one left behind by a killed run is removed by the next,
//! and a policy-rc.d of the user's own, set aside for the run, is put back exactly. A dry run
//! (`--check`) writes nothing into the root at all: it mounts what is missing and nothing else.
//!
//! Scripts run as `/bin/sh` with chroot(2) into the directory and a clean environment. When the
//! root has perl, root's probes go to one [`prober`](super::prober) started in it on first use
//! (`PROV_PROBER=0` turns it off): a task that only reads files then starts no process.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use async_trait::async_trait;

use super::guard;
use super::prober::Piped;
use super::{Counters, Exec, ExecOutput, Transport, cmd_len, run_process, wrap_become};
use crate::error::{Error, Result};

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// prov's scratch directory in the root when `/run` is prov's own tmpfs: probe scripts' temp
/// files (`$PROV_TMP`), the prober's, and the refusing stand-ins ([`guard`], `SCRATCH/guard`,
/// first on every script's `PATH`). In a `/run` that was mounted already (maybe the build
/// machine's, bound in), a directory of this run's own (`/run/prov.PID`), removed at the end.
const SCRATCH: &str = "/run/prov";
/// The line by which prov knows its own policy-rc.d (also one left by a killed run).
const POLICY_MARK: &str = "# prov-policy-rc.d";
const POLICY_RC_D: &str = "#!/bin/sh\n# prov-policy-rc.d: written by prov for the duration of a chroot run, so that no\n# daemons start. A copy left behind by an interrupted run is removed by the next run.\nexit 101\n";
/// Where a user's own policy-rc.d waits while prov's is in place.
const POLICY_SAVED: &str = "usr/sbin/policy-rc.d.prov-saved";

/// Capabilities no process in the root keeps: loading kernel modules, rebooting, setting the
/// clock and configuring the network all act on the build machine (capability(7) numbers).
const DROPPED_CAPS: [(libc::c_ulong, &str); 4] = [
    (12, "CAP_NET_ADMIN"),
    (16, "CAP_SYS_MODULE"),
    (22, "CAP_SYS_BOOT"),
    (25, "CAP_SYS_TIME"),
];

/// What opening the chroot changed, to undo on close.
#[derive(Debug, Default)]
struct Prepared {
    mounts: Vec<PathBuf>,
    /// prov's policy-rc.d is in place (remove it on close).
    policy_rc_d: Option<PathBuf>,
    /// The user's own policy-rc.d was set aside (put it back on close).
    policy_saved: bool,
    /// The scratch directory inside the root (`/run/prov`), when there is one.
    scratch: Option<String>,
    /// The scratch directory prov made in a `/run` it did not mount (removed on close).
    scratch_made: Option<PathBuf>,
}

pub struct Chroot {
    root: PathBuf,
    /// A dry run: nothing is written into the root.
    check: bool,
    /// prov's scratch directory inside the root ([`SCRATCH`]).
    scratch: Option<String>,
    /// PATH for scripts: the guard first when it could be made.
    path: String,
    counters: Counters,
    prepared: Mutex<Option<Prepared>>,
    prober: tokio::sync::Mutex<Prober>,
}

/// The resident prober of a chroot.
enum Prober {
    Untried,
    Running(Box<Piped>),
    /// Not wanted, no perl in the root, or it failed: probes run as scripts.
    Off,
}

/// Move this process into a private mount namespace (call before any thread starts).
pub fn private_mount_namespace() -> std::io::Result<()> {
    // SAFETY: plain syscalls with valid arguments; called while the process is single-threaded.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn run(args: &[&str]) -> Result<()> {
    let out = std::process::Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| Error::unreachable(format!("cannot run {}: {e}", args[0])))?;
    if !out.status.success() {
        return Err(Error::unreachable(format!(
            "{} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// The devices a root needs (bound from the build machine's, so this works where mknod is not
/// allowed), a private devpts, a /dev/shm, and the usual links.
fn populate_dev(dev: &Path) -> Result<()> {
    let at = |n: &str| dev.join(n);
    for name in ["null", "zero", "full", "random", "urandom", "tty"] {
        let node = at(name);
        std::fs::write(&node, "").map_err(|e| Error::io(&node, e))?;
        run(&[
            "mount",
            "--bind",
            &format!("/dev/{name}"),
            &node.display().to_string(),
        ])?;
    }
    for dir in ["pts", "shm"] {
        std::fs::create_dir(at(dir)).map_err(|e| Error::io(&at(dir), e))?;
    }
    run(&[
        "mount",
        "-t",
        "devpts",
        "-o",
        "newinstance,ptmxmode=0666,mode=0620",
        "devpts",
        &at("pts").display().to_string(),
    ])?;
    run(&[
        "mount",
        "-t",
        "tmpfs",
        "-o",
        "mode=1777,nosuid,nodev",
        "tmpfs",
        &at("shm").display().to_string(),
    ])?;
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        std::os::unix::fs::symlink(target, at(link)).map_err(|e| Error::io(&at(link), e))?;
    }
    Ok(())
}

/// The mount points of this mount namespace (`/proc/self/mountinfo`, octal escapes undone).
fn mount_points() -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .collect()
}

/// The mount points at or below `dir` in this mount namespace.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    mount_points()
        .into_iter()
        .filter(|m| m.starts_with(dir))
        .collect()
}

/// `\040` (space), `\011`, `\012`, `\134` in mountinfo paths.
pub fn unescape_mountinfo(p: &str) -> String {
    let b = p.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 4])
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok())
        {
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A policy-rc.d prov wrote (this run's, or one an interrupted run left behind).
fn is_provs_policy(p: &Path) -> bool {
    std::fs::read(p).is_ok_and(|c| {
        let c = String::from_utf8_lossy(&c);
        c.contains(POLICY_MARK) || c.contains("# Written by prov for the duration of a chroot run")
    })
}

/// Resolve a symlink target the way it resolves inside `root`.
fn in_root(root: &Path, link_dir: &Path, target: &Path) -> PathBuf {
    let joined = if target.is_absolute() {
        target.to_path_buf()
    } else {
        link_dir.join(target)
    };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    root.join(out.strip_prefix("/").unwrap_or(&out))
}

impl Chroot {
    /// Prepare `root` and return the transport. `check`: a dry run, which must not change a
    /// byte, a time stamp or a directory entry of the root.
    pub fn open(root: &Path, check: bool) -> Result<Chroot> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err(Error::usage("--chroot needs root privileges"));
        }
        let root = root
            .canonicalize()
            .map_err(|e| Error::usage(format!("chroot directory {}: {e}", root.display())))?;
        if !root.join("bin/sh").exists() {
            return Err(Error::usage(format!(
                "{} does not look like a root filesystem (no /bin/sh)",
                root.display()
            )));
        }
        let mut chroot = Chroot {
            root: root.clone(),
            check,
            scratch: None,
            path: PATH.to_string(),
            counters: Counters::default(),
            prepared: Mutex::new(None),
            prober: tokio::sync::Mutex::new(
                if std::env::var("PROV_PROBER").as_deref() == Ok("0") {
                    Prober::Off
                } else {
                    Prober::Untried
                },
            ),
        };
        let mut prep = Prepared::default();
        let result = chroot.prepare(&mut prep);
        let scratch = prep.scratch.clone();
        *chroot.prepared.lock().unwrap() = Some(prep);
        if let Err(e) = result {
            chroot.undo();
            return Err(e);
        }
        if let Some(dir) = scratch {
            chroot.path = format!("{dir}/guard:{PATH}");
            chroot.scratch = Some(dir);
        }
        Ok(chroot)
    }

    fn prepare(&self, prep: &mut Prepared) -> Result<()> {
        let r = &self.root;
        let target = |p: &str| r.join(p);
        let mounted = mount_points();
        // Mount what is missing; what is already mounted stays as it is, and stays after.
        let mount = |prep: &mut Prepared, args: &[&str], at: PathBuf| -> Result<bool> {
            if !at.is_dir() || mounted.contains(&at) {
                return Ok(false);
            }
            let at_s = at.display().to_string();
            let mut full: Vec<&str> = args.to_vec();
            full.push(&at_s);
            run(&full)?;
            prep.mounts.push(at);
            Ok(true)
        };
        mount(
            prep,
            &["mount", "-t", "proc", "-o", "nosuid,nodev,noexec", "proc"],
            target("proc"),
        )?;
        // Kernel settings of the build machine are not the image's: /proc/sys read-only.
        let sys_ctl = target("proc/sys");
        if sys_ctl.is_dir() {
            let s = sys_ctl.display().to_string();
            run(&["mount", "--bind", &s, &s])?;
            prep.mounts.push(sys_ctl);
            run(&["mount", "-o", "remount,bind,ro", &s])?;
        }
        mount(
            prep,
            &[
                "mount",
                "-t",
                "sysfs",
                "-o",
                "ro,nosuid,nodev,noexec",
                "sysfs",
            ],
            target("sys"),
        )?;
        // A /dev of its own with only the harmless devices: the build machine's disks are not
        // there to format by mistake (a role's `mkfs`, `wipefs` or `dd` of a data disk).
        if mount(
            prep,
            &[
                "mount",
                "-t",
                "tmpfs",
                "-o",
                "mode=0755,nosuid,noexec",
                "tmpfs",
            ],
            target("dev"),
        )? {
            populate_dev(&target("dev"))?;
        }
        let own_run = mount(
            prep,
            &[
                "mount",
                "-t",
                "tmpfs",
                "-o",
                "mode=0755,nosuid,nodev",
                "tmpfs",
            ],
            target("run"),
        )?;
        if own_run {
            for dir in ["run/sshd", "run/lock"] {
                std::fs::create_dir_all(target(dir)).map_err(|e| Error::io(&target(dir), e))?;
            }
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(
                target("run/lock"),
                std::fs::Permissions::from_mode(0o1777),
            );
            self.fix_resolv_conf()?;
        }
        // Scratch space and the guard ([`SCRATCH`]).
        let scratch = if own_run {
            Some(SCRATCH.to_string())
        } else if mounted.contains(&target("run")) {
            let dir = format!("{SCRATCH}.{}", std::process::id());
            let at = target(&dir[1..]);
            let _ = std::fs::remove_dir_all(&at);
            std::fs::create_dir(&at).map_err(|e| Error::io(&at, e))?;
            prep.scratch_made = Some(at);
            Some(dir)
        } else {
            None
        };
        if let Some(dir) = &scratch {
            guard::install(&target(&format!("{}/guard", &dir[1..])))?;
        }
        prep.scratch = scratch;
        if !self.check {
            self.policy_rc_d(prep)?;
        }
        Ok(())
    }

    /// Put prov's policy-rc.d in place: a stale one of prov's (a killed run) is replaced, a
    /// user's own is set aside (and one set aside by a killed run is the user's).
    fn policy_rc_d(&self, prep: &mut Prepared) -> Result<()> {
        let sbin = self.root.join("usr/sbin");
        if !sbin.is_dir() {
            return Ok(());
        }
        let policy = sbin.join("policy-rc.d");
        let saved = self.root.join(POLICY_SAVED);
        let present = std::fs::symlink_metadata(&policy).is_ok();
        if std::fs::symlink_metadata(&saved).is_ok() {
            // An interrupted run set the user's aside; what is at the path now must be prov's.
            if present && !is_provs_policy(&policy) {
                return Err(Error::usage(format!(
                    "{} and {} both exist and the first is not prov's: which one is yours? Remove the other",
                    policy.display(),
                    saved.display()
                )));
            }
            prep.policy_saved = true;
        } else if present && !is_provs_policy(&policy) {
            std::fs::rename(&policy, &saved).map_err(|e| Error::io(&policy, e))?;
            prep.policy_saved = true;
        }
        // Written beside and renamed into place: never half a file, even if prov is killed.
        let tmp = sbin.join(".policy-rc.d.prov-new");
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let _ = std::fs::remove_file(&tmp);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o755)
                .open(&tmp)
                .map_err(|e| Error::io(&tmp, e))?;
            f.write_all(POLICY_RC_D.as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(|e| Error::io(&tmp, e))?;
        }
        std::fs::rename(&tmp, &policy).map_err(|e| Error::io(&policy, e))?;
        prep.policy_rc_d = Some(policy);
        Ok(())
    }

    /// A `resolv.conf` that links into `/run` (systemd-resolved's stub) dangles in a fresh
    /// tmpfs: give it a target there with the build host's resolvers. Nothing outside the
    /// tmpfs is touched.
    fn fix_resolv_conf(&self) -> Result<()> {
        let link = self.root.join("etc/resolv.conf");
        let Ok(target) = std::fs::read_link(&link) else {
            return Ok(());
        };
        let resolved = in_root(&self.root, Path::new("/etc"), &target);
        if resolved.exists() || !resolved.starts_with(self.root.join("run")) {
            return Ok(());
        }
        if let Some(dir) = resolved.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let host = std::fs::read("/etc/resolv.conf")
            .unwrap_or_else(|_| b"nameserver 127.0.0.1\n".to_vec());
        std::fs::write(&resolved, host).map_err(|e| Error::io(&resolved, e))
    }

    fn undo(&self) {
        // The prober has files open under /run: end it before unmounting.
        if let Ok(mut p) = self.prober.try_lock()
            && let Prober::Running(piped) = std::mem::replace(&mut *p, Prober::Off)
        {
            piped.kill();
        }
        let Some(prep) = self.prepared.lock().unwrap().take() else {
            return;
        };
        let policy = self.root.join("usr/sbin/policy-rc.d");
        if prep.policy_saved {
            // rename(2) replaces prov's with the user's in one step (also when writing prov's
            // failed after the user's was set aside).
            let _ = std::fs::rename(self.root.join(POLICY_SAVED), &policy);
        } else if prep.policy_rc_d.is_some() && is_provs_policy(&policy) {
            let _ = std::fs::remove_file(&policy);
        }
        if let Some(g) = &prep.scratch_made {
            let _ = std::fs::remove_dir_all(g);
        }
        for m in prep.mounts.iter().rev() {
            let m = m.display().to_string();
            if run(&["umount", "-R", &m]).is_err() {
                let _ = run(&["umount", "-R", "-l", &m]);
            }
        }
    }

    /// A program run with chroot(2) into the root, in a clean environment.
    fn command(&self, program: &str) -> Result<tokio::process::Command> {
        let root = CString::new(self.root.as_os_str().as_bytes())
            .map_err(|_| Error::runtime("bad chroot path"))?;
        let mut cmd = tokio::process::Command::new(program);
        cmd.env_clear()
            .env("PATH", &self.path)
            .env("HOME", "/root")
            .env("LANG", "C.UTF-8")
            .env("TERM", "dumb");
        if self.path != PATH {
            // The guard's stand-ins find the real programs on this PATH.
            cmd.env("PROV_REAL_PATH", PATH);
        }
        // SAFETY: chroot(2), chdir(2) and prctl(2) are async-signal-safe; `root` outlives the
        // closure.
        unsafe {
            cmd.pre_exec(move || {
                if libc::chroot(root.as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Best effort: without CAP_SETPCAP (some containers) the guard still refuses.
                for (cap, _) in DROPPED_CAPS {
                    libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
                }
                // Ambient capabilities would survive the exec whatever the bounding set says.
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                    0,
                    0,
                    0,
                );
                Ok(())
            });
        }
        Ok(cmd)
    }

    /// Answer root's probes with the prober (started on first use); `None` when there is
    /// none, and the probe script is to run as usual.
    async fn probe(
        &self,
        probes: &[crate::host::Probe],
        timeout: Option<std::time::Duration>,
    ) -> Result<Option<ExecOutput>> {
        let mut state = self.prober.lock().await;
        if matches!(*state, Prober::Untried) {
            *state = Prober::Off;
            if self.root.join("usr/bin/perl").exists() {
                let mut perl = self.command("/usr/bin/perl")?;
                // Its scratch directory goes where the scripts' does, never into the image.
                if let Some(dir) = &self.scratch {
                    perl.env("TMPDIR", dir);
                }
                self.counters.channels.fetch_add(1, Ordering::Relaxed);
                if let Some(p) = Piped::start(perl, super::prober::Mode::Run).await {
                    *state = Prober::Running(Box::new(p));
                }
            }
        }
        let Prober::Running(p) = &mut *state else {
            return Ok(None);
        };
        let frame = super::protocol::probe_frame(probes);
        let answer = match timeout {
            Some(t) => tokio::time::timeout(t, p.probe(&frame))
                .await
                .map_err(|_| Error::runtime(format!("command timed out after {}s", t.as_secs()))),
            None => Ok(p.probe(&frame).await),
        };
        match answer {
            Ok(Ok(out)) => {
                self.counters
                    .traffic(frame.len(), out.stdout.len() + out.stderr.len());
                self.counters.execs.fetch_add(1, Ordering::Relaxed);
                self.counters.probed.fetch_add(1, Ordering::Relaxed);
                Ok(Some(out))
            }
            // It went away: this probe and the next run as scripts.
            Ok(Err(_)) => {
                *state = Prober::Off;
                Ok(None)
            }
            Err(timed_out) => {
                if let Prober::Running(p) = std::mem::replace(&mut *state, Prober::Off) {
                    p.abort().await;
                }
                Err(timed_out)
            }
        }
    }
}

impl Drop for Chroot {
    fn drop(&mut self) {
        self.undo();
    }
}

#[async_trait]
impl Transport for Chroot {
    async fn exec(&self, exec: Exec) -> Result<ExecOutput> {
        let as_root = exec.become_.as_ref().is_none_or(|b| b.user == "root");
        if as_root
            && let Some(probes) = &exec.probes
            && let Some(out) = self.probe(probes, exec.timeout).await?
        {
            return Ok(out);
        }
        self.counters.count();
        let (script, stdin) = wrap_become(&exec.script, &exec.stdin, exec.become_.as_ref(), true);
        let mut cmd = self.command("/bin/sh")?;
        cmd.arg("-c").arg(script);
        // Root's scratch space; scripts run as another user make their own.
        if as_root && let Some(dir) = &self.scratch {
            cmd.env("PROV_TMP", dir);
        }
        let sent = cmd_len(&cmd) + stdin.len();
        let out = run_process(cmd, stdin, exec.timeout).await?;
        self.counters
            .traffic(sent, out.stdout.len() + out.stderr.len());
        Ok(out)
    }

    fn describe(&self) -> String {
        format!("chroot {}", self.root.display())
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }

    async fn close(&self) -> Result<()> {
        let prober = std::mem::replace(&mut *self.prober.lock().await, Prober::Off);
        if let Prober::Running(p) = prober {
            p.finish().await;
        }
        self.undo();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_inside_the_root() {
        let r = Path::new("/mnt");
        assert_eq!(
            in_root(
                r,
                Path::new("/etc"),
                Path::new("../run/systemd/resolve/stub-resolv.conf")
            ),
            PathBuf::from("/mnt/run/systemd/resolve/stub-resolv.conf")
        );
        assert_eq!(
            in_root(r, Path::new("/etc"), Path::new("/run/x")),
            PathBuf::from("/mnt/run/x")
        );
        assert_eq!(
            in_root(r, Path::new("/etc"), Path::new("../../../../x")),
            PathBuf::from("/mnt/x")
        );
    }
}
