//! The commit loop every source shares: a micro-batch is priced, its records are
//! written and flushed, and only then is its state committed together with the input
//! position it consumed. A crash in between repeats output, never loses it.
//!
//! The fjall commit of batch N runs on its own thread while batch N+1 is priced: the
//! pipeline reads its working set, which already holds N's changes, so it never needs
//! N's writes from fjall. That thread first waits for what the sink left to make N's
//! records durable ([`Durable`]: the file sink writes departure prices on a thread of
//! its own), then for N-1's commit, then commits. Up to [`COMMITS_IN_FLIGHT`] commits
//! are in flight; they land in batch order, so the order "output, then state" holds per
//! batch. After a failed commit, no later one lands: the runner's caller stops. A
//! source whose batches are cut by time (Kafka) also writes each batch's [`Intent`]
//! before its output, so that a crash before the commit replays the very same batch.
//!
//! With [`Runner::live`] the plugin set is taken from a [`LivePlugins`] once per batch,
//! so an operator's swap takes effect at the next batch and never inside one.
//!
//! With [`Runner::with_ops`] the runner also does the operations' work (see `ops/`): a
//! chunk of a reprice or price rollback rides along with a batch's events, shadow
//! candidates price the batch's departures beside the active versions, and failure
//! counts feed the automatic rollback. [`Runner::run_ops`] works through the queue when
//! no input arrives.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, SyncSender};
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{Context as _, Result};

use crate::engine::{LivePlugins, PluginSet};
use crate::intake::now_rfc3339;
use crate::ops::{Operations, Work};
use crate::pipeline::{Extra, Input, Pipeline, Restore, ShadowSpec, Stats};
use crate::sink::{Durable, Sink};
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

/// What a batch cut by time records before its output is sent, so that a crash before
/// its commit replays the same batch (see [`crate::state::Committer::write_intent`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Intent {
    /// Its name in the state: unique per source and batch.
    pub name: String,
    /// What the source needs to cut the batch again.
    pub value: Vec<u8>,
    /// Intents left from before that will never be replayed: removed by this batch's
    /// commit too.
    pub retire: Vec<String>,
}

/// Runs micro-batches from one source through the pipeline into a sink.
pub struct Runner<'a> {
    state: &'a State,
    plugins: Plugins<'a>,
    pipeline: &'a Pipeline,
    sink: &'a mut dyn Sink,
    ops: Option<&'a Operations>,
    total: Stats,
    /// The commits in flight, oldest first.
    committing: VecDeque<Committing>,
    /// Tells the next commit that the last one has landed (`true`) or failed.
    last_landed: Option<Receiver<bool>>,
    /// When the records of each batch whose commit has landed, and not yet taken,
    /// became durable, oldest first; the last [`DURABLE_KEPT`] only.
    durable_at: VecDeque<Instant>,
}

/// How many batches' commits may be in flight when the next batch's starts. A commit
/// usually takes half a batch's pricing, but now and then (the output's pages written
/// back, a fjall flush) longer than a whole one; with only one in flight the pricing
/// thread then waited, about 8 % of its time on the 1,000,000-departure benchmark. Each
/// commit still waits for the one before, so state commits in batch order.
const COMMITS_IN_FLIGHT: usize = 2;

/// How many durable times [`Runner::take_durable_at`] keeps for a caller that never takes them.
const DURABLE_KEPT: usize = 1024;

/// A commit in flight, and the job chunk it completes.
struct Committing {
    handle: JoinHandle<Result<Instant>>,
    /// (job, departures, records emitted)
    work: Option<(u64, u64, u64)>,
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
        Runner {
            state,
            plugins: plugins.into(),
            pipeline,
            sink,
            ops: None,
            total: Stats::default(),
            committing: VecDeque::new(),
            last_landed: None,
            durable_at: VecDeque::new(),
        }
    }

    /// The same runner doing `ops`' work too (reprice, price rollback, shadow, automatic
    /// rollback); `None` leaves it without.
    #[must_use]
    pub fn with_ops(mut self, ops: Option<&'a Operations>) -> Self {
        self.ops = ops;
        self
    }

    /// A runner that takes the active plugin set from `plugins` at the start of each
    /// batch (hot reload); the same as [`Runner::new`] with a `&LivePlugins`.
    pub fn live(state: &'a State, plugins: &'a LivePlugins, pipeline: &'a Pipeline, sink: &'a mut dyn Sink) -> Self {
        Runner::new(state, plugins, pipeline, sink)
    }

    /// Prices one micro-batch and commits it with `position`, the opaque resume point of
    /// `source` after these inputs. Returns the batch's counters.
    pub fn batch(&mut self, inputs: &[Input], source: &str, position: Vec<u8>) -> Result<Stats> {
        self.run(inputs, &[], vec![(source.to_owned(), position)], None)
    }

    /// [`Runner::batch`] for a source that has the next batch's inputs already (`next`):
    /// they are decoded while this batch is priced, and the next call, with them, skips
    /// that work. A source that has them only by waiting for them (a live pipe) should
    /// not: this batch would wait too.
    pub fn batch_then(&mut self, inputs: &[Input], next: &[Input], source: &str, position: Vec<u8>) -> Result<Stats> {
        self.run(inputs, next, vec![(source.to_owned(), position)], None)
    }

    /// Like [`Runner::batch`] for a source that replays a crashed run's batches as they
    /// were cut (a Kafka topic, cut by time; a file, whose batch size may change between
    /// runs): each `(source, position)` commits with the batch, and `intent` is written
    /// durably before any of its output is sent, and removed by its commit (see
    /// [`crate::state::Committer::write_intent`]). `next`, as in [`Runner::batch_then`],
    /// may be empty.
    pub fn batch_at(
        &mut self,
        inputs: &[Input],
        next: &[Input],
        positions: Vec<(String, Vec<u8>)>,
        intent: &Intent,
    ) -> Result<Stats> {
        self.run(inputs, next, positions, Some(intent))
    }

    /// Waits until the commits in flight have landed: everything priced so far is durable.
    pub fn settle(&mut self) -> Result<()> {
        self.wait()
    }

    /// How many batches' commits are in flight: those of the batches run last.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.committing.len()
    }

    /// When the records of each batch whose commit has landed since the last call became
    /// durable, oldest first. A batch's records are durable some time after
    /// [`Runner::batch`] returns (the sink may still be writing them), and its commit
    /// lands during a later batch or [`Runner::settle`]: this is what an event waits for
    /// its price.
    pub fn take_durable_at(&mut self) -> Vec<Instant> {
        self.durable_at.drain(..).collect()
    }

    /// Runs one batch of queued operations' work with no input (an idle stream), if there
    /// is any; returns whether there was. Waits for the commits in flight either way,
    /// with or without operations: a job's last chunk is reported done, and a source
    /// idling here learns that its last batches landed (the Kafka source then stores
    /// their offsets).
    pub fn run_ops(&mut self) -> Result<bool> {
        let has_jobs = self.ops.is_some_and(Operations::has_jobs);
        if has_jobs {
            self.run(&[], &[], Vec::new(), None)?;
        }
        self.wait()?;
        Ok(has_jobs)
    }

    fn run(
        &mut self,
        inputs: &[Input],
        next: &[Input],
        positions: Vec<(String, Vec<u8>)>,
        intent: Option<&Intent>,
    ) -> Result<Stats> {
        let started = std::time::Instant::now();
        // One span per micro-batch: what is logged while it runs carries it, and with
        // RUST_LOG=debug its close is logged with the batch's counts.
        let span = tracing::debug_span!(
            "batch",
            events = inputs.len(),
            applied = tracing::field::Empty,
            dead_letters = tracing::field::Empty,
            departures_priced = tracing::field::Empty,
            departure_records = tracing::field::Empty,
        );
        let _entered = span.enter();
        // Taken once: the whole batch is priced by one snapshot of the set.
        let snapshot;
        let plugins = match self.plugins {
            Plugins::Fixed(set) => set,
            Plugins::Live(live) => {
                snapshot = live.load();
                &*snapshot
            }
        };
        let work = match self.ops {
            Some(ops) if ops.has_jobs() => {
                // A starting job lists committed departures, a price rollback reads
                // committed history: both need the commit in flight landed.
                self.wait()?;
                ops.next_work(self.state)
            }
            _ => None,
        };
        let shadows = self.ops.map(Operations::shadows).unwrap_or_default();
        let shadow_sets: Vec<PluginSet> = shadows.iter().map(|s| s.set_over(plugins)).collect();
        let specs: Vec<ShadowSpec<'_>> =
            shadows.iter().zip(&shadow_sets).map(|(s, set)| ShadowSpec { kind: &s.kind, plugins: set }).collect();
        let extra = extra(work.as_ref(), &specs, next);
        let mut out = self.pipeline.process_with(self.state, plugins, inputs, &now_rfc3339(), &extra)?;
        if let Some(intent) = intent {
            self.state.write_intent(&intent.name, &intent.value).context("recording a batch's intent")?;
        }
        let durable = self.sink.write_batch(&mut out).context("writing output records")?;
        if let Some(ops) = self.ops {
            ops.after_batch(&out, &shadows, plugins, started.elapsed());
        }
        let mut pending = std::mem::take(&mut out.pending);
        for (source, position) in positions {
            pending.set_position(&source, position);
        }
        for name in intent.into_iter().flat_map(|i| std::iter::once(&i.name).chain(&i.retire)) {
            pending.retire_intent(name);
        }
        while self.committing.len() >= COMMITS_IN_FLIGHT {
            self.wait_oldest()?;
        }
        let committer = self.state.committer();
        let (landed, this_landed) = std::sync::mpsc::sync_channel(1);
        let before = self.last_landed.replace(this_landed);
        let handle = std::thread::Builder::new()
            .name("commit".into())
            .spawn(move || {
                crate::priority::background();
                commit(durable, before, pending, &committer, &landed)
            })
            .context("starting the commit thread")?;
        let work = work.map(|w| {
            let emitted = if w.restore.is_some() { out.stats.restored } else { out.stats.reprice_records };
            (w.job, w.departures.len() as u64, emitted)
        });
        self.committing.push_back(Committing { handle, work });
        span.record("applied", out.stats.applied);
        span.record("dead_letters", out.stats.dead_letter_total());
        span.record("departures_priced", out.stats.departures_priced);
        span.record("departure_records", out.stats.departure_records);
        self.total.add(&out.stats);
        let stats = std::mem::take(&mut out.stats);
        self.pipeline.recycle(out);
        Ok(stats)
    }

    /// Waits for every commit in flight.
    fn wait(&mut self) -> Result<()> {
        while !self.committing.is_empty() {
            self.wait_oldest()?;
        }
        Ok(())
    }

    /// Waits for the oldest commit in flight, and reports the job chunk it completed.
    fn wait_oldest(&mut self) -> Result<()> {
        let Some(Committing { handle, work }) = self.committing.pop_front() else { return Ok(()) };
        let result = match handle.join() {
            Ok(result) => result.map(|at| {
                if self.durable_at.len() == DURABLE_KEPT {
                    self.durable_at.pop_front();
                }
                self.durable_at.push_back(at);
            }),
            Err(_) => Err(anyhow::anyhow!("the commit thread panicked")),
        };
        if let (Some(ops), Some((job, done, emitted))) = (self.ops, work) {
            match &result {
                Ok(()) => ops.work_committed(job, done, emitted),
                Err(e) => ops.work_failed(job, &format!("{e:#}")),
            }
        }
        result
    }

    /// The engine's metrics, when it runs with operations.
    #[must_use]
    pub fn metrics(&self) -> Option<&'a crate::metrics::Metrics> {
        self.ops.map(Operations::metrics)
    }

    /// The state it writes.
    #[must_use]
    pub fn state(&self) -> &'a State {
        self.state
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
        // A runner dropped on an error path still lets its last commits land.
        while !self.committing.is_empty() {
            if let Err(e) = self.wait_oldest() {
                tracing::error!(error = %format!("{e:#}"), "a last commit failed");
            }
        }
    }
}

/// The commit thread's work: the batch's records durable, then, once the batch before
/// has landed (`before`), its state; then it tells the next (`landed`). Returns when the
/// records became durable. A failure drops `landed` unsent, so every later commit fails
/// too rather than land after a gap.
fn commit(
    durable: Durable,
    before: Option<Receiver<bool>>,
    pending: crate::state::Pending,
    committer: &crate::state::Committer,
    landed: &SyncSender<bool>,
) -> Result<Instant> {
    durable.wait().context("writing output records")?;
    let at = Instant::now();
    if let Some(before) = before
        && !before.recv().unwrap_or(false)
    {
        anyhow::bail!("not committed: the commit of an earlier batch failed");
    }
    pending.commit_to(committer).context("committing a batch")?;
    // The next commit may be gone (a runner stopped by an error): nothing to tell.
    let _ = landed.send(true);
    Ok(at)
}

/// What a batch does beyond its events: a job chunk and the shadows.
fn extra<'w>(work: Option<&'w Work>, shadows: &'w [ShadowSpec<'w>], next: &'w [Input]) -> Extra<'w> {
    let Some(w) = work else { return Extra { shadows, next, ..Extra::default() } };
    let cause = Some(w.cause.clone());
    match &w.restore {
        None => Extra { cause, reprice: &w.departures, restore: None, shadows, next },
        Some((kind, rules)) => Extra {
            cause,
            reprice: &[],
            restore: Some(Restore { departures: &w.departures, kind, rules }),
            shadows,
            next,
        },
    }
}
