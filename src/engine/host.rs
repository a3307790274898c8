//! Per-host run state: variables that change during the run (facts, set_fact, register,
//! include_vars), failure flags, notified handlers, counters, and the check-mode overlay of
//! predicted file states.

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexSet;

use crate::modules::FileState;
use crate::transport::Transport;
use crate::vars::VarMap;

/// The recap counters of one host.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
    /// Tasks a dry run could not know the result of (a skip marked `unknown until apply`);
    /// counted in `skipped` (or `ok`) as well.
    pub unknown: u32,
}

/// Round trips to one host (reported in JSON output, asserted by tests and benchmarks).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct RoundTrips {
    /// Connections opened (SSH: handshakes and authentications).
    pub connections: u64,
    /// Scripts run (each one round trip).
    pub execs: u64,
    /// SSH channels (or local processes) opened.
    pub channels: u64,
    /// Probe scripts answered by a resident prober (SSH hosts and chroots with perl).
    pub probed: u64,
    /// Time spent opening connections (SSH: TCP, handshake, authentication).
    pub connect_seconds: f64,
    /// Bytes of scripts, probes and input sent to the host, and of output received.
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// One host during a run.
pub struct HostRun {
    pub name: String,
    /// Inventory variables (group and host), merged by precedence; templated on use.
    pub inventory: Arc<VarMap>,
    /// `ansible_facts` and `ansible_*` (final values).
    pub facts: Arc<VarMap>,
    /// set_fact and registered results (final values).
    pub host_vars: Arc<VarMap>,
    /// include_vars results (templated on use).
    pub included: Arc<VarMap>,
    /// vars_files of the current play (templated on use).
    pub vars_files: Arc<VarMap>,
    /// Magic variables of this host (inventory_hostname, group_names, ...).
    pub magic: Arc<VarMap>,
    pub conn: Option<Arc<dyn Transport>>,
    /// Round trips of connections already closed, plus connections opened.
    pub closed_trips: RoundTrips,
    pub failed: bool,
    pub unreachable: bool,
    /// `meta: end_host` or end of play for this host.
    pub ended: bool,
    pub stats: Stats,
    /// Handlers notified and not yet run (indexes into the play's handler list).
    pub notified: IndexSet<usize>,
    /// Reverts armed by lockout-safe tasks, waiting for their confirm ([`super::safe_reconnect`]).
    pub armed: Vec<super::safe_reconnect::Armed>,
    /// Check mode: a lockout-safe task would have armed a revert, so its handlers are flushed
    /// right after it, at the point the apply flushes them.
    pub would_arm: bool,
    /// After a confirmed address change, the name its host key is known under (the old
    /// address), used as OpenSSH's HostKeyAlias for later connections.
    pub key_alias: Option<String>,
    /// In check mode, the states earlier tasks would have produced, by path.
    pub overlay: HashMap<String, FileState>,
    /// Check mode: directories and conffiles packages would create where the host has none.
    pub if_missing: HashMap<String, FileState>,
    /// In check mode, the users and packages earlier tasks would have created.
    pub predicted: crate::modules::Predicted,
    /// Facts a module returned without the `ansible_` prefix (service_facts' `services`):
    /// Ansible also makes them variables of their own name.
    pub plain_facts: IndexSet<String>,
}

impl HostRun {
    pub fn new(name: &str, inventory: VarMap, magic: VarMap) -> HostRun {
        HostRun {
            name: name.to_string(),
            inventory: Arc::new(inventory),
            facts: Arc::new(VarMap::new()),
            host_vars: Arc::new(VarMap::new()),
            included: Arc::new(VarMap::new()),
            vars_files: Arc::new(VarMap::new()),
            magic: Arc::new(magic),
            conn: None,
            closed_trips: RoundTrips::default(),
            failed: false,
            unreachable: false,
            ended: false,
            stats: Stats::default(),
            notified: IndexSet::new(),
            armed: Vec::new(),
            would_arm: false,
            key_alias: None,
            overlay: HashMap::new(),
            if_missing: HashMap::new(),
            predicted: Default::default(),
            plain_facts: IndexSet::new(),
        }
    }

    /// Round trips so far, including the open connection's.
    pub fn round_trips(&self) -> RoundTrips {
        let mut t = self.closed_trips;
        if let Some(c) = &self.conn {
            let n = c.counters();
            t.execs += n.execs();
            t.channels += n.channels.load(std::sync::atomic::Ordering::Relaxed);
            t.probed += n.probed.load(std::sync::atomic::Ordering::Relaxed);
            t.bytes_sent += n.sent.load(std::sync::atomic::Ordering::Relaxed);
            t.bytes_received += n.received.load(std::sync::atomic::Ordering::Relaxed);
        }
        t
    }

    /// Take the connection (to close it), keeping its round trips.
    pub fn take_conn(&mut self) -> Option<Arc<dyn Transport>> {
        self.closed_trips = self.round_trips();
        self.conn.take()
    }

    /// Can this host run more tasks?
    pub fn active(&self) -> bool {
        !self.failed && !self.unreachable && !self.ended
    }

    pub fn set_host_var(&mut self, key: &str, value: minijinja::Value) {
        Arc::make_mut(&mut self.host_vars).insert(key.to_string(), value);
    }

    /// Merge gathered facts (`ansible_facts` keys, unprefixed).
    /// Merge facts (names without `ansible_`); those in `plain` are also variables of their
    /// own name.
    pub fn add_facts(&mut self, facts: &VarMap, plain: &[String]) {
        let mut all: VarMap = match self.facts.get("ansible_facts") {
            Some(v) => crate::vars::value_to_map(v),
            None => VarMap::new(),
        };
        for (k, v) in facts {
            all.insert(k.clone(), v.clone());
        }
        self.plain_facts.extend(plain.iter().cloned());
        let mut vars = crate::modules::facts::to_vars(&all);
        for name in &self.plain_facts {
            if let Some(v) = all.get(name) {
                vars.insert(name.clone(), v.clone());
            }
        }
        self.facts = Arc::new(vars);
    }
}
