//! `--start-at-task` and `--step`: which tasks of a run are passed over, as ansible-playbook
//! 2.19 decides it.
//!
//! `--start-at-task PATTERN` (Ansible's PlayIterator): until a task has matched, each play's
//! tasks (pre_tasks, roles, tasks, post_tasks, into blocks and their `always`; not `rescue`,
//! handlers or dynamic includes) are searched for the first whose name or `role : name` equals
//! or glob-matches the pattern. A play without one runs nothing (its header is printed; no
//! facts, tasks or handlers). In the play with the match, facts are gathered and the tasks
//! before it are passed over without a word; later batches, plays and playbooks run whole.
//! When nothing matched in the whole run, the caller prints Ansible's error after the recap
//! (and the exit code stays Ansible's: 0 when nothing failed).
//!
//! `--step` (Ansible's linear strategy): before each task its tags select (not blocks, `meta`
//! or handlers; `Gathering Facts` too) `Perform task: TASK: NAME (N)o/(y)es/(c)ontinue: ` is
//! printed and a line read from stdin, as Ansible's `input()` does; `y`/`yes` runs the task,
//! `c`/`continue` runs it and the rest of the batch without asking, anything else passes over
//! it silently. The end of stdin stops the run as Ctrl-C does (Ansible dies with a traceback).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::playbook::{Action, Play, Task};

use super::{PlayCtx, Shared, tags_match};

/// Where `--start-at-task` stands in the run.
#[derive(Debug, Default)]
pub enum StartAt {
    /// Not asked for, or its task has been reached.
    #[default]
    Off,
    /// No play had a matching task yet.
    Searching(String),
    /// The matching task of the current play (by address) is still ahead.
    Ahead(usize),
}

impl StartAt {
    pub fn new(pattern: Option<&str>) -> StartAt {
        match pattern {
            Some(p) => StartAt::Searching(p.to_string()),
            None => StartAt::Off,
        }
    }
}

/// Ansible's test: the name or the full `role : name`, equal or matching as a glob.
fn matches(t: &Task, pattern: &str) -> bool {
    let full = t.display_name();
    let name = t.name.clone().unwrap_or_else(|| full.clone());
    [name, full]
        .iter()
        .any(|n| n == pattern || crate::shlex::glob_match(pattern, n))
}

fn address(t: &Arc<Task>) -> usize {
    Arc::as_ptr(t) as usize
}

/// The first task of `tasks` (into blocks and their `always`) matching `pattern`.
fn find(tasks: &[Arc<Task>], pattern: &str) -> Option<usize> {
    tasks.iter().find_map(|t| match &t.action {
        Action::Block { block, always, .. } => {
            find(block, pattern).or_else(|| find(always, pattern))
        }
        _ => matches(t, pattern).then(|| address(t)),
    })
}

/// Does `t` hold the task at `target` (itself, or in one of its blocks)?
fn holds(t: &Arc<Task>, target: usize) -> bool {
    if address(t) == target {
        return true;
    }
    match &t.action {
        Action::Block {
            block,
            rescue,
            always,
        } => block
            .iter()
            .chain(rescue.iter())
            .chain(always.iter())
            .any(|c| holds(c, target)),
        _ => false,
    }
}

impl Shared {
    /// `--start-at-task` for a play about to run: the address of its matching task, when
    /// it has the one the run is still searching for; `Err(())` when the play must run
    /// nothing because the search goes on past it.
    pub(super) fn start_at_play(&self, play: &Play) -> Result<Option<usize>, ()> {
        let StartAt::Searching(pattern) = &*self.start_at.lock().unwrap() else {
            return Ok(None);
        };
        let lists = [&play.pre_tasks]
            .into_iter()
            .chain(play.roles.iter().map(|r| &r.tasks))
            .chain([&play.tasks, &play.post_tasks]);
        let mut found = None;
        for list in lists {
            found = find(list, pattern);
            if found.is_some() {
                break;
            }
        }
        found.map(Some).ok_or(())
    }

    /// From now on, pass over every task before the one at `target`.
    pub(super) fn start_at_from(&self, target: usize) {
        *self.start_at.lock().unwrap() = StartAt::Ahead(target);
    }

    /// Is `t` passed over because the `--start-at-task` task is still ahead? Reaching that
    /// task ends the passing over; a block holding it is entered.
    pub(super) fn before_start(&self, t: &Arc<Task>) -> bool {
        let mut state = self.start_at.lock().unwrap();
        let StartAt::Ahead(target) = *state else {
            return false;
        };
        if address(t) == target {
            *state = StartAt::Off;
            return false;
        }
        !holds(t, target)
    }

    /// The pattern of a `--start-at-task` that no task of the run matched.
    pub fn start_at_missed(&self) -> Option<String> {
        match &*self.start_at.lock().unwrap() {
            StartAt::Searching(p) => Some(p.clone()),
            _ => None,
        }
    }

    /// `--step`: ask whether to run `t`; false passes over it.
    pub(super) async fn step_allows(&self, pc: &PlayCtx, t: &Task) -> bool {
        if !pc.stepping.load(Ordering::SeqCst)
            || !tags_match(&t.d.tags, &self.opts.tags, &self.opts.skip_tags)
        {
            return true;
        }
        let question = format!(
            "Perform task: TASK: {} (N)o/(y)es/(c)ontinue: ",
            t.display_name()
        );
        self.reporter.ask(&question);
        let read = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            match std::io::stdin().read_line(&mut line) {
                Ok(0) | Err(_) => None,
                Ok(_) => Some(line),
            }
        });
        let answer = tokio::select! {
            r = read => r.ok().flatten(),
            () = self.cancel.cancelled() => return false,
        };
        let Some(answer) = answer else {
            self.reporter.note("");
            self.reporter
                .warn("--step: stdin ended without an answer; stopping as on Ctrl-C");
            self.cancel.cancel();
            return false;
        };
        self.reporter.asked(&question);
        match answer.trim().to_lowercase().as_str() {
            "y" | "yes" => true,
            "c" | "continue" => {
                pc.stepping.store(false, Ordering::SeqCst);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tasks(items: &[&str]) -> Vec<Arc<Task>> {
        items
            .iter()
            .map(|y| Arc::new(crate::playbook::testing::task(y).unwrap()))
            .collect()
    }

    #[test]
    fn finds_by_name_glob_and_into_blocks() {
        let list = tasks(&[
            "name: first\ndebug: msg=a\n",
            "block:\n  - name: inner one\n    debug: msg=b\nalways:\n  - name: cleanup\n    debug: msg=c\n",
            "name: third\ndebug: msg=c\n",
            "debug: msg=d\n",
        ]);
        assert_eq!(find(&list, "first"), Some(address(&list[0])));
        assert_eq!(find(&list, "fir*"), Some(address(&list[0])));
        let Action::Block { block, always, .. } = &list[1].action else {
            panic!("a block")
        };
        assert_eq!(find(&list, "inner*"), Some(address(&block[0])));
        assert_eq!(find(&list, "clean?p"), Some(address(&always[0])));
        assert!(holds(&list[1], address(&always[0])));
        assert!(!holds(&list[0], address(&block[0])));
        // A task without a name matches by its module, as Ansible's get_name().
        assert_eq!(find(&list, "debug"), Some(address(&list[3])));
        assert_eq!(find(&list, "nothing"), None);
    }
}
