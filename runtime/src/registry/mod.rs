//! The plugin registry: every uploaded plugin version, the active version of each kind
//! and the history of activations, persisted in its own fjall database so they survive
//! restarts. On its first start it seeds the five reference plugins as active.
//!
//! | keyspace | key | value |
//! |---|---|---|
//! | `blobs` | hash | the component's bytes |
//! | `versions` | hash | [`VersionInfo`] (JSON) |
//! | `active` | kind | hash |
//! | `history` | `kind\0seq(u64 BE)` | [`Activation`] (JSON) |
//!
//! A version is identified by the SHA-256 of its bytes, so uploading the same component
//! twice stores it once. Every operation here compiles or validates on the caller's
//! thread; callers on an async runtime run them with `spawn_blocking`. The pipeline reads
//! [`Registry::live`]: every change of an active version is swapped into it.

mod error;
mod records;
mod validate;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

pub use error::RegistryError;
pub use records::{Action, Activation, KindVersions, VersionInfo};
pub use validate::sample_batch;

use crate::engine::{LivePlugins, Plugin, PluginHost, PluginSet};
use crate::intake::now_rfc3339 as now;

/// Shorthand.
pub type Result<T> = std::result::Result<T, RegistryError>;

/// Largest upload accepted by default, in MiB. The Rust reference plugins are about
/// 200 KiB, but a component built from Python carries CPython and its standard library
/// (~18 MiB) and one from JavaScript its engine (~12 MiB): room for those, while
/// refusing something absurd.
pub const DEFAULT_MAX_UPLOAD_MIB: u64 = 64;

/// [`DEFAULT_MAX_UPLOAD_MIB`] in bytes.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = (DEFAULT_MAX_UPLOAD_MIB as usize) << 20;

/// Who the seeded reference plugins are attributed to.
pub const SEED_WHO: &str = "builtin";

/// The plugin registry, open on its folder.
pub struct Registry {
    db: Database,
    blobs: Keyspace,
    versions: Keyspace,
    active: Keyspace,
    history: Keyspace,
    host: Arc<PluginHost>,
    max_upload: usize,
    /// Compiled versions by hash, so an activation or a rollback to a version already
    /// loaded swaps at once, and unchanged kinds keep their plugin across swaps.
    compiled: Mutex<HashMap<String, Arc<Plugin>>>,
    /// Serialises changes: read the active version, write the new one and its history
    /// entry, and swap the live set, as one step.
    changes: Mutex<()>,
    /// The set the pipeline reads, once [`Registry::live`] made it.
    live: OnceLock<Arc<LivePlugins>>,
}

impl Registry {
    /// Opens (or creates) the registry in `folder`. On first open every reference
    /// plugin is stored and activated (`who` = [`SEED_WHO`]); later opens change nothing,
    /// except seeding a reference kind that has no active version yet.
    pub fn open(folder: &Path, host: Arc<PluginHost>) -> Result<Self> {
        let db = Database::builder(folder).open()?;
        let ks = |name: &str| db.keyspace(name, KeyspaceCreateOptions::default);
        let registry = Registry {
            blobs: ks("blobs")?,
            versions: ks("versions")?,
            active: ks("active")?,
            history: ks("history")?,
            db,
            host,
            max_upload: DEFAULT_MAX_UPLOAD_BYTES,
            compiled: Mutex::default(),
            changes: Mutex::default(),
            live: OnceLock::new(),
        };
        registry.seed()?;
        Ok(registry)
    }

    /// The same registry with another upload size limit, in bytes.
    #[must_use]
    pub fn with_max_upload_bytes(mut self, bytes: usize) -> Self {
        self.max_upload = bytes;
        self
    }

    /// The upload size limit, in bytes.
    #[must_use]
    pub fn max_upload_bytes(&self) -> usize {
        self.max_upload
    }

    /// The host versions are compiled with.
    #[must_use]
    pub fn host(&self) -> &Arc<PluginHost> {
        &self.host
    }

    fn seed(&self) -> Result<()> {
        let _changing = self.lock_changes();
        for (artifact, wasm) in crate::plugins::REFERENCE {
            if self.active.contains_key(artifact.kind)? {
                continue;
            }
            // Trusted bytes built with the binary: loading is the whole check.
            let plugin = self.host.load(wasm).map_err(RegistryError::from_load)?;
            let info = self.store_version(&plugin, wasm, SEED_WHO)?;
            self.record_activation(&info.kind, &info.hash, Action::Seed, SEED_WHO, "reference plugin seeded")?;
            self.remember(plugin);
        }
        Ok(())
    }

    /// Compiles every active version (or takes it from the cache) into a plugin set.
    pub fn active_set(&self) -> Result<PluginSet> {
        let mut set = PluginSet::default();
        for kv in self.active.iter() {
            let (_, hash) = kv.into_inner()?;
            set.insert_shared(self.compiled(&utf8(&hash, "active hash")?)?);
        }
        Ok(set)
    }

    /// The live plugin set the pipeline reads, built from the active versions on first
    /// call; the same one afterwards. Every later change of an active version (deploy
    /// with `activate`, activate, rollback) is swapped into it before the call returns,
    /// under the same lock as the change, so the live set always matches the registry.
    pub fn live(&self) -> Result<Arc<LivePlugins>> {
        let _changing = self.lock_changes();
        if let Some(live) = self.live.get() {
            return Ok(Arc::clone(live));
        }
        let live = Arc::new(LivePlugins::new(self.active_set()?));
        // Cannot be set already: we hold the changes lock and checked above.
        let _ = self.live.set(Arc::clone(&live));
        Ok(live)
    }

    /// Validates and stores a new version. `kind`, when given, is the kind it is
    /// deployed for: a plugin pricing another kind is refused. With `activate`, it
    /// becomes its kind's active version. Uploading a stored version again keeps its
    /// first upload's record.
    pub fn deploy(&self, wasm: &[u8], kind: Option<&str>, uploader: &str, activate: bool) -> Result<VersionInfo> {
        // Compiling and pricing the samples is the slow part: done before taking the lock.
        let plugin = validate::validate(&self.host, wasm, kind, self.max_upload)?;
        let _changing = self.lock_changes();
        let info = match self.version(&plugin.info().hash)? {
            Some(existing) => existing,
            None => self.store_version(&plugin, wasm, uploader)?,
        };
        let plugin = self.remember(plugin);
        if activate {
            self.record_activation(&info.kind, &info.hash, Action::Activate, uploader, "deployed with activate")?;
            self.swap(plugin);
        }
        Ok(info)
    }

    /// Makes the stored version `hash` the active version of `kind`.
    pub fn activate(&self, kind: &str, hash: &str, who: &str, why: &str) -> Result<VersionInfo> {
        let info = self.version(hash)?.ok_or_else(|| RegistryError::UnknownVersion(hash.to_owned()))?;
        if info.kind != kind {
            return Err(RegistryError::WrongKind { expected: kind.to_owned(), actual: info.kind });
        }
        // Compiled (if not yet) before taking the lock: other changes need not wait.
        let plugin = self.compiled(hash)?;
        let _changing = self.lock_changes();
        self.record_activation(kind, hash, Action::Activate, who, why)?;
        self.swap(plugin);
        Ok(info)
    }

    /// Returns `kind` to the version active before the current one. Rollbacks walk
    /// back: after A, B, C were activated, two rollbacks return to B, then A.
    pub fn rollback(&self, kind: &str, who: &str, why: &str) -> Result<VersionInfo> {
        let _changing = self.lock_changes();
        let target = self.rollback_target(kind)?.ok_or_else(|| RegistryError::NothingToRollBack(kind.to_owned()))?;
        let info = self.version(&target)?.ok_or_else(|| RegistryError::UnknownVersion(target.clone()))?;
        // Usually cached (it was active before); compiling under the lock is acceptable
        // for the rare case it is not, since a rollback must not interleave with others.
        let plugin = self.compiled(&target)?;
        self.record_activation(kind, &target, Action::Rollback, who, why)?;
        self.swap(plugin);
        Ok(info)
    }

    /// Puts `plugin` into the live set, if there is one, in place of its kind's plugin.
    /// The set is copied (plugins are shared, not recompiled) and swapped whole, so a
    /// batch sees either the old set or the new one. Callers hold the changes lock.
    fn swap(&self, plugin: Arc<Plugin>) {
        if let Some(live) = self.live.get() {
            let mut set = PluginSet::clone(&live.load());
            set.insert_shared(plugin);
            live.store(set);
        }
    }

    /// Every kind with its versions and active version, by kind.
    pub fn list(&self) -> Result<Vec<KindVersions>> {
        let mut kinds: BTreeMap<String, KindVersions> = BTreeMap::new();
        for kv in self.versions.iter() {
            let (_, v) = kv.into_inner()?;
            let info: VersionInfo = from_json(&v, "version")?;
            kinds
                .entry(info.kind.clone())
                .or_insert_with(|| KindVersions { kind: info.kind.clone(), active: None, versions: Vec::new() })
                .versions
                .push(info);
        }
        for kv in self.active.iter() {
            let (k, hash) = kv.into_inner()?;
            if let Some(entry) = kinds.get_mut(&utf8(&k, "active kind")?) {
                entry.active = Some(utf8(&hash, "active hash")?);
            }
        }
        let mut out: Vec<KindVersions> = kinds.into_values().collect();
        for k in &mut out {
            k.versions.sort_by(|a, b| a.uploaded_at.cmp(&b.uploaded_at).then_with(|| a.hash.cmp(&b.hash)));
        }
        Ok(out)
    }

    /// The stored version `hash`, if any.
    pub fn version(&self, hash: &str) -> Result<Option<VersionInfo>> {
        self.versions.get(hash)?.map(|v| from_json(&v, "version")).transpose()
    }

    /// The active version of `kind`, if any.
    pub fn active(&self, kind: &str) -> Result<Option<String>> {
        self.active.get(kind)?.map(|v| utf8(&v, "active hash")).transpose()
    }

    /// The stored bytes of version `hash`, if any.
    pub fn wasm(&self, hash: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.blobs.get(hash)?.map(|v| v.to_vec()))
    }

    /// Every activation of `kind`, oldest first.
    pub fn history(&self, kind: &str) -> Result<Vec<Activation>> {
        let mut out = Vec::new();
        for kv in self.history.prefix(history_prefix(kind)) {
            let (_, v) = kv.into_inner()?;
            out.push(from_json(&v, "activation")?);
        }
        Ok(out)
    }

    /// The version a rollback of `kind` returns to: replaying the history as a stack,
    /// an activation pushes the version it replaced and a rollback pops one.
    fn rollback_target(&self, kind: &str) -> Result<Option<String>> {
        let mut stack: Vec<String> = Vec::new();
        for a in self.history(kind)? {
            match a.action {
                Action::Seed => stack.clear(),
                Action::Activate => stack.extend(a.from.filter(|from| *from != a.to)),
                Action::Rollback => {
                    stack.pop();
                }
            }
        }
        Ok(stack.pop())
    }

    fn store_version(&self, plugin: &Plugin, wasm: &[u8], uploader: &str) -> Result<VersionInfo> {
        let info = VersionInfo::new(plugin.info(), wasm.len(), now(), uploader);
        let mut b = self.db.batch();
        b.insert(&self.blobs, info.hash.as_str(), wasm);
        b.insert(&self.versions, info.hash.as_str(), to_json(&info));
        b.commit()?;
        self.persist()?;
        Ok(info)
    }

    /// Writes the new active version and its history entry as one atomic batch.
    fn record_activation(&self, kind: &str, to: &str, action: Action, who: &str, why: &str) -> Result<Activation> {
        let from = self.active(kind)?;
        let seq = match self.history.prefix(history_prefix(kind)).next_back() {
            Some(last) => from_json::<Activation>(&last.value()?, "activation")?.seq + 1,
            None => 1,
        };
        let entry = Activation {
            seq,
            at: now(),
            kind: kind.to_owned(),
            from,
            to: to.to_owned(),
            action,
            who: who.to_owned(),
            why: why.to_owned(),
        };
        let mut key = history_prefix(kind);
        key.extend_from_slice(&seq.to_be_bytes());
        let mut b = self.db.batch();
        b.insert(&self.active, kind, to);
        b.insert(&self.history, key, to_json(&entry));
        b.commit()?;
        self.persist()?;
        tracing::info!(kind, to, ?action, who, why, "active plugin version changed");
        Ok(entry)
    }

    fn persist(&self) -> Result<()> {
        // Registry changes are rare and an operator was told they happened: make them
        // survive a power loss, not only a process crash.
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    /// The compiled plugin of stored version `hash` (compiled once, then shared).
    pub fn plugin(&self, hash: &str) -> Result<Arc<Plugin>> {
        self.compiled(hash)
    }

    /// The compiled plugin of stored version `hash`, compiling it on first use.
    fn compiled(&self, hash: &str) -> Result<Arc<Plugin>> {
        if let Some(p) = self.cache().get(hash) {
            return Ok(Arc::clone(p));
        }
        let wasm = self.wasm(hash)?.ok_or_else(|| RegistryError::UnknownVersion(hash.to_owned()))?;
        let plugin = self
            .host
            .load(&wasm)
            .map_err(|error| RegistryError::StoredVersionBroken { hash: hash.to_owned(), error })?;
        Ok(self.remember(plugin))
    }

    fn remember(&self, plugin: Plugin) -> Arc<Plugin> {
        let hash = plugin.info().hash.clone();
        Arc::clone(self.cache().entry(hash).or_insert_with(|| Arc::new(plugin)))
    }

    fn cache(&self) -> MutexGuard<'_, HashMap<String, Arc<Plugin>>> {
        // The map is only ever inserted into whole: a panic cannot leave it half-written.
        self.compiled.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_changes(&self) -> MutexGuard<'_, ()> {
        // Guards no data of its own: a panic elsewhere does not make it unsafe to reuse.
        self.changes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn history_prefix(kind: &str) -> Vec<u8> {
    let mut k = kind.as_bytes().to_vec();
    k.push(0);
    k
}

fn to_json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    // Plain structs with string keys always serialise.
    serde_json::to_vec(v).unwrap_or_default()
}

fn from_json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &'static str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| RegistryError::Corrupt { what, why: e.to_string() })
}

fn utf8(bytes: &[u8], what: &'static str) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|e| RegistryError::Corrupt { what, why: e.to_string() })
}
