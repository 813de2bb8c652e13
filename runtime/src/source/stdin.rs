//! NDJSON on standard input (`pricing run -`): one event per line, in micro-batches of
//! a fixed number of lines, through the same [`Runner`] as files.
//!
//! **Resume.** A pipe cannot seek and what was piped into a previous run is gone, so
//! stdin is never resumed: every run consumes what it is given from its first line.
//! Each batch still commits a position under the source `stdin` (the lines and bytes of
//! *this* run's stream consumed), so after a crash the operator can tell how much of the
//! stream was committed and send only the rest, e.g.
//! `tail -n +$((N + 1)) events.ndjson | pricing run -`. Sending the whole stream again
//! is also safe for prices: events already applied are not above their stored `seq`,
//! so they are counted stale and skipped. Bad lines are dead-lettered again, though,
//! and their records repeat.

use std::io::BufRead;

use anyhow::{Context as _, Result};

use super::file::{Cuts, Lines, Position, consume_lines};
use super::{Progress, Runner};
use crate::pipeline::Stats;

/// The name stdin goes by on the command line, in a config file's `input.files` and in
/// the origin of its events (`Origin::File { path: "-", line }`).
pub const STDIN_NAME: &str = "-";

/// The source under which stdin's position is committed.
pub const STDIN_SOURCE: &str = "stdin";

/// Consumes standard input to its end through `runner`. `progress` is called once at the
/// start (0 lines), then after each batch with the lines and bytes of this run's input
/// consumed so far.
pub fn run_stdin(batch_size: usize, runner: &mut Runner<'_>, progress: impl FnMut(Progress)) -> Result<Stats> {
    run_reader(std::io::stdin().lock(), batch_size, runner, progress)
}

/// Consumes `reader` as if it were standard input: from its first line, with stdin's
/// origins and position. [`run_stdin`] is this over the process's stdin.
pub fn run_reader(
    reader: impl BufRead,
    batch_size: usize,
    runner: &mut Runner<'_>,
    progress: impl FnMut(Progress),
) -> Result<Stats> {
    if let Some(bytes) = runner.state().position(STDIN_SOURCE)? {
        let previous = Position::decode(&bytes).context("stored stdin position is corrupt")?;
        // Not an error: a restart after a crash is the normal case. The operator needs
        // the number to send only the rest of the stream.
        tracing::info!(
            committed_lines = previous.lines,
            "stdin is not resumed: consuming it from its first line (a previous run committed committed_lines)"
        );
    }
    let lines = Lines::new(reader, STDIN_NAME, Position::default());
    consume_lines(lines, STDIN_SOURCE, Cuts::every(batch_size), false, runner, progress)
}
