//! The pipeline prices hand-checked departures exactly, versions every change, skips
//! stale events, dead-letters bad ones, and keeps starting prices and history.

mod common;

use pricing_runtime::engine::PluginSet;
use pricing_runtime::intake::Origin;
use pricing_runtime::pipeline::BatchOutput;
use pricing_runtime::state::{State, Status};

const CATALOG: &[&str] = &[
    r#"{"id":"p-1","kind":"product","key":"P1001","op":"upsert","seq":1,"ts":"2026-11-22T09:00:00Z","data":{"name":"Xiamen 4D3N","destination":"XMN","currency":"CNY","nights":3,"pax":2,"departures":[{"city":"SHA","dates":["2026-12-01"]}],"components":[{"kind":"flight","markup_bp":300},{"kind":"hotel","hotel":"H88"},{"kind":"insurance","plan":"basic"},{"kind":"discount","rules":["EB30","FULL200"]}]}}"#,
    r#"{"id":"e-1","kind":"flight","key":"SHA/XMN/2026-12-01","supplier":"MU","op":"upsert","seq":1,"ts":"2026-11-22T09:01:00Z","data":{"fare":128000,"taxes":15000,"seats":9,"currency":"CNY"}}"#,
    r#"{"id":"e-2","kind":"flight","key":"SHA/XMN/2026-12-01","supplier":"CA","op":"upsert","seq":1,"ts":"2026-11-22T09:01:00Z","data":{"fare":125000,"taxes":15000,"seats":1,"currency":"CNY"}}"#,
    r#"{"id":"e-3","kind":"flight","key":"XMN/SHA/2026-12-04","supplier":"MU","op":"upsert","seq":1,"ts":"2026-11-22T09:01:00Z","data":{"fare":120000,"taxes":15000,"seats":9,"currency":"CNY"}}"#,
    r#"{"id":"e-4","kind":"hotel","key":"H88/2026-12-01","supplier":"S1","op":"upsert","seq":1,"ts":"2026-11-22T09:02:00Z","data":{"room_night":44000,"rooms":5,"currency":"CNY"}}"#,
    r#"{"id":"e-5","kind":"hotel","key":"H88/2026-12-01","supplier":"S2","op":"upsert","seq":1,"ts":"2026-11-22T09:02:00Z","data":{"room_night":43001,"rooms":1,"currency":"CNY"}}"#,
    r#"{"id":"e-6","kind":"hotel","key":"H88/2026-12-02","supplier":"S2","op":"upsert","seq":1,"ts":"2026-11-22T09:02:00Z","data":{"room_night":43001,"rooms":1,"currency":"CNY"}}"#,
    r#"{"id":"e-7","kind":"hotel","key":"H88/2026-12-03","supplier":"S1","op":"upsert","seq":1,"ts":"2026-11-22T09:02:00Z","data":{"room_night":44000,"rooms":5,"currency":"CNY"}}"#,
    r#"{"id":"e-8","kind":"hotel","key":"H88/2026-12-03","supplier":"S2","op":"upsert","seq":1,"ts":"2026-11-22T09:02:00Z","data":{"room_night":43001,"rooms":0,"currency":"CNY"}}"#,
    r#"{"id":"e-9","kind":"insurance","key":"basic","op":"upsert","seq":1,"ts":"2026-11-22T09:03:00Z","data":{"bands":[{"max_days":3,"price":2000},{"max_days":7,"price":3000}],"currency":"CNY"}}"#,
    r#"{"id":"e-10","kind":"discount","key":"EB30","op":"upsert","seq":1,"ts":"2026-11-22T09:04:00Z","data":{"type":"percent","value_bp":100,"cap":3000}}"#,
    r#"{"id":"e-11","kind":"discount","key":"FULL200","op":"upsert","seq":1,"ts":"2026-11-22T09:04:00Z","data":{"type":"fixed","value":20000,"min_subtotal":300000}}"#,
];

fn run(state: &State, plugins: &PluginSet, lines: &[&str]) -> BatchOutput {
    common::rig::commit_batch(state, plugins, "golden", lines)
}

#[test]
fn golden_prices_versions_and_dead_letters() {
    let common::rig::Fresh { dir: _dir, host: _host, state, plugins } = common::rig::fresh();

    // Batch 1: the catalog and every quote.
    //   flight: outbound cheapest with >= 2 seats is MU 128000+15000 = 143000 (CA has 1 seat);
    //           return MU 120000+15000 = 135000; 278000 with 300 bp markup: ceil(278000*1.03) = 286340
    //   hotel:  2026-12-01 min(ceil(44000/2), ceil(43001/2)) = 21501; 12-02 21501;
    //           12-03 S2 has 0 rooms, so S1 22000; sum 65002
    //   insurance: 3 nights -> 4 days -> band max_days 7: 3000
    //   subtotal 286340 + 65002 + 3000 = 354342
    //   EB30: floor(354342 * 100 / 10000) = 3543, capped at 3000 -> 351342
    //   FULL200: 351342 >= 300000 takes 20000 -> 331342; adjustment -23000
    //   price: 331342 rounded up to a whole unit = 331400
    let first = run(&state, &plugins, CATALOG);
    assert!(first.dead_letters.is_empty(), "{:?}", first.dead_letters);
    assert_eq!(first.departures.len(), 1, "priced once per batch, however many events touched it");
    let p = &first.departure_prices()[0];
    assert_eq!((p.status, p.price, p.version), (Status::Available, Some(331_400), 1));
    let amounts: Vec<i64> = p.components.iter().map(|c| c.amount).collect();
    assert_eq!(amounts, vec![286_340, 65_002, 3_000, -23_000]);
    assert_eq!(p.cause, "e-11", "the last event touching it in the batch");
    assert!(p.rules["flight"].starts_with("flight@1.0.0+"), "{:?}", p.rules);
    assert_eq!(first.products.len(), 1);
    assert_eq!(first.product_prices()[0].from_price, Some(331_400));

    // Batch 2: MU cuts the outbound fare; a stale replay, a bad currency, a negative fare
    // and broken JSON are handled around it.
    //   outbound 118000+15000 = 133000; flight ceil(268000*1.03) = 276040
    //   subtotal 276040 + 65002 + 3000 = 344042; EB30 floor(3440.42) = 3440, capped at 3000
    //   -> 341042; FULL200 -> 321042; price rounded up: 321100
    let second = run(
        &state,
        &plugins,
        &[
            r#"{"id":"e-12","kind":"flight","key":"SHA/XMN/2026-12-01","supplier":"MU","op":"upsert","seq":2,"ts":"2026-11-22T10:00:00Z","data":{"fare":118000,"taxes":15000,"seats":9,"currency":"CNY"}}"#,
            r#"{"id":"e-13","kind":"flight","key":"SHA/XMN/2026-12-01","supplier":"MU","op":"upsert","seq":1,"ts":"2026-11-22T09:01:00Z","data":{"fare":1,"taxes":1,"seats":9,"currency":"CNY"}}"#,
            r#"{"id":"e-14","kind":"flight","key":"SHA/XMN/2026-12-01","supplier":"CZ","op":"upsert","seq":1,"ts":"2026-11-22T10:00:00Z","data":{"fare":1,"taxes":1,"seats":9,"currency":"USD"}}"#,
            r#"{"id":"e-15","kind":"flight","key":"SHA/XMN/2026-12-01","supplier":"CZ","op":"upsert","seq":1,"ts":"2026-11-22T10:00:00Z","data":{"fare":-100,"taxes":1,"seats":9,"currency":"CNY"}}"#,
            r#"{"id":"e-16","kind":"flight""#,
        ],
    );
    assert_eq!(second.stats.stale, 1);
    let classes: Vec<&str> = second.dead_letters.iter().map(|d| d.reason_class).collect();
    assert_eq!(classes, vec!["currency_mismatch", "negative_amount", "not_json"]);
    assert_eq!(second.dead_letters[2].origin, Origin::File { path: "golden".into(), line: 5 });
    let p = &second.departure_prices()[0];
    assert_eq!((p.price, p.version, p.cause.as_str()), (Some(321_100), 2, "e-12"));

    // Batch 3: a change that does not move the price writes nothing.
    let third = run(
        &state,
        &plugins,
        &[
            r#"{"id":"e-17","kind":"flight","key":"SHA/XMN/2026-12-01","supplier":"CA","op":"upsert","seq":2,"ts":"2026-11-22T10:01:00Z","data":{"fare":100000,"taxes":15000,"seats":1,"currency":"CNY"}}"#,
        ],
    );
    assert!(third.departures.is_empty() && third.products.is_empty());

    // Batch 4: MU withdraws the return leg: unavailable, and the product has no from-price.
    let fourth = run(
        &state,
        &plugins,
        &[
            r#"{"id":"e-18","kind":"flight","key":"XMN/SHA/2026-12-04","supplier":"MU","op":"delete","seq":2,"ts":"2026-11-22T10:02:00Z"}"#,
        ],
    );
    let p = &fourth.departure_prices()[0];
    assert_eq!((p.status, p.price, p.version), (Status::Unavailable, None, 3));
    assert!(p.reason.as_deref().is_some_and(|r| r.contains("return")), "{:?}", p.reason);
    assert_eq!(fourth.product_prices()[0].from_price, None);

    // Batch 5: the product drops its departure: retired.
    let fifth = run(
        &state,
        &plugins,
        &[r#"{"id":"p-2","kind":"product","key":"P1001","op":"delete","seq":2,"ts":"2026-11-22T10:03:00Z"}"#],
    );
    assert_eq!((fifth.departure_prices()[0].status, fifth.departure_prices()[0].version), (Status::Retired, 4));

    let history = state.history("P1001:SHA:2026-12-01").expect("history");
    let versions: Vec<(u64, Option<i64>)> = history.iter().map(|p| (p.version, p.price)).collect();
    assert_eq!(versions, vec![(1, Some(331_400)), (2, Some(321_100)), (3, None), (4, None)]);
}
