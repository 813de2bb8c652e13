//! Where input events come from. The embedded default reads NDJSON files or standard
//! input, a deployment a Kafka topic; every source hands its micro-batches to the shared [`Runner`].

mod file;
mod kafka;
mod runner;
mod stdin;

pub use file::run_file;
pub use kafka::{Until, position_source, record_cut, run_kafka};
pub use runner::{Intent, Plugins, Runner};
pub use stdin::{STDIN_NAME, STDIN_SOURCE, run_reader, run_stdin};

/// How far a line-oriented source has got: reported once where a run starts, then after
/// each committed batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Lines consumed (blank lines included). For a file, counted from its start, so a
    /// resumed run starts at the lines a previous run committed.
    pub lines: u64,
    /// Bytes consumed, counted like `lines`: for a file, its byte offset after them.
    pub bytes: u64,
}
