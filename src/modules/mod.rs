//! Modules: what a task does, decided once from the host's current state.
//!
//! A module turns a task's (templated) arguments into a [`Planner`] ([`Module::prepare`]). The
//! planner asks for the host state it needs ([`Planner::ask`]: file stats and contents,
//! read-only commands, named queries), keeping a typed handle to each answer ([`FileRef`],
//! [`CmdRef`]: no answer is read by position); the engine reads all of them in one round
//! trip, and [`Planner::plan`] — a pure function of that state — returns a [`Plan`]: whether the task changes anything, the diff,
//! and the [`Step`]s that make the change. `--check` reports the plan; a real run executes its
//! steps. Both use the same plan, so the dry run cannot drift from what apply does, and every
//! module is unit-tested by feeding `plan` a fixture state (pyinfra's data-driven style).

pub mod add_host;
pub mod alternatives;
pub mod apt;
pub mod apt_key;
mod apt_predict;
pub mod apt_repository;
pub mod archive;
pub mod args;
pub mod assert;
pub mod attrs;
pub mod authorized_key;
pub mod bin_path;
pub mod blockinfile;
pub mod command;
pub mod content;
pub mod copy;
pub mod cron;
pub mod deb822_repository;
pub mod debug;
pub mod dpkg_selections;
pub mod facts;
pub mod facts_more;
pub mod fail;
pub mod file;
pub mod find;
pub mod get_url;
pub mod getent;
pub mod git;
pub mod group;
pub mod group_by;
pub mod hostname;
pub mod ini_file;
pub mod iptables;
pub mod keyed_output;
pub mod known_hosts;
pub mod lineinfile;
pub mod locale_gen;
pub mod mode;
pub mod modprobe;
pub mod mount;
pub mod package;
pub mod package_facts;
pub mod pam_limits;
pub mod pamd;
pub mod ping;
pub mod pip;
pub mod pip_req;
pub mod pylines;
pub mod reboot;
pub mod replace;
pub mod service_facts;
pub mod set_fact;
pub mod setup;
pub mod slurp;
pub mod stat;
pub mod sysctl;
pub mod systemd;
pub mod tempfile;
pub mod template;
#[cfg(test)]
pub mod testing;
pub mod timezone;
pub mod ufw;
pub mod unarchive;
pub mod uri;
pub mod user;
pub mod wait_for;

use std::path::PathBuf;
use std::sync::Arc;

use minijinja::Value;

pub use apt_predict::is_apt_config;
pub use args::Args;
// The vocabulary modules speak with the engine and the transports lives in `crate::host`.
pub use crate::host::query;
pub use crate::host::{
    Answer, Attrs, CONTENT_LIMIT, CmdRef, Command, FileKind, FileRef, FileState, Observed, Probe,
    Probes, Stamp, Step, WriteFile,
};

use crate::error::{Error, Result};
use crate::vars::{Context, VarMap};

pub use crate::playbook::catalog::FreeForm;
use crate::playbook::catalog::{Catalog, PREFIXES, Signature};

/// A module: static description plus [`Module::prepare`].
pub trait Module: Send + Sync + 'static {
    /// The canonical short name (`lineinfile`).
    fn name(&self) -> &'static str;
    /// Other names it answers to (FQCNs and aliases such as `systemd_service`).
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }
    /// Accepted options, aliases included. `None` accepts any key (set_fact).
    fn options(&self) -> Option<&'static [&'static str]>;
    fn free_form(&self) -> FreeForm {
        FreeForm::KeyValue
    }
    /// Options that are paths on the target (Ansible's `type='path'`): a leading `~` or
    /// `~user` is expanded there before [`Module::prepare`] sees them.
    fn path_options(&self) -> &'static [&'static str] {
        &[]
    }
    /// Parse arguments and do controller-side work (render a template, read a src file).
    fn prepare(&self, args: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>>;
}

/// Decides a task's change from the state its probes read.
pub trait Planner: Send {
    /// Ask for the host state this task needs (read in one round trip), keeping the handles
    /// that [`Planner::plan`] reads the answers with.
    fn ask(&mut self, _probes: &mut Probes) {}
    /// Decide. Must not touch the host: all effects go into [`Plan::steps`].
    fn plan(self: Box<Self>, observed: &Observed) -> Result<Plan>;
}

/// What the engine offers a module at prepare time.
pub struct ModuleEnv {
    /// The task's variables (facts included) for this host and loop item.
    pub vars: Arc<Context>,
    pub check_mode: bool,
    /// Directories to search for a relative `src` (role's files/templates, playbook dir).
    pub role_path: Option<PathBuf>,
    pub playbook_dir: PathBuf,
    /// The target is a chroot (facts' `is_chroot`): no services to start there.
    pub is_chroot: bool,
    /// The connection is `chroot` (facts then describe the root, not the build host).
    pub chroot_connection: bool,
    /// Environment variables for commands (`environment:`).
    pub environment: Vec<(String, String)>,
    /// `-v` count (debug's `verbosity`).
    pub verbosity: u8,
    /// Controller-side downloads (cached per run).
    pub http: std::sync::Arc<crate::http::Client>,
    /// In check mode: what earlier tasks would have done.
    pub predicted: Predicted,
}

impl ModuleEnv {
    /// Search order for a controller-side file of kind `subdir` ("files"/"templates").
    pub fn search_dirs(&self, subdir: &str) -> Vec<PathBuf> {
        crate::template::lookup::search_paths(
            self.role_path.as_deref().and_then(|p| p.to_str()),
            self.playbook_dir.to_str(),
            subdir,
        )
    }

    /// Find a controller-side `src` file.
    pub fn find_src(&self, name: &str, subdir: &str) -> Result<PathBuf> {
        let dirs = self.search_dirs(subdir);
        crate::template::lookup::find_file(name, &dirs).ok_or_else(|| {
            let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            Error::runtime(format!(
                "could not find src '{name}' (searched: {})",
                searched.join(", ")
            ))
        })
    }

    /// A fact (`ansible_<name>` without the prefix).
    pub fn fact(&self, name: &str) -> Option<Value> {
        self.vars.get(&format!("ansible_{name}")).ok().flatten()
    }
}

/// A before/after pair for `--diff`.
#[derive(Clone, Debug, PartialEq)]
pub struct Diff {
    pub before_header: String,
    pub after_header: String,
    pub before: String,
    pub after: String,
}

impl Diff {
    pub fn new(path: &str, before: impl Into<String>, after: impl Into<String>) -> Diff {
        Diff {
            before_header: format!("{path} (before)"),
            after_header: format!("{path} (after)"),
            before: before.into(),
            after: after.into(),
        }
    }
}

/// What a task will do on one host.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub changed: bool,
    pub diffs: Vec<Diff>,
    pub steps: Vec<Step>,
    /// Fields of the task result (`msg`, `path`, `stat`, `content` ...).
    pub result: VarMap,
    /// The task fails with this message (nothing is executed).
    pub failed: Option<String>,
    /// The task is skipped with this reason (nothing is executed).
    pub skipped: Option<String>,
    /// The skip is a dry run's that cannot know the result before the task is applied (a
    /// module without check mode, a unit that earlier packages of the dry run install): the
    /// output says `unknown until apply` and the recap counts it.
    pub unknown: bool,
    /// Facts to set on the host (set_fact, setup).
    pub facts: Option<VarMap>,
    /// Keys of `result.ansible_facts` that are also variables of their own name, as the
    /// unprefixed facts of Ansible's modules are (`getent_passwd`, `services`, `packages`).
    pub plain_facts: Vec<String>,
    /// A group of the run's inventory to put the host in (group_by).
    pub group: Option<group_by::GroupMembership>,
    /// A host to add to the run's inventory (add_host).
    pub add_host: Option<add_host::NewHost>,
    /// Reboot the host and wait for it (reboot); the engine does it after the plan.
    pub reboot: Option<reboot::RebootSpec>,
    /// For modules whose effect is a command (command/shell): in check mode they are
    /// skipped rather than predicted, per Ansible's rules.
    pub runs_command: bool,
    /// Effects beyond files that later tasks of a dry run should assume (see [`Predicted`]).
    pub predictions: Vec<Prediction>,
}

/// A non-file effect a plan would have, recorded in check mode for later tasks.
#[derive(Clone, Debug, PartialEq)]
pub enum Prediction {
    /// A user account would be created, with this home directory.
    User { name: String, home: String },
    /// A group would be created.
    Group(String),
    /// These packages would be installed.
    Packages(Vec<String>),
    /// The files those packages would put on the host (read from their `.deb`s).
    Files(Vec<FileState>),
    /// Their directories and conffiles: dpkg leaves an existing one as it is.
    FilesIfMissing(Vec<FileState>),
    /// The systemd units those packages would install, with the state they would be left in.
    Units(Vec<(String, UnitGuess)>),
}

/// The unit-file state a package would leave its unit in (as `systemctl is-enabled` says it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitGuess {
    /// The maintainer script enables it.
    Enabled,
    Disabled,
    /// No `[Install]` section.
    Static,
}

/// What earlier tasks of a dry run would have done (empty outside check mode): files they
/// would have written, users and groups they would have created, packages they would have installed.
#[derive(Clone, Debug, Default)]
pub struct Predicted {
    pub paths: Vec<String>,
    pub users: std::collections::HashMap<String, String>,
    pub groups: std::collections::BTreeSet<String>,
    pub packages: Vec<String>,
    /// Units the packages would install (`crio.service`).
    pub units: std::collections::HashMap<String, UnitGuess>,
    /// Apt sources and keyrings earlier tasks would write, with their content.
    pub apt_files: Vec<(String, Vec<u8>)>,
}

impl Predicted {
    pub fn record(&mut self, p: &Prediction) {
        match p {
            Prediction::User { name, home } => {
                self.users.insert(name.clone(), home.clone());
            }
            Prediction::Group(name) => {
                self.groups.insert(name.clone());
            }
            Prediction::Packages(names) => self.packages.extend(names.iter().cloned()),
            Prediction::Units(units) => self.units.extend(units.iter().cloned()),
            // Files go to the engine's overlay of file states.
            Prediction::Files(_) | Prediction::FilesIfMissing(_) => {}
        }
    }
}

impl Plan {
    pub fn ok() -> Plan {
        Plan::default()
    }
    pub fn fail(msg: impl Into<String>) -> Plan {
        Plan {
            failed: Some(msg.into()),
            ..Default::default()
        }
    }
    pub fn skip(msg: impl Into<String>) -> Plan {
        Plan {
            skipped: Some(msg.into()),
            ..Default::default()
        }
    }
    /// Skipped in check mode because the result cannot be known before applying ([`Plan::unknown`]).
    pub fn unknown(msg: impl Into<String>) -> Plan {
        Plan {
            unknown: true,
            ..Plan::skip(msg)
        }
    }
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Plan {
        self.result.insert(key.to_string(), value.into());
        self
    }
    /// Add a change: it marks the plan changed.
    pub fn step(&mut self, step: Step) {
        self.changed = true;
        self.steps.push(step);
    }
}

/// A planner for modules that decide without reading the host.
pub struct Fixed(pub Plan);

impl Planner for Fixed {
    fn plan(self: Box<Self>, _observed: &Observed) -> Result<Plan> {
        Ok(self.0)
    }
}

static MODULES: &[&dyn Module] = &[
    &add_host::AddHost,
    &alternatives::Alternatives,
    &apt::Apt,
    &package::Package,
    &package_facts::PackageFacts,
    &apt_key::AptKey,
    &apt_repository::AptRepository,
    &assert::Assert,
    &authorized_key::AuthorizedKey,
    &deb822_repository::Deb822Repository,
    &dpkg_selections::DpkgSelections,
    &get_url::GetUrl,
    &getent::Getent,
    &git::Git,
    &group::Group,
    &group_by::GroupBy,
    &hostname::Hostname,
    &ini_file::IniFile,
    &iptables::Iptables,
    &known_hosts::KnownHosts,
    &modprobe::Modprobe,
    &pam_limits::PamLimits,
    &pamd::Pamd,
    &reboot::Reboot,
    &mount::Mount,
    &sysctl::Sysctl,
    &uri::Uri,
    &user::User,
    &blockinfile::BlockInFile,
    &command::CommandModule,
    &command::ShellModule,
    &copy::Copy,
    &cron::Cron,
    &debug::Debug,
    &fail::Fail,
    &file::File,
    &find::Find,
    &lineinfile::LineInFile,
    &locale_gen::LocaleGen,
    &ping::Ping,
    &replace::Replace,
    &service_facts::ServiceFacts,
    &set_fact::SetFact,
    &setup::Setup,
    &slurp::Slurp,
    &stat::Stat,
    &systemd::Systemd,
    &systemd::Service,
    &template::Template,
    &tempfile::Tempfile,
    &timezone::Timezone,
    &unarchive::Unarchive,
    &archive::Archive,
    &wait_for::WaitFor,
    &pip::Pip,
    &ufw::Ufw,
];

/// Find a module by short name, FQCN or alias.
pub fn lookup(name: &str) -> Option<&'static dyn Module> {
    let short = PREFIXES
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .unwrap_or(name);
    MODULES
        .iter()
        .copied()
        .find(|m| m.name() == short || m.aliases().contains(&short) || m.aliases().contains(&name))
}

/// Every module name we answer to (for suggestions).
pub fn all_names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = Vec::new();
    for m in MODULES {
        v.push(m.name());
        v.extend(m.aliases().iter().copied());
    }
    v
}

/// The modules as the parser sees them ([`crate::playbook::catalog`]).
pub struct Registry;

/// The one catalog of this build's modules.
pub static CATALOG: Registry = Registry;

impl Catalog for Registry {
    fn module(&self, name: &str) -> Option<Signature> {
        lookup(name).map(|m| Signature {
            name: m.name(),
            options: m.options(),
            free_form: m.free_form(),
        })
    }
    fn names(&self) -> Vec<&'static str> {
        all_names()
    }
}
