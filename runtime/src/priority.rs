//! The pricing thread first. A batch's pricing runs on one thread, the critical path;
//! beside it run fjall's worker (flushes, compactions), the commits, the output writer
//! and the decoding of the next batch. On a machine with few cores these were runnable
//! at the same time as the pricing thread often enough to take turns with it: on 2
//! cores, an off-CPU profile of the pricing thread showed 665 of its 679 context
//! switches in 7 s were preemptions, while the process used 1.65 of the 2 cores on
//! average. They now run at a lower priority ([`BACKGROUND_NICE`] above the process's):
//! they take the CPU the pricing thread leaves, which was enough for them to keep up.
//! In alternating runs of the 1,003,200-departure flight stream (README, benchmark)
//! 5 steps took the stream from 88,000-96,000 to 100,800-101,600 events/s.
//!
//! 10 steps, not 5: by Linux's weights, a thread 5 steps nicer still gets a quarter of a
//! core it shares with the pricing thread, 10 steps nicer a tenth. The background
//! threads need about 10 CPU s over a 12 s stream, less than the other core, so they
//! still keep up. Measured in one binary, alternating: 102,620-103,608 events/s at 10
//! against 96,904-98,506 at 5; in two later series of separate builds the difference
//! was within the machine's noise (README, benchmark).
//!
//! The steps are a setting (`pipeline.background_nice`, 0 to turn it off): nice is
//! relative to every thread on the machine, so on a host shared with other busy
//! processes the lowered threads yield to those too, and a commit can fall behind.
//!
//! Linux keeps a nice value per thread, and `setpriority(PRIO_PROCESS, 0)` sets the
//! calling thread's alone. Where it cannot be set (another platform, a limit), the
//! threads keep the process's priority, as before.

use std::sync::atomic::{AtomicI32, Ordering};

/// How much lower (in nice steps) the background threads run than the process, unless
/// [`set_background_nice`] says otherwise (`pipeline.background_nice`).
pub const BACKGROUND_NICE: i32 = 10;

/// The highest nice value, and the most steps a thread can be lowered by.
pub const NICEST: i32 = 19;

/// The steps [`background`] lowers by: one setting for the process, as the threads it
/// lowers are started from many places (the runner, the sinks, the state, the pipeline).
static STEPS: AtomicI32 = AtomicI32::new(BACKGROUND_NICE);

/// Sets how many nice steps (0 to [`NICEST`]; 0: none) the background threads started
/// from now on are lowered by. Called once, before the state is opened.
pub fn set_background_nice(steps: i32) {
    STEPS.store(steps.clamp(0, NICEST), Ordering::Relaxed);
}

/// Lowers the calling thread to the background priority.
pub fn background() {
    lower(None, STEPS.load(Ordering::Relaxed));
}

/// Lowers fjall's threads (named `fjall…`: fjall starts them itself) to the background
/// priority.
pub fn background_fjall() {
    let steps = STEPS.load(Ordering::Relaxed);
    if steps == 0 {
        return;
    }
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("fjall") {
            continue;
        }
        if let Some(tid) =
            task.file_name().to_str().and_then(|t| t.parse().ok()).and_then(rustix::process::Pid::from_raw)
        {
            lower(Some(tid), steps);
        }
    }
}

fn lower(thread: Option<rustix::process::Pid>, steps: i32) {
    if steps == 0 {
        return;
    }
    let Ok(now) = rustix::process::getpriority_process(thread) else { return };
    let to = (now + steps).min(NICEST);
    if let Err(e) = rustix::process::setpriority_process(thread, to) {
        tracing::debug!(error = %e, "cannot lower a background thread's priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_background_thread_runs_nicer_than_the_one_that_started_it() {
        let before = rustix::process::getpriority_process(None).expect("reads the priority");
        let inside = std::thread::spawn(|| {
            background();
            rustix::process::getpriority_process(None).expect("reads the priority")
        })
        .join()
        .expect("joins");
        assert_eq!(inside, (before + BACKGROUND_NICE).min(NICEST));
        assert_eq!(rustix::process::getpriority_process(None).expect("reads"), before, "this thread unchanged");
    }

    #[test]
    fn zero_steps_leave_a_thread_at_its_priority() {
        let before = rustix::process::getpriority_process(None).expect("reads the priority");
        let inside = std::thread::spawn(|| {
            lower(None, 0);
            rustix::process::getpriority_process(None).expect("reads the priority")
        })
        .join()
        .expect("joins");
        assert_eq!(inside, before);
    }
}
