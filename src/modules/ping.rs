//! `ping`: check that the host answers (the probe round trip is the check).

use super::{Args, Module, ModuleEnv, Observed, Plan, Planner, Probe};
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
        )))
    }
}

struct PingPlan(String);

impl Planner for PingPlan {
    fn probes(&self) -> Vec<Probe> {
        vec![Probe::Command("echo pong".into())]
    }
    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let out = obs.cmd(0)?;
        if out.stdout.trim() != "pong" {
            return Ok(Plan::fail(format!(
                "unexpected ping answer: {}",
                out.stdout.trim()
            )));
        }
        Ok(Plan::ok().with("ping", self.0))
    }
}
