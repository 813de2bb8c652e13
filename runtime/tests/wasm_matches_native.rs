//! Every reference plugin gives the same answers as a wasm component as it does natively:
//! the same cases its unit tests check, one departure at a time and all in one batch,
//! plus the dependency keys of its bindings.

mod common;

use common::{host, reference};
use pricing_runtime::engine::Plugin;
use pricing_sdk::testing::{Case, run_native};
use pricing_sdk::wire::BatchBuilder;
use pricing_sdk::{PricingRule, driver};

/// Runs each case natively and through the component; both must agree and be right.
fn each_case_agrees<R: PricingRule>(plugin: &Plugin, cases: &[Case]) {
    assert!(!cases.is_empty());
    for case in cases {
        let native = run_native::<R>(case);
        let wasm = case.run_with(
            |key, data| plugin.decode_quote(key, data).expect("decode does not trap"),
            |batch| plugin.price_batch(batch, 1).expect("price does not trap").into_batch_result(),
        );
        assert_eq!(native, wasm, "{}: native and wasm differ", case.name);
        assert!(case.accepts(&wasm), "{}: expected {:?}, wasm gave {wasm:?}", case.name, case.expect);
    }
}

/// All cases whose quotes decode, priced in one batch with a shared resource table.
fn one_batch_agrees<R: PricingRule>(plugin: &Plugin, cases: &[Case]) {
    let mut batch = BatchBuilder::new();
    for case in cases {
        let decoded: Result<Vec<Vec<Vec<u8>>>, _> = case
            .resources
            .iter()
            .map(|r| r.quotes.iter().map(|q| driver::decode_quote::<R>(&r.key, &q.to_string())).collect())
            .collect();
        let Ok(resources) = decoded else { continue };
        let refs: Vec<u32> = resources.iter().map(|qs| batch.add_resource(qs.iter().map(Vec::as_slice))).collect();
        batch.add_departure(&case.context, &refs);
    }
    let n = batch.len();
    assert!(n > 1);
    let bytes = batch.finish();
    let native = driver::price_batch::<R>(bytes);
    let wasm = plugin.price_batch(bytes, n).expect("price does not trap").into_batch_result();
    assert_eq!(native, wasm);
}

fn dependencies_agree<R: PricingRule>(plugin: &Plugin, kind: &str) {
    let departures = common::conformance::departures();
    for binding in common::conformance::bindings(kind) {
        let text = binding.to_string();
        let native = driver::dependencies::<R>(&text, &departures);
        let wasm = plugin.dependencies(&text, &departures).expect("dependencies do not trap");
        assert_eq!(native, wasm, "binding {text}");
    }
}

fn check<R: PricingRule>(kind: &str, cases: &[Case]) {
    let plugin = reference(&host(), kind);
    assert_eq!(plugin.info().kind, kind);
    assert_eq!(plugin.info().role, R::metadata().role);
    assert_eq!(plugin.info().version, R::metadata().version);
    each_case_agrees::<R>(&plugin, cases);
    one_batch_agrees::<R>(&plugin, cases);
    dependencies_agree::<R>(&plugin, kind);
}

#[test]
fn flight() {
    check::<plugin_flight::Flight>("flight", &plugin_flight::cases::cases());
}

#[test]
fn hotel() {
    check::<plugin_hotel::Hotel>("hotel", &plugin_hotel::cases::cases());
}

#[test]
fn insurance() {
    check::<plugin_insurance::Insurance>("insurance", &plugin_insurance::cases::cases());
}

#[test]
fn cruise() {
    check::<plugin_cruise::Cruise>("cruise", &plugin_cruise::cases::cases());
}

#[test]
fn discount() {
    check::<plugin_discount::Discount>("discount", &plugin_discount::cases::cases());
}
