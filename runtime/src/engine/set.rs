//! The set of plugins in use, one per kind. A micro-batch takes the set once, so one
//! batch never mixes rule versions.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Plugin, PluginError, PluginHost};

/// The active plugin of each kind.
#[derive(Clone, Default)]
pub struct PluginSet {
    by_kind: BTreeMap<String, Arc<Plugin>>,
}

impl PluginSet {
    /// Loads the five reference plugins embedded in the binary.
    pub fn reference(host: &PluginHost) -> Result<Self, PluginError> {
        let mut set = PluginSet::default();
        for (_, wasm) in crate::plugins::REFERENCE {
            set.insert(host.load(wasm)?);
        }
        Ok(set)
    }

    /// Adds or replaces the plugin of its kind.
    pub fn insert(&mut self, plugin: Plugin) {
        self.by_kind.insert(plugin.info().kind.clone(), Arc::new(plugin));
    }

    /// Adds or replaces the plugin of its kind with one already shared: sets built
    /// from one another (a hot swap of one kind) share the unchanged plugins, with
    /// their compiled code and warm instances.
    pub fn insert_shared(&mut self, plugin: Arc<Plugin>) {
        self.by_kind.insert(plugin.info().kind.clone(), plugin);
    }

    /// The plugin of `kind`.
    #[must_use]
    pub fn get(&self, kind: &str) -> Option<&Arc<Plugin>> {
        self.by_kind.get(kind)
    }

    /// Whether a plugin prices `kind`.
    #[must_use]
    pub fn has(&self, kind: &str) -> bool {
        self.by_kind.contains_key(kind)
    }

    /// Every plugin, by kind.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<Plugin>)> {
        self.by_kind.iter().map(|(k, p)| (k.as_str(), p))
    }
}
