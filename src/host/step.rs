//! What a task does to a host once it has decided: [`Step`]s, executed in order by a
//! transport (atomic writes, directories, links, attributes, time stamps, commands).

/// Attributes to give a file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attrs {
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

/// A command to run on the host.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Command {
    /// Run without a shell (argv[0] looked up on PATH).
    pub argv: Option<Vec<String>>,
    /// Run with `/bin/sh -c` (or `executable`).
    pub shell: Option<String>,
    pub executable: Option<String>,
    pub stdin: Option<Vec<u8>>,
    pub chdir: Option<String>,
    pub env: Vec<(String, String)>,
    /// An exit code that means "succeeded and changed nothing" (apt's cache refresh when the
    /// lists did not move): a plan whose steps all end so reports no change.
    pub unchanged_rc: Option<i32>,
    /// Its stdout is `key=<JSON value>` lines that become fields of the task's result (git's
    /// `after`), instead of the `rc`/`stdout`/`stderr` fields a command reports.
    pub result_lines: bool,
}

/// One effect on the host. Steps run in order; the first failure stops the task.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Write a regular file atomically (temp file in the same directory, fsync, rename),
    /// keeping the existing owner and mode unless `attrs` say otherwise; `validate` (with
    /// `%s` for the temp file) must pass before the rename.
    Write(WriteFile),
    /// Create a directory and missing parents.
    MakeDir { path: String, attrs: Attrs },
    /// Remove a path (recursively).
    Remove { path: String },
    /// Create or replace a symbolic (or hard) link.
    Link {
        src: String,
        path: String,
        hard: bool,
    },
    /// Change mode/owner/group (recursively for directories when asked).
    SetAttrs {
        path: String,
        attrs: Attrs,
        recurse: bool,
        follow: bool,
    },
    /// Set timestamps (`touch`), creating the file if missing.
    Touch {
        path: String,
        mtime: Stamp,
        atime: Stamp,
    },
    /// Run a command; its rc/stdout/stderr go into the task result.
    Run { cmd: Command, ok_rcs: Vec<i32> },
}

/// A timestamp to set with [`Step::Touch`].
#[derive(Clone, Debug, PartialEq)]
pub enum Stamp {
    /// Leave it as it is.
    Keep,
    Now,
    /// `[[CC]YY]MMDDhhmm[.ss]`, as `touch -t` takes it (Ansible's default format).
    At(String),
}

/// The details of [`Step::Write`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WriteFile {
    pub path: String,
    pub content: Vec<u8>,
    /// Copy this file on the host instead of sending `content` (copy with remote_src).
    pub source: Option<String>,
    pub attrs: Attrs,
    pub validate: Option<String>,
    pub backup: bool,
    /// If `path` is a symlink, write its target instead of replacing the link.
    pub follow: bool,
    /// Create missing parent directories first.
    pub make_parents: bool,
}
