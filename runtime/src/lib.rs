//! The travel pricing engine: consumes resource-change events, keeps state, and
//! re-prices the departures a change touches through WebAssembly pricing plugins.

#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod admin;
pub mod allocator;
pub mod config;
pub mod conform;
pub mod engine;
pub mod r#gen;
pub mod intake;
pub mod kafka;
pub mod metrics;
pub mod ops;
pub mod pipeline;
pub mod plugins;
pub mod priority;
pub mod progress;
pub mod registry;
pub mod sink;
pub mod source;
pub mod state;
pub mod storage;
