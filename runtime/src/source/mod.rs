//! Where input events come from. The embedded default reads NDJSON files.

mod file;

pub use file::run_file;
