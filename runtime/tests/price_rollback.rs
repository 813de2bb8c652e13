//! Rollback and price rollback restore the earlier prices. A new flight release (the
//! reference rules plus a surcharge) is activated and its prices are spread by a
//! reprice; rolling the plugin back and repricing restores the earlier prices; a price
//! rollback of the release restores them too, with the release still active, as new
//! versions: every key's versions only grow.

mod common;

use std::collections::BTreeMap;

use common::rig::{Collect, Rig, inputs, run_jobs, seen, versions};
use pricing_runtime::r#gen::GenConfig;
use pricing_runtime::ops::{JobOp, JobState, OpsConfig};
use pricing_runtime::plugins;
use pricing_runtime::state::{DeparturePrice, State, Status};

fn workload() -> Vec<pricing_runtime::pipeline::Input> {
    inputs(&GenConfig { products: 10, cities: 3, dates_per_city: 5, events: 600, ..GenConfig::default() })
}

/// Starting prices of every product.
fn starting(state: &State, keys: &BTreeMap<String, common::rig::Seen>) -> BTreeMap<String, Option<i64>> {
    let products: std::collections::BTreeSet<&str> = keys.keys().filter_map(|k| k.split(':').next()).collect();
    products
        .into_iter()
        .map(|p| (p.to_owned(), state.product_price(p).expect("reads").and_then(|pp| pp.from_price)))
        .collect()
}

#[test]
fn plugin_rollback_then_reprice_and_price_rollback_both_restore_the_earlier_prices() {
    // Small chunks: a job spans several batches.
    let rig = Rig::new(OpsConfig { reprice_chunk: 40, ..OpsConfig::default() });
    let reference = rig.registry.active("flight").expect("reads").expect("seeded");
    let release = rig.deploy(plugins::FLIGHT_SURCHARGE);
    let mut sink = Collect::default();
    let mut runner = rig.runner(&mut sink);
    for (i, batch) in workload().chunks(100).enumerate() {
        runner.batch(batch, "work", vec![i as u8]).expect("batch");
    }
    run_jobs(&mut runner);
    let before = seen(&rig.state);
    let before_starting = starting(&rig.state, &before);
    let flight_departures = before.values().filter(|s| s.rules.contains_key("flight")).count() as u64;
    assert!(flight_departures > 0);

    // The release, spread to every departure by a reprice.
    rig.registry.activate("flight", &release, "test", "new release").expect("activates");
    let job = rig.ops.reprice("flight", "test").expect("queued");
    assert_eq!(job.state, JobState::Queued);
    run_jobs(&mut runner);
    let done = rig.ops.job(job.id).expect("known");
    assert_eq!((done.state, done.total, done.done), (JobState::Done, flight_departures, flight_departures));
    assert!(done.emitted > 0 && done.departures_per_s > 0.0, "{done:?}");
    let released = seen(&rig.state);
    assert_ne!(released, before, "the release changed prices");
    let release_id = rig.id(&release);
    // The surcharge changes every available price; an unavailable one may say the same
    // as before, and then no new version is written ("only when something changed").
    let available = |s: &&common::rig::Seen| s.rules.contains_key("flight") && s.status == Status::Available;
    assert!(released.values().filter(available).all(|s| s.rules["flight"] == release_id));

    // Plugin rollback, then a reprice: the earlier prices are back.
    let back = rig.registry.rollback("flight", "test", "bad release").expect("rolls back");
    assert_eq!(back.hash, reference);
    rig.ops.reprice("flight", "test").expect("queued");
    run_jobs(&mut runner);
    assert_eq!(seen(&rig.state), before, "rollback + reprice restores the prices");
    assert_eq!(starting(&rig.state, &before), before_starting, "and the starting prices");

    // The release again, then a price rollback of it while it stays active.
    rig.registry.activate("flight", &release, "test", "release again").expect("activates");
    rig.ops.reprice("flight", "test").expect("queued");
    run_jobs(&mut runner);
    assert_eq!(seen(&rig.state), released);
    let versions_before = versions(&rig.state);
    let job = rig.ops.price_rollback("flight", &release, "test").expect("queued");
    assert!(matches!(&job.op, JobOp::PriceRollback { rules, .. } if *rules == release_id));
    run_jobs(&mut runner);
    let done = rig.ops.job(job.id).expect("known");
    assert_eq!(done.state, JobState::Done, "{done:?}");
    assert_eq!(done.done, flight_departures);
    assert_eq!(seen(&rig.state), before, "price rollback restores the prices, with their rules");
    assert_eq!(starting(&rig.state, &before), before_starting, "and the starting prices");
    assert_eq!(rig.registry.active("flight").expect("reads"), Some(release.clone()), "the release stays active");
    let versions_after = versions(&rig.state);
    let mut restored = 0u64;
    for (key, v) in &versions_after {
        assert!(v >= &versions_before[key], "{key}: versions never go back");
        if v > &versions_before[key] {
            restored += 1;
            let last = rig.state.price(key).expect("reads").expect("priced");
            assert_eq!(last.cause, format!("price-rollback:{}", job.id));
        }
    }
    assert_eq!(restored, done.emitted);
    runner.finish().expect("finishes");

    // Every key's emitted versions grow one by one, in emission order.
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    for p in sink.batches.iter().flatten() {
        let prev = last.insert(p.key(), p.version).unwrap_or(0);
        assert_eq!(p.version, prev + 1, "{}: version {} after {prev}", p.key(), p.version);
    }
    // A second price rollback has nothing left to change.
    let mut sink = Collect::default();
    let mut runner = rig.runner(&mut sink);
    let again = rig.ops.price_rollback("flight", &release, "test").expect("queued");
    run_jobs(&mut runner);
    assert_eq!(rig.ops.job(again.id).expect("known").emitted, 0);
    let history: Vec<DeparturePrice> = rig.state.history(before.keys().next().expect("a key")).expect("history");
    assert!(history.len() >= 2);
}

#[test]
fn jobs_are_refused_for_unknown_kinds_and_versions() {
    let rig = Rig::new(OpsConfig::default());
    assert!(rig.ops.reprice("boat", "test").is_err());
    assert!(rig.ops.price_rollback("flight", "0000", "test").is_err());
    let hotel = rig.registry.active("hotel").expect("reads").expect("seeded");
    let wrong = rig.ops.price_rollback("flight", &hotel, "test").expect_err("a hotel version for flight");
    assert!(wrong.to_string().contains("hotel"), "{wrong}");
}
