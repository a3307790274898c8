//! `ping`: check that the host answers (the probe round trip is the check).

use super::{Args, CmdRef, Module, ModuleEnv, Observed, Plan, Planner, Probes};
use crate::error::Result;

pub struct Ping;

impl Module for Ping {
    fn name(&self) -> &'static str {
        "ping"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&["data"])
    }
    fn prepare(&self, a: Args, _env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        Ok(Box::new(PingPlan(
            a.str(&["data"])?.unwrap_or_else(|| "pong".into()),
            CmdRef::default(),
        )))
    }
}

/// The data to answer with, and where the host's echo is.
struct PingPlan(String, CmdRef);

impl Planner for PingPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.1 = p.command("echo pong");
    }
    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let out = obs.cmd(self.1)?;
        if out.stdout.trim() != "pong" {
            return Ok(Plan::fail(format!(
                "unexpected ping answer: {}",
                out.stdout.trim()
            )));
        }
        Ok(Plan::ok().with("ping", self.0))
    }
}
