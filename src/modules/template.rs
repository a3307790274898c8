//! `template`: render a Jinja template on the controller and write it to `dest`.
//!
//! `src` is searched in the role's `templates/`, then the playbook's. Rendering uses the task's
//! variables plus Ansible's template variables (`ansible_managed`, `template_path`, ...), with
//! `trim_blocks` on by default and a `#jinja2:` first line able to change the options. The
//! rendered text is then written like `copy` content (atomic, validated, diffed).

use minijinja::Value;

use super::attrs::AttrSpec;
use super::content::{WriteSpec, check_validate, plan_write};
use super::{Args, FileRef, Module, ModuleEnv, Observed, Plan, Planner, Probes};
use crate::error::{Error, Result};
use crate::template::TemplateOptions;
use crate::vars::{Layer, VarMap};

pub struct Template;

const OPTIONS: &[&str] = super::attrs::with_file_options![
    "src",
    "dest",
    "backup",
    "force",
    "validate",
    "follow",
    "newline_sequence",
    "trim_blocks",
    "lstrip_blocks",
    "block_start_string",
    "block_end_string",
    "variable_start_string",
    "variable_end_string",
    "comment_start_string",
    "comment_end_string",
    "output_encoding",
];

impl Module for Template {
    fn path_options(&self) -> &'static [&'static str] {
        &["dest"]
    }
    fn name(&self) -> &'static str {
        "template"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        super::file::unsupported(&a, &["attributes", "selevel", "serole", "setype", "seuser"])?;
        let src = a.req_str(&["src"])?;
        let dest = a.req_str(&["dest"])?;
        let validate = a.str(&["validate"])?;
        check_validate("template", &validate)?;
        let path = env.find_src(&src, "templates")?;
        let source = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        // A vaulted template is decrypted (in memory), as Ansible's template action does.
        let source = String::from_utf8(crate::vault::open_file_data(&path, source)?)
            .map_err(|_| Error::runtime(format!("{}: not UTF-8 text", path.display())))?;
        let mut opts = TemplateOptions::default();
        if let Some(b) = a.opt_bool(&["trim_blocks"])? {
            opts.trim_blocks = b;
        }
        if let Some(b) = a.opt_bool(&["lstrip_blocks"])? {
            opts.lstrip_blocks = b;
        }
        for (key, slot) in [
            ("block_start_string", &mut opts.block_start),
            ("block_end_string", &mut opts.block_end),
            ("variable_start_string", &mut opts.variable_start),
            ("variable_end_string", &mut opts.variable_end),
        ] {
            if let Some(v) = a.str(&[key])? {
                *slot = v;
            }
        }
        let full = path
            .canonicalize()
            .unwrap_or(path.clone())
            .display()
            .to_string();
        let mut tvars = VarMap::new();
        tvars.insert("ansible_managed".into(), Value::from("Ansible managed"));
        tvars.insert("template_path".into(), Value::from(src.as_str()));
        tvars.insert("template_fullpath".into(), Value::from(full.as_str()));
        tvars.insert("template_destpath".into(), Value::from(dest.as_str()));
        tvars.insert("template_host".into(), Value::from(hostname()));
        tvars.insert(
            "template_uid".into(),
            Value::from(std::env::var("USER").unwrap_or_else(|_| "root".into())),
        );
        let ctx = env
            .vars
            .with(Layer::fixed("template vars", std::sync::Arc::new(tvars)));
        let mut text = crate::template::render_file(&source, &full, &ctx, opts)?;
        if let Some(nl) = a.str(&["newline_sequence"])? {
            let nl = nl.replace("\\r", "\r").replace("\\n", "\n");
            if nl != "\n" {
                text = text.replace('\n', &nl);
            }
        }
        let spec = WriteSpec {
            path: dest.clone(),
            attrs: AttrSpec::from_args(&a)?,
            validate,
            backup: a.bool(&["backup"], false)?,
            follow: a.bool(&["follow"], false)?,
            make_parents: false,
            src_mode: std::fs::metadata(&path)
                .ok()
                .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777),
        };
        Ok(Box::new(TemplatePlan {
            dest_at: Default::default(),
            parent_at: Default::default(),
            spec,
            content: text.into_bytes(),
            force: a.bool(&["force"], true)?,
        }))
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

struct TemplatePlan {
    /// Where a probe's answer is (asked in `ask`).
    dest_at: FileRef,
    parent_at: FileRef,
    spec: WriteSpec,
    content: Vec<u8>,
    force: bool,
}

impl Planner for TemplatePlan {
    fn ask(&mut self, p: &mut Probes) {
        let parent = match self.spec.path.rsplit_once('/') {
            Some(("", _)) => "/".to_string(),
            Some((d, _)) => d.to_string(),
            None => ".".to_string(),
        };
        self.dest_at = p.read(&self.spec.path);
        self.parent_at = p.stat_follow(&parent);
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let cur = obs.file(self.dest_at)?;
        let mut plan = Plan::ok().with("dest", self.spec.path.as_str());
        if cur.is_dir() {
            return Ok(Plan::fail(format!(
                "dest {} is a directory",
                self.spec.path
            )));
        }
        if !cur.exists && !obs.file(self.parent_at)?.is_dir() {
            let parent = obs.file(self.parent_at)?.path.clone();
            return Ok(Plan::fail(format!(
                "Destination directory {parent} does not exist"
            )));
        }
        if cur.exists && !self.force {
            return Ok(plan);
        }
        plan_write(&mut plan, cur, self.content, &self.spec)?;
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{args, dir, file, missing, plan_answers_env};
    use crate::modules::{Answer, Step};
    use crate::vars::Context;

    #[test]
    fn renders_with_task_vars_and_role_templates_dir() {
        let d = std::env::temp_dir().join(format!("prov-tmpl-{}", std::process::id()));
        std::fs::create_dir_all(d.join("role/templates")).unwrap();
        std::fs::write(d.join("role/templates/kubelet.j2"), "# {{ ansible_managed }}\n{% if ip %}\nKUBELET_EXTRA_ARGS=--node-ip={{ ip }}\n{% endif %}\n").unwrap();
        let mut vars = VarMap::new();
        vars.insert("ip".into(), Value::from("192.168.10.101"));
        let mut env = crate::modules::testing::env();
        env.vars = Context::new(vec![Layer::raw("t", vars)]);
        env.role_path = Some(d.join("role"));
        let a = args(
            "template",
            &[
                ("src", Value::from("kubelet.j2")),
                ("dest", Value::from("/etc/default/kubelet")),
            ],
        );
        let expected = "# Ansible managed\nKUBELET_EXTRA_ARGS=--node-ip=192.168.10.101\n";
        let p = plan_answers_env(
            &Template,
            a.clone(),
            vec![
                Answer::File(missing("/etc/default/kubelet")),
                Answer::File(dir("/etc/default", 0o755)),
            ],
            &env,
        );
        let Step::Write(w) = &p.steps[0] else {
            panic!("{p:?}")
        };
        assert_eq!(String::from_utf8_lossy(&w.content), expected);
        let p = plan_answers_env(
            &Template,
            a,
            vec![
                Answer::File(file("/etc/default/kubelet", 0o644, expected)),
                Answer::File(dir("/etc/default", 0o755)),
            ],
            &env,
        );
        assert!(!p.changed);
        std::fs::remove_dir_all(d).unwrap();
    }
}
