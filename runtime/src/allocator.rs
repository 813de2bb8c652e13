//! The process's memory allocator, mimalloc, and its tuning for the batch cycle.

use std::os::raw::{c_int, c_long};

// The hot path allocates many small, short-lived values (events, records, keys);
// mimalloc serves them markedly faster than glibc's allocator (see the README benchmark).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in the `mi_option_e` enum of mimalloc's `mimalloc.h` (the
/// same position in its v2 and v3); `libmimalloc-sys` does not name it.
const MI_OPTION_PURGE_DELAY: c_int = 15;

/// How long freed memory stays with the process before mimalloc returns it to the OS.
///
/// A micro-batch allocates hundreds of megabytes (records, encodings, the commit's
/// writes) and frees them when its commit lands, a second or two later. With mimalloc's
/// default of one second, much of that memory went back to the OS between batches and
/// the next batch took it back one page fault at a time, zeroed by the kernel: in the
/// pipeline benchmark the pricing thread spent about 7 % of its samples in page faults
/// and a quarter more CPU than with the memory kept. Ten seconds spans several batches,
/// so a busy stream keeps its memory, and an idle one still gives it back.
pub const PURGE_DELAY_MS: c_long = 10_000;

/// Tunes the allocator for the engine; call once at start (the `pricing` binary and the
/// benchmarks do). `MIMALLOC_PURGE_DELAY` in the environment, which mimalloc reads
/// itself, takes precedence.
// The workspace denies unsafe code; this call into mimalloc's C API is the one exception.
#[allow(unsafe_code)]
pub fn tune() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mi_option_set stores an integer option that mimalloc reads when it
        // decides to purge; it has no other effect and is safe to call at any time.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    }
}
