//! The active plugin set, swappable while the stream runs.
//!
//! A micro-batch takes the set once ([`LivePlugins::load`]) and prices everything with
//! that snapshot, so one batch never mixes rule versions; a swap ([`LivePlugins::store`])
//! takes effect at the next batch. Readers never block on a swap: `arc-swap` makes
//! `load` a few atomic operations, cheap enough for every batch.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::PluginSet;

/// The plugin set in use, shared by the pipeline (reader) and operations (writer).
pub struct LivePlugins {
    current: ArcSwap<PluginSet>,
}

impl LivePlugins {
    /// Starts with `set` active.
    #[must_use]
    pub fn new(set: PluginSet) -> Self {
        LivePlugins { current: ArcSwap::from_pointee(set) }
    }

    /// The set active now. Hold it for a whole batch: a swap does not change it.
    #[must_use]
    pub fn load(&self) -> Arc<PluginSet> {
        self.current.load_full()
    }

    /// Makes `set` active from the next batch on; returns the set it replaces.
    pub fn store(&self, set: impl Into<Arc<PluginSet>>) -> Arc<PluginSet> {
        self.current.swap(set.into())
    }
}

impl std::fmt::Debug for LivePlugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = self.load();
        f.debug_list().entries(set.iter().map(|(_, p)| p.id().to_owned())).finish()
    }
}
