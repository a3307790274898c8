//! The agent process (`prov agent serve`): holds the lock, listens on the socket, keeps one
//! [`Ssh`] connection per key and runs the scripts runs send it.
//!
//! A run killed mid-script leaves the agent consistent: a script always runs to its end (or its
//! timeout) before the stream is read again, so a resident shell goes back to its pool only
//! after a complete answer; the answer to a vanished run is dropped with its stream.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Notify;

use super::{Bytes, Request, Response, VERSION, receive, send};
use crate::error::{Error, ErrorKind, Result};
use crate::transport::ssh::config::Target;
use crate::transport::ssh::{Ssh, SshOptions};
use crate::transport::{Exec, Transport};

/// One connection's settings and, once made, the connection.
struct Entry {
    target: Target,
    options: SshOptions,
    ssh: tokio::sync::Mutex<Option<Arc<Ssh>>>,
}

impl Entry {
    /// The open connection, made (again) when there is none or it has closed.
    async fn get(&self) -> Result<(Arc<Ssh>, bool)> {
        let mut slot = self.ssh.lock().await;
        if let Some(ssh) = slot.as_ref().filter(|s| !s.is_closed()) {
            return Ok((ssh.clone(), true));
        }
        if let Some(old) = slot.take() {
            eprintln!(
                "prov agent: {}: the connection closed; connecting again",
                old.describe()
            );
        }
        let mut ssh = Ssh::connect(&self.target, &self.options).await?;
        ssh.keep_probers();
        let ssh = Arc::new(ssh);
        *slot = Some(ssh.clone());
        Ok((ssh, false))
    }
}

struct State {
    environment: String,
    uid: u32,
    idle: AtomicU64,
    /// Streams open now, and when the last one closed.
    active: AtomicUsize,
    last: Mutex<Instant>,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
    stop: Notify,
}

/// Counts a stream as active while it lives.
struct Active(Arc<State>);

impl Drop for Active {
    fn drop(&mut self) {
        *self.0.last.lock().unwrap() = Instant::now();
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The agent's lock file, held exclusively for the agent's life (the kernel lets go of it
/// when the process dies, however it dies).
fn lock(dir: &Path) -> Result<Option<std::fs::File>> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join("agent.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    // SAFETY: flock on a file descriptor this function owns.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    Ok((r == 0).then_some(file))
}

/// Run the agent until it has been idle for `idle`, is stopped, or gets SIGTERM/SIGINT.
/// Returns at once when another agent is already serving. `listening` is called once its
/// signal handlers are in place (the caller lets signals through from then on).
pub async fn serve(idle: Duration, listening: impl FnOnce()) -> Result<()> {
    let dir = super::directory()?;
    let sock = super::socket_path(&dir);
    // A live agent holds the lock; one that is shutting down lets go of it soon.
    let deadline = Instant::now() + Duration::from_secs(10);
    let _lock = loop {
        if let Some(file) = lock(&dir)? {
            break file;
        }
        if Instant::now() > deadline || std::os::unix::net::UnixStream::connect(&sock).is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Whatever is there was left by a killed agent.
    let _ = std::fs::remove_file(&sock);
    let listener = UnixListener::bind(&sock).map_err(|e| Error::io(&sock, e))?;
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io(&sock, e))?;
    let state = Arc::new(State {
        environment: super::environment(),
        uid: unsafe { libc::geteuid() },
        idle: AtomicU64::new(idle.as_secs()),
        active: AtomicUsize::new(0),
        last: Mutex::new(Instant::now()),
        entries: Mutex::default(),
        stop: Notify::new(),
    });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::runtime(format!("cannot watch SIGTERM: {e}")))?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| Error::runtime(format!("cannot watch SIGINT: {e}")))?;
    listening();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(client(state.clone(), stream));
                }
            }
            _ = tick.tick() => {
                let quiet = state.last.lock().unwrap().elapsed();
                if state.active.load(Ordering::SeqCst) == 0
                    && quiet >= Duration::from_secs(state.idle.load(Ordering::SeqCst))
                {
                    break;
                }
            }
            _ = state.stop.notified() => break,
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    shutdown(&state, &sock, listener).await;
    Ok(())
}

/// Stop listening, remove the socket, then close every connection (its resident shells clean
/// up after themselves).
async fn shutdown(state: &State, sock: &PathBuf, listener: UnixListener) {
    drop(listener);
    let _ = std::fs::remove_file(sock);
    let entries: Vec<Arc<Entry>> = state.entries.lock().unwrap().drain().map(|e| e.1).collect();
    let mut closing = tokio::task::JoinSet::new();
    for e in entries {
        closing.spawn(async move {
            if let Some(ssh) = e.ssh.lock().await.take() {
                let _ = tokio::time::timeout(Duration::from_secs(5), ssh.close()).await;
            }
        });
    }
    while closing.join_next().await.is_some() {}
}

/// Serve one stream.
async fn client(state: Arc<State>, mut stream: UnixStream) {
    let peer = stream.peer_cred().map(|c| c.uid());
    if peer.as_ref().ok() != Some(&state.uid) {
        let why = match peer {
            Ok(uid) => format!(
                "the prov agent of uid {} serves only its own user, not uid {uid}",
                state.uid
            ),
            Err(e) => format!("cannot tell who is connecting: {e}"),
        };
        eprintln!("prov agent: refused a connection: {why}");
        let _ = send(&mut stream, &Response::Refused { why }).await;
        return;
    }
    state.active.fetch_add(1, Ordering::SeqCst);
    let _active = Active(state.clone());
    let mut welcomed = false;
    let mut entry: Option<Arc<Entry>> = None;
    loop {
        let request: Request = match receive(&mut stream).await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                let _ = send(&mut stream, &Response::Refused { why: e.message }).await;
                return;
            }
        };
        let stop = matches!(request, Request::Stop);
        let response = match request {
            Request::Hello { version, idle } => {
                if version != VERSION {
                    Response::Refused {
                        why: format!(
                            "the running prov agent speaks protocol {VERSION}, this prov {version}: stop it with `prov agent stop`"
                        ),
                    }
                } else {
                    welcomed = true;
                    if let Some(idle) = idle {
                        state.idle.store(idle, Ordering::SeqCst);
                    }
                    Response::Welcome {
                        version: VERSION,
                        pid: std::process::id(),
                    }
                }
            }
            _ if !welcomed => Response::Refused {
                why: "the first message must be Hello".into(),
            },
            Request::Open {
                target,
                options,
                environment,
            } => {
                if environment != state.environment {
                    Response::Elsewhere
                } else {
                    let k = super::key(&target, &options, &environment);
                    let e = state
                        .entries
                        .lock()
                        .unwrap()
                        .entry(k)
                        .or_insert_with(|| {
                            Arc::new(Entry {
                                target: *target,
                                options,
                                ssh: Default::default(),
                            })
                        })
                        .clone();
                    let opened = e.get().await;
                    entry = Some(e);
                    match opened {
                        Ok((_, reused)) => Response::Opened { reused },
                        Err(err) => failed(err),
                    }
                }
            }
            Request::Exec {
                script,
                stdin,
                become_,
                timeout_ms,
                probe_frame,
            } => match &entry {
                None => Response::Refused {
                    why: "Exec before Open".into(),
                },
                Some(e) => {
                    let exec = Exec {
                        script,
                        stdin: stdin.0,
                        become_,
                        timeout: timeout_ms.map(Duration::from_millis),
                        probes: None,
                    };
                    run(e, exec, probe_frame.map(|f| f.0)).await
                }
            },
            Request::Refresh => {
                if let Some(e) = &entry
                    && let Some(ssh) = e.ssh.lock().await.clone()
                {
                    ssh.refresh().await;
                }
                Response::Done
            }
            Request::Status => status(&state).await,
            Request::Stop => Response::Done,
        };
        let refused = matches!(response, Response::Refused { .. });
        if send(&mut stream, &response).await.is_err() || refused {
            return;
        }
        if stop {
            state.stop.notify_one();
            return;
        }
    }
}

/// Run one script on the entry's connection (made again first if it has closed).
async fn run(entry: &Entry, exec: Exec, frame: Option<Vec<u8>>) -> Response {
    let ssh = match entry.get().await {
        Ok((ssh, _)) => ssh,
        Err(e) => return failed(e),
    };
    let c = ssh.counters();
    let (channels, probed) = (
        c.channels.load(Ordering::Relaxed),
        c.probed.load(Ordering::Relaxed),
    );
    match ssh.exec_framed(exec, frame).await {
        Ok(out) => Response::Output {
            rc: out.rc,
            stdout: Bytes(out.stdout),
            stderr: Bytes(out.stderr),
            channels: c.channels.load(Ordering::Relaxed).saturating_sub(channels),
            probed: c.probed.load(Ordering::Relaxed) > probed,
        },
        Err(e) => failed(e),
    }
}

fn failed(e: Error) -> Response {
    Response::Failed {
        unreachable: e.kind == ErrorKind::Unreachable,
        message: e.message,
    }
}

async fn status(state: &State) -> Response {
    let entries: Vec<Arc<Entry>> = state.entries.lock().unwrap().values().cloned().collect();
    let mut connections = Vec::new();
    for e in entries {
        let open = e.ssh.lock().await.as_ref().is_some_and(|s| !s.is_closed());
        let t = &e.target;
        connections.push((format!("{}@{}:{}", t.user, t.host, t.port), open));
    }
    connections.sort();
    Response::Status {
        pid: std::process::id(),
        idle: state.idle.load(Ordering::SeqCst),
        connections,
    }
}
