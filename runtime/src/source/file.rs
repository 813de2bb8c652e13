//! NDJSON files as input: one event per line, consumed in micro-batches of a fixed
//! number of lines. The position stored with each batch is the lines consumed and the
//! byte offset after them, so a restart seeks to just after the last committed batch.
//!
//! Before a batch's output is sent, where it ends is written to the state as an intent
//! (`meta` `intent/file:PATH@LINE`), and its commit removes it. A restart after a crash
//! first cuts the batches those intents name again, exactly, even with another batch
//! size: a batch cut differently coalesces differently, and could leave a consumer with
//! a version (and a price) that the state no longer has. Then it cuts by batch size.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

use anyhow::{Context as _, Result};

use super::{Intent, Progress, Runner};
use crate::intake::Origin;
use crate::pipeline::{Input, Stats};
use crate::state::State;

/// Consumes `path` from its stored position to the end through `runner`, and returns
/// the counters of what it read. `progress` is called once with that position, then
/// after each batch, with the lines and bytes of the file consumed so far (counted from
/// the file's start, so a resumed run starts where the last one committed). The last
/// batch's commit may still be in flight: [`Runner::finish`] waits for it.
pub fn run_file(
    path: &Path,
    batch_size: usize,
    runner: &mut Runner<'_>,
    progress: impl FnMut(Progress),
) -> Result<Stats> {
    let name = path.display().to_string();
    let source = format!("file:{name}");
    let start = match runner.state().position(&source)? {
        Some(bytes) => Position::decode(&bytes).context("stored file position is corrupt")?,
        None => Position::default(),
    };
    let cuts = Cuts::left(runner.state(), &source, start.lines, batch_size)?;
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot open input {name}"))?;
    // Resume by seeking, not by reading the consumed lines again.
    let offset = start.offset;
    file.seek(SeekFrom::Start(offset)).with_context(|| format!("seeking {name} to byte {offset}"))?;
    consume_lines(Lines::new(BufReader::new(file), &name, start), &source, cuts, true, runner, progress)
}

/// Where a source's batches are cut: first at the ends of the batches a crashed run
/// may have sent output for, then every `batch_size` lines.
pub(super) struct Cuts {
    /// Lines per batch, at least 1.
    batch_size: usize,
    /// The prefix of this source's intent names; `None` for a source that keeps none
    /// (stdin, read again from its first line by each run).
    prefix: Option<String>,
    /// The line each left batch ends at, ascending, all past the start.
    ends: VecDeque<u64>,
    /// Intents at or before the start: nothing left to replay, removed with the next
    /// commit.
    retire: Vec<String>,
}

impl Cuts {
    /// Every `batch_size` lines, with no intents kept.
    pub(super) fn every(batch_size: usize) -> Self {
        Cuts { batch_size: batch_size.max(1), prefix: None, ends: VecDeque::new(), retire: Vec::new() }
    }

    /// After the batches `source` left in `state` (for a run resuming after `start`
    /// lines), every `batch_size` lines; each batch's intent kept until it commits.
    fn left(state: &State, source: &str, start: u64, batch_size: usize) -> Result<Self> {
        let prefix = format!("{source}@");
        let mut cuts = Cuts { prefix: Some(prefix.clone()), ..Cuts::every(batch_size) };
        // Names carry the end zero-padded, so they list in line order.
        for (name, value) in state.intents(&prefix)? {
            // Another file's, whose path starts with this one's and an `@`.
            if !name[prefix.len()..].bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            match Position::decode(&value) {
                Some(end) if end.lines > start => cuts.ends.push_back(end.lines),
                _ => cuts.retire.push(name),
            }
        }
        if let (Some(first), Some(last)) = (cuts.ends.front(), cuts.ends.back()) {
            tracing::info!(
                source,
                batches = cuts.ends.len(),
                first_end = first,
                last_end = last,
                "replaying the batches a previous run cut and did not commit, cut where it cut them"
            );
        }
        Ok(cuts)
    }

    /// How many lines the batch after `lines` may hold.
    fn size(&self, lines: u64) -> usize {
        match self.ends.front() {
            Some(&end) => usize::try_from(end - lines).unwrap_or(usize::MAX),
            None => self.batch_size,
        }
    }
}

/// Reads `lines` to its end in batches cut at `cuts`, and commits each batch under
/// `source` with the position after it. Blank lines count as consumed but are not
/// events. `progress` gets the position `lines` starts at, then the position after each
/// batch. Returns the counters of the batches it ran.
///
/// With `read_ahead` (a file, whose lines are all there), each batch is read before the
/// one before it runs, so that it is decoded while that one is priced
/// ([`Runner::batch_then`]). Not for a pipe: a batch would wait for the next to arrive.
pub(super) fn consume_lines(
    mut lines: Lines<'_, impl BufRead>,
    source: &str,
    mut cuts: Cuts,
    read_ahead: bool,
    runner: &mut Runner<'_>,
    mut progress: impl FnMut(Progress),
) -> Result<Stats> {
    let mut stats = Stats::default();
    progress(Progress { lines: lines.at.lines, bytes: lines.at.offset });
    // A batch grows as lines arrive: a huge --batch-size must not reserve memory up front.
    let mut batch = Vec::with_capacity(cuts.batch_size.min(4_096));
    let mut next = Vec::new();
    let mut read = lines.fill(&mut batch, &mut cuts)?;
    while read > 0 {
        let after = lines.at;
        let position = after.encode();
        let next_read = if read_ahead { lines.fill(&mut next, &mut cuts)? } else { 0 };
        let ran = match &cuts.prefix {
            Some(prefix) => {
                let intent = Intent {
                    name: format!("{prefix}{:020}", after.lines),
                    value: position.clone(),
                    retire: std::mem::take(&mut cuts.retire),
                };
                runner.batch_at(&batch, &next, vec![(source.to_owned(), position)], &intent)?
            }
            None => runner.batch_then(&batch, &next, source, position)?,
        };
        stats.add(&ran);
        progress(Progress { lines: after.lines, bytes: after.offset });
        if read_ahead {
            std::mem::swap(&mut batch, &mut next);
            read = next_read;
        } else {
            read = lines.fill(&mut batch, &mut cuts)?;
        }
    }
    Ok(stats)
}

/// A line-oriented input being read, and how far. Its events get
/// `Origin::File { path: name, line }`.
pub(super) struct Lines<'n, R> {
    reader: R,
    name: &'n str,
    /// The position after the last line read.
    at: Position,
    text: String,
}

impl<'n, R: BufRead> Lines<'n, R> {
    /// `reader`, named `name`, whose lines and bytes are counted on from `start`.
    pub(super) fn new(reader: R, name: &'n str, start: Position) -> Self {
        Lines { reader, name, at: start, text: String::new() }
    }

    /// Replaces `batch` with the next batch's events, cut at `cuts`; returns how many
    /// lines it read (0: the end).
    fn fill(&mut self, batch: &mut Vec<Input>, cuts: &mut Cuts) -> Result<usize> {
        batch.clear();
        let mut read = 0usize;
        let size = cuts.size(self.at.lines);
        while read < size {
            self.text.clear();
            let n = self.reader.read_line(&mut self.text).with_context(|| format!("reading {}", self.name))?;
            if n == 0 {
                break;
            }
            read += 1;
            self.at.lines += 1;
            self.at.offset += n as u64;
            let event = self.text.trim_end_matches(['\n', '\r']);
            if !event.trim().is_empty() {
                batch.push(Input {
                    text: event.to_owned(),
                    origin: Origin::File { path: self.name.to_owned(), line: self.at.lines },
                });
            }
        }
        if cuts.ends.front() == Some(&self.at.lines) {
            cuts.ends.pop_front();
        }
        Ok(read)
    }
}

/// How far a line-oriented input was consumed: whole lines, and the byte offset just
/// after them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Position {
    pub(super) lines: u64,
    pub(super) offset: u64,
}

impl Position {
    pub(super) fn encode(&self) -> Vec<u8> {
        [self.lines.to_le_bytes(), self.offset.to_le_bytes()].concat()
    }

    pub(super) fn decode(bytes: &[u8]) -> Option<Self> {
        let (lines, offset) = bytes.split_at_checked(8)?;
        Some(Position {
            lines: u64::from_le_bytes(lines.try_into().ok()?),
            offset: u64::from_le_bytes(offset.try_into().ok()?),
        })
    }
}
