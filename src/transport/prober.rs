//! The resident prober: one long-lived perl process per host (perl-base is essential on Debian
//! and Ubuntu) that answers a task's file probes and [primitives](crate::host::primitive)
//! itself: generic questions (stat, read, glob, account lookups, run one program), never what
//! they mean, which the controller works out ([`crate::host::resolve`]).
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

use crate::host::CONTENT_LIMIT;
use crate::shlex::quote;
use crate::transport::ExecOutput;
use crate::transport::protocol::{nonce, take_answer};

/// The program (perl builtins only).
pub(crate) const PROGRAM: &str = include_str!("prober.pl");

/// Which prober a session starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// None: the shell loop answers every probe (`PROV_PROBER=0`).
    Off,
    /// One for the run.
    Run,
    /// One the agent keeps between runs: it answers the clock and the host's canonical name
    /// itself (loading perl's POSIX, Time::HiRes and Socket once, ~20 ms, where a prober for
    /// one run starts `date` and `hostname -f`, ~1.5 ms each).
    Resident,
}

/// Shell lines that run the prober when the host has perl and end the session's shell when it
/// ended well (at the end of its input); they fall through to the shell loop when perl is
/// missing or fails (a perl that cannot start says so before it is ready).
pub fn start_lines(nonce: &str, mode: Mode) -> String {
    let resident = if mode == Mode::Resident {
        " resident"
    } else {
        ""
    };
    format!(
        "if command -v perl >/dev/null 2>&1; then\n    perl -e {} {nonce} {CONTENT_LIMIT}{resident} && exit 0\nfi\n",
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
    pub async fn start(mut perl: tokio::process::Command, mode: Mode) -> Option<Piped> {
        use std::process::Stdio;
        let nonce = nonce();
        perl.arg("-e")
            .arg(PROGRAM)
            .arg(&nonce)
            .arg(CONTENT_LIMIT.to_string())
            .args((mode == Mode::Resident).then_some("resident"))
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

    /// The output [`super::script::probe_script`] would give for the probes of this frame
    /// ([`super::protocol::probe_frame`]); an error when the prober went away.
    pub async fn probe(&mut self, frame: &[u8]) -> Result<ExecOutput, String> {
        self.stdin
            .write_all(frame)
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
#[path = "prober_tests.rs"]
mod tests;
