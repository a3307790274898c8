//! The engine: runs plays over hosts, task by task (Ansible's linear strategy).
//!
//! Each task runs on all active hosts of the batch concurrently (at most `forks` at a time),
//! then results are reported in inventory order. Blocks track which hosts failed to run
//! `rescue` and `always`; handlers run when flushed (end of each section, `meta:
//! flush_handlers`). Check mode and apply share every code path: the difference is only
//! whether a plan's steps are executed ([`task`]).
//!
//! Files: `task.rs` one task on one host (probe → plan → steps, retries, register, notify);
//! `flow.rs` task lists, blocks, `meta`, handlers and includes across hosts; `loops.rs` loop
//! items and labels; `batch.rs` loops planned in one round trip; `include.rs` dynamic includes
//! and `include_vars`; `predict.rs` check mode's memory of planned changes; `run_as.rs` become,
//! environment and timeout; `connect.rs` transports; `host.rs` per-host state and counters;
//! `steer.rs` `--start-at-task` and `--step`; `safe_reconnect.rs` lockout-safe changes (a revert
//! armed on the target, confirmed over a fresh connection after the handlers); `journal.rs`
//! the run journal and `rollback.rs` `prov history` and `prov rollback`.

mod batch;
pub mod connect;
mod flow;
mod foreign;
pub mod host;
mod include;
mod inventory_edit;
pub mod journal;
mod loops;
mod origin;
mod outcome;
mod predict;
mod reboot;
pub mod rollback;
mod run_as;
mod safe_reconnect;
pub mod steer;
pub mod task;
mod tilde;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use minijinja::Value;
use tokio::sync::Notify;

use crate::error::{Error, Result};
use crate::inventory::Inventory;
use crate::playbook::{Action, Directives, Play, Playbook, RoleInfo, Task};
use crate::report::{HostOutcome, Reporter, Status};
use crate::vars::{Context, Hostvars, Layer, VarMap};
use host::{HostRun, RoundTrips, Stats};

/// Options of one run (command line, ansible.cfg and environment combined).
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub check: bool,
    pub diff: bool,
    pub forks: usize,
    pub limit: Option<String>,
    pub tags: Vec<String>,
    pub skip_tags: Vec<String>,
    pub extra_vars: VarMap,
    /// `-c`: overrides every host's connection.
    pub connection: Option<String>,
    /// `--chroot DIR`: the single selected host is this directory.
    pub chroot: Option<PathBuf>,
    pub become_: bool,
    pub become_user: Option<String>,
    pub become_method: Option<String>,
    pub become_password: Option<String>,
    pub remote_user: Option<String>,
    pub private_key: Option<PathBuf>,
    pub timeout: Option<u64>,
    pub verbosity: u8,
    pub gathering_explicit: bool,
    pub inventory_sources: Vec<String>,
    pub roles_path: Vec<PathBuf>,
    /// `--host-key-checking` (overrides everything).
    pub host_key_checking: Option<crate::transport::ssh::config::HostKeyMode>,
    /// The default when nothing else says (ansible.cfg `host_key_checking`, environment).
    pub host_key_default: Option<crate::transport::ssh::config::HostKeyMode>,
    /// `--start-at-task`: nothing runs before the first task matching it ([`steer`]).
    pub start_at_task: Option<String>,
    /// `--step`: ask before each task ([`steer`]).
    pub step: bool,
    /// `-k`: the SSH password (a host's `ansible_password` wins).
    pub ssh_password: Option<String>,
    /// `--ssh-common-args`, `--ssh-extra-args` (a host's `ansible_ssh_*_args` win).
    pub ssh_common_args: Option<String>,
    pub ssh_extra_args: Option<String>,
    /// `--persist DURATION`: SSH connections through the prov agent, which keeps them open
    /// this long after the last run ([`crate::transport::agent`]).
    pub persist: Option<std::time::Duration>,
    /// The run's journal ([`journal`]); `None` in check mode and with `--no-journal`.
    pub journal: Option<Arc<journal::RunLog>>,
}

/// Ctrl-C, SIGTERM and SIGHUP handling: a flag, the signal that set it, and a wake-up for
/// everything waiting on a host.
#[derive(Default)]
pub struct Cancel {
    flag: AtomicBool,
    signal: std::sync::atomic::AtomicI32,
    notify: Notify,
}

impl Cancel {
    /// Stop starting new work (Ctrl-C).
    pub fn cancel(&self) {
        self.cancel_by(libc::SIGINT);
    }
    /// Stop starting new work because of `signal` (the exit code: [`crate::error::signal_exit_code`]).
    pub fn cancel_by(&self, signal: i32) {
        let _ = self
            .signal
            .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
    /// The signal that cancelled the run (SIGINT for [`Cancel::cancel`]).
    pub fn signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
    pub async fn cancelled(&self) {
        loop {
            let wait = self.notify.notified();
            if self.is_cancelled() {
                return;
            }
            wait.await;
        }
    }
}

/// The outcome of a run, for the exit code.
#[derive(Debug, Default)]
pub struct Outcome {
    pub any_failed: bool,
    pub any_unreachable: bool,
    pub interrupted: bool,
    /// The signal that interrupted the run (SIGINT, SIGTERM, SIGHUP).
    pub signal: Option<i32>,
    pub stats: Vec<(String, Stats)>,
    pub round_trips: Vec<(String, RoundTrips)>,
}

impl Outcome {
    /// ansible-playbook's exit codes: 2 a host failed (wins), 4 unreachable, 0 ok.
    pub fn exit_code(&self) -> i32 {
        if self.interrupted {
            crate::error::signal_exit_code(self.signal.unwrap_or(libc::SIGINT))
        } else if self.any_failed {
            2
        } else if self.any_unreachable {
            4
        } else {
            0
        }
    }
}

/// State shared by all tasks of a run.
pub struct Shared {
    pub opts: RunOptions,
    /// The run's inventory; group_by adds to it.
    pub inventory: std::sync::RwLock<Inventory>,
    pub reporter: Reporter,
    /// Every host of the inventory, by index; add_host appends (never removes).
    pub hosts: boxcar::Vec<Mutex<HostRun>>,
    pub index: std::sync::RwLock<HashMap<String, usize>>,
    pub cancel: Arc<Cancel>,
    pub omit: String,
    /// Parsed include files, by path.
    pub includes: Mutex<HashMap<PathBuf, Arc<Vec<Arc<Task>>>>>,
    /// Controller-side downloads, cached for the run.
    pub http: Arc<crate::http::Client>,
    /// Where `--start-at-task` stands ([`steer`]).
    start_at: Mutex<steer::StartAt>,
    me: Weak<Shared>,
}

/// What tasks of the current play and batch share.
pub struct PlayCtx {
    pub play: Arc<Play>,
    /// Handlers, growing when roles are included.
    pub handlers: Mutex<Vec<Arc<Task>>>,
    /// Host indexes of this batch.
    pub batch: Vec<usize>,
    pub defaults_all: Arc<VarMap>,
    pub role_vars_all: Arc<VarMap>,
    pub play_magic: Arc<VarMap>,
    pub ended: AtomicBool,
    /// `--step` still asks in this batch (`c` stops it).
    pub stepping: AtomicBool,
}

pub struct Engine {
    pub shared: Arc<Shared>,
}

/// Does a task with these tags run under `--tags`/`--skip-tags`? (Ansible's rules.)
pub fn tags_match(tags: &[String], only: &[String], skip: &[String]) -> bool {
    let has = |t: &str| tags.iter().any(|x| x == t);
    let only_has = |t: &str| only.iter().any(|x| x == t);
    let skip_has = |t: &str| skip.iter().any(|x| x == t);
    let selected = has("always")
        || ((only.is_empty() || only_has("all")) && !has("never"))
        || tags.iter().any(|t| only.contains(t))
        || (only_has("tagged") && !tags.is_empty() && !has("never"))
        || (only_has("untagged") && tags.is_empty());
    let skipped = if skip_has("all") {
        !has("always") || skip_has("always")
    } else {
        tags.iter().any(|t| skip.contains(t))
            || (skip_has("tagged") && !tags.is_empty())
            || (skip_has("untagged") && tags.is_empty())
    };
    selected && !skipped
}

/// Split `serial` into batch sizes.
pub fn batches(serial: Option<&Value>, hosts: &[usize]) -> Result<Vec<Vec<usize>>> {
    let n = hosts.len();
    let size_of = |v: &Value| -> Result<usize> {
        let text = crate::template::to_text(v);
        let size = if let Some(p) = text.strip_suffix('%') {
            let pct: f64 = p
                .trim()
                .parse()
                .map_err(|_| Error::runtime(format!("bad serial value '{text}'")))?;
            ((pct * n as f64) / 100.0).floor() as usize
        } else {
            text.trim()
                .parse()
                .map_err(|_| Error::runtime(format!("bad serial value '{text}'")))?
        };
        Ok(if size == 0 { n.max(1) } else { size })
    };
    let sizes: Vec<usize> = match serial {
        None => vec![n.max(1)],
        Some(v) if crate::template::is_list(v) => {
            v.try_iter()?.map(|x| size_of(&x)).collect::<Result<_>>()?
        }
        Some(v) => vec![size_of(v)?],
    };
    let mut out = Vec::new();
    let mut i = 0;
    let mut k = 0;
    while i < n {
        let size = sizes[k.min(sizes.len() - 1)].max(1);
        out.push(hosts[i..(i + size).min(n)].to_vec());
        i += size;
        k += 1;
    }
    Ok(out)
}

/// `ansible_connection` when nothing sets it: Ansible's default, ssh.
static CONNECTION_DEFAULT: std::sync::LazyLock<Arc<VarMap>> = std::sync::LazyLock::new(|| {
    Arc::new(VarMap::from([(
        "ansible_connection".to_string(),
        Value::from("ssh"),
    )]))
});

/// A host's magic variables from the inventory: its names, `group_names` and `groups`.
pub(crate) fn host_magic(inventory: &Inventory, name: &str, groups: &Value) -> VarMap {
    let mut magic = VarMap::new();
    magic.insert("inventory_hostname".into(), Value::from(name));
    magic.insert(
        "inventory_hostname_short".into(),
        Value::from(name.split('.').next().unwrap_or(name)),
    );
    magic.insert(
        "group_names".into(),
        Value::from(
            inventory
                .group_names(name)
                .into_iter()
                .filter(|g| g != "ungrouped")
                .map(Value::from)
                .collect::<Vec<_>>(),
        ),
    );
    magic.insert("groups".into(), groups.clone());
    magic
}

impl Engine {
    pub fn new(
        opts: RunOptions,
        inventory: Inventory,
        reporter: Reporter,
        cancel: Arc<Cancel>,
    ) -> Engine {
        let names: Vec<String> = inventory.hosts.keys().cloned().collect();
        let groups = inventory.groups_value();
        let start_at = steer::StartAt::new(opts.start_at_task.as_deref());
        let shared = Arc::new_cyclic(|me: &Weak<Shared>| {
            let hosts = boxcar::Vec::new();
            let mut index = HashMap::new();
            for (i, name) in names.iter().enumerate() {
                hosts.push(Mutex::new(HostRun::new(
                    name,
                    inventory.host_vars(name),
                    host_magic(&inventory, name, &groups),
                )));
                index.insert(name.clone(), i);
            }
            Shared {
                opts,
                inventory: std::sync::RwLock::new(inventory),
                reporter,
                hosts,
                index: std::sync::RwLock::new(index),
                cancel,
                omit: format!(
                    "__omit_place_holder__{:x}",
                    std::process::id() as u64 * 2654435761
                ),
                includes: Mutex::new(HashMap::new()),
                http: Arc::new(crate::http::Client::default()),
                start_at: Mutex::new(start_at),
                me: me.clone(),
            }
        });
        Engine { shared }
    }

    /// Run playbooks in order, as one run with one recap. As in ansible-playbook, a playbook
    /// after which a host has failed or is unreachable is the last one run.
    pub async fn run(&self, playbooks: &[Playbook]) -> Result<Outcome> {
        let s = &self.shared;
        let mut result = Ok(());
        'playbooks: for (i, playbook) in playbooks.iter().enumerate() {
            if s.any_host_failed() || s.cancel.is_cancelled() {
                break;
            }
            if i > 0 {
                // As ansible-playbook: each playbook but the last ends with the recap so far.
                s.reporter.interim_recap(&self.outcome().stats);
            }
            for play in &playbook.plays {
                if s.cancel.is_cancelled() {
                    break 'playbooks;
                }
                if let Err(e) = s.run_play(play.clone()).await {
                    result = Err(e);
                    break 'playbooks;
                }
            }
        }
        s.close_all().await;
        let outcome = self.outcome();
        s.reporter.recap(
            &outcome.stats,
            &outcome.round_trips,
            s.opts.check,
            outcome.interrupted,
        );
        result.map(|_| outcome)
    }

    /// The run so far: every host that did something, its counts and round trips.
    fn outcome(&self) -> Outcome {
        let s = &self.shared;
        let mut outcome = Outcome {
            interrupted: s.cancel.is_cancelled(),
            signal: s.cancel.signal(),
            ..Default::default()
        };
        for (_, h) in s.hosts.iter() {
            let h = h.lock().unwrap();
            if h.stats == Stats::default() {
                continue;
            }
            outcome.any_failed |= h.stats.failed > 0;
            outcome.any_unreachable |= h.stats.unreachable > 0;
            outcome.stats.push((h.name.clone(), h.stats.clone()));
            outcome.round_trips.push((h.name.clone(), h.round_trips()));
        }
        outcome
    }
}

impl Shared {
    fn arc(&self) -> Arc<Shared> {
        self.me.upgrade().expect("engine alive")
    }

    fn any_host_failed(&self) -> bool {
        self.hosts.iter().any(|(_, h)| {
            let h = h.lock().unwrap();
            h.stats.failed > 0 || h.stats.unreachable > 0
        })
    }

    async fn close_all(&self) {
        let conns: Vec<_> = self
            .hosts
            .iter()
            .filter_map(|(_, h)| h.lock().unwrap().take_conn())
            .collect();
        for c in conns {
            if let Err(e) = c.close().await {
                self.reporter
                    .warn(&format!("closing {}: {e}", c.describe()));
            }
        }
    }

    /// The hosts a play runs on: its pattern, intersected with `--limit`.
    pub fn play_hosts(&self, play: &Play) -> Result<Vec<usize>> {
        let ctx = Context::new(vec![Layer::raw("extra vars", self.opts.extra_vars.clone())]);
        let pattern =
            crate::template::render_text(&play.hosts, &ctx).map_err(|e| e.at(play.span.clone()))?;
        let inventory = self.inventory.read().unwrap();
        let mut names = crate::inventory::pattern::select(&inventory, &pattern)?;
        if let Some(limit) = &self.opts.limit {
            let allowed: std::collections::HashSet<String> =
                crate::inventory::pattern::select(&inventory, limit)?
                    .into_iter()
                    .collect();
            names.retain(|n| allowed.contains(n));
        }
        Ok(names
            .iter()
            .filter_map(|n| self.index.read().unwrap().get(n).copied())
            .collect())
    }

    async fn run_play(&self, play: Arc<Play>) -> Result<()> {
        let all = self.play_hosts(&play)?;
        self.reporter.play(&play.name);
        if all.is_empty() {
            self.reporter.note("skipping: no hosts matched");
            return Ok(());
        }
        // --start-at-task: a play before the one with the task runs nothing.
        let Ok(mut start_at) = self.start_at_play(&play) else {
            return Ok(());
        };
        let mut defaults_all = VarMap::new();
        let mut role_vars_all = VarMap::new();
        for r in &play.var_roles {
            defaults_all.extend(r.defaults.iter().map(|(k, v)| (k.clone(), v.clone())));
            role_vars_all.extend(r.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let (defaults_all, role_vars_all) = (Arc::new(defaults_all), Arc::new(role_vars_all));
        let all_names: Vec<Value> = all
            .iter()
            .map(|&h| Value::from(self.host_name(h)))
            .collect();
        for batch in batches(play.serial.as_ref(), &all)? {
            if self.cancel.is_cancelled() {
                break;
            }
            for &h in &batch {
                let mut host = self.hosts[h].lock().unwrap();
                host.ended = false;
                host.notified.clear();
            }
            let batch_names: Vec<Value> = batch
                .iter()
                .map(|&h| Value::from(self.host_name(h)))
                .collect();
            let pc = Arc::new(PlayCtx {
                play: play.clone(),
                handlers: Mutex::new(play.handlers.clone()),
                batch: batch.clone(),
                defaults_all: defaults_all.clone(),
                role_vars_all: role_vars_all.clone(),
                play_magic: Arc::new(self.play_magic(&play, &all_names, &batch_names)),
                ended: AtomicBool::new(false),
                stepping: AtomicBool::new(self.opts.step),
            });
            for &h in &batch {
                self.load_vars_files(&pc, h)?
            }
            let none = Arc::new(Vec::new());
            if play.gather_facts && !self.opts.gathering_explicit {
                // Facts are gathered once per host and run, then cached.
                let need: Vec<usize> = batch
                    .iter()
                    .copied()
                    .filter(|&h| self.hosts[h].lock().unwrap().facts.is_empty())
                    .collect();
                if !need.is_empty() {
                    let gather = Arc::new(gather_task(&play));
                    self.run_list(&pc, &[gather], &need, &none).await;
                }
            }
            // (Only in the first batch: the later ones run whole, as in Ansible.)
            if let Some(target) = start_at.take() {
                self.start_at_from(target);
            }
            self.run_list(&pc, &play.pre_tasks, &batch, &none).await;
            self.flush_handlers(&pc, &batch).await;
            for role in &play.roles {
                self.run_list(&pc, &role.tasks, &batch, &none).await;
            }
            self.run_list(&pc, &play.tasks, &batch, &none).await;
            self.flush_handlers(&pc, &batch).await;
            self.run_list(&pc, &play.post_tasks, &batch, &none).await;
            self.flush_handlers(&pc, &batch).await;
            let failed_all = batch.iter().all(|&h| {
                !self.hosts[h].lock().unwrap().active() && !self.hosts[h].lock().unwrap().ended
            });
            if failed_all
                || (play.any_errors_fatal
                    && batch.iter().any(|&h| self.hosts[h].lock().unwrap().failed))
            {
                break;
            }
        }
        Ok(())
    }

    pub fn host_name(&self, h: usize) -> String {
        self.hosts[h].lock().unwrap().name.clone()
    }

    /// group_by: host `h` joins a group (made a child of `parents`) for the rest of the run;
    /// every host's `groups` and this host's `group_names` follow.
    pub fn join_group(&self, h: usize, m: &crate::modules::group_by::GroupMembership) {
        let name = self.host_name(h);
        let (groups, names) = {
            let mut inv = self.inventory.write().unwrap();
            inv.add_host(&name, &m.group);
            for p in &m.parents {
                if p != &m.group {
                    inv.add_child(p, &m.group);
                }
            }
            let names: Vec<Value> = inv
                .group_names(&name)
                .into_iter()
                .filter(|g| g != "ungrouped")
                .map(Value::from)
                .collect();
            (inv.groups_value(), names)
        };
        for (i, host) in self.hosts.iter() {
            let mut host = host.lock().unwrap();
            let magic = Arc::make_mut(&mut host.magic);
            magic.insert("groups".into(), groups.clone());
            if i == h {
                magic.insert("group_names".into(), Value::from(names.clone()));
            }
        }
    }

    fn play_magic(&self, play: &Play, all: &[Value], batch: &[Value]) -> VarMap {
        let mut m = VarMap::new();
        let me = self.me.clone();
        let names = Arc::new(
            self.hosts
                .iter()
                .map(|(_, h)| h.lock().unwrap().name.clone())
                .collect::<Vec<_>>(),
        );
        let resolve = Arc::new(move |name: &str| -> Option<Arc<Context>> {
            let s = me.upgrade()?;
            let h = *s.index.read().unwrap().get(name)?;
            Some(s.hostvars_context(h))
        });
        m.insert(
            "hostvars".into(),
            Value::from_object(Hostvars { names, resolve }),
        );
        m.insert("ansible_play_hosts".into(), Value::from(all.to_vec()));
        m.insert("ansible_play_hosts_all".into(), Value::from(all.to_vec()));
        m.insert("play_hosts".into(), Value::from(batch.to_vec()));
        m.insert("ansible_play_batch".into(), Value::from(batch.to_vec()));
        m.insert("ansible_play_name".into(), Value::from(play.name.as_str()));
        m.insert(
            "playbook_dir".into(),
            Value::from(absolute(&play.dir).display().to_string()),
        );
        // The connection as prov makes it, when the command line or the play chose it (else
        // the host's own `ansible_connection`, or the default below).
        let chosen = match (&self.opts.chroot, &self.opts.connection, &play.connection) {
            (Some(_), _, _) => Some("chroot"),
            (None, Some(c), _) | (None, None, Some(c)) => Some(c.as_str()),
            _ => None,
        };
        if let Some(c) = chosen {
            m.insert("ansible_connection".into(), Value::from(c));
        }
        m.insert("ansible_check_mode".into(), Value::from(self.opts.check));
        m.insert("ansible_diff_mode".into(), Value::from(self.opts.diff));
        m.insert("omit".into(), Value::from(self.omit.as_str()));
        m.insert(
            "ansible_run_tags".into(),
            Value::from(if self.opts.tags.is_empty() {
                vec!["all".to_string()]
            } else {
                self.opts.tags.clone()
            }),
        );
        m.insert(
            "ansible_skip_tags".into(),
            Value::from(self.opts.skip_tags.clone()),
        );
        m.insert(
            "role_names".into(),
            Value::from(
                play.roles
                    .iter()
                    .map(|r| r.info.name.clone())
                    .collect::<Vec<_>>(),
            ),
        );
        m.insert(
            "ansible_version".into(),
            Value::from_pairs([
                ("full", Value::from(env!("CARGO_PKG_VERSION"))),
                ("string", Value::from(env!("CARGO_PKG_VERSION"))),
            ]),
        );
        if let Some(src) = self.opts.inventory_sources.first() {
            let p = absolute(std::path::Path::new(src));
            m.insert(
                "inventory_file".into(),
                Value::from(p.display().to_string()),
            );
            let dir = if p.is_dir() {
                p.clone()
            } else {
                p.parent().map(|d| d.to_path_buf()).unwrap_or_default()
            };
            m.insert(
                "inventory_dir".into(),
                Value::from(dir.display().to_string()),
            );
        }
        m
    }

    /// `hostvars[name]`: a host's inventory vars, facts and host variables.
    fn hostvars_context(&self, h: usize) -> Arc<Context> {
        let host = self.hosts[h].lock().unwrap();
        Context::new(vec![
            Layer::raw_shared("inventory", host.inventory.clone()),
            Layer::fixed("facts", host.facts.clone()),
            Layer::raw_shared("vars_files", host.vars_files.clone()),
            Layer::raw_shared("include_vars", host.included.clone()),
            Layer::fixed("host vars", host.host_vars.clone()),
            Layer::raw("extra vars", self.opts.extra_vars.clone()),
            Layer::fixed("magic", host.magic.clone()),
        ])
    }

    /// The variables of host `h` for a task (Ansible's precedence order, lowest first).
    pub fn context(
        &self,
        pc: &PlayCtx,
        h: usize,
        task: Option<&Task>,
        extra: &[Layer],
    ) -> Arc<Context> {
        let host = self.hosts[h].lock().unwrap();
        let role: Option<&Arc<RoleInfo>> = task.and_then(|t| t.role.as_ref());
        let mut layers = Vec::with_capacity(16 + extra.len());
        layers.push(Layer::fixed(
            "connection default",
            CONNECTION_DEFAULT.clone(),
        ));
        layers.push(Layer::raw_shared("role defaults", pc.defaults_all.clone()));
        if let Some(r) = role {
            layers.push(Layer::raw_shared("role defaults", r.defaults.clone()));
        }
        layers.push(Layer::raw_shared("inventory", host.inventory.clone()));
        layers.push(Layer::fixed("facts", host.facts.clone()));
        layers.push(Layer::raw_shared("play vars", pc.play.vars.clone()));
        layers.push(Layer::raw_shared("vars_files", host.vars_files.clone()));
        layers.push(Layer::raw_shared("role vars", pc.role_vars_all.clone()));
        if let Some(r) = role {
            layers.push(Layer::raw_shared("role vars", r.vars.clone()));
        }
        if let Some(t) = task {
            for v in &t.d.vars {
                layers.push(Layer::raw_shared("task vars", v.clone()));
            }
        }
        layers.push(Layer::raw_shared("include_vars", host.included.clone()));
        layers.push(Layer::fixed("host vars", host.host_vars.clone()));
        layers.extend(extra.iter().cloned());
        layers.push(Layer::raw("extra vars", self.opts.extra_vars.clone()));
        layers.push(Layer::fixed("magic", host.magic.clone()));
        layers.push(Layer::fixed("play magic", pc.play_magic.clone()));
        if let Some(r) = role {
            let mut m = VarMap::new();
            m.insert("role_name".into(), Value::from(r.name.as_str()));
            m.insert("ansible_role_name".into(), Value::from(r.name.as_str()));
            m.insert(
                "role_path".into(),
                Value::from(absolute(&r.path).display().to_string()),
            );
            layers.push(Layer::fixed("role magic", Arc::new(m)));
        }
        match task.and_then(|t| t.d.timeout.map(|secs| (t, secs))) {
            // Ansible's words for an action that outlives its `timeout`.
            Some((t, secs)) => Context::with_deadline(
                layers,
                crate::vars::Deadline {
                    at: std::time::Instant::now() + std::time::Duration::from_secs(secs),
                    message: format!(
                        "The {} action failed to execute in the expected time frame ({secs}) and was terminated",
                        t.module_name().unwrap_or("task")
                    ),
                },
            ),
            None => Context::new(layers),
        }
    }

    fn load_vars_files(&self, pc: &PlayCtx, h: usize) -> Result<()> {
        if pc.play.vars_files.is_empty() {
            return Ok(());
        }
        let mut loaded = VarMap::new();
        for (entry, span) in &pc.play.vars_files {
            let ctx = self.context(pc, h, None, &[]);
            let candidates: Vec<Value> = if crate::template::is_list(entry) {
                entry.try_iter()?.collect()
            } else {
                vec![entry.clone()]
            };
            let mut found = None;
            for c in &candidates {
                let name = crate::template::render_text(&crate::template::to_text(c), &ctx)
                    .map_err(|e| e.at(span.clone()))?;
                let p = pc.play.dir.join(&name);
                if p.is_file() {
                    found = Some(p);
                    break;
                }
            }
            let Some(path) = found else {
                return Err(Error::parse(
                    span.clone(),
                    format!("vars file {} not found", crate::template::py_repr(entry)),
                ));
            };
            loaded.extend(crate::vars::load_var_file(&path)?);
        }
        self.hosts[h].lock().unwrap().vars_files = Arc::new(loaded);
        Ok(())
    }

    fn active(&self, hosts: &[usize]) -> Vec<usize> {
        hosts
            .iter()
            .copied()
            .filter(|&h| self.hosts[h].lock().unwrap().active())
            .collect()
    }
}

/// The implicit "Gathering Facts" task of a play.
fn gather_task(play: &Play) -> Task {
    let args = if play.gather_subset.is_empty() {
        Value::from_pairs(Vec::<(String, Value)>::new())
    } else {
        Value::from_pairs([("gather_subset", Value::from(play.gather_subset.clone()))])
    };
    let mut d: Directives = play.directives.clone();
    d.tags = vec!["always".into()];
    d.when.clear();
    d.check_mode = Some(Value::from(false));
    let mut task = Task::new(
        play.span.clone(),
        Arc::new(play.span.file.as_ref().clone()),
        Action::Module {
            module: "setup",
            args,
        },
        d,
    );
    task.name = Some("Gathering Facts".into());
    task
}

pub fn absolute(p: &std::path::Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// Unused-status helper for callers that only need a failed outcome.
pub fn failed_outcome(host: &str, msg: String) -> HostOutcome {
    let mut o = HostOutcome::new(host, Status::Failed);
    o.msg = Some(msg.clone());
    o.result = Value::from_pairs([("failed", Value::from(true)), ("msg", Value::from(msg))]);
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn tag_selection_follows_ansible() {
        assert!(tags_match(&v(&[]), &v(&[]), &v(&[])));
        assert!(tags_match(&v(&["ssh"]), &v(&["ssh"]), &v(&[])));
        assert!(!tags_match(&v(&["users"]), &v(&["ssh"]), &v(&[])));
        assert!(tags_match(&v(&["always"]), &v(&["ssh"]), &v(&[])));
        assert!(!tags_match(&v(&["never"]), &v(&[]), &v(&[])));
        assert!(tags_match(&v(&["never", "debug"]), &v(&["debug"]), &v(&[])));
        assert!(!tags_match(&v(&["ssh"]), &v(&[]), &v(&["ssh"])));
        assert!(tags_match(&v(&["always"]), &v(&[]), &v(&["all"])));
        assert!(!tags_match(&v(&["always"]), &v(&[]), &v(&["always"])));
        assert!(tags_match(&v(&[]), &v(&["untagged"]), &v(&[])));
        assert!(!tags_match(&v(&["x"]), &v(&["untagged"]), &v(&[])));
        assert!(tags_match(&v(&["x"]), &v(&["tagged"]), &v(&[])));
    }

    #[test]
    fn serial_batches() {
        let hosts: Vec<usize> = (0..5).collect();
        assert_eq!(batches(None, &hosts).unwrap(), vec![hosts.clone()]);
        assert_eq!(
            batches(Some(&Value::from(2)), &hosts).unwrap(),
            vec![vec![0, 1], vec![2, 3], vec![4]]
        );
        assert_eq!(
            batches(Some(&Value::from("40%")), &hosts).unwrap(),
            vec![vec![0, 1], vec![2, 3], vec![4]]
        );
        let list = Value::from(vec![Value::from(1), Value::from(3)]);
        assert_eq!(
            batches(Some(&list), &hosts).unwrap(),
            vec![vec![0], vec![1, 2, 3], vec![4]]
        );
    }
}
