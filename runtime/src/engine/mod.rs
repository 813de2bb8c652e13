//! The plugin host: loads pricing components, checks them, and runs their calls inside
//! a time budget and a memory limit.
//!
//! One [`PluginHost`] owns the wasmtime engine (and the epoch ticker that enforces time
//! budgets). [`PluginHost::load`] compiles a component once, checks it implements the
//! `travel:pricing/plugin` world with sane metadata, and keeps the pre-instantiated
//! component. A [`Plugin`] keeps one live instance and reuses it across calls: a fresh
//! store and instance costs ~65 µs here. After any trap, timeout or memory failure the
//! instance is thrown away (a trapped instance is poisoned) and the next call builds a
//! new one, so one bad batch never breaks the next.

mod bindings;
mod config;
mod error;
mod host;
mod limits;
mod live;
mod plugin;
mod set;

pub use config::EngineConfig;
pub use error::PluginError;
pub use host::{PluginHost, content_hash};
pub use live::LivePlugins;
pub use plugin::{BatchOutcome, Plugin, PluginInfo};
pub use pricing_sdk::{Departure, PriceError, Role};
pub use set::PluginSet;
