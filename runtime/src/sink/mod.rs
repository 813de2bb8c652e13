//! Where output records go. The embedded default writes NDJSON files; [`KafkaSink`]
//! writes topics. A sink must make everything written durable in `flush`: the
//! batch's state commits only after it returns.

mod file;
mod kafka;

pub use file::FileSink;
pub use kafka::KafkaSink;

use crate::pipeline::BatchOutput;

/// A destination for a batch's records.
pub trait Sink {
    /// Writes a batch's departure prices, product prices and dead letters.
    fn write(&mut self, batch: &BatchOutput) -> std::io::Result<()>;
    /// Makes everything written so far durable.
    fn flush(&mut self) -> std::io::Result<()>;
}
