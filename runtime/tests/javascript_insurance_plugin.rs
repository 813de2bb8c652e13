//! The insurance rules ported to JavaScript (`plugins/insurance-js`, built with jco
//! componentize) pass the same conformance cases as the Rust reference plugin, price a
//! generated workload to exactly the same departure prices, and keep pricing over many
//! large batches although their engine never frees memory inside an instance.

mod common;

use std::path::Path;

use common::workload::{consume, prices};
use pricing_runtime::engine::{EngineConfig, PluginHost, PluginSet};
use pricing_runtime::r#gen::GenConfig;
use pricing_runtime::state::{DeparturePrice, Status};

#[test]
fn passes_the_reference_insurance_cases() {
    let report = common::conformance::passes(&common::foreign::build().insurance_js, "insurance");
    assert!(report["plugin"]["description"].as_str().is_some_and(|d| d.contains("JavaScript")), "{report}");
}

/// What both plugin sets must agree on: everything but the rules' ids (the hashes
/// differ) and the time of pricing.
fn comparable(data: &Path) -> Vec<DeparturePrice> {
    prices(data).into_iter().map(|p| DeparturePrice { rules: Default::default(), ..p }).collect()
}

#[test]
fn prices_a_generated_workload_exactly_as_the_rust_plugin() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("events.ndjson");
    // Insurance changes weigh as much as flights, so the rules run on every kind of
    // departure many times over.
    let workload = GenConfig {
        products: 20,
        cities: 3,
        dates_per_city: 8,
        events: 4_000,
        mix_insurance: 30,
        ..Default::default()
    };
    common::workload::write(&workload, &input);

    let host = PluginHost::new(EngineConfig::default()).expect("host");
    let rust = PluginSet::reference(&host).expect("reference plugins");
    let mut javascript = PluginSet::reference(&host).expect("reference plugins");
    let wasm = std::fs::read(&common::foreign::build().insurance_js).expect("reads the component");
    javascript.insert(host.load(&wasm).expect("the JavaScript plugin loads"));
    assert!(javascript.get("insurance").expect("insurance").info().description.contains("JavaScript"));

    let (rust_data, js_data) = (dir.path().join("rust"), dir.path().join("js"));
    let rust_stats = consume(&input, &rust_data, &rust, 200);
    let js_stats = consume(&input, &js_data, &javascript, 200);
    assert_eq!(rust_stats, js_stats, "the same events priced, refused and dead-lettered");

    let (want, got) = (comparable(&rust_data), comparable(&js_data));
    assert_eq!(want.len(), got.len());
    let priced = want.iter().filter(|p| p.status == Status::Available).count();
    assert!(priced > 100, "only {priced} departures available: the comparison would say little");
    let insured = want.iter().filter(|p| p.components.iter().any(|c| &*c.kind == "insurance")).count();
    assert!(insured > 100, "only {insured} departures carry insurance");
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w, g, "departure {}:{}:{}", w.product, w.city, w.date);
    }
}

#[test]
fn many_large_batches_never_fail_on_memory_the_engine_keeps() {
    // componentize-js's engine does not collect garbage inside an instance: every call
    // leaves its allocations behind, and a reused instance reaches the 64 MiB limit
    // after a few dozen 10,000-departure batches. The host retries such a call on a
    // fresh instance, so none of these batches fails.
    let host = PluginHost::new(EngineConfig::default()).expect("host");
    let wasm = std::fs::read(&common::foreign::build().insurance_js).expect("reads the component");
    let plugin = host.load(&wasm).expect("loads");
    let quote = plugin
        .decode_quote("basic", r#"{"bands":[{"max_days":4,"price":2000},{"max_days":8,"price":3500}]}"#)
        .expect("no trap")
        .expect("a valid quote");
    let mut batch = pricing_sdk::wire::BatchBuilder::new();
    let plan = batch.add_resource([quote.as_slice()]);
    let n = 10_000;
    for i in 0..n {
        let context = pricing_sdk::wire::DepartureContext {
            date: pricing_sdk::Date::from_days(20_800 + (i % 90) as i32),
            nights: 3 + (i % 2) as u32 * 4,
            pax: 2,
            markup_bp: 0,
            subtotal: 0,
        };
        batch.add_departure(&context, &[plan]);
    }
    let bytes = batch.finish().to_vec();
    for call in 0..80 {
        let outcome = plugin.price_batch(&bytes, n).unwrap_or_else(|e| panic!("batch {call}: {e}"));
        // 3 nights = 4 days: 2000; 7 nights = 8 days: 3500.
        assert_eq!(outcome.results[0], Ok(2_000));
        assert_eq!(outcome.results[1], Ok(3_500));
    }
    assert!(plugin.recycled() > 0, "80 batches of 10,000 should have filled at least one instance");
}
