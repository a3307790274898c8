//! Output: one line per task and host (colour only on a terminal), unified diffs with
//! `--diff`, a recap per host and the total time; or, with `--format json`, one document with
//! every play, task and host result (status, changed, diff, duration) printed at the end.
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

/// How results are printed: Ansible's text, or one JSON document at the end (`--format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// How a task ended on a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
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

/// One item of a looped task.
#[derive(Clone, Debug)]
pub struct ItemOutcome {
    pub label: String,
    pub status: Status,
    pub msg: Option<String>,
    pub ignored: bool,
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
}

fn paint(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn banner(title: &str) -> String {
    let stars = 79usize.saturating_sub(title.len() + 1).max(3);
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
            let mut line = format!("{sign}{}", change.value());
            if !line.ends_with('\n') {
                line.push_str("\n\\ No newline at end of file\n");
            }
            out.push_str(&if code.is_empty() {
                line
            } else {
                paint(color, code, &line)
            });
        }
    }
    out
}

impl Reporter {
    pub fn new(format: Format, verbosity: u8, diff: bool) -> Reporter {
        let color = format == Format::Text
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none();
        Reporter::with_output(format, verbosity, diff, color, Box::new(std::io::stdout()))
    }

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
        }
    }

    fn text(&self, s: &str) {
        if self.format == Format::Text {
            let mut out = self.out.lock().unwrap();
            let _ = writeln!(out, "{s}");
            let _ = out.flush();
        }
    }

    pub fn play(&self, name: &str) {
        self.text(&banner(&format!("PLAY [{name}]")));
        self.doc
            .lock()
            .unwrap()
            .plays
            .push(json!({"play": {"name": name}, "tasks": []}));
    }

    pub fn task(&self, name: &str, handler: bool) {
        let kind = if handler { "RUNNING HANDLER" } else { "TASK" };
        self.text(&banner(&format!("{kind} [{name}]")));
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

    /// Report one task's results on many hosts. Beyond [`AGGREGATE_OVER`] hosts (and without
    /// -v), hosts whose result has nothing more to show than its status share one line per
    /// status (`ok: [a, b, c]`); failures, diffs and debug output are still shown per host.
    pub fn hosts(&self, results: &[HostOutcome]) {
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
                && r.delegated.is_none()
                && (r.diffs.is_empty() || !self.diff || r.no_log);
            if !plain {
                detailed.push(r);
                continue;
            }
            self.record_json(r);
            let (word, code) = status_word(r.status);
            let reason = match &r.msg {
                Some(m)
                    if r.status == Status::Skipped
                        && m.contains("chroot")
                        && (!r.no_log || m == CHROOT_SKIP) =>
                {
                    format!(" ({m})")
                }
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
        for item in &r.items {
            let (word, code) = status_word(item.status);
            let mut line = format!("{word}: [{host}] => (item={})", item.label);
            if r.no_log && matches!(item.status, Status::Failed | Status::Unreachable) {
                line.push_str(&format!(" => {}", censored_item(item.status)));
            } else if let Some(m) = &item.msg
                && matches!(item.status, Status::Failed | Status::Unreachable)
            {
                line.push_str(&format!(" => {}", json!({"msg": m})));
            }
            lines.push(paint(self.color, code, &line));
            if item.ignored {
                lines.push(paint(self.color, "36", "...ignoring"));
            }
        }
        for d in &r.diffs {
            if self.diff {
                lines.push(render_diff(d, self.color).trim_end().to_string());
            }
        }
        if !r.items.is_empty() && !matches!(r.status, Status::Failed | Status::Unreachable) {
            // As Ansible: a loop shows its items; the task line adds nothing.
            self.text(&lines.join("\n"));
            return;
        }
        let (word, code) = status_word(r.status);
        let mut line = match r.status {
            Status::Failed if r.items.is_empty() => format!("fatal: [{host}]: FAILED!"),
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
            || (matches!(r.status, Status::Failed | Status::Unreachable) && r.items.is_empty());
        if show && r.no_log {
            let body = ansible_json(&crate::vars::to_json(&r.result));
            line.push_str(&format!(" => {body}"));
        } else if show {
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
            let text = if r.show_result && r.status != Status::Failed {
                pretty4(&body)
            } else {
                body.to_string()
            };
            line.push_str(&format!(" => {text}"));
        }
        if r.status == Status::Skipped
            && let Some(m) = &r.msg
            && (m.contains("chroot") || self.verbosity > 0)
        {
            line.push_str(&format!(" ({m})"));
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
                .map(|i| json!({"item": i.label, "status": i.status, "msg": i.msg}))
                .collect();
        }
        task["hosts"][&r.host] = entry;
    }

    /// Print the recap (text) or the whole document (JSON).
    pub fn recap(
        &self,
        stats: &[(String, Stats)],
        trips: &[(String, RoundTrips)],
        check: bool,
        interrupted: bool,
    ) {
        let elapsed = self.start.elapsed();
        match self.format {
            Format::Text => {
                let mut lines = vec![banner("PLAY RECAP")];
                let width = stats
                    .iter()
                    .map(|(h, _)| h.len())
                    .max()
                    .unwrap_or(0)
                    .max(10);
                for (h, s) in stats {
                    let code = if s.failed > 0 || s.unreachable > 0 {
                        "31"
                    } else if s.changed > 0 {
                        "33"
                    } else {
                        "32"
                    };
                    lines.push(format!(
                        "{} : ok={:<4} changed={:<4} unreachable={:<4} failed={:<4} skipped={:<4} rescued={:<4} ignored={}",
                        paint(self.color, code, &format!("{h:<width$}")),
                        s.ok, s.changed, s.unreachable, s.failed, s.skipped, s.rescued, s.ignored
                    ));
                }
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
mod tests {
    use super::*;

    #[test]
    fn unified_diff() {
        let d = Diff::new(
            "/etc/ssh/sshd_config",
            "a\nPermitRootLogin yes\nb\n",
            "a\nPermitRootLogin no\nb\n",
        );
        let text = render_diff(&d, false);
        assert_eq!(
            text,
            "--- before: /etc/ssh/sshd_config\n+++ after: /etc/ssh/sshd_config\n@@ -1,3 +1,3 @@\n a\n-PermitRootLogin yes\n+PermitRootLogin no\n b\n"
        );
    }

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn outcomes(n: usize) -> Vec<HostOutcome> {
        (1..=n)
            .map(|i| {
                let status = match i {
                    2 | 5 => Status::Changed,
                    4 => Status::Failed,
                    _ => Status::Ok,
                };
                let mut o = HostOutcome::new(&format!("h{i}"), status);
                if status == Status::Failed {
                    o.msg = Some("boom".into());
                }
                o
            })
            .collect()
    }

    fn printed(verbosity: u8, n: usize) -> String {
        let buf = Buf::default();
        let r = Reporter::with_output(Format::Text, verbosity, false, false, Box::new(buf.clone()));
        r.hosts(&outcomes(n));
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    /// A failed no_log loop whose message, items, diff and result all hold the secret.
    fn secret_outcome() -> HostOutcome {
        let mut o = HostOutcome::new("h1", Status::Failed);
        o.no_log = true;
        o.msg = Some("bad S3CRET".into());
        o.diffs = vec![Diff::new("/etc/pw", "old S3CRET\n", "new S3CRET\n")];
        o.result = Value::from_pairs([
            ("msg", Value::from("bad S3CRET")),
            ("attempts", Value::from(2)),
        ]);
        o.show_result = true;
        for (label, status) in [("S3CRET-a", Status::Changed), ("S3CRET-b", Status::Failed)] {
            o.items.push(ItemOutcome {
                label: label.into(),
                status,
                msg: Some(format!("{label} failed")),
                ignored: false,
            });
        }
        o
    }

    fn reported(format: Format, verbosity: u8, outcomes: &[HostOutcome]) -> String {
        let buf = Buf::default();
        let r = Reporter::with_output(format, verbosity, true, false, Box::new(buf.clone()));
        r.play("p");
        r.task("t", false);
        r.hosts(outcomes);
        r.recap(&[], &[], false, false);
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn no_log_leaves_only_the_status_in_every_format() {
        let o = secret_outcome();
        for verbosity in [0, 1, 3] {
            let text = reported(Format::Text, verbosity, std::slice::from_ref(&o));
            assert!(!text.contains("S3CRET"), "{text}");
            assert!(text.contains(&format!(
                "failed: [h1] => (item={CENSORED_ITEM}) => {{\"censored\": \"{CENSORED}\", \"changed\": false}}"
            )), "{text}");
            let json = reported(Format::Json, verbosity, std::slice::from_ref(&o));
            assert!(!json.contains("S3CRET"), "{json}");
        }
        // Without items: the task line, with attempts kept as Ansible keeps them.
        let mut single = secret_outcome();
        single.items.clear();
        let text = reported(Format::Text, 0, &[single]);
        assert!(text.contains(&format!(
            "fatal: [h1]: FAILED! => {{\"attempts\": 2, \"censored\": \"{CENSORED}\", \"changed\": false}}"
        )), "{text}");
        // Many hosts: the aggregated lines hide it too.
        let many: Vec<HostOutcome> = (0..7).map(|_| secret_outcome()).collect();
        assert!(!reported(Format::Text, 0, &many).contains("S3CRET"));
    }

    #[test]
    fn a_no_log_debug_shows_nothing_without_verbosity() {
        let mut o = HostOutcome::new("h1", Status::Ok);
        o.no_log = true;
        o.show_result = true;
        o.result = Value::from_pairs([("msg", Value::from("S3CRET"))]);
        assert!(reported(Format::Text, 0, std::slice::from_ref(&o)).contains("\nok: [h1]\n"));
        let verbose = reported(Format::Text, 1, &[o]);
        assert!(verbose.contains(&format!(
            "ok: [h1] => {{\"censored\": \"{CENSORED}\", \"changed\": false}}"
        )));
    }

    #[test]
    fn a_templating_failure_shows_its_origin_and_line_unless_no_log() {
        let dir = std::env::temp_dir().join(format!("prov-report-origin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pb.yml");
        std::fs::write(&file, "- debug:\n    msg: \"{{ nope }}\"\n").unwrap();
        let mut o = HostOutcome::new("h1", Status::Failed);
        o.msg = Some("'nope' is undefined".into());
        o.origin = Some(Span::new(std::sync::Arc::new(file.clone()), 2, 14));
        let text = reported(Format::Text, 0, std::slice::from_ref(&o));
        let want = format!(
            "fatal: [h1]: FAILED! => {{\"msg\":\"'nope' is undefined\"}}\nOrigin: {}:2:14\n  |\n2 |     msg: \"{{{{ nope }}}}\"\n  |              ^\n",
            file.display()
        );
        assert!(text.contains(&want), "{text}");
        let json = reported(Format::Json, 0, std::slice::from_ref(&o));
        assert!(
            json.contains(&format!("\"origin\": \"{}:2:14\"", file.display())),
            "{json}"
        );
        // no_log: the place, not the line.
        o.no_log = true;
        let text = reported(Format::Text, 0, &[o]);
        assert!(
            text.contains(&format!("Origin: {}:2:14\n", file.display())),
            "{text}"
        );
        assert!(!text.contains("nope"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn many_hosts_share_a_line_per_status_but_failures_stay_whole() {
        assert_eq!(
            printed(0, 7),
            "ok: [h1, h3, h6, h7]\nchanged: [h2, h5]\nfatal: [h4]: FAILED! => {\"msg\":\"boom\"}\n"
        );
        // Few hosts, or -v: one line per host as usual.
        assert_eq!(printed(0, 3).lines().count(), 3);
        assert_eq!(printed(1, 7).lines().count(), 7);
    }
}
