//! The commit loop every source shares: a micro-batch is priced, its records are
//! written and flushed, and only then is its state committed together with the input
//! position it consumed. A crash in between repeats output, never loses it.
//!
//! The fjall commit of batch N runs on its own thread while batch N+1 is priced: the
//! pipeline reads its working set, which already holds N's changes, so it never needs
//! N's writes from fjall. N+1's commit starts only after N's has finished, and N+1's
//! records are flushed before it, so the order "output, then state" holds per batch.
//!
//! With [`Runner::live`] the plugin set is taken from a [`LivePlugins`] once per batch,
//! so an operator's swap takes effect at the next batch and never inside one.

use std::thread::JoinHandle;

use anyhow::{Context as _, Result};

use crate::engine::{LivePlugins, PluginSet};
use crate::intake::format_millis;
use crate::pipeline::{Input, Pipeline, Stats};
use crate::sink::Sink;
use crate::state::State;

/// Where a runner takes its plugins from: `&PluginSet` and `&LivePlugins` both convert,
/// so a source can take `impl Into<Plugins>` and serve either.
#[derive(Clone, Copy)]
pub enum Plugins<'a> {
    /// One set for the whole run.
    Fixed(&'a PluginSet),
    /// Whatever set is active when a batch starts (hot reload).
    Live(&'a LivePlugins),
}

impl<'a> From<&'a PluginSet> for Plugins<'a> {
    fn from(set: &'a PluginSet) -> Self {
        Plugins::Fixed(set)
    }
}

impl<'a> From<&'a LivePlugins> for Plugins<'a> {
    fn from(live: &'a LivePlugins) -> Self {
        Plugins::Live(live)
    }
}

/// Runs micro-batches from one source through the pipeline into a sink.
pub struct Runner<'a> {
    state: &'a State,
    plugins: Plugins<'a>,
    pipeline: &'a Pipeline,
    sink: &'a mut dyn Sink,
    total: Stats,
    committing: Option<JoinHandle<Result<(), crate::state::StateError>>>,
}

impl<'a> Runner<'a> {
    /// A runner over the given state, plugins (a fixed `&PluginSet` or a `&LivePlugins`
    /// read once per batch), pipeline and sink.
    pub fn new(
        state: &'a State,
        plugins: impl Into<Plugins<'a>>,
        pipeline: &'a Pipeline,
        sink: &'a mut dyn Sink,
    ) -> Self {
        Runner { state, plugins: plugins.into(), pipeline, sink, total: Stats::default(), committing: None }
    }

    /// A runner that takes the active plugin set from `plugins` at the start of each
    /// batch (hot reload); the same as [`Runner::new`] with a `&LivePlugins`.
    pub fn live(state: &'a State, plugins: &'a LivePlugins, pipeline: &'a Pipeline, sink: &'a mut dyn Sink) -> Self {
        Runner::new(state, plugins, pipeline, sink)
    }

    /// Prices one micro-batch and commits it with `position`, the opaque resume point of
    /// `source` after these inputs. Returns the batch's counters.
    pub fn batch(&mut self, inputs: &[Input], source: &str, position: Vec<u8>) -> Result<Stats> {
        // Taken once: the whole batch is priced by one snapshot of the set.
        let snapshot;
        let plugins = match self.plugins {
            Plugins::Fixed(set) => set,
            Plugins::Live(live) => {
                snapshot = live.load();
                &*snapshot
            }
        };
        let mut out = self.pipeline.process(self.state, plugins, inputs, &format_millis(now_millis()))?;
        self.sink.write(&out).context("writing output records")?;
        self.sink.flush().context("flushing output records")?;
        let mut pending = std::mem::take(&mut out.pending);
        pending.set_position(source, position);
        self.wait()?;
        let committer = self.state.committer();
        let handle = std::thread::Builder::new()
            .name("commit".into())
            .spawn(move || pending.commit_to(&committer))
            .context("starting the commit thread")?;
        self.committing = Some(handle);
        self.total.add(&out.stats);
        Ok(out.stats)
    }

    /// Waits for the commit in flight.
    fn wait(&mut self) -> Result<()> {
        if let Some(handle) = self.committing.take() {
            match handle.join() {
                Ok(result) => result.context("committing a batch")?,
                Err(_) => anyhow::bail!("the commit thread panicked"),
            }
        }
        Ok(())
    }

    /// The counters of every batch so far.
    #[must_use]
    pub fn total(&self) -> &Stats {
        &self.total
    }

    /// Waits for the last commit, ends the run and returns its counters.
    pub fn finish(mut self) -> Result<Stats> {
        self.wait()?;
        Ok(std::mem::take(&mut self.total))
    }
}

impl Drop for Runner<'_> {
    fn drop(&mut self) {
        // A runner dropped on an error path still lets its last commit land.
        if let Err(e) = self.wait() {
            tracing::error!(error = %format!("{e:#}"), "last commit failed");
        }
    }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
