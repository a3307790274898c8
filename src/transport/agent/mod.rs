//! Persistent connections (`--persist DURATION`, `prov agent`): a per-user process, the agent,
//! keeps each host's authenticated SSH connection ([`Ssh`](super::ssh::Ssh), with its resident
//! shells and prober) open between runs, and later runs use them through a Unix socket instead
//! of logging in again (as OpenSSH's ControlPersist does for Ansible).
//!
//! - [`server`]: the agent. Started on demand by the first `--persist` run (detached, a
//!   session of its own), it ends after the idle time with no run connected, on `prov agent
//!   stop`, or on SIGTERM/SIGINT, closing its connections and removing its socket.
//! - [`client`]: a run's side, a [`Transport`](super::Transport) whose scripts the agent runs
//!   on its connection; the engine sees the same thing as with a direct connection.
//!
//! Where: `$XDG_RUNTIME_DIR/prov/` (or `/tmp/prov-$UID/`), a directory of the user's with mode
//! 0700 (refused otherwise), holding `agent.sock` (mode 0600), `agent.lock` (held by the live
//! agent: a socket left by a killed agent is stale when nobody holds the lock) and `agent.log`
//! (the agent's stderr). The agent also checks each peer's uid (SO_PEERCRED) and refuses any
//! other user, root included.
//!
//! The protocol ([`Request`], [`Response`]): length-prefixed JSON messages, a request answered by
//! one response, one at a time on a stream; a run opens a stream per script in flight. A stream
//! starts with [`Request::Hello`] (the protocol [`VERSION`] must match), then
//! [`Request::Open`] names the connection: the resolved [`Target`] (user, address, port, keys,
//! password, known_hosts, host key mode, proxies), the [`SshOptions`] and the environment that
//! authentication reads ([`environment`]: HOME, SSH_AUTH_SOCK...). Their hash is the
//! connection's key: a run never uses a connection made with other credentials. Become settings
//! travel with each script, as with a direct connection (sudo runs per script or per resident
//! shell of that become user, never with a password in a shared shell). An agent started in
//! another environment answers [`Response::Elsewhere`] and the run connects directly.
//!
//! Host keys are verified by the agent when it connects, against the run's known_hosts, as a
//! direct connection does. A connection found closed (the host went away, keepalives
//! unanswered) is made again before the next script.

pub mod client;
pub mod server;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Become;
use super::ssh::SshOptions;
use super::ssh::config::Target;
use crate::error::{Error, Result};

/// The protocol's version: an agent answers only runs that speak the same. The agent's
/// probers answer the runs' primitives, so the prober's program is part of it: an agent
/// started by another build of prov with another prober is not used.
pub const VERSION: u32 = 2 ^ fnv1a(super::prober::PROGRAM.as_bytes());

/// FNV-1a, 32 bits.
const fn fnv1a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < bytes.len() {
        h = (h ^ bytes[i] as u32).wrapping_mul(0x0100_0193);
        i += 1;
    }
    h
}

/// The largest message accepted (a script's stdin may be a whole file).
const MAX_MESSAGE: usize = 1 << 30;

/// What a run asks of the agent.
#[derive(Serialize, Deserialize, Debug)]
pub enum Request {
    /// The first message on a stream. `idle`: seconds the agent stays after its last run.
    Hello {
        version: u32,
        idle: Option<u64>,
    },
    /// Use (or make) the connection for these settings.
    Open {
        target: Box<Target>,
        options: SshOptions,
        environment: String,
    },
    /// Run a script on the opened connection.
    Exec {
        script: String,
        stdin: Bytes,
        become_: Option<Become>,
        timeout_ms: Option<u64>,
        /// The probes the script answers, framed for a resident prober.
        probe_frame: Option<Bytes>,
    },
    /// Forget the connection's resident shells ([`super::Transport::refresh`]).
    Refresh,
    Status,
    /// Close everything and exit.
    Stop,
}

/// The agent's answers.
#[derive(Serialize, Deserialize, Debug)]
pub enum Response {
    Welcome {
        version: u32,
        pid: u32,
    },
    /// Not served: another user, another protocol version, or a request out of order.
    Refused {
        why: String,
    },
    /// The connection is ready; `reused`: it was already open.
    Opened {
        reused: bool,
    },
    /// The agent runs in another environment: connect directly.
    Elsewhere,
    Output {
        rc: i32,
        stdout: Bytes,
        stderr: Bytes,
        /// Channels the agent opened for this script, and whether the prober answered it.
        channels: u64,
        probed: bool,
    },
    Failed {
        unreachable: bool,
        message: String,
    },
    Done,
    Status {
        pid: u32,
        idle: u64,
        /// `user@host:port` and whether each is still open.
        connections: Vec<(String, bool)>,
    },
}

/// Bytes carried as base64 in the JSON messages.
#[derive(Debug, Default)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use base64::Engine;
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Bytes, D::Error> {
        use base64::Engine;
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(Bytes)
            .map_err(serde::de::Error::custom)
    }
}

/// Send one message: its length (4 bytes, big-endian), then its JSON.
pub async fn send<W: AsyncWriteExt + Unpin, M: Serialize>(w: &mut W, msg: &M) -> Result<()> {
    let body = serde_json::to_vec(msg)
        .map_err(|e| Error::runtime(format!("cannot encode an agent message: {e}")))?;
    if body.len() > MAX_MESSAGE {
        return Err(Error::runtime(format!(
            "prov agent connection: a message of {} bytes is too large (at most {MAX_MESSAGE}); run without --persist",
            body.len()
        )));
    }
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    w.write_all(&frame)
        .await
        .map_err(|e| Error::runtime(format!("prov agent connection: {e}")))
}

/// Receive one message; `None` at the end of the stream.
pub async fn receive<R: AsyncReadExt + Unpin, M: for<'de> Deserialize<'de>>(
    r: &mut R,
) -> Result<Option<M>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(Error::runtime(format!("prov agent connection: {e}"))),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_MESSAGE {
        return Err(Error::runtime(format!(
            "prov agent connection: a message of {len} bytes is too large"
        )));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)
        .await
        .map_err(|e| Error::runtime(format!("prov agent connection: {e}")))?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| Error::runtime(format!("prov agent connection: a bad message: {e}")))
}

/// The environment SSH authentication reads (default key files under HOME, the ssh-agent,
/// a key passphrase, session and prober switches), as one string; its passphrase is hashed.
pub fn environment() -> String {
    use sha2::Digest;
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let passphrase = std::env::var("PROV_SSH_KEY_PASSPHRASE")
        .map(|p| format!("{:x}", sha2::Sha256::digest(p.as_bytes())))
        .unwrap_or_default();
    serde_json::json!([
        var("HOME"),
        var("SSH_AUTH_SOCK"),
        var("PROV_SSH_SESSIONS"),
        var("PROV_PROBER"),
        passphrase
    ])
    .to_string()
}

/// The key of a connection: a hash of everything that decides how it logs in.
pub fn key(target: &Target, options: &SshOptions, environment: &str) -> String {
    use sha2::Digest;
    let text = serde_json::to_vec(&(target, options, environment)).unwrap_or_default();
    format!("{:x}", sha2::Sha256::digest(&text))
}

/// The agent's directory, created (mode 0700) when missing; refused when it is not a
/// directory of this user's that only they can enter.
pub fn directory() -> Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let uid = unsafe { libc::geteuid() };
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(run) if Path::new(&run).is_dir() => PathBuf::from(run).join("prov"),
        _ => PathBuf::from(format!("/tmp/prov-{uid}")),
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io(&dir, e)),
    }
    let meta = std::fs::symlink_metadata(&dir).map_err(|e| Error::io(&dir, e))?;
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        return Err(Error::runtime(format!(
            "{} is not a private directory of this user's (it must be a directory owned by uid {uid} with mode 0700); refusing to use it for the prov agent",
            dir.display()
        )));
    }
    Ok(dir)
}

/// The agent's socket in [`directory`].
pub fn socket_path(dir: &Path) -> PathBuf {
    dir.join("agent.sock")
}

/// `10m`, `30s`, `2h`, `1d` or a number of seconds.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a duration (e.g. 30s, 10m, 2h)"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86400),
        _ => return Err(format!("'{text}' is not a duration (e.g. 30s, 10m, 2h)")),
    };
    if secs == 0 {
        return Err("the duration must be at least 1s".into());
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5 weeks").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn keys_differ_by_credentials() {
        let target = |user: &str, key: &str| Target {
            name: "h".into(),
            host: "127.0.0.1".into(),
            port: 22,
            user: user.into(),
            identity_files: vec![PathBuf::from(key)],
            explicit_identities: true,
            proxy_command: None,
            proxy_jump: None,
            host_key: super::super::ssh::config::HostKeyMode::Strict,
            known_hosts: vec![],
            password: None,
            connect_timeout: Duration::from_secs(10),
            keepalive_interval: None,
            keepalive_max: 3,
            identities_only: false,
            pubkey_auth: true,
            password_auth: true,
            host_key_alias: None,
        };
        let o = SshOptions::default();
        let a = key(&target("tester", "/k1"), &o, "env");
        assert_eq!(a, key(&target("tester", "/k1"), &o, "env"));
        assert_ne!(a, key(&target("pwuser", "/k1"), &o, "env"));
        assert_ne!(a, key(&target("tester", "/k2"), &o, "env"));
        assert_ne!(a, key(&target("tester", "/k1"), &o, "other env"));
        let with_pw = Target {
            password: Some("x".into()),
            ..target("tester", "/k1")
        };
        assert_ne!(a, key(&with_pw, &o, "env"));
    }

    #[tokio::test]
    async fn messages_round_trip_and_bad_ones_are_errors() {
        let mut buf = Vec::new();
        send(
            &mut buf,
            &Request::Exec {
                script: "cat".into(),
                stdin: Bytes(vec![0, 1, 255]),
                become_: None,
                timeout_ms: Some(5),
                probe_frame: None,
            },
        )
        .await
        .unwrap();
        let got: Request = receive(&mut &buf[..]).await.unwrap().unwrap();
        match got {
            Request::Exec { stdin, .. } => assert_eq!(stdin.0, vec![0, 1, 255]),
            other => panic!("{other:?}"),
        }
        let empty: Option<Request> = receive(&mut &b""[..]).await.unwrap();
        assert!(empty.is_none());
        let mut bad = 5u32.to_be_bytes().to_vec();
        bad.extend_from_slice(b"{nope");
        assert!(receive::<_, Request>(&mut &bad[..]).await.is_err());
        let huge = u32::MAX.to_be_bytes().to_vec();
        assert!(receive::<_, Request>(&mut &huge[..]).await.is_err());
    }
}
