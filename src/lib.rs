//! prov: run Ansible-format playbooks and roles natively, against local, chroot and SSH targets.
//!
//! The crate is a library with a thin binary (`src/main.rs`). A newcomer finds each concept by
//! its file name: [`inventory`], [`playbook`], [`vars`], [`template`], [`transport`], [`facts`],
//! [`modules`], [`engine`], [`report`].

pub mod error;
pub mod template;
pub mod vars;
pub mod yaml;
pub mod inventory;
pub mod shlex;
pub mod facts;
pub mod modules;
pub mod transport;
pub mod playbook;
