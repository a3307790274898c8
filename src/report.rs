//! Output: one line per task and host (colour only on a terminal), unified diffs with
//! `--diff`, a recap per host and the total time; or, with `--format json`, one document with
//! every play, task and host result (status, changed, diff, duration) printed at the end.
//!
//! As Ansible's default callback prints them: a loop's items as each one finishes (each item's
//! diff before its line, [`Reporter::item`]); the recap's host column 26 wide. prov adds a skip's
//! reason where it matters at default verbosity (`skipping: [h] (chroot)`), and marks what a dry
//! run cannot know ([`HostOutcome::unknown`]): `skipping: [h] (unknown until apply: reason)`,
//! counted as `unknown=N` after the recap's columns (and `"unknown"` in JSON). On a terminal a
//! task that runs for more than a second shows a live line on stderr ([`live`]).
//!
//! A `no_log` task's result is censored before either output sees it ([`HostOutcome::censored`]):
//! only its status, `changed` and `attempts` are left, as Ansible's `clean_copy` does. Its
//! message, loop item labels and diffs are dropped and its result becomes `{"censored": ...}`;
//! the registered variable keeps the real result.
//!
//! A task that failed on a templating error shows where: `Origin: file:line:col` under its
//! line, then that line of the file with a caret under the column (as a parse error shows
//! it; never for a `no_log` task), and `"origin"` in the JSON.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use minijinja::Value;
use serde_json::json;

use crate::engine::host::{RoundTrips, Stats};
use crate::error::Span;
use crate::modules::Diff;

mod live;
mod recap;

/// How results are printed: Ansible's text, or one JSON document at the end (`--format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// How a task ended on a host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Ok,
    Changed,
    Skipped,
    Failed,
    Unreachable,
}

/// What Ansible prints in place of a `no_log` task's result.
pub const CENSORED: &str =
    "the output has been hidden due to the fact that 'no_log: true' was specified for this result";

/// What Ansible prints in place of a `no_log` task's loop item label.
pub const CENSORED_ITEM: &str = "(censored due to no_log)";

/// The only skip reason a `no_log` task still shows: a fixed text of prov's, not the task's.
const CHROOT_SKIP: &str = "skipped (chroot)";

/// How a skip line marks a result the dry run cannot know ([`HostOutcome::unknown`]).
pub const UNKNOWN: &str = "unknown until apply";

/// One item of a looped task.
#[derive(Clone, Debug, Default)]
pub struct ItemOutcome {
    pub label: String,
    pub status: Status,
    pub msg: Option<String>,
    pub ignored: bool,
    /// Skipped by a dry run that cannot know its result ([`HostOutcome::unknown`]).
    pub unknown: bool,
    /// This item's diffs (printed before its line).
    pub diffs: Vec<Diff>,
}

/// The result of one task on one host.
#[derive(Clone, Debug)]
pub struct HostOutcome {
    pub host: String,
    pub status: Status,
    pub msg: Option<String>,
    pub items: Vec<ItemOutcome>,
    pub diffs: Vec<Diff>,
    /// The task result (what `register` stores).
    pub result: Value,
    /// A failure that `ignore_errors` turned into a warning.
    pub ignored: bool,
    pub duration: Duration,
    /// `delegate_to` target, shown as `[host -> target]`.
    pub delegated: Option<String>,
    /// Print the result after the status (debug, failures, -v).
    pub show_result: bool,
    /// Censor everything but the status when reporting (see [`HostOutcome::censored`]).
    pub no_log: bool,
    /// Scripts run on the host for this task (each one round trip).
    pub round_trips: u64,
    /// The Ansible module that ran in prov's place (shown with `-v`).
    pub via: Option<String>,
    /// Where a templating error that failed the task points (`file:line:col`).
    pub origin: Option<Span>,
    /// A dry run could not know (part of) this result: the task, or one of its items, was
    /// skipped because what it does depends on an earlier change or on running it (a command,
    /// a unit that packages of an earlier task install). Counted as `unknown` in the recap.
    pub unknown: bool,
    /// The items' lines were printed as each item finished ([`Reporter::item`]).
    pub items_shown: bool,
}

impl HostOutcome {
    pub fn new(host: &str, status: Status) -> HostOutcome {
        HostOutcome {
            host: host.to_string(),
            status,
            msg: None,
            items: Vec::new(),
            diffs: Vec::new(),
            result: Value::from(()),
            ignored: false,
            duration: Duration::ZERO,
            delegated: None,
            show_result: false,
            no_log: false,
            round_trips: 0,
            via: None,
            origin: None,
            unknown: false,
            items_shown: false,
        }
    }

    /// What may be shown of a `no_log` task: its status, `changed` and `attempts`, with
    /// Ansible's censored result. The message (an assert's `msg`, a validator's output, an
    /// undefined expression), loop item labels and messages, diffs and the result are gone.
    /// A result that is not `no_log` is returned unchanged.
    pub fn censored(&self) -> Cow<'_, HostOutcome> {
        if !self.no_log {
            return Cow::Borrowed(self);
        }
        let mut body = serde_json::Map::new();
        if let Ok(attempts) = self.result.get_attr("attempts")
            && !attempts.is_undefined()
            && !attempts.is_none()
        {
            body.insert("attempts".into(), crate::vars::to_json(&attempts));
        }
        body.insert("censored".into(), json!(CENSORED));
        body.insert("changed".into(), json!(self.status == Status::Changed));
        Cow::Owned(HostOutcome {
            msg: self.msg.clone().filter(|m| m == CHROOT_SKIP),
            items: self
                .items
                .iter()
                .map(|i| ItemOutcome {
                    label: CENSORED_ITEM.into(),
                    msg: None,
                    diffs: Vec::new(),
                    ..i.clone()
                })
                .collect(),
            diffs: Vec::new(),
            result: crate::vars::from_json(&serde_json::Value::Object(body)),
            show_result: false,
            ..self.clone()
        })
    }
}

/// A flat JSON object as Ansible prints it (`{"censored": "...", "changed": false}`).
fn ansible_json(v: &serde_json::Value) -> String {
    match v.as_object() {
        Some(obj) => {
            let fields: Vec<String> = obj
                .iter()
                .map(|(k, v)| format!("{}: {v}", json!(k)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        None => v.to_string(),
    }
}

/// The censored result of one `no_log` loop item.
fn censored_item(status: Status) -> String {
    ansible_json(&json!({"censored": CENSORED, "changed": status == Status::Changed}))
}

/// Above this many hosts in a task, plain results are aggregated per status.
pub const AGGREGATE_OVER: usize = 5;

struct JsonDoc {
    plays: Vec<serde_json::Value>,
}

/// Prints (or collects) everything the engine reports.
pub struct Reporter {
    format: Format,
    verbosity: u8,
    diff: bool,
    color: bool,
    start: Instant,
    doc: Mutex<JsonDoc>,
    out: Mutex<Box<dyn Write + Send>>,
    /// The live line of a running task (on a terminal only).
    live: live::Live,
}

fn paint(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// A banner 80 columns wide, as Ansible prints it without a terminal.
fn banner(title: &str) -> String {
    let stars = 79usize.saturating_sub(title.chars().count()).max(3);
    format!("\n{title} {}", "*".repeat(stars))
}

/// A unified diff of one before/after pair.
pub fn render_diff(d: &Diff, color: bool) -> String {
    let udiff = similar::TextDiff::from_lines(&d.before, &d.after);
    let mut out = format!(
        "--- before: {}\n+++ after: {}\n",
        d.before_header.trim_end_matches(" (before)"),
        d.after_header.trim_end_matches(" (after)")
    );
    for hunk in udiff.unified_diff().context_radius(3).iter_hunks() {
        out.push_str(&format!("{}\n", hunk.header()));
        for change in hunk.iter_changes() {
            let (sign, code) = match change.tag() {
                similar::ChangeTag::Delete => ("-", "31"),
                similar::ChangeTag::Insert => ("+", "32"),
                similar::ChangeTag::Equal => (" ", ""),
            };
            let value = change.value();
            let text = format!("{sign}{}", value.strip_suffix('\n').unwrap_or(value));
            out.push_str(&if code.is_empty() {
                text
            } else {
                paint(color, code, &text)
            });
            out.push('\n');
            if !value.ends_with('\n') {
                out.push_str("\\ No newline at end of file\n");
            }
        }
    }
    out
}

impl Reporter {
    pub fn new(format: Format, verbosity: u8, diff: bool) -> Reporter {
        let color = format == Format::Text
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none();
        let mut r =
            Reporter::with_output(format, verbosity, diff, color, Box::new(std::io::stdout()));
        if format == Format::Text && live::terminal() {
            r.live = live::Live::start();
            r.live.hook_prompts();
        }
        r
    }

    /// A reporter writing to `out`, without a live line.
    pub fn with_output(
        format: Format,
        verbosity: u8,
        diff: bool,
        color: bool,
        out: Box<dyn Write + Send>,
    ) -> Reporter {
        Reporter {
            format,
            verbosity,
            diff,
            color,
            start: Instant::now(),
            doc: Mutex::new(JsonDoc { plays: Vec::new() }),
            out: Mutex::new(out),
            live: live::Live::off(),
        }
    }

    fn text(&self, s: &str) {
        if self.format == Format::Text {
            self.live.print(|| {
                let mut out = self.out.lock().unwrap();
                let _ = writeln!(out, "{s}");
                let _ = out.flush();
            });
        }
    }

    pub fn play(&self, name: &str) {
        self.live.end();
        self.text(&banner(&format!("PLAY [{name}]")));
        self.doc
            .lock()
            .unwrap()
            .plays
            .push(json!({"play": {"name": name}, "tasks": []}));
    }

    pub fn task(&self, name: &str, handler: bool) {
        self.live.end();
        let kind = if handler { "RUNNING HANDLER" } else { "TASK" };
        self.text(&banner(&format!("{kind} [{name}]")));
        self.live.begin(name);
        if let Some(play) = self.doc.lock().unwrap().plays.last_mut()
            && let Some(tasks) = play["tasks"].as_array_mut()
        {
            tasks.push(json!({"task": {"name": name, "handler": handler}, "hosts": {}}));
        }
    }

    /// A question (`--step`): on the output without a newline, or on stderr with
    /// `--format json`, whose stdout is the document.
    pub fn ask(&self, question: &str) {
        if self.format == Format::Text {
            let mut out = self.out.lock().unwrap();
            let _ = write!(out, "{question}");
            let _ = out.flush();
        } else {
            eprint!("{question}");
        }
    }

    /// The question again as a banner once answered, as ansible-playbook prints it.
    pub fn asked(&self, question: &str) {
        self.text(&banner(question.trim_end()));
    }

    /// The current task started (`true`) or finished on `host` (the live line names the hosts
    /// it still runs on).
    pub fn running(&self, host: &str, started: bool) {
        self.live.running(host, started);
    }

    pub fn note(&self, msg: &str) {
        self.text(msg);
    }

    pub fn warn(&self, msg: &str) {
        if self.format == Format::Text {
            self.text(&paint(self.color, "35", &format!("[WARNING]: {msg}")));
        } else {
            eprintln!("[WARNING]: {msg}");
        }
    }

    /// What a skip line shows after the host, if anything: prov's chroot skip as `(chroot)`, a
    /// result the dry run cannot know as `(unknown until apply: reason)`, and with -v any reason.
    /// A `no_log` result shows only prov's fixed texts.
    fn skip_reason(&self, msg: Option<&str>, unknown: bool, no_log: bool) -> Option<String> {
        let msg = msg.filter(|m| !no_log || *m == CHROOT_SKIP);
        if unknown {
            return Some(match msg {
                Some(m) if !no_log => format!("({UNKNOWN}: {m})"),
                _ => format!("({UNKNOWN})"),
            });
        }
        let m = msg?;
        if m.contains("chroot") || self.verbosity > 0 {
            let short = m
                .strip_prefix("skipped (")
                .and_then(|r| r.strip_suffix(')'));
            return Some(format!("({})", short.unwrap_or(m)));
        }
        None
    }

    /// Report one task's results on many hosts. Beyond [`AGGREGATE_OVER`] hosts (and without
    /// -v), hosts whose result has nothing more to show than its status share one line per
    /// status (`ok: [a, b, c]`); failures, diffs, loops and debug output are still shown per host.
    pub fn hosts(&self, results: &[HostOutcome]) {
        self.live.end();
        if self.format != Format::Text || self.verbosity > 0 || results.len() <= AGGREGATE_OVER {
            for r in results {
                self.host(r);
            }
            return;
        }
        // (status word, colour, reason) -> hosts
        let mut groups: Vec<(&str, &str, String, Vec<&str>)> = Vec::new();
        let mut detailed = Vec::new();
        for r in results {
            let plain = matches!(r.status, Status::Ok | Status::Changed | Status::Skipped)
                && (!r.show_result || r.no_log)
                && !r.ignored
                && r.items.is_empty()
                && r.delegated.is_none()
                && (r.diffs.is_empty() || !self.diff || r.no_log);
            if !plain {
                detailed.push(r);
                continue;
            }
            self.record_json(r);
            let (word, code) = status_word(r.status);
            let reason = match r.status {
                Status::Skipped => self
                    .skip_reason(r.msg.as_deref(), r.unknown, r.no_log)
                    .map(|m| format!(" {m}"))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            match groups
                .iter_mut()
                .find(|(w, _, why, _)| *w == word && *why == reason)
            {
                Some((_, _, _, hosts)) => hosts.push(&r.host),
                None => groups.push((word, code, reason, vec![&r.host])),
            }
        }
        for (word, code, reason, hosts) in groups {
            let line = format!("{word}: [{}]{reason}", hosts.join(", "));
            self.text(&paint(self.color, code, &line));
        }
        for r in detailed {
            self.host(r);
        }
    }

    /// Diffs as Ansible prints them: each followed by an empty line.
    fn diff_lines(&self, diffs: &[Diff], lines: &mut Vec<String>) {
        if self.diff {
            for d in diffs {
                lines.push(render_diff(d, self.color));
            }
        }
    }

    /// One loop item's line(s), its diffs first: `changed: [h] => (item=x)`, `failed: [h]
    /// (item=x) => {...}` as Ansible words them.
    fn item_lines(&self, host: &str, no_log: bool, item: &ItemOutcome, lines: &mut Vec<String>) {
        self.diff_lines(&item.diffs, lines);
        let (word, code) = status_word(item.status);
        let failed = matches!(item.status, Status::Failed | Status::Unreachable);
        let mut line = if failed {
            format!("{word}: [{host}] (item={})", item.label)
        } else {
            format!("{word}: [{host}] => (item={})", item.label)
        };
        if failed && no_log {
            line.push_str(&format!(" => {}", censored_item(item.status)));
        } else if failed && let Some(m) = &item.msg {
            line.push_str(&format!(" => {}", json!({"msg": m})));
        }
        if item.status == Status::Skipped
            && let Some(why) = self.skip_reason(item.msg.as_deref(), item.unknown, no_log)
        {
            line.push_str(&format!(" {why}"));
        }
        lines.push(paint(self.color, code, &line));
        if item.ignored {
            lines.push(paint(self.color, "36", "...ignoring"));
        }
    }

    /// One loop item as soon as it finished on `host` (through `delegated`): its diffs, then its
    /// line. The task's result ([`Reporter::host`]) then leaves the items out.
    pub fn item(&self, host: &str, delegated: Option<&str>, no_log: bool, item: &ItemOutcome) {
        if self.format != Format::Text {
            return;
        }
        let censored;
        let item = if no_log {
            censored = ItemOutcome {
                label: CENSORED_ITEM.into(),
                msg: None,
                diffs: Vec::new(),
                ..item.clone()
            };
            &censored
        } else {
            item
        };
        let host = match delegated {
            Some(d) => format!("{host} -> {d}"),
            None => host.to_string(),
        };
        let mut lines = Vec::new();
        self.item_lines(&host, no_log, item, &mut lines);
        self.text(&lines.join("\n"));
    }

    pub fn host(&self, r: &HostOutcome) {
        self.record_json(r);
        if self.format != Format::Text {
            return;
        }
        let shown = r.censored();
        let r = &*shown;
        let host = match &r.delegated {
            Some(d) => format!("{} -> {d}", r.host),
            None => r.host.clone(),
        };
        let mut lines = Vec::new();
        if !r.items_shown {
            for item in &r.items {
                self.item_lines(&host, r.no_log, item, &mut lines);
            }
        }
        if r.items.is_empty() {
            self.diff_lines(&r.diffs, &mut lines);
        }
        let item_failed = r
            .items
            .iter()
            .any(|i| matches!(i.status, Status::Failed | Status::Unreachable));
        // As Ansible: a loop shows its items, and a line of its own only when it is skipped
        // as a whole or fails beyond its items (unreachable, a missing handler).
        let loop_line = match r.status {
            Status::Skipped | Status::Unreachable => true,
            Status::Failed => !item_failed,
            Status::Ok | Status::Changed => false,
        };
        if !r.items.is_empty() && !loop_line {
            if r.ignored {
                lines.push(paint(self.color, "36", "...ignoring"));
            }
            if !lines.is_empty() {
                self.text(&lines.join("\n"));
            }
            return;
        }
        let (word, code) = status_word(r.status);
        let mut line = match r.status {
            Status::Failed => format!("fatal: [{host}]: FAILED!"),
            Status::Unreachable => format!("fatal: [{host}]: UNREACHABLE!"),
            _ => format!("{word}: [{host}]"),
        };
        if self.verbosity > 0
            && let Some(m) = &r.via
        {
            line.push_str(&format!(" (ansible module {m})"));
        }
        let show = r.show_result
            || self.verbosity > 0
            || matches!(r.status, Status::Failed | Status::Unreachable);
        if show && r.no_log {
            let body = ansible_json(&crate::vars::to_json(&r.result));
            line.push_str(&format!(" => {body}"));
        } else if show {
            line.push_str(&format!(" => {}", self.result_text(r)));
        }
        if r.status == Status::Skipped
            && r.items.is_empty()
            && let Some(why) = self.skip_reason(r.msg.as_deref(), r.unknown, r.no_log)
        {
            line.push_str(&format!(" {why}"));
        }
        lines.push(paint(self.color, code, &line));
        if let Some(origin) = &r.origin {
            lines.push(format!("Origin: {origin}"));
            // A no_log task's lines are never echoed (its file says no_log, and a template
            // file it renders may hold what it hides).
            if let Some(excerpt) = origin.excerpt().filter(|_| !r.no_log) {
                lines.push(excerpt);
            }
        }
        if r.ignored {
            lines.push(paint(self.color, "36", "...ignoring"));
        }
        self.text(&lines.join("\n"));
    }

    /// The result after `=>`: debug's output pretty-printed, otherwise one line of JSON.
    fn result_text(&self, r: &HostOutcome) -> String {
        let mut body = crate::vars::to_json(&r.result);
        if !body.is_object() {
            body = json!({});
        }
        if let (Some(m), Some(obj)) = (&r.msg, body.as_object_mut()) {
            obj.entry("msg").or_insert(json!(m));
        }
        if let Some(obj) = body.as_object_mut() {
            obj.remove("diff");
            obj.remove("invocation");
            if self.verbosity == 0
                && r.show_result
                && !matches!(r.status, Status::Failed | Status::Unreachable)
            {
                obj.remove("changed");
                obj.remove("failed");
            }
        }
        if r.show_result && r.status != Status::Failed {
            pretty4(&body)
        } else {
            body.to_string()
        }
    }

    /// The first task that failed (not ignored) or was unreachable, and on which host: for a
    /// caller that names it (the image build).
    pub fn first_failure(&self) -> Option<(String, String)> {
        let doc = self.doc.lock().unwrap();
        for play in &doc.plays {
            for task in play["tasks"].as_array().into_iter().flatten() {
                for (host, r) in task["hosts"].as_object().into_iter().flatten() {
                    if (r["failed"] == true && r["ignored"] != true) || r["unreachable"] == true {
                        let name = task["task"]["name"].as_str().unwrap_or("?").to_string();
                        return Some((name, host.clone()));
                    }
                }
            }
        }
        None
    }

    fn record_json(&self, r: &HostOutcome) {
        let shown = r.censored();
        let r = &*shown;
        let mut doc = self.doc.lock().unwrap();
        let Some(task) = doc
            .plays
            .last_mut()
            .and_then(|p| p["tasks"].as_array_mut())
            .and_then(|t| t.last_mut())
        else {
            return;
        };
        let diffs: Vec<serde_json::Value> = r
            .diffs
            .iter()
            .map(|d| json!({"before_header": d.before_header, "after_header": d.after_header, "before": d.before, "after": d.after}))
            .collect();
        let mut entry = json!({
            "status": r.status,
            "changed": r.status == Status::Changed,
            "failed": r.status == Status::Failed,
            "skipped": r.status == Status::Skipped,
            "unreachable": r.status == Status::Unreachable,
            "ignored": r.ignored,
            "unknown": r.unknown,
            "duration": r.duration.as_secs_f64(),
            "round_trips": r.round_trips,
            "diff": diffs,
        });
        if let Some(m) = &r.msg {
            entry["msg"] = json!(m);
        }
        if let Some(origin) = &r.origin {
            entry["origin"] = json!(origin.to_string());
        }
        entry["result"] = crate::vars::to_json(&r.result);
        if !r.items.is_empty() {
            entry["items"] = r
                .items
                .iter()
                .map(|i| json!({"item": i.label, "status": i.status, "msg": i.msg, "unknown": i.unknown}))
                .collect();
        }
        task["hosts"][&r.host] = entry;
    }

    /// The recap between two playbooks of one command, as ansible-playbook prints it: the
    /// counts so far (text only; the JSON document has one `stats` at the end).
    pub fn interim_recap(&self, stats: &[(String, Stats)]) {
        if self.format == Format::Text {
            self.text(&self.recap_lines(stats).join("\n"));
        }
    }

    /// `PLAY RECAP` and one line per host, sorted by name as Ansible's recap is.
    fn recap_lines(&self, stats: &[(String, Stats)]) -> Vec<String> {
        let mut lines = vec![banner("PLAY RECAP")];
        let mut sorted: Vec<&(String, Stats)> = stats.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (h, s) in sorted {
            lines.push(recap::line(h, s, self.color));
        }
        lines
    }

    /// Print the recap (text) or the whole document (JSON).
    pub fn recap(
        &self,
        stats: &[(String, Stats)],
        trips: &[(String, RoundTrips)],
        check: bool,
        interrupted: bool,
    ) {
        self.live.end();
        let elapsed = self.start.elapsed();
        match self.format {
            Format::Text => {
                let mut lines = self.recap_lines(stats);
                if interrupted {
                    lines.push("\nInterrupted: the run was stopped before it finished.".into());
                }
                lines.push(format!(
                    "\nTotal time: {:.2}s{}",
                    elapsed.as_secs_f64(),
                    if check {
                        " (check mode: nothing was changed)"
                    } else {
                        ""
                    }
                ));
                self.text(&lines.join("\n"));
            }
            Format::Json => {
                let doc = self.doc.lock().unwrap();
                let stats: serde_json::Map<String, serde_json::Value> = stats
                    .iter()
                    .map(|(h, s)| (h.clone(), serde_json::to_value(s).unwrap_or_default()))
                    .collect();
                let trips: serde_json::Map<String, serde_json::Value> = trips
                    .iter()
                    .map(|(h, t)| (h.clone(), serde_json::to_value(t).unwrap_or_default()))
                    .collect();
                let out = json!({
                    "plays": doc.plays,
                    "stats": stats,
                    "round_trips": trips,
                    "check_mode": check,
                    "interrupted": interrupted,
                    "duration": elapsed.as_secs_f64(),
                });
                let mut w = self.out.lock().unwrap();
                let _ = writeln!(
                    w,
                    "{}",
                    serde_json::to_string_pretty(&out).unwrap_or_default()
                );
            }
        }
    }
}

/// JSON with Ansible's four-space indentation.
fn pretty4(v: &serde_json::Value) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    let _ = serde::Serialize::serialize(v, &mut ser);
    String::from_utf8(buf).unwrap_or_default()
}

fn status_word(s: Status) -> (&'static str, &'static str) {
    match s {
        Status::Ok => ("ok", "32"),
        Status::Changed => ("changed", "33"),
        Status::Skipped => ("skipping", "36"),
        Status::Failed => ("failed", "31"),
        Status::Unreachable => ("unreachable", "31"),
    }
}

#[cfg(test)]
mod tests;
