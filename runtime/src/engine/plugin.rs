//! One loaded plugin: its checked metadata, its pre-instantiated component and the live
//! instance reused across calls. A plugin can also run its rules natively (compiled
//! into the host, see [`Plugin::native`]): the benchmarks use that to show what the
//! WebAssembly boundary costs.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use pricing_sdk::{Departure, PriceError, PricingRule, Role};
use wasmtime::Store;

use super::bindings::travel::pricing::types as wit;
use super::bindings::{Plugin as Bindings, PluginPre};
use super::config::EngineConfig;
use super::error::PluginError;
use super::host::TICK;
use super::limits::StoreState;

/// Checked facts about a plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginInfo {
    /// The resource kind it prices.
    pub kind: String,
    /// Its semantic version.
    pub version: String,
    /// Component or adjustment.
    pub role: Role,
    /// Its one-line description.
    pub description: String,
    /// SHA-256 of the component bytes, hex.
    pub hash: String,
}

impl PluginInfo {
    pub(crate) fn check(meta: wit::Metadata, hash: &str) -> Result<Self, PluginError> {
        let bad = |why: String| Err(PluginError::BadMetadata(why));
        let kind_ok = meta.kind.len() <= 32
            && meta.kind.starts_with(|c: char| c.is_ascii_lowercase())
            && meta.kind.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !kind_ok {
            return bad(format!("kind {:?} is not lowercase [a-z][a-z0-9-]* of at most 32 characters", meta.kind));
        }
        if meta.kind == "product" {
            return bad("kind `product` is reserved for product definitions".into());
        }
        if let Err(e) = semver::Version::parse(&meta.version) {
            return bad(format!("version {:?} is not a semantic version: {e}", meta.version));
        }
        Ok(PluginInfo {
            kind: meta.kind,
            version: meta.version,
            role: match meta.role {
                wit::Role::Component => Role::Component,
                wit::Role::Adjustment => Role::Adjustment,
            },
            description: meta.description,
            hash: hash.to_owned(),
        })
    }

    /// `kind@version+hash8`: names the exact rules behind a price.
    #[must_use]
    pub fn id(&self) -> String {
        format!("{}@{}+{}", self.kind, self.version, &self.hash[..8.min(self.hash.len())])
    }
}

/// The answer to a batch: one amount per departure, or the plugin's reason it cannot
/// be priced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Per departure, in batch order.
    pub results: Vec<Result<i64, PriceError>>,
}

impl BatchOutcome {
    /// The outcome in the SDK driver's shape (amounts plus a sparse error list), to
    /// compare with the native driver or run SDK test cases.
    #[must_use]
    pub fn into_batch_result(self) -> pricing_sdk::driver::BatchResult {
        let mut out = pricing_sdk::driver::BatchResult::default();
        for (i, r) in self.results.into_iter().enumerate() {
            match r {
                Ok(a) => out.amounts.push(a),
                Err(e) => {
                    out.amounts.push(0);
                    out.errors.push((i as u32, e));
                }
            }
        }
        out
    }
}

/// A live instance and its store.
struct Live {
    store: Store<StoreState>,
    bindings: Bindings,
    /// The [`Wasm::generation`] it was made in: an instance from before a contract
    /// breach is dropped rather than reused.
    generation: u64,
}

/// Idle instances kept for reuse: one for each thread that calls plugins at once (the
/// pricing thread and its helper, and the thread decoding the next batch's quotes while
/// they price: see `pipeline::decode`). More callers at once still work, on instances
/// made for the call and dropped after it (about 65 µs each).
const IDLE_KEPT: usize = 3;

/// The component, its limits and its idle instances.
struct Wasm {
    pre: PluginPre<StoreState>,
    config: EngineConfig,
    /// Calls retried on a fresh instance after a reused one hit the memory limit.
    recycled: AtomicU64,
    /// Bumped when a call breaks the contract: instances made before are dropped.
    generation: AtomicU64,
    /// Instances not in a call. The lock is held only to take or give one back, never
    /// during a call, so two threads can call the same plugin at once (the decode
    /// helper and the pricing thread both check quotes of the batch's busiest kind).
    idle: Mutex<Vec<Live>>,
}

type DecodeFn = fn(&str, &str) -> Result<Vec<u8>, PriceError>;
type DependenciesFn = fn(&str, &[Departure]) -> Result<Vec<Vec<String>>, PriceError>;
type PriceFn = fn(&[u8]) -> pricing_sdk::driver::BatchResult;

/// Rules compiled into the host: the SDK driver over one [`PricingRule`].
struct Native {
    decode_quote: DecodeFn,
    dependencies: DependenciesFn,
    price_batch: PriceFn,
}

enum Backend {
    Wasm(Box<Wasm>),
    Native(Native),
}

/// A loaded, checked plugin. Each call runs on an instance of its own, reused from
/// call to call.
pub struct Plugin {
    backend: Backend,
    info: PluginInfo,
    id: String,
}

impl Plugin {
    pub(crate) fn new(pre: PluginPre<StoreState>, config: EngineConfig, hash: String) -> Self {
        let info = PluginInfo {
            kind: "unchecked".into(),
            version: "0.0.0".into(),
            role: Role::Component,
            description: String::new(),
            hash,
        };
        let id = info.id();
        Plugin {
            backend: Backend::Wasm(Box::new(Wasm {
                pre,
                config,
                recycled: AtomicU64::new(0),
                generation: AtomicU64::new(0),
                idle: Mutex::new(Vec::new()),
            })),
            info,
            id,
        }
    }

    /// The rules of `R` run natively, without WebAssembly: no sandbox, no limits. For
    /// benchmarks and tests only; production plugins are components. Its hash is
    /// `native`.
    #[must_use]
    pub fn native<R: PricingRule>() -> Self {
        let meta = R::metadata();
        let info = PluginInfo {
            kind: meta.kind.to_owned(),
            version: meta.version.to_owned(),
            role: meta.role,
            description: meta.description.to_owned(),
            hash: "native".to_owned(),
        };
        let id = info.id();
        let native = Native {
            decode_quote: pricing_sdk::driver::decode_quote::<R>,
            dependencies: pricing_sdk::driver::dependencies::<R>,
            price_batch: pricing_sdk::driver::price_batch::<R>,
        };
        Plugin { backend: Backend::Native(native), info, id }
    }

    pub(crate) fn with_info(mut self, info: PluginInfo) -> Self {
        self.id = info.id();
        self.info = info;
        self
    }

    pub(crate) fn hash(&self) -> &str {
        &self.info.hash
    }

    /// Checked metadata.
    #[must_use]
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// `kind@version+hash8`.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn read_metadata(&self) -> Result<wit::Metadata, PluginError> {
        self.call(|store, b| b.call_metadata(store))
    }

    /// An empty batch must come back empty: proves `price-batch` runs at all.
    pub(crate) fn smoke_test(&self) -> Result<(), PluginError> {
        let mut batch = pricing_sdk::wire::BatchBuilder::new();
        let outcome = self.price_batch(batch.finish(), 0)?;
        debug_assert!(outcome.results.is_empty());
        Ok(())
    }

    /// Validates one quote (`data` as JSON text) and returns its compact stored form,
    /// or the plugin's reason for refusing it.
    pub fn decode_quote(&self, key: &str, data: &str) -> Result<Result<Vec<u8>, PriceError>, PluginError> {
        match &self.backend {
            Backend::Native(n) => Ok((n.decode_quote)(key, data)),
            Backend::Wasm(_) => {
                self.call(|store, b| b.call_decode_quote(store, key, data)).map(|r| r.map_err(price_error))
            }
        }
    }

    /// The resource keys each departure depends on for one product binding (JSON text).
    pub fn dependencies(
        &self,
        binding: &str,
        departures: &[Departure],
    ) -> Result<Result<Vec<Vec<String>>, PriceError>, PluginError> {
        if let Backend::Native(n) = &self.backend {
            return Ok((n.dependencies)(binding, departures));
        }
        let departures: Vec<wit::Departure> = departures
            .iter()
            .map(|d| wit::Departure {
                city: d.city.clone(),
                destination: d.destination.clone(),
                date: d.date.to_string(),
                nights: d.nights,
                pax: d.pax,
            })
            .collect();
        let keys = self.call(|store, b| b.call_dependencies(store, binding, &departures))?;
        match keys {
            Ok(keys) if keys.len() != departures.len() => Err(self.contract(format!(
                "dependencies returned {} key lists for {} departures",
                keys.len(),
                departures.len()
            ))),
            other => Ok(other.map_err(price_error)),
        }
    }

    /// Prices a batch built with [`pricing_sdk::wire::BatchBuilder`] holding
    /// `departures` departures.
    pub fn price_batch(&self, batch: &[u8], departures: usize) -> Result<BatchOutcome, PluginError> {
        let (amounts, errors) = match &self.backend {
            Backend::Native(n) => {
                let r = (n.price_batch)(batch);
                (r.amounts, r.errors)
            }
            Backend::Wasm(_) => {
                let r = self.call(|store, b| b.call_price_batch(store, batch))?;
                (r.amounts, r.errors.into_iter().map(|e| (e.index, price_error(e.error))).collect())
            }
        };
        if amounts.len() != departures {
            let first = errors.first().map(|e| format!(" ({})", e.1)).unwrap_or_default();
            return Err(self.contract(format!("returned {} amounts for {departures} departures{first}", amounts.len())));
        }
        let mut results: Vec<Result<i64, PriceError>> = amounts.into_iter().map(Ok).collect();
        for (index, error) in errors {
            let slot = results
                .get_mut(index as usize)
                .ok_or_else(|| self.contract(format!("error for departure {index} of {departures}")))?;
            *slot = Err(error);
        }
        if self.info.role == Role::Component
            && let Some(negative) = results.iter().flatten().find(|a| **a < 0)
        {
            return Err(self.contract(format!("a component priced a departure at {negative}, below zero")));
        }
        Ok(BatchOutcome { results })
    }

    fn contract(&self, message: String) -> PluginError {
        // A plugin that breaks the contract may be in any state: start afresh next time.
        if let Backend::Wasm(w) = &self.backend {
            w.generation.fetch_add(1, Ordering::Relaxed);
            w.idle().clear();
        }
        PluginError::Contract { plugin: self.id.clone(), message }
    }

    /// Runs one call on an idle instance (creating one if none is idle) with a fresh
    /// time budget; on failure the instance is dropped and the failure classified. A
    /// memory limit hit on a reused instance is retried once on a fresh one.
    fn call<T>(&self, f: impl Fn(&mut Store<StoreState>, &Bindings) -> wasmtime::Result<T>) -> Result<T, PluginError> {
        let Backend::Wasm(w) = &self.backend else {
            return Err(PluginError::Contract { plugin: self.id.clone(), message: "not a component".into() });
        };
        let idle = w.idle().pop();
        let (live, reused) = match idle {
            Some(live) => (live, true),
            None => (w.instantiate(&self.id)?, false),
        };
        match w.run(&self.id, live, &f) {
            Ok((value, live)) => {
                w.give_back(live);
                Ok(value)
            }
            // Some language runtimes never give memory back inside an instance
            // (componentize-js's engine does not collect garbage): a reused instance
            // can fill the limit with what earlier calls left. Calls are pure, so the
            // call is run once more on a fresh instance; only a call that needs more
            // than the limit by itself fails.
            Err(PluginError::MemoryLimit { .. }) if reused => {
                let n = w.recycled.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::debug!(plugin = %self.id, recycled = n, "memory limit on a reused instance: retrying on a fresh one");
                let (value, live) = w.run(&self.id, w.instantiate(&self.id)?, &f)?;
                w.give_back(live);
                Ok(value)
            }
            Err(e) => Err(e),
        }
    }

    /// How many calls hit the memory limit on a reused instance and were run again on a
    /// fresh one (always 0 for native rules).
    #[must_use]
    pub fn recycled(&self) -> u64 {
        match &self.backend {
            Backend::Wasm(w) => w.recycled.load(Ordering::Relaxed),
            Backend::Native(_) => 0,
        }
    }
}

impl Wasm {
    /// One call on `live` with a fresh time budget; the instance comes back when the
    /// call succeeded and is dropped (its state is unknown) when it failed.
    fn run<T>(
        &self,
        id: &str,
        live: Live,
        f: &impl Fn(&mut Store<StoreState>, &Bindings) -> wasmtime::Result<T>,
    ) -> Result<(T, Live), PluginError> {
        let Live { mut store, bindings, generation } = live;
        store.set_epoch_deadline(self.deadline_ticks());
        store.data_mut().limiter.denied = false;
        match f(&mut store, &bindings) {
            Ok(value) => Ok((value, Live { store, bindings, generation })),
            Err(e) => Err(self.classify(id, e, &store)),
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Live>> {
        // A panic while holding the lock cannot leave the list half-written.
        self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps `live` for the next call, unless enough are idle or it predates a
    /// contract breach.
    fn give_back(&self, live: Live) {
        if live.generation == self.generation.load(Ordering::Relaxed) {
            let mut idle = self.idle();
            if idle.len() < IDLE_KEPT {
                idle.push(live);
            }
        }
    }

    fn instantiate(&self, id: &str) -> Result<Live, PluginError> {
        let limit = usize::try_from(self.config.memory_limit_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        let generation = self.generation.load(Ordering::Relaxed);
        let mut store = Store::new(self.pre.engine(), StoreState::new(limit));
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(self.deadline_ticks());
        let bindings = self.pre.instantiate(&mut store).map_err(|e| self.classify(id, e, &store))?;
        Ok(Live { store, bindings, generation })
    }

    fn deadline_ticks(&self) -> u64 {
        // +1: the deadline counts from the current epoch, which may be about to tick.
        self.config.call_budget_ms.div_ceil(TICK.as_millis() as u64).max(1) + 1
    }

    fn classify(&self, id: &str, e: wasmtime::Error, store: &Store<StoreState>) -> PluginError {
        let plugin = id.to_owned();
        if store.data().limiter.denied {
            return PluginError::MemoryLimit { plugin, limit_mib: self.config.memory_limit_mib };
        }
        if let Some(wasmtime::Trap::Interrupt) = e.downcast_ref::<wasmtime::Trap>() {
            return PluginError::Timeout { plugin, budget_ms: self.config.call_budget_ms };
        }
        PluginError::Trap { plugin, message: format!("{e:#}") }
    }
}

fn price_error(e: wit::PriceError) -> PriceError {
    match e {
        wit::PriceError::Unavailable(r) => PriceError::Unavailable(r),
        wit::PriceError::InvalidInput(r) => PriceError::InvalidInput(r),
    }
}
