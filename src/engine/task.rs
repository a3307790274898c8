//! Running one task on one host: loops, conditions, the module's probe → plan → steps cycle,
//! `until` retries, `changed_when`/`failed_when`, `register`, `notify`, and the host's counters.
//!
//! Check mode is a flag on the same path: the plan is computed exactly as for a real run and
//! reported; only the execution of its steps is skipped (and their predicted effect recorded in
//! the host's overlay, so later tasks of the dry run see the files earlier tasks would write).

use std::sync::Arc;
use std::time::{Duration, Instant};

use minijinja::Value;
use minijinja::value::ValueKind;

use super::batch::*;
use super::include::*;
use super::loops::*;
use super::outcome::*;
use super::predict::*;
use super::run_as::*;
use super::{PlayCtx, Shared, connect};
use crate::error::{Error, ErrorKind, Result};
use crate::host::resolve::Rounds;
use crate::modules::{Args, FileState, ModuleEnv, Observed, Plan, Probe, Step};
use crate::playbook::{Action, Task};
use crate::report::{HostOutcome, Status};
use crate::template::{eval_condition, render_text, render_value, to_text};
use crate::transport::{Exec, Transport, script};
use crate::vars::{Context, Layer, VarMap};

/// One task on one host within a play: what every step of running it needs (the run's shared
/// state, the play, the task, the host's index), passed as one value.
#[derive(Clone, Copy)]
pub(super) struct TaskRun<'a> {
    pub s: &'a Shared,
    pub pc: &'a PlayCtx,
    pub t: &'a Task,
    pub h: usize,
}

pub(super) fn flag(v: &Option<Value>, ctx: &Arc<Context>) -> Result<Option<bool>> {
    v.as_ref()
        .map(|v| crate::template::eval_flag(v, ctx))
        .transpose()
}

/// Whether a task's output is censored. `no_log` may be a template (`"{{ hide }}"`); one that
/// cannot be evaluated hides rather than shows.
pub fn no_log(t: &Task, ctx: &Arc<Context>) -> bool {
    flag(&t.d.no_log, ctx)
        .unwrap_or(Some(true))
        .unwrap_or(false)
}

/// Where the task runs: the host itself or a delegate.
pub(super) async fn target(
    tr: TaskRun<'_>,
    ctx: &Arc<Context>,
) -> Result<(Arc<dyn Transport>, Option<String>)> {
    let TaskRun { s, pc, t, h } = tr;
    if let Some(d) = &t.d.delegate_to {
        let name = render_text(&to_text(d), ctx)?;
        let known = s.index.read().unwrap().get(&name).copied();
        if let Some(dh) = known {
            return Ok((connect::connection(s, pc, dh).await?, Some(name)));
        }
        if matches!(name.as_str(), "localhost" | "127.0.0.1" | "::1") {
            return Ok((Arc::new(crate::transport::local::Local::new()), Some(name)));
        }
        return Err(Error::runtime(format!(
            "delegate_to: '{name}' is not in the inventory"
        )));
    }
    Ok((connect::connection(s, pc, h).await?, None))
}

/// Run a script; an interrupt (Ctrl-C, SIGTERM, SIGHUP) abandons it unless `whole` is set.
/// File writes run whole: the write script renames its temp file into place only after checking
/// it got every byte, and removes it otherwise, so an interrupt never leaves half a file or a
/// temp file, and waiting for it takes no longer than the write itself.
pub(super) async fn exec_cancellable(
    s: &Shared,
    conn: &Arc<dyn Transport>,
    exec: Exec,
    whole: bool,
) -> Result<crate::transport::ExecOutput> {
    let become_ = exec.become_.is_some();
    let out = if whole {
        conn.exec(exec).await
    } else {
        tokio::select! {
            r = conn.exec(exec) => r,
            _ = s.cancel.cancelled() => Err(Error::new(ErrorKind::Interrupted, "interrupted")),
        }
    }?;
    if become_
        && out.rc != 0
        && let Some(msg) = crate::transport::become_failure(&out.stderr)
    {
        return Err(Error::runtime(msg));
    }
    Ok(out)
}

/// A module invocation prepared for one host and item: its planner and what it reads.
pub(super) struct Prepared {
    pub(super) planner: Box<dyn crate::modules::Planner>,
    pub(super) probes: Vec<Probe>,
    /// The item's variables (for delegation and post-conditions).
    pub(super) ctx: Arc<Context>,
    pub(super) check: bool,
    pub(super) diff: bool,
    pub(super) run_as: RunAs,
    pub(super) debug: bool,
    /// A change here makes the host's long-lived shells stale (users and groups).
    pub(super) refreshes_sessions: bool,
}

/// Where a loop's earlier items leave later ones: the files their steps wrote (so a later
/// item plans on the new content without reading it again) and whether a command ran
/// (whose effects are unknown: later items then read the host again).
#[derive(Default)]
pub(super) struct LoopState {
    pub(super) written: std::collections::HashMap<String, FileState>,
    pub(super) ran_command: bool,
}

pub(super) type Conn = (Arc<dyn Transport>, Option<String>);

/// The task's module and its templated arguments, with `~` at the start of its path options
/// expanded on the target ([`super::tilde`]: a round trip only when there is one).
pub(super) async fn render_module(
    tr: TaskRun<'_>,
    ctx: &Arc<Context>,
    check: bool,
) -> Result<(&'static dyn crate::modules::Module, Value)> {
    let TaskRun { s, t, h, .. } = tr;
    let Action::Module { module: name, args } = &t.action else {
        return Err(Error::runtime(
            "internal error: a module was run for a task that names none",
        ));
    };
    // The parser checked the name against the same catalog.
    let module = crate::modules::lookup(name)
        .ok_or_else(|| Error::runtime(format!("unknown module '{name}'")))?;
    let rendered = render_value(args, ctx)?;
    let users = super::tilde::wanted(module, &rendered);
    if users.is_empty() {
        return Ok((module, rendered));
    }
    let run_as = RunAs {
        become_: become_for(s, t, ctx)?,
        timeout: t.d.timeout.map(Duration::from_secs),
        label: label(s, t, h, ctx),
    };
    let predicted = if check {
        s.hosts[h].lock().unwrap().predicted.users.clone()
    } else {
        Default::default()
    };
    let homes = super::tilde::homes(tr, ctx, &run_as, &users, &predicted).await?;
    Ok((module, super::tilde::expand(module, &rendered, &homes)))
}

/// Let the module prepare its plan from its rendered arguments (controller side only).
pub(super) fn prepare_module(
    tr: TaskRun<'_>,
    ctx: &Arc<Context>,
    check: bool,
    (module, rendered): (&'static dyn crate::modules::Module, Value),
) -> Result<Prepared> {
    let TaskRun { s, pc, t, h } = tr;
    let args = Args::new(module.name(), &rendered, &s.omit)?;
    let diff = t.d.diff.unwrap_or(s.opts.diff);
    let kind = connect::kind(s, pc, h)?;
    // A chroot connection is a chroot by definition, whatever the facts guessed: its live-only
    // actions (modules, sysctl, services, swap) would reach the build machine's kernel.
    let chroot_connection = matches!(kind, connect::Kind::Chroot(_)) && t.d.delegate_to.is_none();
    let is_chroot = chroot_connection
        || match ctx.get("ansible_is_chroot")? {
            Some(v) if v.kind() == ValueKind::Bool => v.is_true(),
            _ => matches!(kind, connect::Kind::Chroot(_)),
        };
    let env = ModuleEnv {
        vars: ctx.clone(),
        check_mode: check,
        role_path: t.role.as_ref().map(|r| super::absolute(&r.path)),
        playbook_dir: super::absolute(&pc.play.dir),
        is_chroot,
        chroot_connection,
        environment: environment(t, ctx)?,
        verbosity: s.opts.verbosity,
        http: s.http.clone(),
        predicted: if check {
            let host = s.hosts[h].lock().unwrap();
            let mut p = host.predicted.clone();
            p.paths = host.overlay.keys().cloned().collect();
            p.apt_files = super::predict::apt_files(&host.overlay);
            p
        } else {
            Default::default()
        },
    };
    let mut planner = module.prepare(args, &env)?;
    let mut asked = crate::modules::Probes::default();
    planner.ask(&mut asked);
    let probes = asked.into_list();
    Ok(Prepared {
        planner,
        probes,
        check,
        diff,
        ctx: ctx.clone(),
        run_as: RunAs {
            become_: become_for(s, t, ctx)?,
            timeout: t.d.timeout.map(Duration::from_secs),
            label: label(s, t, h, ctx),
        },
        debug: module.name() == "debug",
        refreshes_sessions: matches!(module.name(), "user" | "group"),
    })
}

/// Read the host state for these probes: one round trip (none without probes), more only for
/// a query that needs a second look ([`crate::host::resolve`]).
pub(super) async fn read_state(
    tr: TaskRun<'_>,
    ctx: &Arc<Context>,
    probes: &[Probe],
    run_as: &RunAs,
) -> Result<(Observed, Option<Conn>)> {
    let TaskRun { s, .. } = tr;
    if probes.is_empty() {
        return Ok((Observed::default(), None));
    }
    let (c, d) = target(tr, ctx).await?;
    let reader = run_as.become_.as_ref().map_or("", |b| b.user.as_str());
    let mut rounds = Rounds::new(probes, c.counters().reads.reader(reader))?;
    while let Some(wire) = rounds.wire() {
        let out = exec_cancellable(
            s,
            &c,
            Exec {
                script: script::probe_script(&wire),
                stdin: Vec::new(),
                become_: run_as.become_.clone(),
                timeout: run_as.timeout,
                probes: Some(wire.clone()),
            },
            false,
        )
        .await?;
        let obs = script::parse_probe_output(&wire, &out.stdout).map_err(|e| {
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if stderr.is_empty() {
                e
            } else {
                Error::runtime(format!("reading the host's state failed: {stderr}"))
            }
        })?;
        rounds.feed(obs)?;
    }
    Ok((rounds.finish()?, Some((c, d))))
}

/// Plan from the observed state, then report (check mode) or execute the steps.
pub(super) async fn finish_module(
    tr: TaskRun<'_>,
    prep: Prepared,
    (mut observed, conn): (Observed, Option<Conn>),
    local: &mut LoopState,
) -> Result<ItemRun> {
    let TaskRun { s, h, .. } = tr;
    let Prepared {
        planner,
        probes,
        ctx,
        check,
        diff,
        run_as,
        debug,
        refreshes_sessions,
    } = prep;
    let ctx = &ctx;
    if check {
        let host = s.hosts[h].lock().unwrap();
        apply_overlay(&host.overlay, &probes, &mut observed);
        super::predict::apply_if_missing(&host.if_missing, &probes, &mut observed);
    } else {
        apply_overlay(&local.written, &probes, &mut observed);
    }
    let plan: Plan = planner.plan(&observed)?;
    let mut run = ItemRun {
        diffs: if diff { plan.diffs.clone() } else { Vec::new() },
        result: plan.result.clone(),
        delegated: conn.as_ref().and_then(|c| c.1.clone()),
        show: debug,
        ..Default::default()
    };
    // A task that reads nothing (set_fact) is still delegated, for its output and its facts.
    if run.delegated.is_none()
        && let Some(d) = &tr.t.d.delegate_to
    {
        run.delegated = Some(render_text(&to_text(d), ctx)?);
    }
    if let Some(msg) = plan.failed {
        run.fail(msg);
        return Ok(run);
    }
    if let Some(reason) = plan.skipped {
        run.status = Some(Status::Skipped);
        run.unknown = check && plan.unknown;
        run.msg = Some(reason.clone());
        run.result.insert("skip_reason".into(), Value::from(reason));
        return Ok(run);
    }
    run.set_facts = plan.facts.clone();
    run.group = plan.group.clone();
    if let Some(f) = plan.result.get("ansible_facts")
        && plan.facts.is_none()
    {
        run.facts = Some(crate::vars::value_to_map(f));
        run.plain_facts = plan.plain_facts.clone();
    }
    if check && plan.runs_command {
        run.status = Some(Status::Skipped);
        run.msg = Some("Command would have run if not in check mode".into());
        run.unknown = true;
        run.diffs.clear();
        return Ok(run);
    }
    run.status = Some(if plan.changed {
        Status::Changed
    } else {
        Status::Ok
    });
    // add_host changes the run's inventory, in a dry run too (as Ansible's action does).
    if let Some(new) = &plan.add_host
        && s.add_host(new)
    {
        run.status = Some(Status::Changed);
    }
    if check {
        let would_arm = super::safe_reconnect::arm(tr, ctx, None, &run_as, &plan.steps).await?;
        let mut host = s.hosts[h].lock().unwrap();
        if let Some(line) = would_arm {
            run.result
                .insert("prov_safe_reconnect".into(), Value::from(line));
            host.would_arm = true;
        }
        for step in &plan.steps {
            predict(&mut host.overlay, step, &observed);
        }
        for p in &plan.predictions {
            match p {
                crate::modules::Prediction::Files(files) => {
                    super::predict::installed(&mut host.overlay, files);
                }
                crate::modules::Prediction::FilesIfMissing(files) => {
                    super::predict::installed(&mut host.if_missing, files);
                }
                _ => {}
            }
            host.predicted.record(p);
        }
        return Ok(run);
    }
    if let Some(spec) = &plan.reboot {
        return super::reboot::reboot(tr, spec, &run_as, run).await;
    }
    if plan.steps.is_empty() {
        return Ok(run);
    }
    let (c, d) = match conn {
        Some(c) => c,
        None => target(tr, ctx).await?,
    };
    run.delegated = d;
    // A handler of a change that moves the host's address: its connection may be cut.
    let limit = super::safe_reconnect::old_connection_limit(s, h);
    if let Some(line) = super::safe_reconnect::arm(tr, ctx, Some(&c), &run_as, &plan.steps).await? {
        run.result
            .insert("prov_safe_reconnect".into(), Value::from(line));
    }
    let steps = run_steps(s, &c, &plan.steps, &run_as, &observed, local, run);
    let result = match limit {
        None => steps.await,
        Some(limit) => match tokio::time::timeout(limit, steps).await {
            Ok(r) => r,
            Err(_) => {
                let mut lost = ItemRun {
                    status: Some(Status::Changed),
                    ..Default::default()
                };
                lost.msg = Some(format!(
                    "no answer over the old connection within {} s (the new address cut it); the confirm at the new address decides",
                    limit.as_secs()
                ));
                return Ok(lost);
            }
        },
    };
    if refreshes_sessions {
        // Later scripts must see the users and groups these steps changed.
        c.refresh().await;
    }
    result
}

/// Execute one step as `run_as` (one round trip). A write runs whole even when interrupted.
pub(super) async fn exec_step(
    s: &Shared,
    c: &Arc<dyn Transport>,
    step: &Step,
    run_as: &RunAs,
) -> Result<crate::transport::ExecOutput> {
    let journal = s.opts.journal.as_deref();
    let mark = journal.and_then(|j| j.mark(step, &run_as.label));
    let (script_text, stdin) = script::step_script(step, mark.as_ref())?;
    let out = exec_cancellable(
        s,
        c,
        Exec {
            script: script_text,
            stdin,
            become_: run_as.become_.clone(),
            timeout: run_as.timeout,
            probes: None,
        },
        matches!(step, Step::Write(_)),
    )
    .await?;
    let mut out = out;
    if let Some(j) = journal {
        if mark.is_some()
            && let Some(why) = crate::transport::journal::take_not_journaled(&mut out.stderr)
        {
            s.reporter.warn(&format!(
                "this change has no run journal entry ({why}): prov rollback cannot restore it"
            ));
        }
        j.record(step, &run_as.label, mark.as_ref(), out.rc);
    }
    Ok(out)
}

/// Execute a plan's steps, one round trip each, stopping at the first failure.
pub(super) async fn run_steps(
    s: &Shared,
    c: &Arc<dyn Transport>,
    steps: &[Step],
    run_as: &RunAs,
    observed: &Observed,
    local: &mut LoopState,
    mut run: ItemRun,
) -> Result<ItemRun> {
    let mut changed_any = false;
    for step in steps {
        let started = Instant::now();
        let out = exec_step(s, c, step, run_as).await?;
        let unchanged = matches!(step, Step::Run { cmd, .. } if cmd.unchanged_rc == Some(out.rc));
        changed_any |= !unchanged;
        let out = crate::transport::ExecOutput {
            rc: if unchanged { 0 } else { out.rc },
            ..out
        };
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        match step {
            Step::Run { cmd, ok_rcs } if cmd.result_lines => {
                local.ran_command = true;
                for (k, v) in stdout.lines().filter_map(|l| l.split_once('=')) {
                    let v = serde_json::from_str::<serde_json::Value>(v)
                        .map(|j| crate::vars::from_json(&j))
                        .unwrap_or_else(|_| Value::from(v));
                    run.result.insert(k.to_string(), v);
                }
                if !ok_rcs.contains(&out.rc) {
                    let e = stderr.trim();
                    run.fail(
                        if e.is_empty() {
                            "non-zero return code"
                        } else {
                            e
                        }
                        .to_string(),
                    );
                    return Ok(run);
                }
            }
            Step::Run { ok_rcs, .. } => {
                local.ran_command = true;
                let trim = |s: &str| s.strip_suffix('\n').unwrap_or(s).to_string();
                let (o, e) = (trim(&stdout), trim(&stderr));
                run.result.insert("rc".into(), Value::from(out.rc));
                run.result.insert(
                    "stdout_lines".into(),
                    Value::from(o.lines().map(Value::from).collect::<Vec<_>>()),
                );
                run.result.insert(
                    "stderr_lines".into(),
                    Value::from(e.lines().map(Value::from).collect::<Vec<_>>()),
                );
                run.result.insert("stdout".into(), Value::from(o));
                run.result.insert("stderr".into(), Value::from(e.clone()));
                run.result.insert(
                    "delta".into(),
                    Value::from(format!("{:.6}", started.elapsed().as_secs_f64())),
                );
                if !ok_rcs.contains(&out.rc) {
                    let msg = if out.rc == 127 && e.contains("not found") {
                        e
                    } else {
                        "non-zero return code".into()
                    };
                    run.fail(msg);
                    return Ok(run);
                }
            }
            _ => {
                if out.rc != 0 {
                    let detail = if stderr.trim().is_empty() {
                        stdout.trim()
                    } else {
                        stderr.trim()
                    };
                    run.fail(detail.to_string());
                    return Ok(run);
                }
                predict(&mut local.written, step, observed);
                if let Some(b) = stdout.lines().find_map(|l| l.strip_prefix("backup_file=")) {
                    run.result.insert("backup_file".into(), Value::from(b));
                    // pamd names its backup `backupdest` (planned as "").
                    if run.result.contains_key("backupdest") {
                        run.result.insert("backupdest".into(), Value::from(b));
                    }
                }
            }
        }
    }
    if !changed_any && run.status == Some(Status::Changed) {
        run.status = Some(Status::Ok);
    }
    Ok(run)
}

/// One module invocation: prepare, read the host (one round trip), plan, report or execute.
pub(super) async fn run_module(
    tr: TaskRun<'_>,
    ctx: &Arc<Context>,
    check: bool,
) -> Result<ItemRun> {
    let module = render_module(tr, ctx, check).await?;
    let prep = prepare_module(tr, ctx, check, module)?;
    let state = read_state(tr, ctx, &prep.probes, &prep.run_as).await?;
    finish_module(tr, prep, state, &mut LoopState::default()).await
}

/// `when` and `check_mode` for one item: the check flag, or the item's final result.
pub(super) fn gate(
    s: &Shared,
    t: &Task,
    ctx: &Arc<Context>,
) -> std::result::Result<bool, Box<ItemRun>> {
    for c in &t.d.when {
        match eval_condition(c, ctx) {
            Ok(true) => {}
            Ok(false) => {
                let mut r = ItemRun::skipped("Conditional result was False");
                r.result.insert("false_condition".into(), c.clone());
                return Err(Box::new(r));
            }
            Err(e) => {
                let e = e.context(format!("The conditional check '{}' failed", to_text(c)));
                return Err(Box::new(ItemRun::from_error(e)));
            }
        }
    }
    match flag(&t.d.check_mode, ctx) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Ok(s.opts.check),
        Err(e) => Err(Box::new(ItemRun::from_error(e))),
    }
}

/// Run one item: conditions, the action (with `until` retries), then changed/failed_when.
pub(super) async fn run_item(tr: TaskRun<'_>, ctx: &Arc<Context>) -> ItemRun {
    let TaskRun { s, pc, t, h } = tr;
    let check = match gate(s, t, ctx) {
        Ok(c) => c,
        Err(run) => return *run,
    };
    let retries = match &t.retries {
        Some(v) => match render_value(v, ctx) {
            Ok(v) => v.as_i64().or_else(|| to_text(&v).parse().ok()).unwrap_or(3),
            Err(e) => return ItemRun::from_error(e),
        },
        None => 3,
    };
    let delay = match &t.delay {
        Some(v) => render_value(v, ctx)
            .ok()
            .and_then(|v| to_text(&v).parse::<f64>().ok())
            .unwrap_or(5.0),
        None => 5.0,
    };
    let attempts = if t.until.is_some() {
        retries.max(0) + 1
    } else {
        1
    };
    let mut run = ItemRun::default();
    for attempt in 1..=attempts {
        run = match &t.action {
            Action::Module { .. } => run_module(tr, ctx, check)
                .await
                .unwrap_or_else(ItemRun::from_error),
            Action::Foreign { .. } => super::foreign::run_foreign(tr, ctx, check)
                .await
                .unwrap_or_else(ItemRun::from_error),
            Action::IncludeVars { args } => {
                include_vars(t, pc, args, ctx).unwrap_or_else(ItemRun::from_error)
            }
            _ => ItemRun::failed("internal error: not a leaf task"),
        };
        if matches!(run.status(), Status::Unreachable | Status::Skipped) {
            return run;
        }
        run = post_conditions(t, ctx, run);
        let Some(until) = &t.until else { break };
        let bound = bind_result(t, ctx, &run);
        match eval_condition(until, &bound) {
            Ok(true) => {
                run.result.insert("attempts".into(), Value::from(attempt));
                break;
            }
            Ok(false) if attempt < attempts => {
                s.reporter.note(&format!(
                    "FAILED - RETRYING: [{}]: {} ({} retries left).",
                    s.host_name(h),
                    t.display_name(),
                    attempts - attempt
                ));
                tokio::time::sleep(Duration::from_secs_f64(delay)).await;
            }
            Ok(false) => {
                run.result.insert("attempts".into(), Value::from(attempt));
                run.status = Some(Status::Failed);
                run.msg = Some(format!(
                    "Task failed: the until condition was not met after {attempt} attempts"
                ));
            }
            Err(e) => return ItemRun::from_error(e),
        }
    }
    run
}

/// Apply an item's effects on the host right away (so later items see set_fact values).
pub(super) fn apply_effects(s: &Shared, t: &Task, h: usize, run: &ItemRun) {
    // delegate_facts: what the task learns belongs to the delegate (when it is a host of
    // the inventory), as Ansible assigns it.
    let h = match (&run.delegated, t.d.delegate_facts) {
        (Some(d), Some(true)) => s.index.read().unwrap().get(d).copied().unwrap_or(h),
        _ => h,
    };
    let mut host = s.hosts[h].lock().unwrap();
    if run.status() == Status::Failed || run.status() == Status::Unreachable {
        return;
    }
    if let Some(f) = &run.set_facts {
        for (k, v) in f {
            host.set_host_var(k, v.clone());
        }
    }
    if let Some(f) = &run.facts {
        host.add_facts(f, &run.plain_facts);
    }

    if let Some(v) = &run.included_vars {
        let inc = Arc::make_mut(&mut host.included);
        for (k, val) in v {
            inc.insert(k.clone(), val.clone());
        }
    }
    drop(host);
    if let Some(g) = &run.group {
        s.join_group(h, g);
    }
}

/// Print a loop item's result as soon as it finished (its diffs, then its line).
pub(super) fn show_item(tr: TaskRun<'_>, no_log: bool, label: &str, run: &ItemRun) {
    let item = run.item(label);
    let host = tr.s.host_name(tr.h);
    (tr.s.reporter).item(&host, run.delegated.as_deref(), no_log, &item);
}

/// Run a task on one host and update the host's state and counters.
pub(super) async fn run_task_host(tr: TaskRun<'_>, extra: &[Layer]) -> HostOutcome {
    let TaskRun { s, pc, t, h } = tr;
    let start = Instant::now();
    let trips_before = s.hosts[h].lock().unwrap().round_trips();
    let name = s.host_name(h);
    let ctx = s.context(pc, h, Some(t), extra);
    let mut outcome = HostOutcome::new(&name, Status::Ok);
    outcome.no_log = no_log(t, &ctx);
    let mut runs: Vec<(Option<String>, ItemRun)> = Vec::new();
    match &t.loop_ {
        None => {
            let r = run_item(tr, &ctx).await;
            apply_effects(s, t, h, &r);
            runs.push((None, r));
        }
        Some(l) => match loop_items(t, l, &ctx) {
            // Ansible evaluates a failed loop's `when` first (without an item): false skips
            // the task, so a loop over a variable only defined where `when` holds is fine.
            Err(e) => runs.push((
                None,
                match gate(s, t, &ctx) {
                    Err(skipped) if skipped.status == Some(Status::Skipped) => *skipped,
                    _ => ItemRun::from_error(e.context("Invalid data passed to loop")),
                },
            )),
            Ok(items) if batchable(t) => runs = run_batched(tr, extra, items).await,
            Ok(items) => {
                let total = items.len();
                for (i, item) in items.into_iter().enumerate() {
                    if s.cancel.is_cancelled() {
                        break;
                    }
                    // Rebuilt for each item, so set_fact results of earlier items are visible.
                    let item_ctx = s.context(pc, h, Some(t), extra).with(Layer::fixed(
                        "loop",
                        Arc::new(item_vars(t, &item, i, total)),
                    ));
                    let label = item_label(t, &item, &item_ctx);
                    let mut r = run_item(tr, &item_ctx).await;
                    apply_effects(s, t, h, &r);
                    r.result.insert(t.loop_control.loop_var.clone(), item);
                    r.result.insert(
                        "ansible_loop_var".into(),
                        Value::from(t.loop_control.loop_var.as_str()),
                    );
                    show_item(tr, outcome.no_log, &label, &r);
                    runs.push((Some(label), r));
                    if let Some(p) = t.loop_control.pause {
                        tokio::time::sleep(Duration::from_secs_f64(p)).await;
                    }
                }
            }
        },
    }
    let ignore_errors = flag(&t.d.ignore_errors, &ctx)
        .ok()
        .flatten()
        .unwrap_or(false);
    let ignore_unreachable = t.d.ignore_unreachable.unwrap_or(false);
    // Aggregate.
    // A loop that could not be evaluated ended as the task itself (one run without a label).
    let looped = t.loop_.is_some() && !matches!(runs.as_slice(), [(None, _)]);
    let statuses: Vec<Status> = runs.iter().map(|(_, r)| r.status()).collect();
    let status = if statuses.contains(&Status::Unreachable) {
        Status::Unreachable
    } else if statuses.contains(&Status::Failed) {
        Status::Failed
    } else if looped && !statuses.is_empty() && statuses.iter().all(|s| *s == Status::Skipped) {
        Status::Skipped
    } else if statuses.contains(&Status::Changed) {
        Status::Changed
    } else if !looped && statuses.first() == Some(&Status::Skipped) {
        Status::Skipped
    } else {
        Status::Ok
    };
    outcome.status = status;
    let registered = if looped {
        let results: Vec<Value> = runs.iter().map(|(_, r)| r.value()).collect();
        let mut m = VarMap::new();
        m.insert("results".into(), Value::from(results));
        m.insert("changed".into(), Value::from(status == Status::Changed));
        m.insert("failed".into(), Value::from(status == Status::Failed));
        if status == Status::Skipped {
            m.insert("skipped".into(), Value::from(true));
        }
        m.insert(
            "msg".into(),
            Value::from(if status == Status::Failed {
                "One or more items failed"
            } else {
                "All items completed"
            }),
        );
        if runs.is_empty() {
            m.insert("skipped_reason".into(), Value::from("No items in the list"));
        }
        outcome.msg = (status == Status::Failed).then(|| "One or more items failed".to_string());
        outcome.origin = runs
            .iter()
            .find_map(|(_, r)| r.origin.as_ref().map(|o| o.locate(t)));
        for (label, r) in &runs {
            outcome
                .items
                .push(r.item(label.as_deref().unwrap_or_default()));
            outcome.diffs.extend(r.diffs.iter().cloned());
        }
        outcome.items_shown = true;
        if runs.is_empty() {
            outcome.status = Status::Skipped;
        }
        crate::vars::map_to_value(&m)
    } else {
        let (_, r) = &runs[0];
        outcome.origin = r.origin.as_ref().map(|o| o.locate(t));
        outcome.msg = r.msg.clone();
        outcome.diffs = r.diffs.clone();
        outcome.delegated = r.delegated.clone();
        outcome.via = r.via.clone();
        outcome.show_result = r.show;
        r.value()
    };
    outcome.unknown = runs.iter().any(|(_, r)| r.unknown);
    outcome.result = registered.clone();
    let mut host = s.hosts[h].lock().unwrap();
    outcome.round_trips = host.round_trips().execs - trips_before.execs;
    if let Some(reg) = &t.register
        && (status != Status::Unreachable || ignore_unreachable)
    {
        host.set_host_var(reg, registered);
    }
    match outcome.status {
        Status::Ok => host.stats.ok += 1,
        Status::Changed => {
            host.stats.ok += 1;
            host.stats.changed += 1;
        }
        Status::Skipped => host.stats.skipped += 1,
        Status::Failed if ignore_errors => {
            host.stats.ok += 1;
            host.stats.ignored += 1;
            outcome.ignored = true;
        }
        Status::Failed => {
            host.stats.failed += 1;
            host.failed = true;
            // What a `rescue:` section sees.
            host.set_host_var("ansible_failed_result", outcome.result.clone());
            let task = Value::from_pairs([("name", Value::from(t.display_name()))]);
            host.set_host_var("ansible_failed_task", task);
        }
        Status::Unreachable if ignore_unreachable => host.stats.skipped += 1,
        Status::Unreachable => {
            host.stats.unreachable += 1;
            host.unreachable = true;
        }
    }
    if outcome.unknown {
        host.stats.unknown += 1;
    }
    let changed = outcome.status == Status::Changed
        || (looped && runs.iter().any(|(_, r)| r.status() == Status::Changed));
    let mut missing = Vec::new();
    if changed && !t.notify.is_empty() {
        drop(host);
        let mut ids = Vec::new();
        for n in &t.notify {
            let found = s.handlers_for(pc, n);
            if found.is_empty() {
                missing.push(n.clone());
            }
            ids.extend(found);
        }
        let mut host = s.hosts[h].lock().unwrap();
        host.notified.extend(ids);
        if !missing.is_empty() {
            host.failed = true;
            host.stats.failed += 1;
            outcome.status = Status::Failed;
            outcome.msg = Some(format!(
                "The requested handler '{}' was not found in either the main handlers list nor in the listening handlers list",
                missing.join(", ")
            ));
        }
    }
    outcome.duration = start.elapsed();
    outcome
}
