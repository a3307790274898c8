//! Choosing and opening a host's transport: `--chroot`, `-c`, the play's `connection:`, or the
//! host's `ansible_connection` (with `ansible_host` as the directory of a chroot host).

use std::path::PathBuf;
use std::sync::Arc;

use super::{PlayCtx, Shared};
use crate::error::{Error, Result};
use crate::transport::Transport;
use crate::transport::chroot::Chroot;
use crate::transport::local::Local;

/// How a host is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Local,
    Chroot(PathBuf),
    Ssh,
}

fn var(s: &Shared, pc: &PlayCtx, h: usize, name: &str) -> Result<Option<String>> {
    let ctx = s.context(pc, h, None, &[]);
    Ok(ctx
        .get(name)?
        .filter(|v| !v.is_none() && !v.is_undefined())
        .map(|v| crate::template::to_text(&v)))
}

/// The connection kind of host `h` in this play.
pub fn kind(s: &Shared, pc: &PlayCtx, h: usize) -> Result<Kind> {
    if let Some(dir) = &s.opts.chroot {
        return Ok(Kind::Chroot(dir.clone()));
    }
    let name = match (&s.opts.connection, &pc.play.connection) {
        (Some(c), _) => c.clone(),
        (None, Some(c)) => c.clone(),
        (None, None) => var(s, pc, h, "ansible_connection")?.unwrap_or_else(|| "ssh".into()),
    };
    match name.as_str() {
        "local" | "ansible.builtin.local" => Ok(Kind::Local),
        "chroot" | "community.general.chroot" => {
            let dir = var(s, pc, h, "ansible_host")?.unwrap_or_else(|| s.host_name(h));
            Ok(Kind::Chroot(PathBuf::from(dir)))
        }
        "ssh" | "smart" | "paramiko" | "ansible.builtin.ssh" | "ansible.builtin.paramiko_ssh" => {
            Ok(Kind::Ssh)
        }
        other => Err(Error::usage(format!(
            "connection type '{other}' is not supported (local, chroot and ssh are)"
        ))),
    }
}

/// The (cached) transport of host `h`.
pub async fn connection(s: &Shared, pc: &PlayCtx, h: usize) -> Result<Arc<dyn Transport>> {
    if let Some(c) = s.hosts[h].lock().unwrap().conn.clone() {
        return Ok(c);
    }
    let conn: Arc<dyn Transport> = match kind(s, pc, h)? {
        Kind::Local => Arc::new(Local::new()),
        Kind::Chroot(dir) => {
            let d = dir.clone();
            let c = tokio::task::spawn_blocking(move || Chroot::open(&d))
                .await
                .map_err(|e| Error::runtime(format!("chroot preparation panicked: {e}")))??;
            Arc::new(c)
        }
        Kind::Ssh => {
            return Err(Error::unreachable(
                "the ssh connection is not available in this build of prov yet; use --chroot, -c local or ansible_connection=local",
            ));
        }
    };
    s.hosts[h].lock().unwrap().conn = Some(conn.clone());
    Ok(conn)
}
