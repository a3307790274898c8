//! Test support: one task parsed from YAML, as a task list holds it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Task;
use super::parse::ParseCtx;
use crate::error::Result;

/// The task this YAML mapping writes (file `t.yml`, no role, no inherited keywords).
pub fn task(yaml: &str) -> Result<Task> {
    let node = crate::yaml::parse_str(yaml, "t.yml")?;
    let mut ctx = ParseCtx::new(Path::new("."), &[], &crate::modules::CATALOG);
    super::tasks::parse_task(
        &node,
        &Default::default(),
        None,
        &Arc::new(PathBuf::from("t.yml")),
        &mut ctx,
        false,
    )
}
