//! The SSH transport: one authenticated connection per host (russh) for the whole run, and on
//! it a persistent shell per identity ([`session`]; the perl [prober](super::prober) where the
//! host has perl) that runs each script, or a channel per script where a session cannot be
//! used (a become password, a host without GNU head). The target needs a POSIX shell,
//! coreutils and awk; perl, present on every Debian and Ubuntu, only makes probes cheaper.
//!
//! A connection goes straight over TCP, through a `ProxyCommand` (its stdio is the stream:
//! `cloudflared access ssh --hostname %h`, `nc %h %p`), or through `ProxyJump` hosts (a
//! `direct-tcpip` channel of the previous hop). Host keys are verified against known_hosts
//! ([`known_hosts`]); authentication tries the identity files, the ssh-agent, OpenSSH
//! certificates beside key files, and a password, and names every method tried when all fail.

pub mod config;
pub mod known_hosts;
pub mod session;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use russh::client::{self, Handle};
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{ChannelMsg, Disconnect};

use super::{Counters, Exec, ExecOutput, Transport, wrap_become};
use crate::error::{Error, ErrorKind, Result};
use config::{HostKeyMode, Target};
use known_hosts::Verdict;

/// Checks the server's key during the handshake.
struct Client {
    host: String,
    port: u16,
    mode: HostKeyMode,
    files: Vec<PathBuf>,
    /// Why the key was refused, for the error message.
    refusal: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        offered: &PublicKeyOrCertificate,
    ) -> std::result::Result<bool, Self::Error> {
        let name = known_hosts::host_string(&self.host, self.port);
        let refuse = |msg: String| {
            *self.refusal.lock().unwrap() = Some(msg);
            Ok(false)
        };
        if self.mode == HostKeyMode::Off {
            return Ok(true);
        }
        match offered {
            PublicKeyOrCertificate::Certificate(cert) => {
                match known_hosts::check_certificate(&self.files, &self.host, self.port, cert) {
                    Ok(()) => Ok(true),
                    Err(e) => refuse(format!("host key verification failed for {name}: {e}")),
                }
            }
            PublicKeyOrCertificate::PublicKey { key, .. } => {
                let fp = format!("{} {}", key.algorithm(), known_hosts::fingerprint(key));
                match known_hosts::check_key(&self.files, &self.host, self.port, key) {
                    Verdict::Known => Ok(true),
                    Verdict::Revoked => refuse(format!(
                        "host key verification failed for {name}: its key {fp} is marked @revoked"
                    )),
                    Verdict::Changed { known } => refuse(format!(
                        "REMOTE HOST IDENTIFICATION HAS CHANGED for {name}: it offers {fp}, known_hosts has {}; refusing to connect (someone may be intercepting the connection; if the host was reinstalled, remove its old key)",
                        known.join(", ")
                    )),
                    Verdict::Unknown if self.mode == HostKeyMode::AcceptNew => {
                        let file = self
                            .files
                            .first()
                            .cloned()
                            .unwrap_or_else(|| config::home().join(".ssh/known_hosts"));
                        if let Err(e) = known_hosts::learn(&file, &self.host, self.port, key) {
                            return refuse(format!(
                                "cannot record the key of {name} in {}: {e}",
                                file.display()
                            ));
                        }
                        Ok(true)
                    }
                    Verdict::Unknown => refuse(format!(
                        "host key verification failed for {name}: the host is not in known_hosts (it offers {fp}); add it to known_hosts or use --host-key-checking accept-new"
                    )),
                }
            }
        }
    }
}

/// An open SSH connection to one host.
pub struct Ssh {
    handle: Handle<Client>,
    target: Target,
    counters: Counters,
    root: bool,
    /// Keeps a ProxyCommand process alive for as long as the connection.
    _proxy: Option<tokio::process::Child>,
    /// Keeps the jump host's connection alive.
    _jump: Option<Box<Ssh>>,
    /// Persistent shells by identity ([`session`]); none when disabled (`PROV_SSH_SESSIONS=0`).
    sessions: Option<SessionPool>,
    /// Set when the host cannot run them (no GNU head, no mktemp...).
    no_sessions: std::sync::atomic::AtomicBool,
    /// Start sessions with the [`prober`](crate::transport::prober) where the host has perl
    /// (unless `PROV_PROBER=0`); a resident one in the agent ([`Ssh::keep_probers`]).
    prober: crate::transport::prober::Mode,
}

/// Options of all SSH connections of a run.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct SshOptions {
    /// `--private-key`: tried before anything else.
    pub private_key: Option<PathBuf>,
    /// `--host-key-checking`.
    pub host_key_checking: Option<HostKeyMode>,
}

fn unreachable(target: &Target, what: impl std::fmt::Display) -> Error {
    Error::unreachable(format!(
        "{}@{}:{}: {what}",
        target.user, target.host, target.port
    ))
}

/// russh settings: keepalives as the target says (ServerAliveInterval, default every 15 s, the
/// connection given up after ServerAliveCountMax, default 3, unanswered); host certificates
/// asked for when a `@cert-authority` is known for the host.
fn client_config(target: &Target, certificates: bool) -> Arc<client::Config> {
    let mut preferred = russh::Preferred::default();
    if certificates {
        use russh::keys::{Algorithm, EcdsaCurve, HashAlg};
        preferred.host_key_certificates = std::borrow::Cow::Owned(vec![
            Algorithm::Ed25519,
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256,
            },
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP384,
            },
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP521,
            },
            Algorithm::Rsa {
                hash: Some(HashAlg::Sha512),
            },
            Algorithm::Rsa {
                hash: Some(HashAlg::Sha256),
            },
        ]);
    }
    Arc::new(client::Config {
        keepalive_interval: target.keepalive_interval,
        keepalive_max: target.keepalive_max,
        inactivity_timeout: None,
        nodelay: true,
        preferred,
        ..Default::default()
    })
}

/// Read an encrypted key's passphrase from the terminal, if there is one.
fn ask_passphrase(path: &Path) -> Option<String> {
    use std::io::{BufRead, Write};
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    // The live line of the running task steps aside until the answer.
    let _asking = crate::transport::tty::Prompt::begin();
    let mut out = tty.try_clone().ok()?;
    let _ = write!(out, "Passphrase for {}: ", path.display());
    let _ = out.flush();
    let _ = std::process::Command::new("stty")
        .arg("-echo")
        .stdin(tty.try_clone().ok()?)
        .status();
    let mut line = String::new();
    let r = std::io::BufReader::new(tty.try_clone().ok()?).read_line(&mut line);
    let _ = std::process::Command::new("stty")
        .arg("echo")
        .stdin(tty)
        .status();
    let _ = writeln!(out);
    r.ok()
        .map(|_| line.trim_end_matches(['\r', '\n']).to_string())
}

fn load_key(path: &Path) -> std::result::Result<PrivateKey, String> {
    match russh::keys::load_secret_key(path, None) {
        Ok(k) => Ok(k),
        Err(russh::keys::Error::KeyIsEncrypted) => {
            let pass = std::env::var("PROV_SSH_KEY_PASSPHRASE").ok().or_else(|| ask_passphrase(path)).ok_or_else(|| {
                format!("{} is encrypted and there is no terminal to ask for its passphrase (use ssh-agent)", path.display())
            })?;
            russh::keys::load_secret_key(path, Some(&pass))
                .map_err(|e| format!("{}: {e}", path.display()))
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

impl Ssh {
    /// Connect and authenticate (within the target's connect timeout).
    pub async fn connect(target: &Target, opts: &SshOptions) -> Result<Ssh> {
        let t = target.connect_timeout;
        match tokio::time::timeout(t, Box::pin(Ssh::connect_inner(target, opts))).await {
            Ok(r) => r,
            Err(_) => Err(unreachable(
                target,
                format!("timed out after {}s connecting", t.as_secs()),
            )),
        }
    }

    fn connect_inner<'a>(
        target: &'a Target,
        opts: &'a SshOptions,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Ssh>> + Send + 'a>> {
        Box::pin(async move {
            let refusal = Arc::new(Mutex::new(None));
            let key_host = target.host_key_alias.as_ref().unwrap_or(&target.host);
            let handler = Client {
                host: key_host.clone(),
                port: target.port,
                mode: target.host_key,
                files: target.known_hosts.clone(),
                refusal: refusal.clone(),
            };
            let cfg = client_config(
                target,
                target.host_key != HostKeyMode::Off
                    && known_hosts::has_authority(&target.known_hosts, key_host, target.port),
            );
            let mut proxy = None;
            let mut jump = None;
            let connected = if let Some(cmd) = &target.proxy_command {
                let mut child = tokio::process::Command::new("/bin/sh")
                    .arg("-c")
                    .arg(cmd)
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::inherit())
                    .kill_on_drop(true)
                    .spawn()
                    .map_err(|e| {
                        unreachable(target, format!("cannot start ProxyCommand '{cmd}': {e}"))
                    })?;
                let stream = tokio::io::join(
                    child.stdout.take().expect("piped"),
                    child.stdin.take().expect("piped"),
                );
                proxy = Some(child);
                client::connect_stream(cfg, stream, handler).await
            } else if let Some(hops) = &target.proxy_jump {
                // The last hop connects to the target; earlier hops chain through each other.
                let (first, rest) = match hops.rsplit_once(',') {
                    Some((earlier, last)) => (last.trim().to_string(), Some(earlier.to_string())),
                    None => (hops.trim().to_string(), None),
                };
                let (user, host, port) = config::parse_jump(&first);
                let given = config::Given {
                    host: Some(host.clone()),
                    port,
                    user,
                    connect_timeout: Some(target.connect_timeout),
                    ..Default::default()
                };
                let mut hop =
                    config::resolve(&host, &given, target.host_key, opts.host_key_checking)?;
                hop.proxy_jump = rest;
                hop.known_hosts = target.known_hosts.clone();
                let via = Ssh::connect_inner(&hop, opts).await?;
                let channel = via
                    .handle
                    .channel_open_direct_tcpip(
                        target.host.clone(),
                        u32::from(target.port),
                        "127.0.0.1",
                        0,
                    )
                    .await
                    .map_err(|e| {
                        unreachable(
                            target,
                            format!("jump host {} cannot reach it: {e}", hop.host),
                        )
                        .caused_by(e)
                    })?;
                jump = Some(Box::new(via));
                client::connect_stream(cfg, channel.into_stream(), handler).await
            } else {
                client::connect(cfg, (target.host.as_str(), target.port), handler).await
            };
            let mut handle = match connected {
                Ok(h) => h,
                Err(e) => {
                    let why = refusal.lock().unwrap().take();
                    return Err(match why {
                        // A refused host key is a failure of that host, never something to retry.
                        Some(msg) => Error::new(ErrorKind::Unreachable, msg),
                        None => unreachable(target, format!("cannot connect: {e}")).caused_by(e),
                    });
                }
            };
            authenticate(&mut handle, target, opts).await?;
            Ok(Ssh {
                handle,
                target: target.clone(),
                counters: Counters::default(),
                root: target.user == "root",
                _proxy: proxy,
                _jump: jump,
                sessions: (std::env::var("PROV_SSH_SESSIONS").as_deref() != Ok("0"))
                    .then(Default::default),
                no_sessions: Default::default(),
                prober: if std::env::var("PROV_PROBER").as_deref() == Ok("0") {
                    crate::transport::prober::Mode::Off
                } else {
                    crate::transport::prober::Mode::Run
                },
            })
        })
    }
}

/// Authenticate with a key file: its OpenSSH certificate (`FILE-cert.pub`) first when there
/// is one, then the key itself (RSA signing with the best rsa-sha2 hash the server offers).
async fn try_key_file(
    handle: &mut Handle<Client>,
    user: &str,
    file: &Path,
    rsa_hash: Option<russh::keys::HashAlg>,
    tried: &mut Vec<String>,
    problems: &mut Vec<String>,
) -> bool {
    let key = match load_key(file) {
        Ok(k) => Arc::new(k),
        Err(e) => {
            problems.push(e);
            return false;
        }
    };
    let cert_path = PathBuf::from(format!("{}-cert.pub", file.display()));
    if let Ok(cert) = russh::keys::load_openssh_certificate(&cert_path) {
        tried.push(format!("certificate {}", cert_path.display()));
        if handle
            .authenticate_openssh_cert(user.to_string(), key.clone(), cert)
            .await
            .is_ok_and(|r| r.success())
        {
            return true;
        }
    }
    tried.push(format!("key {}", file.display()));
    let hash = if key.algorithm().is_rsa() {
        rsa_hash
    } else {
        None
    };
    handle
        .authenticate_publickey(user.to_string(), PrivateKeyWithHashAlg::new(key, hash))
        .await
        .is_ok_and(|r| r.success())
}

/// Public-key methods in OpenSSH's order: the explicit identity files (with their
/// certificates), the ssh-agent's keys, then the default key files when none was explicit.
async fn public_key_auth(
    handle: &mut Handle<Client>,
    target: &Target,
    files: &[PathBuf],
    rsa_hash: Option<russh::keys::HashAlg>,
    tried: &mut Vec<String>,
    problems: &mut Vec<String>,
) -> bool {
    let user = target.user.clone();
    let explicit = !files.is_empty();
    for file in files.iter().filter(|f| f.exists()) {
        if try_key_file(handle, &user, file, rsa_hash, tried, problems).await {
            return true;
        }
    }
    if target.identities_only && explicit {
        // IdentitiesOnly: the agent's keys and the default key files are not offered.
        return false;
    }
    if let Ok(mut agent) = russh::keys::agent::client::AgentClient::connect_env().await {
        let ids = agent.request_identities().await.unwrap_or_default();
        if !ids.is_empty() {
            tried.push(format!("ssh-agent ({} keys)", ids.len()));
        }
        for id in ids {
            let ok = match &id {
                russh::keys::agent::AgentIdentity::PublicKey { key, .. } => {
                    let hash = if key.algorithm().is_rsa() {
                        rsa_hash
                    } else {
                        None
                    };
                    handle
                        .authenticate_publickey_with(user.clone(), key.clone(), hash, &mut agent)
                        .await
                        .map(|r| r.success())
                        .unwrap_or(false)
                }
                russh::keys::agent::AgentIdentity::Certificate { certificate, .. } => handle
                    .authenticate_certificate_with(
                        user.clone(),
                        certificate.clone(),
                        None,
                        &mut agent,
                    )
                    .await
                    .map(|r| r.success())
                    .unwrap_or(false),
            };
            if ok {
                return true;
            }
        }
    }
    if !explicit {
        for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
            let file = config::home().join(".ssh").join(name);
            if file.exists() && try_key_file(handle, &user, &file, rsa_hash, tried, problems).await
            {
                return true;
            }
        }
    }
    false
}

/// Try every method; fail naming each one tried.
async fn authenticate(
    handle: &mut Handle<Client>,
    target: &Target,
    opts: &SshOptions,
) -> Result<()> {
    let user = target.user.clone();
    let mut tried: Vec<String> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let rsa_hash = handle
        .best_supported_rsa_hash()
        .await
        .ok()
        .flatten()
        .flatten();
    let mut files: Vec<PathBuf> = opts.private_key.iter().cloned().collect();
    files.extend(target.identity_files.iter().cloned());
    if target.pubkey_auth
        && public_key_auth(handle, target, &files, rsa_hash, &mut tried, &mut problems).await
    {
        return Ok(());
    }
    if let Some(pw) = target.password.as_ref().filter(|_| target.password_auth) {
        tried.push("password".into());
        if handle
            .authenticate_password(user.clone(), pw.clone())
            .await
            .map(|r| r.success())
            .unwrap_or(false)
        {
            return Ok(());
        }
    }
    let mut msg = format!(
        "authentication failed (tried: {})",
        if tried.is_empty() {
            "nothing: no keys, no agent, no password".to_string()
        } else {
            tried.join(", ")
        }
    );
    if !problems.is_empty() {
        msg.push_str(&format!("; {}", problems.join("; ")));
    }
    Err(unreachable(target, msg))
}

impl Ssh {
    fn lost(&self, e: &dyn std::fmt::Display) -> Error {
        unreachable(&self.target, format!("connection lost: {e}"))
    }

    /// Run a script in a persistent shell of its identity (opened on first use; a pool, so
    /// that scripts for one host run concurrently when tasks delegate to it from many hosts).
    /// `None`: this host cannot keep sessions; run the script on a channel of its own.
    async fn exec_in_session(
        &self,
        sessions: &SessionPool,
        exec: &Exec,
        probe_frame: Option<Vec<u8>>,
    ) -> Result<Option<ExecOutput>> {
        let key = session::key(exec.become_.as_ref(), self.root);
        let pooled = sessions
            .lock()
            .unwrap()
            .entry(key.clone())
            .or_default()
            .pop();
        let work = async {
            let mut s = match pooled {
                Some(s) => s,
                None => {
                    let ch = self
                        .handle
                        .channel_open_session()
                        .await
                        .map_err(|e| self.lost(&e))?;
                    self.counters
                        .channels
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    match session::Session::open(ch, exec.become_.as_ref(), self.root, self.prober)
                        .await
                    {
                        Ok(s) => s,
                        Err(session::Failure::Refused(out))
                            if super::become_failure(&out.stderr).is_some() =>
                        {
                            // sudo refused: that is this script's result, as without sessions.
                            return Ok(Some(out));
                        }
                        Err(session::Failure::Refused(_) | session::Failure::Unsupported) => {
                            self.no_sessions
                                .store(true, std::sync::atomic::Ordering::Relaxed);
                            return Ok(None);
                        }
                        Err(session::Failure::Lost(e)) => return Err(self.lost(&e)),
                    }
                }
            };
            let (out, sent) = match probe_frame {
                Some(frame) if s.prober => {
                    let sent = frame.len();
                    let out = s.probe(frame).await;
                    if out.is_ok() {
                        self.counters
                            .probed
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    (out, sent)
                }
                _ => (
                    s.run(&exec.script, &exec.stdin).await,
                    super::protocol::script_frame_len(&exec.script, &exec.stdin),
                ),
            };
            if let Ok(o) = &out {
                self.counters.traffic(sent, o.stdout.len() + o.stderr.len());
            }
            match out {
                Ok(out) => {
                    sessions.lock().unwrap().entry(key).or_default().push(s);
                    Ok(Some(out))
                }
                // The shell went away while the connection lives on (a script killed it):
                // this script failed; the next one gets a new shell.
                Err(session::Failure::Lost(e)) if !self.handle.is_closed() => Err(Error::runtime(
                    format!("the remote shell ended while running this task: {e}"),
                )),
                Err(session::Failure::Lost(e)) => Err(self.lost(&e)),
                Err(session::Failure::Refused(out)) => Ok(Some(out)),
                Err(session::Failure::Unsupported) => Ok(None),
            }
        };
        match exec.timeout {
            // A timed-out session is dropped with its channel: the shell ends with its script.
            Some(t) => tokio::time::timeout(t, work)
                .await
                .map_err(|_| Error::runtime(format!("command timed out after {}s", t.as_secs())))?,
            None => work.await,
        }
    }
}

/// Idle persistent shells by identity.
type SessionPool = std::sync::Mutex<std::collections::HashMap<String, Vec<session::Session>>>;

impl Ssh {
    /// Sessions started from now on run a resident prober ([`prober::Mode::Resident`]), for
    /// a connection the agent keeps between runs.
    ///
    /// [`prober::Mode::Resident`]: crate::transport::prober::Mode::Resident
    pub fn keep_probers(&mut self) {
        if self.prober == crate::transport::prober::Mode::Run {
            self.prober = crate::transport::prober::Mode::Resident;
        }
    }

    /// Has the connection gone away (the server closed it, keepalives unanswered)?
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// [`Transport::exec`] with the probes already framed ([`super::protocol::probe_frame`]
    /// of `exec.probes`): what the [`agent`](crate::transport::agent) receives from a run.
    pub async fn exec_framed(
        &self,
        exec: Exec,
        probe_frame: Option<Vec<u8>>,
    ) -> Result<ExecOutput> {
        if let Some(sessions) = &self.sessions
            && session::usable(exec.become_.as_ref())
            && !self.no_sessions.load(std::sync::atomic::Ordering::Relaxed)
        {
            self.counters
                .execs
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Some(out) = self.exec_in_session(sessions, &exec, probe_frame).await? {
                return Ok(out);
            }
            self.counters
                .execs
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.counters.count();
        let lost = |e: &dyn std::fmt::Display| self.lost(e);
        let (script, stdin) =
            wrap_become(&exec.script, &exec.stdin, exec.become_.as_ref(), self.root);
        let run = async {
            let mut ch = self
                .handle
                .channel_open_session()
                .await
                .map_err(|e| lost(&e))?;
            ch.exec(true, format!("/bin/sh -c {}", crate::shlex::quote(&script)))
                .await
                .map_err(|e| lost(&e))?;
            if !stdin.is_empty() {
                ch.data(&stdin[..]).await.map_err(|e| lost(&e))?;
            }
            ch.eof().await.map_err(|e| lost(&e))?;
            let mut out = ExecOutput {
                rc: -1,
                ..Default::default()
            };
            let mut status = None;
            while let Some(msg) = ch.wait().await {
                match msg {
                    ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        out.stderr.extend_from_slice(&data)
                    }
                    ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status as i32),
                    ChannelMsg::ExitSignal { signal_name, .. } => {
                        out.stderr.extend_from_slice(
                            format!("killed by signal {signal_name:?}\n").as_bytes(),
                        );
                        status = Some(-1);
                    }
                    _ => {}
                }
            }
            match status {
                Some(rc) => {
                    out.rc = rc;
                    self.counters.traffic(
                        script.len() + stdin.len(),
                        out.stdout.len() + out.stderr.len(),
                    );
                    Ok(out)
                }
                None => Err(lost(&"the channel closed without an exit status")),
            }
        };
        match exec.timeout {
            Some(t) => tokio::time::timeout(t, run)
                .await
                .map_err(|_| Error::runtime(format!("command timed out after {}s", t.as_secs())))?,
            None => run.await,
        }
    }
}

#[async_trait]
impl Transport for Ssh {
    async fn exec(&self, exec: Exec) -> Result<ExecOutput> {
        let frame = exec.probes.as_deref().map(super::protocol::probe_frame);
        self.exec_framed(exec, frame).await
    }

    fn describe(&self) -> String {
        format!(
            "ssh {}@{}:{}",
            self.target.user, self.target.host, self.target.port
        )
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }

    async fn refresh(&self) {
        let idle: Vec<session::Session> = match &self.sessions {
            Some(pool) => pool.lock().unwrap().drain().flat_map(|(_, v)| v).collect(),
            None => Vec::new(),
        };
        for s in idle {
            s.close().await;
        }
    }

    async fn close(&self) -> Result<()> {
        let idle: Vec<session::Session> = match &self.sessions {
            Some(pool) => pool.lock().unwrap().drain().flat_map(|(_, v)| v).collect(),
            None => Vec::new(),
        };
        for s in idle {
            s.finish().await;
        }
        let _ = self
            .handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
        Ok(())
    }
}
