//! `git` (ansible.builtin.git): a checkout of a repository at a version, with git on the
//! target.
//!
//! Ansible's decisions, from one read-only probe script run on the host: whether `dest` holds
//! a repository (`.git/config`, or a `.git` file naming its git dir), its `HEAD`
//! (`rev-parse`), tracked local modifications (`status --porcelain` without `??` lines), the
//! remote's URL, the branch `HEAD` follows, and what `git ls-remote` says of the remote (is
//! `version` a branch, a tag; the remote head: `ls-remote -h HEAD` for a clone,
//! `refs/heads/<branch>` for an update, the dereferenced `^{}` of an annotated tag; a SHA is
//! taken as it is). Check mode reports exactly what Ansible's reports from that: a clone
//! changes (`after` the remote head), an update changes when `HEAD` differs from the remote
//! head or the remote's URL changes, and local modifications fail without `force`. A real run
//! does Ansible's commands in one script (clone or reset/set-url/fetch, then the checkout of
//! `version`, then submodules) and reports `after` from `rev-parse HEAD`, unchanged when
//! nothing moved. `archive`, `separate_git_dir` and `verify_commit` are refused. The repo URL
//! (it may hold credentials) is never printed by prov.

use super::{Args, CmdRef, Module, ModuleEnv, Observed, Plan, Planner, Probes};
use crate::error::{Error, Result};
use crate::shlex::quote;

pub struct Git;

/// The step's exit code for "ran, and nothing changed".
pub const UNCHANGED_RC: i32 = 97;

/// The task's options, checked.
#[derive(Clone, Debug, Default)]
struct Spec {
    repo: String,
    dest: Option<String>,
    version: String,
    remote: String,
    refspec: Option<String>,
    reference: Option<String>,
    force: bool,
    depth: Option<i64>,
    clone: bool,
    update: bool,
    bare: bool,
    recursive: bool,
    single_branch: bool,
    track_submodules: bool,
    umask: Option<u32>,
    executable: Option<String>,
    /// `GIT_SSH_COMMAND` as Ansible's `set_git_ssh_env` builds it.
    ssh_command: String,
    check: bool,
}

impl Module for Git {
    fn name(&self) -> &'static str {
        "git"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "repo",
            "name",
            "dest",
            "version",
            "remote",
            "refspec",
            "reference",
            "force",
            "depth",
            "clone",
            "update",
            "verify_commit",
            "gpg_allowlist",
            "gpg_whitelist",
            "accept_hostkey",
            "accept_newhostkey",
            "key_file",
            "ssh_opts",
            "executable",
            "bare",
            "recursive",
            "single_branch",
            "track_submodules",
            "umask",
            "archive",
            "archive_prefix",
            "separate_git_dir",
        ])
    }
    fn path_options(&self) -> &'static [&'static str] {
        &["dest", "key_file", "executable", "repo", "name"]
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let spec = spec(&a, env)?;
        Ok(Box::new(GitPlan {
            spec,
            probe_at: CmdRef::default(),
        }))
    }
}

fn refuse(what: &str) -> Error {
    Error::runtime(format!("git: {what} is not supported by prov's git module"))
}

fn spec(a: &Args, env: &ModuleEnv) -> Result<Spec> {
    let err = |m: &str| Error::runtime(m.to_string());
    if a.bool(&["verify_commit"], false)? {
        return Err(refuse(
            "verify_commit (GPG verification of the checked-out commit or tag)",
        ));
    }
    if a.has("archive") || a.has("archive_prefix") {
        return Err(refuse("archive"));
    }
    if a.has("separate_git_dir") {
        return Err(refuse("separate_git_dir"));
    }
    let accept_hostkey = a.bool(&["accept_hostkey"], false)?;
    let accept_newhostkey = a.bool(&["accept_newhostkey"], false)?;
    if accept_hostkey && accept_newhostkey {
        return Err(err(
            "parameters are mutually exclusive: accept_hostkey|accept_newhostkey",
        ));
    }
    let mut repo = a.req_str(&["repo", "name"])?;
    if repo.starts_with('/') {
        // Ansible forces the file protocol on a path (depth needs it).
        repo = format!("file://{repo}");
    }
    let clone = a.bool(&["clone"], true)?;
    let dest = a
        .str(&["dest"])?
        .filter(|d| !d.is_empty())
        .map(|d| abspath(&d));
    if dest.is_none() && clone {
        return Err(err(
            "the destination directory must be specified unless clone=no",
        ));
    }
    let umask = match a.get(&["umask"]) {
        None => None,
        Some(v) => {
            let Some(s) = v.as_str() else {
                return Err(err("umask must be defined as a quoted octal integer"));
            };
            Some(
                u32::from_str_radix(s.trim(), 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| err("umask must be an octal integer"))?,
            )
        }
    };
    let version = a.str(&["version"])?.unwrap_or_else(|| "HEAD".into());
    let remote = a.str(&["remote"])?.unwrap_or_else(|| "origin".into());
    for (name, v) in [("version", &version), ("remote", &remote)] {
        if v.is_empty() || v.starts_with('-') || v.contains(['\n', '\0']) {
            return Err(Error::runtime(format!("git: invalid {name} {v:?}")));
        }
    }
    let depth = a.int(&["depth"])?;
    if depth.is_some_and(|d| d < 0) {
        return Err(err("git: depth must be a positive number"));
    }
    // Ansible's main() and set_git_ssh_env (git >= 2.3 takes GIT_SSH_COMMAND).
    let mut ssh_opts = a.str(&["ssh_opts"])?;
    for (on, opt) in [
        (accept_hostkey, "-o StrictHostKeyChecking=no"),
        (accept_newhostkey, "-o StrictHostKeyChecking=accept-new"),
    ] {
        if !on {
            continue;
        }
        ssh_opts = Some(match ssh_opts {
            Some(o)
                if !o.contains("-o StrictHostKeyChecking=no")
                    && !o.contains("-o StrictHostKeyChecking=accept-new") =>
            {
                format!("{o} {opt}")
            }
            Some(o) => o,
            None => opt.to_string(),
        });
    }
    let var = |k: &str| {
        env.environment
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    let base = var("GIT_SSH_OPTS").unwrap_or_default();
    let mut opts = match ssh_opts {
        None => base,
        Some(o) => format!("{base} {o}"),
    };
    if accept_hostkey && !opts.contains("StrictHostKeyChecking=no") {
        opts.push_str(" -o StrictHostKeyChecking=no");
    }
    if !opts.contains("BatchMode=yes") {
        opts.push_str(" -o BatchMode=yes");
    }
    if let Some(k) = a.str(&["key_file"])? {
        let key_opt = format!("-i {k}");
        if !opts.contains(&key_opt) {
            opts.push_str(&format!("  {key_opt}"));
        }
        if !opts.contains("IdentitiesOnly=yes") {
            opts.push_str(" -o IdentitiesOnly=yes");
        }
    }
    let mut ssh_command = var("GIT_SSH")
        .or_else(|| var("GIT_SSH_COMMAND"))
        .unwrap_or_else(|| "ssh".into());
    if !opts.is_empty() {
        ssh_command = format!("{ssh_command} {opts}");
    }
    Ok(Spec {
        repo,
        dest,
        version,
        remote,
        refspec: a.str(&["refspec"])?,
        reference: a.str(&["reference"])?,
        force: a.bool(&["force"], false)?,
        depth,
        clone,
        update: a.bool(&["update"], true)?,
        bare: a.bool(&["bare"], false)?,
        recursive: a.bool(&["recursive"], true)?,
        single_branch: a.bool(&["single_branch"], false)?,
        track_submodules: a.bool(&["track_submodules"], false)?,
        umask,
        executable: a.str(&["executable"])?,
        ssh_command,
        check: env.check_mode,
    })
}

/// Python's `os.path.abspath` of an absolute path (`normpath`); a relative one is kept.
fn abspath(p: &str) -> String {
    if !p.starts_with('/') {
        return p.to_string();
    }
    normpath(p)
}

/// Python's `os.path.normpath`.
fn normpath(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let lead = if p.starts_with("//") && !p.starts_with("///") {
        "//"
    } else if p.starts_with('/') {
        "/"
    } else {
        ""
    };
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            ".." if !lead.is_empty() => {}
            c => parts.push(c),
        }
    }
    let joined = format!("{lead}{}", parts.join("/"));
    if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

/// Ansible's `unfrackgitpath` for comparing remote URLs: paths normalised (`//`, `.`, `..`).
fn unfrack(p: &str) -> String {
    normpath(p)
}

/// `git ls-remote` as the probe ran it.
#[derive(Clone, Debug, Default, PartialEq)]
struct LsRemote {
    rc: i32,
    out: String,
    err: String,
}

/// What the probe script found on the host.
#[derive(Clone, Debug, Default, PartialEq)]
struct Found {
    /// No git: the PATH searched.
    no_git: Option<String>,
    git_version: Option<String>,
    bad_git_dir: Option<String>,
    exists: bool,
    before: Option<String>,
    local_mods: bool,
    remote_url: Option<String>,
    head_branch: Option<String>,
    local_branch: bool,
    ls: Vec<(String, LsRemote)>,
}

impl Found {
    fn parse(text: &str) -> Found {
        let mut f = Found::default();
        let mut cur: Option<usize> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("| ") {
                if let Some(i) = cur {
                    f.ls[i].1.out.push_str(rest);
                    f.ls[i].1.out.push('\n');
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix("! ") {
                if let Some(i) = cur {
                    f.ls[i].1.err.push_str(rest);
                    f.ls[i].1.err.push('\n');
                }
                continue;
            }
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            let value = value.to_string();
            match key {
                "@nogit" => f.no_git = Some(value),
                "@version" => f.git_version = Some(value),
                "@badgitdir" => f.bad_git_dir = Some(value),
                "@exists" => f.exists = true,
                "@before" => f.before = Some(value),
                "@mods" => f.local_mods = value.trim().parse::<u64>().is_ok_and(|n| n > 0),
                "@url" => f.remote_url = Some(value),
                "@head" => f.head_branch = Some(value),
                "@local" => f.local_branch = true,
                "@lr" => {
                    let (name, rc) = value.split_once(' ').unwrap_or((&value, "1"));
                    f.ls.push((
                        name.to_string(),
                        LsRemote {
                            rc: rc.trim().parse().unwrap_or(1),
                            ..Default::default()
                        },
                    ));
                    cur = Some(f.ls.len() - 1);
                }
                _ => {}
            }
        }
        f
    }

    fn ls(&self, name: &str) -> Option<&LsRemote> {
        self.ls.iter().find(|(n, _)| n == name).map(|(_, l)| l)
    }

    /// `git --version` as (major, minor, patch); unknown versions are taken as new.
    fn version_at_least(&self, want: (u64, u64, u64)) -> bool {
        let Some(v) = self
            .git_version
            .as_deref()
            .and_then(|v| v.split("git version ").nth(1))
        else {
            return true;
        };
        let mut parts = v
            .split(['.', ' '])
            .map(|p| p.parse::<u64>().ok())
            .chain(std::iter::repeat(Some(0)));
        let mut next = || parts.next().flatten();
        match (next(), next(), next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c) >= want,
            (Some(a), Some(b), None) => (a, b, 0) >= want,
            _ => true,
        }
    }
}

struct GitPlan {
    spec: Spec,
    probe_at: CmdRef,
}

/// Shell functions shared by the probe and the step: `hb` prints the branch `HEAD` follows
/// (Ansible's `get_head_branch` + `head_splitter`), `lr NAME ARGS` runs `git ls-remote` and
/// reports it as `@lr NAME RC` then `| ` stdout and `! ` stderr lines.
const FUNCTIONS: &str = r#"hb() {
  if "$G" branch --no-color -a 2>/dev/null | grep -Eq '^\* .*(no branch|detached from|detached at)'; then
    f="$RP/refs/remotes/$REMOTE/HEAD"
  else
    f="$RP/HEAD"
  fi
  [ -f "$f" ] || return 1
  IFS= read -r l < "$f" || [ -n "$l" ] || return 1
  case $l in *"refs/remotes/$REMOTE"*) l="${l%%"refs/remotes/$REMOTE"*}${l#*"refs/remotes/$REMOTE"}" ;; esac
  l=${l##* }
  case $l in */*/*) l=${l#*/}; l=${l#*/} ;; */*) l=${l#*/} ;; esac
  printf '%s\n' "$l"
}
lr() {
  n=$1; shift
  e=$( { o=$("$G" ls-remote "$@" 2>&3); rc=$?; printf '@lr %s %s\n' "$n" "$rc" >&4; [ -z "$o" ] || printf '%s\n' "$o" | sed 's/^/| /' >&4; } 3>&1 )
  [ -z "$e" ] || printf '%s\n' "$e" | sed 's/^/! /'
}
"#;

impl GitPlan {
    /// Variables and functions both scripts start with.
    fn prelude(&self) -> String {
        let s = &self.spec;
        let mut out =
            String::from("export LC_ALL=C LANG=C LANGUAGE=C LC_MESSAGES=C LC_CTYPE=C\nexec 4>&1\n");
        out.push_str(&format!(
            "export GIT_SSH_COMMAND={}\nG={}\nR={}\nV={}\nREMOTE={}\nD={}\n",
            quote(&s.ssh_command),
            quote(s.executable.as_deref().unwrap_or("")),
            quote(&s.repo),
            quote(&s.version),
            quote(&s.remote),
            quote(s.dest.as_deref().unwrap_or("")),
        ));
        out.push_str(if s.bare { "RP=$D\n" } else { "RP=$D/.git\n" });
        out.push_str(FUNCTIONS);
        out
    }

    fn probe_script(&self) -> String {
        let s = &self.spec;
        let mut p = self.prelude();
        p.push_str(
            "if [ -z \"$G\" ]; then G=$(command -v git) || { echo \"@nogit $PATH\"; exit 0; }\nelif ! command -v \"$G\" >/dev/null 2>&1; then echo \"@nogit $G\"; exit 0; fi\n",
        );
        p.push_str("echo \"@version $(\"$G\" --version 2>/dev/null | head -n1)\"\n");
        let mut exists_test = "false";
        if s.dest.is_some() {
            exists_test = "[ -e \"$RP/config\" ]";
            p.push_str(concat!(
                "if [ -f \"$RP\" ]; then\n",
                "  gd=$(sed -n '1s/^gitdir: //p' \"$RP\")\n",
                "  [ -n \"$gd\" ] || { echo \"@badgitdir $RP\"; exit 0; }\n",
                "  case $gd in /*) RP=$gd ;; *) RP=$D/$gd ;; esac\n",
                "  [ -d \"$RP\" ] || { echo \"@badgitdir $RP\"; exit 0; }\n",
                "fi\n",
                "if [ -e \"$RP/config\" ] && cd \"$D\"; then\n",
                "  echo @exists\n",
                "  echo \"@before $(\"$G\" rev-parse HEAD 2>/dev/null)\"\n",
            ));
            if !s.bare {
                p.push_str(
                    "  echo \"@mods $(\"$G\" status --porcelain 2>/dev/null | grep -vc '^??')\"\n",
                );
            }
            p.push_str(concat!(
                "  u=$(\"$G\" ls-remote --get-url \"$REMOTE\" 2>/dev/null) && echo \"@url $u\"\n",
                "  h=$(hb) && echo \"@head $h\"\n",
                "  \"$G\" show-ref --verify --quiet \"refs/heads/$V\" && echo @local\n",
                "fi\n",
            ));
        }
        // The remote is asked only when something will be compared with it or fetched.
        if s.dest.is_some() && !s.update {
            p.push_str(&format!("{exists_test} && exit 0\n"));
        }
        p.push_str(concat!(
            "lr branch \"$R\" -h \"refs/heads/$V\"\n",
            "lr tag \"$R\" -t \"refs/tags/$V\"\n",
            "if [ \"$V\" = HEAD ]; then\n",
        ));
        p.push_str(&format!(
            "  if {exists_test}; then lr head \"$R\" -h \"refs/heads/${{h:-None}}\"; else lr head \"$R\" -h HEAD; fi\n"
        ));
        p.push_str(concat!(
            "else\n",
            "  lr tagstar \"$R\" -t \"refs/tags/$V*\"\n",
            "fi\n",
        ));
        p
    }
}

impl Planner for GitPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.probe_at = p.command(self.probe_script());
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let out = obs.cmd(self.probe_at)?;
        if out.rc != 0 {
            return Ok(Plan::fail(format!(
                "git: reading the repository's state failed: {}",
                out.stderr.trim()
            )));
        }
        let found = Found::parse(&out.stdout);
        Ok(decide(&self.spec, &found, &self.prelude()))
    }
}

#[path = "git_decide.rs"]
mod decide;
use decide::decide;

#[cfg(test)]
#[path = "git_tests.rs"]
mod tests;
