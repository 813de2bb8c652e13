//! Why the registry refused an operation. Every variant reads as a sentence an operator
//! can act on; the admin API returns it as `{"error": ...}`.

use crate::engine::PluginError;

/// A refused or failed registry operation.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The upload is larger than the configured limit.
    #[error("plugin is {size} bytes, over the upload limit of {limit} bytes")]
    TooLarge {
        /// Bytes uploaded.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes are not a WebAssembly component that compiles.
    #[error("corrupt wasm: {0}")]
    CorruptWasm(String),
    /// The component does not implement the `travel:pricing/plugin` world.
    #[error("wrong world: {0}")]
    WrongWorld(String),
    /// The component's metadata is not acceptable (kind or version malformed).
    #[error("bad metadata: {0}")]
    BadMetadata(String),
    /// The plugin prices another kind than the one it is deployed or activated for.
    #[error("wrong kind: the plugin prices `{actual}`, not `{expected}`")]
    WrongKind {
        /// The kind asked for.
        expected: String,
        /// The kind its metadata declares.
        actual: String,
    },
    /// The plugin failed (trap, timeout, memory, contract) pricing the sample departures.
    #[error("failed validation pricing sample departures: {0}")]
    FailedValidation(PluginError),
    /// No version with this hash was ever uploaded.
    #[error("unknown version {0}: no plugin with this hash was uploaded")]
    UnknownVersion(String),
    /// Rollback asked for a kind with no earlier version to return to.
    #[error("nothing to roll back for `{0}`: no earlier version was active")]
    NothingToRollBack(String),
    /// A stored version failed to load (the host's limits changed? the store is damaged?).
    #[error("stored version {hash} does not load: {error}")]
    StoredVersionBroken {
        /// The version's hash.
        hash: String,
        /// Why.
        error: PluginError,
    },
    /// The registry's storage failed. Its cause is in the message, not given as a
    /// source: see [`crate::storage`].
    #[error("registry storage: {}", crate::storage::describe(.0))]
    Storage(fjall::Error),
    /// A stored value does not decode.
    #[error("stored {what} does not decode: {why}")]
    Corrupt {
        /// Which keyspace.
        what: &'static str,
        /// The decoder's message.
        why: String,
    },
}

impl From<fjall::Error> for RegistryError {
    fn from(e: fjall::Error) -> Self {
        RegistryError::Storage(e)
    }
}

impl RegistryError {
    /// Whether the caller's request is at fault (a refusal), as opposed to the server.
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        !matches!(self, Self::StoredVersionBroken { .. } | Self::Storage(_) | Self::Corrupt { .. })
    }

    /// A load failure of uploaded bytes, classified for the operator.
    pub(crate) fn from_load(e: PluginError) -> Self {
        match e {
            PluginError::Compile(why) => Self::CorruptWasm(why),
            PluginError::WrongWorld(why) => Self::WrongWorld(why),
            PluginError::BadMetadata(why) => Self::BadMetadata(why),
            // The smoke test (an empty batch) trapped, timed out or broke the contract.
            other => Self::FailedValidation(other),
        }
    }
}
