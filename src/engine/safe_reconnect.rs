//! Lockout-safe changes (`prov_safe_reconnect: true`): a change that could cut the operator off
//! a remote host (sshd's configuration, the node's address) is applied with an automatic
//! revert on the target that does not depend on the SSH connection.
//!
//! The setting is a task variable (`vars: {prov_safe_reconnect: true}`, which Ansible ignores)
//! or a task/block keyword of the same name (prov turns it into that variable). More variables
//! tune it: `prov_safe_reconnect_timeout` (seconds, default 60),
//! `prov_safe_reconnect_restart` (the shell command that makes the restored files take effect;
//! default: restart sshd through systemctl, or SIGHUP the pid in /run/sshd.pid; the netplan
//! role sets `netplan apply`) and `prov_safe_reconnect_address` (templated: the address the
//! host answers at after the change, when it differs from the one prov uses now).
//!
//! **Address changes**: with `prov_safe_reconnect_address`, the confirm logs in at that
//! address with the same user, port and credentials, checking the host key known for the old
//! address (as OpenSSH's `HostKeyAlias`), and disarms over that new connection. Applying the
//! address cuts the old connection without an answer, so while such a revert is armed a step
//! over the old connection (the handler, `netplan apply`) is given up after a quarter of the
//! timeout (at most 15 s) and reported changed, saying so: the confirm decides. Once confirmed,
//! later tasks reach the host at the new address (`ansible_host` is set, as an Ansible user's
//! `set_fact: ansible_host=...` before `wait_for_connection` would). A failed confirm waits for
//! the revert window and logs in at the old address again. The cut session stays on the target
//! (with its temporary directory) until sshd notices its connection is gone.
//!
//! The sequence on one host, when the task's plan touches files (writes, removals, links,
//! attributes):
//!
//! 1. **Arm** (one round trip, as the task's become user, before the plan's steps): the paths'
//!    current state is copied (`cp -a`; a missing path has no copy) into the root-only directory
//!    `/var/lib/prov/revert/<id>/`, next to a `restore` script, and a timer is started that runs
//!    `restore` after the timeout: a `systemd-run --on-active=` transient timer when systemd is
//!    PID 1 and `systemctl is-system-running` answers, otherwise a detached watchdog
//!    (`setsid sh -c 'sleep N; sh restore'`, all descriptors on /dev/null). Each path is
//!    snapshotted once per confirm: a loop's later items only arm the paths earlier items did
//!    not, so the revert restores the state before the task.
//! 2. The plan's steps run; the task is reported as usual.
//! 3. **Handlers run before the confirm**: right after the task, the handlers notified on the
//!    armed hosts are flushed for them (as `meta: flush_handlers` would), so a restart that
//!    breaks login is caught; every handler flush ends with the confirm of the hosts it ran on
//!    (a handler may arm too). After Ctrl-C no confirm starts: the target reverts by itself.
//! 4. **Confirm**: a fresh SSH connection with the same settings and credentials (never the
//!    cached one) runs `true`, without become.
//! 5. Success: **disarm** over the existing connection (claim the revert with an atomic
//!    `mkdir claim`, stop the timer, remove the snapshot). A step "Confirm over a new connection:
//!    <task>" is reported ok.
//!    Failure: the host fails with "the change could not be confirmed over a new connection
//!    (…); the target reverts to the previous files (…): <paths>". prov also starts
//!    `restore` at once over the old connection if it still works (detached, so the restart
//!    cannot cut it short), then waits for the revert window and tries a fresh login again,
//!    saying whether the host is reachable after the revert.
//!
//! `restore` claims the revert first (so a disarm and a revert never both happen), stops its
//! systemd timer when it runs early (over prov's old connection), puts each
//! file back atomically (copy to `<path>.prov-revert`, rename over the path; a path that did
//! not exist is removed), runs the restart command, and removes its directory.
//! If prov dies after arming (killed, Ctrl-C, lost controller), the target reverts by itself.
//!
//! Not covered (the setting does nothing; noted once at -v for the first three): local and
//! chroot connections, targets whose `ansible_is_chroot` fact is true, delegated tasks; also
//! modules without file steps (commands) and foreign (Ansible-run) modules. The systemd timer
//! path is chosen only on a host booted with systemd (PID 1 is systemd and
//! `systemctl is-system-running` answers): tests/image.rs covers it on the built image booted
//! in QEMU; the SSH test hosts of tests/safe_reconnect*.rs run no systemd (their PID 1 is
//! tests/fixtures/sshhost.sh) and cover the watchdog path.
//! Check mode arms nothing; the task's result says what would be armed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use minijinja::Value;

use super::run_as::RunAs;
use super::task::{TaskRun, exec_cancellable};
use super::{PlayCtx, Shared, connect};
use crate::error::{Error, Result};
use crate::modules::Step;
use crate::report::{HostOutcome, Status};
use crate::shlex::quote;
use crate::transport::{Exec, Transport};
use crate::vars::Context;

/// Where the snapshots live on the target (root only).
const REVERT_DIR: &str = "/var/lib/prov/revert";
/// Its parent, removed with it when empty.
const PARENT_DIR: &str = "/var/lib/prov";

/// The default restart: sshd re-reads its configuration.
const DEFAULT_RESTART: &str = "if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then systemctl restart ssh || systemctl restart sshd; else kill -HUP \"$(cat /run/sshd.pid)\"; fi";

/// A revert armed on a host and not yet confirmed.
pub struct Armed {
    id: String,
    /// The task that armed it (the confirm step is named after it).
    task: String,
    paths: Vec<String>,
    timeout: u64,
    armed_at: Instant,
    run_as: RunAs,
    /// The host's new address, when the change moves it (`prov_safe_reconnect_address`).
    address: Option<String>,
    /// The task is `no_log`: its confirm shows no paths, address or error either.
    no_log: bool,
}

/// What a task asked for.
pub(super) struct Settings {
    timeout: u64,
    restart: String,
    /// Not rendered yet: only where a revert is armed.
    address: Option<Value>,
}

fn var(ctx: &Arc<Context>, name: &str) -> Result<Option<Value>> {
    Ok(ctx.get(name)?.filter(|v| !v.is_none() && !v.is_undefined()))
}

/// The task's settings, when it asks for a safe reconnect.
pub(super) fn settings(ctx: &Arc<Context>) -> Result<Option<Settings>> {
    let on = match var(ctx, "prov_safe_reconnect")? {
        Some(v) => crate::template::eval_flag(&v, ctx)?,
        None => false,
    };
    if !on {
        return Ok(None);
    }
    let timeout = match var(ctx, "prov_safe_reconnect_timeout")? {
        Some(v) => {
            let text = crate::template::to_text(&v);
            match text.trim().parse::<u64>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(Error::runtime(format!(
                        "prov_safe_reconnect_timeout must be a positive number of seconds, not '{text}'"
                    )));
                }
            }
        }
        None => 60,
    };
    let restart = match var(ctx, "prov_safe_reconnect_restart")? {
        Some(v) => crate::template::render_text(&crate::template::to_text(&v), ctx)?,
        None => DEFAULT_RESTART.to_string(),
    };
    let address = var(ctx, "prov_safe_reconnect_address")?;
    Ok(Some(Settings {
        timeout,
        restart,
        address,
    }))
}

/// The paths a plan's steps change.
pub(super) fn touched_paths(steps: &[Step]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for step in steps {
        let p = match step {
            Step::Write(w) => &w.path,
            Step::MakeDir { path, .. }
            | Step::Remove { path }
            | Step::Link { path, .. }
            | Step::SetAttrs { path, .. }
            | Step::Touch { path, .. } => path,
            Step::Run { .. } => continue,
        };
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    out
}

/// A new revert id: unique on the target for this run.
fn new_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{:x}-{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// The script that snapshots `paths` into the revert directory, writes `restore` and starts
/// its timer. It prints `armed=systemd` or `armed=watchdog`.
pub(super) fn arm_script(id: &str, paths: &[String], timeout: u64, restart: &str) -> String {
    let d = format!("{REVERT_DIR}/{id}");
    let mut snap = String::new();
    let mut put = String::new();
    for (i, p) in paths.iter().enumerate() {
        let q = quote(p);
        snap.push_str(&format!(
            "if [ -e {q} ] || [ -L {q} ]; then cp -a -- {q} \"$d/{i}\"; fi\n"
        ));
        put.push_str(&format!("put {q} {i}\n"));
    }
    let restore = format!(
        r#"#!/bin/sh
# Written by prov (lockout-safe change): puts the files back and restarts the service.
d={dq}
trap '' HUP INT
mkdir "$d/claim" 2>/dev/null || exit 0
# Run early (over prov's old connection), the timer has nothing left to do.
if [ "$(cat "$d/how" 2>/dev/null)" = systemd ]; then systemctl stop prov-revert-{id}.timer 2>/dev/null; fi
put() {{
    if [ -e "$d/$2" ] || [ -L "$d/$2" ]; then
        rm -rf -- "$1.prov-revert" "$1.prov-old"
        cp -a -- "$d/$2" "$1.prov-revert" || return
        if [ -d "$1" ] && [ ! -L "$1" ]; then
            mv -T -- "$1" "$1.prov-old" || return
        fi
        mv -f -T -- "$1.prov-revert" "$1"
        rm -rf -- "$1.prov-old"
    else
        rm -rf -- "$1"
    fi
}}
{put}sync
( {restart}
) </dev/null >/dev/null 2>&1
logger -t prov "reverted an unconfirmed change: {names}" 2>/dev/null
rm -rf -- "$d"
rmdir {root} {parent} 2>/dev/null
exit 0
"#,
        dq = quote(&d),
        root = quote(REVERT_DIR),
        parent = quote(PARENT_DIR),
        names = paths.join(" ").replace(['"', '\\', '$', '`'], "_"),
    );
    format!(
        r#"set -e
umask 077
d={dq}
mkdir -p {root}
mkdir "$d"
trap 'rm -rf -- "$d"' EXIT
{snap}printf '%s' {restore} > "$d/restore"
state=$(systemctl is-system-running 2>/dev/null || true)
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && command -v systemd-run >/dev/null 2>&1 && [ -n "$state" ] && [ "$state" != offline ]; then
    systemd-run --quiet --collect --on-active={timeout}s --unit=prov-revert-{id} /bin/sh "$d/restore" </dev/null >/dev/null
    echo systemd > "$d/how"
    echo armed=systemd
else
    setsid sh -c 'echo $$ > "$2/pid"; sleep "$1"; exec sh "$2/restore"' prov-revert {timeout} "$d" </dev/null >/dev/null 2>&1 &
    echo watchdog > "$d/how"
    echo armed=watchdog
fi
trap - EXIT
"#,
        dq = quote(&d),
        root = quote(REVERT_DIR),
        restore = quote(&restore),
    )
}

/// The script that disarms these reverts: exit 0 when every one was still pending and is
/// now gone; 3 when one had already started reverting (or vanished).
pub(super) fn disarm_script(ids: &[&str]) -> String {
    let mut s = String::from("rc=0\n");
    for id in ids {
        let d = quote(&format!("{REVERT_DIR}/{id}"));
        s.push_str(&format!(
            r#"if mkdir {d}/claim 2>/dev/null; then
    if [ -f {d}/pid ]; then kill -TERM -- "-$(cat {d}/pid)" 2>/dev/null || true; fi
    if [ "$(cat {d}/how 2>/dev/null)" = systemd ]; then systemctl stop prov-revert-{id}.timer 2>/dev/null || true; fi
    rm -rf -- {d}
else
    echo "revert {id} already started" >&2; rc=3
fi
"#
        ));
    }
    s.push_str(&format!(
        "rmdir {} {} 2>/dev/null || true\nexit $rc\n",
        quote(REVERT_DIR),
        quote(PARENT_DIR)
    ));
    s
}

/// The script that starts the reverts now, detached (the restart may end this session).
fn revert_now_script(ids: &[&str]) -> String {
    ids.iter()
        .map(|id| {
            let d = quote(&format!("{REVERT_DIR}/{id}"));
            format!("[ -f {d}/restore ] && setsid sh {d}/restore </dev/null >/dev/null 2>&1 &\n")
        })
        .collect::<String>()
        + "exit 0\n"
}

async fn run_script(
    s: &Shared,
    c: &Arc<dyn Transport>,
    script: String,
    run_as: &RunAs,
) -> Result<crate::transport::ExecOutput> {
    let exec = Exec {
        script,
        stdin: Vec::new(),
        become_: run_as.become_.clone(),
        timeout: run_as.timeout,
        probes: None,
    };
    exec_cancellable(s, c, exec, true).await
}

/// Before a task's steps run: arm a revert of the paths they touch (when the task asks for it
/// and the host is reached over SSH); without a connection (check mode) only say what would be
/// armed. Returns a line for the task's result.
pub(super) async fn arm(
    tr: TaskRun<'_>,
    ctx: &Arc<Context>,
    c: Option<&Arc<dyn Transport>>,
    run_as: &RunAs,
    steps: &[Step],
) -> Result<Option<String>> {
    let Some(cfg) = settings(ctx)? else {
        return Ok(None);
    };
    let TaskRun { s, pc, t, h } = tr;
    // A chroot-like target (an image build over SSH) is not the system whose login matters.
    let chroot = var(ctx, "ansible_is_chroot")?
        .map(|v| crate::template::filters::to_bool(&v))
        .unwrap_or(false);
    if chroot || t.d.delegate_to.is_some() || connect::kind(s, pc, h)? != connect::Kind::Ssh {
        static NOTED: AtomicBool = AtomicBool::new(false);
        if s.opts.verbosity > 0 && !NOTED.swap(true, Ordering::SeqCst) {
            s.reporter.note(
                "prov_safe_reconnect does nothing on local, chroot and delegated tasks (no connection to lose)",
            );
        }
        return Ok(None);
    }
    let covered: Vec<String> = s.hosts[h]
        .lock()
        .unwrap()
        .armed
        .iter()
        .flat_map(|a| a.paths.clone())
        .collect();
    let paths: Vec<String> = touched_paths(steps)
        .into_iter()
        .filter(|p| !covered.contains(p))
        .collect();
    if paths.is_empty() {
        return Ok(None);
    }
    // The address the confirm logs in at, when it is not the one prov uses now.
    let current = connect::ssh_target(s, pc, h)?.host;
    let address = match &cfg.address {
        Some(v) => Some(crate::template::render_text(
            &crate::template::to_text(v),
            ctx,
        )?)
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty() && *a != current),
        None => None,
    };
    let at = match &address {
        Some(a) => format!(", confirmed at {a}"),
        None => String::new(),
    };
    let Some(c) = c else {
        return Ok(Some(format!(
            "a revert would be armed ({} s{at}) for: {}",
            cfg.timeout,
            paths.join(", ")
        )));
    };
    let id = new_id();
    let out = run_script(
        s,
        c,
        arm_script(&id, &paths, cfg.timeout, &cfg.restart),
        run_as,
    )
    .await?;
    if out.rc != 0 {
        return Err(Error::runtime(format!(
            "could not arm the revert of {} before changing it: {}",
            paths.join(", "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let how = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("armed=").map(str::to_string))
        .unwrap_or_default();
    let line = format!(
        "revert armed ({how}, {} s{at}) for: {}",
        cfg.timeout,
        paths.join(", ")
    );
    s.hosts[h].lock().unwrap().armed.push(Armed {
        id,
        task: t.display_name(),
        paths,
        timeout: cfg.timeout,
        armed_at: Instant::now(),
        run_as: run_as.clone(),
        address,
        no_log: super::task::no_log(t, ctx),
    });
    Ok(Some(line))
}

/// While a revert that moves the host's address waits for its confirm, how long a step over
/// the host's old connection may take: applying the new address cuts that connection (the
/// handler's answer never comes back), so the step is given up and the confirm decides.
pub(super) fn old_connection_limit(s: &Shared, h: usize) -> Option<Duration> {
    let host = s.hosts[h].lock().unwrap();
    host.armed
        .iter()
        .filter(|a| a.address.is_some())
        .map(|a| Duration::from_secs((a.timeout / 4).clamp(1, 15)))
        .min()
}

/// A login on a fresh connection (to `address` when given) runs `true`; the connection is
/// returned open.
async fn login(
    s: &Shared,
    pc: &PlayCtx,
    h: usize,
    address: Option<&str>,
) -> Result<Arc<dyn Transport>> {
    let c = tokio::time::timeout(
        Duration::from_secs(30),
        connect::fresh_ssh(s, pc, h, address),
    )
    .await
    .map_err(|_| Error::runtime("connect timed out"))??;
    let out = c
        .exec(Exec {
            script: "true\n".into(),
            stdin: Vec::new(),
            become_: None,
            timeout: Some(Duration::from_secs(30)),
            probes: None,
        })
        .await;
    let out = match out {
        Ok(o) if o.rc == 0 => return Ok(c),
        Ok(o) => Error::runtime(format!(
            "`true` exited {}: {}",
            o.rc,
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => e,
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), c.close()).await;
    Err(out)
}

/// A login on a fresh connection with the host's current settings runs `true`.
async fn fresh_login(s: &Shared, pc: &PlayCtx, h: usize) -> Result<()> {
    let c = login(s, pc, h, None).await?;
    let _ = tokio::time::timeout(Duration::from_secs(5), c.close()).await;
    Ok(())
}

/// After the task and its handlers (at the end of every handler flush): confirm each armed host
/// over a fresh connection, then disarm or report the revert. Reported as one step named after
/// the task that armed it.
pub(super) async fn confirm(s: &Shared, pc: &Arc<PlayCtx>, hosts: &[usize]) {
    let mut set = tokio::task::JoinSet::new();
    let mut title = None;
    for &h in hosts {
        let armed = std::mem::take(&mut s.hosts[h].lock().unwrap().armed);
        if armed.is_empty() {
            continue;
        }
        title.get_or_insert_with(|| armed[0].task.clone());
        let (s, pc) = (s.arc(), pc.clone());
        set.spawn(async move {
            let out = confirm_host(&s, &pc, h, armed).await;
            (h, out)
        });
    }
    let mut outs = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(r) => outs.push(r),
            Err(e) => s
                .reporter
                .warn(&format!("internal error while confirming: {e}")),
        }
    }
    let Some(title) = title.filter(|_| !outs.is_empty()) else {
        return;
    };
    outs.sort_by_key(|(h, _)| *h);
    s.reporter
        .task(&format!("Confirm over a new connection: {title}"), false);
    let outs: Vec<HostOutcome> = outs.into_iter().map(|(_, o)| o).collect();
    s.reporter.hosts(&outs);
}

async fn confirm_host(s: &Shared, pc: &PlayCtx, h: usize, armed: Vec<Armed>) -> HostOutcome {
    let no_log = armed.iter().any(|a| a.no_log);
    let mut out = confirm_shown(s, pc, h, armed).await;
    out.no_log = no_log;
    out
}

async fn confirm_shown(s: &Shared, pc: &PlayCtx, h: usize, armed: Vec<Armed>) -> HostOutcome {
    let name = s.host_name(h);
    let ids: Vec<&str> = armed.iter().map(|a| a.id.as_str()).collect();
    let paths: Vec<String> = armed.iter().flat_map(|a| a.paths.clone()).collect();
    let run_as = armed[0].run_as.clone();
    let address = armed.iter().find_map(|a| a.address.clone());
    let old = connect::connection(s, pc, h).await;
    let window = |armed: &[Armed]| {
        armed
            .iter()
            .map(|a| Duration::from_secs(a.timeout).saturating_sub(a.armed_at.elapsed()))
            .max()
            .unwrap_or_default()
    };
    // A restarting service refuses connections for a moment: a few tries, well within the
    // revert window.
    let confirm_until = Instant::now() + (window(&armed) / 2).min(Duration::from_secs(5));
    let mut fresh = login(s, pc, h, address.as_deref()).await;
    while fresh.is_err() && Instant::now() < confirm_until && !s.cancel.is_cancelled() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        fresh = login(s, pc, h, address.as_deref()).await;
    }
    let failure = match fresh {
        Ok(fresh) => {
            // After an address change the old connection is cut: disarm over the new one.
            let disarmed = match (&address, &old) {
                (Some(_), _) => run_script(s, &fresh, disarm_script(&ids), &run_as).await,
                (None, Ok(c)) => run_script(s, c, disarm_script(&ids), &run_as).await,
                (None, Err(e)) => Err(Error::runtime(e.to_string())),
            };
            let _ = tokio::time::timeout(Duration::from_secs(5), fresh.close()).await;
            match disarmed {
                Ok(o) if o.rc == 0 => {
                    let mut out = HostOutcome::new(&name, Status::Ok);
                    out.msg = Some(match &address {
                        Some(a) => {
                            moved(s, pc, h, a);
                            format!(
                                "confirmed at {a} (ansible_host from now on); revert disarmed: {}",
                                paths.join(", ")
                            )
                        }
                        None => format!("confirmed; revert disarmed: {}", paths.join(", ")),
                    });
                    return out;
                }
                Ok(o) => format!(
                    "the revert could not be disarmed ({})",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                Err(e) => format!("the revert could not be disarmed ({e})"),
            }
        }
        Err(e) => e.to_string(),
    };
    // Revert now if the old connection still works (an address change may have cut it: a
    // short wait); the timer is the fallback.
    let now = match &old {
        Ok(c) => matches!(
            tokio::time::timeout(
                Duration::from_secs(5),
                run_script(s, c, revert_now_script(&ids), &run_as)
            )
            .await,
            Ok(Ok(o)) if o.rc == 0
        ),
        Err(_) => false,
    };
    let window = window(&armed);
    let when = if now {
        "started now over the existing connection".to_string()
    } else {
        format!("by itself within {} s", window.as_secs().max(1))
    };
    let to = match &address {
        Some(a) => format!(" to {a}"),
        None => String::new(),
    };
    let mut msg = format!(
        "the change could not be confirmed over a new connection{to} ({failure}); the target reverts to the previous files ({when}): {}",
        paths.join(", ")
    );
    // Drop the old connection: the next task logs in again (to the reverted service).
    let conn = s.hosts[h].lock().unwrap().take_conn();
    if let Some(c) = conn {
        let _ = tokio::time::timeout(Duration::from_secs(5), c.close()).await;
    }
    let deadline = Instant::now() + window + Duration::from_secs(15);
    let mut back = false;
    while !s.cancel.is_cancelled() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if fresh_login(s, pc, h).await.is_ok() {
            back = true;
            break;
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    msg.push_str(if back {
        "; the host accepts logins again"
    } else {
        "; the host still refuses logins after the revert window"
    });
    let mut host = s.hosts[h].lock().unwrap();
    host.failed = true;
    host.stats.failed += 1;
    drop(host);
    let mut out = HostOutcome::new(&name, Status::Failed);
    out.msg = Some(msg);
    out
}

/// After a confirmed address change: later tasks reach the host at its new address (as
/// `set_fact: ansible_host=...` would make them), over a new connection.
/// The host key stays the one known for the old address (as a HostKeyAlias).
fn moved(s: &Shared, pc: &PlayCtx, h: usize, address: &str) {
    let old = connect::ssh_target(s, pc, h).ok().map(|t| t.host);
    let mut host = s.hosts[h].lock().unwrap();
    if host.key_alias.is_none() {
        host.key_alias = old;
    }
    host.set_host_var("ansible_host", Value::from(address));
    if let Some(c) = host.take_conn() {
        // The old connection is cut: closing it would only wait.
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), c.close()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::step::{Attrs, WriteFile};

    #[test]
    fn touched_paths_are_the_file_steps_once_each() {
        let w = |p: &str| {
            Step::Write(WriteFile {
                path: p.into(),
                ..Default::default()
            })
        };
        let steps = vec![
            w("/etc/ssh/sshd_config"),
            Step::SetAttrs {
                path: "/etc/ssh/sshd_config".into(),
                attrs: Attrs::default(),
                recurse: false,
                follow: false,
            },
            Step::Remove {
                path: "/etc/ssh/sshd_config.d/50-x.conf".into(),
            },
            Step::Run {
                cmd: Default::default(),
                ok_rcs: vec![0],
            },
        ];
        assert_eq!(
            touched_paths(&steps),
            ["/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/50-x.conf"]
        );
    }

    #[test]
    fn scripts_quote_paths_and_claim_before_acting() {
        let s = arm_script("1-a-0", &["/etc/it's".into()], 7, "true");
        assert!(s.contains(r#"cp -a -- '/etc/it'"'"'s' "$d/0""#), "{s}");
        assert!(s.contains("--on-active=7s"), "{s}");
        assert!(
            s.contains("sleep \"$1\"; exec sh \"$2/restore\"' prov-revert 7"),
            "{s}"
        );
        assert!(s.contains("mkdir \"$d/claim\" 2>/dev/null || exit 0"));
        let d = disarm_script(&["1-a-0"]);
        assert!(
            d.contains("if mkdir /var/lib/prov/revert/1-a-0/claim"),
            "{d}"
        );
    }

    #[test]
    fn a_hostile_path_or_restart_cannot_escape_the_restore_script() {
        let dir = std::env::temp_dir().join(format!("prov-arm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pwned = dir.join("pwned");
        let evil = format!("\nPROV_RESTORE_EOF\ntouch {}\n'\"$(x)`y`", pwned.display());
        let restart = format!("true\nPROV_RESTORE_EOF\ntouch {}", pwned.display());
        let s = arm_script("1-a-0", &[format!("/etc/a{evil}")], 7, &restart);
        // The part that writes `restore`, run on its own.
        let start = s.find("printf '%s' ").unwrap();
        let end = s[start..].find(" > \"$d/restore\"\n").unwrap() + start;
        let out = dir.join("restore");
        let write = format!("{} > {}", &s[start..end], quote(&out.display().to_string()));
        let ok = std::process::Command::new("sh")
            .args(["-c", &write])
            .status();
        assert!(ok.unwrap().success());
        assert!(!pwned.exists());
        let restore = std::fs::read_to_string(&out).unwrap();
        assert!(
            restore.contains(&quote(&format!("/etc/a{evil}"))),
            "{restore}"
        );
        let syntax = std::process::Command::new("sh")
            .arg("-n")
            .arg(&out)
            .status();
        assert!(syntax.unwrap().success());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
