//! `slurp`: read a file from the host, base64-encoded (for `register` and `b64decode`).

use base64::Engine as _;

use super::{Args, CONTENT_LIMIT, FileRef, Module, ModuleEnv, Observed, Plan, Planner, Probes};
use crate::error::Result;

pub struct Slurp;

impl Module for Slurp {
    fn path_options(&self) -> &'static [&'static str] {
        &["src", "path"]
    }
    fn name(&self) -> &'static str {
        "slurp"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&["src", "path"])
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        Ok(Box::new(SlurpPlan {
            src_at: Default::default(),
            src: a.req_str(&["src", "path"])?,
        }))
    }
}

struct SlurpPlan {
    /// Where a probe's answer is (asked in `ask`).
    src_at: FileRef,
    src: String,
}

impl Planner for SlurpPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.src_at = p.read(&self.src);
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let f = obs.file(self.src_at)?;
        if !f.exists {
            return Ok(Plan::fail(format!("file not found: {}", self.src)));
        }
        if f.is_dir() {
            return Ok(Plan::fail(format!(
                "source is a directory and must be a file: {}",
                self.src
            )));
        }
        let Some(content) = &f.content else {
            return Ok(Plan::fail(format!(
                "{} is larger than {CONTENT_LIMIT} bytes",
                self.src
            )));
        };
        Ok(Plan::ok()
            .with(
                "content",
                base64::engine::general_purpose::STANDARD.encode(content),
            )
            .with("encoding", "base64")
            .with("source", self.src.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{args, file, plan_with};
    use minijinja::Value;

    #[test]
    fn encodes_content() {
        let p = plan_with(
            &Slurp,
            args("slurp", &[("src", Value::from("/etc/hostname"))]),
            &[file("/etc/hostname", 0o644, "golyat-1\n")],
        );
        assert_eq!(p.result["content"], Value::from("Z29seWF0LTEK"));
        assert!(!p.changed);
    }
}
