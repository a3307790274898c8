//! What a task asks of a host before it decides anything: [`Probe`]s (a file's state, a
//! read-only command, a named [query](super::query)) and their [`Answer`]s, in the same order
//! ([`Observed`]). Every transport answers them; modules read them.

use sha2::Digest;

use crate::error::{Error, Result};

/// State a planner needs to read from the host.
#[derive(Clone, Debug, PartialEq)]
pub enum Probe {
    File(FileProbe),
    /// A read-only shell snippet; its rc/stdout/stderr are returned.
    Command(String),
    /// A named question, answered as its shell form would be ([`Query::shell`](super::query::Query::shell)).
    Query(super::query::Query),
}

#[derive(Clone, Debug, PartialEq)]
pub struct FileProbe {
    pub path: String,
    /// Stat the link target instead of the link.
    pub follow: bool,
    /// Also read the content of a regular file (up to [`CONTENT_LIMIT`] bytes).
    pub content: bool,
    /// Also compute the sha256 of a regular file.
    pub checksum: bool,
}

/// Files larger than this are compared by checksum and never diffed.
pub const CONTENT_LIMIT: u64 = 1 << 20;

impl Probe {
    pub fn stat(path: &str) -> Probe {
        Probe::File(FileProbe {
            path: path.into(),
            follow: false,
            content: false,
            checksum: false,
        })
    }
    pub fn stat_follow(path: &str) -> Probe {
        Probe::File(FileProbe {
            path: path.into(),
            follow: true,
            content: false,
            checksum: false,
        })
    }
    /// Stat (following links) plus content and checksum: for modules that rewrite a file.
    pub fn read(path: &str) -> Probe {
        Probe::File(FileProbe {
            path: path.into(),
            follow: true,
            content: true,
            checksum: true,
        })
    }
}

/// The kind of a filesystem object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    File,
    Directory,
    Link,
    Other,
}

/// A file's current state on the host.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileState {
    pub path: String,
    pub exists: bool,
    pub kind: Option<FileKind>,
    /// Permission bits including setuid/setgid/sticky (`0o7777` mask).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub owner: String,
    pub group: String,
    pub size: u64,
    pub mtime: f64,
    pub atime: f64,
    pub dev: u64,
    pub inode: u64,
    /// The path is a symlink (whether or not it was followed).
    pub is_link: bool,
    pub link_target: Option<String>,
    pub content: Option<Vec<u8>>,
    pub sha256: Option<String>,
}

impl FileState {
    pub fn missing(path: &str) -> FileState {
        FileState {
            path: path.into(),
            ..Default::default()
        }
    }
    pub fn is_file(&self) -> bool {
        self.exists && self.kind == Some(FileKind::File)
    }
    pub fn is_dir(&self) -> bool {
        self.exists && self.kind == Some(FileKind::Directory)
    }
    /// Content as text (lossy), if it was read.
    pub fn text(&self) -> Option<String> {
        self.content
            .as_ref()
            .map(|c| String::from_utf8_lossy(c).into_owned())
    }
}

/// Output of a command (probe or step).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CmdOutput {
    pub rc: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The answers to a planner's probes, in the same order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub answers: Vec<Answer>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    File(FileState),
    Command(CmdOutput),
}

impl Observed {
    pub fn file(&self, i: usize) -> Result<&FileState> {
        match self.answers.get(i) {
            Some(Answer::File(f)) => Ok(f),
            _ => Err(Error::runtime(format!(
                "internal error: probe {i} is not a file probe"
            ))),
        }
    }
    pub fn cmd(&self, i: usize) -> Result<&CmdOutput> {
        match self.answers.get(i) {
            Some(Answer::Command(c)) => Ok(c),
            _ => Err(Error::runtime(format!(
                "internal error: probe {i} is not a command probe"
            ))),
        }
    }
}

/// The sha256 of `data`, as [`FileState::sha256`] holds it (lowercase hex).
pub fn sha256_hex(data: &[u8]) -> String {
    format!("{:x}", sha2::Sha256::digest(data))
}
