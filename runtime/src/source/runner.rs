//! The commit loop every source shares: a micro-batch is priced, its records are
//! written and flushed, and only then is its state committed together with the input
//! position it consumed. A crash in between repeats output, never loses it.

use anyhow::{Context as _, Result};

use crate::engine::PluginSet;
use crate::intake::format_millis;
use crate::pipeline::{Input, Pipeline, Stats};
use crate::sink::Sink;
use crate::state::State;

/// Runs micro-batches from one source through the pipeline into a sink.
pub struct Runner<'a> {
    state: &'a State,
    plugins: &'a PluginSet,
    pipeline: &'a Pipeline,
    sink: &'a mut dyn Sink,
    total: Stats,
}

impl<'a> Runner<'a> {
    /// A runner over the given state, plugins, pipeline and sink.
    pub fn new(state: &'a State, plugins: &'a PluginSet, pipeline: &'a Pipeline, sink: &'a mut dyn Sink) -> Self {
        Runner { state, plugins, pipeline, sink, total: Stats::default() }
    }

    /// Prices one micro-batch and commits it with `position`, the opaque resume point of
    /// `source` after these inputs. Returns the batch's counters.
    pub fn batch(&mut self, inputs: &[Input], source: &str, position: Vec<u8>) -> Result<Stats> {
        let mut out = self.pipeline.process(self.state, self.plugins, inputs, &format_millis(now_millis()))?;
        self.sink.write(&out).context("writing output records")?;
        self.sink.flush().context("flushing output records")?;
        let mut pending = std::mem::take(&mut out.pending);
        pending.set_position(source, position);
        pending.commit(self.state)?;
        self.total.add(&out.stats);
        Ok(out.stats)
    }

    /// The counters of every batch so far.
    #[must_use]
    pub fn total(&self) -> &Stats {
        &self.total
    }

    /// Ends the run and returns its counters.
    pub fn finish(self) -> Result<Stats> {
        Ok(self.total)
    }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
