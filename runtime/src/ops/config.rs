//! The `[operations]` section of the config file.

use std::path::PathBuf;

use serde::Deserialize;

/// Settings of reprice, price rollback and automatic rollback.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsConfig {
    /// Departures a reprice or price rollback adds to one micro-batch. Larger finishes
    /// sooner; smaller delays the events of a busy stream less. Default 20000.
    pub reprice_chunk: usize,
    /// When a failing version is rolled back by itself (`[operations.auto_rollback]`).
    pub auto_rollback: AutoRollbackConfig,
    /// A folder watched for plugin files: a new `.wasm` file dropped in is validated,
    /// stored and activated, as a deploy with `activate` would. Default: none.
    pub watch: Option<PathBuf>,
    /// How often the watched folder is looked at, in milliseconds. Default 1000.
    pub watch_interval_ms: u64,
}

impl Default for OpsConfig {
    fn default() -> Self {
        OpsConfig {
            reprice_chunk: 20_000,
            auto_rollback: AutoRollbackConfig::default(),
            watch: None,
            watch_interval_ms: 1000,
        }
    }
}

impl OpsConfig {
    /// Values TOML accepts but that cannot work.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.reprice_chunk == 0 {
            return Err("`operations.reprice_chunk` must be at least 1".into());
        }
        if self.watch_interval_ms == 0 {
            return Err("`operations.watch_interval_ms` must be at least 1".into());
        }
        let a = &self.auto_rollback;
        if a.window_batches == 0 {
            return Err("`operations.auto_rollback.window_batches` must be at least 1".into());
        }
        if !(1..=100).contains(&a.max_failure_percent) {
            return Err("`operations.auto_rollback.max_failure_percent` must be from 1 to 100".into());
        }
        Ok(())
    }
}

/// The automatic rollback: a kind whose active version fails (traps, times out, runs out
/// of memory) on at least `max_failure_percent` of its calls over the last
/// `window_batches` batches, with at least `min_calls` calls in them, is rolled back to
/// the version active before it; its departures are then repriced. Pricing calls and
/// event calls (quote decodes, dependency lookups) are rated apart.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutoRollbackConfig {
    /// Whether it happens at all. Default true.
    pub enabled: bool,
    /// Batches the failure rate is measured over. Default 10.
    pub window_batches: usize,
    /// Fewest calls in the window before the rate counts. Default 3.
    pub min_calls: u64,
    /// Failure rate, in percent of calls, that triggers the rollback. Default 50.
    pub max_failure_percent: u32,
}

impl Default for AutoRollbackConfig {
    fn default() -> Self {
        AutoRollbackConfig { enabled: true, window_batches: 10, min_calls: 3, max_failure_percent: 50 }
    }
}
