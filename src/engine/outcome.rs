//! The outcome of a task on a host: an item's status, message, diffs and result ([`ItemRun`]),
//! what `register` binds, and `changed_when` / `failed_when` applied to it.

use std::sync::Arc;

use minijinja::Value;

use crate::error::{Error, ErrorKind};
use crate::modules::Diff;
use crate::playbook::Task;
use crate::report::Status;
use crate::template::eval_condition;
use crate::vars::{Context, Layer, VarMap};

/// The result of one item (or of the task, without a loop).
#[derive(Default)]
pub(super) struct ItemRun {
    pub(super) status: Option<Status>,
    pub(super) msg: Option<String>,
    pub(super) diffs: Vec<Diff>,
    pub(super) result: VarMap,
    pub(super) set_facts: Option<VarMap>,
    pub(super) facts: Option<VarMap>,
    /// Which of `facts` are also variables of their own name ([`super::host::HostRun::add_facts`]).
    pub(super) plain_facts: Vec<String>,
    pub(super) included_vars: Option<VarMap>,
    pub(super) delegated: Option<String>,
    pub(super) show: bool,
    /// The Ansible module that ran in prov's place ([`super::foreign`]).
    pub(super) via: Option<String>,
    /// A group the host joins (group_by).
    pub(super) group: Option<crate::modules::group_by::GroupMembership>,
    /// Where a templating error that failed the item came from.
    pub(super) origin: Option<super::origin::Failure>,
    /// Skipped by a dry run that cannot know the result ([`crate::report::HostOutcome::unknown`]).
    pub(super) unknown: bool,
}

impl ItemRun {
    pub(super) fn status(&self) -> Status {
        self.status.unwrap_or(Status::Ok)
    }
    /// Turn this run into a failure with `msg` (also the registered `msg`).
    pub(super) fn fail(&mut self, msg: String) {
        self.status = Some(Status::Failed);
        self.result.insert("msg".into(), Value::from(msg.as_str()));
        self.msg = Some(msg);
    }
    /// An item that ended with `status`, its message also in the result under `key`.
    fn ended(status: Status, msg: impl Into<String>, key: &str) -> ItemRun {
        let msg = msg.into();
        let mut r = ItemRun {
            status: Some(status),
            msg: Some(msg.clone()),
            ..Default::default()
        };
        r.result.insert(key.into(), Value::from(msg));
        r
    }
    pub(super) fn failed(msg: impl Into<String>) -> ItemRun {
        ItemRun::ended(Status::Failed, msg, "msg")
    }
    pub(super) fn unreachable(msg: impl Into<String>) -> ItemRun {
        let mut r = ItemRun::ended(Status::Unreachable, msg, "msg");
        r.result.insert("unreachable".into(), Value::from(true));
        r
    }
    pub(super) fn skipped(msg: impl Into<String>) -> ItemRun {
        ItemRun::ended(Status::Skipped, msg, "skip_reason")
    }
    pub(super) fn from_error(e: Error) -> ItemRun {
        let mut r = match e.kind {
            ErrorKind::Unreachable => ItemRun::unreachable(e.to_string()),
            _ => ItemRun::failed(e.to_string()),
        };
        r.origin = super::origin::Failure::of(&e);
        r
    }
    /// How this item is reported in a loop, under `label`.
    pub(super) fn item(&self, label: &str) -> crate::report::ItemOutcome {
        crate::report::ItemOutcome {
            label: label.to_string(),
            status: self.status(),
            msg: self.msg.clone(),
            ignored: false,
            unknown: self.unknown,
            diffs: self.diffs.clone(),
        }
    }
    /// The registered value: the module's fields plus Ansible's flags.
    pub(super) fn value(&self) -> Value {
        let mut m = self.result.clone();
        let st = self.status();
        m.insert("changed".into(), Value::from(st == Status::Changed));
        m.insert("failed".into(), Value::from(st == Status::Failed));
        if st == Status::Skipped {
            m.insert("skipped".into(), Value::from(true));
        }
        if let (Some(msg), false) = (&self.msg, m.contains_key("msg")) {
            m.insert("msg".into(), Value::from(msg.as_str()));
        }
        crate::vars::map_to_value(&m)
    }
}

/// The context with the result bound to the `register` name (for changed_when/failed_when/until).
pub(super) fn bind_result(t: &Task, ctx: &Arc<Context>, run: &ItemRun) -> Arc<Context> {
    let mut m = VarMap::new();
    if let Some(r) = &t.register {
        m.insert(r.clone(), run.value());
    }
    ctx.with(Layer::fixed("result", Arc::new(m)))
}

pub(super) fn post_conditions(t: &Task, ctx: &Arc<Context>, mut run: ItemRun) -> ItemRun {
    if t.changed_when.is_none() && t.failed_when.is_none() {
        return run;
    }
    let bound = bind_result(t, ctx, &run);
    if let Some(conds) = &t.changed_when {
        let mut changed = true;
        for c in conds {
            match eval_condition(c, &bound) {
                Ok(v) => changed &= v,
                Err(e) => return ItemRun::from_error(e.context("changed_when")),
            }
        }
        if run.status() != Status::Failed {
            run.status = Some(if changed { Status::Changed } else { Status::Ok });
        }
        if conds.is_empty() {
            run.status = Some(Status::Ok);
        }
    }
    if let Some(conds) = &t.failed_when {
        let bound = bind_result(t, ctx, &run);
        let mut failed = !conds.is_empty();
        for c in conds {
            match eval_condition(c, &bound) {
                Ok(v) => failed &= v,
                Err(e) => return ItemRun::from_error(e.context("failed_when")),
            }
        }
        run.result
            .insert("failed_when_result".into(), Value::from(failed));
        if failed {
            run.status = Some(Status::Failed);
            if run.msg.is_none() {
                run.msg = Some("failed_when condition was true".into());
            }
        } else if run.status() == Status::Failed {
            let changed = run.result.get("rc").is_some() && t.changed_when.is_none();
            run.status = Some(if changed { Status::Changed } else { Status::Ok });
            run.msg = None;
        }
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Arc<Context> {
        Context::new(vec![Layer::raw("test", VarMap::new())])
    }

    /// A command's run: `rc` and `stdout` in the result, failed unless rc is 0.
    fn command(rc: i64, stdout: &str) -> ItemRun {
        let mut r = ItemRun {
            status: Some(if rc == 0 {
                Status::Changed
            } else {
                Status::Failed
            }),
            msg: (rc != 0).then(|| "non-zero return code".into()),
            ..Default::default()
        };
        r.result.insert("rc".into(), Value::from(rc));
        r.result.insert("stdout".into(), Value::from(stdout));
        r
    }

    fn after(task: &str, run: ItemRun) -> ItemRun {
        let t = crate::playbook::testing::task(task).unwrap();
        post_conditions(&t, &ctx(), run)
    }

    #[test]
    fn changed_when_and_failed_when_decide_as_ansible_does() {
        let t = "command: x\nregister: out\n";
        // changed_when reads the registered result.
        let r = after(
            &format!("{t}changed_when: \"'new' in out.stdout\""),
            command(0, "old"),
        );
        assert_eq!(r.status(), Status::Ok);
        let r = after(
            &format!("{t}changed_when: \"'new' in out.stdout\""),
            command(0, "new"),
        );
        assert_eq!(r.status(), Status::Changed);
        // An empty list: never changed. A failed command stays failed.
        assert_eq!(
            after(&format!("{t}changed_when: []"), command(0, "")).status(),
            Status::Ok
        );
        assert_eq!(
            after(&format!("{t}changed_when: false"), command(2, "")).status(),
            Status::Failed
        );
        // failed_when: true fails with Ansible's message; false turns a failure into success
        // (changed, as a command that ran).
        let r = after(&format!("{t}failed_when: out.rc == 0"), command(0, ""));
        assert_eq!(r.status(), Status::Failed);
        assert_eq!(r.msg.as_deref(), Some("failed_when condition was true"));
        assert_eq!(r.result["failed_when_result"], Value::from(true));
        let r = after(&format!("{t}failed_when: out.rc > 2"), command(2, ""));
        assert_eq!((r.status(), r.msg.as_deref()), (Status::Changed, None));
        // Every condition of a list must hold.
        let r = after(
            &format!("{t}failed_when: [out.rc == 2, \"'x' in out.stdout\"]"),
            command(2, "y"),
        );
        assert_eq!(r.status(), Status::Changed);
    }

    #[test]
    fn a_condition_that_cannot_be_evaluated_fails_the_item() {
        let r = after("command: x\nchanged_when: nosuchvar.x", command(0, ""));
        assert_eq!(r.status(), Status::Failed);
        assert!(r.msg.unwrap().starts_with("changed_when: "));
        let r = after("command: x\nfailed_when: nosuchvar.x", command(0, ""));
        assert!(r.msg.unwrap().starts_with("failed_when: "));
    }

    #[test]
    fn the_registered_value_has_ansibles_flags() {
        let v = command(0, "out").value();
        assert_eq!(v.get_attr("changed").unwrap(), Value::from(true));
        assert_eq!(v.get_attr("failed").unwrap(), Value::from(false));
        let v = ItemRun::skipped("conditional result was False").value();
        assert_eq!(v.get_attr("skipped").unwrap(), Value::from(true));
        assert_eq!(
            v.get_attr("skip_reason").unwrap(),
            Value::from("conditional result was False")
        );
        let v = ItemRun::from_error(Error::unreachable("gone")).value();
        assert_eq!(v.get_attr("unreachable").unwrap(), Value::from(true));
        let mut r = command(0, "");
        r.fail("no".into());
        assert_eq!(r.value().get_attr("msg").unwrap(), Value::from("no"));
    }
}
