//! Carrying out a `reboot` plan ([`crate::modules::reboot::RebootSpec`]) on a live host, as
//! Ansible's reboot action does: run the reboot command (its connection may drop under it),
//! close the connection, then reconnect until the boot id differs from the one read before,
//! wait `post_reboot_delay`, and run the test command until it passes; all within
//! `reboot_timeout`. The local connection is refused (it would reboot the controller).

use std::sync::Arc;
use std::time::{Duration, Instant};

use minijinja::Value;

use super::connect;
use super::outcome::ItemRun;
use super::run_as::RunAs;
use super::task::{TaskRun, exec_step};
use crate::error::{Error, ErrorKind, Result};
use crate::host::step::Command;
use crate::modules::Step;
use crate::modules::reboot::RebootSpec;
use crate::transport::Transport;

/// Run a shell command on a connection: its exit code and output (trimmed).
async fn shell(
    tr: TaskRun<'_>,
    c: &Arc<dyn Transport>,
    run_as: &RunAs,
    command: &str,
) -> Result<(i32, String)> {
    let step = Step::Run {
        cmd: Command {
            shell: Some(command.to_string()),
            ..Default::default()
        },
        ok_rcs: vec![0],
    };
    let out = exec_step(tr.s, c, &step, run_as).await?;
    Ok((
        out.rc,
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    ))
}

/// Drop the host's connection (the next use connects again).
async fn disconnect(tr: TaskRun<'_>) {
    let conn = tr.s.hosts[tr.h].lock().unwrap().take_conn();
    if let Some(c) = conn {
        let _ = tokio::time::timeout(Duration::from_secs(5), c.close()).await;
    }
}

/// A fresh connection with a bound on how long it may take.
async fn reconnect(tr: TaskRun<'_>, within: Duration) -> Result<Arc<dyn Transport>> {
    match tokio::time::timeout(within, connect::connection(tr.s, tr.pc, tr.h)).await {
        Ok(c) => c,
        Err(_) => Err(Error::new(ErrorKind::Unreachable, "connect timed out")),
    }
}

pub(super) async fn reboot(
    tr: TaskRun<'_>,
    spec: &RebootSpec,
    run_as: &RunAs,
    mut run: ItemRun,
) -> Result<ItemRun> {
    if connect::kind(tr.s, tr.pc, tr.h)? == connect::Kind::Local {
        run.fail("Running reboot with local connection would reboot the control node.".into());
        return Ok(run);
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(spec.reboot_timeout);
    let c = connect::connection(tr.s, tr.pc, tr.h).await?;
    // The host may go away while the command runs: that is the point, not a failure.
    match shell(tr, &c, run_as, &spec.command).await {
        Ok((0, _)) => {}
        Ok((rc, out)) => {
            run.fail(format!(
                "Reboot command failed (rc={rc}): {}: {out}",
                spec.command
            ));
            return Ok(run);
        }
        Err(e) if e.kind == ErrorKind::Interrupted => return Err(e),
        Err(_) => {}
    }
    disconnect(tr).await;
    let attempt = Duration::from_secs(spec.connect_timeout.unwrap_or(10));
    let mut pause = Duration::from_millis(500);
    let mut last_error = String::from("the host never answered");
    // Back when the boot id changed.
    loop {
        if tr.s.cancel.is_cancelled() {
            return Err(Error::new(ErrorKind::Interrupted, "interrupted"));
        }
        if Instant::now() >= deadline {
            run.fail(format!(
                "Timed out waiting for last boot time check (timeout={}): {last_error}",
                spec.reboot_timeout
            ));
            return Ok(run);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
        match reconnect(tr, attempt).await {
            Ok(c) => match shell(tr, &c, run_as, &spec.boot_time_command).await {
                Ok((0, id)) if !id.is_empty() && id != spec.boot_id => break,
                Ok((_, id)) => {
                    last_error = format!("the boot id is still '{id}'");
                    disconnect(tr).await;
                }
                Err(e) => {
                    last_error = e.to_string();
                    disconnect(tr).await;
                }
            },
            Err(e) => last_error = e.to_string(),
        }
    }
    tokio::time::sleep(Duration::from_secs(spec.post_reboot_delay)).await;
    // Up when the test command passes.
    loop {
        let c = reconnect(tr, attempt).await;
        if let Ok(c) = &c
            && let Ok((0, _)) = shell(tr, c, run_as, &spec.test_command).await
        {
            break;
        }
        if Instant::now() >= deadline {
            run.fail(format!(
                "Timed out waiting for post-reboot test command (timeout={})",
                spec.reboot_timeout
            ));
            return Ok(run);
        }
        disconnect(tr).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    run.result.insert("rebooted".into(), Value::from(true));
    run.result.insert(
        "elapsed".into(),
        Value::from(started.elapsed().as_secs() as i64),
    );
    Ok(run)
}
