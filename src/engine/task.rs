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

use super::{PlayCtx, Shared, connect};
use crate::error::{Error, ErrorKind, Result};
use crate::modules::{
    Answer, Args, Diff, FileKind, FileState, ModuleEnv, Observed, Plan, Probe, Step,
};
use crate::playbook::{Action, Task};
use crate::report::{HostOutcome, ItemOutcome, Status};
use crate::template::{eval_condition, render_text, render_value, to_text};
use crate::transport::{Become, Exec, Transport, script};
use crate::vars::{Context, Layer, VarMap};

/// The result of one item (or of the task, without a loop).
#[derive(Default)]
struct ItemRun {
    status: Option<Status>,
    msg: Option<String>,
    diffs: Vec<Diff>,
    result: VarMap,
    set_facts: Option<VarMap>,
    facts: Option<VarMap>,
    included_vars: Option<VarMap>,
    delegated: Option<String>,
    show: bool,
}

impl ItemRun {
    fn status(&self) -> Status {
        self.status.unwrap_or(Status::Ok)
    }
    /// Turn this run into a failure with `msg` (also the registered `msg`).
    fn fail(&mut self, msg: String) {
        self.status = Some(Status::Failed);
        self.result.insert("msg".into(), Value::from(msg.as_str()));
        self.msg = Some(msg);
    }
    fn failed(msg: impl Into<String>) -> ItemRun {
        let msg = msg.into();
        let mut r = ItemRun {
            status: Some(Status::Failed),
            msg: Some(msg.clone()),
            ..Default::default()
        };
        r.result.insert("msg".into(), Value::from(msg));
        r
    }
    fn unreachable(msg: impl Into<String>) -> ItemRun {
        let msg = msg.into();
        let mut r = ItemRun {
            status: Some(Status::Unreachable),
            msg: Some(msg.clone()),
            ..Default::default()
        };
        r.result.insert("msg".into(), Value::from(msg));
        r.result.insert("unreachable".into(), Value::from(true));
        r
    }
    fn skipped(msg: impl Into<String>) -> ItemRun {
        let msg = msg.into();
        let mut r = ItemRun {
            status: Some(Status::Skipped),
            msg: Some(msg.clone()),
            ..Default::default()
        };
        r.result.insert("skip_reason".into(), Value::from(msg));
        r
    }
    fn from_error(e: Error) -> ItemRun {
        match e.kind {
            ErrorKind::Unreachable => ItemRun::unreachable(e.to_string()),
            _ => ItemRun::failed(e.to_string()),
        }
    }
    /// The registered value: the module's fields plus Ansible's flags.
    fn value(&self) -> Value {
        let mut m = self.result.clone();
        let st = self.status();
        m.insert("changed".into(), Value::from(st == Status::Changed));
        m.insert("failed".into(), Value::from(st == Status::Failed));
        if st == Status::Skipped {
            m.insert("skipped".into(), Value::from(true));
        }
        if let (Some(msg), false) = (&self.msg, m.contains_key("msg")) {
            m.insert("msg".into(), Value::from(msg.as_str()));
        }
        crate::vars::map_to_value(&m)
    }
}

fn flag(v: &Option<Value>, ctx: &Arc<Context>) -> Result<Option<bool>> {
    v.as_ref().map(|v| eval_condition(v, ctx)).transpose()
}

/// Whether a task's output is censored. `no_log` may be a template (`"{{ hide }}"`); one that
/// cannot be evaluated hides rather than shows.
pub fn no_log(t: &Task, ctx: &Arc<Context>) -> bool {
    flag(&t.d.no_log, ctx)
        .unwrap_or(Some(true))
        .unwrap_or(false)
}

/// Evaluate a loop to its items.
fn loop_items(kind: &str, value: &Value, ctx: &Arc<Context>) -> Result<Vec<Value>> {
    let v = render_value(value, ctx)?;
    let seq = |v: &Value| -> Result<Vec<Value>> {
        match v.kind() {
            ValueKind::Seq | ValueKind::Iterable => Ok(v.try_iter()?.collect()),
            ValueKind::None => Ok(Vec::new()),
            ValueKind::String => Ok(vec![v.clone()]),
            _ => Err(Error::runtime(format!(
                "loop needs a list, got {}",
                crate::template::py_repr(v)
            ))),
        }
    };
    Ok(match kind {
        "loop" | "list" => seq(&v)?,
        "items" | "flattened" => {
            let mut out = Vec::new();
            for i in seq(&v)? {
                if crate::template::is_list(&i) {
                    out.extend(i.try_iter()?);
                } else {
                    out.push(i);
                }
            }
            out
        }
        "dict" => {
            if v.kind() != ValueKind::Map {
                return Err(Error::runtime("with_dict needs a dictionary"));
            }
            crate::vars::value_to_map(&v)
                .into_iter()
                .map(|(k, val)| Value::from_pairs([("key", Value::from(k)), ("value", val)]))
                .collect()
        }
        "indexed_items" => seq(&v)?
            .into_iter()
            .enumerate()
            .map(|(i, x)| Value::from(vec![Value::from(i as i64), x]))
            .collect(),
        "together" => {
            let lists: Vec<Vec<Value>> = seq(&v)?.iter().map(seq).collect::<Result<_>>()?;
            let n = lists.iter().map(Vec::len).max().unwrap_or(0);
            (0..n)
                .map(|i| {
                    Value::from(
                        lists
                            .iter()
                            .map(|l| l.get(i).cloned().unwrap_or(Value::from(())))
                            .collect::<Vec<_>>(),
                    )
                })
                .collect()
        }
        "nested" | "cartesian" => {
            let lists: Vec<Vec<Value>> = seq(&v)?.iter().map(seq).collect::<Result<_>>()?;
            let mut acc: Vec<Vec<Value>> = vec![Vec::new()];
            for l in lists {
                acc = acc
                    .into_iter()
                    .flat_map(|prefix| {
                        l.iter()
                            .map(move |x| [prefix.clone(), vec![x.clone()]].concat())
                    })
                    .collect();
            }
            acc.into_iter().map(Value::from).collect()
        }
        "sequence" => {
            let text = to_text(&v);
            let mut start = 1i64;
            let mut end = None;
            let mut stride = 1i64;
            let mut format = "%d".to_string();
            for part in text.split_whitespace() {
                let (k, val) = part.split_once('=').unwrap_or(("end", part));
                let num = || {
                    val.parse::<i64>()
                        .map_err(|_| Error::runtime(format!("with_sequence: bad {k} '{val}'")))
                };
                match k {
                    "start" => start = num()?,
                    "end" => end = Some(num()?),
                    "count" => end = Some(start + num()? - 1),
                    "stride" => stride = num()?,
                    "format" => format = val.to_string(),
                    _ => {
                        return Err(Error::runtime(format!(
                            "with_sequence: unknown option '{k}'"
                        )));
                    }
                }
            }
            let end = end.ok_or_else(|| Error::runtime("with_sequence needs end or count"))?;
            let mut out = Vec::new();
            let mut i = start;
            while (stride > 0 && i <= end) || (stride < 0 && i >= end) {
                out.push(Value::from(
                    format
                        .replace("%d", &i.to_string())
                        .replace("%02d", &format!("{i:02}")),
                ));
                i += stride;
                if stride == 0 {
                    break;
                }
            }
            out
        }
        "fileglob" => {
            let mut out = Vec::new();
            for pat in seq(&v)? {
                let pat = to_text(&pat);
                let (dir, file) = pat.rsplit_once('/').unwrap_or((".", &pat));
                if let Ok(entries) = std::fs::read_dir(dir) {
                    let mut names: Vec<String> = entries
                        .filter_map(|e| e.ok())
                        .filter(|e| e.path().is_file())
                        .filter_map(|e| e.file_name().to_str().map(str::to_string))
                        .filter(|n| crate::inventory::pattern::glob_match(file, n))
                        .collect();
                    names.sort();
                    out.extend(names.into_iter().map(|n| Value::from(format!("{dir}/{n}"))));
                }
            }
            out
        }
        "subelements" => {
            let parts = seq(&v)?;
            let (list, key) = match parts.as_slice() {
                [l, k, ..] => (seq(l)?, to_text(k)),
                _ => return Err(Error::runtime("with_subelements needs [list, 'key']")),
            };
            let mut out = Vec::new();
            for el in list {
                for sub in seq(&el.get_attr(&key)?)? {
                    out.push(Value::from(vec![el.clone(), sub]));
                }
            }
            out
        }
        other => return Err(Error::runtime(format!("unknown loop kind '{other}'"))),
    })
}

/// `become` for this task: keywords, then host vars, then command line / ansible.cfg.
fn become_for(s: &Shared, t: &Task, ctx: &Arc<Context>) -> Result<Option<Become>> {
    let var = |name: &str| -> Result<Option<Value>> {
        Ok(ctx.get(name)?.filter(|v| !v.is_none() && !v.is_undefined()))
    };
    let on = match &t.d.become_ {
        Some(v) => eval_condition(v, ctx)?,
        None => match var("ansible_become")? {
            Some(v) => crate::template::filters::to_bool(&v),
            None => s.opts.become_,
        },
    };
    if !on {
        return Ok(None);
    }
    let user = match &t.d.become_user {
        Some(v) => to_text(&render_value(v, ctx)?),
        None => match var("ansible_become_user")? {
            Some(v) => to_text(&v),
            None => s.opts.become_user.clone().unwrap_or_else(|| "root".into()),
        },
    };
    let method =
        t.d.become_method
            .clone()
            .or(var("ansible_become_method")?.map(|v| to_text(&v)))
            .or(s.opts.become_method.clone())
            .unwrap_or_else(|| "sudo".into());
    if !matches!(method.as_str(), "sudo" | "ansible.builtin.sudo") {
        return Err(Error::usage(format!(
            "become_method '{method}' is not supported (sudo is)"
        )));
    }
    let password = match var("ansible_become_password")?.or(var("ansible_become_pass")?) {
        Some(v) => Some(to_text(&v)),
        None => s.opts.become_password.clone(),
    };
    Ok(Some(Become {
        user,
        method,
        password,
    }))
}

/// `environment:` dicts merged (inner wins), values templated.
fn environment(t: &Task, ctx: &Arc<Context>) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for e in &t.d.environment {
        let v = render_value(e, ctx)?;
        if v.kind() != ValueKind::Map {
            return Err(Error::runtime("environment must be a dictionary"));
        }
        for (k, val) in crate::vars::value_to_map(&v) {
            if !crate::vars::is_identifier(&k) {
                return Err(Error::runtime(format!(
                    "'{k}' is not a valid environment variable name"
                )));
            }
            out.retain(|(x, _)| *x != k);
            out.push((k, to_text(&val)));
        }
    }
    Ok(out)
}

/// Record the file states a planned step would produce (check mode).
fn predict(
    overlay: &mut std::collections::HashMap<String, FileState>,
    step: &Step,
    observed: &Observed,
) {
    let known = |path: &str| -> Option<FileState> {
        observed.answers.iter().find_map(|a| match a {
            Answer::File(f) if f.path == path && f.exists => Some(f.clone()),
            _ => None,
        })
    };
    match step {
        Step::Write(w) => {
            let base = overlay
                .get(&w.path)
                .cloned()
                .or_else(|| known(&w.path))
                .filter(|f| f.exists);
            let content = if w.source.is_none() {
                Some(w.content.clone())
            } else {
                None
            };
            let f = FileState {
                path: w.path.clone(),
                exists: true,
                kind: Some(FileKind::File),
                mode: w
                    .attrs
                    .mode
                    .or(base.as_ref().map(|b| b.mode))
                    .unwrap_or(0o644),
                owner: w
                    .attrs
                    .owner
                    .clone()
                    .or(base.as_ref().map(|b| b.owner.clone()))
                    .unwrap_or_else(|| "root".into()),
                group: w
                    .attrs
                    .group
                    .clone()
                    .or(base.as_ref().map(|b| b.group.clone()))
                    .unwrap_or_else(|| "root".into()),
                size: w.content.len() as u64,
                sha256: content
                    .as_ref()
                    .map(|c| crate::modules::content::sha256_hex(c)),
                content,
                ..Default::default()
            };
            overlay.insert(w.path.clone(), f);
        }
        Step::MakeDir { path, attrs } => {
            let f = FileState {
                path: path.clone(),
                exists: true,
                kind: Some(FileKind::Directory),
                mode: attrs.mode.unwrap_or(0o755),
                owner: attrs.owner.clone().unwrap_or_else(|| "root".into()),
                group: attrs.group.clone().unwrap_or_else(|| "root".into()),
                ..Default::default()
            };
            overlay.insert(path.clone(), f);
        }
        Step::Remove { path } => {
            overlay.insert(path.clone(), FileState::missing(path));
        }
        Step::Link { src, path, hard } => {
            let f = if *hard {
                FileState {
                    path: path.clone(),
                    exists: true,
                    kind: Some(FileKind::File),
                    ..known(src).unwrap_or_default()
                }
            } else {
                FileState {
                    path: path.clone(),
                    exists: true,
                    kind: Some(FileKind::Link),
                    is_link: true,
                    link_target: Some(src.clone()),
                    mode: 0o777,
                    ..Default::default()
                }
            };
            overlay.insert(path.clone(), f);
        }
        Step::SetAttrs { path, attrs, .. } => {
            if let Some(mut f) = overlay.get(path).cloned().or_else(|| known(path)) {
                if let Some(m) = attrs.mode {
                    f.mode = m;
                }
                if let Some(o) = &attrs.owner {
                    f.owner = o.clone();
                }
                if let Some(g) = &attrs.group {
                    f.group = g.clone();
                }
                overlay.insert(path.clone(), f);
            }
        }
        Step::Touch { path, .. } => {
            if overlay
                .get(path)
                .or(known(path).as_ref())
                .is_none_or(|f| !f.exists)
            {
                overlay.insert(
                    path.clone(),
                    FileState {
                        path: path.clone(),
                        exists: true,
                        kind: Some(FileKind::File),
                        mode: 0o644,
                        content: Some(Vec::new()),
                        ..Default::default()
                    },
                );
            }
        }
        Step::Run { .. } => {}
    }
}

/// Replace probed file states by the predictions of earlier check-mode tasks.
fn apply_overlay(
    overlay: &std::collections::HashMap<String, FileState>,
    probes: &[Probe],
    observed: &mut Observed,
) {
    for (p, a) in probes.iter().zip(observed.answers.iter_mut()) {
        if let (Probe::File(fp), Answer::File(f)) = (p, a)
            && let Some(pred) = overlay.get(&fp.path)
        {
            let mut pred = pred.clone();
            if !fp.content {
                pred.content = None;
            }
            *f = pred;
        }
    }
}

/// Where the task runs: the host itself or a delegate.
async fn target(
    s: &Shared,
    pc: &PlayCtx,
    t: &Task,
    h: usize,
    ctx: &Arc<Context>,
) -> Result<(Arc<dyn Transport>, Option<String>)> {
    if let Some(d) = &t.d.delegate_to {
        let name = render_text(&to_text(d), ctx)?;
        if let Some(&dh) = s.index.get(&name) {
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
async fn exec_cancellable(
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
struct Prepared {
    planner: Box<dyn crate::modules::Planner>,
    probes: Vec<Probe>,
    /// The item's variables (for delegation and post-conditions).
    ctx: Arc<Context>,
    check: bool,
    diff: bool,
    run_as: RunAs,
    debug: bool,
    /// A change here makes the host's long-lived shells stale (users and groups).
    refreshes_sessions: bool,
}

/// How a task's scripts run on the host: privilege escalation and time limit.
#[derive(Clone, PartialEq)]
struct RunAs {
    become_: Option<Become>,
    timeout: Option<Duration>,
}

/// Where a loop's earlier items leave later ones: the files their steps wrote (so a later
/// item plans on the new content without reading it again) and whether a command ran
/// (whose effects are unknown: later items then read the host again).
#[derive(Default)]
struct LoopState {
    written: std::collections::HashMap<String, FileState>,
    ran_command: bool,
}

type Conn = (Arc<dyn Transport>, Option<String>);

/// Template the arguments and let the module prepare its plan (controller side only).
fn prepare_module(
    s: &Shared,
    pc: &PlayCtx,
    t: &Task,
    h: usize,
    ctx: &Arc<Context>,
    check: bool,
) -> Result<Prepared> {
    let Action::Module { module, args } = &t.action else {
        unreachable!()
    };
    let rendered = render_value(args, ctx)?;
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
        diff,
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
            p
        } else {
            Default::default()
        },
    };
    let planner = module.prepare(args, &env)?;
    let probes = planner.probes();
    Ok(Prepared {
        planner,
        probes,
        check,
        diff,
        ctx: ctx.clone(),
        run_as: RunAs {
            become_: become_for(s, t, ctx)?,
            timeout: t.d.timeout.map(Duration::from_secs),
        },
        debug: module.name() == "debug",
        refreshes_sessions: matches!(module.name(), "user" | "group"),
    })
}

/// Read the host state for these probes: one round trip (none without probes).
async fn read_state(
    s: &Shared,
    pc: &PlayCtx,
    t: &Task,
    h: usize,
    ctx: &Arc<Context>,
    probes: &[Probe],
    run_as: &RunAs,
) -> Result<(Observed, Option<Conn>)> {
    if probes.is_empty() {
        return Ok((Observed::default(), None));
    }
    let (c, d) = target(s, pc, t, h, ctx).await?;
    let out = exec_cancellable(
        s,
        &c,
        Exec {
            script: script::probe_script(probes),
            stdin: Vec::new(),
            become_: run_as.become_.clone(),
            timeout: run_as.timeout,
            probes: Some(probes.to_vec()),
        },
        false,
    )
    .await?;
    let obs = script::parse_probe_output(probes, &out.stdout).map_err(|e| {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if stderr.is_empty() {
            e
        } else {
            Error::runtime(format!("reading the host's state failed: {stderr}"))
        }
    })?;
    Ok((obs, Some((c, d))))
}

/// Plan from the observed state, then report (check mode) or execute the steps.
async fn finish_module(
    s: &Shared,
    pc: &PlayCtx,
    t: &Task,
    h: usize,
    prep: Prepared,
    (mut observed, conn): (Observed, Option<Conn>),
    local: &mut LoopState,
) -> Result<ItemRun> {
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
        apply_overlay(&s.hosts[h].lock().unwrap().overlay, &probes, &mut observed);
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
    if let Some(msg) = plan.failed {
        run.fail(msg);
        return Ok(run);
    }
    if let Some(reason) = plan.skipped {
        run.status = Some(Status::Skipped);
        run.msg = Some(reason.clone());
        run.result.insert("skip_reason".into(), Value::from(reason));
        return Ok(run);
    }
    run.set_facts = plan.facts.clone();
    if let Some(f) = plan.result.get("ansible_facts")
        && plan.facts.is_none()
    {
        run.facts = Some(crate::vars::value_to_map(f));
    }
    if check && plan.runs_command {
        run.status = Some(Status::Skipped);
        run.msg = Some("Command would have run if not in check mode".into());
        run.diffs.clear();
        return Ok(run);
    }
    run.status = Some(if plan.changed {
        Status::Changed
    } else {
        Status::Ok
    });
    if check {
        let mut host = s.hosts[h].lock().unwrap();
        for step in &plan.steps {
            predict(&mut host.overlay, step, &observed);
        }
        for p in &plan.predictions {
            host.predicted.record(p);
        }
        return Ok(run);
    }
    if plan.steps.is_empty() {
        return Ok(run);
    }
    let (c, d) = match conn {
        Some(c) => c,
        None => target(s, pc, t, h, ctx).await?,
    };
    run.delegated = d;
    let result = run_steps(s, &c, &plan.steps, &run_as, &observed, local, run).await;
    if refreshes_sessions {
        // Later scripts must see the users and groups these steps changed.
        c.refresh().await;
    }
    result
}

/// Execute a plan's steps, one round trip each, stopping at the first failure.
async fn run_steps(
    s: &Shared,
    c: &Arc<dyn Transport>,
    steps: &[Step],
    run_as: &RunAs,
    observed: &Observed,
    local: &mut LoopState,
    mut run: ItemRun,
) -> Result<ItemRun> {
    for step in steps {
        let (script_text, stdin) = script::step_script(step)?;
        let started = Instant::now();
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
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        match step {
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
                }
            }
        }
    }
    Ok(run)
}

/// One module invocation: prepare, read the host (one round trip), plan, report or execute.
async fn run_module(
    s: &Shared,
    pc: &PlayCtx,
    t: &Task,
    h: usize,
    ctx: &Arc<Context>,
    check: bool,
) -> Result<ItemRun> {
    let prep = prepare_module(s, pc, t, h, ctx, check)?;
    let state = read_state(s, pc, t, h, ctx, &prep.probes, &prep.run_as).await?;
    finish_module(s, pc, t, h, prep, state, &mut LoopState::default()).await
}

/// include_vars: load variables files into the host's include_vars level.
fn include_vars(t: &Task, pc: &PlayCtx, args: &Value, ctx: &Arc<Context>) -> Result<ItemRun> {
    let a = render_value(args, ctx)?;
    let get = |k: &str| {
        a.get_attr(k)
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_none())
            .map(|v| to_text(&v))
    };
    let mut files = Vec::new();
    let mut dirs = vec![];
    if let Some(r) = &t.role {
        dirs.push(r.path.join("vars"));
    }
    if let Some(d) = t.file.parent() {
        dirs.push(d.join("vars"));
        dirs.push(d.to_path_buf());
    }
    dirs.push(pc.play.dir.join("vars"));
    dirs.push(pc.play.dir.clone());
    if let Some(f) = get("file").or_else(|| get("_raw_params")) {
        let p = crate::template::lookup::find_file(&f, &dirs)
            .ok_or_else(|| Error::runtime(format!("include_vars: could not find '{f}'")))?;
        files.push(p);
    } else if let Some(d) = get("dir") {
        let dir = crate::template::lookup::find_file(&d, &dirs).ok_or_else(|| {
            Error::runtime(format!("include_vars: could not find directory '{d}'"))
        })?;
        let mut found: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yml" | "yaml" | "json")
                )
            })
            .collect();
        found.sort();
        files.extend(found);
    } else {
        return Err(Error::runtime("include_vars needs file or dir"));
    }
    let mut vars = VarMap::new();
    for f in &files {
        vars.extend(crate::vars::load_var_file(f)?);
    }
    let vars = match get("name") {
        Some(n) => VarMap::from_iter([(n, crate::vars::map_to_value(&vars))]),
        None => vars,
    };
    let mut run = ItemRun {
        status: Some(Status::Ok),
        ..Default::default()
    };
    run.result.insert(
        "ansible_included_var_files".into(),
        Value::from(
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>(),
        ),
    );
    run.included_vars = Some(vars);
    Ok(run)
}

/// `when` and `check_mode` for one item: the check flag, or the item's final result.
fn gate(s: &Shared, t: &Task, ctx: &Arc<Context>) -> std::result::Result<bool, Box<ItemRun>> {
    for c in &t.d.when {
        match eval_condition(c, ctx) {
            Ok(true) => {}
            Ok(false) => {
                let mut r = ItemRun::skipped("Conditional result was False");
                r.result.insert("false_condition".into(), c.clone());
                return Err(Box::new(r));
            }
            Err(e) => {
                return Err(Box::new(ItemRun::failed(format!(
                    "The conditional check '{}' failed: {}",
                    to_text(c),
                    e.message
                ))));
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
async fn run_item(s: &Shared, pc: &PlayCtx, t: &Task, h: usize, ctx: &Arc<Context>) -> ItemRun {
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
            Action::Module { .. } => run_module(s, pc, t, h, ctx, check)
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

/// The context with the result bound to the `register` name (for changed_when/failed_when/until).
fn bind_result(t: &Task, ctx: &Arc<Context>, run: &ItemRun) -> Arc<Context> {
    let mut m = VarMap::new();
    if let Some(r) = &t.register {
        m.insert(r.clone(), run.value());
    }
    ctx.with(Layer::fixed("result", Arc::new(m)))
}

fn post_conditions(t: &Task, ctx: &Arc<Context>, mut run: ItemRun) -> ItemRun {
    if t.changed_when.is_none() && t.failed_when.is_none() {
        return run;
    }
    let bound = bind_result(t, ctx, &run);
    if let Some(conds) = &t.changed_when {
        let mut changed = true;
        for c in conds {
            match eval_condition(c, &bound) {
                Ok(v) => changed &= v,
                Err(e) => return ItemRun::failed(format!("changed_when: {}", e.message)),
            }
        }
        if run.status() != Status::Failed {
            run.status = Some(if changed { Status::Changed } else { Status::Ok });
        }
        if conds.is_empty() {
            run.status = Some(Status::Ok);
        }
    }
    if let Some(conds) = &t.failed_when {
        let bound = bind_result(t, ctx, &run);
        let mut failed = !conds.is_empty();
        for c in conds {
            match eval_condition(c, &bound) {
                Ok(v) => failed &= v,
                Err(e) => return ItemRun::failed(format!("failed_when: {}", e.message)),
            }
        }
        run.result
            .insert("failed_when_result".into(), Value::from(failed));
        if failed {
            run.status = Some(Status::Failed);
            if run.msg.is_none() {
                run.msg = Some("failed_when condition was true".into());
            }
        } else if run.status() == Status::Failed {
            let changed = run.result.get("rc").is_some() && t.changed_when.is_none();
            run.status = Some(if changed { Status::Changed } else { Status::Ok });
            run.msg = None;
        }
    }
    run
}

/// Apply an item's effects on the host right away (so later items see set_fact values).
fn apply_effects(s: &Shared, h: usize, run: &ItemRun) {
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
        host.add_facts(f);
    }
    if let Some(v) = &run.included_vars {
        let inc = Arc::make_mut(&mut host.included);
        for (k, val) in v {
            inc.insert(k.clone(), val.clone());
        }
    }
}

/// The loop variables of one item.
fn item_vars(t: &Task, item: &Value, i: usize, total: usize) -> VarMap {
    let lc = &t.loop_control;
    let mut m = VarMap::new();
    m.insert(lc.loop_var.clone(), item.clone());
    m.insert("ansible_loop_var".into(), Value::from(lc.loop_var.as_str()));
    if let Some(iv) = &lc.index_var {
        m.insert(iv.clone(), Value::from(i as i64));
        m.insert("ansible_index_var".into(), Value::from(iv.as_str()));
    }
    if lc.extended {
        m.insert(
            "ansible_loop".into(),
            Value::from_pairs([
                ("index", Value::from(i as i64 + 1)),
                ("index0", Value::from(i as i64)),
                ("first", Value::from(i == 0)),
                ("last", Value::from(i + 1 == total)),
                ("length", Value::from(total as i64)),
            ]),
        );
    }
    m
}

fn item_label(t: &Task, item: &Value, ctx: &Arc<Context>) -> String {
    match &t.loop_control.label {
        Some(l) => render_value(l, ctx)
            .map(|v| to_text(&v))
            .unwrap_or_else(|_| crate::template::py_repr(item)),
        None => match item.kind() {
            ValueKind::String => to_text(item),
            _ => crate::template::py_repr(item),
        },
    }
}

/// Can a loop read the host once for all its items? Not when items depend on each other
/// through variables (set_fact, include_vars), retry, pause, or go to another host.
fn batchable(t: &Task) -> bool {
    matches!(&t.action, Action::Module { module, .. } if !matches!(module.name(), "set_fact" | "setup"))
        && t.until.is_none()
        && t.loop_control.pause.is_none()
        && t.d.delegate_to.is_none()
}

/// A loop whose items' probes go to the host in one round trip; the items are then planned
/// and applied in order, each seeing the files earlier items wrote.
async fn run_batched(
    s: &Shared,
    pc: &PlayCtx,
    t: &Task,
    h: usize,
    extra: &[Layer],
    items: Vec<Value>,
) -> Vec<(Option<String>, ItemRun)> {
    enum Slot {
        Done(Box<ItemRun>),
        Ready(Box<Prepared>),
    }
    let total = items.len();
    let base = s.context(pc, h, Some(t), extra);
    let mut slots = Vec::with_capacity(total);
    let mut labels = Vec::with_capacity(total);
    for (i, item) in items.iter().enumerate() {
        let ctx = base.with(Layer::fixed("loop", Arc::new(item_vars(t, item, i, total))));
        labels.push(item_label(t, item, &ctx));
        slots.push(match gate(s, t, &ctx) {
            Err(run) => Slot::Done(run),
            Ok(check) => match prepare_module(s, pc, t, h, &ctx, check) {
                Ok(p) => Slot::Ready(Box::new(p)),
                Err(e) => Slot::Done(Box::new(ItemRun::from_error(e))),
            },
        });
    }
    // One round trip for every item's probes.
    let batch = {
        let ready: Vec<&Prepared> = slots
            .iter()
            .filter_map(|s| {
                if let Slot::Ready(p) = s {
                    Some(&**p)
                } else {
                    None
                }
            })
            .collect();
        let uniform = ready.windows(2).all(|w| w[0].run_as == w[1].run_as);
        match ready.first() {
            Some(first) if uniform => {
                // Items often read the same thing (the same file, the same package list):
                // each distinct probe is asked once, and every item gets its answers.
                let mut all: Vec<Probe> = Vec::new();
                let mut maps: std::collections::VecDeque<Vec<usize>> = Default::default();
                for p in &ready {
                    let map = p
                        .probes
                        .iter()
                        .map(|probe| match all.iter().position(|q| q == probe) {
                            Some(i) => i,
                            None => {
                                all.push(probe.clone());
                                all.len() - 1
                            }
                        })
                        .collect();
                    maps.push_back(map);
                }
                Some((all, maps, first.run_as.clone()))
            }
            _ => None,
        }
    };
    let mut shared: Option<std::result::Result<(Observed, Option<Conn>), Error>> = None;
    let mut maps = std::collections::VecDeque::new();
    if let Some((all, m, run_as)) = batch {
        maps = m;
        shared = Some(read_state(s, pc, t, h, &base, &all, &run_as).await);
    }
    let mut local = LoopState::default();
    let mut out = Vec::with_capacity(total);
    for ((slot, label), item) in slots.into_iter().zip(labels).zip(items) {
        let mut run = match slot {
            Slot::Done(run) => *run,
            Slot::Ready(prep) => {
                let ctx = prep.ctx.clone();
                let n = prep.probes.len();
                let map = maps.pop_front().unwrap_or_default();
                let state = match &shared {
                    Some(Ok((obs, conn))) if !(local.ran_command && n > 0) => Ok((
                        Observed {
                            answers: map.iter().map(|&i| obs.answers[i].clone()).collect(),
                        },
                        conn.clone(),
                    )),
                    Some(Err(e)) => Err(e.clone()),
                    _ => read_state(s, pc, t, h, &ctx, &prep.probes, &prep.run_as).await,
                };
                let run = match state {
                    Ok((obs, conn)) => finish_module(s, pc, t, h, *prep, (obs, conn), &mut local)
                        .await
                        .unwrap_or_else(ItemRun::from_error),
                    Err(e) => ItemRun::from_error(e),
                };
                if matches!(run.status(), Status::Unreachable | Status::Skipped) {
                    run
                } else {
                    post_conditions(t, &ctx, run)
                }
            }
        };
        apply_effects(s, h, &run);
        run.result.insert(t.loop_control.loop_var.clone(), item);
        run.result.insert(
            "ansible_loop_var".into(),
            Value::from(t.loop_control.loop_var.as_str()),
        );
        out.push((Some(label), run));
    }
    out
}

/// Run a task on one host and update the host's state and counters.
pub async fn run_task_host(
    s: &Shared,
    pc: &PlayCtx,
    t: &Task,
    h: usize,
    extra: &[Layer],
) -> HostOutcome {
    let start = Instant::now();
    let trips_before = s.hosts[h].lock().unwrap().round_trips();
    let name = s.host_name(h);
    let ctx = s.context(pc, h, Some(t), extra);
    let mut outcome = HostOutcome::new(&name, Status::Ok);
    outcome.no_log = no_log(t, &ctx);
    let mut runs: Vec<(Option<String>, ItemRun)> = Vec::new();
    match &t.loop_ {
        None => {
            let r = run_item(s, pc, t, h, &ctx).await;
            apply_effects(s, h, &r);
            runs.push((None, r));
        }
        Some(l) => match loop_items(&l.kind, &l.value, &ctx) {
            Err(e) => runs.push((
                None,
                ItemRun::failed(format!("Invalid data passed to loop: {}", e.message)),
            )),
            Ok(items) if batchable(t) => runs = run_batched(s, pc, t, h, extra, items).await,
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
                    let mut r = run_item(s, pc, t, h, &item_ctx).await;
                    apply_effects(s, h, &r);
                    r.result.insert(t.loop_control.loop_var.clone(), item);
                    r.result.insert(
                        "ansible_loop_var".into(),
                        Value::from(t.loop_control.loop_var.as_str()),
                    );
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
    let looped = t.loop_.is_some();
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
        for (label, r) in &runs {
            outcome.items.push(ItemOutcome {
                label: label.clone().unwrap_or_default(),
                status: r.status(),
                msg: r.msg.clone(),
                ignored: false,
            });
            outcome.diffs.extend(r.diffs.iter().cloned());
        }
        if runs.is_empty() {
            outcome.status = Status::Skipped;
        }
        crate::vars::map_to_value(&m)
    } else {
        let (_, r) = &runs[0];
        outcome.msg = r.msg.clone();
        outcome.diffs = r.diffs.clone();
        outcome.delegated = r.delegated.clone();
        outcome.show_result = r.show;
        r.value()
    };
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

/// What a dynamic include brings for one host: tasks and the variables they see.
pub struct Included {
    pub label: String,
    pub tasks: Arc<Vec<Arc<Task>>>,
    pub layers: Vec<Layer>,
    pub role_handlers: Option<Vec<Arc<Task>>>,
    key: String,
}

impl Included {
    pub fn same_as(&self, other: &Included) -> bool {
        self.key == other.key
    }
}

/// How deeply dynamic includes may nest. Ansible has no limit (a file that includes itself
/// without end runs until Python's recursion limit); a chain this deep is always that mistake.
pub const MAX_INCLUDE_DEPTH: usize = 64;

/// Evaluate an include_tasks/include_role for one host (conditions, loop, file).
pub async fn resolve_include(
    s: &Shared,
    pc: &PlayCtx,
    t: &Task,
    h: usize,
    extra: &[Layer],
) -> std::result::Result<Vec<Included>, Box<HostOutcome>> {
    let name = s.host_name(h);
    let ctx = s.context(pc, h, Some(t), extra);
    let hide = no_log(t, &ctx);
    let fail = |msg: String| {
        let mut host = s.hosts[h].lock().unwrap();
        host.failed = true;
        host.stats.failed += 1;
        let mut out = super::failed_outcome(&name, msg);
        out.no_log = hide;
        Box::new(out)
    };
    // Every include level adds one "include loop" layer (see below).
    let depth = extra.iter().filter(|l| l.name == "include loop").count();
    if depth >= MAX_INCLUDE_DEPTH {
        return Err(fail(format!(
            "{}: includes nested more than {MAX_INCLUDE_DEPTH} levels deep (a file that includes itself with no condition that ends the recursion?)",
            t.span
        )));
    }
    let items: Vec<Option<Value>> = match &t.loop_ {
        None => vec![None],
        Some(l) => match loop_items(&l.kind, &l.value, &ctx) {
            Ok(v) => v.into_iter().map(Some).collect(),
            Err(e) => return Err(fail(e.to_string())),
        },
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let mut layer = VarMap::new();
        if let Some(item) = &item {
            layer.insert(t.loop_control.loop_var.clone(), item.clone());
            if let Some(iv) = &t.loop_control.index_var {
                layer.insert(iv.clone(), Value::from(i as i64));
            }
        }
        let item_ctx = ctx.with(Layer::fixed("loop", Arc::new(layer.clone())));
        let mut go = true;
        for c in &t.d.when {
            match eval_condition(c, &item_ctx) {
                Ok(v) => go &= v,
                Err(e) => return Err(fail(e.to_string())),
            }
        }
        if !go {
            continue;
        }
        let mut layers = vec![Layer::fixed("include loop", Arc::new(layer.clone()))];
        // The include's own vars apply to the included tasks.
        for v in &t.d.vars {
            layers.push(Layer::raw_shared("include vars", v.clone()));
        }
        let inherit = crate::playbook::Directives {
            when: Vec::new(),
            tags: Vec::new(),
            vars: Vec::new(),
            ..t.d.clone()
        };
        match &t.action {
            Action::IncludeTasks { file, apply } => {
                let fname = match render_value(file, &item_ctx) {
                    Ok(v) => to_text(&v),
                    Err(e) => return Err(fail(e.to_string())),
                };
                let Some(path) = crate::playbook::parse::resolve_task_file(
                    &fname,
                    &t.file,
                    t.role.as_deref(),
                    &pc.play.dir,
                ) else {
                    return Err(fail(format!(
                        "{}: could not find included tasks file '{fname}'",
                        t.span
                    )));
                };
                let mut inherit = inherit.clone();
                if let Some(a) = apply {
                    inherit.tags.extend(
                        crate::vars::value_to_map(a)
                            .get("tags")
                            .map(|v| {
                                to_text(v)
                                    .split(',')
                                    .map(|x| x.trim().to_string())
                                    .collect::<Vec<_>>()
                            })
                            .unwrap_or_default(),
                    );
                }
                let cached = s.includes.lock().unwrap().get(&path).cloned();
                let tasks = match cached {
                    Some(t) => t,
                    None => {
                        let mut pctx =
                            crate::playbook::parse::ParseCtx::new(&pc.play.dir, &s.opts.roles_path);
                        match crate::playbook::parse::load_task_file(
                            &path,
                            &inherit,
                            t.role.as_ref(),
                            &mut pctx,
                            false,
                        ) {
                            Ok(list) => {
                                let list = Arc::new(list);
                                s.includes
                                    .lock()
                                    .unwrap()
                                    .insert(path.clone(), list.clone());
                                list
                            }
                            Err(e) => return Err(fail(e.to_string())),
                        }
                    }
                };
                out.push(Included {
                    label: path.display().to_string(),
                    tasks,
                    layers,
                    role_handlers: None,
                    key: format!("{}#{i}", path.display()),
                });
            }
            Action::IncludeRole {
                name: role_name,
                tasks_from,
                vars_from,
                defaults_from,
                ..
            } => {
                let text =
                    |v: &Option<Value>| -> std::result::Result<Option<String>, Box<HostOutcome>> {
                        match v {
                            None => Ok(None),
                            Some(v) => render_value(v, &item_ctx)
                                .map(|x| Some(to_text(&x)))
                                .map_err(|e| fail(e.to_string())),
                        }
                    };
                let rname = match render_value(role_name, &item_ctx) {
                    Ok(v) => to_text(&v),
                    Err(e) => return Err(fail(e.to_string())),
                };
                let entry = crate::playbook::role::RoleEntry {
                    tasks_from: text(tasks_from)?,
                    vars_from: text(vars_from)?,
                    defaults_from: text(defaults_from)?,
                    ..Default::default()
                };
                let mut pctx =
                    crate::playbook::parse::ParseCtx::new(&pc.play.dir, &s.opts.roles_path);
                let role = match crate::playbook::role::load_role(
                    &rname, &t.span, &entry, &inherit, &mut pctx,
                ) {
                    Ok(r) => r,
                    Err(e) => return Err(fail(e.to_string())),
                };
                let (tasks, handlers, _) = crate::playbook::role::tasks_with_deps(&role);
                out.push(Included {
                    label: format!("role {rname}"),
                    tasks: Arc::new(tasks),
                    layers,
                    role_handlers: Some(handlers),
                    key: format!("role:{rname}:{:?}#{i}", entry.tasks_from),
                });
            }
            _ => {}
        }
    }
    Ok(out)
}
