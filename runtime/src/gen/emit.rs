//! The line writer: ids, the clock, progress, and the memory of recent events that stale
//! replays are drawn from.

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};

use super::rng::Rng;
use super::world::write_instant;

/// How many recent valid events a stale replay may be drawn from.
const REPLAY_WINDOW: usize = 1024;
/// Progress is reported every this many lines (and at the end).
const PROGRESS_EVERY: u64 = 4096;

/// Writes one NDJSON line at a time: `begin` writes the id, the caller appends the body
/// into `line` (calling `ts` at the timestamp's place), `end` writes it out.
pub(super) struct Sink<'a, W: Write, P: FnMut(u64, u64)> {
    out: BufWriter<&'a mut W>,
    pub line: String,
    body: usize,
    pub lines: u64,
    total: u64,
    clock_ms: i64,
    step_ms: u64,
    clock_rng: Rng,
    progress: P,
    recent: Vec<String>,
    recent_next: usize,
}

impl<'a, W: Write, P: FnMut(u64, u64)> Sink<'a, W, P> {
    pub(super) fn new(out: &'a mut W, clock_rng: Rng, start_ms: i64, step_ms: u64, total: u64, progress: P) -> Self {
        Sink {
            out: BufWriter::with_capacity(1 << 16, out),
            line: String::with_capacity(4096),
            body: 0,
            lines: 0,
            total,
            clock_ms: start_ms,
            step_ms,
            clock_rng,
            progress,
            recent: Vec::with_capacity(REPLAY_WINDOW),
            recent_next: 0,
        }
    }

    /// Starts the next line with its unique id, and moves the clock on (by 1 to
    /// `2 * step_ms` ms, so timestamps strictly grow).
    pub(super) fn begin(&mut self) {
        self.lines += 1;
        self.line.clear();
        let _ = write!(self.line, r#"{{"id":"e-{}","#, self.lines);
        self.body = self.line.len();
        self.clock_ms += 1 + self.clock_rng.below(2 * self.step_ms.max(1)) as i64;
    }

    /// Appends `"ts":"<now>"`.
    pub(super) fn ts(&mut self) {
        self.line.push_str(r#""ts":""#);
        write_instant(&mut self.line, self.clock_ms);
        self.line.push('"');
    }

    /// Cuts the line's body in half: no longer JSON.
    pub(super) fn truncate(&mut self) {
        let keep = self.body + (self.line.len() - self.body) / 2;
        self.line.truncate(keep);
    }

    /// Writes the line; `remember` makes it a candidate for a later stale replay.
    pub(super) fn end(&mut self, remember: bool) -> io::Result<()> {
        if remember {
            let body = &self.line[self.body..];
            if self.recent.len() < REPLAY_WINDOW {
                self.recent.push(body.to_owned());
            } else {
                let slot = &mut self.recent[self.recent_next];
                slot.clear();
                slot.push_str(body);
            }
            self.recent_next = (self.recent_next + 1) % REPLAY_WINDOW;
        }
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())?;
        if self.lines.is_multiple_of(PROGRESS_EVERY) {
            (self.progress)(self.lines, self.total);
        }
        Ok(())
    }

    /// Writes, under a new id, an exact copy of one of the recent valid events (its
    /// original `seq` and `ts` included). Its seq is not above the one stored for its
    /// (kind, key, supplier), so it is stale. False if nothing was written yet.
    pub(super) fn replay(&mut self, rng: &mut Rng) -> io::Result<bool> {
        if self.recent.is_empty() {
            return Ok(false);
        }
        let pick = rng.index(self.recent.len());
        self.begin();
        self.line.push_str(&self.recent[pick]);
        self.end(false)?;
        Ok(true)
    }

    /// Flushes and reports the final progress.
    pub(super) fn finish(mut self) -> io::Result<()> {
        self.out.flush()?;
        (self.progress)(self.lines, self.total);
        Ok(())
    }
}
