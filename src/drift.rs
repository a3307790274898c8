//! `prov drift`: what `prov check` finds, as a report of only what differs. The run is the one
//! `prov check` makes (check and diff mode, hosts in parallel); its JSON document (see
//! [`crate::report`]) is turned into a [`DriftReport`] by [`build`], a pure function, and
//! printed as text, JSON or Markdown (for `$GITHUB_STEP_SUMMARY` or an issue body).
//!
//! Per host, grouped by role (a task named `role : task`; `(play)` for a play's own tasks):
//! the tasks that would change (with their diffs), failed, or whose result the dry run cannot
//! know. Handlers are left out unless they fail: one runs because a listed task would change.
//! A `no_log` task's diff and message never reach the document, so never the report.
//!
//! Exit code ([`DriftReport::exit_code`]): 0 every host in sync, 2 a host drifted or a task
//! failed, 4 a host unreachable (over drift). A run a signal stops is reported as far as it
//! went, marked partial, and exits as `prov check` would (99 after Ctrl-C).

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;

use crate::cli::DriftArgs;
use crate::engine::Cancel;
use crate::error::{Error, ErrorKind, Result};
use crate::modules::Diff;

/// How the report is printed (`--format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DriftFormat {
    Text,
    Json,
    Markdown,
}

/// The role of a play's own tasks (not in a role).
pub const PLAY_TASKS: &str = "(play)";

/// Why a task is in the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// Would change: the host differs from the playbook.
    Changed,
    Failed,
    /// The host could not be reached for it.
    Unreachable,
    /// Skipped, or partly so, because a dry run cannot know its result.
    Unknown,
}

impl ItemKind {
    fn word(self) -> &'static str {
        match self {
            ItemKind::Changed => "changed",
            ItemKind::Failed => "failed",
            ItemKind::Unreachable => "unreachable",
            ItemKind::Unknown => "unknown",
        }
    }
}

/// One task of one host that is not in sync.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DriftItem {
    pub task: String,
    pub kind: ItemKind,
    /// The loop items that would change or failed (labels), if the task loops.
    pub items: Vec<String>,
    /// The failure's or the skip's message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    /// Unified diffs, one after another (empty if the module shows none).
    pub diff: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RoleDrift {
    pub role: String,
    pub items: Vec<DriftItem>,
}

/// A host's state: in sync, drifted, failed (a task failed) or unreachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostState {
    InSync,
    Drifted,
    Failed,
    Unreachable,
}

impl HostState {
    fn words(self) -> &'static str {
        match self {
            HostState::InSync => "in sync",
            HostState::Drifted => "drifted",
            HostState::Failed => "failed",
            HostState::Unreachable => "unreachable",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HostDrift {
    pub host: String,
    pub state: HostState,
    pub unreachable: bool,
    pub failed: bool,
    pub roles: Vec<RoleDrift>,
}

impl HostDrift {
    fn count(&self) -> usize {
        self.roles.iter().map(|r| r.items.len()).sum()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DriftReport {
    pub hosts: Vec<HostDrift>,
    /// A signal stopped the run: the report covers only what ran.
    pub interrupted: bool,
}

impl DriftReport {
    /// 0 in sync, 2 drifted or failed, 4 unreachable (wins over drift).
    pub fn exit_code(&self) -> i32 {
        if self.hosts.iter().any(|h| h.unreachable) {
            4
        } else if self.hosts.iter().any(|h| h.state != HostState::InSync) {
            2
        } else {
            0
        }
    }
}

/// The role of a task named `role : task`, and the task's own name.
fn split_role(name: &str) -> (&str, &str) {
    match name.split_once(" : ") {
        Some((role, task)) if !role.is_empty() => (role, task),
        _ => (PLAY_TASKS, name),
    }
}

fn diff_text(entry: &Value) -> String {
    let mut out = String::new();
    for d in entry["diff"].as_array().into_iter().flatten() {
        let field = |k: &str| d[k].as_str().unwrap_or_default().to_string();
        let diff = Diff {
            before_header: field("before_header"),
            after_header: field("after_header"),
            before: field("before"),
            after: field("after"),
        };
        out.push_str(&crate::report::render_diff(&diff, false));
    }
    out
}

/// What the report says of one task's result on one host, if anything.
fn item_of(task: &str, handler: bool, entry: &Value) -> Option<DriftItem> {
    let failed = entry["failed"] == true && entry["ignored"] != true;
    let changed = entry["changed"] == true;
    let unknown = entry["unknown"] == true;
    let kind = if entry["unreachable"] == true {
        ItemKind::Unreachable
    } else if failed {
        ItemKind::Failed
    } else if handler {
        return None;
    } else if changed {
        ItemKind::Changed
    } else if unknown {
        ItemKind::Unknown
    } else {
        return None;
    };
    let items = entry["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| match kind {
            ItemKind::Changed => i["status"] == "changed",
            ItemKind::Failed | ItemKind::Unreachable => {
                matches!(i["status"].as_str(), Some("failed" | "unreachable"))
            }
            ItemKind::Unknown => i["unknown"] == true,
        })
        .filter_map(|i| i["item"].as_str().map(str::to_string))
        .collect();
    let msg = match kind {
        ItemKind::Changed => None,
        _ => entry["msg"].as_str().map(str::to_string),
    };
    Some(DriftItem {
        task: task.to_string(),
        kind,
        items,
        msg,
        diff: diff_text(entry),
    })
}

/// The drift report of a `prov check` run's JSON document: every host of its `stats`, sorted.
pub fn build(doc: &Value) -> DriftReport {
    let mut hosts: Vec<HostDrift> = doc["stats"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(host, s)| HostDrift {
            host: host.clone(),
            state: HostState::InSync,
            unreachable: s["unreachable"].as_u64().unwrap_or(0) > 0,
            failed: s["failed"].as_u64().unwrap_or(0) > 0,
            roles: Vec::new(),
        })
        .collect();
    hosts.sort_by(|a, b| a.host.cmp(&b.host));
    for play in doc["plays"].as_array().into_iter().flatten() {
        for task in play["tasks"].as_array().into_iter().flatten() {
            let name = task["task"]["name"].as_str().unwrap_or_default();
            let handler = task["task"]["handler"] == true;
            let (role, short) = split_role(name);
            for (host, entry) in task["hosts"].as_object().into_iter().flatten() {
                let Some(item) = item_of(short, handler, entry) else {
                    continue;
                };
                let Some(h) = hosts.iter_mut().find(|h| &h.host == host) else {
                    continue;
                };
                h.failed |= item.kind == ItemKind::Failed;
                h.unreachable |= item.kind == ItemKind::Unreachable;
                match h.roles.iter_mut().find(|r| r.role == role) {
                    Some(r) => r.items.push(item),
                    None => h.roles.push(RoleDrift {
                        role: role.to_string(),
                        items: vec![item],
                    }),
                }
            }
        }
    }
    for h in &mut hosts {
        h.state = if h.unreachable {
            HostState::Unreachable
        } else if h.failed {
            HostState::Failed
        } else if h.count() > 0 {
            HostState::Drifted
        } else {
            HostState::InSync
        };
    }
    DriftReport {
        hosts,
        interrupted: doc["interrupted"] == true,
    }
}

fn summary(r: &DriftReport) -> String {
    let n = |s: HostState| r.hosts.iter().filter(|h| h.state == s).count();
    format!(
        "{} hosts: {} in sync, {} drifted, {} failed, {} unreachable",
        r.hosts.len(),
        n(HostState::InSync),
        n(HostState::Drifted),
        n(HostState::Failed),
        n(HostState::Unreachable)
    )
}

fn item_title(i: &DriftItem) -> String {
    let mut t = format!("{}: {}", i.kind.word(), i.task);
    if !i.items.is_empty() {
        t.push_str(&format!(" (items: {})", i.items.join(", ")));
    }
    t
}

fn host_line(h: &HostDrift) -> String {
    match h.state {
        HostState::InSync => format!("{}: in sync", h.host),
        s => {
            let n = h.count();
            let plural = if n == 1 { "" } else { "s" };
            format!("{}: {} ({n} item{plural})", h.host, s.words())
        }
    }
}

const PARTIAL: &str =
    "Interrupted: the run was stopped before it finished; this report is partial.";

/// The report as text: one line per host in sync, the items of the others by role.
pub fn text(r: &DriftReport) -> String {
    let mut out = format!("Drift report: {}\n", summary(r));
    if r.interrupted {
        out.push_str(&format!("{PARTIAL}\n"));
    }
    for h in &r.hosts {
        out.push_str(&format!("\n{}\n", host_line(h)));
        for role in &h.roles {
            out.push_str(&format!("  [{}]\n", role.role));
            for i in &role.items {
                out.push_str(&format!("    {}\n", item_title(i)));
                if let Some(m) = &i.msg {
                    out.push_str(&format!("      {}\n", m.replace('\n', "\n      ")));
                }
                for line in i.diff.lines() {
                    out.push_str(&format!("      {line}\n"));
                }
            }
        }
    }
    out
}

/// The report as one JSON document: the hosts, a summary and the exit code (null when a
/// signal stopped the run: prov exits with the signal's code).
pub fn json(r: &DriftReport) -> String {
    let n = |s: HostState| r.hosts.iter().filter(|h| h.state == s).count();
    let doc = serde_json::json!({
        "hosts": r.hosts,
        "summary": {
            "hosts": r.hosts.len(),
            "in_sync": n(HostState::InSync),
            "drifted": n(HostState::Drifted),
            "failed": n(HostState::Failed),
            "unreachable": n(HostState::Unreachable),
        },
        "interrupted": r.interrupted,
        "exit_code": if r.interrupted { None } else { Some(r.exit_code()) },
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// Text safe in Markdown and HTML: `<`, `>`, `&` as entities, and `|` escaped (table cells).
fn md_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// A code fence longer than any run of backticks in `body`.
fn fence(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

/// The report as Markdown: a heading, a table (host | status | drifted items), then a
/// `<details>` section per host that is not in sync with its items and their diffs.
pub fn markdown(r: &DriftReport) -> String {
    let mut out = format!(
        "## Drift report\n\n{}\n\n| Host | Status | Drifted items |\n| --- | --- | --- |\n",
        summary(r)
    );
    if r.interrupted {
        out = out.replace("\n\n| Host", &format!("\n\n**{PARTIAL}**\n\n| Host"));
    }
    for h in &r.hosts {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            md_escape(&h.host),
            h.state.words(),
            h.count()
        ));
    }
    for h in r.hosts.iter().filter(|h| h.state != HostState::InSync) {
        out.push_str(&format!(
            "\n<details>\n<summary>{}</summary>\n",
            md_escape(&host_line(h))
        ));
        for role in &h.roles {
            out.push_str(&format!("\n**{}**\n\n", md_escape(&role.role)));
            for i in &role.items {
                out.push_str(&format!("- {}\n", md_escape(&item_title(i))));
                if let Some(m) = &i.msg {
                    out.push_str(&format!("  {}\n", md_escape(m)));
                }
                if !i.diff.is_empty() {
                    let f = fence(&i.diff);
                    out.push_str(&format!("\n{f}diff\n{}{f}\n\n", i.diff));
                }
            }
        }
        out.push_str("\n</details>\n");
    }
    out
}

pub fn render(r: &DriftReport, format: DriftFormat) -> String {
    match format {
        DriftFormat::Text => text(r),
        DriftFormat::Json => json(r),
        DriftFormat::Markdown => markdown(r),
    }
}

/// `prov drift`: the `prov check` run, its JSON document captured instead of printed, then the
/// report on stdout. A run stopped by a signal keeps its exit code.
pub async fn run(args: DriftArgs, cancel: Arc<Cancel>) -> Result<i32> {
    let capture = Capture::default();
    let (code, _) = crate::run::apply_run(
        args.check_args(),
        true,
        cancel,
        Some(Box::new(capture.clone())),
    )
    .await?;
    let bytes = std::mem::take(&mut *capture.0.lock().unwrap());
    let doc: Value = serde_json::from_slice(&bytes).map_err(|e| {
        Error::new(
            ErrorKind::Runtime,
            format!("the check run's JSON document: {e}"),
        )
    })?;
    let report = build(&doc);
    // Not print!: a closed stdout (`| head`) is an error, not a panic.
    let mut out = std::io::stdout().lock();
    out.write_all(render(&report, args.format).as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Error::new(ErrorKind::Runtime, format!("writing the report: {e}")))?;
    Ok(if report.interrupted {
        code
    } else {
        report.exit_code()
    })
}

/// A writer into memory that can be read after the reporter that owns it is gone.
#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
