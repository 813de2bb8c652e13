//! A sink that writes nothing and makes each batch durable as a test scripts it.

use pricing_runtime::pipeline::BatchOutput;
use pricing_runtime::sink::{Durable, Sink};

/// Each batch's [`Durable`] is the next one `script` makes: the test decides when, and
/// whether, a batch's records become durable.
pub struct Scripted<F: FnMut() -> Durable>(pub F);

impl<F: FnMut() -> Durable> Sink for Scripted<F> {
    fn write(&mut self, _: &BatchOutput) -> std::io::Result<()> {
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }

    fn write_batch(&mut self, _: &mut BatchOutput) -> std::io::Result<Durable> {
        Ok((self.0)())
    }
}
