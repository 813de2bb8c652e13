//! Every reference plugin gives the same answers as a wasm component as it does natively:
//! the same cases its unit tests check, one departure at a time and all in one batch,
//! plus the dependency keys of its bindings.

mod common;

use common::{as_batch_result, host, reference};
use pricing_runtime::engine::{Plugin, PluginHost};
use pricing_sdk::testing::{Case, departure, run_native};
use pricing_sdk::wire::BatchBuilder;
use pricing_sdk::{PricingRule, driver};
use serde_json::{Value, json};

/// Runs each case natively and through the component; both must agree and be right.
fn each_case_agrees<R: PricingRule>(plugin: &Plugin, cases: &[Case]) {
    assert!(!cases.is_empty());
    for case in cases {
        let native = run_native::<R>(case);
        let wasm = case.run_with(
            |key, data| plugin.decode_quote(key, data).expect("decode does not trap"),
            |batch| as_batch_result(plugin.price_batch(batch, 1).expect("price does not trap")),
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
    let wasm = as_batch_result(plugin.price_batch(bytes, n).expect("price does not trap"));
    assert_eq!(native, wasm);
}

fn dependencies_agree<R: PricingRule>(plugin: &Plugin, bindings: &[Value]) {
    let departures = vec![departure("SHA", "XMN", "2026-12-30", 3, 2), departure("PEK", "XMN", "2027-02-27", 4, 3)];
    for binding in bindings {
        let text = binding.to_string();
        let native = driver::dependencies::<R>(&text, &departures);
        let wasm = plugin.dependencies(&text, &departures).expect("dependencies do not trap");
        assert_eq!(native, wasm, "binding {text}");
    }
}

fn check<R: PricingRule>(host: &PluginHost, kind: &str, cases: &[Case], bindings: &[Value]) {
    let plugin = reference(host, kind);
    assert_eq!(plugin.info().kind, kind);
    assert_eq!(plugin.info().role, R::metadata().role);
    assert_eq!(plugin.info().version, R::metadata().version);
    each_case_agrees::<R>(&plugin, cases);
    one_batch_agrees::<R>(&plugin, cases);
    dependencies_agree::<R>(&plugin, bindings);
}

#[test]
fn flight() {
    let bindings = [json!({"kind": "flight", "markup_bp": 300}), json!({"kind": "flight"}), json!([1])];
    check::<plugin_flight::Flight>(&host(), "flight", &plugin_flight::cases::cases(), &bindings);
}

#[test]
fn hotel() {
    let bindings = [json!({"kind": "hotel", "hotel": "H88"}), json!({"kind": "hotel"}), json!({"hotel": 7})];
    check::<plugin_hotel::Hotel>(&host(), "hotel", &plugin_hotel::cases::cases(), &bindings);
}

#[test]
fn insurance() {
    let bindings = [json!({"kind": "insurance", "plan": "basic"}), json!({"kind": "insurance"})];
    check::<plugin_insurance::Insurance>(&host(), "insurance", &plugin_insurance::cases::cases(), &bindings);
}

#[test]
fn cruise() {
    let bindings = [json!({"kind": "cruise", "ship": "SPIRIT", "cabin": "OV"}), json!({"kind": "cruise", "ship": "X"})];
    check::<plugin_cruise::Cruise>(&host(), "cruise", &plugin_cruise::cases::cases(), &bindings);
}

#[test]
fn discount() {
    let bindings =
        [json!({"kind": "discount", "rules": ["EB30", "FULL200"]}), json!({"kind": "discount", "rules": "EB30"})];
    check::<plugin_discount::Discount>(&host(), "discount", &plugin_discount::cases::cases(), &bindings);
}
