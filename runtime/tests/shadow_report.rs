//! Shadow runs: a candidate flight version (the reference rules plus a 50.00 surcharge)
//! prices the live traffic beside the active one. Its report's numbers equal those of
//! two independent runs, one with each version; nothing it computes is emitted or
//! stored; promote activates it, drop leaves everything as it was.

mod common;

use std::collections::BTreeMap;

use common::rig::{Collect, Rig, inputs, seen};
use pricing_runtime::r#gen::GenConfig;
use pricing_runtime::ops::{OpsConfig, OpsError};
use pricing_runtime::pipeline::{Pipeline, PipelineConfig};
use pricing_runtime::plugins;
use pricing_runtime::source::Runner;
use pricing_runtime::state::{State, Status};

/// A catalog with its initial quotes: every departure is priced once, in one batch.
fn catalog() -> Vec<pricing_runtime::pipeline::Input> {
    inputs(&GenConfig { products: 12, cities: 3, dates_per_city: 6, events: 0, ..GenConfig::default() })
}

/// (status, price) of every flight departure after one batch of `inputs` with a fixed
/// set: the reference plugins, with `flight` replaced by `candidate` when given.
fn one_shot(candidate: Option<&[u8]>) -> BTreeMap<String, (Status, Option<i64>)> {
    let host = common::host();
    let mut set = pricing_runtime::engine::PluginSet::reference(&host).expect("reference set");
    if let Some(wasm) = candidate {
        set.insert(host.load(wasm).expect("candidate loads"));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open(dir.path()).expect("state");
    let pipeline = Pipeline::new(PipelineConfig::default());
    let mut sink = Collect::default();
    let mut runner = Runner::new(&state, &set, &pipeline, &mut sink);
    runner.batch(&catalog(), "work", vec![1]).expect("batch");
    runner.finish().expect("finishes");
    seen(&state)
        .into_iter()
        .filter(|(_, s)| s.rules.contains_key("flight"))
        .map(|(k, s)| (k, (s.status, s.price)))
        .collect()
}

#[test]
fn the_report_matches_independent_runs_and_nothing_of_the_candidate_is_emitted() {
    let surcharge = common::artifact(plugins::FLIGHT_SURCHARGE);
    let active = one_shot(None);
    let shadow = one_shot(Some(&surcharge));
    assert_eq!(active.keys().collect::<Vec<_>>(), shadow.keys().collect::<Vec<_>>());

    // What the report must say, from the two independent runs.
    let mut changed = 0u64;
    let mut status_changed = 0u64;
    let mut deltas = Vec::new();
    for (key, a) in &active {
        let s = shadow[key];
        if *a == s {
            continue;
        }
        changed += 1;
        match (a, s) {
            ((Status::Available, Some(x)), (Status::Available, Some(y))) => deltas.push((y - x, key.clone())),
            _ => status_changed += 1,
        }
    }
    assert!(!deltas.is_empty(), "the surcharge changes prices: a known difference");
    let max = deltas.iter().map(|d| d.0).max_by_key(|d| d.unsigned_abs()).expect("some delta");
    let mean = deltas.iter().map(|d| d.0 as f64).sum::<f64>() / deltas.len() as f64;
    let mean_abs = deltas.iter().map(|d| d.0.unsigned_abs() as f64).sum::<f64>() / deltas.len() as f64;

    // The live run, with the shadow.
    let rig = Rig::new(OpsConfig::default());
    let hash = rig.deploy(plugins::FLIGHT_SURCHARGE);
    let started = rig.ops.start_shadow("flight", &hash, "test").expect("shadow starts");
    assert_eq!((started.compared, started.batches), (0, 0));
    let mut sink = Collect::default();
    let mut runner = rig.runner(&mut sink);
    runner.batch(&catalog(), "work", vec![1]).expect("batch");
    runner.finish().expect("finishes");

    let report = rig.ops.shadow_report("flight").expect("running");
    assert_eq!(report.batches, 1);
    assert_eq!(report.compared, active.len() as u64);
    assert_eq!(report.departures, active.len() as u64);
    assert_eq!(report.changed, changed);
    assert_eq!(report.status_changed, status_changed);
    assert_eq!(report.max_delta, Some(max));
    assert!((report.mean_delta - mean).abs() < 1e-6, "{} vs {mean}", report.mean_delta);
    assert!((report.mean_abs_delta - mean_abs).abs() < 1e-6, "{} vs {mean_abs}", report.mean_abs_delta);
    assert_eq!(report.candidate_failures, 0);
    assert_eq!(report.candidate.hash, hash);
    assert_eq!(report.largest.len(), deltas.len().min(10));
    assert_eq!(report.largest[0].delta.map(i64::unsigned_abs), Some(max.unsigned_abs()));
    for c in &report.largest {
        assert_eq!((c.active_status, c.active_price), active[&c.departure], "{}", c.departure);
        assert_eq!((c.shadow_status, c.shadow_price), shadow[&c.departure], "{}", c.departure);
    }
    assert!(report.largest.windows(2).all(|w| w[0].delta.map(i64::abs) >= w[1].delta.map(i64::abs)));

    // Nothing of the candidate was emitted or stored: records and state are the active
    // version's alone.
    let candidate_id = rig.id(&hash);
    let emitted: Vec<_> = sink.batches.iter().flatten().collect();
    assert!(!emitted.is_empty());
    assert!(emitted.iter().all(|p| p.rules.get("flight") != Some(&candidate_id)), "a shadow price was emitted");
    let stored: BTreeMap<String, (Status, Option<i64>)> = seen(&rig.state)
        .into_iter()
        .filter(|(_, s)| s.rules.contains_key("flight"))
        .map(|(k, s)| (k, (s.status, s.price)))
        .collect();
    assert_eq!(stored, active, "the state holds the active version's prices");
}

#[test]
fn promote_activates_the_candidate_drop_changes_nothing_and_one_shadow_runs_per_kind() {
    let rig = Rig::new(OpsConfig::default());
    let reference = rig.registry.active("flight").expect("reads").expect("seeded");
    let hash = rig.deploy(plugins::FLIGHT_SURCHARGE);

    rig.ops.start_shadow("flight", &hash, "test").expect("starts");
    let again = rig.ops.start_shadow("flight", &hash, "test").expect_err("one shadow per kind");
    assert!(matches!(again, OpsError::ShadowRunning { .. }), "{again}");
    let dropped = rig.ops.drop_shadow("flight", "test").expect("drops");
    assert_eq!(dropped.candidate.hash, hash);
    assert_eq!(rig.registry.active("flight").expect("reads"), Some(reference.clone()), "drop changes nothing");
    assert!(matches!(rig.ops.shadow_report("flight"), Err(OpsError::NoShadow(_))));

    rig.ops.start_shadow("flight", &hash, "test").expect("starts again");
    let (_, activated) = rig.ops.promote_shadow("flight", "test").expect("promotes");
    assert_eq!(activated.hash, hash);
    assert_eq!(rig.registry.active("flight").expect("reads"), Some(hash.clone()));
    assert_eq!(rig.live.load().get("flight").map(|p| p.id().to_owned()), Some(rig.id(&hash)), "live set swapped");
    assert!(rig.ops.shadows().is_empty(), "promote ends the shadow");

    // A candidate for another kind, or an unknown kind, is refused.
    let wrong = rig.ops.start_shadow("hotel", &hash, "test").expect_err("flight candidate for hotel");
    assert!(wrong.to_string().contains("flight"), "{wrong}");
    assert!(matches!(rig.ops.start_shadow("boat", &hash, "test"), Err(OpsError::UnknownKind(_))));
}
