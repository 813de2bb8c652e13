//! A release that passes validation and then traps on live traffic is rolled back by
//! itself once its failure rate passes the threshold: the previous version is active
//! again, the rollback is in the history (by `auto-rollback`) and counted, and the
//! departures the broken release left unavailable are repriced.

mod common;

use common::rig::{Collect, Rig, inputs, run_jobs, seen};
use pricing_runtime::r#gen::GenConfig;
use pricing_runtime::ops::{AutoRollbackConfig, OpsConfig};
use pricing_runtime::plugins;
use pricing_runtime::registry::Action;
use pricing_runtime::state::Status;

#[test]
fn a_release_that_starts_trapping_is_rolled_back_and_its_departures_repriced() {
    let config = OpsConfig {
        auto_rollback: AutoRollbackConfig { window_batches: 4, min_calls: 3, max_failure_percent: 50, enabled: true },
        ..OpsConfig::default()
    };
    let rig = Rig::new(config);
    let reference = rig.registry.active("flight").expect("reads").expect("seeded");
    let inputs =
        inputs(&GenConfig { products: 10, cities: 3, dates_per_city: 5, events: 3_000, ..GenConfig::default() });
    let batches: Vec<_> = inputs.chunks(50).collect();
    let mut sink = Collect::default();
    let mut runner = rig.runner(&mut sink);
    let (load, rest) = batches.split_at(batches.len() / 3);
    for (i, b) in load.iter().enumerate() {
        runner.batch(b, "work", vec![i as u8]).expect("batch");
    }
    let healthy = seen(&rig.state);

    // The broken release passes validation (its samples have no legs)...
    let trapper =
        rig.registry.deploy(&common::artifact(plugins::FLIGHT_TRAPPER), Some("flight"), "test", true).expect("deploys");
    assert_eq!(rig.registry.active("flight").expect("reads"), Some(trapper.hash.clone()));
    // ...and traps on the stream until it is rolled back.
    let mut rolled_back_after = None;
    for (i, b) in rest.iter().enumerate() {
        runner.batch(b, "work", vec![(load.len() + i) as u8]).expect("the stream goes on");
        if rolled_back_after.is_none() && rig.ops.auto_rollbacks() > 0 {
            rolled_back_after = Some(i + 1);
        }
    }
    run_jobs(&mut runner);
    let total = runner.finish().expect("finishes");

    let after = rolled_back_after.expect("rolled back automatically");
    assert!(after <= 4, "rolled back within the window, after {after} batches");
    assert_eq!(rig.ops.auto_rollbacks(), 1);
    assert!(total.plugin_calls["flight"].failures >= 2, "{:?}", total.plugin_calls);
    assert_eq!(rig.registry.active("flight").expect("reads"), Some(reference.clone()));
    let last = rig.registry.history("flight").expect("history").pop().expect("an entry");
    assert_eq!(
        (last.action, last.who.as_str(), last.to.as_str()),
        (Action::Rollback, "auto-rollback", reference.as_str())
    );
    assert!(last.why.contains("failed"), "{}", last.why);

    // The reprice the rollback queued left no departure failed by the broken release.
    let jobs = rig.ops.jobs();
    assert!(jobs.iter().any(|j| j.who == "auto-rollback" && j.done == j.total && j.total > 0), "{jobs:?}");
    let failed: Vec<String> = rig
        .state
        .all_prices()
        .map(|p| p.expect("decodes"))
        .filter(|p| {
            p.status == Status::Unavailable && p.reason.as_deref().is_some_and(|r| r.contains("plugin failure"))
        })
        .map(|p| p.key())
        .collect();
    assert!(failed.is_empty(), "departures still failed by the broken release: {failed:?}");
    let now = seen(&rig.state);
    assert!(now.len() >= healthy.len());
    let trapper_id = rig.id(&trapper.hash);
    // Its calls are counted as traps, per version, in the metrics and the console's figures.
    let figures = &rig.ops.metrics().versions()[&trapper_id];
    assert!(figures.traps >= 2 && figures.traps == figures.failures, "{figures:?}");
    let reference_figures = &rig.ops.metrics().versions()[&rig.id(&reference)];
    assert_eq!((reference_figures.failures, reference_figures.traps), (0, 0));
    let live = rig.registry.live().expect("live set");
    let text = rig.ops.metrics().encode(&live.load()).expect("encodes");
    let traps = format!("pricing_plugin_traps_total{{kind=\"flight\",version=\"{trapper_id}\"}} {}", figures.traps);
    assert!(text.contains(&traps), "{traps} not in:\n{text}");
    assert!(
        now.values().all(|s| s.rules.get("flight") != Some(&trapper_id)),
        "no current price names the broken release"
    );
}

#[test]
fn a_disabled_auto_rollback_leaves_the_failing_version_active() {
    let config = OpsConfig {
        auto_rollback: AutoRollbackConfig { enabled: false, ..AutoRollbackConfig::default() },
        ..OpsConfig::default()
    };
    let rig = Rig::new(config);
    let inputs = inputs(&GenConfig { products: 4, cities: 2, dates_per_city: 3, events: 400, ..GenConfig::default() });
    let trapper =
        rig.registry.deploy(&common::artifact(plugins::FLIGHT_TRAPPER), Some("flight"), "test", true).expect("deploys");
    let mut sink = Collect::default();
    let mut runner = rig.runner(&mut sink);
    for (i, b) in inputs.chunks(50).enumerate() {
        runner.batch(b, "work", vec![i as u8]).expect("batch");
    }
    let total = runner.finish().expect("finishes");
    assert!(total.plugin_calls["flight"].failures > 3, "{:?}", total.plugin_calls);
    assert_eq!(rig.ops.auto_rollbacks(), 0);
    assert_eq!(rig.registry.active("flight").expect("reads"), Some(trapper.hash));
}
