//! Progress of long work for the command line: a bar on stderr while `pricing run`
//! consumes a file (bytes of its size, events/s, ETA) or stdin (a counter), while
//! `pricing gen` writes a large workload, and while `pricing admin reprice` (or
//! `price-rollback`) follows a job on a running engine.
//!
//! A bar is drawn only when stderr is a terminal (indicatif hides it otherwise). Logs
//! are what a service's operator sees, so a hidden `run` bar falls back to a `tracing`
//! info line about every [`LOG_EVERY_LINES`] lines.

use std::io::IsTerminal as _;
use std::time::Instant;

use indicatif::{HumanCount, ProgressBar, ProgressStyle};

use crate::source::Progress;

/// Lines between two progress log lines when no bar is shown.
pub const LOG_EVERY_LINES: u64 = 100_000;

/// `pricing gen` shows a bar only for workloads of at least this many lines: a smaller
/// one is written before a bar would be worth drawing.
pub const GEN_BAR_MIN_LINES: u64 = 200_000;

/// The progress of consuming one input, fed by the source's per-batch callback.
pub struct InputProgress {
    bar: ProgressBar,
    name: String,
    /// Lines and time at the first report: a resumed file starts part-way, and the rate
    /// must count only what this run consumed.
    baseline: Option<(u64, Instant)>,
    /// The line count at which the next log line is due when the bar is hidden.
    next_log: u64,
}

impl InputProgress {
    /// Progress of consuming a file of `size` bytes, shown as `name`.
    #[must_use]
    pub fn file(name: &str, size: u64) -> Self {
        let bar = ProgressBar::new(size);
        bar.set_style(style("{prefix} [{elapsed_precise}] [{bar:30.cyan/blue}] {bytes}/{total_bytes} {msg} ETA {eta}"));
        InputProgress::new(bar, name)
    }

    /// Progress of consuming a stream of unknown length (stdin), shown as `name`.
    #[must_use]
    pub fn stream(name: &str) -> Self {
        let bar = ProgressBar::new_spinner();
        bar.set_style(style("{prefix} [{elapsed_precise}] {spinner} {bytes} {msg}"));
        if !bar.is_hidden() {
            // A pipe may be idle for long; the ticking clock shows the run is alive.
            bar.enable_steady_tick(std::time::Duration::from_millis(250));
        }
        InputProgress::new(bar, name)
    }

    fn new(bar: ProgressBar, name: &str) -> Self {
        bar.set_prefix(name.to_owned());
        InputProgress { bar, name: name.to_owned(), baseline: None, next_log: 0 }
    }

    /// Reports how far the source has got.
    pub fn update(&mut self, progress: Progress) {
        let Some((first_lines, since)) = self.baseline else {
            // The first report is where this run starts (a resumed file's committed
            // position): the bar jumps there without counting it as throughput.
            self.baseline = Some((progress.lines, Instant::now()));
            self.next_log = next_multiple(progress.lines);
            self.bar.set_position(progress.bytes);
            self.bar.reset_eta();
            return;
        };
        let lines = progress.lines - first_lines;
        let seconds = since.elapsed().as_secs_f64();
        let rate = if seconds > 0.0 { (lines as f64 / seconds) as u64 } else { 0 };
        self.bar.set_position(progress.bytes);
        self.bar.set_message(format!("{} lines, {} events/s", HumanCount(progress.lines), HumanCount(rate)));
        if self.bar.is_hidden() && progress.lines >= self.next_log {
            self.next_log = next_multiple(progress.lines);
            tracing::info!(
                input = %self.name,
                lines = progress.lines,
                bytes = progress.bytes,
                events_per_s = rate,
                "progress"
            );
        }
    }

    /// Removes the bar (the caller logs the summary).
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

/// The smallest multiple of [`LOG_EVERY_LINES`] above `lines`.
fn next_multiple(lines: u64) -> u64 {
    (lines / LOG_EVERY_LINES + 1) * LOG_EVERY_LINES
}

/// The progress callback of [`crate::r#gen::generate`]: a bar of lines written over
/// lines expected, for large workloads, drawn only when stderr is a terminal and stdout
/// is not (generated lines on the same terminal would tear it).
#[derive(Default)]
pub struct GenProgress {
    bar: Option<ProgressBar>,
}

impl GenProgress {
    /// No bar yet: it appears at the first report of a large enough workload.
    #[must_use]
    pub fn new() -> Self {
        GenProgress::default()
    }

    /// `generate`'s report: `written` of `expected` lines.
    pub fn update(&mut self, written: u64, expected: u64) {
        if self.bar.is_none() && expected >= GEN_BAR_MIN_LINES && !std::io::stdout().is_terminal() {
            let bar = ProgressBar::new(expected);
            bar.set_style(style(
                "gen [{elapsed_precise}] [{bar:30.cyan/blue}] {human_pos}/{human_len} lines ETA {eta}",
            ));
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            // The expected count is an estimate; the bar must not stop short of the end.
            bar.set_length(expected.max(written));
            bar.set_position(written);
        }
    }

    /// Removes the bar (the caller prints the summary).
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A job followed through the admin API: departures done of its total. Without a
/// terminal, one log line per [`LOG_EVERY_LINES`] departures.
pub struct JobProgress {
    bar: ProgressBar,
    next_log: u64,
}

impl JobProgress {
    /// A bar named `name` (e.g. `reprice flight`).
    #[must_use]
    pub fn new(name: &str) -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(style(
            "{prefix} [{elapsed_precise}] [{bar:30.cyan/blue}] {human_pos}/{human_len} departures {msg} ETA {eta}",
        ));
        bar.set_prefix(name.to_owned());
        JobProgress { bar, next_log: LOG_EVERY_LINES }
    }

    /// The job's latest status: `done` of `total` departures at `rate` per second.
    pub fn update(&mut self, state: &str, done: u64, total: u64, rate: f64) {
        self.bar.set_length(total);
        self.bar.set_position(done);
        self.bar.set_message(format!("{state}, {} departures/s", HumanCount(rate as u64)));
        if self.bar.is_hidden() && done >= self.next_log {
            self.next_log = next_multiple(done);
            tracing::info!(state, done, total, departures_per_s = rate.round(), "job progress");
        }
    }

    /// Removes the bar (the caller prints the final status).
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

fn style(template: &str) -> ProgressStyle {
    // The templates are constants; a broken one falls back to indicatif's default bar
    // rather than failing a run over cosmetics.
    ProgressStyle::with_template(template).map_or_else(|_| ProgressStyle::default_bar(), |s| s.progress_chars("=> "))
}
