//! Per-store state: the empty WASI context and the memory limiter.

use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

/// Everything a plugin's store holds.
pub(crate) struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
}

impl StoreState {
    pub(crate) fn new(memory_limit_bytes: usize) -> Self {
        StoreState { wasi: empty_wasi(), table: ResourceTable::new(), limiter: MemoryLimiter::new(memory_limit_bytes) }
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// WASI for components built by standard toolchains, which import it even when the
/// rules never touch it: no preopened folders, no sockets, no environment or arguments,
/// stdio closed, a clock stuck at the epoch and randomness from a fixed seed. Such
/// components load, but everything they could observe is constant: pricing stays pure.
fn empty_wasi() -> WasiCtx {
    WasiCtx::builder()
        .wall_clock(FixedClock)
        .monotonic_clock(FixedClock)
        .secure_random(StdRng::seed_from_u64(0))
        .insecure_random(StdRng::seed_from_u64(1))
        .insecure_random_seed(0)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

/// A clock that never moves.
struct FixedClock;

impl HostWallClock for FixedClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FixedClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// Refuses memory growth past the limit and remembers that it did, so the trap that
/// follows (the guest's allocator aborts) is reported as what it is.
pub(crate) struct MemoryLimiter {
    limit_bytes: usize,
    pub(crate) denied: bool,
}

impl MemoryLimiter {
    fn new(limit_bytes: usize) -> Self {
        MemoryLimiter { limit_bytes, denied: false }
    }
}

/// Tables hold function references; nothing legitimate needs more than this.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let ok = desired <= self.limit_bytes;
        self.denied |= !ok;
        Ok(ok)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
