//! One micro-batch: events in, state changes and output records out.
//!
//! [`Pipeline::process`] applies the events through the state's [`Writer`](crate::state::Writer)
//! (stale events are counted and skipped, bad ones become dead letters), marks every
//! departure a change touches, prices each of them once with one plugin call per kind,
//! and returns the records to emit together with the encoded state changes
//! ([`Pending`]). The caller writes and flushes the records and only then commits the
//! changes with the input position, so a crash repeats output, never skips it.

mod apply;
mod price;

use std::collections::BTreeMap;
use std::sync::Arc;

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

/// The event that caused a departure's re-pricing. A batch keeps its causes in a list
/// and marks departures with an index into it: marking must not allocate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cause {
    pub id: String,
    pub ts: String,
}

/// One output record: its key and its JSON (the same bytes are stored as the current
/// price and in history).
#[derive(Clone, Debug)]
pub struct Record {
    /// The record key: `PRODUCT:CITY:DATE` or `PRODUCT`.
    pub key: String,
    /// The JSON value.
    pub json: Arc<[u8]>,
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
    /// New departure price versions ([`DeparturePrice`] JSON), in key order.
    pub departures: Vec<Record>,
    /// New product starting prices ([`ProductPrice`] JSON), in key order.
    pub products: Vec<Record>,
    /// Rejected inputs, in input order.
    pub dead_letters: Vec<DeadLetter>,
    /// The batch's counters.
    pub stats: Stats,
    /// The state changes, to commit after the output is durable.
    pub pending: Pending,
}

impl BatchOutput {
    /// The departure price records, decoded.
    #[must_use]
    pub fn departure_prices(&self) -> Vec<DeparturePrice> {
        self.departures.iter().filter_map(|r| serde_json::from_slice(&r.json).ok()).collect()
    }

    /// The product price records, decoded.
    #[must_use]
    pub fn product_prices(&self) -> Vec<ProductPrice> {
        self.products.iter().filter_map(|r| serde_json::from_slice(&r.json).ok()).collect()
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
        let mut writer = state.writer();
        let mut affected = apply::Affected::default();
        for input in inputs {
            out.stats.events += 1;
            match apply::apply(&self.config, &mut writer, plugins, input, &mut affected)? {
                apply::Applied::Yes => out.stats.applied += 1,
                apply::Applied::Stale => out.stats.stale += 1,
                apply::Applied::Rejected(rejection) => {
                    out.stats.plugin_failures += u64::from(matches!(rejection, Rejection::PluginFailure(_)));
                    *out.stats.dead_letters.entry(rejection.class().to_owned()).or_default() += 1;
                    out.dead_letters.push(dead_letter(input, &rejection));
                }
            }
        }
        price::price_affected(&self.config, &mut writer, plugins, &mut out, affected, priced_at)?;
        out.pending = writer.finish();
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
