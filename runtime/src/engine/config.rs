//! Limits a plugin runs under.

use serde::Deserialize;

/// How much time and memory a plugin call may use.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Wall-clock budget of one plugin call (a whole pricing batch), in milliseconds.
    /// A call past it is interrupted and reported as a timeout. Enforced with epoch
    /// interruption, so the actual cut-off is up to one tick (10 ms) later.
    pub call_budget_ms: u64,
    /// Largest linear memory one plugin instance may grow to, in MiB.
    pub memory_limit_mib: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        // A 1,000-departure batch takes ~20 µs; one second is generous for real rules and
        // still stops a looping plugin before the stream stalls noticeably.
        EngineConfig { call_budget_ms: 1_000, memory_limit_mib: 64 }
    }
}

impl EngineConfig {
    /// The same limits with another call budget.
    #[must_use]
    pub fn with_call_budget_ms(mut self, ms: u64) -> Self {
        self.call_budget_ms = ms;
        self
    }

    /// The same limits with another memory limit.
    #[must_use]
    pub fn with_memory_limit_mib(mut self, mib: u64) -> Self {
        self.memory_limit_mib = mib;
        self
    }
}
