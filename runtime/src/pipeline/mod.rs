//! One micro-batch: events in, state changes and output records out.
//!
//! [`Pipeline::process`] applies the events through the state's [`Writer`](crate::state::Writer)
//! (stale events are counted and skipped, bad ones become dead letters), marks every
//! departure a change touches, prices each of them once with one plugin call per kind
//! (per `max_call_departures` departures; components whose inputs did not change kept),
//! and returns the records to emit together with the encoded state changes
//! ([`Pending`]). The caller writes and flushes the records and only then commits the
//! changes with the input position, so a crash repeats output, never skips it.

mod apply;
mod decode;
mod lines;
mod price;
mod restore;
mod reuse;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

pub use lines::{Lines, PriceLines};

use serde::Serialize;

use crate::engine::PluginSet;
use crate::intake::{Origin, Rejection};
use crate::state::{DeparturePrice, Pending, ProductPrice, State, StateError, Status, Writer};

/// Settings of the pricing pipeline.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// The deployment's pricing currency; events in another one are dead-lettered.
    pub currency: String,
    /// Kinds whose events must name a supplier.
    pub supplier_required: Vec<String>,
    /// Most departures one plugin call prices. A batch prices each kind's departures in
    /// as few calls as this allows: a call's input and output live in the plugin's
    /// memory, and one over a whole catalog (a product load, an insurance plan's change)
    /// would outgrow the memory limit and leave every departure in it unavailable.
    pub max_call_departures: usize,
    /// How many nice steps below the process the threads beside the pricing thread run
    /// (decoding ahead, commits, the output writer, fjall's worker), 0 to 19; 0 leaves
    /// them at the process's priority. On a machine of its own the engine runs faster
    /// with them lowered (see [`crate::priority`]); on one shared with other busy
    /// processes, lowered threads also yield to those, so a commit can fall behind:
    /// lower this there. One setting per process: `pricing run` applies it
    /// ([`crate::priority::set_background_nice`]) before it opens the state; a program
    /// that embeds the pipeline calls that itself. Default 10.
    pub background_nice: i32,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            currency: "CNY".into(),
            supplier_required: vec!["hotel".into()],
            max_call_departures: 100_000,
            background_nice: crate::priority::BACKGROUND_NICE,
        }
    }
}

/// One input record and where it came from.
#[derive(Clone, Debug)]
pub struct Input {
    /// The record's text.
    pub text: String,
    /// Its origin.
    pub origin: Origin,
}

/// A rejected input: the record emitted on `pricing-dlq`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeadLetter {
    /// Human-readable reason.
    pub reason: String,
    /// Stable reason class (`not_json`, `unknown_kind`, ...).
    pub reason_class: &'static str,
    /// Where the record came from.
    pub origin: Origin,
    /// The original event when it was JSON, else the raw text.
    pub event: serde_json::Value,
}

/// What caused a departure's new version: an event (its `id` and `ts`) or an operation
/// (`reprice:JOB`, `price-rollback:JOB` and the time it was asked for). A batch keeps
/// its causes in a list and marks departures with an index into it: marking must not
/// allocate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// Echoed as the record's `cause`.
    pub id: String,
    /// Echoed as the record's `event_ts`.
    pub ts: String,
    /// `ts` in milliseconds since the epoch, read once: the freshness metric of every
    /// record this cause makes.
    pub ts_ms: Option<i64>,
}

/// Work of a batch beyond its events, asked for by operations (see `ops/`), and the
/// inputs of the batch after it, when its source has them already.
#[derive(Default)]
pub struct Extra<'a> {
    /// The next batch's inputs, if known (a file source reads a batch ahead): decoded on
    /// a thread of their own while this batch is priced (as many as that takes), and used
    /// by the next batch if it has these very inputs and plugins (see `decode::Ahead`).
    pub next: &'a [Input],
    /// What `reprice` and `restore` name as their records' cause.
    pub cause: Option<Cause>,
    /// Departures to price whether or not an event touched them (a reprice after a rule
    /// change). A departure an event also touched keeps the event as its cause.
    pub reprice: &'a [Arc<str>],
    /// Departures whose price to restore (a price rollback).
    pub restore: Option<Restore<'a>>,
    /// Candidate versions to price the batch's departures with beside the active ones:
    /// their results are compared ([`BatchOutput::shadow`]), never emitted or stored.
    pub shadows: &'a [ShadowSpec<'a>],
}

/// A price rollback's share of a batch: each departure gets back the price it had just
/// before `rules` first priced it, as a new version.
pub struct Restore<'a> {
    /// The departures to restore.
    pub departures: &'a [Arc<str>],
    /// The kind whose version is undone.
    pub kind: &'a str,
    /// The undone version's plugin id (`kind@version+hash8`, as in a record's `rules`).
    pub rules: &'a str,
}

/// A candidate version priced beside the active set.
pub struct ShadowSpec<'a> {
    /// The kind the candidate replaces.
    pub kind: &'a str,
    /// The active set with the candidate in place of the kind's active version.
    pub plugins: &'a PluginSet,
}

/// One departure priced by both the active set and a shadow candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShadowDiff {
    /// The candidate's kind.
    pub kind: String,
    /// The departure.
    pub departure: Arc<str>,
    /// Status and price with the active version.
    pub active: (Status, Option<i64>),
    /// Status and price with the candidate.
    pub shadow: (Status, Option<i64>),
}

/// Calls to one kind's plugin, for the automatic rollback's failure rates. Pricing
/// calls (one per batch) and event calls (one per quote or product event) are counted
/// apart: a plugin whose pricing traps every time must not hide behind its many
/// successful quote decodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KindCalls {
    /// Pricing calls made.
    pub calls: u64,
    /// Pricing calls that failed as a whole: trap, timeout, memory limit.
    pub failures: u64,
    /// Quote decodes and dependency lookups made.
    pub event_calls: u64,
    /// Of those, the ones that failed as a whole.
    pub event_failures: u64,
}

impl KindCalls {
    /// The sum of two counts.
    #[must_use]
    pub fn plus(self, o: KindCalls) -> KindCalls {
        KindCalls {
            calls: self.calls + o.calls,
            failures: self.failures + o.failures,
            event_calls: self.event_calls + o.event_calls,
            event_failures: self.event_failures + o.event_failures,
        }
    }
}

/// Counters of one batch (and, summed, of a run).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Input records read.
    pub events: u64,
    /// Events applied to state.
    pub applied: u64,
    /// Stale events skipped.
    pub stale: u64,
    /// Dead letters by reason class.
    pub dead_letters: BTreeMap<String, u64>,
    /// Departures priced (each at most once per batch).
    pub departures_priced: u64,
    /// Departure price records emitted.
    pub departure_records: u64,
    /// Product price records emitted.
    pub product_records: u64,
    /// Plugin calls that failed (trap, timeout, memory).
    pub plugin_failures: u64,
    /// Plugin calls and failures by kind.
    pub plugin_calls: BTreeMap<String, KindCalls>,
    /// Departures priced because an operation asked (reprice), not an event.
    pub repriced: u64,
    /// Component amounts kept from their departure's last pricing, since nothing they
    /// depend on changed (its resources, its definition, its kind's plugin): no plugin
    /// call priced them again.
    pub components_reused: u64,
    /// Of the departure records, those a reprice caused.
    pub reprice_records: u64,
    /// Departure versions emitted by a price rollback.
    pub restored: u64,
    /// Input events by kind (`none` when the record has no readable kind) and outcome.
    pub events_by_kind: BTreeMap<String, EventOutcomes>,
    /// This batch's pricing calls, one by one, for the metrics. Timings differ between
    /// runs of the same events, so they are neither compared, serialized nor summed.
    #[serde(skip)]
    pub call_log: CallLog,
}

/// How a kind's events ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EventOutcomes {
    /// Applied to state.
    pub applied: u64,
    /// Skipped: not newer than the stored version.
    pub stale: u64,
    /// Refused, with a dead-letter record.
    pub dead_lettered: u64,
}

/// One pricing call to a plugin.
#[derive(Clone, Debug)]
pub struct PluginCall {
    /// The kind whose plugin was called.
    pub kind: String,
    /// Departures in the call.
    pub departures: u32,
    /// Of those, the ones it answered unavailable or invalid.
    pub departure_errors: u32,
    /// Whether the call failed as a whole.
    pub failed: bool,
    /// Of those failures, whether it was a trap (a panic, an out-of-bounds access, ...),
    /// rather than a timeout, the memory limit or a broken contract.
    pub trapped: bool,
    /// How long it took.
    pub elapsed: std::time::Duration,
}

/// A batch's pricing calls. Equal to any other: see [`Stats::call_log`].
#[derive(Clone, Debug, Default)]
pub struct CallLog(pub Vec<PluginCall>);

impl PartialEq for CallLog {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for CallLog {}

impl Stats {
    /// Adds another batch's counters.
    pub fn add(&mut self, other: &Stats) {
        self.events += other.events;
        self.applied += other.applied;
        self.stale += other.stale;
        for (k, v) in &other.dead_letters {
            *self.dead_letters.entry(k.clone()).or_default() += v;
        }
        self.departures_priced += other.departures_priced;
        self.components_reused += other.components_reused;
        self.departure_records += other.departure_records;
        self.product_records += other.product_records;
        self.plugin_failures += other.plugin_failures;
        for (k, v) in &other.plugin_calls {
            let c = self.plugin_calls.entry(k.clone()).or_default();
            *c = c.plus(*v);
        }
        self.repriced += other.repriced;
        self.reprice_records += other.reprice_records;
        self.restored += other.restored;
        for (k, o) in &other.events_by_kind {
            let mine = self.events_by_kind.entry(k.clone()).or_default();
            mine.applied += o.applied;
            mine.stale += o.stale;
            mine.dead_lettered += o.dead_lettered;
        }
    }

    /// Counts one pricing call (`event` false) or event call (`event` true) to `kind`'s
    /// plugin, failed or not.
    pub(crate) fn count_call(&mut self, kind: &str, event: bool, failed: bool) {
        let c = match self.plugin_calls.get_mut(kind) {
            Some(c) => c,
            None => self.plugin_calls.entry(kind.to_owned()).or_default(),
        };
        let one = KindCalls { calls: 1, failures: u64::from(failed), event_calls: 0, event_failures: 0 };
        *c = c.plus(if event {
            KindCalls { calls: 0, failures: 0, event_calls: 1, event_failures: one.failures }
        } else {
            one
        });
        self.plugin_failures += u64::from(failed);
    }

    /// All dead letters.
    #[must_use]
    pub fn dead_letter_total(&self) -> u64 {
        self.dead_letters.values().sum()
    }
}

/// What a batch produced.
#[derive(Default)]
pub struct BatchOutput {
    /// New departure price versions (rendered as [`DeparturePrice`] JSON), in key order.
    pub departures: PriceLines,
    /// New product starting prices ([`ProductPrice`] JSON), in key order.
    pub products: Lines,
    /// Rejected inputs, in input order.
    pub dead_letters: Vec<DeadLetter>,
    /// The batch's counters.
    pub stats: Stats,
    /// The state changes, to commit after the output is durable.
    pub pending: Pending,
    /// Departures priced by shadow candidates too, with both results.
    pub shadow: Vec<ShadowDiff>,
    /// Shadow candidate calls that failed as a whole (not counted in `stats`).
    pub shadow_failures: u64,
    /// For each departure record, the time (ms since the epoch) of the event that
    /// caused it, when it has one: the freshness metric.
    pub caused_at_ms: Vec<i64>,
}

impl BatchOutput {
    /// The departure price records, decoded.
    #[must_use]
    pub fn departure_prices(&self) -> Vec<DeparturePrice> {
        let mut prices = Vec::new();
        // Records this batch wrote always render; one that did not would be left out.
        let _ = self.departures.json(|_, json| {
            prices.extend(serde_json::from_slice(json).ok());
            Ok(())
        });
        prices
    }

    /// The product price records, decoded.
    #[must_use]
    pub fn product_prices(&self) -> Vec<ProductPrice> {
        self.products.iter().filter_map(|(_, json)| serde_json::from_slice(json).ok()).collect()
    }
}

/// A pipeline failure that stops processing (bad input never does).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The state store failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// The pricing pipeline over a state and a plugin set.
pub struct Pipeline {
    config: PipelineConfig,
    /// The last batch's departure lines, emptied, for the next batch to fill.
    spare: Mutex<PriceLines>,
    /// The last batch's pricing tables, emptied, for the next batch to fill.
    scratch: Mutex<price::Scratch>,
    /// The inputs the last batch was told came next, decoded.
    ahead: Mutex<Option<decode::Ahead>>,
    /// Inputs handed on decoded ahead, so far.
    decoded_ahead: AtomicU64,
}

impl Pipeline {
    /// A pipeline with the given settings.
    #[must_use]
    pub fn new(config: PipelineConfig) -> Self {
        Pipeline {
            config,
            spare: Mutex::default(),
            scratch: Mutex::default(),
            ahead: Mutex::default(),
            decoded_ahead: AtomicU64::new(0),
        }
    }

    /// How many inputs batches have been handed decoded ahead so far ([`Extra::next`]):
    /// decoded while the batch before them was priced, not by their own batch. A
    /// batch's inputs not decoded by the time that pricing ended are not counted.
    #[must_use]
    pub fn decoded_ahead(&self) -> u64 {
        self.decoded_ahead.load(Ordering::Relaxed)
    }

    /// Takes back a written batch's output, to reuse its departure lines' buffer.
    pub fn recycle(&self, out: BatchOutput) {
        let mut lines = out.departures;
        // A sink that took the records out ([`Lines::exchange`]) left a buffer already
        // sized for the next batch: clearing it again would measure an empty batch and
        // give it all back. A batch without records keeps what it has until one with.
        if !lines.is_empty() {
            lines.clear();
        }
        *self.spare.lock().unwrap_or_else(PoisonError::into_inner) = lines;
    }

    /// Processes one micro-batch; see the module doc for the commit order.
    /// `priced_at` stamps the records (RFC 3339), injected so runs can be compared.
    pub fn process(
        &self,
        state: &State,
        plugins: &PluginSet,
        inputs: &[Input],
        priced_at: &str,
    ) -> Result<BatchOutput, PipelineError> {
        self.process_with(state, plugins, inputs, priced_at, &Extra::default())
    }

    /// [`Pipeline::process`] with operations' work in the same batch: the departures to
    /// reprice are priced with the event-touched ones (each still once), restored prices
    /// are written after them, and shadow candidates price the same departures again.
    pub fn process_with(
        &self,
        state: &State,
        plugins: &PluginSet,
        inputs: &[Input],
        priced_at: &str,
        extra: &Extra<'_>,
    ) -> Result<BatchOutput, PipelineError> {
        let departures = std::mem::take(&mut *self.spare.lock().unwrap_or_else(PoisonError::into_inner));
        let mut out = BatchOutput { departures, ..BatchOutput::default() };
        let mut writer = state.writer();
        let mut affected = apply::Affected::default();
        let ahead = self.ahead.lock().unwrap_or_else(PoisonError::into_inner).take();
        let ready = ahead.and_then(|a| a.take_for(plugins, inputs));
        if let Some(ready) = &ready {
            self.decoded_ahead.fetch_add(ready.len() as u64, Ordering::Relaxed);
        }
        decode::decoded(&self.config, plugins, inputs, ready, |input, event| {
            out.stats.events += 1;
            let (applied, kind) = apply::apply(&mut writer, plugins, input, event, &mut affected, &mut out.stats)?;
            let outcomes = out.stats.events_by_kind.entry(kind.unwrap_or_else(|| "none".into())).or_default();
            match applied {
                apply::Applied::Yes => {
                    outcomes.applied += 1;
                    out.stats.applied += 1;
                }
                apply::Applied::Stale => {
                    outcomes.stale += 1;
                    out.stats.stale += 1;
                }
                apply::Applied::Rejected(rejection) => {
                    outcomes.dead_lettered += 1;
                    *out.stats.dead_letters.entry(rejection.class().to_owned()).or_default() += 1;
                    out.dead_letters.push(dead_letter(input, &rejection));
                }
            }
            Ok::<_, StateError>(())
        })?;
        let priced_all = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let next = (!extra.next.is_empty()).then(|| {
                scope.spawn(|| {
                    crate::priority::background();
                    decode::Ahead::decode(&self.config, plugins, extra.next, &priced_all)
                })
            });
            let priced = self.price(writer, plugins, &mut out, affected, priced_at, extra);
            priced_all.store(true, Ordering::Relaxed);
            // A decoding thread that panicked leaves the next batch to decode its inputs.
            if let Some(Ok(ahead)) = next.map(|n| n.join()) {
                *self.ahead.lock().unwrap_or_else(PoisonError::into_inner) = Some(ahead);
            }
            priced
        })?;
        Ok(out)
    }

    /// The pricing half of [`Pipeline::process_with`], once the batch's events are
    /// applied: prices what they (and `extra`) touched and finishes the batch's writes.
    fn price(
        &self,
        mut writer: Writer<'_>,
        plugins: &PluginSet,
        out: &mut BatchOutput,
        mut affected: apply::Affected,
        priced_at: &str,
        extra: &Extra<'_>,
    ) -> Result<(), StateError> {
        if let (Some(cause), false) = (&extra.cause, extra.reprice.is_empty()) {
            let reprice: Vec<_> = extra.reprice.iter().map(|d| writer.intern(d)).collect();
            out.stats.repriced += affected.mark_all(&reprice, cause.clone());
        }
        let mut touched = BTreeMap::new();
        price::price_affected(
            &self.config,
            &mut writer,
            plugins,
            out,
            affected,
            priced_at,
            extra.shadows,
            &mut touched,
            &mut self.scratch.lock().unwrap_or_else(PoisonError::into_inner),
        )?;
        if let (Some(cause), Some(r)) = (&extra.cause, &extra.restore) {
            restore::restore(&mut writer, out, r, cause, priced_at, &mut touched)?;
        }
        price::emit_starting(&self.config, &mut writer, out, touched, priced_at)?;
        out.pending = writer.finish();
        Ok(())
    }
}

/// Empties `v`, keeping room for up to twice the entries it held: a batch is mostly like
/// the last, and a spike's memory is given back after it.
pub(crate) fn empty_keeping<T>(v: &mut Vec<T>) {
    let used = v.len();
    v.clear();
    v.shrink_to(used.saturating_mul(2));
}

fn dead_letter(input: &Input, rejection: &Rejection) -> DeadLetter {
    DeadLetter {
        reason: rejection.to_string(),
        reason_class: rejection.class(),
        origin: input.origin.clone(),
        event: serde_json::from_str(&input.text).unwrap_or_else(|_| serde_json::Value::String(input.text.clone())),
    }
}
