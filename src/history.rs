//! `prov history` and `prov rollback`: the face of the run journal. The targets are this
//! machine, a `--chroot` directory or an inventory's hosts (`-i`, `-l`, reached as `prov apply`
//! reaches them, with its `-u`, `--private-key`, `-e`, `-T` and `--host-key-checking`); the
//! work is [`crate::engine::rollback`], the controller's side of a run (its playbooks, its
//! commands) [`crate::engine::journal`].

use std::sync::Arc;

use crate::cli::{HistoryArgs, JournalTarget, RollbackArgs};
use crate::engine::journal::read_log;
use crate::engine::rollback::{self, Decision, Target};
use crate::error::{Error, Result};
use crate::transport::chroot::Chroot;
use crate::transport::local::Local;

/// The targets: a `--chroot` directory, the inventory's hosts (`-i`, `-l`), or this machine.
async fn open(target: &JournalTarget) -> Result<Vec<Target>> {
    if let Some(dir) = &target.chroot {
        if !dir.is_dir() {
            return Err(Error::usage(format!(
                "--chroot {}: not a directory",
                dir.display()
            )));
        }
        let d = dir.clone();
        // Opened as for a dry run: nothing of prov's own is put into the root.
        let c = tokio::task::spawn_blocking(move || Chroot::open(&d, true))
            .await
            .map_err(|e| Error::runtime(format!("chroot preparation panicked: {e}")))??;
        return Ok(vec![Target {
            name: None,
            conn: Arc::new(c),
            become_: None,
        }]);
    }
    if target.inventory.is_empty() && target.limit.is_none() {
        return Ok(vec![Target {
            name: None,
            conn: Arc::new(Local::new()),
            become_: None,
        }]);
    }
    let cfg = crate::config::Config::load()?;
    let sources = cfg.inventory_sources(&target.inventory);
    let mut inv = crate::run::load_inventory(&sources)?;
    inv.ensure_implicit_localhost();
    let opts = crate::engine::RunOptions {
        // Chroot hosts are opened as for a dry run.
        check: true,
        limit: target.limit.clone(),
        become_: target.become_ || cfg.become_.unwrap_or(false),
        inventory_sources: sources,
        extra_vars: crate::run::parse_extra_vars(&target.extra_vars)?,
        forks: 1,
        ..Default::default()
    };
    let opts = crate::run::with_connect(opts, &target.connect, &cfg);
    let reporter = crate::report::Reporter::new(crate::cli::Format::Text, 0, false);
    let engine = crate::engine::Engine::new(
        opts,
        inv,
        reporter,
        Arc::new(crate::engine::Cancel::default()),
    );
    rollback::targets(&engine).await
}

async fn close(targets: &[Target]) {
    for t in targets {
        let _ = t.conn.close().await;
    }
}

fn describe(t: &Target) -> String {
    match &t.name {
        Some(n) => n.clone(),
        None => t.conn.describe(),
    }
}

/// `prov history`: one line per run in the target's journal, oldest first.
pub async fn history(args: HistoryArgs) -> Result<i32> {
    let targets = open(&args.target).await?;
    for t in &targets {
        let runs = rollback::runs(t).await;
        let runs = match runs {
            Ok(r) => r,
            Err(e) => {
                close(&targets).await;
                return Err(e);
            }
        };
        if targets.len() > 1 {
            println!("{}:", describe(t));
        }
        print_runs(t, runs);
    }
    close(&targets).await;
    Ok(0)
}

fn print_runs(t: &Target, runs: Vec<(String, usize)>) {
    if runs.is_empty() {
        println!("no runs in the journal of {}", describe(t));
        return;
    }
    println!("{:<24} {:>7}  PLAYBOOKS", "RUN", "CHANGES");
    for (id, n) in runs {
        let playbooks = read_log(&id)
            .and_then(|(h, _)| {
                let list: Vec<String> = h
                    .get("playbooks")?
                    .as_array()?
                    .iter()
                    .filter_map(|p| p.as_str().map(str::to_string))
                    .collect();
                Some(list.join(" "))
            })
            .unwrap_or_else(|| "(not run from this controller)".into());
        println!("{id:<24} {n:>7}  {playbooks}");
    }
}

/// `prov rollback RUN_ID`: put back what the run changed on each target; exit 2 when a path
/// could not be.
pub async fn rollback(args: RollbackArgs) -> Result<i32> {
    let targets = open(&args.target).await?;
    let mut code = 0;
    for t in &targets {
        match rollback_one(&args, t).await {
            Ok(c) => code = code.max(c),
            Err(e) => {
                close(&targets).await;
                return Err(e);
            }
        }
    }
    close(&targets).await;
    Ok(code)
}

async fn rollback_one(args: &RollbackArgs, t: &Target) -> Result<i32> {
    let report = rollback::rollback(t, &args.run, args.check).await?;
    let color = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none();
    let (mut changed, mut ok, mut failed, mut not_revertible) = (0, 0, 0, 0);
    let verb = if args.check { "would " } else { "" };
    println!(
        "ROLLBACK {} on {}{}",
        args.run,
        describe(t),
        if args.check { " (check mode)" } else { "" }
    );
    for o in &report.paths {
        match (&o.decision, &o.error) {
            (Decision::Unchanged, _) => {
                ok += 1;
                println!("ok: {}", o.path);
            }
            (Decision::Restore { what, .. }, Some(e)) => {
                failed += 1;
                println!("failed: {}: {what}: {e}", o.path);
            }
            (Decision::Restore { what, diff, .. }, None) => {
                changed += 1;
                println!("changed: {}: {verb}{what}", o.path);
                if let (true, Some(d)) = (args.diff, diff) {
                    print!("{}", crate::report::render_diff(d, color));
                }
            }
            (Decision::NotRevertible(why), _) => {
                not_revertible += 1;
                println!("not revertible: {}: {why}", o.path);
            }
        }
    }
    match read_log(&args.run) {
        Some((_, steps)) => {
            for s in steps.iter().filter(|s| {
                s.get("step").and_then(|v| v.as_str()) == Some("command")
                    && t.name
                        .as_deref()
                        .is_none_or(|n| s.get("host").and_then(|v| v.as_str()) == Some(n))
            }) {
                let field = |k: &str| s.get(k).and_then(|v| v.as_str()).unwrap_or("");
                not_revertible += 1;
                println!(
                    "not revertible: task '{}' ({}) on {}: {}",
                    field("task"),
                    field("module"),
                    field("host"),
                    what_a_command_did(field("module"))
                );
            }
        }
        None => println!(
            "(this controller has no log of run {}: commands and package changes it made are not listed)",
            args.run
        ),
    }
    println!(
        "{}: changed={changed} ok={ok} failed={failed} not_revertible={not_revertible}",
        describe(t)
    );
    Ok(if failed > 0 { 2 } else { 0 })
}

/// What a module's command changed that a rollback leaves as it is.
fn what_a_command_did(module: &str) -> &'static str {
    match module.rsplit('.').next().unwrap_or(module) {
        "apt" | "package" | "pip" | "dpkg_selections" => {
            "packages it installed or removed stay as they are"
        }
        "service" | "systemd" | "systemd_service" => "services it started or stopped stay so",
        "user" | "group" => "accounts it changed stay as they are",
        _ => "a command ran; what it did is not undone",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn commands_say_what_stays() {
        assert!(super::what_a_command_did("ansible.builtin.apt").contains("packages"));
        assert!(super::what_a_command_did("systemd").contains("services"));
        assert!(super::what_a_command_did("shell").contains("a command ran"));
    }
}
