//! Where input events come from. The embedded default reads NDJSON files; every source
//! hands its micro-batches to the shared [`Runner`].

mod file;
mod runner;

pub use file::run_file;
pub use runner::Runner;
