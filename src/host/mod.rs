//! The vocabulary of host questions and effects that the engine, the modules and every
//! transport speak, and that uses none of them: [`probe`] (what a task asks before it decides:
//! file states, read-only commands, named [`query`]s) and [`step`] (what it does once it has
//! decided). A module names probes and returns steps; a transport answers the one and executes
//! the other; neither knows the other.
//!
//! Hosts answer only generic questions ([`primitive`]s: stat, read, glob, account lookups,
//! run one program); what a query means is computed here from their answers, round by round
//! ([`resolve`]): dpkg's database ([`dpkg`]), systemd's unit files ([`units`]), the facts
//! ([`gather`]).

pub mod deb;
pub mod dpkg;
pub mod gather;
pub mod gather_more;
pub mod primitive;
pub mod probe;
pub mod query;
pub mod resolve;
pub mod step;
pub mod units;

pub use probe::{
    Answer, CONTENT_LIMIT, CmdOutput, CmdRef, FileKind, FileProbe, FileRef, FileState, Observed,
    Probe, Probes, sha256_hex,
};
pub use step::{Attrs, Command, Stamp, Step, WriteFile};
