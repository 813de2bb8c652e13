//! The engine's Prometheus metrics, served as text on the admin API's `/metrics`.
//!
//! Counters and histograms are updated once per micro-batch from what the batch
//! produced (never per event on the hot path); gauges that describe the whole engine
//! (active versions, state size) are read when scraped. Names follow Prometheus
//! conventions: a `pricing_` prefix, the unit in the name, `_total` on counters.
//!
//! The operations console reads the same batches in a form a page can chart without a
//! Prometheus server: per plugin version totals ([`Metrics::versions`]) and the recent
//! past ([`Metrics::recent`]).

mod recent;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
pub use recent::{BUCKET_SECONDS, Point, Recent, Timeline};
use serde::Serialize;

use crate::engine::PluginSet;
use crate::pipeline::BatchOutput;

/// Labels of an event count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    kind: String,
    outcome: &'static str,
}

/// Labels of a dead-letter count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

/// Labels of an output count: the logical output and where it goes (its Kafka topic,
/// or its file in the data folder).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutputLabels {
    output: &'static str,
    topic: String,
}

/// Labels of a plugin version's figures.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    kind: String,
    version: String,
}

/// Labels of a Kafka partition's figures.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    topic: String,
    partition: String,
}

fn seconds_histogram() -> Histogram {
    // 0.5 ms to ~65 s: plugin calls take microseconds to milliseconds, batches
    // milliseconds to seconds, and freshness seconds when the engine falls behind.
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

/// Every metric of one engine.
pub struct Metrics {
    registry: Registry,
    data: Option<PathBuf>,
    /// Where the departure prices, product prices and dead letters go.
    destinations: [String; 3],
    events: Family<EventLabels, Counter>,
    dead_letters: Family<ReasonLabels, Counter>,
    batches: Counter,
    batch_seconds: Histogram,
    freshness_seconds: Histogram,
    departures_priced: Counter,
    components_reused: Counter,
    outputs: Family<OutputLabels, Counter>,
    plugin_calls: Family<PluginLabels, Counter>,
    plugin_departures: Family<PluginLabels, Counter>,
    plugin_departure_errors: Family<PluginLabels, Counter>,
    plugin_failures: Family<PluginLabels, Counter>,
    plugin_traps: Family<PluginLabels, Counter>,
    plugin_seconds: Family<PluginLabels, Histogram, fn() -> Histogram>,
    active: Family<PluginLabels, Gauge>,
    consumer_lag: Family<PartitionLabels, Gauge>,
    state_bytes: Gauge,
    versions: Mutex<BTreeMap<String, VersionFigures>>,
    recent: Recent,
}

/// One plugin version's pricing calls since the engine started.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct VersionFigures {
    /// Pricing calls (each a batch of departures).
    pub calls: u64,
    /// Departures it was asked to price.
    pub departures: u64,
    /// Departures it answered unavailable or invalid.
    pub departure_errors: u64,
    /// Calls that failed as a whole (trap, timeout, memory limit, broken contract).
    pub failures: u64,
    /// Of those, calls that trapped.
    pub traps: u64,
    /// Mean time of a call, in ms.
    pub mean_ms: f64,
    /// Slowest call, in ms.
    pub max_ms: f64,
    #[serde(skip)]
    total_ms: f64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(None)
    }
}

impl Metrics {
    /// The metrics of an engine whose state lives under `data` (its size is reported
    /// when given).
    #[must_use]
    pub fn new(data: Option<&Path>) -> Self {
        let mut m = Metrics {
            registry: Registry::with_prefix("pricing"),
            data: data.map(Path::to_path_buf),
            destinations: crate::sink::FileSink::FILES.map(str::to_owned),
            events: Family::default(),
            dead_letters: Family::default(),
            batches: Counter::default(),
            batch_seconds: seconds_histogram(),
            freshness_seconds: seconds_histogram(),
            departures_priced: Counter::default(),
            components_reused: Counter::default(),
            outputs: Family::default(),
            plugin_calls: Family::default(),
            plugin_departures: Family::default(),
            plugin_departure_errors: Family::default(),
            plugin_failures: Family::default(),
            plugin_traps: Family::default(),
            plugin_seconds: Family::new_with_constructor(seconds_histogram),
            active: Family::default(),
            consumer_lag: Family::default(),
            state_bytes: Gauge::default(),
            versions: Mutex::default(),
            recent: Recent::default(),
        };
        let r = &mut m.registry;
        r.register("events", "Input events by kind and outcome (applied, stale, dead_lettered)", m.events.clone());
        r.register("dead_letters", "Dead-lettered input records by reason class", m.dead_letters.clone());
        r.register("batches", "Micro-batches processed", m.batches.clone());
        r.register_with_unit(
            "batch_duration",
            "Time to process a micro-batch, from its first event to its outputs flushed",
            Unit::Seconds,
            m.batch_seconds.clone(),
        );
        r.register_with_unit(
            "event_to_price",
            "Freshness: from an event's ts to the departure price it caused",
            Unit::Seconds,
            m.freshness_seconds.clone(),
        );
        r.register(
            "departures_priced",
            "Departures re-priced (each at most once per batch)",
            m.departures_priced.clone(),
        );
        r.register(
            "components_reused",
            "Component amounts kept from their departure's last pricing (nothing they depend on changed): no plugin call",
            m.components_reused.clone(),
        );
        r.register(
            "output_records",
            "Records written by output (departure-prices, product-prices, dlq) and topic (or file)",
            m.outputs.clone(),
        );
        r.register("plugin_calls", "Pricing calls per plugin version", m.plugin_calls.clone());
        r.register("plugin_departures", "Departures a plugin version was asked to price", m.plugin_departures.clone());
        r.register(
            "plugin_departure_errors",
            "Departures a plugin version answered unavailable or invalid",
            m.plugin_departure_errors.clone(),
        );
        r.register(
            "plugin_failures",
            "Pricing calls that failed as a whole (trap, timeout, memory limit, broken contract)",
            m.plugin_failures.clone(),
        );
        r.register(
            "plugin_traps",
            "Of the failed calls, those that trapped (a panic, an out-of-bounds access, ...)",
            m.plugin_traps.clone(),
        );
        r.register_with_unit(
            "plugin_call_duration",
            "Time of one pricing call (a whole batch of one kind)",
            Unit::Seconds,
            m.plugin_seconds.clone(),
        );
        r.register("plugin_active", "1 for the active version of each kind", m.active.clone());
        r.register_with_unit(
            "kafka_consumer_lag",
            "Records behind the end of each assigned partition (Kafka source only)",
            Unit::Other("records".into()),
            m.consumer_lag.clone(),
        );
        r.register_with_unit("state_size", "Size of the data folder on disk", Unit::Bytes, m.state_bytes.clone());
        m
    }

    /// The same metrics naming the outputs' destinations (default: the data folder's
    /// files): the Kafka topics of departure prices, product prices and dead letters.
    #[must_use]
    pub fn with_destinations(mut self, destinations: [String; 3]) -> Self {
        self.destinations = destinations;
        self
    }

    /// Counts one processed batch: `out` is what it produced, `plugins` the set that
    /// priced it, `elapsed` its processing time, `now_ms` the time its outputs were flushed.
    pub fn observe_batch(&self, out: &BatchOutput, plugins: &PluginSet, elapsed: Duration, now_ms: i64) {
        self.batches.inc();
        self.batch_seconds.observe(elapsed.as_secs_f64());
        for (kind, o) in &out.stats.events_by_kind {
            for (outcome, n) in [("applied", o.applied), ("stale", o.stale), ("dead_lettered", o.dead_lettered)] {
                if n > 0 {
                    self.events.get_or_create(&EventLabels { kind: kind.clone(), outcome }).inc_by(n);
                }
            }
        }
        for (reason, n) in &out.stats.dead_letters {
            self.dead_letters.get_or_create(&ReasonLabels { reason: reason.clone() }).inc_by(*n);
        }
        self.departures_priced.inc_by(out.stats.departures_priced);
        self.components_reused.inc_by(out.stats.components_reused);
        let counts = [
            ("departure-prices", out.stats.departure_records),
            ("product-prices", out.stats.product_records),
            ("dlq", out.dead_letters.len() as u64),
        ];
        for ((output, n), topic) in counts.into_iter().zip(&self.destinations) {
            self.outputs.get_or_create(&OutputLabels { output, topic: topic.clone() }).inc_by(n);
        }
        let mut versions = self.lock_versions();
        for call in &out.stats.call_log.0 {
            let version = plugins.get(&call.kind).map_or_else(|| "unknown".to_owned(), |p| p.id().to_owned());
            let figures = versions.entry(version.clone()).or_default();
            let ms = call.elapsed.as_secs_f64() * 1e3;
            figures.calls += 1;
            figures.departures += u64::from(call.departures);
            figures.departure_errors += u64::from(call.departure_errors);
            figures.failures += u64::from(call.failed);
            figures.traps += u64::from(call.trapped);
            figures.total_ms += ms;
            figures.mean_ms = figures.total_ms / figures.calls as f64;
            figures.max_ms = figures.max_ms.max(ms);
            let labels = PluginLabels { kind: call.kind.clone(), version };
            self.plugin_calls.get_or_create(&labels).inc();
            self.plugin_departures.get_or_create(&labels).inc_by(u64::from(call.departures));
            self.plugin_departure_errors.get_or_create(&labels).inc_by(u64::from(call.departure_errors));
            // Created at 0 on the first call, so a version that never failed shows 0
            // (a rate over it is 0, not missing).
            self.plugin_failures.get_or_create(&labels).inc_by(u64::from(call.failed));
            self.plugin_traps.get_or_create(&labels).inc_by(u64::from(call.trapped));
            self.plugin_seconds.get_or_create(&labels).observe(call.elapsed.as_secs_f64());
        }
        for ts in &out.caused_at_ms {
            // Clock skew between the event's producer and this host can make it
            // negative: counted as 0, not dropped.
            self.freshness_seconds.observe(((now_ms - ts).max(0) as f64) / 1e3);
        }
        drop(versions);
        self.recent.observe(&recent::BatchFigures {
            now_ms,
            events: out.stats.events,
            departures: out.stats.departures_priced,
            dead_letters: &out.dead_letters,
            caused_at_ms: &out.caused_at_ms,
        });
    }

    /// Each plugin version's calls since start, by id (`kind@version+hash8`).
    #[must_use]
    pub fn versions(&self) -> BTreeMap<String, VersionFigures> {
        self.lock_versions().clone()
    }

    /// The recent past: the timeline and the latest dead letters.
    #[must_use]
    pub fn recent(&self) -> &Recent {
        &self.recent
    }

    fn lock_versions(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, VersionFigures>> {
        // Updated by additions that cannot panic half-way.
        self.versions.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A handle on the consumer lag gauges, for the Kafka consumer's statistics
    /// callback (which lives as long as the consumer, not this borrow).
    #[must_use]
    pub fn lag_gauge(&self) -> LagGauge {
        LagGauge(self.consumer_lag.clone())
    }

    /// The metrics in the Prometheus text format (OpenMetrics), with the gauges that
    /// describe the engine as a whole read now: `active` is the live plugin set.
    ///
    /// # Errors
    /// Never in practice: formatting into a string.
    pub fn encode(&self, active: &PluginSet) -> Result<String, std::fmt::Error> {
        self.active.clear();
        for (kind, plugin) in active.iter() {
            self.active.get_or_create(&PluginLabels { kind: kind.to_owned(), version: plugin.id().to_owned() }).set(1);
        }
        if let Some(data) = &self.data {
            self.state_bytes.set(i64::try_from(folder_bytes(data)).unwrap_or(i64::MAX));
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// The consumer lag gauges: a clone shares them with [`Metrics`].
#[derive(Clone)]
pub struct LagGauge(Family<PartitionLabels, Gauge>);

impl LagGauge {
    /// Sets the lag of one partition, in records.
    pub fn set(&self, topic: &str, partition: i32, lag: i64) {
        self.0.get_or_create(&PartitionLabels { topic: topic.to_owned(), partition: partition.to_string() }).set(lag);
    }
}

/// Bytes of every file under `dir` (0 for what cannot be read: a file may vanish
/// between listing and reading while fjall compacts).
fn folder_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => folder_bytes(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}
