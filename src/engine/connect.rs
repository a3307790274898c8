//! Choosing and opening a host's transport: `--chroot`, `-c`, the play's `connection:`, or the
//! host's `ansible_connection` (with `ansible_host` as the directory of a chroot host).

use std::path::PathBuf;
use std::sync::Arc;

use super::{PlayCtx, Shared};
use crate::error::{Error, Result};
use crate::transport::Transport;
use crate::transport::chroot::Chroot;
use crate::transport::local::Local;
use crate::transport::ssh::config::{self, Given, HostKeyMode, Target};
use crate::transport::ssh::{Ssh, SshOptions};
use std::time::Duration;

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

fn var_bool(s: &Shared, pc: &PlayCtx, h: usize, name: &str) -> Result<Option<bool>> {
    let ctx = s.context(pc, h, None, &[]);
    Ok(ctx
        .get(name)?
        .filter(|v| !v.is_none() && !v.is_undefined())
        .map(|v| crate::template::filters::to_bool(&v)))
}

/// The SSH settings of host `h`: inventory variables as Ansible names them, the play's
/// `remote_user`, then the command line (`-u`, `-k`, `--ssh-common-args`...) and ansible.cfg
/// (ssh config fills in the rest).
pub fn ssh_target(s: &Shared, pc: &PlayCtx, h: usize) -> Result<Target> {
    let v = |name: &str| var(s, pc, h, name);
    let port =
        match v("ansible_port")?.or(v("ansible_ssh_port")?) {
            Some(p) => Some(p.trim().parse().map_err(|_| {
                Error::usage(format!("bad ansible_port '{p}' for {}", s.host_name(h)))
            })?),
            None => None,
        };
    let mut args = v("ansible_ssh_common_args")?
        .or(s.opts.ssh_common_args.clone())
        .unwrap_or_default();
    if let Some(extra) = v("ansible_ssh_extra_args")?.or(s.opts.ssh_extra_args.clone()) {
        args.push(' ');
        args.push_str(&extra);
    }
    let host_key = match var_bool(s, pc, h, "ansible_host_key_checking")?.or(var_bool(
        s,
        pc,
        h,
        "ansible_ssh_host_key_checking",
    )?) {
        Some(true) => Some(HostKeyMode::Strict),
        Some(false) => Some(HostKeyMode::Off),
        None => None,
    };
    let timeout = match v("ansible_ssh_timeout")?.or(v("ansible_timeout")?) {
        Some(t) => t.trim().parse::<u64>().ok(),
        None => s.opts.timeout,
    };
    let given = Given {
        host: v("ansible_host")?.or(v("ansible_ssh_host")?),
        port,
        user: v("ansible_user")?
            .or(v("ansible_ssh_user")?)
            .or(pc.play.remote_user.clone())
            .or(s.opts.remote_user.clone()),
        identity_files: v("ansible_ssh_private_key_file")?
            .map(|p| vec![PathBuf::from(p)])
            .unwrap_or_default(),
        ssh_args: args,
        password: v("ansible_password")?
            .or(v("ansible_ssh_pass")?)
            .or(v("ansible_ssh_password")?)
            .or(s.opts.ssh_password.clone()),
        host_key,
        connect_timeout: timeout.map(Duration::from_secs),
    };
    config::resolve(
        &s.host_name(h),
        &given,
        s.opts.host_key_default.unwrap_or(HostKeyMode::Strict),
        s.opts.host_key_checking,
    )
}

/// A new SSH connection to host `h` with its current settings, not cached and never the
/// agent's pooled one under `--persist` (it checks that a fresh login still works,
/// [`super::safe_reconnect`]). With `address`, to that address
/// instead, checking the host key known for the current one (as OpenSSH's HostKeyAlias).
pub async fn fresh_ssh(
    s: &Shared,
    pc: &PlayCtx,
    h: usize,
    address: Option<&str>,
) -> Result<Arc<dyn Transport>> {
    let (target, opts) = ssh_login(s, pc, h, address)?;
    Ok(Arc::new(Ssh::connect(&target, &opts).await?))
}

/// Where and how host `h` is logged into: its SSH target (at `address` when given, checking
/// the host key recorded for its usual name) and the run's SSH options.
fn ssh_login(
    s: &Shared,
    pc: &PlayCtx,
    h: usize,
    address: Option<&str>,
) -> Result<(Target, SshOptions)> {
    let mut target = ssh_target(s, pc, h)?;
    if target.host_key_alias.is_none() {
        target.host_key_alias = s.hosts[h].lock().unwrap().key_alias.clone();
    }
    if let Some(a) = address.filter(|a| *a != target.host) {
        if target.host_key_alias.is_none() {
            target.host_key_alias = Some(target.host.clone());
        }
        target.host = a.to_string();
    }
    let opts = SshOptions {
        private_key: s.opts.private_key.clone(),
        host_key_checking: s.opts.host_key_checking,
    };
    Ok((target, opts))
}

/// The (cached) transport of host `h`.
pub async fn connection(s: &Shared, pc: &PlayCtx, h: usize) -> Result<Arc<dyn Transport>> {
    if let Some(c) = s.hosts[h].lock().unwrap().conn.clone() {
        return Ok(c);
    }
    let started = std::time::Instant::now();
    let conn: Arc<dyn Transport> = match kind(s, pc, h)? {
        Kind::Local => Arc::new(Local::new()),
        Kind::Chroot(dir) => {
            let d = dir.clone();
            let check = s.opts.check;
            let c = tokio::task::spawn_blocking(move || Chroot::open(&d, check))
                .await
                .map_err(|e| Error::runtime(format!("chroot preparation panicked: {e}")))??;
            Arc::new(c)
        }
        Kind::Ssh => {
            let (target, opts) = ssh_login(s, pc, h, None)?;
            match s.opts.persist {
                Some(idle) => crate::transport::agent::client::open(&target, &opts, idle).await?,
                None => Arc::new(Ssh::connect(&target, &opts).await?),
            }
        }
    };
    let mut host = s.hosts[h].lock().unwrap();
    host.conn = Some(conn.clone());
    host.closed_trips.connections += 1;
    host.closed_trips.connect_seconds += started.elapsed().as_secs_f64();
    drop(host);
    Ok(conn)
}
