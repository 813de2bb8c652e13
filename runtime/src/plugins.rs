//! The plugin components the build script compiled: the five reference plugins (their
//! bytes embedded, so the binary needs no plugin files to start) and, for tests, the
//! paths of the hostile plugins.

include!(concat!(env!("OUT_DIR"), "/plugins.rs"));

/// The bytes of the reference plugin for `kind`, if there is one.
#[must_use]
pub fn reference(kind: &str) -> Option<&'static [u8]> {
    REFERENCE.iter().find(|(a, _)| a.kind == kind).map(|(_, wasm)| *wasm)
}
