//! A departure priced again keeps the amounts of the components whose inputs did not
//! change (their resources, its definition, their kind's plugin) instead of calling their
//! plugins again, and ends at exactly the prices a fresh pricing of the same state gives.

mod common;

use common::rig::Collect;
use pricing_runtime::engine::PluginSet;
use pricing_runtime::pipeline::{Input, Pipeline, PipelineConfig, Stats};
use pricing_runtime::plugins;
use pricing_runtime::source::Runner;
use pricing_runtime::state::{DeparturePrice, State};

fn workload() -> Vec<Input> {
    common::rig::small_workload(600)
}

/// The last upsert of `kind` in `inputs` again, newer and with `fields` set: made the
/// cheapest quote, so that the departures it touches change price.
fn changed(inputs: &[Input], kind: &str, fields: &[(&str, i64)]) -> Input {
    let last = inputs
        .iter()
        .rev()
        .filter_map(|i| serde_json::from_str::<serde_json::Value>(&i.text).ok())
        .find(|v| v["kind"] == kind && v["op"] == "upsert")
        .unwrap_or_else(|| panic!("no {kind} upsert"));
    let mut event = last.clone();
    event["id"] = format!("e-{kind}-changed").into();
    event["seq"] = (last["seq"].as_i64().expect("seq") + 1_000).into();
    for (field, value) in fields {
        assert!(last["data"][field].is_i64(), "{field} in {last}");
        event["data"][*field] = (*value).into();
    }
    let mut input = inputs[0].clone();
    input.text = event.to_string();
    input
}

/// Prices each of `batches` in turn into a fresh state, each with its plugin set;
/// returns each batch's counters and records, and the final prices (without times).
fn run(batches: &[(&[Input], &PluginSet)]) -> (Vec<(Stats, Vec<DeparturePrice>)>, Vec<DeparturePrice>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open(&dir.path().join("state")).expect("state");
    let pipeline = Pipeline::new(PipelineConfig::default());
    let mut out = Vec::new();
    for (i, (inputs, plugins)) in batches.iter().enumerate() {
        let mut sink = Collect::default();
        let mut runner = Runner::new(&state, *plugins, &pipeline, &mut sink);
        let stats = runner.batch(inputs, "work", (i as u64).to_be_bytes().to_vec()).expect("batch");
        runner.finish().expect("lands");
        out.push((stats, sink.batches.concat()));
    }
    let prices = state.all_prices().map(|p| without_time(p.expect("price"))).collect();
    (out, prices)
}

fn without_time(p: DeparturePrice) -> DeparturePrice {
    DeparturePrice { priced_at: String::new(), ..p }
}

fn calls(stats: &Stats, kind: &str) -> u64 {
    stats.plugin_calls.get(kind).map_or(0, |c| c.calls)
}

#[test]
fn a_flight_change_calls_only_the_flight_plugin_and_prices_as_a_fresh_pricing_does() {
    let host = common::host();
    let plugins = PluginSet::reference(&host).expect("plugins");
    let inputs = workload();
    let change = [changed(&inputs, "flight", &[("fare", 100), ("taxes", 0), ("seats", 9)])];

    let (batches, incremental) = run(&[(&inputs, &plugins), (&change, &plugins)]);
    let (first, (second, records)) = (&batches[0].0, &batches[1]);
    assert_eq!(first.components_reused, 0, "nothing kept before a departure's first pricing");
    assert!(!records.is_empty(), "the change re-priced departures: {second:?}");
    // The flight component is priced again; the hotel, cruise and insurance components
    // of the same departures are kept, and their plugins are not called at all.
    assert!(calls(second, "flight") == 1, "{:?}", second.plugin_calls);
    for kind in ["hotel", "cruise", "insurance"] {
        assert_eq!(calls(second, kind), 0, "{kind} called: {:?}", second.plugin_calls);
    }
    assert!(second.components_reused >= second.departures_priced, "{second:?}");
    // Discounts take the new subtotal: still called.
    assert!(calls(second, "discount") == 1, "{:?}", second.plugin_calls);

    // One batch over the same events into a fresh state, where nothing is kept.
    let all: Vec<Input> = inputs.iter().chain(&change).cloned().collect();
    let (fresh, from_scratch) = run(&[(&all, &plugins)]);
    assert_eq!(fresh[0].0.components_reused, 0);
    let settled = |prices: Vec<DeparturePrice>| -> Vec<_> {
        prices.into_iter().map(|p| (p.key(), p.status, p.price, p.components)).collect()
    };
    assert_eq!(settled(incremental), settled(from_scratch));
}

#[test]
fn another_plugin_for_a_kind_prices_its_components_again() {
    let host = common::host();
    let reference = PluginSet::reference(&host).expect("plugins");
    let mut surcharge = reference.clone();
    surcharge.insert(host.load(&common::artifact(plugins::FLIGHT_SURCHARGE)).expect("loads"));
    let inputs = workload();
    let change = [changed(&inputs, "hotel", &[("room_night", 100), ("rooms", 9)])];

    // Priced with the reference flight rules, then a hotel change priced with the
    // surcharge release: the departures it touches must not keep their flight amounts.
    let (batches, _) = run(&[(&inputs, &reference), (&change, &surcharge)]);
    let (second, records) = &batches[1];
    assert!(!records.is_empty(), "the hotel change re-priced departures");
    assert!(calls(second, "flight") == 1 && calls(second, "hotel") == 1, "{:?}", second.plugin_calls);
    assert_eq!(second.components_reused, 0, "kept across a change of plugin: {second:?}");

    // Each departure it re-priced is priced as the surcharge rules price it from scratch.
    let all: Vec<Input> = inputs.iter().chain(&change).cloned().collect();
    let (_, expected) = run(&[(&all, &surcharge)]);
    let expected: std::collections::BTreeMap<String, DeparturePrice> =
        expected.into_iter().map(|p| (p.key(), p)).collect();
    let flight = |p: &DeparturePrice| p.components.iter().find(|c| &*c.kind == "flight").map(|c| c.amount);
    let mut compared = 0;
    for r in records {
        let e = &expected[&r.key()];
        assert_eq!((r.status, r.price, flight(r)), (e.status, e.price, flight(e)), "{}", r.key());
        compared += usize::from(flight(r).is_some());
    }
    assert!(compared > 0, "no re-priced departure with a flight amount");
}
