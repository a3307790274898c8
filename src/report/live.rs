//! The live line of a running task, on a terminal only: once a task has run for a second,
//! stderr shows `task name  ⠋ 3.2s host-a, host-b` (the hosts it still runs on), redrawn ten
//! times a second until the task's results are printed. Every line the reporter prints clears
//! it first and draws it again after ([`Live::print`]), so no line is ever printed into it.
//! While a transport asks something on the terminal (an SSH key's passphrase) the line is gone
//! ([`crate::transport::tty`]). Without a terminal on stderr (or with `TERM=dumb`, or
//! `--format json`) there is no thread and nothing extra is written.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a task runs before its live line appears.
const AFTER: Duration = Duration::from_secs(1);

/// How often the line is redrawn.
const TICK: Duration = Duration::from_millis(100);

/// The longest task name the line shows (the hosts get the rest of the width).
const NAME_WIDTH: usize = 48;

/// Is there a terminal on stderr to draw on?
pub(super) fn terminal() -> bool {
    std::io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// The task under way.
struct Task {
    name: String,
    started: Instant,
    hosts: Vec<String>,
    bar: Option<ProgressBar>,
}

impl Task {
    /// Draw (or redraw) the line, once the task has run long enough.
    fn draw(&mut self) {
        let elapsed = self.started.elapsed();
        if elapsed < AFTER {
            return;
        }
        let msg = format!("{:.1}s {}", elapsed.as_secs_f64(), self.hosts.join(", "));
        match &self.bar {
            Some(bar) => {
                bar.set_message(msg);
                bar.tick();
            }
            None => {
                // Made whole before it is first drawn.
                let bar = ProgressBar::hidden();
                bar.set_style(
                    ProgressStyle::with_template("{prefix}  {spinner} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(shorten(&self.name));
                bar.set_message(msg);
                bar.set_draw_target(ProgressDrawTarget::stderr());
                bar.tick();
                self.bar = Some(bar);
            }
        }
    }
}

/// A task name cut to [`NAME_WIDTH`] characters.
fn shorten(name: &str) -> String {
    if name.chars().count() <= NAME_WIDTH {
        return name.to_string();
    }
    let mut s: String = name.chars().take(NAME_WIDTH - 1).collect();
    s.push('…');
    s
}

/// What the drawing thread shares with the reporter.
#[derive(Default)]
struct State {
    task: Option<Task>,
    /// A question is on the terminal: draw nothing.
    paused: bool,
}

impl State {
    /// Clear the line, if it is shown (it is drawn anew on the next tick).
    fn clear(&mut self) {
        if let Some(bar) = self.task.as_mut().and_then(|t| t.bar.take()) {
            bar.finish_and_clear();
        }
    }
}

/// The live line: off, or the running task shared with the thread that draws it.
pub(super) struct Live {
    state: Option<Arc<Mutex<State>>>,
}

impl Live {
    pub(super) fn off() -> Live {
        Live { state: None }
    }

    /// Start drawing: a thread that redraws the current task's line until the reporter is gone.
    pub(super) fn start() -> Live {
        let state = Arc::new(Mutex::new(State::default()));
        let weak = Arc::downgrade(&state);
        let spawned = std::thread::Builder::new()
            .name("prov-live".into())
            .spawn(move || redraw(weak));
        Live {
            state: spawned.ok().map(|_| state),
        }
    }

    /// Step aside while a transport asks something on the terminal.
    pub(super) fn hook_prompts(&self) {
        let Some(state) = &self.state else { return };
        let weak = Arc::downgrade(state);
        crate::transport::tty::on_prompt(Box::new(move |asking| {
            if let Some(state) = weak.upgrade() {
                pause(&state, asking);
            }
        }));
    }

    fn lock(&self) -> Option<MutexGuard<'_, State>> {
        self.state
            .as_ref()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A task starts (its line appears after [`AFTER`]).
    pub(super) fn begin(&self, name: &str) {
        if let Some(mut s) = self.lock() {
            s.task = Some(Task {
                name: name.to_string(),
                started: Instant::now(),
                hosts: Vec::new(),
                bar: None,
            });
        }
    }

    /// The task started (`true`) or finished on `host`.
    pub(super) fn running(&self, host: &str, started: bool) {
        if let Some(mut s) = self.lock()
            && let Some(t) = s.task.as_mut()
        {
            t.hosts.retain(|h| h != host);
            if started {
                t.hosts.push(host.to_string());
            }
        }
    }

    /// The task's results are about to be printed: clear its line for good.
    pub(super) fn end(&self) {
        if let Some(mut s) = self.lock() {
            s.clear();
            s.task = None;
        }
    }

    /// Print with `f`: the line is cleared before and drawn again after. While no line is
    /// shown, none can appear during `f` (the drawing thread waits for the lock).
    pub(super) fn print(&self, f: impl FnOnce()) {
        let Some(s) = self.lock() else {
            return f();
        };
        match s.task.as_ref().and_then(|t| t.bar.clone()) {
            Some(bar) => {
                drop(s);
                bar.suspend(f);
            }
            None => f(),
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.end();
    }
}

/// Clear the line and draw nothing while `asking` (until called again with `false`).
fn pause(state: &Mutex<State>, asking: bool) {
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    s.paused = asking;
    s.clear();
}

/// The drawing thread: it ends with the reporter.
fn redraw(state: Weak<Mutex<State>>) {
    loop {
        std::thread::sleep(TICK);
        let Some(state) = state.upgrade() else {
            return;
        };
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        if !s.paused
            && let Some(t) = s.task.as_mut()
        {
            t.draw();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_and_an_off_line_prints_plainly() {
        assert_eq!(shorten("apt"), "apt");
        let long = "x".repeat(80);
        let cut = shorten(&long);
        assert_eq!(cut.chars().count(), NAME_WIDTH);
        assert!(cut.ends_with('…'));
        let live = Live::off();
        live.begin("t");
        live.running("h", true);
        let mut printed = false;
        live.print(|| printed = true);
        live.end();
        assert!(printed);
    }

    /// A task past its first second gets its line; a question on the terminal removes it
    /// until answered. (Without a terminal in tests the line is drawn nowhere, but exists.)
    #[test]
    fn a_line_appears_after_a_second_and_steps_aside_for_a_question() {
        let live = Live::start();
        let state = live.state.clone().unwrap();
        live.begin("slow");
        live.running("h", true);
        state.lock().unwrap().task.as_mut().unwrap().started -= Duration::from_secs(2);
        let shown = || state.lock().unwrap().task.as_ref().unwrap().bar.is_some();
        let wait = |want: bool| {
            let start = Instant::now();
            while shown() != want {
                assert!(
                    start.elapsed() < Duration::from_secs(5),
                    "line shown: {want}"
                );
                std::thread::sleep(TICK / 2);
            }
        };
        wait(true);
        let msg = state
            .lock()
            .unwrap()
            .task
            .as_ref()
            .unwrap()
            .bar
            .as_ref()
            .unwrap()
            .message();
        assert!(msg.ends_with("s h"), "{msg}");
        pause(&state, true);
        assert!(!shown());
        std::thread::sleep(TICK * 3);
        assert!(!shown(), "drawn during a question");
        pause(&state, false);
        wait(true);
        live.end();
        assert!(state.lock().unwrap().task.is_none());
    }

    /// A line that was never drawn (the task ended within a second) leaves nothing to clear,
    /// and the drawing thread ends with the reporter.
    #[test]
    fn a_short_task_draws_nothing_and_the_thread_ends() {
        let live = Live::start();
        let weak = Arc::downgrade(live.state.as_ref().unwrap());
        live.begin("quick");
        live.running("h", true);
        live.running("h", false);
        assert!(live.lock().unwrap().task.as_ref().unwrap().hosts.is_empty());
        live.end();
        assert!(live.lock().unwrap().task.is_none());
        drop(live);
        // The thread may hold the state for the length of one redraw.
        let start = Instant::now();
        while weak.upgrade().is_some() {
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "the thread still runs"
            );
            std::thread::sleep(TICK);
        }
    }
}
