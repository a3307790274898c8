//! prov: run Ansible-format playbooks and roles natively, against local, chroot and SSH targets.
//!
//! The crate is a library with a thin binary (`src/main.rs`). A newcomer finds each concept by
//! its file name: [`cli`] and [`run`] (commands), [`cli_docs`] (completions, man pages),
//! [`agent_cmd`] (`prov agent`),
//! [`config`] (ansible.cfg), [`inventory`],
//! [`playbook`], [`vars`], [`template`], [`host`] (what tasks ask of and do to a host),
//! [`transport`], [`modules`], [`engine`],
//! [`report`], [`drift`] (`prov drift`'s report), [`history`] (`prov history`, `prov rollback`),
//! [`image`] (worker disk images), plus [`yaml`] (YAML as Ansible reads it), [`vault`] (Ansible
//! Vault), [`utc`] (calendar time) and [`error`].

pub(crate) mod agent_cmd;
pub mod cli;
pub mod cli_docs;
pub(crate) mod config;
pub(crate) mod drift;
pub(crate) mod engine;
pub(crate) mod error;
pub(crate) mod history;
pub(crate) mod host;
pub(crate) mod http;
pub mod image;
pub(crate) mod inventory;
pub(crate) mod modules;
pub mod pgp;
pub(crate) mod playbook;
pub(crate) mod pyre;
pub(crate) mod report;
pub mod run;
pub(crate) mod shlex;
pub(crate) mod template;
pub mod transport;
pub mod utc;
pub(crate) mod vars;
pub mod vault;
pub mod yaml;
