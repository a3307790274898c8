//! Batched loops: a loop whose items only read and write files is planned in one round trip for
//! all items and applied step by step.

use std::sync::Arc;

use minijinja::Value;

use super::loops::*;
use super::outcome::*;
use super::task::*;
use crate::error::Error;
use crate::modules::{Observed, Probe};
use crate::playbook::{Action, Task};
use crate::report::Status;
use crate::vars::Layer;

/// Can a loop read the host once for all its items? Not when items depend on each other
/// through variables (set_fact, include_vars), retry, pause, or go to another host.
pub(super) fn batchable(t: &Task) -> bool {
    matches!(&t.action, Action::Module { module, .. } if !matches!(*module, "set_fact" | "setup"))
        && t.until.is_none()
        && t.loop_control.pause.is_none()
        && t.d.delegate_to.is_none()
}

/// A loop whose items' probes go to the host in one round trip; the items are then planned
/// and applied in order, each seeing the files earlier items wrote.
pub(super) async fn run_batched(
    tr: TaskRun<'_>,
    extra: &[Layer],
    items: Vec<Value>,
) -> Vec<(Option<String>, ItemRun)> {
    let TaskRun { s, pc, t, h } = tr;
    enum Slot {
        Done(Box<ItemRun>),
        Ready(Box<Prepared>),
    }
    let total = items.len();
    let base = s.context(pc, h, Some(t), extra);
    let mut slots = Vec::with_capacity(total);
    let mut labels = Vec::with_capacity(total);
    for (i, item) in items.iter().enumerate() {
        let ctx = base.with(Layer::fixed("loop", Arc::new(item_vars(t, item, i, total))));
        labels.push(item_label(t, item, &ctx));
        slots.push(match gate(s, t, &ctx) {
            Err(run) => Slot::Done(run),
            Ok(check) => match async {
                let module = render_module(tr, &ctx, check).await?;
                prepare_module(tr, &ctx, check, module)
            }
            .await
            {
                Ok(p) => Slot::Ready(Box::new(p)),
                Err(e) => Slot::Done(Box::new(ItemRun::from_error(e))),
            },
        });
    }
    // One round trip for every item's probes.
    let batch = {
        let ready: Vec<&Prepared> = slots
            .iter()
            .filter_map(|s| {
                if let Slot::Ready(p) = s {
                    Some(&**p)
                } else {
                    None
                }
            })
            .collect();
        let uniform = ready.windows(2).all(|w| w[0].run_as == w[1].run_as);
        match ready.first() {
            Some(first) if uniform => {
                // Items often read the same thing (the same file, the same package list):
                // each distinct probe is asked once, and every item gets its answers.
                let mut all: Vec<Probe> = Vec::new();
                let mut maps: std::collections::VecDeque<Vec<usize>> = Default::default();
                for p in &ready {
                    let map = p
                        .probes
                        .iter()
                        .map(|probe| match all.iter().position(|q| q == probe) {
                            Some(i) => i,
                            None => {
                                all.push(probe.clone());
                                all.len() - 1
                            }
                        })
                        .collect();
                    maps.push_back(map);
                }
                Some((all, maps, first.run_as.clone()))
            }
            _ => None,
        }
    };
    let mut shared: Option<std::result::Result<(Observed, Option<Conn>), Error>> = None;
    let mut maps = std::collections::VecDeque::new();
    if let Some((all, m, run_as)) = batch {
        maps = m;
        shared = Some(read_state(tr, &base, &all, &run_as).await);
    }
    let mut local = LoopState::default();
    let mut out = Vec::with_capacity(total);
    let hidden = no_log(t, &base);
    for ((slot, label), item) in slots.into_iter().zip(labels).zip(items) {
        let mut run = match slot {
            Slot::Done(run) => *run,
            Slot::Ready(prep) => {
                let ctx = prep.ctx.clone();
                let n = prep.probes.len();
                let map = maps.pop_front().unwrap_or_default();
                let state = match &shared {
                    Some(Ok((obs, conn))) if !(local.ran_command && n > 0) => Ok((
                        Observed {
                            answers: map.iter().map(|&i| obs.answers[i].clone()).collect(),
                        },
                        conn.clone(),
                    )),
                    Some(Err(e)) => Err(e.clone()),
                    _ => read_state(tr, &ctx, &prep.probes, &prep.run_as).await,
                };
                let run = match state {
                    Ok((obs, conn)) => finish_module(tr, *prep, (obs, conn), &mut local)
                        .await
                        .unwrap_or_else(ItemRun::from_error),
                    Err(e) => ItemRun::from_error(e),
                };
                if matches!(run.status(), Status::Unreachable | Status::Skipped) {
                    run
                } else {
                    post_conditions(t, &ctx, run)
                }
            }
        };
        apply_effects(s, t, h, &run);
        run.result.insert(t.loop_control.loop_var.clone(), item);
        run.result.insert(
            "ansible_loop_var".into(),
            Value::from(t.loop_control.loop_var.as_str()),
        );
        show_item(tr, hidden, &label, &run);
        out.push((Some(label), run));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_read_the_host_once_unless_items_depend_on_each_other() {
        let batch = |yaml: &str| batchable(&crate::playbook::testing::task(yaml).unwrap());
        assert!(batch("copy: {dest: /x, content: y}\nloop: [1, 2]"));
        assert!(!batch("set_fact: {x: 1}\nloop: [1, 2]"));
        assert!(!batch(
            "copy: {dest: /x, content: y}\nuntil: r is success\nregister: r"
        ));
        assert!(!batch(
            "copy: {dest: /x, content: y}\nloop_control: {pause: 1}"
        ));
        assert!(!batch(
            "copy: {dest: /x, content: y}\ndelegate_to: localhost"
        ));
        assert!(!batch("include_tasks: x.yml"));
    }
}
