//! The flow of a task list: blocks (rescue and always per host), `meta` tasks, handlers (notify,
//! flush, listen), leaf tasks run on every active host at once and reported in inventory
//! order, and dynamic includes expanded per host.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::playbook::{Action, Task};
use crate::report::HostOutcome;
use crate::vars::{Layer, VarMap};

use super::*;

impl Shared {
    /// Run a list of tasks on the hosts (boxed: blocks and includes recurse).
    pub fn run_list<'a>(
        &'a self,
        pc: &'a Arc<PlayCtx>,
        tasks: &'a [Arc<Task>],
        hosts: &'a [usize],
        extra: &'a Arc<Vec<Layer>>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            for t in tasks {
                if self.cancel.is_cancelled() || pc.ended.load(Ordering::SeqCst) {
                    return;
                }
                let active = self.active(hosts);
                if active.is_empty() {
                    return;
                }
                if self.before_start(t) {
                    continue;
                }
                if !matches!(t.action, Action::Block { .. } | Action::Meta(_))
                    && !self.step_allows(pc, t).await
                {
                    continue;
                }
                match &t.action {
                    Action::Block {
                        block,
                        rescue,
                        always,
                    } => {
                        self.run_block(pc, block, rescue, always, &active, extra)
                            .await
                    }
                    Action::Meta(m) => self.run_meta(pc, t, m, &active, extra).await,
                    Action::IncludeTasks { .. } | Action::IncludeRole { .. } => {
                        self.run_include(pc, t, &active, extra).await
                    }
                    _ => self.run_leaf(pc, t, &active, extra, false).await,
                }
                if pc.play.any_errors_fatal || t.d.any_errors_fatal == Some(true) {
                    let failed = active.iter().any(|&h| self.hosts[h].lock().unwrap().failed);
                    if failed {
                        for &h in &pc.batch {
                            let mut host = self.hosts[h].lock().unwrap();
                            if !host.failed {
                                host.ended = true;
                            }
                        }
                        pc.ended.store(true, Ordering::SeqCst);
                    }
                }
            }
        })
    }

    async fn run_block(
        &self,
        pc: &Arc<PlayCtx>,
        block: &[Arc<Task>],
        rescue: &[Arc<Task>],
        always: &[Arc<Task>],
        hosts: &[usize],
        extra: &Arc<Vec<Layer>>,
    ) {
        self.run_list(pc, block, hosts, extra).await;
        let failed: Vec<usize> = hosts
            .iter()
            .copied()
            .filter(|&h| self.hosts[h].lock().unwrap().failed)
            .collect();
        if !rescue.is_empty() && !failed.is_empty() {
            for &h in &failed {
                self.hosts[h].lock().unwrap().failed = false;
            }
            self.run_list(pc, rescue, &failed, extra).await;
            for &h in &failed {
                let mut host = self.hosts[h].lock().unwrap();
                if !host.failed && !host.unreachable {
                    host.stats.rescued += 1;
                    host.stats.failed = host.stats.failed.saturating_sub(1);
                }
            }
        }
        if !always.is_empty() {
            let still: Vec<usize> = hosts
                .iter()
                .copied()
                .filter(|&h| self.hosts[h].lock().unwrap().failed)
                .collect();
            for &h in &still {
                self.hosts[h].lock().unwrap().failed = false;
            }
            self.run_list(pc, always, hosts, extra).await;
            for &h in &still {
                self.hosts[h].lock().unwrap().failed = true;
            }
        }
    }

    async fn run_meta(
        &self,
        pc: &Arc<PlayCtx>,
        t: &Arc<Task>,
        m: &str,
        hosts: &[usize],
        extra: &Arc<Vec<Layer>>,
    ) {
        if !tags_match(&t.d.tags, &self.opts.tags, &self.opts.skip_tags) && m != "flush_handlers" {
            return;
        }
        // `when` decides per host for end_host; for the others the first host decides.
        let mut applies = Vec::new();
        for &h in hosts {
            let ctx = self.context(pc, h, Some(t), extra);
            let mut ok = true;
            for c in &t.d.when {
                match crate::template::eval_condition(c, &ctx) {
                    Ok(v) => ok &= v,
                    Err(_) if task::no_log(t, &ctx) => {
                        let hidden = crate::report::CENSORED;
                        self.reporter.warn(&format!("{}: {hidden}", t.span));
                        ok = false;
                    }
                    Err(e) => {
                        self.reporter.warn(&format!("{}: {e}", t.span));
                        ok = false;
                    }
                }
            }
            if ok {
                applies.push(h);
            }
        }
        match m {
            "flush_handlers" => self.flush_handlers(pc, &pc.batch).await,
            "end_play" | "end_batch" if !applies.is_empty() => {
                for &h in &pc.batch {
                    self.hosts[h].lock().unwrap().ended = true;
                }
                pc.ended.store(true, Ordering::SeqCst);
            }
            "end_host" => {
                for &h in &applies {
                    self.hosts[h].lock().unwrap().ended = true;
                }
            }
            "clear_host_errors" => {
                for &h in &pc.batch {
                    self.hosts[h].lock().unwrap().failed = false;
                }
            }
            "clear_facts" => {
                for &h in &applies {
                    self.hosts[h].lock().unwrap().facts = Arc::new(VarMap::new());
                }
            }
            "reset_connection" => {
                for &h in &applies {
                    let conn = self.hosts[h].lock().unwrap().take_conn();
                    if let Some(c) = conn {
                        let _ = c.close().await;
                    }
                }
            }
            _ => {}
        }
    }

    /// Run the handlers notified on these hosts, in definition order, until none is pending.
    pub async fn flush_handlers(&self, pc: &Arc<PlayCtx>, hosts: &[usize]) {
        for _round in 0..16 {
            let handlers = pc.handlers.lock().unwrap().clone();
            let mut ran = false;
            for (i, hd) in handlers.iter().enumerate() {
                // After Ctrl-C (or SIGTERM, SIGHUP) no new work starts, handlers included, as
                // ansible-playbook stops at once; the notifications stay unrun.
                if self.cancel.is_cancelled() {
                    return;
                }
                let targets: Vec<usize> = hosts
                    .iter()
                    .copied()
                    .filter(|&h| {
                        let mut host = self.hosts[h].lock().unwrap();
                        let usable = host.active() || (pc.play.force_handlers && !host.unreachable);
                        usable && host.notified.shift_remove(&i)
                    })
                    .collect();
                if targets.is_empty() {
                    continue;
                }
                ran = true;
                self.run_leaf(pc, hd, &targets, &Arc::new(Vec::new()), true)
                    .await;
            }
            let pending = hosts
                .iter()
                .any(|&h| !self.hosts[h].lock().unwrap().notified.is_empty());
            if !ran || !pending {
                break;
            }
        }
        // Lockout-safe changes are confirmed once their handlers ran.
        if !self.cancel.is_cancelled() {
            super::safe_reconnect::confirm(self, pc, hosts).await;
        }
    }

    /// Find the handlers a `notify` name refers to.
    pub fn handlers_for(&self, pc: &PlayCtx, name: &str) -> Vec<usize> {
        let handlers = pc.handlers.lock().unwrap();
        handlers
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                h.name.as_deref() == Some(name)
                    || h.display_name() == name
                    || h.listen.iter().any(|l| l == name)
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Run a module task (or include_vars) on the hosts and report.
    pub async fn run_leaf(
        &self,
        pc: &Arc<PlayCtx>,
        t: &Arc<Task>,
        hosts: &[usize],
        extra: &Arc<Vec<Layer>>,
        handler: bool,
    ) {
        if !handler && !tags_match(&t.d.tags, &self.opts.tags, &self.opts.skip_tags) {
            return;
        }
        let name = self.task_title(pc, t, hosts.first().copied(), extra);
        self.reporter.task(&name, handler);
        // add_host bypasses the host loop, as Ansible's action: once per task.
        let once = t.d.run_once == Some(true) || t.module_name() == Some("add_host");
        let targets: Vec<usize> = if once {
            hosts.iter().copied().take(1).collect()
        } else {
            hosts.to_vec()
        };
        let limit =
            t.d.throttle
                .filter(|&n| n > 0)
                .unwrap_or(self.opts.forks.max(1))
                .min(self.opts.forks.max(1));
        let sem = Arc::new(tokio::sync::Semaphore::new(limit));
        let mut set = tokio::task::JoinSet::new();
        for &h in &targets {
            let (s, pc, t, extra, sem) = (
                self.arc(),
                pc.clone(),
                t.clone(),
                extra.clone(),
                sem.clone(),
            );
            set.spawn(async move {
                let _permit = sem.acquire().await;
                let name = s.host_name(h);
                s.reporter.running(&name, true);
                let out = task::run_task_host(
                    task::TaskRun {
                        s: &s,
                        pc: &pc,
                        t: &t,
                        h,
                    },
                    &extra,
                )
                .await;
                s.reporter.running(&name, false);
                (h, out)
            });
        }
        let mut results: Vec<(usize, HostOutcome)> = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(r) => results.push(r),
                Err(e) => self
                    .reporter
                    .warn(&format!("internal error in a task: {e}")),
            }
        }
        results.sort_by_key(|(h, _)| *h);
        if once && let Some((first, out)) = results.first() {
            let (register, value) = (t.register.clone(), out.result.clone());
            let facts = self.hosts[*first].lock().unwrap().host_vars.clone();
            for &h in hosts.iter().skip(1) {
                let mut host = self.hosts[h].lock().unwrap();
                if let Some(r) = &register {
                    host.set_host_var(r, value.clone());
                }
                if t.module_name() == Some("set_fact") {
                    for (k, v) in facts.iter() {
                        host.set_host_var(k, v.clone());
                    }
                }
            }
        }
        let outs: Vec<HostOutcome> = results.into_iter().map(|(_, o)| o).collect();
        self.reporter.hosts(&outs);
        // Lockout-safe changes: their handlers first, then a fresh login confirms them (a dry
        // run flushes them at the same point, so it reports the apply's order).
        let armed: Vec<usize> = (targets.iter().copied())
            .filter(|&h| {
                let mut host = self.hosts[h].lock().unwrap();
                let would = std::mem::take(&mut host.would_arm);
                would || !host.armed.is_empty()
            })
            .collect();
        if !armed.is_empty() && !handler {
            // The flush ends with the confirm.
            Box::pin(self.flush_handlers(pc, &armed)).await;
        }
    }

    fn task_title(&self, pc: &Arc<PlayCtx>, t: &Task, h: Option<usize>, extra: &[Layer]) -> String {
        let raw = t.display_name();
        if !crate::template::is_template(&raw) {
            return raw;
        }
        match h {
            Some(h) => crate::template::render_text(&raw, &self.context(pc, h, Some(t), extra))
                .unwrap_or(raw),
            None => raw,
        }
    }

    async fn run_include(
        &self,
        pc: &Arc<PlayCtx>,
        t: &Arc<Task>,
        hosts: &[usize],
        extra: &Arc<Vec<Layer>>,
    ) {
        if !tags_match(&t.d.tags, &self.opts.tags, &self.opts.skip_tags) {
            return;
        }
        // Evaluate per host: which file (or role) and which loop items.
        let mut groups: Vec<(include::Included, Vec<usize>)> = Vec::new();
        let mut outcomes = Vec::new();
        for &h in hosts {
            match include::resolve_include(self, pc, t, h, extra).await {
                Ok(list) => {
                    for inc in list {
                        match groups.iter_mut().find(|(g, _)| g.same_as(&inc)) {
                            Some((_, hs)) => hs.push(h),
                            None => groups.push((inc, vec![h])),
                        }
                    }
                }
                Err(out) => outcomes.push(*out),
            }
        }
        if !outcomes.is_empty() {
            self.reporter.task(&t.display_name(), false);
            for o in &outcomes {
                self.reporter.host(o);
            }
        }
        for (inc, hs) in groups {
            let names: Vec<String> = hs.iter().map(|&h| self.host_name(h)).collect();
            self.reporter
                .note(&format!("included: {} for {}", inc.label, names.join(", ")));
            if let Some(r) = &inc.role_handlers {
                pc.handlers.lock().unwrap().extend(r.iter().cloned());
            }
            let mut layers = (**extra).clone();
            layers.extend(inc.layers.iter().cloned());
            self.run_list(pc, &inc.tasks, &hs, &Arc::new(layers)).await;
        }
    }
}
