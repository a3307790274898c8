//! `fail`: fail the task with a message.

use super::{Args, Fixed, Module, ModuleEnv, Plan, Planner};
use crate::error::Result;

pub struct Fail;

impl Module for Fail {
    fn name(&self) -> &'static str {
        "fail"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&["msg"])
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let msg = a
            .str(&["msg"])?
            .unwrap_or_else(|| "Failed as requested from task".into());
        Ok(Box::new(Fixed(Plan::fail(msg))))
    }
}
