//! The chroot transport: a directory treated as a host's root filesystem.
//!
//! Opening it prepares the directory the way image builds need: `proc`, `sys` (read-only) and
//! `dev` (recursive bind, made a slave so nothing propagates back) are mounted, `/run` gets a
//! fresh tmpfs (so nothing of the build host's `/run` leaks in; `/run/sshd` and `/run/lock`
//! exist for `sshd -t` and package scripts), a dangling `resolv.conf` stub link gets a target
//! inside that tmpfs, and a `usr/sbin/policy-rc.d` answering 101 keeps package scripts from
//! starting daemons. [`Transport::close`] undoes all of it. When prov runs with `--chroot` it
//! first moves into a private mount namespace ([`private_mount_namespace`]), so the kernel
//! drops the mounts even if prov is killed.
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

use super::prober::Piped;
use super::{Counters, Exec, ExecOutput, Transport, run_process, wrap_become};
use crate::error::{Error, Result};

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const POLICY_RC_D: &str =
    "#!/bin/sh\n# Written by prov for the duration of a chroot run: no daemons start.\nexit 101\n";

/// What opening the chroot changed, to undo on close.
#[derive(Debug, Default)]
struct Prepared {
    mounts: Vec<PathBuf>,
    policy_rc_d: Option<PathBuf>,
}

pub struct Chroot {
    root: PathBuf,
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
    /// Prepare `root` and return the transport.
    pub fn open(root: &Path) -> Result<Chroot> {
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
        let chroot = Chroot {
            root: root.clone(),
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
        *chroot.prepared.lock().unwrap() = Some(prep);
        if let Err(e) = result {
            chroot.undo();
            return Err(e);
        }
        Ok(chroot)
    }

    fn prepare(&self, prep: &mut Prepared) -> Result<()> {
        let r = &self.root;
        let target = |p: &str| r.join(p);
        let mount = |prep: &mut Prepared, args: &[&str], at: PathBuf| -> Result<()> {
            let at_s = at.display().to_string();
            let mut full: Vec<&str> = args.to_vec();
            full.push(&at_s);
            run(&full)?;
            prep.mounts.push(at);
            Ok(())
        };
        if target("proc").is_dir() {
            mount(
                prep,
                &["mount", "-t", "proc", "-o", "nosuid,nodev,noexec", "proc"],
                target("proc"),
            )?;
        }
        if target("sys").is_dir() {
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
        }
        if target("dev").is_dir() {
            mount(prep, &["mount", "--rbind", "/dev"], target("dev"))?;
            run(&[
                "mount",
                "--make-rslave",
                &target("dev").display().to_string(),
            ])?;
        }
        if target("run").is_dir() {
            mount(
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
            std::fs::create_dir_all(target("run/sshd"))
                .map_err(|e| Error::io(&target("run/sshd"), e))?;
            std::fs::create_dir_all(target("run/lock"))
                .map_err(|e| Error::io(&target("run/lock"), e))?;
            // Scratch space for probe scripts ($PROV_TMP), gone with the tmpfs.
            std::fs::create_dir_all(target("run/prov"))
                .map_err(|e| Error::io(&target("run/prov"), e))?;
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(
                target("run/lock"),
                std::fs::Permissions::from_mode(0o1777),
            );
            self.fix_resolv_conf()?;
        }
        let policy = target("usr/sbin/policy-rc.d");
        if target("usr/sbin").is_dir() && std::fs::symlink_metadata(&policy).is_err() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(&policy, POLICY_RC_D).map_err(|e| Error::io(&policy, e))?;
            std::fs::set_permissions(&policy, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| Error::io(&policy, e))?;
            prep.policy_rc_d = Some(policy);
        }
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
        if let Some(p) = &prep.policy_rc_d {
            let _ = std::fs::remove_file(p);
        }
        for m in prep.mounts.iter().rev() {
            let m = m.display().to_string();
            if run(&["umount", "-R", &m]).is_err() {
                let _ = run(&["umount", "-R", "-l", &m]);
            }
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A program run with chroot(2) into the root, in a clean environment.
    fn command(&self, program: &str) -> Result<tokio::process::Command> {
        let root = CString::new(self.root.as_os_str().as_bytes())
            .map_err(|_| Error::runtime("bad chroot path"))?;
        let mut cmd = tokio::process::Command::new(program);
        cmd.env_clear()
            .env("PATH", PATH)
            .env("HOME", "/root")
            .env("LANG", "C.UTF-8")
            .env("TERM", "dumb");
        // SAFETY: chroot(2) and chdir(2) are async-signal-safe; `root` outlives the closure.
        unsafe {
            cmd.pre_exec(move || {
                if libc::chroot(root.as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Ok(cmd)
    }

    /// Answer root's probes with the prober (started on first use); `None` when there is
    /// none, and the probe script is to run as usual.
    async fn probe(
        &self,
        probes: &[crate::modules::Probe],
        timeout: Option<std::time::Duration>,
    ) -> Result<Option<ExecOutput>> {
        let mut state = self.prober.lock().await;
        if matches!(*state, Prober::Untried) {
            *state = Prober::Off;
            if self.root.join("usr/bin/perl").exists() {
                let mut perl = self.command("/usr/bin/perl")?;
                // Its scratch directory goes where the scripts' does, never into the image.
                if self.root.join("run/prov").is_dir() {
                    perl.env("TMPDIR", "/run/prov");
                }
                self.counters.channels.fetch_add(1, Ordering::Relaxed);
                if let Some(p) = Piped::start(perl).await {
                    *state = Prober::Running(Box::new(p));
                }
            }
        }
        let Prober::Running(p) = &mut *state else {
            return Ok(None);
        };
        let answer = match timeout {
            Some(t) => tokio::time::timeout(t, p.probe(probes))
                .await
                .map_err(|_| Error::runtime(format!("command timed out after {}s", t.as_secs()))),
            None => Ok(p.probe(probes).await),
        };
        match answer {
            Ok(Ok(out)) => {
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
        if as_root && self.root.join("run/prov").is_dir() {
            cmd.env("PROV_TMP", "/run/prov");
        }
        run_process(cmd, stdin, exec.timeout).await
    }

    fn describe(&self) -> String {
        format!("chroot {}", self.root.display())
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }

    fn is_root(&self) -> bool {
        true
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
