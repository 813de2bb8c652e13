//! The failure windows behind the automatic rollback: per kind, the calls and failures
//! of its active version over the last batches.

use std::collections::{BTreeMap, VecDeque};

use super::AutoRollbackConfig;
use crate::engine::PluginSet;
use crate::pipeline::{KindCalls, Stats};

/// One kind's recent batches, for the version that made them.
struct Window {
    version: String,
    batches: VecDeque<KindCalls>,
}

impl Window {
    fn total(&self) -> KindCalls {
        self.batches.iter().fold(KindCalls::default(), |a, b| a.plus(*b))
    }
}

pub(super) struct Health {
    config: AutoRollbackConfig,
    kinds: BTreeMap<String, Window>,
}

impl Health {
    pub(super) fn new(config: AutoRollbackConfig) -> Self {
        Health { config, kinds: BTreeMap::new() }
    }

    /// Adds a batch's calls (priced by `plugins`); returns the kinds to roll back, with
    /// the reason. A tripped window starts over, as does one whose version changed.
    pub(super) fn observe(&mut self, stats: &Stats, plugins: &PluginSet) -> Vec<(String, String)> {
        let mut tripped = Vec::new();
        if !self.config.enabled {
            return tripped;
        }
        for (kind, calls) in &stats.plugin_calls {
            let Some(version) = plugins.get(kind).map(|p| p.id()) else { continue };
            let window = self
                .kinds
                .entry(kind.clone())
                .or_insert_with(|| Window { version: version.to_owned(), batches: VecDeque::new() });
            if window.version != version {
                *window = Window { version: version.to_owned(), batches: VecDeque::new() };
            }
            window.batches.push_back(*calls);
            while window.batches.len() > self.config.window_batches.max(1) {
                window.batches.pop_front();
            }
            let total = window.total();
            let over = |failures: u64, calls: u64| {
                failures > 0
                    && calls >= self.config.min_calls
                    && failures * 100 >= u64::from(self.config.max_failure_percent) * calls
            };
            let (what, failures, calls) = if over(total.failures, total.calls) {
                ("pricing", total.failures, total.calls)
            } else if over(total.event_failures, total.event_calls) {
                ("event", total.event_failures, total.event_calls)
            } else {
                continue;
            };
            tripped.push((
                kind.clone(),
                format!(
                    "{version} failed {failures} of {calls} {what} calls over the last {} batches (threshold {}%)",
                    window.batches.len(),
                    self.config.max_failure_percent
                ),
            ));
            window.batches.clear();
        }
        tripped
    }

    /// Calls and failures in each kind's current window.
    pub(super) fn windows(&self) -> BTreeMap<String, KindCalls> {
        self.kinds.iter().map(|(k, w)| (k.clone(), w.total())).collect()
    }
}
