//! What can go wrong loading or running a plugin. A plugin's own verdict on an input
//! (`unavailable`, `invalid-input`) is not here: that is a value, [`super::PriceError`].

/// A plugin failed to load, or a call into it failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// The bytes are not a WebAssembly component wasmtime can compile.
    #[error("not a loadable WebAssembly component: {0}")]
    Compile(String),
    /// The component does not implement the `travel:pricing/plugin` world, or imports
    /// something the host does not provide.
    #[error("component does not implement the travel:pricing/plugin world: {0}")]
    WrongWorld(String),
    /// The component's metadata is not acceptable.
    #[error("plugin metadata rejected: {0}")]
    BadMetadata(String),
    /// The call ran past its time budget and was interrupted.
    #[error("plugin {plugin} ran past its time budget of {budget_ms} ms and was stopped")]
    Timeout {
        /// `kind@version+hash` of the plugin.
        plugin: String,
        /// The budget it exceeded.
        budget_ms: u64,
    },
    /// The call tried to grow memory past the limit.
    #[error("plugin {plugin} exceeded its memory limit of {limit_mib} MiB and was stopped")]
    MemoryLimit {
        /// `kind@version+hash` of the plugin.
        plugin: String,
        /// The limit it hit.
        limit_mib: u64,
    },
    /// The call trapped (a panic, an out-of-bounds access, ...).
    #[error("plugin {plugin} trapped: {message}")]
    Trap {
        /// `kind@version+hash` of the plugin.
        plugin: String,
        /// wasmtime's description of the trap.
        message: String,
    },
    /// The plugin answered, but not as the contract says (e.g. a wrong number of amounts).
    #[error("plugin {plugin} broke the pricing contract: {message}")]
    Contract {
        /// `kind@version+hash` of the plugin.
        plugin: String,
        /// What was wrong.
        message: String,
    },
    /// The host could not set up the wasm engine itself.
    #[error("wasm engine error: {0}")]
    Engine(String),
}
