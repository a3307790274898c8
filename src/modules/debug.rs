//! `debug`: print a message or a variable.

use minijinja::Value;

use super::{Args, Fixed, Module, ModuleEnv, Plan, Planner};
use crate::error::{Error, Result};

pub struct Debug;

impl Module for Debug {
    fn name(&self) -> &'static str {
        "debug"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(&["msg", "var", "verbosity"])
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        if a.has("msg") && a.has("var") {
            return Err(Error::runtime(
                "debug: parameters are mutually exclusive: msg|var",
            ));
        }
        let plan = if let Some(var) = a.str(&["var"])? {
            let value = match crate::template::eval_expression(&var, &env.vars) {
                Ok(v) => v,
                Err(_) => Value::from("VARIABLE IS NOT DEFINED!"),
            };
            Plan::ok().with(&var, value)
        } else {
            let msg = a
                .get(&["msg"])
                .cloned()
                .unwrap_or_else(|| Value::from("Hello world!"));
            Plan::ok().with("msg", msg)
        };
        let verbosity = a.int(&["verbosity"])?.unwrap_or(0);
        if verbosity > i64::from(env.verbosity) {
            return Ok(Box::new(Fixed(Plan::skip("verbosity threshold not met"))));
        }
        Ok(Box::new(Fixed(plan)))
    }
}
