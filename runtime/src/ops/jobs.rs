//! The job queue: reprices and price rollbacks, run one at a time in chunks by the
//! runner, with their progress for the admin API.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::{Work, rate};
use crate::intake::now_rfc3339 as now;
use crate::pipeline::Cause;

/// Finished jobs kept for the API; older ones are forgotten.
const KEEP_FINISHED: usize = 100;

/// What a job does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum JobOp {
    /// Price again every departure that uses `kind` (after a rule change).
    Reprice {
        /// The kind.
        kind: String,
    },
    /// Give every departure that `kind`'s version `hash` priced the price it had before,
    /// as a new version.
    PriceRollback {
        /// The kind.
        kind: String,
        /// The version whose prices are undone.
        hash: String,
        /// Its plugin id, as price records name it.
        rules: String,
    },
}

impl JobOp {
    fn kind(&self) -> &str {
        match self {
            JobOp::Reprice { kind } | JobOp::PriceRollback { kind, .. } => kind,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            JobOp::Reprice { .. } => "reprice",
            JobOp::PriceRollback { .. } => "price-rollback",
        }
    }
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for the job before it.
    Queued,
    /// Being worked through.
    Running,
    /// Every departure done and committed.
    Done,
    /// Stopped by an error (`error` says which).
    Failed,
}

/// A job's progress, as the admin API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobStatus {
    /// The job's id (`cause` of its records: `OP:ID`).
    pub id: u64,
    /// What it does.
    #[serde(flatten)]
    pub op: JobOp,
    /// Where it is.
    pub state: JobState,
    /// Who asked.
    pub who: String,
    /// When it was asked for (RFC 3339).
    pub submitted_at: String,
    /// When it started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When it finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Departures it covers (known once it starts).
    pub total: u64,
    /// Departures done and committed.
    pub done: u64,
    /// New price versions it emitted (a reprice emits only where a price changed).
    pub emitted: u64,
    /// Departures per second since it started.
    pub departures_per_s: f64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

struct Job {
    status: JobStatus,
    cause_ts: String,
    started: Option<Instant>,
    todo: Vec<Arc<str>>,
    /// How many of `todo` were handed out.
    handed: usize,
    /// Whether `todo` was listed yet.
    listed: bool,
}

/// A job that is starting: its departures must be listed.
pub(super) struct Starting {
    pub id: u64,
    op: JobOp,
}

impl Starting {
    pub(super) fn kind(&self) -> &str {
        self.op.kind()
    }
}

#[derive(Default)]
pub(super) struct Jobs {
    next: u64,
    all: BTreeMap<u64, Job>,
}

impl Jobs {
    pub(super) fn submit(&mut self, op: JobOp, who: &str) -> JobStatus {
        self.next += 1;
        let now = now();
        let status = JobStatus {
            id: self.next,
            op,
            state: JobState::Queued,
            who: who.to_owned(),
            submitted_at: now.clone(),
            started_at: None,
            finished_at: None,
            total: 0,
            done: 0,
            emitted: 0,
            departures_per_s: 0.0,
            error: None,
        };
        let job =
            Job { status: status.clone(), cause_ts: now, started: None, todo: Vec::new(), handed: 0, listed: false };
        self.all.insert(status.id, job);
        self.forget_old();
        status
    }

    pub(super) fn status(&self, id: u64) -> Option<JobStatus> {
        self.all.get(&id).map(|j| j.status.clone())
    }

    pub(super) fn all(&self) -> Vec<JobStatus> {
        self.all.values().map(|j| j.status.clone()).collect()
    }

    pub(super) fn unfinished(&self) -> bool {
        self.all.values().any(|j| matches!(j.status.state, JobState::Queued | JobState::Running))
    }

    /// The next chunk of the running job, if it has departures not handed out yet.
    pub(super) fn take_chunk(&mut self, size: usize) -> Option<Work> {
        let job = self.all.values_mut().find(|j| j.status.state == JobState::Running && j.listed)?;
        if job.handed >= job.todo.len() {
            return None;
        }
        let end = (job.handed + size.max(1)).min(job.todo.len());
        let departures = job.todo[job.handed..end].to_vec();
        job.handed = end;
        let op = &job.status.op;
        Some(Work {
            job: job.status.id,
            cause: Cause {
                id: format!("{}:{}", op.name(), job.status.id),
                ts: job.cause_ts.clone(),
                ts_ms: crate::intake::parse_rfc3339_millis(&job.cause_ts),
            },
            departures,
            restore: match op {
                JobOp::Reprice { .. } => None,
                JobOp::PriceRollback { kind, rules, .. } => Some((kind.clone(), rules.clone())),
            },
        })
    }

    /// Starts the oldest queued job, unless one is running.
    pub(super) fn start_next(&mut self) -> Option<Starting> {
        if self.all.values().any(|j| j.status.state == JobState::Running) {
            return None;
        }
        let job = self.all.values_mut().find(|j| j.status.state == JobState::Queued)?;
        job.status.state = JobState::Running;
        job.status.started_at = Some(now());
        job.started = Some(Instant::now());
        tracing::info!(job = job.status.id, op = job.status.op.name(), kind = job.status.op.kind(), "job started");
        Some(Starting { id: job.status.id, op: job.status.op.clone() })
    }

    pub(super) fn set_todo(&mut self, id: u64, departures: Vec<Arc<str>>) {
        let Some(job) = self.all.get_mut(&id) else { return };
        job.status.total = departures.len() as u64;
        job.todo = departures;
        job.listed = true;
        Self::finish_if_done(job);
    }

    pub(super) fn committed(&mut self, id: u64, done: u64, emitted: u64) {
        let Some(job) = self.all.get_mut(&id) else { return };
        job.status.done += done;
        job.status.emitted += emitted;
        if let Some(started) = job.started {
            job.status.departures_per_s = rate(job.status.done, started);
        }
        Self::finish_if_done(job);
    }

    pub(super) fn fail(&mut self, id: u64, error: &str) {
        let Some(job) = self.all.get_mut(&id) else { return };
        job.status.state = JobState::Failed;
        job.status.error = Some(error.to_owned());
        job.status.finished_at = Some(now());
        tracing::error!(job = id, error, "job failed");
    }

    fn finish_if_done(job: &mut Job) {
        if job.listed && job.status.done >= job.status.total && job.status.state == JobState::Running {
            job.status.state = JobState::Done;
            job.status.finished_at = Some(now());
            job.todo = Vec::new();
            let s = &job.status;
            tracing::info!(
                job = s.id,
                op = s.op.name(),
                kind = s.op.kind(),
                departures = s.done,
                emitted = s.emitted,
                departures_per_s = s.departures_per_s.round(),
                "job done"
            );
        }
    }

    fn forget_old(&mut self) {
        let finished: Vec<u64> = self
            .all
            .iter()
            .filter(|(_, j)| matches!(j.status.state, JobState::Done | JobState::Failed))
            .map(|(id, _)| *id)
            .collect();
        for id in finished.iter().take(finished.len().saturating_sub(KEEP_FINISHED)) {
            self.all.remove(id);
        }
    }
}
