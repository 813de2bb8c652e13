//! NDJSON files as input: one event per line, consumed in micro-batches of a fixed
//! number of lines. The position stored with each batch is the lines consumed and the
//! byte offset after them, so a restart seeks to just after the last committed batch
//! and keeps the batch boundaries of an uninterrupted run.

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

use anyhow::{Context as _, Result};

use super::{Progress, Runner};
use crate::intake::Origin;
use crate::pipeline::{Input, Stats};

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
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot open input {name}"))?;
    // Resume by seeking, not by reading the consumed lines again.
    let offset = start.offset;
    file.seek(SeekFrom::Start(offset)).with_context(|| format!("seeking {name} to byte {offset}"))?;
    consume_lines(BufReader::new(file), &name, &source, start, batch_size, runner, progress)
}

/// Reads `reader` to its end in batches of `batch_size` lines, numbering lines and
/// counting bytes on from `start`, and commits each batch under `source` with the
/// position after it. Blank lines count as consumed but are not events. Events get
/// `Origin::File { path: name, line }`. `progress` gets `start`, then the position
/// after each batch. Returns the counters of the batches it ran.
pub(super) fn consume_lines(
    mut reader: impl BufRead,
    name: &str,
    source: &str,
    start: Position,
    batch_size: usize,
    runner: &mut Runner<'_>,
    mut progress: impl FnMut(Progress),
) -> Result<Stats> {
    let mut stats = Stats::default();
    let Position { mut lines, mut offset } = start;
    progress(Progress { lines, bytes: offset });
    let size = batch_size.max(1);
    // The batch grows as lines arrive: a huge --batch-size must not reserve memory up front.
    let mut batch = Vec::with_capacity(size.min(4_096));
    let mut text = String::new();
    loop {
        batch.clear();
        let mut read = 0usize;
        while read < size {
            text.clear();
            let n = reader.read_line(&mut text).with_context(|| format!("reading {name}"))?;
            if n == 0 {
                break;
            }
            read += 1;
            lines += 1;
            offset += n as u64;
            let event = text.trim_end_matches(['\n', '\r']);
            if !event.trim().is_empty() {
                batch.push(Input {
                    text: event.to_owned(),
                    origin: Origin::File { path: name.to_owned(), line: lines },
                });
            }
        }
        if read == 0 {
            return Ok(stats);
        }
        stats.add(&runner.batch(&batch, source, Position { lines, offset }.encode())?);
        progress(Progress { lines, bytes: offset });
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
