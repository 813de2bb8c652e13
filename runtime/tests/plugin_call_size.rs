//! A batch that touches more departures of a kind than `max_call_departures` prices them
//! in several calls of at most that many, and ends at the same prices as one call each.

mod common;

use common::rig::Collect;
use pricing_runtime::engine::PluginSet;
use pricing_runtime::pipeline::{Pipeline, PipelineConfig, Stats};
use pricing_runtime::source::Runner;
use pricing_runtime::state::{DeparturePrice, State};

/// The generated workload in one batch, with calls of at most `max_call` departures.
fn priced(max_call: usize) -> (Stats, Vec<DeparturePrice>) {
    let inputs = common::rig::small_workload(300);
    let host = common::host();
    let plugins = PluginSet::reference(&host).expect("plugins");
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open(&dir.path().join("state")).expect("state");
    let pipeline = Pipeline::new(PipelineConfig { max_call_departures: max_call, ..PipelineConfig::default() });
    let mut sink = Collect::default();
    let mut runner = Runner::new(&state, &plugins, &pipeline, &mut sink);
    let stats = runner.batch(&inputs, "work", vec![1]).expect("batch");
    runner.finish().expect("lands");
    let prices = state.all_prices().map(|p| DeparturePrice { priced_at: String::new(), ..p.expect("price") }).collect();
    (stats, prices)
}

#[test]
fn a_kind_with_more_departures_than_a_call_takes_is_priced_in_calls_of_that_size() {
    let (whole, expected) = priced(100_000);
    let (cut, prices) = priced(7);
    let departures = whole.departures_priced;
    assert!(departures > 40, "{departures} departures");
    // Every departure has a flight: one call at the default, ceil(n / 7) calls cut.
    let calls = |s: &Stats, kind: &str| s.plugin_calls.get(kind).map_or(0, |c| c.calls);
    assert_eq!(calls(&whole, "flight"), 1, "{:?}", whole.plugin_calls);
    assert_eq!(calls(&cut, "flight"), departures.div_ceil(7), "{:?}", cut.plugin_calls);
    // Each call's departures as logged: none above the bound, all of them once.
    let logged: Vec<u32> = cut.call_log.0.iter().filter(|c| c.kind == "flight").map(|c| c.departures).collect();
    assert!(logged.iter().all(|&n| (1..=7).contains(&n)), "{logged:?}");
    assert_eq!(logged.iter().map(|&n| u64::from(n)).sum::<u64>(), departures);
    // Discounts, called on each departure's subtotal, are cut the same way.
    assert!(calls(&cut, "discount") > calls(&whole, "discount"), "{:?}", cut.plugin_calls);
    assert_eq!(cut.plugin_failures, 0);
    assert_eq!(prices, expected);
}
