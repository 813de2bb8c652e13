//! The wasmtime engine, the linker with the empty WASI context, and the epoch ticker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

use super::bindings::PluginPre;
use super::config::EngineConfig;
use super::error::PluginError;
use super::limits::StoreState;
use super::plugin::{Plugin, PluginInfo};

/// How often the epoch advances; the resolution of call time budgets.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// Loads and runs pricing plugins. Create one per process and share it.
pub struct PluginHost {
    engine: Engine,
    linker: Linker<StoreState>,
    config: EngineConfig,
    ticker_stop: Arc<AtomicBool>,
}

impl PluginHost {
    /// A host with the given limits. Starts the epoch ticker thread.
    pub fn new(config: EngineConfig) -> Result<Self, PluginError> {
        let mut wasm = Config::new();
        // Epoch interruption, not fuel: it enforces a wall-clock budget at a fraction of
        // fuel's per-instruction cost, and pricing must stay within 2x of native.
        wasm.epoch_interruption(true);
        wasm.wasm_component_model(true);
        let engine = Engine::new(&wasm).map_err(|e| PluginError::Engine(format!("{e:#}")))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| PluginError::Engine(format!("{e:#}")))?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&ticker_stop);
        let weak = engine.weak();
        thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    thread::sleep(TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(|e| PluginError::Engine(format!("cannot start the epoch ticker: {e}")))?;

        Ok(PluginHost { engine, linker, config, ticker_stop })
    }

    /// The limits plugins run under.
    #[must_use]
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Compiles a component, checks it implements the world with sane metadata and
    /// prices an empty batch, and returns it ready to serve. Slow (compilation): keep it
    /// off the pricing path.
    pub fn load(&self, wasm: &[u8]) -> Result<Plugin, PluginError> {
        let hash = content_hash(wasm);
        let component = Component::new(&self.engine, wasm).map_err(|e| PluginError::Compile(format!("{e:#}")))?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| PluginError::WrongWorld(format!("{e:#}")))?;
        let pre = PluginPre::new(pre).map_err(|e| PluginError::WrongWorld(format!("{e:#}")))?;
        let plugin = Plugin::new(pre, self.config.clone(), hash);
        let meta = plugin.read_metadata()?;
        let info = PluginInfo::check(meta, plugin.hash())?;
        let plugin = plugin.with_info(info);
        plugin.smoke_test()?;
        Ok(plugin)
    }
}

impl Drop for PluginHost {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// A component's identity: the SHA-256 of its bytes, hex.
#[must_use]
pub fn content_hash(wasm: &[u8]) -> String {
    hex(&Sha256::digest(wasm))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
