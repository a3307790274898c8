//! Ansible's `module.get_bin_path(name, required=True)` for native modules: the program is
//! looked up by stat probes in the directories Ansible searches on a Debian host, and a task
//! whose program is in none of them fails with Ansible's message.

use super::{FileRef, Observed, Plan, Probes};
use crate::error::Result;

/// Where `get_bin_path` looks (the system directories it adds to an empty `PATH`).
pub const DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Shell for a probe script that runs a program found as `get_bin_path` finds it: `set -f`,
/// prints `paths=` (PATH plus the sbin directories that exist and are missing from it), and
/// defines `find_bin NAME`, which prints the first executable file NAME on those paths.
pub const FIND_BIN_SH: &str = r#"set -f
p=$PATH
for d in /sbin /usr/sbin /usr/local/sbin; do
    case ":$PATH:" in *":$d:"*) ;; *) [ -e "$d" ] && p="$p:$d" ;; esac
done
printf 'paths=%s\n' "$p"
find_bin() {
    IFS=:
    for d in $p; do
        [ -n "$d" ] || continue
        f="${d%/}/$1"
        if [ -e "$f" ] && [ ! -d "$f" ] && [ -x "$f" ]; then unset IFS; printf '%s' "$f"; return 0; fi
    done
    unset IFS
    return 1
}
"#;

/// The probes of one program in every directory of [`DIRS`].
#[derive(Debug, Default)]
pub struct BinPath {
    name: &'static str,
    at: Vec<FileRef>,
}

impl BinPath {
    /// Asks for `name` in each directory (following links, as `os.path.exists` does).
    pub fn ask(p: &mut Probes, name: &'static str) -> BinPath {
        let at = DIRS
            .iter()
            .map(|d| p.stat_follow(&format!("{d}/{name}")))
            .collect();
        BinPath { name, at }
    }

    /// `None` when the program is a file in one of the directories, else the failing plan
    /// with Ansible's message.
    pub fn missing(&self, obs: &Observed) -> Result<Option<Plan>> {
        for at in &self.at {
            if obs.file(*at)?.is_file() {
                return Ok(None);
            }
        }
        Ok(Some(Plan::fail(format!(
            "Failed to find required executable \"{}\" in paths: {}",
            self.name,
            DIRS.join(":")
        ))))
    }
}

/// The answers to [`BinPath::ask`] for a program found in `/usr/bin` only (unit tests).
#[cfg(test)]
pub fn in_usr_bin(name: &str, mode: u32) -> Vec<super::Answer> {
    use super::testing::{file, missing};
    DIRS.iter()
        .map(|d| {
            let p = format!("{d}/{name}");
            super::Answer::File(if *d == "/usr/bin" {
                file(&p, mode, "")
            } else {
                missing(&p)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{file, missing};
    use crate::modules::{Answer, Planner};

    struct Probe(BinPath);
    impl Planner for Probe {
        fn ask(&mut self, p: &mut Probes) {
            self.0 = BinPath::ask(p, "crontab");
        }
        fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
            Ok(self.0.missing(obs)?.unwrap_or_else(Plan::ok))
        }
    }

    fn run(answers: Vec<Answer>) -> Plan {
        let mut planner: Box<dyn Planner> = Box::new(Probe(BinPath::default()));
        planner.ask(&mut Probes::default());
        planner.plan(&Observed { answers }).unwrap()
    }

    #[test]
    fn found_in_any_directory_or_failed_as_ansible() {
        assert!(run(in_usr_bin("crontab", 0o755)).failed.is_none());
        let none: Vec<Answer> = DIRS
            .iter()
            .map(|d| Answer::File(missing(&format!("{d}/crontab"))))
            .collect();
        let p = run(none);
        assert_eq!(
            p.failed.as_deref(),
            Some(
                "Failed to find required executable \"crontab\" in paths: \
                 /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            )
        );
        // A directory of that name is not the program.
        let mut dir = in_usr_bin("crontab", 0o755);
        let mut d = file("/usr/bin/crontab", 0o755, "");
        d.kind = Some(crate::modules::FileKind::Directory);
        dir[3] = Answer::File(d);
        assert!(run(dir).failed.is_some());
    }
}
