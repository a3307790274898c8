//! Transports: how prov reaches a host.
//!
//! A [`Transport`] does one thing: run a POSIX shell script on the target with some bytes on
//! its stdin and return rc/stdout/stderr — one round trip. Everything else (reading several
//! files and stats at once, writing a file atomically with owner/mode, running a command) is
//! built on that in [`script`], identically for every transport, so a chroot run exercises
//! exactly the code an SSH run uses and targets need nothing but `sh`, coreutils and awk. (An
//! SSH host or chroot with perl answers probes through [`prober`] instead, with the same output:
//! [`Exec::probes`] says which probes a script answers.)
//!
//! Implementations: [`local::Local`] (the controller itself), [`chroot::Chroot`] (a directory
//! prepared as a root filesystem, commands run with chroot(2); [`guard`] keeps live-only
//! commands from reaching the build machine) and [`ssh::Ssh`] (russh, with persistent
//! sessions). The host vocabulary they answer and execute is [`crate::host`]; the framing of
//! the resident sessions is [`protocol`].

pub mod agent;
pub mod chroot;
pub mod guard;
pub mod journal;
pub mod local;
pub mod prober;
pub mod protocol;
pub mod script;
pub mod ssh;
pub mod tty;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;

/// Privilege escalation for a script.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Become {
    pub user: String,
    /// `sudo` or `su`.
    pub method: String,
    /// A sudo password; sent on stdin, never in argv or logs.
    pub password: Option<String>,
}

/// One script to run.
#[derive(Clone, Debug, Default)]
pub struct Exec {
    pub script: String,
    pub stdin: Vec<u8>,
    pub become_: Option<Become>,
    pub timeout: Option<Duration>,
    /// The probes `script` answers (it is [`script::probe_script`] of them): a transport with
    /// a resident prober may answer them itself, with the same output.
    pub probes: Option<Vec<crate::host::Probe>>,
}

/// What a script produced.
#[derive(Clone, Debug, Default)]
pub struct ExecOutput {
    pub rc: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Round-trip accounting per host, for tests and benchmarks.
#[derive(Debug, Default)]
pub struct Counters {
    /// Scripts executed (each is one round trip).
    pub execs: AtomicU64,
    /// Channels (SSH) or processes (local/chroot) opened.
    pub channels: AtomicU64,
    /// Probe scripts answered by a resident prober (SSH hosts and chroots with perl) rather
    /// than by a shell.
    pub probed: AtomicU64,
    /// Bytes sent to the host and received from it (SSH: channel data; chroot: the prober's
    /// and scripts' pipes).
    pub sent: AtomicU64,
    pub received: AtomicU64,
    /// Not a counter: what queries read from this host (dpkg's database), kept for the run and
    /// sent again only when it changed ([`crate::host::resolve`]).
    pub reads: crate::host::resolve::ReadCache,
}

impl Counters {
    pub fn count(&self) {
        self.execs.fetch_add(1, Ordering::Relaxed);
        self.channels.fetch_add(1, Ordering::Relaxed);
    }
    pub fn execs(&self) -> u64 {
        self.execs.load(Ordering::Relaxed)
    }
    /// Count bytes that went to the host and came back.
    pub fn traffic(&self, sent: usize, received: usize) {
        self.sent.fetch_add(sent as u64, Ordering::Relaxed);
        self.received.fetch_add(received as u64, Ordering::Relaxed);
    }
}

/// A way to run scripts on one host.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Run a script (one round trip).
    async fn exec(&self, exec: Exec) -> Result<ExecOutput>;
    /// `local`, `chroot /mnt`, `ssh boxp@host:22`.
    fn describe(&self) -> String;
    fn counters(&self) -> &Counters;
    /// Undo any preparation (chroot mounts) and close connections.
    async fn close(&self) -> Result<()> {
        Ok(())
    }
    /// Forget long-lived shells (after users or groups changed: a shell keeps the group
    /// memberships it started with).
    async fn refresh(&self) {}
}

/// Wrap a script so that it runs as the become user. The password, if any, is fed on stdin
/// before the script's own input.
pub fn wrap_become(
    script: &str,
    stdin: &[u8],
    become_: Option<&Become>,
    is_root: bool,
) -> (String, Vec<u8>) {
    let Some(b) = become_ else {
        return (script.to_string(), stdin.to_vec());
    };
    if is_root && b.user == "root" {
        return (script.to_string(), stdin.to_vec());
    }
    let quoted = crate::shlex::quote(script);
    let user = crate::shlex::quote(&b.user);
    if is_root {
        // Dropping privileges from root needs no password.
        let cmd = format!(
            "if command -v runuser >/dev/null 2>&1; then exec runuser -u {user} -- /bin/sh -c {quoted}; else exec su -s /bin/sh {user} -c {quoted}; fi"
        );
        return (cmd, stdin.to_vec());
    }
    match &b.password {
        Some(pw) => {
            // The password is the first line of stdin, read into a shell variable (never in
            // argv). A user that needs no password (NOPASSWD) gets the script's stdin as is;
            // otherwise sudo reads the password from the front of the stream and the script
            // the rest.
            let mut input = format!("{pw}\n").into_bytes();
            input.extend_from_slice(stdin);
            (
                format!(
                    "IFS= read -r __prov_pw || exit 1\n\
                     if sudo -n -u {user} true 2>/dev/null; then unset __prov_pw; exec sudo -n -H -u {user} -- /bin/sh -c {quoted}; fi\n\
                     {{ printf '%s\\n' \"$__prov_pw\"; unset __prov_pw; exec cat; }} | sudo -S -p '' -H -u {user} -- /bin/sh -c {quoted}"
                ),
                input,
            )
        }
        None => (
            format!("exec sudo -n -H -u {user} -- /bin/sh -c {quoted}"),
            stdin.to_vec(),
        ),
    }
}

/// What sudo's own error output says went wrong with privilege escalation, if it was that.
pub fn become_failure(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    if text.contains("sudo: a password is required") {
        Some("privilege escalation failed: sudo needs a password (set ansible_become_password or use -K/--ask-become-pass)".into())
    } else if text.contains("incorrect password attempt") {
        Some("privilege escalation failed: incorrect sudo password".into())
    } else if text.contains("is not in the sudoers file")
        || text.contains("is not allowed to run sudo")
    {
        Some(format!(
            "privilege escalation failed: {}",
            text.lines()
                .find(|l| l.contains("sudo"))
                .unwrap_or("")
                .trim()
        ))
    } else if text.contains("sudo: not found") || text.contains("sudo: command not found") {
        Some("privilege escalation failed: sudo is not installed on the host".into())
    } else {
        None
    }
}

/// The bytes of a command's arguments (a script run with `sh -c`), for [`Counters::traffic`].
pub fn cmd_len(cmd: &tokio::process::Command) -> usize {
    cmd.as_std().get_args().map(|a| a.len()).sum()
}

/// Run a child process with stdin, collecting output; kill it on timeout or drop.
pub async fn run_process(
    mut cmd: tokio::process::Command,
    stdin: Vec<u8>,
    timeout: Option<Duration>,
) -> Result<ExecOutput> {
    use std::process::Stdio;
    use tokio::io::AsyncWriteExt;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| crate::error::Error::unreachable(format!("cannot start /bin/sh: {e}")))?;
    let mut input = child.stdin.take();
    let writer = async move {
        if let Some(w) = input.as_mut() {
            let _ = w.write_all(&stdin).await;
            let _ = w.shutdown().await;
        }
        drop(input);
    };
    let run = async {
        let (_, out) = tokio::join!(writer, child.wait_with_output());
        out
    };
    let out = match timeout {
        Some(t) => tokio::time::timeout(t, run).await.map_err(|_| {
            crate::error::Error::runtime(format!("command timed out after {}s", t.as_secs()))
        })?,
        None => run.await,
    }
    .map_err(|e| crate::error::Error::runtime(format!("command failed to run: {e}")))?;
    Ok(ExecOutput {
        rc: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn become_wrapping() {
        let b = Become {
            user: "root".into(),
            method: "sudo".into(),
            password: None,
        };
        assert_eq!(wrap_become("id", b"", Some(&b), true).0, "id");
        assert_eq!(
            wrap_become("id", b"", Some(&b), false).0,
            "exec sudo -n -H -u root -- /bin/sh -c id"
        );
        let b = Become {
            user: "boxp".into(),
            method: "sudo".into(),
            password: Some("s3cret".into()),
        };
        let (cmd, input) = wrap_become("cat", b"data", Some(&b), false);
        assert!(!cmd.contains("s3cret"));
        assert_eq!(input, b"s3cret\ndata");
        let (cmd, _) = wrap_become("id -u", b"", Some(&b), true);
        assert!(
            cmd.contains("runuser -u boxp -- /bin/sh -c 'id -u'"),
            "{cmd}"
        );
    }
}
