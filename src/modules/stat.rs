//! `stat`: report facts about a path on the host (never changes anything).

use minijinja::Value;

use super::mode::octal;
use super::query::Query;
use super::{Args, CmdRef, FileKind, FileRef, Module, ModuleEnv, Observed, Plan, Planner, Probes};
use crate::error::{Error, Result};

pub struct Stat;

const OPTIONS: &[&str] = &[
    "path",
    "dest",
    "name",
    "follow",
    "get_checksum",
    "checksum_algorithm",
    "checksum",
    "checksum_algo",
    "get_mime",
    "mime",
    "mime_type",
    "mime-type",
    "get_attributes",
    "attr",
    "attributes",
];

impl Module for Stat {
    fn path_options(&self) -> &'static [&'static str] {
        &["path", "dest", "name"]
    }
    fn name(&self) -> &'static str {
        "stat"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let algo = a
            .choice(
                &["checksum_algorithm", "checksum", "checksum_algo"],
                &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"],
                Some("sha1"),
            )?
            .unwrap_or_default();
        Ok(Box::new(StatPlan {
            stat_at: Default::default(),
            digest_at: Default::default(),
            path: a.req_str(&["path", "dest", "name"])?,
            follow: a.bool(&["follow"], false)?,
            checksum: a.bool(&["get_checksum"], true)?,
            algo,
        }))
    }
}

struct StatPlan {
    /// Where a probe's answer is (asked in `ask`).
    stat_at: FileRef,
    digest_at: CmdRef,
    path: String,
    follow: bool,
    checksum: bool,
    algo: String,
}

impl Planner for StatPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.stat_at = if self.follow {
            p.stat_follow(&self.path)
        } else {
            p.stat(&self.path)
        };
        if self.checksum {
            self.digest_at = p.query(Query::Digest {
                algo: self.algo.clone(),
                path: self.path.clone(),
            });
        }
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let f = obs.file(self.stat_at)?;
        if !f.exists && !f.is_link {
            return Ok(Plan::ok().with("stat", Value::from_pairs([("exists", Value::from(false))])));
        }
        let kind = f
            .kind
            .ok_or_else(|| Error::runtime("stat: unknown file kind"))?;
        let mut s: Vec<(&str, Value)> = vec![
            ("exists", true.into()),
            ("path", self.path.as_str().into()),
            ("mode", octal(f.mode).into()),
            ("isdir", (kind == FileKind::Directory).into()),
            ("isreg", (kind == FileKind::File).into()),
            ("islnk", f.is_link.into()),
            ("uid", f.uid.into()),
            ("gid", f.gid.into()),
            ("pw_name", f.owner.as_str().into()),
            ("gr_name", f.group.as_str().into()),
            ("size", (f.size as i64).into()),
            ("mtime", f.mtime.into()),
            ("atime", f.atime.into()),
            ("inode", (f.inode as i64).into()),
            ("dev", (f.dev as i64).into()),
            ("executable", (f.mode & 0o111 != 0).into()),
            ("readable", (f.mode & 0o444 != 0).into()),
            ("writeable", (f.mode & 0o222 != 0).into()),
            ("isuid", (f.mode & 0o4000 != 0).into()),
            ("isgid", (f.mode & 0o2000 != 0).into()),
        ];
        if let Some(t) = &f.link_target {
            s.push(("lnk_target", t.as_str().into()));
            let source = if t.starts_with('/') {
                t.clone()
            } else {
                format!(
                    "{}/{t}",
                    self.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
                )
            };
            s.push(("lnk_source", source.into()));
        }
        if self.checksum
            && kind == FileKind::File
            && let Ok(c) = obs.cmd(self.digest_at)
        {
            let sum = c.stdout.trim();
            if !sum.is_empty() {
                s.push(("checksum", sum.into()));
            }
        }
        Ok(Plan::ok().with("stat", Value::from_pairs(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Answer;
    use crate::modules::testing::{args, cmd, dir, link, missing, plan_answers};

    #[test]
    fn reports_existence_kind_and_checksum() {
        let a = args("stat", &[("path", Value::from("/etc"))]);
        let p = plan_answers(&Stat, a, vec![Answer::File(dir("/etc", 0o755))]);
        let s = &p.result["stat"];
        assert_eq!(s.get_attr("isdir").unwrap(), Value::from(true));
        assert_eq!(s.get_attr("mode").unwrap(), Value::from("0755"));
        assert!(!p.changed);
        let a = args("stat", &[("path", Value::from("/nope"))]);
        let p = plan_answers(&Stat, a, vec![Answer::File(missing("/nope"))]);
        assert_eq!(
            p.result["stat"].get_attr("exists").unwrap(),
            Value::from(false)
        );
        let a = args("stat", &[("path", Value::from("/etc/l"))]);
        let p = plan_answers(
            &Stat,
            a,
            vec![Answer::File(link("/etc/l", "real")), cmd(0, "")],
        );
        assert_eq!(
            p.result["stat"].get_attr("lnk_source").unwrap(),
            Value::from("/etc/real")
        );
    }
}
