//! The run journal, controller side: a run's id, the numbering of its entries, and its log on
//! the controller (`~/.local/state/prov/runs/<run id>.jsonl`: a header with the playbooks and
//! the start time, then one line per executed step with host, task, module and what it was —
//! commands and packages included, which only this log knows of). What a step changed in a
//! file is saved on the target itself, in the same script as the change
//! ([`crate::transport::journal`]); [`super::rollback`] puts it back.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;

use crate::host::Step;
use crate::transport::journal::{Kind, Mark, valid_run_id};

/// Controller logs kept (the oldest are removed when a run starts).
const KEEP_LOGS: usize = 200;

/// What a step's journal entry says about its task.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Label {
    pub host: String,
    pub task: String,
    pub module: String,
    /// A `no_log` task: its saved content is never shown (no diff in a rollback).
    pub no_log: bool,
}

/// One run's journal: its id, the next entry number, its controller log.
#[derive(Debug)]
pub struct RunLog {
    pub id: String,
    seq: AtomicU64,
    log: Mutex<Option<std::fs::File>>,
}

/// A new run id: the UTC start time (so ids sort by time) and a random suffix.
pub fn new_run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut b = [0u8; 3];
    // SAFETY: getrandom writes at most b.len() bytes into b.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != b.len() as isize {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            ^ std::process::id();
        b = [t as u8, (t >> 8) as u8, (t >> 16) as u8];
    }
    format!(
        "{}-{:02x}{:02x}{:02x}",
        crate::utc::compact(now),
        b[0],
        b[1],
        b[2]
    )
}

/// Where the controller logs go: `$XDG_STATE_HOME/prov/runs` or `~/.local/state/prov/runs`.
pub fn logs_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => {
            PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".local/state")
        }
    };
    Some(base.join("prov/runs"))
}

impl RunLog {
    /// Start a run's journal. The controller log is best effort: a run without a writable
    /// state directory still journals on its targets.
    pub fn start(playbooks: &[PathBuf]) -> RunLog {
        let id = new_run_id();
        let log = logs_dir().and_then(|dir| {
            std::fs::create_dir_all(&dir).ok()?;
            prune(&dir);
            let mut f = std::fs::OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(dir.join(format!("{id}.jsonl")))
                .ok()?;
            let header = json!({
                "run": id,
                "started": crate::utc::compact(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs() as i64)
                        .unwrap_or(0)
                ),
                "playbooks": playbooks.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            });
            writeln!(f, "{header}").ok()?;
            Some(f)
        });
        RunLog {
            id,
            seq: AtomicU64::new(1),
            log: Mutex::new(log),
        }
    }

    /// The journal mark for `step` (`None` for a command: nothing on the target to save).
    pub fn mark(&self, step: &Step, label: &Label) -> Option<Mark> {
        let kind: Kind = crate::transport::script::journal_kind(step)?;
        // A write that creates its parent directories records them under the number before.
        let n = if matches!(step, Step::Write(w) if w.make_parents) {
            2
        } else {
            1
        };
        Some(Mark {
            run: self.id.clone(),
            seq: self.seq.fetch_add(n, Ordering::Relaxed) + n - 1,
            kind,
            task: label.task.clone(),
            module: label.module.clone(),
            secret: label.no_log,
        })
    }

    /// Note an executed step in the controller log.
    pub fn record(&self, step: &Step, label: &Label, mark: Option<&Mark>, rc: i32) {
        let mut log = self.log.lock().unwrap();
        let Some(f) = log.as_mut() else { return };
        let (kind, path) = match step {
            Step::Run { .. } => ("command", None),
            Step::Write(w) => ("write", Some(w.path.as_str())),
            Step::MakeDir { path, .. } => ("mkdir", Some(path.as_str())),
            Step::Remove { path } => ("remove", Some(path.as_str())),
            Step::Link { path, .. } => ("link", Some(path.as_str())),
            Step::SetAttrs { path, .. } => ("attrs", Some(path.as_str())),
            Step::Touch { path, .. } => ("touch", Some(path.as_str())),
        };
        let line = json!({
            "host": label.host,
            "task": label.task,
            "module": label.module,
            "step": kind,
            "path": path,
            "seq": mark.map(|m| m.seq),
            "rc": rc,
        });
        if writeln!(f, "{line}").is_err() {
            *log = None;
        }
    }
}

/// Remove the oldest controller logs beyond [`KEEP_LOGS`].
fn prune(dir: &Path) {
    let Ok(list) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<String> = list
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".jsonl"))
        .collect();
    names.sort();
    let excess = names.len().saturating_sub(KEEP_LOGS - 1);
    for n in &names[..excess] {
        let _ = std::fs::remove_file(dir.join(n));
    }
}

/// A run's controller log: its header and its step lines (`None`: this controller has none).
pub fn read_log(id: &str) -> Option<(serde_json::Value, Vec<serde_json::Value>)> {
    if !valid_run_id(id) {
        return None;
    }
    let text = std::fs::read_to_string(logs_dir()?.join(format!("{id}.jsonl"))).ok()?;
    let mut lines = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok());
    let header = lines.next()?;
    Some((header, lines.collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(crate::utc::compact(0), "19700101T000000Z");
        assert_eq!(crate::utc::compact(951_782_400), "20000229T000000Z");
        assert_eq!(crate::utc::compact(1_796_649_905), "20261207T132505Z");
        let id = new_run_id();
        assert!(valid_run_id(&id), "{id}");
        assert_eq!(id.len(), "20261207T130505Z-abcdef".len());
        assert_ne!(new_run_id(), new_run_id());
    }

    /// The controller keeps its newest [`KEEP_LOGS`] run logs: a run that starts prunes the
    /// oldest, room for its own included, and leaves other files alone.
    #[test]
    fn controller_logs_are_pruned_oldest_first() {
        let dir = std::env::temp_dir().join(format!("prov-runlogs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let name = |i: usize| {
            format!(
                "{}-000000.jsonl",
                crate::utc::compact(1_700_000_000 + i as i64)
            )
        };
        for i in 0..KEEP_LOGS + 5 {
            std::fs::write(dir.join(name(i)), "{}\n").unwrap();
        }
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        prune(&dir);
        let left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left.len(), KEEP_LOGS - 1 + 1);
        assert!(left.contains(&"notes.txt".to_string()));
        assert!(!left.contains(&name(5)) && left.contains(&name(6)));
        assert!(left.contains(&name(KEEP_LOGS + 4)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn marks_number_file_steps_only() {
        let log = RunLog {
            id: "20261207T130505Z-abcdef".into(),
            seq: AtomicU64::new(1),
            log: Mutex::new(None),
        };
        let label = Label {
            host: "h".into(),
            task: "t".into(),
            module: "copy".into(),
            no_log: false,
        };
        let rm = Step::Remove { path: "/x".into() };
        let run = Step::Run {
            cmd: Default::default(),
            ok_rcs: vec![0],
        };
        assert_eq!(log.mark(&rm, &label).unwrap().seq, 1);
        assert_eq!(log.mark(&run, &label), None);
        let m = log.mark(&rm, &label).unwrap();
        assert_eq!(
            (m.seq, m.kind, m.module.as_str()),
            (2, Kind::Remove, "copy")
        );
        // A write that may create its parents leaves the number before its own to them.
        let w = Step::Write(crate::host::WriteFile {
            path: "/a/b".into(),
            make_parents: true,
            ..Default::default()
        });
        assert_eq!(log.mark(&w, &label).unwrap().seq, 4);
        assert_eq!(log.mark(&rm, &label).unwrap().seq, 5);
    }
}
