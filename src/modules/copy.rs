//! `copy`: put `content` or a controller file (or directory tree) at `dest`.
//!
//! The controller reads `src` (searched in the role's `files/`, then the playbook's), the host
//! is probed for every destination in one round trip, and only files whose content differs
//! are written (atomically, validated when asked). `remote_src` copies a file that is already
//! on the host. `force: false` only creates missing files.

use std::path::{Path, PathBuf};

use minijinja::Value;
use minijinja::value::ValueKind;

use super::attrs::AttrSpec;
use super::content::{WriteSpec, check_validate, plan_write};
use super::mode::ModeSpec;
use super::{
    Args, Diff, FileRef, FileState, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step,
    WriteFile,
};
use crate::error::{Error, Result};
use crate::template::to_text;

pub struct Copy;

const OPTIONS: &[&str] = super::attrs::with_file_options![
    "src",
    "content",
    "dest",
    "backup",
    "force",
    "validate",
    "remote_src",
    "directory_mode",
    "follow",
    "local_follow",
    "decrypt",
    "checksum",
];

impl Module for Copy {
    fn path_options(&self) -> &'static [&'static str] {
        &["dest"]
    }
    fn name(&self) -> &'static str {
        "copy"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        super::file::unsupported(
            &a,
            &[
                "attributes",
                "selevel",
                "serole",
                "setype",
                "seuser",
                "checksum",
            ],
        )?;
        let dest = a.req_str(&["dest"])?;
        let validate = a.str(&["validate"])?;
        check_validate("copy", &validate)?;
        let spec = WriteSpec {
            path: dest.clone(),
            attrs: AttrSpec::from_args(&a)?,
            validate,
            backup: a.bool(&["backup"], false)?,
            follow: a.bool(&["follow"], false)?,
            make_parents: false,
            src_mode: None,
        };
        let force = a.bool(&["force"], true)?;
        let dir_mode = a.mode(&["directory_mode"])?;
        let content = match a.get(&["content"]) {
            None => None,
            Some(v) if v.kind() == ValueKind::String => Some(to_text(v).into_bytes()),
            Some(v) => Some(crate::template::filters::to_json_string(v, None, false)?.into_bytes()),
        };
        let src = a.str(&["src"])?;
        let sources = match (&content, &src) {
            (Some(_), Some(_)) => {
                return Err(Error::runtime(
                    "copy: src and content are mutually exclusive",
                ));
            }
            (None, None) => return Err(Error::runtime("copy: one of src or content is required")),
            (Some(c), None) => {
                if dest.ends_with('/') {
                    return Err(Error::runtime(
                        "copy: can not use content with a dir as dest",
                    ));
                }
                vec![Source {
                    rel: None,
                    data: Some(c.clone()),
                    mode: None,
                }]
            }
            (None, Some(s)) if a.bool(&["remote_src"], false)? => {
                return Ok(Box::new(RemoteCopy {
                    src_at: Default::default(),
                    cur_at: Default::default(),
                    src: s.clone(),
                    spec,
                    force,
                }));
            }
            (None, Some(s)) => {
                let decrypt = a.bool(&["decrypt"], true)?;
                read_sources(&env.find_src(s, "files")?, s.ends_with('/'), decrypt)?
            }
        };
        let single_file = sources.len() == 1 && sources[0].rel.is_none();
        let base = src.as_deref().map(|s| {
            s.trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_string()
        });
        Ok(Box::new(CopyPlan {
            dest_at: Default::default(),
            parent_at: Default::default(),
            into_at: Default::default(),
            sources_at: Default::default(),
            dest,
            spec,
            force,
            dir_mode,
            sources,
            single_file,
            base,
        }))
    }
}

/// One file to copy: its path relative to the copied directory (None for a single file).
struct Source {
    rel: Option<String>,
    /// None for a directory entry.
    data: Option<Vec<u8>>,
    mode: Option<u32>,
}

/// The files under `path`; vaulted ones decrypted (in memory) when `decrypt` (as Ansible's
/// `decrypt: true`, the default).
fn read_sources(path: &Path, contents_only: bool, decrypt: bool) -> Result<Vec<Source>> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_file() {
        let data = read_source(path, decrypt)?;
        return Ok(vec![Source {
            rel: None,
            data: Some(data),
            mode: Some(meta.permissions().mode() & 0o7777),
        }]);
    }
    let mut out = Vec::new();
    let prefix = if contents_only {
        String::new()
    } else {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        out.push(Source {
            rel: Some(name.clone()),
            data: None,
            mode: Some(meta.permissions().mode() & 0o7777),
        });
        name
    };
    walk(path, &prefix, decrypt, &mut out)?;
    Ok(out)
}

fn read_source(path: &Path, decrypt: bool) -> Result<Vec<u8>> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if decrypt {
        crate::vault::open_file_data(path, data)
    } else {
        Ok(data)
    }
}

fn walk(dir: &Path, prefix: &str, decrypt: bool, out: &mut Vec<Source>) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let meta = std::fs::metadata(&p).map_err(|e| Error::io(&p, e))?;
        let mode = Some(meta.permissions().mode() & 0o7777);
        if meta.is_dir() {
            out.push(Source {
                rel: Some(rel.clone()),
                data: None,
                mode,
            });
            walk(&p, &rel, decrypt, out)?;
        } else {
            let data = read_source(&p, decrypt)?;
            out.push(Source {
                rel: Some(rel),
                data: Some(data),
                mode,
            });
        }
    }
    Ok(())
}

struct CopyPlan {
    /// Where a probe's answer is (asked in `ask`).
    dest_at: FileRef,
    parent_at: FileRef,
    into_at: FileRef,
    sources_at: Vec<FileRef>,
    dest: String,
    spec: WriteSpec,
    force: bool,
    dir_mode: Option<ModeSpec>,
    sources: Vec<Source>,
    single_file: bool,
    /// Basename of `src`, for `dest` being a directory.
    base: Option<String>,
}

fn join(dir: &str, rel: &str) -> String {
    format!("{}/{rel}", dir.trim_end_matches('/'))
}

impl Planner for CopyPlan {
    fn ask(&mut self, p: &mut Probes) {
        if self.single_file {
            self.dest_at = p.read(&self.dest);
            self.parent_at = p.stat_follow(&parent_of(&self.dest));
            if let Some(b) = &self.base {
                self.into_at = p.read(&join(&self.dest, b));
            }
        } else {
            self.dest_at = p.stat_follow(&self.dest);
            self.sources_at = self
                .sources
                .iter()
                .map(|s| p.read(&join(&self.dest, s.rel.as_deref().unwrap_or(""))))
                .collect();
        }
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let mut plan = Plan::ok().with("dest", self.dest.as_str());
        if self.single_file {
            let src = &self.sources[0];
            let dest_state = obs.file(self.dest_at)?;
            let into_dir = self.base.is_some() && (dest_state.is_dir() || self.dest.ends_with('/'));
            let (path, cur) = if into_dir {
                let b = self.base.clone().unwrap_or_default();
                (join(&self.dest, &b), obs.file(self.into_at)?.clone())
            } else {
                if !obs.file(self.parent_at)?.is_dir() {
                    return Ok(Plan::fail(format!(
                        "Destination directory {} does not exist",
                        parent_of(&self.dest)
                    )));
                }
                (self.dest.clone(), dest_state.clone())
            };
            if cur.exists && !self.force {
                return Ok(plan.with("msg", "file already exists"));
            }
            let spec = WriteSpec {
                path: path.clone(),
                src_mode: src.mode,
                ..self.spec.clone()
            };
            plan_write(&mut plan, &cur, src.data.clone().unwrap_or_default(), &spec)?;
            plan.result.insert("dest".into(), Value::from(path));
            return Ok(plan);
        }
        // A directory tree.
        let root = obs.file(self.dest_at)?;
        if root.exists && !root.is_dir() {
            return Ok(Plan::fail(format!("dest {} is not a directory", self.dest)));
        }
        if !root.exists {
            let attrs = AttrSpec {
                mode: self.dir_mode.clone(),
                ..Default::default()
            }
            .for_new(true, None)?;
            plan.diffs.push(Diff::new(
                &self.dest,
                "state: absent\n",
                "state: directory\n",
            ));
            plan.step(Step::MakeDir {
                path: self.dest.clone(),
                attrs,
            });
        }
        for (src, at) in self.sources.iter().zip(&self.sources_at) {
            let path = join(&self.dest, src.rel.as_deref().unwrap_or(""));
            let cur: &FileState = obs.file(*at)?;
            match &src.data {
                None => {
                    if !cur.exists {
                        let spec = AttrSpec {
                            mode: self.dir_mode.clone(),
                            ..self.spec.attrs.clone()
                        };
                        let attrs = AttrSpec {
                            mode: spec.mode.clone(),
                            ..spec
                        }
                        .for_new(true, src.mode)?;
                        plan.diffs
                            .push(Diff::new(&path, "state: absent\n", "state: directory\n"));
                        plan.step(Step::MakeDir { path, attrs });
                    } else if !cur.is_dir() {
                        return Ok(Plan::fail(format!("{path} exists and is not a directory")));
                    }
                }
                Some(data) => {
                    if cur.exists && !self.force {
                        continue;
                    }
                    let spec = WriteSpec {
                        path,
                        src_mode: src.mode,
                        ..self.spec.clone()
                    };
                    plan_write(&mut plan, cur, data.clone(), &spec)?;
                }
            }
        }
        plan.result.shift_remove("checksum");
        plan.result.shift_remove("size");
        Ok(plan)
    }
}

fn parent_of(path: &str) -> String {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) => "/".into(),
        Some((d, _)) => d.into(),
        None => ".".into(),
    }
}

/// `remote_src: true`: copy a file that is already on the host.
struct RemoteCopy {
    /// Where a probe's answer is (asked in `ask`).
    src_at: FileRef,
    cur_at: FileRef,
    src: String,
    spec: WriteSpec,
    force: bool,
}

impl Planner for RemoteCopy {
    fn ask(&mut self, p: &mut Probes) {
        self.src_at = p.read(&self.src);
        self.cur_at = p.read(&self.spec.path);
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let src = obs.file(self.src_at)?;
        let cur = obs.file(self.cur_at)?;
        if !src.is_file() {
            return Ok(Plan::fail(format!("Source {} not found", self.src)));
        }
        let mut plan = Plan::ok()
            .with("dest", self.spec.path.as_str())
            .with("src", self.src.as_str());
        if cur.exists && !self.force {
            return Ok(plan);
        }
        let spec = WriteSpec {
            src_mode: Some(src.mode),
            ..self.spec.clone()
        };
        match &src.content {
            Some(data) => plan_write(&mut plan, cur, data.clone(), &spec)?,
            None => {
                if cur.sha256.is_none() || cur.sha256 != src.sha256 {
                    let attrs = if cur.exists {
                        spec.attrs.changes(cur, spec.src_mode)?.0
                    } else {
                        spec.attrs.for_new(false, spec.src_mode)?
                    };
                    plan.diffs.push(Diff::new(
                        &spec.path,
                        format!("sha256: {}\n", cur.sha256.clone().unwrap_or_default()),
                        format!("sha256: {}\n", src.sha256.clone().unwrap_or_default()),
                    ));
                    plan.step(Step::Write(WriteFile {
                        path: spec.path.clone(),
                        source: Some(self.src.clone()),
                        attrs,
                        validate: spec.validate.clone(),
                        backup: spec.backup && cur.exists,
                        follow: spec.follow,
                        ..Default::default()
                    }));
                }
            }
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{args, dir, file, missing, plan_with};
    use crate::modules::{Attrs, Step};

    #[test]
    fn content_is_written_when_different_only() {
        let a = args(
            "copy",
            &[
                ("dest", Value::from("/etc/motd")),
                ("content", Value::from("hello\n")),
                ("mode", Value::from(0o644)),
            ],
        );
        let p = plan_with(
            &Copy,
            a.clone(),
            &[missing("/etc/motd"), dir("/etc", 0o755)],
        );
        assert!(p.changed);
        let Step::Write(w) = &p.steps[0] else {
            panic!()
        };
        assert_eq!(w.content, b"hello\n");
        assert_eq!(
            w.attrs,
            Attrs {
                mode: Some(0o644),
                ..Default::default()
            }
        );
        assert_eq!(p.diffs[0].after, "hello\n");
        let p = plan_with(
            &Copy,
            a.clone(),
            &[file("/etc/motd", 0o644, "hello\n"), dir("/etc", 0o755)],
        );
        assert!(!p.changed);
        let p = plan_with(
            &Copy,
            a,
            &[file("/etc/motd", 0o600, "hello\n"), dir("/etc", 0o755)],
        );
        assert!(p.changed);
        assert!(matches!(p.steps[0], Step::SetAttrs { .. }));
    }

    #[test]
    fn missing_parent_fails_and_force_false_keeps_existing() {
        let a = args(
            "copy",
            &[
                ("dest", Value::from("/nope/x")),
                ("content", Value::from("a")),
            ],
        );
        let p = plan_with(&Copy, a, &[missing("/nope/x"), missing("/nope")]);
        assert_eq!(
            p.failed.as_deref(),
            Some("Destination directory /nope does not exist")
        );
        let a = args(
            "copy",
            &[
                ("dest", Value::from("/etc/x")),
                ("content", Value::from("new")),
                ("force", Value::from(false)),
            ],
        );
        let p = plan_with(
            &Copy,
            a,
            &[file("/etc/x", 0o644, "old"), dir("/etc", 0o755)],
        );
        assert!(!p.changed);
    }

    #[test]
    fn src_file_into_directory() {
        let d = std::env::temp_dir().join(format!("prov-copy-{}", std::process::id()));
        std::fs::create_dir_all(d.join("files")).unwrap();
        std::fs::write(d.join("files/app.conf"), "x=1\n").unwrap();
        let mut env = crate::modules::testing::env();
        env.playbook_dir = d.clone();
        let a = args(
            "copy",
            &[
                ("dest", Value::from("/etc/app/")),
                ("src", Value::from("app.conf")),
            ],
        );
        let p = crate::modules::testing::plan_answers_env(
            &Copy,
            a,
            vec![
                crate::modules::Answer::File(dir("/etc/app", 0o755)),
                crate::modules::Answer::File(dir("/etc", 0o755)),
                crate::modules::Answer::File(missing("/etc/app/app.conf")),
            ],
            &env,
        );
        let Step::Write(w) = &p.steps[0] else {
            panic!()
        };
        assert_eq!(w.path, "/etc/app/app.conf");
        assert_eq!(w.content, b"x=1\n");
        std::fs::remove_dir_all(d).unwrap();
    }
}
