//! Where output records go. The embedded default writes NDJSON files; [`KafkaSink`]
//! writes topics. A batch's state commits only after its records are durable: after
//! [`Sink::flush`] returns or, for [`Sink::write_batch`], after the [`Durable`] it
//! returns is done.

mod direct;
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
    /// Writes a batch's records and returns what is left to make them durable, which
    /// the runner does on its commit thread, just before the batch's state commits. The
    /// sink may take the batch's buffers. By default: [`Sink::write`], then
    /// [`Sink::flush`], and nothing is left.
    fn write_batch(&mut self, batch: &mut BatchOutput) -> std::io::Result<Durable> {
        self.write(batch)?;
        self.flush()?;
        Ok(Durable::done())
    }
}

/// What is left to make a batch's written records durable (see [`Sink::write_batch`]).
#[must_use = "a batch's state may commit only once its records are durable"]
pub struct Durable(Option<Box<dyn FnOnce() -> std::io::Result<()> + Send>>);

impl Durable {
    /// Nothing: the records are durable already.
    pub fn done() -> Self {
        Durable(None)
    }

    /// The records are durable once `wait` returns `Ok`.
    pub fn after(wait: impl FnOnce() -> std::io::Result<()> + Send + 'static) -> Self {
        Durable(Some(Box::new(wait)))
    }

    /// Waits until the records are durable.
    pub fn wait(self) -> std::io::Result<()> {
        self.0.map_or(Ok(()), |wait| wait())
    }
}
