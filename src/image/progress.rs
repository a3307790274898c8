//! Progress of the long image steps on a terminal (indicatif): a bar per step whose length is
//! what the same step took in the previous build of the node (from the manifest left in the
//! output directory), so it shows an ETA; a spinner with the elapsed time when there is no
//! earlier build. Nothing is drawn without a terminal on stderr or with `--format json`; the
//! step lines of the build say what happens there instead.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Earlier durations by step name, and whether to draw.
pub struct Progress {
    draw: bool,
    history: HashMap<String, f64>,
}

/// One step's bar, advanced by the clock until [`Bar::finish`].
pub struct Bar {
    bar: ProgressBar,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// `quiet`: `--format json`. `previous`: the node's manifest from an earlier build.
    pub fn new(quiet: bool, previous: Option<&Path>) -> Progress {
        Progress {
            draw: !quiet && std::io::stderr().is_terminal(),
            history: previous.map(step_history).unwrap_or_default(),
        }
    }

    pub fn draws(&self) -> bool {
        self.draw
    }

    /// What the step is expected to take (the earlier build's duration).
    pub fn expected(&self, step: &str) -> Option<Duration> {
        self.history
            .get(step)
            .filter(|s| **s > 0.0)
            .map(|s| Duration::from_secs_f64(*s))
    }

    /// Start a step's bar (hidden when nothing is drawn).
    pub fn start(&self, step: &str) -> Bar {
        if !self.draw {
            return Bar {
                bar: ProgressBar::hidden(),
                ticker: None,
            };
        }
        let bar = match self.expected(step) {
            Some(d) => {
                let bar = ProgressBar::with_draw_target(
                    Some(d.as_millis().max(1) as u64),
                    ProgressDrawTarget::stderr(),
                );
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>22} [{bar:30}] {elapsed_precise} (ETA {eta})",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar
            }
            None => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template("{prefix:>22} {spinner} {elapsed_precise}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar
            }
        };
        bar.set_prefix(step.to_string());
        let ticking = bar.clone();
        let started = Instant::now();
        let ticker = std::thread::spawn(move || {
            while !ticking.is_finished() {
                let ms = started.elapsed().as_millis() as u64;
                match ticking.length() {
                    // Past the expected time the bar waits at its end.
                    Some(len) => ticking.set_position(ms.min(len.saturating_sub(1))),
                    None => ticking.tick(),
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        Bar {
            bar,
            ticker: Some(ticker),
        }
    }
}

impl Bar {
    pub fn finish(mut self) {
        self.bar.finish_and_clear();
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

/// A bar per firmware for `prov image test` (hidden without a terminal): its message is the
/// check under way; with the boot time of the image's previous test it shows an ETA for the
/// boot, a spinner otherwise. The caller advances it ([`advance`]).
pub fn boot_bars(names: &[&str], expected: &[Option<Duration>]) -> Vec<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return names.iter().map(|_| ProgressBar::hidden()).collect();
    }
    let multi = indicatif::MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    names
        .iter()
        .zip(expected)
        .map(|(n, e)| {
            let (bar, template) = match e {
                Some(d) => (
                    ProgressBar::new(d.as_millis().max(1) as u64),
                    "{prefix:>5} [{bar:30}] {elapsed_precise} (ETA {eta}) {msg}",
                ),
                None => (
                    ProgressBar::new_spinner(),
                    "{prefix:>5} {spinner} {elapsed_precise} {msg}",
                ),
            };
            let bar = multi.add(bar);
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(n.to_string());
            bar.set_message("booting, waiting for SSH");
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        })
        .collect()
}

/// A bar of bytes (compress, upload, fetch): done of total, rate and ETA on a terminal;
/// hidden without one or when `quiet` (`--format json`).
pub fn bytes_bar(total: u64, quiet: bool, what: &str) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} (ETA {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar
}

/// Move a bar to `elapsed` (a bar waits at its end past the expected time).
pub fn advance(bar: &ProgressBar, elapsed: Duration) {
    if let Some(len) = bar.length() {
        bar.set_position((elapsed.as_millis() as u64).min(len.saturating_sub(1)));
    }
}

/// Step durations from a build manifest (`steps: [{step, seconds}]`).
fn step_history(manifest: &Path) -> HashMap<String, f64> {
    let Ok(text) = std::fs::read_to_string(manifest) else {
        return HashMap::new();
    };
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
        return HashMap::new();
    };
    doc["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s["step"].as_str()?.to_string(), s["seconds"].as_f64()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eta_comes_from_the_previous_build_and_nothing_draws_without_a_terminal() {
        let dir = std::env::temp_dir().join(format!("prov-progress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let m = dir.join("golyat-1.manifest.json");
        std::fs::write(
            &m,
            r#"{"steps": [{"step": "bootstrap", "seconds": 61.5}, {"step": "grub", "seconds": 0.0}]}"#,
        )
        .unwrap();
        let p = Progress::new(false, Some(&m));
        assert_eq!(p.expected("bootstrap"), Some(Duration::from_millis(61_500)));
        assert_eq!(p.expected("grub"), None);
        assert_eq!(p.expected("disk"), None);
        // Tests run without a terminal on stderr: hidden bars, no thread.
        if !std::io::stderr().is_terminal() {
            assert!(!p.draws());
        }
        let bar = Progress::new(true, Some(&m)).start("bootstrap");
        assert!(bar.ticker.is_none());
        bar.finish();
        assert!(
            Progress::new(false, Some(&dir.join("missing.json")))
                .history
                .is_empty()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
