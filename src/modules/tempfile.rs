//! `tempfile` (ansible.builtin.tempfile): create a file (mode 0600) or directory (0700) with a
//! new random name, `PREFIX` + 8 characters of `[a-z0-9_]` + `SUFFIX`, in `path` or the host's
//! temporary directory (Python's `tempfile.gettempdir()`: `$TMPDIR`, `$TEMP`, `$TMP`, `/tmp`,
//! `/var/tmp`, `/usr/tmp`, the first that is a writable directory, prov's own scratch directory
//! excepted). Always changed; returns
//! `path` and the new file's `uid`, `gid`, `owner`, `group`, `mode`, `state` and `size` as
//! Ansible's `add_path_info` does. Ansible's module does not support check mode, so there the
//! task is skipped with Ansible's message.
//!
//! The file is written atomically (an empty file renamed into place). A new directory's size
//! is the filesystem's: taken from its type (`stat -f`): tmpfs 40, xfs 6, btrfs 0, otherwise
//! its block size (ext4's 4096).

use minijinja::Value;

use super::{Args, Attrs, CmdRef, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step};
use super::{Fixed, WriteFile};
use crate::error::{Error, Result};
use crate::shlex::quote;

pub struct Tempfile;

/// The characters of Python's `tempfile._RandomNameSequence`.
const NAME_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789_";

impl Module for Tempfile {
    fn name(&self) -> &'static str {
        "tempfile"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&["state", "path", "prefix", "suffix"])
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let directory = a
            .choice(&["state"], &["file", "directory"], Some("file"))?
            .unwrap_or_default()
            == "directory";
        let prefix = a.str(&["prefix"])?.unwrap_or_else(|| "ansible.".into());
        let suffix = a.str(&["suffix"])?.unwrap_or_default();
        for (what, v) in [("prefix", &prefix), ("suffix", &suffix)] {
            if v.contains('/') {
                return Err(Error::runtime(format!(
                    "tempfile: {what} must be a valid file name component, got '{v}'"
                )));
            }
            if v.contains('\0') || v.len() > 200 {
                return Err(Error::runtime(format!(
                    "tempfile: {what} must be a file name component of at most 200 bytes"
                )));
            }
        }
        let path = a.str(&["path"])?;
        if let Some(p) = &path
            && (p.contains('\0') || !(p.starts_with('/') || p == "~" || p.starts_with("~/")))
        {
            return Err(Error::runtime(format!(
                "tempfile: path must be absolute (or start with ~/), got '{p}'"
            )));
        }
        if env.check_mode {
            return Ok(Box::new(Fixed(Plan::unknown(
                "remote module (tempfile) does not support check mode",
            ))));
        }
        let name = random_name()?;
        Ok(Box::new(TempPlan {
            out_at: Default::default(),
            path,
            base: format!("{prefix}{name}{suffix}"),
            directory,
        }))
    }
}

/// Eight characters of [`NAME_CHARS`] from /dev/urandom (uniform: bytes beyond the last whole
/// multiple of 37 are drawn again).
fn random_name() -> Result<String> {
    use std::io::Read;
    let chars: Vec<char> = NAME_CHARS.chars().collect();
    let limit = 256 - 256 % chars.len();
    let mut urandom = std::fs::File::open("/dev/urandom")
        .map_err(|e| Error::runtime(format!("tempfile: cannot read /dev/urandom: {e}")))?;
    let mut name = String::new();
    let mut buf = [0u8; 32];
    while name.len() < 8 {
        urandom
            .read_exact(&mut buf)
            .map_err(|e| Error::runtime(format!("tempfile: cannot read /dev/urandom: {e}")))?;
        for &b in buf.iter().filter(|&&b| (b as usize) < limit) {
            if name.len() < 8 {
                name.push(chars[b as usize % chars.len()]);
            }
        }
    }
    Ok(name)
}

struct TempPlan {
    out_at: CmdRef,
    /// The directory asked for, if any.
    path: Option<String>,
    /// The new entry's name.
    base: String,
    directory: bool,
}

/// Python's `os.path.normpath` of an absolute path.
fn normpath(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

/// What the probe found: `key=value` lines.
fn field<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
}

impl TempPlan {
    fn script(&self) -> String {
        let pick = match &self.path {
            Some(p) if p == "~" => "d=$HOME".to_string(),
            Some(p) if p.starts_with("~/") => format!("d=$HOME/{}", quote(&p[2..])),
            Some(p) => format!("d={}", quote(p)),
            // prov's own scratch directory (the chroot transport's `/run/prov`, which its
            // prober gets as TMPDIR) is not the host's.
            None => "d=\nfor c in \"${TMPDIR:-}\" \"${TEMP:-}\" \"${TMP:-}\" /tmp /var/tmp /usr/tmp; do case \"$c\" in /run/prov|/run/prov/*|\"${PROV_TMP:-/run/prov}\") continue ;; esac; if [ -n \"$c\" ] && [ -d \"$c\" ] && [ -w \"$c\" ]; then d=$c; break; fi; done\n[ -n \"$d\" ] || d=$(pwd)".to_string(),
        };
        format!(
            "{pick}\nprintf 'dir=%s\\n' \"$d\"\nif [ -d \"$d\" ]; then printf 'kind=dir\\n'; elif [ -e \"$d\" ]; then printf 'kind=other\\n'; else printf 'kind=missing\\n'; fi\nprintf 'fs=%s\\n' \"$(stat -f -c '%T %S' -- \"$d\" 2>/dev/null)\"\nprintf 'id=%s %s %s %s\\n' \"$(id -u)\" \"$(id -g)\" \"$(id -un)\" \"$(id -gn)\""
        )
    }
}

/// The size of a new empty directory on a filesystem of this `stat -f -c '%T %S'`.
fn empty_dir_size(fs: &str) -> i64 {
    let (kind, block) = fs.split_once(' ').unwrap_or((fs, ""));
    match kind {
        "tmpfs" => 40,
        "xfs" => 6,
        "btrfs" => 0,
        _ => block.trim().parse().unwrap_or(4096),
    }
}

impl Planner for TempPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.out_at = p.command(self.script());
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let out = &obs.cmd(self.out_at)?.stdout;
        let garbled = || Error::runtime("tempfile: unexpected answer from the host");
        let dir = field(out, "dir").ok_or_else(garbled)?;
        let path = normpath(&format!("{dir}/{}", self.base));
        match field(out, "kind") {
            Some("dir") => {}
            Some("other") => {
                return Ok(Plan::fail(format!("[Errno 20] Not a directory: '{path}'")));
            }
            _ => {
                return Ok(Plan::fail(format!(
                    "[Errno 2] No such file or directory: '{path}'"
                )));
            }
        }
        let id: Vec<&str> = field(out, "id").ok_or_else(garbled)?.split(' ').collect();
        let [uid, gid, owner, group] = id[..] else {
            return Err(garbled());
        };
        let num = |s: &str| s.parse::<u64>().map_err(|_| garbled());
        let (mode, state, size) = if self.directory {
            (
                0o700,
                "directory",
                empty_dir_size(field(out, "fs").unwrap_or("")),
            )
        } else {
            (0o600, "file", 0)
        };
        let mut plan = Plan::ok()
            .with("path", path.as_str())
            .with("uid", num(uid)?)
            .with("gid", num(gid)?)
            .with("owner", owner)
            .with("group", group)
            .with("mode", super::mode::octal(mode))
            .with("state", state)
            .with("size", Value::from(size));
        let attrs = Attrs {
            mode: Some(mode),
            ..Default::default()
        };
        plan.step(if self.directory {
            Step::MakeDir { path, attrs }
        } else {
            Step::Write(WriteFile {
                path,
                attrs,
                ..Default::default()
            })
        });
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{args, cmd, plan_answers};

    const HOST: &str = "dir=/tmp/\nkind=dir\nfs=ext2/ext3 4096\nid=1000 1000 alice staff\n";

    fn run(pairs: &[(&str, Value)], out: &str) -> Plan {
        plan_answers(&Tempfile, args("tempfile", pairs), vec![cmd(0, out)])
    }

    #[test]
    fn creates_a_private_file_with_a_random_name() {
        let p = run(&[], HOST);
        assert!(p.changed);
        let path = p.result["path"].to_string();
        let name = path.strip_prefix("/tmp/ansible.").unwrap();
        assert_eq!(name.len(), 8);
        assert!(name.chars().all(|c| NAME_CHARS.contains(c)), "{path}");
        assert_eq!(p.result["mode"], Value::from("0600"));
        assert_eq!(p.result["owner"], Value::from("alice"));
        assert_eq!(p.result["gid"], Value::from(1000));
        assert_eq!(p.result["size"], Value::from(0));
        assert!(
            matches!(&p.steps[..], [Step::Write(w)] if w.path == path && w.content.is_empty() && w.attrs.mode == Some(0o600))
        );
        // Two runs, two names.
        assert_ne!(run(&[], HOST).result["path"], p.result["path"]);
    }

    #[test]
    fn directories_with_prefix_and_suffix() {
        let p = run(
            &[
                ("state", "directory".into()),
                ("prefix", "x-".into()),
                ("suffix", ".d".into()),
            ],
            &HOST.replace("ext2/ext3 4096", "tmpfs 4096"),
        );
        let path = p.result["path"].to_string();
        assert!(
            path.starts_with("/tmp/x-") && path.ends_with(".d"),
            "{path}"
        );
        assert_eq!(p.result["state"], Value::from("directory"));
        assert_eq!(p.result["size"], Value::from(40));
        assert!(matches!(&p.steps[..], [Step::MakeDir { attrs, .. }] if attrs.mode == Some(0o700)));
    }

    #[test]
    fn a_missing_directory_fails_as_python_does() {
        let p = run(
            &[("path", "/nope".into())],
            "dir=/nope\nkind=missing\nfs=\nid=0 0 root root\n",
        );
        let msg = p.failed.unwrap();
        assert!(
            msg.starts_with("[Errno 2] No such file or directory: '/nope/ansible."),
            "{msg}"
        );
        assert!(p.steps.is_empty());
    }

    #[test]
    fn check_mode_skips_and_bad_names_fail() {
        let mut env = crate::modules::testing::env();
        env.check_mode = true;
        let p = crate::modules::testing::plan_answers_env(
            &Tempfile,
            args("tempfile", &[]),
            vec![],
            &env,
        );
        assert_eq!(
            p.skipped.as_deref(),
            Some("remote module (tempfile) does not support check mode")
        );
        let env = crate::modules::testing::env();
        for bad in [
            vec![("prefix", Value::from("a/b"))],
            vec![("suffix", Value::from("x/"))],
            vec![("path", Value::from("relative"))],
            vec![("state", Value::from("link"))],
            vec![("prefix", Value::from("x".repeat(1000)))],
        ] {
            assert!(Tempfile.prepare(args("tempfile", &bad), &env).is_err());
        }
        // A garbled answer is an error.
        let mut planner = Tempfile.prepare(args("tempfile", &[]), &env).unwrap();
        let mut probes = Probes::default();
        planner.ask(&mut probes);
        let obs = Observed {
            answers: vec![cmd(0, "dir=/tmp\nkind=dir\nid=x\n")],
        };
        assert!(planner.plan(&obs).is_err());
    }
}
