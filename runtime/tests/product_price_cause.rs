//! A batch's starting-price record of a product names the cause of the last of its
//! departures' new versions in that batch, for every product the batch touched, the
//! last one in key order included.

mod common;

use pricing_runtime::engine::PluginSet;
use pricing_runtime::pipeline::BatchOutput;
use pricing_runtime::state::State;

/// A flight-only product to `to` from SHA, 3 nights, on 2026-12-01 and 2026-12-02.
fn product(key: &str, to: &str) -> String {
    format!(
        r#"{{"id":"p-{key}","kind":"product","key":"{key}","op":"upsert","seq":1,"ts":"2026-11-22T09:00:00Z","data":{{"name":"{key}","destination":"{to}","currency":"CNY","nights":3,"pax":2,"departures":[{{"city":"SHA","dates":["2026-12-01","2026-12-02"]}}],"components":[{{"kind":"flight","markup_bp":0}}]}}}}"#
    )
}

fn fare(id: &str, route: &str, seq: u64, fare: i64) -> String {
    format!(
        r#"{{"id":"{id}","kind":"flight","key":"{route}","supplier":"MU","op":"upsert","seq":{seq},"ts":"2026-11-22T09:0{seq}:00Z","data":{{"fare":{fare},"taxes":0,"seats":9,"currency":"CNY"}}}}"#
    )
}

fn run(state: &State, plugins: &PluginSet, lines: &[String]) -> BatchOutput {
    common::rig::commit_batch(state, plugins, "t", lines)
}

#[test]
fn each_products_record_names_the_cause_of_its_last_new_version() {
    let common::rig::Fresh { dir: _dir, host: _host, state, plugins } = common::rig::fresh();

    // Every route-date at one fare: both products priced, from 200000.
    let mut catalog = vec![product("P1", "XMN"), product("P2", "CAN")];
    for (i, route) in [
        "SHA/XMN/2026-12-01",
        "SHA/XMN/2026-12-02",
        "XMN/SHA/2026-12-04",
        "XMN/SHA/2026-12-05",
        "SHA/CAN/2026-12-01",
        "SHA/CAN/2026-12-02",
        "CAN/SHA/2026-12-04",
        "CAN/SHA/2026-12-05",
    ]
    .into_iter()
    .enumerate()
    {
        catalog.push(fare(&format!("q-{i}"), route, 1, 100_000));
    }
    let first = run(&state, &plugins, &catalog);
    assert_eq!(first.departures.len(), 4, "{:?}", first.dead_letters);

    // P1's first date, P2's first date, then P1's second date: in key order P1's two
    // versions (e-21, e-23) come before P2's (e-22).
    let second = run(
        &state,
        &plugins,
        &[
            fare("e-21", "SHA/XMN/2026-12-01", 2, 90_000),
            fare("e-22", "SHA/CAN/2026-12-01", 2, 95_000),
            fare("e-23", "SHA/XMN/2026-12-02", 2, 80_000),
        ],
    );
    let causes: Vec<(String, String)> =
        second.departure_prices().into_iter().map(|p| (format!("{}:{}", p.product, p.date), p.cause)).collect();
    let expected = [("P1:2026-12-01", "e-21"), ("P1:2026-12-02", "e-23"), ("P2:2026-12-01", "e-22")];
    assert_eq!(causes, expected.map(|(d, c)| (d.to_owned(), c.to_owned())));

    let products: Vec<(String, Option<i64>, String)> =
        second.product_prices().into_iter().map(|p| (p.product, p.from_price, p.cause)).collect();
    assert_eq!(
        products,
        [("P1".to_owned(), Some(180_000), "e-23".to_owned()), ("P2".to_owned(), Some(195_000), "e-22".to_owned())]
    );
}
