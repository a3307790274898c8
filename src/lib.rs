//! prov: run Ansible-format playbooks and roles natively, against local, chroot and SSH targets.
//!
//! The crate is a library with a thin binary (`src/main.rs`). A newcomer finds each concept by
//! its file name: [`cli`] and [`run`] (commands), [`config`] (ansible.cfg), [`inventory`],
//! [`playbook`], [`vars`], [`template`], [`host`] (what tasks ask of and do to a host),
//! [`transport`], [`modules`], [`engine`],
//! [`report`], [`image`] (worker disk images), plus [`yaml`] (YAML as Ansible reads it) and [`error`].

pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod host;
pub mod http;
pub mod image;
pub mod inventory;
pub mod modules;
pub mod pgp;
pub mod playbook;
pub mod report;
pub mod run;
pub mod shlex;
pub mod template;
pub mod transport;
pub mod vars;
pub mod yaml;
