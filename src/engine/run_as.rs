//! How a task runs on its target: privilege escalation (`become`, its user, method and
//! password), the `environment:` of its commands, and its timeout.

use std::sync::Arc;
use std::time::Duration;

use minijinja::Value;
use minijinja::value::ValueKind;

use super::Shared;
use crate::error::{Error, Result};
use crate::playbook::Task;
use crate::template::{render_value, to_text};
use crate::transport::Become;
use crate::vars::Context;

/// `become` for this task: keywords, then host vars, then command line / ansible.cfg.
pub(super) fn become_for(s: &Shared, t: &Task, ctx: &Arc<Context>) -> Result<Option<Become>> {
    let var = |name: &str| -> Result<Option<Value>> {
        Ok(ctx.get(name)?.filter(|v| !v.is_none() && !v.is_undefined()))
    };
    let on = match &t.d.become_ {
        Some(v) => crate::template::eval_flag(v, ctx)?,
        None => match var("ansible_become")? {
            Some(v) => crate::template::filters::to_bool(&v),
            None => s.opts.become_,
        },
    };
    if !on {
        return Ok(None);
    }
    let user = match &t.d.become_user {
        Some(v) => to_text(&render_value(v, ctx)?),
        None => match var("ansible_become_user")? {
            Some(v) => to_text(&v),
            None => s.opts.become_user.clone().unwrap_or_else(|| "root".into()),
        },
    };
    let method =
        t.d.become_method
            .clone()
            .or(var("ansible_become_method")?.map(|v| to_text(&v)))
            .or(s.opts.become_method.clone())
            .unwrap_or_else(|| "sudo".into());
    if !matches!(method.as_str(), "sudo" | "ansible.builtin.sudo") {
        return Err(Error::usage(format!(
            "become_method '{method}' is not supported (sudo is)"
        )));
    }
    let password = match var("ansible_become_password")?.or(var("ansible_become_pass")?) {
        Some(v) => Some(to_text(&v)),
        None => s.opts.become_password.clone(),
    };
    Ok(Some(Become {
        user,
        method,
        password,
    }))
}

/// `environment:` dicts merged (inner wins), values templated.
pub(super) fn environment(t: &Task, ctx: &Arc<Context>) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for e in &t.d.environment {
        let v = render_value(e, ctx)?;
        if v.kind() != ValueKind::Map {
            return Err(Error::runtime("environment must be a dictionary"));
        }
        for (k, val) in crate::vars::value_to_map(&v) {
            if !crate::vars::is_identifier(&k) {
                return Err(Error::runtime(format!(
                    "'{k}' is not a valid environment variable name"
                )));
            }
            out.retain(|(x, _)| *x != k);
            out.push((k, to_text(&val)));
        }
    }
    Ok(out)
}

/// How a task's scripts run on the host: privilege escalation and time limit.
#[derive(Clone, PartialEq)]
pub(super) struct RunAs {
    pub(super) become_: Option<Become>,
    pub(super) timeout: Option<Duration>,
    /// The host, task and module its changes are journaled under.
    pub(super) label: super::journal::Label,
}

/// The journal label of task `t` on host `h`.
pub(super) fn label(s: &Shared, t: &Task, h: usize, ctx: &Arc<Context>) -> super::journal::Label {
    let module = match &t.action {
        crate::playbook::Action::Module { module, .. } => module.to_string(),
        crate::playbook::Action::Foreign { module, .. } => module.clone(),
        _ => String::new(),
    };
    super::journal::Label {
        host: s.host_name(h),
        task: t.display_name(),
        module,
        no_log: super::task::no_log(t, ctx),
    }
}
