//! The native backend (the same rule code compiled into the host, used by the pipeline
//! benchmark to show what WebAssembly costs) prices a generated workload exactly as the
//! wasm components do: the benchmark compares like with like.

mod common;

use common::workload::{consume, write};
use pricing_runtime::engine::{Plugin, PluginSet};
use pricing_runtime::r#gen::GenConfig;
use pricing_runtime::state::{DeparturePrice, State};

fn native() -> PluginSet {
    let mut set = PluginSet::default();
    set.insert(Plugin::native::<plugin_flight::Flight>());
    set.insert(Plugin::native::<plugin_hotel::Hotel>());
    set.insert(Plugin::native::<plugin_insurance::Insurance>());
    set.insert(Plugin::native::<plugin_cruise::Cruise>());
    set.insert(Plugin::native::<plugin_discount::Discount>());
    set
}

/// Prices without what names the backend (`rules` hashes) or the time.
fn prices(data: &std::path::Path) -> Vec<DeparturePrice> {
    let state = State::open(&data.join("state")).expect("state");
    state
        .all_prices()
        .map(|p| DeparturePrice { priced_at: String::new(), rules: Default::default(), ..p.expect("price") })
        .collect()
}

#[test]
fn native_and_wasm_backends_price_a_workload_identically() {
    let host = common::host();
    let wasm = PluginSet::reference(&host).expect("plugins");
    let config = GenConfig { products: 8, dates_per_city: 10, events: 3_000, ..Default::default() };
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    let input = a.path().join("events.ndjson");
    write(&config, &input);

    let sa = consume(&input, a.path(), &wasm, 200);
    let sb = consume(&input, b.path(), &native(), 200);
    assert_eq!(sa, sb, "same counters");
    let (pa, pb) = (prices(a.path()), prices(b.path()));
    assert!(pa.len() > 100, "{} prices", pa.len());
    assert_eq!(pa, pb);
    let native_rules =
        State::open(&b.path().join("state")).expect("state").all_prices().next().expect("one").expect("ok");
    assert!(native_rules.rules.values().all(|id| id.ends_with("+native")), "{:?}", native_rules.rules);
}
