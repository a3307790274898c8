//! `assert`: fail unless every condition in `that` holds.

use minijinja::Value;

use super::{Args, Fixed, Module, ModuleEnv, Plan, Planner};
use crate::error::{Error, Result};

pub struct Assert;

impl Module for Assert {
    fn name(&self) -> &'static str {
        "assert"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&["that", "fail_msg", "msg", "success_msg", "quiet"])
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        let that = a
            .get(&["that"])
            .cloned()
            .ok_or_else(|| Error::runtime("assert: missing required option 'that'"))?;
        let conditions: Vec<Value> = if crate::template::is_list(&that) {
            that.try_iter()?.collect()
        } else {
            vec![that]
        };
        for c in conditions {
            if !crate::template::eval_condition(&c, &env.vars)? {
                let msg = a
                    .get(&["fail_msg", "msg"])
                    .cloned()
                    .unwrap_or_else(|| Value::from("Assertion failed"));
                let mut plan = Plan::fail(crate::template::to_text(&msg));
                plan.result.insert("assertion".into(), c.clone());
                plan.result
                    .insert("evaluated_to".into(), Value::from(false));
                return Ok(Box::new(Fixed(plan)));
            }
        }
        let msg = a
            .get(&["success_msg"])
            .cloned()
            .unwrap_or_else(|| Value::from("All assertions passed"));
        Ok(Box::new(Fixed(Plan::ok().with("msg", msg))))
    }
}
