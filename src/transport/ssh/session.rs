//! A persistent shell on the host: one session channel per identity (the login user, or a
//! become user reached with passwordless sudo) for the whole run, reading scripts framed on its
//! stdin and answering each with its stdout, stderr and exit code. On hosts with perl the
//! session is the [`prober`] instead, which speaks the same protocol and answers file probes
//! itself.
//!
//! Opening a channel makes sshd fork a session, start the user's login shell and then `sudo`
//! (PAM, sudoers, logging): tens of milliseconds of target CPU per script, which on a fleet
//! adds up to most of a no-change run. A session pays that once per host; each script then
//! costs a subshell and one process (`head` to read it; `cat` too when it wrote to stderr).
//!
//! The shell starts and prints `@PROV-READY` on a line of its own (or `@PROV-NOSESSION` when
//! the host's `head` is not GNU's, which reads exactly what it is asked for: the caller then
//! runs each script on a channel of its own, as without sessions); after that it speaks
//! [`protocol`](crate::transport::protocol): it reads exactly a frame's bytes and runs the script in a
//! subshell on that stdin (a file, so a script that reads less cannot desynchronise the
//! stream), its stdout going straight to the channel and its stderr to a file new for each
//! script, then sends the answer's trailer.
//!
//! Scripts find a scratch directory of the session's in `$PROV_TMP`. A become password is never
//! handled here: sudo would read further password attempts from the framed stream; scripts that
//! need one run on a channel of their own.

use russh::ChannelMsg;
use russh::client::Msg;

use super::super::{Become, ExecOutput, wrap_become};
use crate::transport::prober;
use crate::transport::protocol::{self, find, nonce, take_answer};

/// The shell loop run on the host (POSIX sh and GNU coreutils), for one session's nonce; with
/// a `prober` mode other than `Off`, the [`prober`] instead when the host has perl.
pub fn loop_script(nonce: &str, prober: prober::Mode) -> String {
    let prober = if prober == prober::Mode::Off {
        String::new()
    } else {
        prober::start_lines(nonce, prober)
    };
    format!(
        r#"{prober}__T=$(mktemp -d) || exit 1
trap 'rm -rf "$__T"' EXIT
mkdir "$__T/p" && export PROV_TMP="$__T/p" || exit 1
case "$(head --version 2>/dev/null)" in *GNU*) ;; *) echo '@PROV-NOSESSION'; exit 0 ;; esac
__k=0
printf '@PROV-READY\n'
while IFS=' ' read -r __n __m; do
    __k=$((__k + 1))
    if [ $((__k % 64)) = 0 ] || [ ! -d "$__T/p" ]; then
        rm -f "$__T"/e.*; mkdir -p "$__T/p"
    fi
    head -c "$__n" > "$__T/s" || exit 1
    set --
    if [ "$__m" -gt 0 ]; then
        head -c "$__m" > "$__T/i" || exit 1
        ( . "$__T/s" ) < "$__T/i" 2> "$__T/e.$__k"
    else
        ( . "$__T/s" ) < /dev/null 2> "$__T/e.$__k"
    fi
    __rc=$?
    printf '\n{nonce}-\n'
    [ -s "$__T/e.$__k" ] && cat "$__T/e.$__k"
    printf '\n{nonce} %s\n' "$__rc"
done
"#
    )
}

const READY: &[u8] = b"@PROV-READY\n";
const PROBER_READY: &[u8] = b"@PROV-PROBER\n";
const NO_SESSION: &[u8] = b"@PROV-NOSESSION\n";

/// Why a session cannot be used.
pub enum Failure {
    /// The shell never started (e.g. sudo refused): what the channel said, to be reported
    /// like the result of any script.
    Refused(ExecOutput),
    /// The host cannot run the session loop: run scripts on channels of their own.
    Unsupported,
    /// The channel closed (the connection went away, or a script killed the shell).
    Lost(String),
}

/// One persistent shell.
pub struct Session {
    ch: russh::Channel<Msg>,
    nonce: String,
    /// Bytes received and not yet consumed.
    buf: Vec<u8>,
    stderr: Vec<u8>,
    exit: Option<i32>,
    closed: bool,
    /// Run by the [`prober`]: file probes are answered without a shell.
    pub prober: bool,
}

/// Which session a script runs in: the login user's, or a become user's.
pub fn key(become_: Option<&Become>, is_root: bool) -> String {
    match become_ {
        Some(b) if !(is_root && b.user == "root") => format!("become:{}", b.user),
        _ => "login".into(),
    }
}

/// Can this script use a session? (Not when sudo needs a password.)
pub fn usable(become_: Option<&Become>) -> bool {
    become_.is_none_or(|b| b.password.is_none())
}

impl Session {
    /// Start the shell loop on a new channel and wait until it is ready.
    pub async fn open(
        ch: russh::Channel<Msg>,
        become_: Option<&Become>,
        is_root: bool,
        prober: prober::Mode,
    ) -> Result<Session, Failure> {
        let nonce = nonce();
        let (script, _) = wrap_become(&loop_script(&nonce, prober), b"", become_, is_root);
        let cmd = format!("/bin/sh -c {}", crate::shlex::quote(&script));
        ch.exec(true, cmd)
            .await
            .map_err(|e| Failure::Lost(e.to_string()))?;
        let mut s = Session {
            ch,
            nonce,
            buf: Vec::new(),
            stderr: Vec::new(),
            exit: None,
            closed: false,
            prober: false,
        };
        loop {
            for (ready, prober) in [(READY, false), (PROBER_READY, true)] {
                if let Some(pos) = find(&s.buf, ready) {
                    s.buf.drain(..pos + ready.len());
                    s.stderr.clear();
                    s.prober = prober;
                    return Ok(s);
                }
            }
            if find(&s.buf, NO_SESSION).is_some() {
                return Err(Failure::Unsupported);
            }
            if !s.recv().await {
                return Err(Failure::Refused(ExecOutput {
                    rc: s.exit.unwrap_or(-1),
                    stdout: std::mem::take(&mut s.buf),
                    stderr: std::mem::take(&mut s.stderr),
                }));
            }
        }
    }

    /// Run one script.
    pub async fn run(&mut self, script: &str, stdin: &[u8]) -> Result<ExecOutput, Failure> {
        self.answer(protocol::script_frame(script, stdin)).await
    }

    /// Send the prober (only when [`Session::prober`]) a probe frame
    /// ([`protocol::probe_frame`]): the output [`crate::transport::script::probe_script`] would
    /// give for its probes.
    pub async fn probe(&mut self, frame: Vec<u8>) -> Result<ExecOutput, Failure> {
        self.answer(frame).await
    }

    /// Send a frame and read its answer.
    async fn answer(&mut self, frame: Vec<u8>) -> Result<ExecOutput, Failure> {
        self.ch
            .data_bytes(frame)
            .await
            .map_err(|e| Failure::Lost(e.to_string()))?;
        loop {
            if let Some(answer) = take_answer(&mut self.buf, &self.nonce) {
                return answer.map_err(Failure::Lost);
            }
            if !self.recv().await {
                return Err(Failure::Lost(self.why_closed()));
            }
        }
    }

    /// Close the channel (after a timeout: the shell ends when its script does).
    pub async fn close(self) {
        let _ = self.ch.close().await;
    }

    /// End the shell and wait (briefly) until it has removed its scratch directory, so that
    /// nothing of the run is left on the host when prov exits.
    pub async fn finish(mut self) {
        if self.ch.eof().await.is_ok() {
            let wait = async { while self.recv().await {} };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), wait).await;
        }
        let _ = self.ch.close().await;
    }

    fn why_closed(&self) -> String {
        let err = String::from_utf8_lossy(&self.stderr).trim().to_string();
        match (self.exit, err.is_empty()) {
            (Some(rc), true) => format!("the remote shell exited with {rc}"),
            (Some(rc), false) => format!("the remote shell exited with {rc}: {err}"),
            (None, _) => "the channel closed".into(),
        }
    }

    /// Take one message from the channel; false once it is closed.
    async fn recv(&mut self) -> bool {
        if self.closed {
            return false;
        }
        match self.ch.wait().await {
            Some(ChannelMsg::Data { data }) => self.buf.extend_from_slice(&data),
            Some(ChannelMsg::ExtendedData { data, ext: 1 }) => self.stderr.extend_from_slice(&data),
            Some(ChannelMsg::ExitStatus { exit_status }) => self.exit = Some(exit_status as i32),
            Some(ChannelMsg::Close) | None => self.closed = true,
            Some(_) => {}
        }
        !self.closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loop itself, run by a local shell: frames in, answers out.
    #[test]
    fn the_shell_loop_answers_framed_scripts() {
        use std::io::Write;
        let mut child = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(loop_script("N0NCE", prober::Mode::Off))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let mut frame = |script: &str, stdin: &[u8]| {
            input
                .write_all(&protocol::script_frame(script, stdin))
                .unwrap();
        };
        // A script that ignores its stdin must not desynchronise the stream; nor must one that
        // exits, uses the positional parameters, or removes the scratch directory.
        frame("echo one; echo err >&2; exit 3", b"ignored input\n");
        frame("cat; printf 'x'", b"line 1\nline 2\n");
        frame("printf '%s' \"$#\"; rm -rf \"$PROV_TMP\"", b"");
        frame("[ -d \"$PROV_TMP\" ] && printf 'back'", b"");
        drop(input);
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "@PROV-READY\none\n\nN0NCE-\nerr\n\nN0NCE 3\nline 1\nline 2\nx\nN0NCE-\n\nN0NCE 0\n0\nN0NCE-\n\nN0NCE 0\nback\nN0NCE-\n\nN0NCE 0\n"
        );
    }

    #[test]
    fn keys_and_when_sessions_are_used() {
        let root = Become {
            user: "root".into(),
            method: "sudo".into(),
            password: None,
        };
        assert_eq!(key(None, false), "login");
        assert_eq!(key(Some(&root), false), "become:root");
        assert_eq!(key(Some(&root), true), "login");
        assert!(usable(Some(&root)));
        let with_pw = Become {
            password: Some("pw".into()),
            ..root
        };
        assert!(!usable(Some(&with_pw)));
    }
}
