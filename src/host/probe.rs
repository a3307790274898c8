//! What a task asks of a host before it decides anything: [`Probe`]s (a file's state, a
//! read-only command, a named [query](super::query), a [primitive](super::primitive)) and their
//! [`Answer`]s, in the same order ([`Observed`]). Every transport answers them (queries as the
//! primitives they need); modules read them.

use sha2::Digest;

use crate::error::{Error, Result};

/// State a planner needs to read from the host.
#[derive(Clone, Debug, PartialEq)]
pub enum Probe {
    File(FileProbe),
    /// A read-only shell snippet; its rc/stdout/stderr are returned.
    Command(String),
    /// A named question, answered as the program it is named after would answer it; computed
    /// from primitives before it reaches a transport ([`super::resolve`]).
    Query(super::query::Query),
    /// A generic question ([`super::primitive`]), answered as a command record.
    Primitive(super::primitive::Primitive),
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
    /// The answer to a file probe asked with [`Probes`].
    pub fn file(&self, r: FileRef) -> Result<&FileState> {
        match self.answers.get(r.0) {
            Some(Answer::File(f)) => Ok(f),
            _ => Err(Error::runtime(
                "internal error: a file probe's answer was read that was never asked",
            )),
        }
    }

    /// The answer to a command or query probe asked with [`Probes`].
    pub fn cmd(&self, r: CmdRef) -> Result<&CmdOutput> {
        match self.answers.get(r.0) {
            Some(Answer::Command(c)) => Ok(c),
            _ => Err(Error::runtime(
                "internal error: a command probe's answer was read that was never asked",
            )),
        }
    }
}

#[cfg(test)]
impl Observed {
    /// Answer `i`, a file's (tests that compare transports answer for answer).
    pub fn file_at(&self, i: usize) -> Result<&FileState> {
        self.file(FileRef(i))
    }
    /// Answer `i`, a command's.
    pub fn cmd_at(&self, i: usize) -> Result<&CmdOutput> {
        self.cmd(CmdRef(i))
    }
}

/// Where the answer to a file probe will be: handed out by [`Probes`], read with
/// [`Observed::file`]. A planner keeps its handles by name, so adding a probe cannot shift
/// which answer another one reads, and a file answer cannot be read as a command's. The
/// default handle is one never asked (reading it is an error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRef(usize);

/// Where the answer to a command or query probe will be ([`Observed::cmd`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmdRef(usize);

impl Default for FileRef {
    fn default() -> FileRef {
        FileRef(usize::MAX)
    }
}

impl Default for CmdRef {
    fn default() -> CmdRef {
        CmdRef(usize::MAX)
    }
}

/// The probes a planner asks for, in order, each with its handle.
#[derive(Debug, Default)]
pub struct Probes(Vec<Probe>);

impl Probes {
    /// Stat, not following a link.
    pub fn stat(&mut self, path: &str) -> FileRef {
        self.push_file(Probe::stat(path))
    }
    pub fn stat_follow(&mut self, path: &str) -> FileRef {
        self.push_file(Probe::stat_follow(path))
    }
    /// Stat (following links) plus content and checksum.
    pub fn read(&mut self, path: &str) -> FileRef {
        self.push_file(Probe::read(path))
    }
    /// A read-only shell snippet.
    pub fn command(&mut self, script: impl Into<String>) -> CmdRef {
        self.0.push(Probe::Command(script.into()));
        CmdRef(self.0.len() - 1)
    }
    /// A generic question ([`super::primitive`]).
    pub fn primitive(&mut self, q: super::primitive::Primitive) -> CmdRef {
        self.0.push(Probe::Primitive(q));
        CmdRef(self.0.len() - 1)
    }
    /// A named question.
    pub fn query(&mut self, q: super::query::Query) -> CmdRef {
        self.0.push(Probe::Query(q));
        CmdRef(self.0.len() - 1)
    }
    fn push_file(&mut self, p: Probe) -> FileRef {
        self.0.push(p);
        FileRef(self.0.len() - 1)
    }
    pub fn into_list(self) -> Vec<Probe> {
        self.0
    }
}

/// GNU stat's format for a file's state, which the prober prints too.
pub const STAT_FORMAT: &str = "%F|%a|%u|%g|%U|%G|%s|%Y|%X|%d|%i";

fn kind_of(text: &str) -> FileKind {
    match text {
        "regular file" | "regular empty file" => FileKind::File,
        "directory" => FileKind::Directory,
        "symbolic link" => FileKind::Link,
        _ => FileKind::Other,
    }
}

/// A [`FileState`] from stat's [`STAT_FORMAT`] fields.
pub fn parse_stat(path: &str, fields: &str) -> Result<FileState> {
    let f: Vec<&str> = fields.split('|').collect();
    if f.len() != 11 {
        return Err(Error::runtime(format!(
            "unexpected stat output for {path}: {fields}"
        )));
    }
    let num = |i: usize| f[i].trim().parse::<u64>().unwrap_or(0);
    Ok(FileState {
        path: path.to_string(),
        exists: true,
        kind: Some(kind_of(f[0])),
        mode: u32::from_str_radix(f[1].trim(), 8).unwrap_or(0),
        uid: num(2) as u32,
        gid: num(3) as u32,
        owner: f[4].to_string(),
        group: f[5].to_string(),
        size: num(6),
        mtime: num(7) as f64,
        atime: num(8) as f64,
        dev: num(9),
        inode: num(10),
        ..Default::default()
    })
}

/// The sha256 of `data`, as [`FileState::sha256`] holds it (lowercase hex).
pub fn sha256_hex(data: &[u8]) -> String {
    format!("{:x}", sha2::Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_read_their_own_answers_only() {
        let mut p = Probes::default();
        let f = p.read("/etc/hostname");
        let c = p.command("true");
        let list = p.into_list();
        assert_eq!(list.len(), 2);
        assert!(matches!(&list[0], Probe::File(fp) if fp.content && fp.path == "/etc/hostname"));
        let obs = Observed {
            answers: vec![
                Answer::File(FileState::missing("/etc/hostname")),
                Answer::Command(CmdOutput::default()),
            ],
        };
        assert_eq!(obs.file(f).unwrap().path, "/etc/hostname");
        assert_eq!(obs.cmd(c).unwrap().rc, 0);
        // A handle that was never asked is an error, not another probe's answer.
        assert!(obs.file(FileRef::default()).is_err());
        assert!(obs.cmd(CmdRef::default()).is_err());
    }
}
