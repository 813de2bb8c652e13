//! Operations on a running engine, beyond swapping the active version: reprice every
//! departure of a kind, price rollback, shadow runs of a candidate version, and the
//! automatic rollback of a version that keeps failing.
//!
//! The engine has one writer of its state, the pipeline's thread, and operations keep
//! it that way: the admin API only *asks* ([`Operations::submit`],
//! [`Operations::start_shadow`]); the [`Runner`](crate::source::Runner) does the work
//! inside its micro-batches, between or beside the events (a reprice chunk is priced
//! with the batch's events and committed with them, atomically). So an operation never
//! races the stream, never pauses it for long, and survives nothing half-done: a chunk
//! is either committed with its batch or not at all. When no input arrives, the runner's
//! idle loop ([`Runner::run_ops`](crate::source::Runner::run_ops)) still works through
//! the queue.
//!
//! Jobs are kept in memory: a job cut short by a restart is not resumed (re-submit it;
//! a reprice or a price rollback run twice changes nothing the second time).

mod config;
mod health;
mod jobs;
mod shadow;
mod watch;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

pub use config::{AutoRollbackConfig, OpsConfig};
pub use jobs::{JobOp, JobState, JobStatus};
pub use shadow::{Shadow, ShadowChange, ShadowReport};
pub use watch::{WatchHandle, watch};

use crate::engine::PluginSet;
use crate::metrics::Metrics;
use crate::pipeline::{BatchOutput, Cause};
use crate::registry::{Registry, RegistryError, VersionInfo};
use crate::state::{Committer, State};

/// Why an operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The registry refused (unknown version, wrong kind, storage).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// No plugin is active for the kind.
    #[error("no active plugin prices kind {0:?}")]
    UnknownKind(String),
    /// A shadow of the kind is already running.
    #[error("a shadow of {kind} is already running (candidate {hash}): promote or drop it first")]
    ShadowRunning {
        /// The kind.
        kind: String,
        /// Its candidate's hash.
        hash: String,
    },
    /// No shadow of the kind is running.
    #[error("no shadow of {0} is running")]
    NoShadow(String),
    /// No job has the id.
    #[error("no job {0}")]
    UnknownJob(u64),
}

/// One batch's share of a job: the departures to reprice or restore, and the cause
/// their records name.
pub struct Work {
    /// The job.
    pub job: u64,
    /// `reprice:JOB` or `price-rollback:JOB`, with the time the job was asked for.
    pub cause: Cause,
    /// The departures.
    pub departures: Vec<Arc<str>>,
    /// For a price rollback: the kind and the plugin id whose prices are undone.
    pub restore: Option<(String, String)>,
}

/// The operations of one engine: shared by the admin API (which asks) and the runner
/// (which works).
pub struct Operations {
    config: OpsConfig,
    registry: Arc<Registry>,
    jobs: Mutex<jobs::Jobs>,
    /// Signalled when a job is submitted, for an idle runner.
    submitted: Condvar,
    shadows: Mutex<BTreeMap<String, Arc<Shadow>>>,
    health: Mutex<health::Health>,
    auto_rollbacks: AtomicU64,
    metrics: Metrics,
    state_open: AtomicBool,
    source_connected: AtomicBool,
    /// Read access to the committed state, once it is open: the console's price views.
    reader: OnceLock<Committer>,
}

/// A part of the engine `/ready` waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadyPart {
    /// The state store is open.
    State,
    /// The input is open: the files are being read, or the Kafka brokers answered.
    Source,
}

impl Operations {
    /// Operations over `registry` (the versions and the live set).
    #[must_use]
    pub fn new(config: OpsConfig, registry: Arc<Registry>) -> Self {
        Operations {
            health: Mutex::new(health::Health::new(config.auto_rollback.clone())),
            config,
            registry,
            jobs: Mutex::default(),
            submitted: Condvar::new(),
            shadows: Mutex::default(),
            auto_rollbacks: AtomicU64::new(0),
            metrics: Metrics::default(),
            state_open: AtomicBool::new(false),
            source_connected: AtomicBool::new(false),
            reader: OnceLock::new(),
        }
    }

    /// Records that `part` is up (or, with `up` false, down again).
    pub fn set_ready(&self, part: ReadyPart, up: bool) {
        let flag = match part {
            ReadyPart::State => &self.state_open,
            ReadyPart::Source => &self.source_connected,
        };
        flag.store(up, Ordering::Relaxed);
    }

    /// Records that the state is open, and keeps `reader` for the price queries of the
    /// admin API's console.
    pub fn state_opened(&self, reader: Committer) {
        // Opened once per engine: a second call keeps the first handles, which read the
        // same database.
        let _ = self.reader.set(reader);
        self.set_ready(ReadyPart::State, true);
    }

    /// Reads of the committed state, once it is open.
    #[must_use]
    pub fn state_reader(&self) -> Option<&Committer> {
        self.reader.get()
    }

    /// Whether `part` is up.
    #[must_use]
    pub fn is_ready(&self, part: ReadyPart) -> bool {
        match part {
            ReadyPart::State => self.state_open.load(Ordering::Relaxed),
            ReadyPart::Source => self.source_connected.load(Ordering::Relaxed),
        }
    }

    /// The same operations reporting to `metrics` (which knows the data folder).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The engine's metrics.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The registry the operations change.
    #[must_use]
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Automatic rollbacks since start.
    #[must_use]
    pub fn auto_rollbacks(&self) -> u64 {
        self.auto_rollbacks.load(Ordering::Relaxed)
    }

    // ----- jobs (admin side) -----

    /// Queues a reprice of every departure that uses `kind`.
    pub fn reprice(&self, kind: &str, who: &str) -> Result<JobStatus, OpsError> {
        self.check_kind(kind)?;
        Ok(self.submit(JobOp::Reprice { kind: kind.to_owned() }, who))
    }

    /// Queues a price rollback: every departure `kind`'s version `hash` priced gets back
    /// the price it had before that version first priced it.
    pub fn price_rollback(&self, kind: &str, hash: &str, who: &str) -> Result<JobStatus, OpsError> {
        let info = self.registry.version(hash)?.ok_or_else(|| RegistryError::UnknownVersion(hash.to_owned()))?;
        if info.kind != kind {
            return Err(RegistryError::WrongKind { expected: kind.to_owned(), actual: info.kind }.into());
        }
        Ok(self.submit(JobOp::PriceRollback { kind: kind.to_owned(), hash: hash.to_owned(), rules: info.id }, who))
    }

    fn submit(&self, op: JobOp, who: &str) -> JobStatus {
        let status = self.lock_jobs().submit(op, who);
        tracing::info!(job = status.id, op = ?status.op, who, "job queued");
        self.submitted.notify_all();
        status
    }

    /// A job's status.
    pub fn job(&self, id: u64) -> Result<JobStatus, OpsError> {
        self.lock_jobs().status(id).ok_or(OpsError::UnknownJob(id))
    }

    /// Every job kept (the most recent finished ones, and all unfinished), oldest first.
    #[must_use]
    pub fn jobs(&self) -> Vec<JobStatus> {
        self.lock_jobs().all()
    }

    // ----- shadow (admin side) -----

    /// Starts pricing with `hash` (a stored version) beside `kind`'s active version.
    pub fn start_shadow(&self, kind: &str, hash: &str, who: &str) -> Result<ShadowReport, OpsError> {
        let active = self.check_kind(kind)?;
        let info = self.registry.version(hash)?.ok_or_else(|| RegistryError::UnknownVersion(hash.to_owned()))?;
        if info.kind != kind {
            return Err(RegistryError::WrongKind { expected: kind.to_owned(), actual: info.kind }.into());
        }
        let plugin = self.registry.plugin(hash)?;
        let mut shadows = self.lock_shadows();
        if let Some(running) = shadows.get(kind) {
            return Err(OpsError::ShadowRunning { kind: kind.to_owned(), hash: running.candidate.hash.clone() });
        }
        let shadow = Arc::new(Shadow::new(info, plugin, active, who));
        let report = shadow.report();
        shadows.insert(kind.to_owned(), shadow);
        tracing::info!(kind, candidate = %report.candidate.id, who, "shadow started");
        Ok(report)
    }

    /// The report of `kind`'s running shadow.
    pub fn shadow_report(&self, kind: &str) -> Result<ShadowReport, OpsError> {
        self.lock_shadows().get(kind).map(|s| s.report()).ok_or_else(|| OpsError::NoShadow(kind.to_owned()))
    }

    /// Stops `kind`'s shadow; returns its final report.
    pub fn drop_shadow(&self, kind: &str, who: &str) -> Result<ShadowReport, OpsError> {
        let shadow = self.lock_shadows().remove(kind).ok_or_else(|| OpsError::NoShadow(kind.to_owned()))?;
        tracing::info!(kind, candidate = %shadow.candidate.id, who, "shadow dropped");
        Ok(shadow.report())
    }

    /// Makes `kind`'s shadow candidate the active version and stops the shadow; returns
    /// the final report and the activated version.
    pub fn promote_shadow(&self, kind: &str, who: &str) -> Result<(ShadowReport, VersionInfo), OpsError> {
        let mut shadows = self.lock_shadows();
        let shadow = shadows.get(kind).ok_or_else(|| OpsError::NoShadow(kind.to_owned()))?;
        let info = self.registry.activate(kind, &shadow.candidate.hash, who, "promoted from shadow")?;
        let report = shadow.report();
        shadows.remove(kind);
        Ok((report, info))
    }

    fn check_kind(&self, kind: &str) -> Result<String, OpsError> {
        let live = self.registry.live()?.load();
        live.get(kind).map(|p| p.id().to_owned()).ok_or_else(|| OpsError::UnknownKind(kind.to_owned()))
    }

    // ----- runner side -----

    /// Whether a job is queued or running.
    #[must_use]
    pub fn has_jobs(&self) -> bool {
        self.lock_jobs().unfinished()
    }

    /// Waits up to `timeout` for a job to be queued; returns whether one is.
    #[must_use]
    pub fn wait_for_jobs(&self, timeout: Duration) -> bool {
        let jobs = self.lock_jobs();
        if jobs.unfinished() {
            return true;
        }
        let (jobs, _) = self.submitted.wait_timeout(jobs, timeout).unwrap_or_else(std::sync::PoisonError::into_inner);
        jobs.unfinished()
    }

    /// The next chunk of job work, starting the next queued job when none is running.
    /// Call with the state committed (no commit in flight): a starting job lists its
    /// departures from committed state, and a price rollback reads committed history.
    pub fn next_work(&self, state: &State) -> Option<Work> {
        loop {
            let starting = {
                let mut jobs = self.lock_jobs();
                if let Some(work) = jobs.take_chunk(self.config.reprice_chunk) {
                    return Some(work);
                }
                jobs.start_next()?
            };
            // Listing a million departures takes a moment: not under the lock the admin
            // API reads progress through.
            let listed = state.departures_using(starting.kind());
            let mut jobs = self.lock_jobs();
            match listed {
                Ok(departures) => jobs.set_todo(starting.id, departures),
                Err(e) => jobs.fail(starting.id, &format!("listing the departures: {e}")),
            }
        }
    }

    /// Records that a chunk of `job` is committed: `done` departures, `emitted` records.
    pub fn work_committed(&self, job: u64, done: u64, emitted: u64) {
        self.lock_jobs().committed(job, done, emitted);
    }

    /// Records that a chunk of `job` failed to commit; the job stops.
    pub fn work_failed(&self, job: u64, error: &str) {
        self.lock_jobs().fail(job, error);
    }

    /// The running shadows.
    #[must_use]
    pub fn shadows(&self) -> Vec<Arc<Shadow>> {
        self.lock_shadows().values().cloned().collect()
    }

    /// After a batch is written: counts it in the metrics (`elapsed`: its processing
    /// time), adds its shadow results to the reports, and rolls back any kind whose
    /// recent calls failed too often (see [`AutoRollbackConfig`]).
    pub fn after_batch(&self, out: &BatchOutput, shadows: &[Arc<Shadow>], plugins: &PluginSet, elapsed: Duration) {
        self.metrics.observe_batch(out, plugins, elapsed, crate::intake::now_millis());
        for s in shadows {
            s.record(out.shadow.iter().filter(|d| d.kind == s.kind), out.shadow_failures);
        }
        let tripped = self.health().observe(&out.stats, plugins);
        for (kind, reason) in tripped {
            self.auto_rollback(&kind, &reason);
        }
    }

    fn auto_rollback(&self, kind: &str, reason: &str) {
        match self.registry.rollback(kind, "auto-rollback", reason) {
            Ok(to) => {
                let total = self.auto_rollbacks.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(kind, to = %to.id, reason, auto_rollbacks = total, "plugin rolled back automatically");
                // The failing version left departures unavailable: price them again with
                // the version now active.
                self.submit(JobOp::Reprice { kind: kind.to_owned() }, "auto-rollback");
            }
            Err(e) => {
                tracing::error!(kind, reason, error = %e, "automatic rollback impossible; the failing version stays")
            }
        }
    }

    /// Per-kind call counters of the current window.
    #[must_use]
    pub fn failure_windows(&self) -> BTreeMap<String, crate::pipeline::KindCalls> {
        self.health().windows()
    }

    fn health(&self) -> MutexGuard<'_, health::Health> {
        lock(&self.health)
    }

    fn lock_jobs(&self) -> MutexGuard<'_, jobs::Jobs> {
        lock(&self.jobs)
    }

    fn lock_shadows(&self) -> MutexGuard<'_, BTreeMap<String, Arc<Shadow>>> {
        lock(&self.shadows)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each guarded value is changed by whole steps that cannot panic half-way.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Departures per second over `done` departures since `started`.
fn rate(done: u64, started: Instant) -> f64 {
    let s = started.elapsed().as_secs_f64();
    if s > 0.0 { done as f64 / s } else { 0.0 }
}
