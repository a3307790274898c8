//! The generic questions a host answers on the wire, besides a file's state
//! ([`FileProbe`](super::FileProbe)) and a shell snippet: read a file, list what a glob
//! matches, look up an account, read an environment variable or the clock, a file's bytes
//! as hex, the host's canonical name, the mounts' sizes, run one program (its answer kept by
//! the prober while the files it depends on stay as they were).
//! The resident prober (`src/transport/prober.pl`) answers each with system calls; a host
//! without it answers each with the short shell form below ([`Primitive::shell`]); a unit test
//! (`transport::prober`) runs both on the same files and compares them byte for byte.
//!
//! Everything a named [query](super::query) means (dpkg's database, systemd's unit links,
//! `id -Gn`, the facts) is computed from these answers on the controller, once, in Rust.
//!
//! Every answer is a command record: an exit code and stdout (the formats are on each variant).

use super::probe::STAT_FORMAT;
use crate::shlex::quote;

/// One generic question.
#[derive(Clone, Debug, PartialEq)]
pub enum Primitive {
    /// A regular file's bytes, at most `limit`, after a line holding its version tag
    /// (`size:mtime:inode:ctime`, following links): exit code 0. Exit code 1 when it is not a
    /// readable regular file; 3 and nothing else when its tag is still `unless`. With
    /// `paragraphs`, only those of its blank-line separated paragraphs (a deb822 file's) whose
    /// first line is `FIELD: VALUE` for one of the values, each followed by an empty line.
    Read {
        path: String,
        limit: u64,
        unless: Option<String>,
        paragraphs: Option<Paragraphs>,
    },
    /// The existing paths a pattern matches, sorted bytewise, each as its `lstat` fields (the
    /// probe script's stat format) on a line, the path's length in bytes on the next, then the
    /// path and a newline (a shell keeps no NUL bytes). `*` is the only wildcard (it matches no
    /// `/` and no leading dot).
    Glob(String),
    /// The readable regular files (following links) a pattern matches, as [`Primitive::Glob`]
    /// matches, each as its path's length in bytes on a line, the path and a newline, then its
    /// content's length (at most `limit`), the content and a newline. For small text files
    /// (/sys attributes).
    ReadAll { pattern: String, limit: u64 },
    /// `getent passwd KEY` (a name or a uid): `name:x:uid:gid:gecos:home:shell`, or nothing.
    Passwd(String),
    /// `getent group KEY` (a name or a gid): `name:password:gid:member,member`, or nothing.
    Group(String),
    /// Every group (`getent group`), in the database's order.
    Groups,
    /// The password hash `getent shadow USER` has (root can read it), or nothing.
    Shadow(String),
    /// The prober's own user: `UID NAME` (the uid again when it has no name).
    Me,
    /// An environment variable's value (exit code 1 when it is not set).
    Env(String),
    /// Where these programs are on PATH (`command -v`): a line with the path of each found.
    Which(Vec<String>),
    /// The host's clock: seconds since the epoch.
    Now,
    /// A file's bytes as `od -An -v -tx1` prints them (for files with NUL bytes, which the
    /// shell form's `$(...)` would drop): exit code 1 and nothing when it cannot be read.
    Hex(String),
    /// The environment of the process that answers, as it started, as [`Primitive::Hex`]
    /// prints it: the prober's, or the probe shell's (the one the host's commands start from).
    Environ,
    /// One program run without a shell, found on PATH, with `LC_ALL=C`: its exit code and
    /// stdout.
    Run(Run),
    /// The clock in the host's time zone, as [`CLOCK`] prints it. A resident prober reads its
    /// own clock (the same fields; `%A` in English, as in the C locale) instead of starting
    /// `date`.
    Clock,
    /// The host's canonical name, as [`FQDN`] prints it. A resident prober looks it up itself
    /// as `hostname` does (its kernel host name through getaddrinfo with `AI_CANONNAME`).
    Fqdn,
    /// statvfs(2) of every mount the facts keep, read from the mount table as [`STATFS`]
    /// says; the prober reads the table itself and starts only `stat`.
    Statfs,
}

/// What [`Primitive::Clock`] runs where nothing answers it natively: every field the facts'
/// `date_time` needs.
pub const CLOCK: &[&str] = &["date", "+%Y|%m|%A|%w|%W|%d|%H|%M|%S|%s|%N|%Z|%z"];

/// What [`Primitive::Fqdn`] runs where nothing answers it natively.
pub const FQDN: &[&str] = &["hostname", "-f"];

/// [`Primitive::Statfs`]'s shell form: statvfs(2) of every mount Ansible keeps (a device path
/// or `host:/path`, type not `none`), from the same table Ansible reads (`/etc/mtab`, else
/// `/proc/mounts`). One question, so it goes in round 0 although the mount points are only
/// known from the table: the shell reads the table and hands all mount points to one
/// `stat -f` (octal escapes such as `\040` decoded). A line per mount: f_frsize f_bsize
/// f_blocks f_bavail f_files f_ffree (= f_favail on Linux) and the mount point; `stat`'s exit
/// code. Unlike Ansible there is no timeout per mount.
const STATFS: &str = r#"f=/etc/mtab
[ -e "$f" ] || f=/proc/mounts
set --
while read -r d m t r; do
  [ "$t" = none ] && continue
  case $d in /* | *:/* | \\134*) ;; *) continue ;; esac
  case $m in *\\*) m=$(printf '%s\n' "$m" | sed 's/\\\([0-7][0-7][0-7]\)/\\0\1/g'); m=$(printf '%b_' "$m"); m=${m%_} ;; esac
  set -- "$@" "$m"
done <"$f"
[ $# -eq 0 ] || exec stat -f -c '%S %s %b %a %c %d %n' -- "$@"
"#;

/// Which paragraphs [`Primitive::Read`] keeps: those whose first line is `FIELD: VALUE` for
/// one of `values` (words without white space; others are never matched).
#[derive(Clone, Debug, PartialEq)]
pub struct Paragraphs {
    pub field: String,
    pub values: Vec<String>,
}

impl Paragraphs {
    /// The values that can match, as one space-separated word list with a space at each end.
    fn words(&self) -> String {
        let v: Vec<&str> = self
            .values
            .iter()
            .map(String::as_str)
            .filter(|v| !v.is_empty() && !v.contains(char::is_whitespace))
            .collect();
        format!(" {} ", v.join(" "))
    }
}

/// How [`Primitive::Run`] runs its program.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub argv: Vec<String>,
    /// The file its stdin reads (else `/dev/null`).
    pub stdin: Option<String>,
    /// Stderr joins stdout (`2>&1`); else it is dropped.
    pub merge: bool,
    /// Run only when this is a directory (else exit code 0 and nothing): `systemctl` only
    /// where systemd runs.
    pub when_dir: Option<String>,
    /// What the answer depends on besides the program's own file and the PATH directories:
    /// patterns as [`Primitive::Glob`] takes them. When not empty, a resident prober that
    /// answered the same run before, and finds all of these (lstat and stat: device, inode,
    /// mode, owner, size, mtime, ctime) as they were then, answers as it did then without
    /// running the program; an answer is kept only when none of them changed in the last two
    /// seconds (a change within the same second would not show in the times). For programs
    /// whose answer is a function of files, like the Python facts. The shell form always runs.
    pub memo: Vec<String>,
}

impl Run {
    pub fn new(argv: &[&str]) -> Run {
        Run {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            stdin: None,
            merge: false,
            when_dir: None,
            memo: Vec::new(),
        }
    }
}

/// What [`Primitive::Read`] answered.
#[derive(Clone, Debug, PartialEq)]
pub enum Read {
    Missing,
    Unchanged,
    Data { tag: String, bytes: String },
}

impl Read {
    /// From the command record.
    pub fn parse(rc: i32, stdout: &str) -> Read {
        match rc {
            0 => match stdout.split_once('\n') {
                Some((tag, bytes)) => Read::Data {
                    tag: tag.to_string(),
                    bytes: bytes.to_string(),
                },
                None => Read::Missing,
            },
            3 => Read::Unchanged,
            _ => Read::Missing,
        }
    }

    /// The text of an uncached read's answer, when the file could be read.
    pub fn text(answer: &super::CmdOutput) -> Option<String> {
        match Read::parse(answer.rc, &answer.stdout) {
            Read::Data { bytes, .. } => Some(bytes),
            _ => None,
        }
    }
}

/// A glob's matches from the command record: `(path, lstat fields)`.
pub fn glob_matches(stdout: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = stdout;
    while let Some((fields, tail)) = rest.split_once('\n') {
        let Some((len, tail)) = tail.split_once('\n') else {
            break;
        };
        let Some(path) = len.parse().ok().and_then(|n: usize| tail.get(..n)) else {
            break;
        };
        out.push((path.to_string(), fields.to_string()));
        rest = tail[path.len()..].strip_prefix('\n').unwrap_or("");
    }
    out
}

/// The files [`Primitive::ReadAll`] read: `(path, content)`.
pub fn read_all(stdout: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = stdout;
    let take = |rest: &mut &str| -> Option<String> {
        let (len, tail) = rest.split_once('\n')?;
        let v = tail.get(..len.parse::<usize>().ok()?)?;
        *rest = tail[v.len()..].strip_prefix('\n')?;
        Some(v.to_string())
    };
    while let (Some(path), Some(content)) = (take(&mut rest), take(&mut rest)) {
        out.push((path, content));
    }
    out
}

/// Names of environment variables [`Primitive::Env`] may ask.
fn env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Primitive {
    /// Read the whole of a file (up to `limit` bytes), not knowing its tag.
    pub fn read(path: &str, limit: u64) -> Primitive {
        Primitive::Read {
            path: path.into(),
            limit,
            unless: None,
            paragraphs: None,
        }
    }

    /// The shell form (POSIX sh, run in a subshell whose exit code and stdout are the answer).
    pub fn shell(&self) -> String {
        let stat_format = STAT_FORMAT;
        match self {
            Primitive::Read {
                path,
                limit,
                unless,
                paragraphs,
            } => {
                let body = match paragraphs {
                    None => format!("head -c {limit} -- \"$p\""),
                    Some(k) => format!(
                        "awk -v f={} -v v={} 'BEGIN {{ RS = \"\" }} {{ n = index($0, \"\\n\"); l = n ? substr($0, 1, n - 1) : $0; if (index(l, f \": \") == 1 && index(v, \" \" substr(l, length(f) + 3) \" \")) printf \"%s\\n\\n\", $0 }}' \"$p\"",
                        quote(&k.field),
                        quote(&k.words())
                    ),
                };
                format!(
                    "p={}; [ -f \"$p\" ] && [ -r \"$p\" ] || exit 1\nt=$(stat -L -c '%s:%Y:%i:%Z' -- \"$p\") || exit 1\n[ \"$t\" = {} ] && exit 3\nprintf '%s\\n' \"$t\"; {body}",
                    quote(path),
                    quote(unless.as_deref().unwrap_or("-"))
                )
            }
            Primitive::Glob(pattern) => {
                let pattern: Vec<String> = pattern.split('*').map(quote).collect();
                format!(
                    "for f in {}; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then stat -c '{stat_format}' -- \"$f\" && printf '%d\\n%s\\n' \"${{#f}}\" \"$f\"; fi; done; true",
                    pattern.join("*")
                )
            }
            Primitive::ReadAll { pattern, limit } => {
                let pattern: Vec<String> = pattern.split('*').map(quote).collect();
                format!(
                    "for f in {}; do if [ -f \"$f\" ] && [ -r \"$f\" ]; then c=$(head -c {limit} -- \"$f\"; printf x); c=${{c%x}}; printf '%d\\n%s\\n%d\\n%s\\n' \"${{#f}}\" \"$f\" \"${{#c}}\" \"$c\"; fi; done; true",
                    pattern.join("*")
                )
            }
            Primitive::Passwd(key) => format!("getent passwd {}; true", quote(key)),
            Primitive::Group(key) => format!("getent group {}; true", quote(key)),
            Primitive::Groups => "getent group; true".into(),
            Primitive::Shadow(user) => {
                format!("getent shadow {} | cut -d: -f2; true", quote(user))
            }
            Primitive::Me => {
                "printf '%s %s\\n' \"$(id -u)\" \"$(id -un 2>/dev/null || id -u)\"".into()
            }
            Primitive::Env(name) if env_name(name) => {
                format!("[ -n \"${{{name}+x}}\" ] || exit 1; printf '%s' \"${name}\"")
            }
            Primitive::Env(_) => "exit 1".into(),
            Primitive::Which(names) => format!(
                "for p in {}; do command -v \"$p\"; done; true",
                crate::shlex::join(names)
            ),
            Primitive::Now => "date +%s".into(),
            Primitive::Hex(path) => format!(
                "LC_ALL=C exec od -An -v -tx1 {} </dev/null 2>/dev/null",
                quote(path)
            ),
            // $$ is the probe shell's pid, also in the subshell this runs in.
            Primitive::Environ => {
                "LC_ALL=C exec od -An -v -tx1 /proc/$$/environ </dev/null 2>/dev/null".into()
            }
            Primitive::Clock => Primitive::Run(Run::new(CLOCK)).shell(),
            Primitive::Fqdn => Primitive::Run(Run::new(FQDN)).shell(),
            Primitive::Statfs => Primitive::Run(Run::new(&["sh", "-c", STATFS])).shell(),
            Primitive::Run(r) => {
                let stdin = r.stdin.as_deref().map_or("/dev/null".into(), quote);
                let stderr = if r.merge { "2>&1" } else { "2>/dev/null" };
                let when = r.when_dir.as_deref().map_or(String::new(), |d| {
                    format!("[ -d {} ] || exit 0; ", quote(d))
                });
                format!(
                    "{when}LC_ALL=C exec {} <{stdin} {stderr}",
                    crate::shlex::join(&r.argv)
                )
            }
        }
    }

    /// How the prober is asked: a name and its arguments (no NUL bytes in any).
    pub fn words(&self) -> Vec<String> {
        let mut w: Vec<String> = match self {
            Primitive::Read {
                path,
                limit,
                unless,
                paragraphs,
            } => vec![
                "read".into(),
                path.clone(),
                limit.to_string(),
                unless.clone().unwrap_or_else(|| "-".into()),
                paragraphs
                    .as_ref()
                    .map_or(String::new(), |k| k.field.clone()),
                paragraphs.as_ref().map_or(String::new(), Paragraphs::words),
            ],
            Primitive::Glob(p) => vec!["glob".into(), p.clone()],
            Primitive::ReadAll { pattern, limit } => {
                vec!["readall".into(), pattern.clone(), limit.to_string()]
            }
            Primitive::Passwd(k) => vec!["passwd".into(), k.clone()],
            Primitive::Group(k) => vec!["group".into(), k.clone()],
            Primitive::Groups => vec!["groups".into()],
            Primitive::Shadow(u) => vec!["shadow".into(), u.clone()],
            Primitive::Me => vec!["me".into()],
            Primitive::Env(n) => vec!["env".into(), n.clone()],
            Primitive::Which(names) => {
                let mut w = vec!["which".to_string()];
                w.extend(names.iter().cloned());
                w
            }
            Primitive::Now => vec!["now".into()],
            Primitive::Hex(p) => vec!["hex".into(), p.clone()],
            Primitive::Environ => vec!["environ".into()],
            // The program to run when the prober is not resident comes along.
            Primitive::Clock => ["clock"]
                .iter()
                .chain(CLOCK)
                .map(|w| w.to_string())
                .collect(),
            Primitive::Fqdn => ["fqdn"].iter().chain(FQDN).map(|w| w.to_string()).collect(),
            Primitive::Statfs => vec!["statfs".into()],
            Primitive::Run(r) => {
                let mut w = if r.memo.is_empty() {
                    vec!["run".to_string()]
                } else {
                    let mut w = vec!["runmemo".to_string(), r.memo.len().to_string()];
                    w.extend(r.memo.iter().cloned());
                    w
                };
                w.extend([
                    r.when_dir.clone().unwrap_or_default(),
                    r.stdin.clone().unwrap_or_default(),
                    u8::from(r.merge).to_string(),
                ]);
                w.extend(r.argv.iter().cloned());
                w
            }
        };
        for x in &mut w {
            x.retain(|c| c != '\0');
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_globs_parse() {
        assert_eq!(
            Read::parse(0, "5:1:2:3\nhello"),
            Read::Data {
                tag: "5:1:2:3".into(),
                bytes: "hello".into()
            }
        );
        assert_eq!(Read::parse(3, ""), Read::Unchanged);
        assert_eq!(Read::parse(1, ""), Read::Missing);
        assert_eq!(
            glob_matches("regular file|644\n4\n/a b\ndirectory|755\n4\n/c\nd\n"),
            vec![
                ("/a b".to_string(), "regular file|644".to_string()),
                ("/c\nd".to_string(), "directory|755".to_string())
            ]
        );
        assert!(glob_matches("").is_empty());
        assert_eq!(
            read_all("6\n/a\nb c\n3\nx\ny\n2\n/d\n0\n\n"),
            vec![
                ("/a\nb c".to_string(), "x\ny".to_string()),
                ("/d".to_string(), String::new())
            ]
        );
        assert!(read_all("").is_empty());
    }

    #[test]
    fn hostile_words_are_quoted_or_refused() {
        let s = Primitive::Glob("/etc/x';rm -rf /;'*.wants/a b".into()).shell();
        assert!(
            s.contains(r#"for f in '/etc/x'"'"';rm -rf /;'"'"''*'.wants/a b'; do"#),
            "{s}"
        );
        assert_eq!(Primitive::Env("PATH;reboot".into()).shell(), "exit 1");
        assert_eq!(
            Primitive::Passwd("a\0b".into()).words(),
            vec!["passwd".to_string(), "ab".into()]
        );
    }
}
