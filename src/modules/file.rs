//! `file`: directories, links, removal, touch, and the mode/owner/group of existing paths.
//!
//! States as in Ansible: `file` (the path must exist; only attributes change), `directory`
//! (created with parents), `link`/`hard` (with `src`; replacing a real file needs `force`),
//! `absent` (removed recursively), `touch` (created or timestamps updated). Without `state`,
//! the current kind of the path is kept. `recurse` applies attributes to a directory tree; a
//! read-only `find` decides whether anything inside would change.

use minijinja::Value;

use super::args::Choice;
use super::args::choice;
use super::attrs::AttrSpec;
use super::mode::{ModeSpec, octal};
use super::{
    Args, Attrs, CmdRef, Command, Diff, FileKind, FileRef, FileState, Module, ModuleEnv, Observed,
    Plan, Planner, Probes, Stamp, Step,
};
use crate::error::Result;
use crate::shlex::quote;

pub struct File;

const OPTIONS: &[&str] = super::attrs::with_file_options![
    "path",
    "dest",
    "name",
    "state",
    "src",
    "recurse",
    "force",
    "follow",
    "modification_time",
    "modification_time_format",
    "access_time",
    "access_time_format",
    "attr",
];

impl Module for File {
    fn path_options(&self) -> &'static [&'static str] {
        &["path", "dest", "name", "src"]
    }
    fn name(&self) -> &'static str {
        "file"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        unsupported(
            &a,
            &[
                "attributes",
                "attr",
                "selevel",
                "serole",
                "setype",
                "seuser",
            ],
        )?;
        let state: Option<Wanted> = a.choose_opt(&["state"])?;
        let path = a.req_str(&["path", "dest", "name"])?;
        let src = a.str(&["src"])?;
        if let Some(s @ (Wanted::Link | Wanted::Hard)) = state
            && src.is_none()
        {
            return Err(crate::error::Error::runtime(format!(
                "file: src is required for state={}",
                s.name()
            )));
        }
        Ok(Box::new(FilePlan {
            path_at: Default::default(),
            followed_at: Default::default(),
            src_at: Default::default(),
            tree_at: Default::default(),
            src_abs: src.as_ref().map(|s| resolve_src(&path, s)),
            path,
            state,
            src,
            attrs: AttrSpec::from_args(&a)?,
            recurse: a.bool(&["recurse"], false)?,
            force: a.bool(&["force"], false)?,
            follow: a.bool(&["follow"], true)?,
            mtime: a.str(&["modification_time"])?,
            mtime_format: a
                .str(&["modification_time_format"])?
                .unwrap_or_else(|| "%Y%m%d%H%M.%S".into()),
            atime: a.str(&["access_time"])?,
        }))
    }
}

/// Reject options we accept for compatibility but cannot honour.
pub fn unsupported(a: &Args, names: &[&str]) -> Result<()> {
    for n in names {
        if a.has(n) {
            return Err(crate::error::Error::runtime(format!(
                "{}: option '{n}' is not supported by prov",
                a.module
            )));
        }
    }
    Ok(())
}

/// A link's `src` relative to the link's directory, as `ln -s` resolves it.
fn resolve_src(path: &str, src: &str) -> String {
    if src.starts_with('/') {
        return src.to_string();
    }
    let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or(".");
    format!("{}/{src}", if dir.is_empty() { "/" } else { dir })
}

choice! {
    /// `state`: what the path should be.
    enum Wanted {
        File = "file",
        Directory = "directory",
        Link = "link",
        Hard = "hard",
        Absent = "absent",
        Touch = "touch",
    }
}

struct FilePlan {
    /// Where a probe's answer is (asked in `ask`).
    path_at: FileRef,
    followed_at: FileRef,
    src_at: FileRef,
    tree_at: Option<CmdRef>,
    path: String,
    state: Option<Wanted>,
    src: Option<String>,
    src_abs: Option<String>,
    attrs: AttrSpec,
    recurse: bool,
    force: bool,
    follow: bool,
    mtime: Option<String>,
    mtime_format: String,
    atime: Option<String>,
}

fn kind_name(f: &FileState) -> &'static str {
    if !f.exists {
        return "absent";
    }
    match f.kind {
        Some(FileKind::Directory) => "directory",
        Some(FileKind::Link) => "link",
        Some(FileKind::File) => "file",
        _ => "special file",
    }
}

fn state_diff(path: &str, before: &str, after: &str, extra_after: &str) -> Diff {
    Diff::new(
        path,
        format!("path: {path}\nstate: {before}\n"),
        format!("path: {path}\nstate: {after}\n{extra_after}"),
    )
}

/// A `find` that prints something if any entry below `path` differs from the attributes.
fn recurse_probe(path: &str, attrs: &AttrSpec) -> Option<String> {
    let mut tests = Vec::new();
    match &attrs.mode {
        Some(ModeSpec::Octal(m)) => tests.push(format!("! -perm {}", octal(*m))),
        Some(ModeSpec::Symbolic(_)) => tests.push("-true".to_string()),
        _ => {}
    }
    if let Some(o) = &attrs.owner {
        let flag = if o.parse::<u32>().is_ok() {
            "-uid"
        } else {
            "-user"
        };
        tests.push(format!("! {flag} {}", quote(o)));
    }
    if let Some(g) = &attrs.group {
        let flag = if g.parse::<u32>().is_ok() {
            "-gid"
        } else {
            "-group"
        };
        tests.push(format!("! {flag} {}", quote(g)));
    }
    if tests.is_empty() {
        return None;
    }
    Some(format!(
        "find {} -mindepth 1 \\( {} \\) -print 2>/dev/null | head -n 1",
        quote(path),
        tests.join(" -o ")
    ))
}

/// Ansible's default `%Y%m%d%H%M.%S` timestamp as seconds since the epoch (UTC).
fn parse_stamp(s: &str, format: &str) -> Option<i64> {
    if format != "%Y%m%d%H%M.%S" {
        return None;
    }
    let (main, secs) = s.split_once('.')?;
    if main.len() != 12 {
        return None;
    }
    let n = |a: usize, b: usize| main[a..b].parse::<i64>().ok();
    let (y, mo, d, h, mi) = (n(0, 4)?, n(4, 6)?, n(6, 8)?, n(8, 10)?, n(10, 12)?);
    let sec: i64 = secs.parse().ok()?;
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + h * 3600 + mi * 60 + sec)
}

impl FilePlan {
    /// The touch to perform, or None when both timestamps are to be preserved.
    fn touch_step(&self, cur: &FileState) -> Option<Step> {
        let stamp = |t: &Option<String>, current: f64| -> Stamp {
            match t.as_deref() {
                None | Some("now") => Stamp::Now,
                Some("preserve") => Stamp::Keep,
                Some(s) => match parse_stamp(s, &self.mtime_format) {
                    Some(epoch) if cur.exists && (epoch as f64 - current).abs() < 1.0 => {
                        Stamp::Keep
                    }
                    _ => Stamp::At(s.to_string()),
                },
            }
        };
        let (mtime, atime) = (stamp(&self.mtime, cur.mtime), stamp(&self.atime, cur.atime));
        if cur.exists && mtime == Stamp::Keep && atime == Stamp::Keep {
            return None;
        }
        Some(Step::Touch {
            path: self.path.clone(),
            mtime,
            atime,
        })
    }
}

impl Planner for FilePlan {
    fn ask(&mut self, p: &mut Probes) {
        self.path_at = p.stat(&self.path);
        self.followed_at = p.stat_follow(&self.path);
        self.src_at = p.stat(self.src_abs.as_deref().unwrap_or("/nonexistent-prov-src"));
        if self.recurse
            && let Some(cmd) = recurse_probe(&self.path, &self.attrs)
        {
            self.tree_at = Some(p.command(cmd));
        }
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let cur = obs.file(self.path_at)?;
        let followed = obs.file(self.followed_at)?;
        let eff = if self.follow && cur.is_link && followed.exists {
            followed
        } else {
            cur
        };
        let state = self.state.unwrap_or(if cur.is_link {
            Wanted::Link
        } else if cur.is_dir() {
            Wanted::Directory
        } else {
            Wanted::File
        });
        let path = self.path.clone();
        let mut plan = Plan::ok()
            .with("path", path.as_str())
            .with("state", state.name());
        match state {
            Wanted::Absent => {
                if cur.exists || cur.is_link {
                    plan.diffs
                        .push(state_diff(&path, kind_name(cur), "absent", ""));
                    plan.step(Step::Remove { path });
                }
            }
            Wanted::Directory => {
                if !eff.exists {
                    plan.diffs
                        .push(state_diff(&path, "absent", "directory", ""));
                    plan.step(Step::MakeDir {
                        path: path.clone(),
                        attrs: self.attrs.for_new(true, None)?,
                    });
                } else if eff.is_dir() {
                    self.attr_steps(&mut plan, eff)?;
                    if let Some(at) = self.tree_at
                        && let Ok(out) = obs.cmd(at)
                        && !out.stdout.trim().is_empty()
                    {
                        plan.diffs.push(Diff::new(
                            &path,
                            format!("recursive attributes of {path}: differ\n"),
                            format!("recursive attributes of {path}: set\n"),
                        ));
                        self.recurse_steps(&mut plan);
                    }
                } else {
                    return Ok(Plan::fail(format!(
                        "{path} already exists as a {}",
                        kind_name(eff)
                    )));
                }
            }
            Wanted::File => {
                if !eff.exists {
                    return Ok(Plan::fail(format!(
                        "file ({path}) is absent, cannot continue"
                    )));
                }
                if !matches!(eff.kind, Some(FileKind::File)) {
                    return Ok(Plan::fail(format!(
                        "file ({path}) is {}, cannot continue",
                        kind_name(eff)
                    )));
                }
                self.attr_steps(&mut plan, eff)?;
            }
            Wanted::Touch => {
                if !cur.exists {
                    plan.diffs.push(state_diff(&path, "absent", "touch", ""));
                    if let Some(step) = self.touch_step(cur) {
                        plan.step(step);
                    }
                    let attrs = self.attrs.for_new(false, None)?;
                    if !attrs.is_empty() {
                        plan.step(Step::SetAttrs {
                            path,
                            attrs,
                            recurse: false,
                            follow: self.follow,
                        });
                    }
                } else {
                    if let Some(step) = self.touch_step(eff) {
                        plan.diffs.push(Diff::new(
                            &path,
                            format!("path: {path}\ntimestamps: unchanged\n"),
                            format!("path: {path}\ntimestamps: updated\n"),
                        ));
                        plan.step(step);
                    }
                    self.attr_steps(&mut plan, eff)?;
                }
            }
            // Without `state` on an existing link (no `src`), the link stays as it is.
            Wanted::Link if self.src.is_none() => {
                plan = plan.with("src", cur.link_target.clone());
                self.existing_link_attrs(&mut plan, cur, followed)?;
            }
            Wanted::Link => {
                let src = self.src.clone().unwrap_or_default();
                let src_state = obs.file(self.src_at)?;
                if cur.is_link && cur.link_target.as_deref() == Some(src.as_str()) {
                    self.existing_link_attrs(&mut plan, cur, followed)?;
                } else if cur.exists && !cur.is_link {
                    if !self.force {
                        return Ok(Plan::fail(format!(
                            "refusing to convert from {} to symlink for {path}",
                            kind_name(cur)
                        )));
                    }
                    plan.diffs.push(state_diff(
                        &path,
                        kind_name(cur),
                        "link",
                        &format!("src: {src}\n"),
                    ));
                    plan.step(Step::Remove { path: path.clone() });
                    plan.step(Step::Link {
                        src,
                        path,
                        hard: false,
                    });
                } else {
                    if !src_state.exists && !self.force && !cur.is_link {
                        return Ok(Plan::fail(format!(
                            "src file does not exist, use \"force=yes\" if you really want to create the link: {}",
                            self.src_abs.as_deref().unwrap_or_default()
                        )));
                    }
                    let before = cur
                        .link_target
                        .as_deref()
                        .map(|t| format!("link\nsrc: {t}"))
                        .unwrap_or_else(|| "absent".into());
                    plan.diffs
                        .push(state_diff(&path, &before, "link", &format!("src: {src}\n")));
                    plan.step(Step::Link {
                        src,
                        path: path.clone(),
                        hard: false,
                    });
                    let attrs = self.attrs.for_new(false, None)?;
                    if attrs.owner.is_some() || attrs.group.is_some() {
                        plan.step(Step::SetAttrs {
                            path,
                            attrs: Attrs {
                                mode: None,
                                ..attrs
                            },
                            recurse: false,
                            follow: false,
                        });
                    }
                }
            }
            Wanted::Hard => {
                let src = self.src.clone().unwrap_or_default();
                let src_state = obs.file(self.src_at)?;
                if !src_state.exists {
                    return Ok(Plan::fail(format!(
                        "src does not exist: {}",
                        self.src_abs.as_deref().unwrap_or_default()
                    )));
                }
                if cur.exists && cur.inode == src_state.inode && cur.dev == src_state.dev {
                    self.attr_steps(&mut plan, cur)?;
                } else {
                    if cur.is_dir() {
                        return Ok(Plan::fail(format!(
                            "refusing to replace directory {path} with a hard link"
                        )));
                    }
                    if cur.exists && !self.force && !cur.is_link && cur.kind != Some(FileKind::File)
                    {
                        return Ok(Plan::fail(format!(
                            "refusing to convert from {} to hard link for {path}",
                            kind_name(cur)
                        )));
                    }
                    plan.diffs.push(state_diff(
                        &path,
                        kind_name(cur),
                        "hard",
                        &format!("src: {src}\n"),
                    ));
                    plan.step(Step::Link {
                        src: self.src_abs.clone().unwrap_or(src),
                        path: path.clone(),
                        hard: true,
                    });
                    let attrs = self.attrs.for_new(false, None)?;
                    if !attrs.is_empty() {
                        plan.step(Step::SetAttrs {
                            path,
                            attrs,
                            recurse: false,
                            follow: false,
                        });
                    }
                }
            }
        }
        if let Some(m) = &self.attrs.mode
            && let Ok(mode) = m.resolve(eff.mode, eff.is_dir(), None)
        {
            plan.result.insert("mode".into(), Value::from(octal(mode)));
        }
        Ok(plan)
    }
}

impl FilePlan {
    /// Apply the attributes below a directory: a symbolic mode goes to `chmod -R` as is,
    /// since each entry's result depends on its own mode.
    fn recurse_steps(&self, plan: &mut Plan) {
        let mut attrs = Attrs {
            mode: None,
            owner: self.attrs.owner.clone(),
            group: self.attrs.group.clone(),
        };
        match &self.attrs.mode {
            Some(ModeSpec::Octal(m)) => attrs.mode = Some(*m),
            Some(ModeSpec::Symbolic(spec)) => {
                let argv = ["chmod", "-R", spec.as_str(), "--", self.path.as_str()]
                    .map(str::to_string)
                    .to_vec();
                plan.step(Step::Run {
                    cmd: Command {
                        argv: Some(argv),
                        ..Default::default()
                    },
                    ok_rcs: vec![0],
                });
            }
            _ => {}
        }
        if !attrs.is_empty() {
            plan.step(Step::SetAttrs {
                path: self.path.clone(),
                attrs,
                recurse: true,
                follow: self.follow,
            });
        }
    }

    fn attr_steps(&self, plan: &mut Plan, cur: &FileState) -> Result<()> {
        let (attrs, diff) = self.attrs.changes(cur, None)?;
        if !attrs.is_empty() {
            plan.diffs.extend(diff);
            plan.step(Step::SetAttrs {
                path: self.path.clone(),
                attrs,
                recurse: false,
                follow: self.follow,
            });
        }
        Ok(())
    }

    /// The attributes of a link that stays: as Ansible, with `follow` (the default) those of
    /// the file it points to (none, and a warning, when that is missing), else the owner and
    /// group of the link itself.
    fn existing_link_attrs(
        &self,
        plan: &mut Plan,
        cur: &FileState,
        followed: &FileState,
    ) -> Result<()> {
        if !self.follow {
            return self.link_attr_steps(plan, cur);
        }
        if followed.exists {
            return self.attr_steps(plan, followed);
        }
        plan.result.insert(
            "warnings".into(),
            Value::from(vec![Value::from(
                "Cannot set fs attributes on a non-existent symlink target. follow should be set to False to avoid this.",
            )]),
        );
        Ok(())
    }

    /// Owner/group of the link itself (Linux links have no mode of their own).
    fn link_attr_steps(&self, plan: &mut Plan, cur: &FileState) -> Result<()> {
        let spec = AttrSpec {
            mode: None,
            ..self.attrs.clone()
        };
        let (attrs, diff) = spec.changes(cur, None)?;
        if !attrs.is_empty() {
            plan.diffs.extend(diff);
            plan.step(Step::SetAttrs {
                path: self.path.clone(),
                attrs,
                recurse: false,
                follow: false,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{dir, file, link, missing, plan_with};

    fn args(pairs: &[(&str, &str)]) -> Args {
        Args::from_pairs(
            "file",
            &pairs
                .iter()
                .map(|(k, v)| (*k, Value::from(*v)))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn directory_created_once() {
        let a = args(&[
            ("path", "/srv/app"),
            ("state", "directory"),
            ("mode", "0750"),
        ]);
        let p = plan_with(
            &File,
            a.clone(),
            &[missing("/srv/app"), missing("/srv/app")],
        );
        assert!(p.changed);
        assert_eq!(
            p.steps,
            [Step::MakeDir {
                path: "/srv/app".into(),
                attrs: Attrs {
                    mode: Some(0o750),
                    ..Default::default()
                }
            }]
        );
        assert_eq!(p.diffs[0].after, "path: /srv/app\nstate: directory\n");
        let existing = dir("/srv/app", 0o750);
        let p = plan_with(&File, a, &[existing.clone(), existing]);
        assert!(!p.changed && p.steps.is_empty());
    }

    #[test]
    fn directory_over_file_fails() {
        let a = args(&[("path", "/srv/app"), ("state", "directory")]);
        let f = file("/srv/app", 0o644, "x");
        let p = plan_with(&File, a, &[f.clone(), f]);
        assert_eq!(
            p.failed.as_deref(),
            Some("/srv/app already exists as a file")
        );
    }

    #[test]
    fn absent_removes_only_existing() {
        let a = args(&[("path", "/tmp/x"), ("state", "absent")]);
        let f = file("/tmp/x", 0o644, "x");
        let p = plan_with(&File, a.clone(), &[f.clone(), f]);
        assert_eq!(
            p.steps,
            [Step::Remove {
                path: "/tmp/x".into()
            }]
        );
        let p = plan_with(&File, a, &[missing("/tmp/x"), missing("/tmp/x")]);
        assert!(!p.changed);
    }

    #[test]
    fn link_states() {
        let a = args(&[
            ("path", "/etc/alt"),
            ("src", "/etc/real"),
            ("state", "link"),
        ]);
        let real = file("/etc/real", 0o644, "r");
        let p = plan_with(
            &File,
            a.clone(),
            &[missing("/etc/alt"), missing("/etc/alt"), real.clone()],
        );
        assert_eq!(
            p.steps,
            [Step::Link {
                src: "/etc/real".into(),
                path: "/etc/alt".into(),
                hard: false
            }]
        );
        let l = link("/etc/alt", "/etc/real");
        let p = plan_with(&File, a.clone(), &[l, real.clone(), real.clone()]);
        assert!(!p.changed);
        let f = file("/etc/alt", 0o644, "x");
        let p = plan_with(&File, a.clone(), &[f.clone(), f.clone(), real.clone()]);
        assert!(
            p.failed
                .unwrap()
                .contains("refusing to convert from file to symlink")
        );
        let p = plan_with(
            &File,
            args(&[("path", "/etc/alt"), ("src", "/nope"), ("state", "link")]),
            &[missing("/etc/alt"), missing("/etc/alt"), missing("/nope")],
        );
        assert!(p.failed.unwrap().contains("src file does not exist"));
    }

    /// ansible-playbook 2.19 (the fixture venv): `file: path=<existing symlink> mode=0600`
    /// without `state` keeps the link (`state: link`, `src` its target) and, following it
    /// (`follow` defaults to true), sets the mode of the file it points to (changed); on a
    /// dangling link it changes nothing and warns; with `follow: false` the link has no mode
    /// to set (ok). `state: link` with a matching `src` also sets the target's mode.
    #[test]
    fn attributes_through_an_existing_link() {
        let l = link("/etc/alt", "real");
        let real = file("/etc/real", 0o644, "r");
        let src = missing("/nonexistent-prov-src");
        let p = plan_with(
            &File,
            args(&[("path", "/etc/alt"), ("mode", "0600")]),
            &[l.clone(), real.clone(), src.clone()],
        );
        assert!(p.failed.is_none() && p.changed, "{p:?}");
        assert_eq!(
            p.steps,
            [Step::SetAttrs {
                path: "/etc/alt".into(),
                attrs: Attrs {
                    mode: Some(0o600),
                    ..Default::default()
                },
                recurse: false,
                follow: true,
            }]
        );
        assert_eq!(p.result["state"].as_str(), Some("link"));
        assert_eq!(p.result["src"].as_str(), Some("real"));
        let done = file("/etc/real", 0o600, "r");
        let p = plan_with(
            &File,
            args(&[("path", "/etc/alt"), ("mode", "0600")]),
            &[l.clone(), done, src.clone()],
        );
        assert!(p.failed.is_none() && !p.changed, "{p:?}");
        let p = plan_with(
            &File,
            args(&[("path", "/etc/alt"), ("mode", "0600")]),
            &[l.clone(), missing("/etc/alt"), src.clone()],
        );
        assert!(p.failed.is_none() && !p.changed, "{p:?}");
        assert!(p.result.contains_key("warnings"));
        let p = plan_with(
            &File,
            args(&[("path", "/etc/alt"), ("mode", "0600"), ("follow", "false")]),
            &[l.clone(), real.clone(), src],
        );
        assert!(p.failed.is_none() && !p.changed, "{p:?}");
        let p = plan_with(
            &File,
            args(&[
                ("path", "/etc/alt"),
                ("src", "real"),
                ("state", "link"),
                ("mode", "0600"),
            ]),
            &[l, real.clone(), real],
        );
        assert!(p.changed && p.steps.len() == 1, "{p:?}");
    }

    #[test]
    fn file_state_needs_existing_file_and_fixes_mode() {
        let a = args(&[("path", "/etc/x"), ("mode", "u=rw,g=,o=")]);
        let f = file("/etc/x", 0o644, "x");
        let p = plan_with(&File, a.clone(), &[f.clone(), f]);
        assert_eq!(p.steps.len(), 1);
        assert_eq!(p.diffs[0].after, "path: /etc/x\nmode: 0600\n");
        let p = plan_with(
            &File,
            args(&[("path", "/etc/x"), ("state", "file")]),
            &[missing("/etc/x"), missing("/etc/x")],
        );
        assert_eq!(
            p.failed.as_deref(),
            Some("file (/etc/x) is absent, cannot continue")
        );
    }

    #[test]
    fn touch_always_changes_unless_preserved() {
        let f = file("/tmp/t", 0o644, "");
        let p = plan_with(
            &File,
            args(&[("path", "/tmp/t"), ("state", "touch")]),
            &[f.clone(), f.clone()],
        );
        assert!(p.changed);
        let p = plan_with(
            &File,
            args(&[
                ("path", "/tmp/t"),
                ("state", "touch"),
                ("modification_time", "preserve"),
                ("access_time", "preserve"),
            ]),
            &[f.clone(), f],
        );
        assert!(!p.changed);
        assert_eq!(parse_stamp("197001010001.05", "%Y%m%d%H%M.%S"), Some(65));
    }
}
