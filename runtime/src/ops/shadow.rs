//! A shadow run: a candidate version prices the same departures as the active one, batch
//! by batch; nothing it computes is emitted or stored, only compared. The report is
//! readable while it runs.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::engine::{Plugin, PluginSet};
use crate::intake::now_rfc3339;
use crate::pipeline::ShadowDiff;
use crate::registry::VersionInfo;
use crate::state::Status;

/// Changes kept in the report's sample.
const SAMPLE: usize = 10;

/// A running shadow of one kind.
pub struct Shadow {
    /// The kind.
    pub kind: String,
    /// The candidate version.
    pub candidate: VersionInfo,
    plugin: Arc<Plugin>,
    active_at_start: String,
    started_at: String,
    who: String,
    tally: Mutex<Tally>,
}

/// The running sums behind a report.
#[derive(Default)]
struct Tally {
    batches: u64,
    compared: u64,
    departures: HashSet<Arc<str>>,
    changed: u64,
    status_changed: u64,
    priced_by_both: u64,
    sum_delta: i128,
    sum_abs_delta: i128,
    max_delta: Option<i64>,
    largest: Vec<ShadowChange>,
    failures: u64,
}

/// What a shadow found so far.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShadowReport {
    /// The kind.
    pub kind: String,
    /// The candidate version.
    pub candidate: VersionInfo,
    /// The active version when the shadow started.
    pub active: String,
    /// Who started it.
    pub who: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// Batches it priced.
    pub batches: u64,
    /// Departure pricings compared (a departure priced in several batches counts each time).
    pub compared: u64,
    /// Distinct departures compared.
    pub departures: u64,
    /// Comparisons where the candidate's status or price differs.
    pub changed: u64,
    /// Of those, how many changed status (available, unavailable, retired).
    pub status_changed: u64,
    /// Largest price difference (candidate minus active, minor units) among departures
    /// both priced, by absolute value; `null` when none differed.
    pub max_delta: Option<i64>,
    /// Mean price difference over the changed comparisons both priced.
    pub mean_delta: f64,
    /// Mean absolute price difference over the same.
    pub mean_abs_delta: f64,
    /// Candidate calls that failed as a whole (trap, timeout, memory).
    pub candidate_failures: u64,
    /// The largest changes, largest first (by absolute difference; status changes last).
    pub largest: Vec<ShadowChange>,
}

/// One departure the candidate prices differently.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShadowChange {
    /// The departure key.
    pub departure: String,
    /// Status with the active version.
    pub active_status: Status,
    /// Price with the active version.
    pub active_price: Option<i64>,
    /// Status with the candidate.
    pub shadow_status: Status,
    /// Price with the candidate.
    pub shadow_price: Option<i64>,
    /// Candidate minus active, when both priced it.
    pub delta: Option<i64>,
}

impl ShadowChange {
    /// Sort key: real differences by size, then status changes.
    fn weight(&self) -> i128 {
        self.delta.map_or(-1, |d| i128::from(d).abs())
    }
}

impl Shadow {
    pub(super) fn new(candidate: VersionInfo, plugin: Arc<Plugin>, active: String, who: &str) -> Self {
        Shadow {
            kind: candidate.kind.clone(),
            candidate,
            plugin,
            active_at_start: active,
            started_at: now_rfc3339(),
            who: who.to_owned(),
            tally: Mutex::default(),
        }
    }

    /// `active` with the candidate in place of its kind's version: what the shadow
    /// prices a batch with.
    #[must_use]
    pub fn set_over(&self, active: &PluginSet) -> PluginSet {
        let mut set = active.clone();
        set.insert_shared(Arc::clone(&self.plugin));
        set
    }

    /// Adds one batch's comparisons.
    pub(super) fn record<'d>(&self, diffs: impl Iterator<Item = &'d ShadowDiff>, failures: u64) {
        let mut t = super::lock(&self.tally);
        t.batches += 1;
        t.failures += failures;
        for d in diffs {
            t.compared += 1;
            if !t.departures.contains(&d.departure) {
                t.departures.insert(Arc::clone(&d.departure));
            }
            if d.active == d.shadow {
                continue;
            }
            t.changed += 1;
            let delta = match (d.active, d.shadow) {
                ((Status::Available, Some(a)), (Status::Available, Some(s))) => Some(s - a),
                _ => None,
            };
            match delta {
                Some(delta) => {
                    t.priced_by_both += 1;
                    t.sum_delta += i128::from(delta);
                    t.sum_abs_delta += i128::from(delta).abs();
                    if t.max_delta.is_none_or(|m| delta.unsigned_abs() > m.unsigned_abs()) {
                        t.max_delta = Some(delta);
                    }
                }
                None => t.status_changed += 1,
            }
            let change = ShadowChange {
                departure: d.departure.to_string(),
                active_status: d.active.0,
                active_price: d.active.1,
                shadow_status: d.shadow.0,
                shadow_price: d.shadow.1,
                delta,
            };
            keep_largest(&mut t.largest, change);
        }
    }

    /// The report so far.
    #[must_use]
    pub fn report(&self) -> ShadowReport {
        let t = super::lock(&self.tally);
        let mean = |sum: i128| if t.priced_by_both == 0 { 0.0 } else { sum as f64 / t.priced_by_both as f64 };
        ShadowReport {
            kind: self.kind.clone(),
            candidate: self.candidate.clone(),
            active: self.active_at_start.clone(),
            who: self.who.clone(),
            started_at: self.started_at.clone(),
            batches: t.batches,
            compared: t.compared,
            departures: t.departures.len() as u64,
            changed: t.changed,
            status_changed: t.status_changed,
            max_delta: t.max_delta,
            mean_delta: mean(t.sum_delta),
            mean_abs_delta: mean(t.sum_abs_delta),
            candidate_failures: t.failures,
            largest: t.largest.clone(),
        }
    }
}

/// Keeps the [`SAMPLE`] largest changes, one per departure (its latest).
fn keep_largest(sample: &mut Vec<ShadowChange>, change: ShadowChange) {
    sample.retain(|c| c.departure != change.departure);
    sample.push(change);
    sample.sort_by(|a, b| b.weight().cmp(&a.weight()).then_with(|| a.departure.cmp(&b.departure)));
    sample.truncate(SAMPLE);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(departure: &str, delta: Option<i64>) -> ShadowChange {
        ShadowChange {
            departure: departure.into(),
            active_status: Status::Available,
            active_price: Some(100),
            shadow_status: if delta.is_some() { Status::Available } else { Status::Unavailable },
            shadow_price: delta.map(|d| 100 + d),
            delta,
        }
    }

    #[test]
    fn the_sample_keeps_the_largest_changes_once_per_departure() {
        let mut sample = Vec::new();
        for i in 0..15 {
            keep_largest(&mut sample, change(&format!("D{i:02}"), Some(if i % 2 == 0 { i * 10 } else { -i * 10 })));
        }
        keep_largest(&mut sample, change("X", None));
        keep_largest(&mut sample, change("D00", Some(5)));
        let kept: Vec<(&str, Option<i64>)> = sample.iter().map(|c| (c.departure.as_str(), c.delta)).collect();
        assert_eq!(sample.len(), SAMPLE);
        assert_eq!(kept[0], ("D14", Some(140)));
        assert_eq!(kept[1], ("D13", Some(-130)), "ranked by size, whatever the sign");
        assert!(!kept.iter().any(|(d, _)| *d == "D00"), "D00's latest change is small: {kept:?}");
        assert!(!kept.iter().any(|(d, _)| *d == "X"), "status changes rank after price changes");
    }
}
