//! A persistent shell on the host: one session channel per identity (the login user, or a
//! become user reached with passwordless sudo) for the whole run, reading scripts framed on its
//! stdin and answering each with its exit code, stdout and stderr.
//!
//! Opening a channel makes sshd fork a session, start the user's login shell and then `sudo`
//! (PAM, sudoers, logging): tens of milliseconds of target CPU per script, which on a fleet
//! adds up to most of a no-change run. A session pays that once per host; each script then
//! costs a subshell and three processes (`head`, `wc`, `cat`).
//!
//! The protocol, all on the channel:
//! - the shell starts and prints `@PROV-READY` on a line of its own;
//! - the controller sends `LEN_SCRIPT LEN_STDIN\n`, then the script, then its stdin;
//! - the shell reads exactly those bytes (`head -c` reads no more than it is asked for), runs
//!   the script in a subshell on that stdin (a file, so a script that reads less cannot
//!   desynchronise the stream), and answers `RC LEN_STDOUT LEN_STDERR\n` + stdout + stderr.
//!   Scripts find a scratch directory of the session's in `$PROV_TMP`.
//!
//! A become password is never handled here: sudo would read further password attempts from
//! the framed stream. Scripts that need one run on a channel of their own, as before.

use russh::ChannelMsg;
use russh::client::Msg;

use super::super::{Become, ExecOutput, wrap_become};

/// The shell loop run on the host (POSIX sh and coreutils).
pub const LOOP: &str = r#"T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
mkdir "$T/p" && export PROV_TMP="$T/p" || exit 1
printf '@PROV-READY\n'
while IFS=' ' read -r n m; do
    head -c "$n" > "$T/s" || exit 1
    if [ "$m" -gt 0 ]; then
        head -c "$m" > "$T/i" || exit 1
        ( . "$T/s" ) < "$T/i" > "$T/o" 2> "$T/e"
    else
        ( . "$T/s" ) < /dev/null > "$T/o" 2> "$T/e"
    fi
    rc=$?
    set -- $(wc -c "$T/o" "$T/e")
    printf '%s %s %s\n' "$rc" "$1" "$3"
    cat "$T/o" "$T/e"
done
"#;

const READY: &[u8] = b"@PROV-READY\n";

/// Why a session cannot be used.
pub enum Failure {
    /// The shell never started (e.g. sudo refused): what the channel said, to be reported
    /// like the result of any script.
    Refused(ExecOutput),
    /// The channel closed (the connection or the host went away).
    Lost(String),
}

/// One persistent shell.
pub struct Session {
    ch: russh::Channel<Msg>,
    /// Bytes received and not yet consumed.
    buf: Vec<u8>,
    stderr: Vec<u8>,
    exit: Option<i32>,
    closed: bool,
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
    ) -> Result<Session, Failure> {
        let (script, _) = wrap_become(LOOP, b"", become_, is_root);
        let cmd = format!("/bin/sh -c {}", crate::shlex::quote(&script));
        ch.exec(true, cmd)
            .await
            .map_err(|e| Failure::Lost(e.to_string()))?;
        let mut s = Session {
            ch,
            buf: Vec::new(),
            stderr: Vec::new(),
            exit: None,
            closed: false,
        };
        loop {
            if let Some(pos) = find(&s.buf, READY) {
                s.buf.drain(..pos + READY.len());
                s.stderr.clear();
                return Ok(s);
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
        let mut frame = format!("{} {}\n", script.len(), stdin.len()).into_bytes();
        frame.extend_from_slice(script.as_bytes());
        frame.extend_from_slice(stdin);
        self.ch
            .data_bytes(frame)
            .await
            .map_err(|e| Failure::Lost(e.to_string()))?;
        let (rc, out_len, err_len) = loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                let line = String::from_utf8_lossy(&self.buf[..nl]).into_owned();
                self.buf.drain(..=nl);
                let nums: Vec<i64> = line
                    .split_whitespace()
                    .filter_map(|w| w.parse().ok())
                    .collect();
                match nums[..] {
                    [rc, o, e] if o >= 0 && e >= 0 => break (rc as i32, o as usize, e as usize),
                    _ => return Err(Failure::Lost(format!("unexpected answer '{line}'"))),
                }
            }
            if !self.recv().await {
                return Err(Failure::Lost(self.why_closed()));
            }
        };
        while self.buf.len() < out_len + err_len {
            if !self.recv().await {
                return Err(Failure::Lost(self.why_closed()));
            }
        }
        let stdout: Vec<u8> = self.buf.drain(..out_len).collect();
        let stderr: Vec<u8> = self.buf.drain(..err_len).collect();
        Ok(ExecOutput { rc, stdout, stderr })
    }

    /// Close the channel (after a timeout: the shell ends when its script does).
    pub async fn close(self) {
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

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
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
            .arg(LOOP)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let mut frame = |script: &str, stdin: &[u8]| {
            let mut f = format!("{} {}\n", script.len(), stdin.len()).into_bytes();
            f.extend_from_slice(script.as_bytes());
            f.extend_from_slice(stdin);
            input.write_all(&f).unwrap();
        };
        // A script that ignores its stdin must not desynchronise the stream.
        frame("echo one; echo err >&2; exit 3", b"ignored input\n");
        frame("cat; printf 'x'", b"line 1\nline 2\n");
        frame("", b"");
        drop(input);
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "@PROV-READY\n3 4 4\none\nerr\n0 15 0\nline 1\nline 2\nx0 0 0\n"
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
