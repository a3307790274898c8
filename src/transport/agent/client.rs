//! A run's side of the agent: [`open`] gives a host's [`Transport`] through the agent
//! (starting one when none runs), or a direct connection when the agent cannot serve it; and
//! `prov agent start|stop|status` ([`start`], [`stop`], [`status`]).
//!
//! A [`Remote`] keeps idle streams to the agent, each opened on its host's connection; a
//! script takes one (or opens another, so that concurrent scripts run concurrently) and puts
//! it back after its answer. Closing a Remote closes only its streams: the connection stays
//! with the agent for the next run.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::net::UnixStream;

use super::{Bytes, Request, Response, VERSION, receive, send};
use crate::error::{Error, ErrorKind, Result};
use crate::transport::ssh::config::Target;
use crate::transport::ssh::{Ssh, SshOptions};
use crate::transport::{Counters, Exec, ExecOutput, Transport};

/// Why the agent cannot serve a run.
enum Unavailable {
    /// No agent listens on the socket.
    NotRunning,
    /// It answered, but will not serve this run (other protocol, other environment...).
    Refused(String),
}

/// A stream to the agent, past its Hello.
async fn hello(
    sock: &Path,
    idle: Option<Duration>,
) -> std::result::Result<(UnixStream, u32), Unavailable> {
    let mut stream = UnixStream::connect(sock)
        .await
        .map_err(|_| Unavailable::NotRunning)?;
    let hello = Request::Hello {
        version: VERSION,
        idle: idle.map(|d| d.as_secs()),
    };
    send(&mut stream, &hello)
        .await
        .map_err(|e| Unavailable::Refused(e.message))?;
    match receive(&mut stream).await {
        Ok(Some(Response::Welcome { version, pid })) if version == VERSION => Ok((stream, pid)),
        Ok(Some(Response::Refused { why })) => Err(Unavailable::Refused(why)),
        Ok(Some(other)) => Err(Unavailable::Refused(format!(
            "the prov agent answered {other:?} to Hello"
        ))),
        Ok(None) => Err(Unavailable::NotRunning),
        Err(e) => Err(Unavailable::Refused(e.message)),
    }
}

/// One start attempt at a time in this process (hosts connect concurrently).
static STARTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Start `prov agent serve` detached: a session of its own (no terminal, no Ctrl-C from the
/// run's), stdin and stdout on /dev/null, stderr appended to `agent.log`.
fn spawn_agent(dir: &Path, idle: Duration) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()
        .map_err(|e| Error::runtime(format!("cannot find prov's own executable: {e}")))?;
    let log_path = dir.join("agent.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
        .map_err(|e| Error::io(&log_path, e))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["agent", "serve", "--idle", &format!("{}s", idle.as_secs())])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .current_dir("/");
    // SAFETY: setsid is async-signal-safe and touches nothing of the parent's.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    cmd.spawn()
        .map_err(|e| Error::runtime(format!("cannot start the prov agent: {e}")))?;
    Ok(())
}

/// A stream to a running agent, starting one when none runs.
async fn connect(idle: Duration) -> std::result::Result<(UnixStream, u32), Unavailable> {
    let dir = super::directory().map_err(|e| Unavailable::Refused(e.message))?;
    let sock = super::socket_path(&dir);
    match hello(&sock, Some(idle)).await {
        Err(Unavailable::NotRunning) => {}
        done => return done,
    }
    let _one = STARTING.lock().await;
    match hello(&sock, Some(idle)).await {
        Err(Unavailable::NotRunning) => {}
        done => return done,
    }
    spawn_agent(&dir, idle).map_err(|e| Unavailable::Refused(e.message))?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        match hello(&sock, Some(idle)).await {
            Err(Unavailable::NotRunning) if Instant::now() < deadline => {}
            Err(Unavailable::NotRunning) => {
                return Err(Unavailable::Refused(format!(
                    "it did not start (see {})",
                    dir.join("agent.log").display()
                )));
            }
            done => return done,
        }
    }
}

/// The outcome of opening a host's connection through the agent.
enum Opened {
    Remote(Box<Remote>),
    /// Connect directly, for this reason.
    Direct(String),
}

/// A host's connection held by the agent.
pub struct Remote {
    target: Target,
    options: SshOptions,
    environment: String,
    idle: Duration,
    streams: Mutex<Vec<UnixStream>>,
    counters: Counters,
}

impl Remote {
    /// A new stream on this host's connection.
    async fn stream(&self) -> Result<std::result::Result<UnixStream, String>> {
        let (mut stream, _) = match connect(self.idle).await {
            Ok(s) => s,
            Err(Unavailable::NotRunning) => return Ok(Err("no prov agent runs".into())),
            Err(Unavailable::Refused(why)) => return Ok(Err(why)),
        };
        let open = Request::Open {
            target: Box::new(self.target.clone()),
            options: self.options.clone(),
            environment: self.environment.clone(),
        };
        send(&mut stream, &open).await.map_err(|e| self.lost(e))?;
        match receive(&mut stream).await.map_err(|e| self.lost(e))? {
            Some(Response::Opened { .. }) => Ok(Ok(stream)),
            Some(Response::Elsewhere) => Ok(Err(
                "the running prov agent was started with another HOME, SSH_AUTH_SOCK or PROV_* settings".into(),
            )),
            Some(Response::Failed {
                unreachable,
                message,
            }) => Err(failure(unreachable, message)),
            Some(Response::Refused { why }) => Ok(Err(why)),
            other => Err(self.lost(format!("unexpected answer {other:?}"))),
        }
    }

    fn lost(&self, e: impl std::fmt::Display) -> Error {
        Error::unreachable(format!(
            "{}@{}:{}: the prov agent went away: {e}",
            self.target.user, self.target.host, self.target.port
        ))
    }

    /// Send a request on an idle stream (or a new one) and read its answer; the stream goes
    /// back to the pool after a complete answer.
    async fn ask(&self, request: &Request) -> Result<Response> {
        let pooled = self.streams.lock().unwrap().pop();
        let mut stream = match pooled {
            Some(s) => s,
            None => self.stream().await?.map_err(|why| self.lost(why))?,
        };
        send(&mut stream, request).await.map_err(|e| self.lost(e))?;
        match receive(&mut stream).await.map_err(|e| self.lost(e))? {
            Some(r) => {
                self.streams.lock().unwrap().push(stream);
                Ok(r)
            }
            None => Err(self.lost("it closed the stream")),
        }
    }
}

fn failure(unreachable: bool, message: String) -> Error {
    let kind = if unreachable {
        ErrorKind::Unreachable
    } else {
        ErrorKind::Runtime
    };
    Error::new(kind, message)
}

async fn open_remote(target: &Target, options: &SshOptions, idle: Duration) -> Result<Opened> {
    let (target, options) = absolute(target, options);
    let remote = Remote {
        target,
        options,
        environment: super::environment(),
        idle,
        streams: Mutex::default(),
        counters: Counters::default(),
    };
    match remote.stream().await? {
        Ok(stream) => {
            remote.streams.lock().unwrap().push(stream);
            Ok(Opened::Remote(Box::new(remote)))
        }
        Err(why) => Ok(Opened::Direct(why)),
    }
}

/// The login's files as absolute paths: the agent runs in `/`, not in the run's directory (a
/// relative `--private-key` or known_hosts file names a file there). A relative path is also
/// a different key in the agent when the run's directory differs.
fn absolute(target: &Target, options: &SshOptions) -> (Target, SshOptions) {
    let abs = |p: &std::path::PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
    let mut target = target.clone();
    target.identity_files = target.identity_files.iter().map(abs).collect();
    target.known_hosts = target.known_hosts.iter().map(abs).collect();
    let mut options = options.clone();
    options.private_key = options.private_key.as_ref().map(abs);
    (target, options)
}

/// Host `target`'s transport for a `--persist` run: its connection in the agent (made there
/// if it is not open yet), or a direct connection (with a warning, once per run) when the
/// agent cannot be used. A host that cannot be reached is an error either way.
pub async fn open(
    target: &Target,
    options: &SshOptions,
    idle: Duration,
) -> Result<std::sync::Arc<dyn Transport>> {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    match open_remote(target, options, idle).await? {
        Opened::Remote(r) => Ok(std::sync::Arc::new(*r)),
        Opened::Direct(why) => {
            if !WARNED.swap(true, Ordering::SeqCst) {
                eprintln!(
                    "[WARNING]: --persist: connecting directly, not through the prov agent: {why}"
                );
            }
            Ok(std::sync::Arc::new(Ssh::connect(target, options).await?))
        }
    }
}

#[async_trait]
impl Transport for Remote {
    async fn exec(&self, exec: Exec) -> Result<ExecOutput> {
        let probe_frame = exec
            .probes
            .as_deref()
            .map(|p| Bytes(crate::transport::protocol::probe_frame(p)));
        let sent = exec.script.len() + exec.stdin.len();
        let request = Request::Exec {
            script: exec.script,
            stdin: Bytes(exec.stdin),
            become_: exec.become_,
            timeout_ms: exec.timeout.map(|t| t.as_millis() as u64),
            probe_frame,
        };
        match self.ask(&request).await? {
            Response::Output {
                rc,
                stdout,
                stderr,
                channels,
                probed,
            } => {
                let c = &self.counters;
                c.execs.fetch_add(1, Ordering::Relaxed);
                c.channels.fetch_add(channels, Ordering::Relaxed);
                if probed {
                    c.probed.fetch_add(1, Ordering::Relaxed);
                }
                c.traffic(sent, stdout.0.len() + stderr.0.len());
                Ok(ExecOutput {
                    rc,
                    stdout: stdout.0,
                    stderr: stderr.0,
                })
            }
            Response::Failed {
                unreachable,
                message,
            } => Err(failure(unreachable, message)),
            other => Err(self.lost(format!("unexpected answer {other:?}"))),
        }
    }

    fn describe(&self) -> String {
        format!(
            "ssh {}@{}:{} (prov agent)",
            self.target.user, self.target.host, self.target.port
        )
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }

    async fn refresh(&self) {
        let _ = self.ask(&Request::Refresh).await;
    }

    async fn close(&self) -> Result<()> {
        self.streams.lock().unwrap().clear();
        Ok(())
    }
}

/// `prov agent start`: start the agent unless one runs; its pid.
pub async fn start(idle: Duration) -> Result<u32> {
    match connect(idle).await {
        Ok((_, pid)) => Ok(pid),
        Err(Unavailable::NotRunning) => Err(Error::runtime("the prov agent did not start")),
        Err(Unavailable::Refused(why)) => Err(Error::runtime(format!("prov agent: {why}"))),
    }
}

/// What `prov agent status` shows: `None` when no agent runs.
pub struct Status {
    pub pid: u32,
    pub socket: PathBuf,
    pub idle: u64,
    pub connections: Vec<(String, bool)>,
}

async fn ask_agent(request: &Request) -> Result<Option<(Response, PathBuf)>> {
    let sock = super::socket_path(&super::directory()?);
    let mut stream = match hello(&sock, None).await {
        Ok((s, _)) => s,
        Err(Unavailable::NotRunning) => return Ok(None),
        Err(Unavailable::Refused(why)) => {
            return Err(Error::runtime(format!("prov agent: {why}")));
        }
    };
    send(&mut stream, request).await?;
    match receive(&mut stream).await? {
        Some(r) => Ok(Some((r, sock))),
        None => Err(Error::runtime("prov agent: no answer")),
    }
}

/// `prov agent status`.
pub async fn status() -> Result<Option<Status>> {
    match ask_agent(&Request::Status).await? {
        None => Ok(None),
        Some((
            Response::Status {
                pid,
                idle,
                connections,
            },
            socket,
        )) => Ok(Some(Status {
            pid,
            socket,
            idle,
            connections,
        })),
        Some((other, _)) => Err(Error::runtime(format!(
            "prov agent: unexpected answer {other:?}"
        ))),
    }
}

/// `prov agent stop`: close every connection and wait until the agent has gone (its socket
/// removed). False when none ran (a socket a killed agent left is removed).
pub async fn stop() -> Result<bool> {
    let dir = super::directory()?;
    let sock = super::socket_path(&dir);
    if ask_agent(&Request::Stop).await?.is_none() {
        if !lock_held(&dir) {
            let _ = std::fs::remove_file(&sock);
        }
        return Ok(false);
    }
    // The lock goes when the process has exited (after closing its connections).
    let deadline = Instant::now() + Duration::from_secs(15);
    while lock_held(&dir) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(true)
}

/// Does a live agent hold the lock in `dir`?
fn lock_held(dir: &Path) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(f) = std::fs::File::open(dir.join("agent.lock")) else {
        return false;
    };
    // SAFETY: flock on a descriptor owned here (closing it lets go of the shared lock).
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) != 0 }
}
