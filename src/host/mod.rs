//! The vocabulary of host questions and effects that the engine, the modules and every
//! transport speak, and that uses none of them: [`probe`] (what a task asks before it decides:
//! file states, read-only commands, named [`query`]s, the [`facts_script`]) and [`step`] (what
//! it does once it has decided). A module names probes and returns steps; a transport answers
//! the one and executes the other; neither knows the other.

pub mod facts_script;
pub mod probe;
pub mod query;
pub mod step;

pub use probe::{
    Answer, CONTENT_LIMIT, CmdOutput, CmdRef, FileKind, FileProbe, FileRef, FileState, Observed,
    Probe, Probes, sha256_hex,
};
pub use step::{Attrs, Command, Stamp, Step, WriteFile};
