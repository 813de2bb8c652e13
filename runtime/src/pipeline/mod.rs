//! One micro-batch: events in, state changes and output records out.
//!
//! [`Pipeline::process`] applies the events to a [`Pending`] overlay (stale events are
//! counted and skipped, bad ones become dead letters), marks every departure a change
//! touches, prices each of them once with one plugin call per kind, and returns the
//! records to emit together with the overlay. The caller writes and flushes the records
//! and only then commits the overlay with the input position, so a crash repeats
//! output, never skips it.

mod apply;
mod price;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::engine::PluginSet;
use crate::intake::{Origin, Rejection};
use crate::state::{DeparturePrice, Pending, ProductPrice, State, StateError};

/// Settings of the pricing pipeline.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// The deployment's pricing currency; events in another one are dead-lettered.
    pub currency: String,
    /// Kinds whose events must name a supplier.
    pub supplier_required: Vec<String>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig { currency: "CNY".into(), supplier_required: vec!["hotel".into()] }
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

/// Why an event was affected departures' cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cause {
    pub id: String,
    pub ts: String,
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
}

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
        self.departure_records += other.departure_records;
        self.product_records += other.product_records;
        self.plugin_failures += other.plugin_failures;
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
    /// New departure price versions, in key order.
    pub departures: Vec<DeparturePrice>,
    /// New product starting prices.
    pub products: Vec<ProductPrice>,
    /// Rejected inputs, in input order.
    pub dead_letters: Vec<DeadLetter>,
    /// The batch's counters.
    pub stats: Stats,
    /// The state changes, to commit after the output is durable.
    pub pending: Pending,
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
}

impl Pipeline {
    /// A pipeline with the given settings.
    #[must_use]
    pub fn new(config: PipelineConfig) -> Self {
        Pipeline { config }
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
        let mut out = BatchOutput::default();
        let mut affected: BTreeMap<String, Cause> = BTreeMap::new();
        for input in inputs {
            out.stats.events += 1;
            match apply::apply(&self.config, state, plugins, &mut out.pending, input, &mut affected)? {
                apply::Applied::Yes => out.stats.applied += 1,
                apply::Applied::Stale => out.stats.stale += 1,
                apply::Applied::Rejected(rejection) => {
                    out.stats.plugin_failures += u64::from(matches!(rejection, Rejection::PluginFailure(_)));
                    *out.stats.dead_letters.entry(rejection.class().to_owned()).or_default() += 1;
                    out.dead_letters.push(dead_letter(input, &rejection));
                }
            }
        }
        price::price_affected(&self.config, state, plugins, &mut out, &affected, priced_at)?;
        Ok(out)
    }
}

fn dead_letter(input: &Input, rejection: &Rejection) -> DeadLetter {
    DeadLetter {
        reason: rejection.to_string(),
        reason_class: rejection.class(),
        origin: input.origin.clone(),
        event: serde_json::from_str(&input.text).unwrap_or_else(|_| serde_json::Value::String(input.text.clone())),
    }
}
