//! Every departure a batch touches is priced exactly once, however many events touch
//! it and by whichever path: a quote through the index, its product's re-publication,
//! or an index and a definition read back from storage after a restart; and each kind's
//! plugin is called once for all of them.

mod common;

use std::collections::BTreeSet;

use pricing_runtime::engine::PluginSet;
use pricing_runtime::pipeline::BatchOutput;
use pricing_runtime::state::State;

/// Two departures, 2026-12-01 and 2026-12-02, three nights each: the hotel nights of
/// 2026-12-02 and 2026-12-03 are in both, the outbound flight of 2026-12-01 only in the
/// first.
fn product(seq: u64) -> String {
    format!(
        r#"{{"id":"p-{seq}","kind":"product","key":"P1","op":"upsert","seq":{seq},"ts":"2026-11-22T09:00:00Z","data":{{"name":"Xiamen 4D3N","destination":"XMN","currency":"CNY","nights":3,"pax":2,"departures":[{{"city":"SHA","dates":["2026-12-01","2026-12-02"]}}],"components":[{{"kind":"flight","markup_bp":300}},{{"kind":"hotel","hotel":"H88"}}]}}}}"#
    )
}

fn flight(route_date: &str, seq: u64, fare: i64) -> String {
    format!(
        r#"{{"id":"f-{route_date}-{seq}","kind":"flight","key":"{route_date}","supplier":"MU","op":"upsert","seq":{seq},"ts":"2026-11-22T09:01:00Z","data":{{"fare":{fare},"taxes":15000,"seats":9,"currency":"CNY"}}}}"#
    )
}

fn hotel(night: &str, seq: u64, room_night: i64) -> String {
    format!(
        r#"{{"id":"h-{night}-{seq}","kind":"hotel","key":"H88/{night}","supplier":"S1","op":"upsert","seq":{seq},"ts":"2026-11-22T09:02:00Z","data":{{"room_night":{room_night},"rooms":5,"currency":"CNY"}}}}"#
    )
}

fn run(state: &State, plugins: &PluginSet, lines: &[String]) -> BatchOutput {
    common::rig::commit_batch(state, plugins, "once", lines)
}

/// The batch's departure record keys, checked to be distinct.
fn distinct_keys(out: &BatchOutput) -> BTreeSet<String> {
    let keys: BTreeSet<String> = out.departures.keys().map(str::to_owned).collect();
    assert_eq!(keys.len(), out.departures.len(), "one record per departure");
    keys
}

#[test]
fn a_departure_touched_many_ways_in_one_batch_is_priced_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = common::host();
    let plugins = PluginSet::reference(&host).expect("reference plugins load");
    let both: BTreeSet<String> = ["P1:SHA:2026-12-01", "P1:SHA:2026-12-02"].map(String::from).into();

    // The product and every quote its departures need, in one batch.
    {
        let state = State::open(dir.path()).expect("state opens");
        let mut lines = vec![product(1)];
        for route_date in ["SHA/XMN/2026-12-01", "SHA/XMN/2026-12-02", "XMN/SHA/2026-12-04", "XMN/SHA/2026-12-05"] {
            lines.push(flight(route_date, 1, 128000));
        }
        for night in ["2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"] {
            lines.push(hotel(night, 1, 44000));
        }
        let out = run(&state, &plugins, &lines);
        assert_eq!(out.stats.departures_priced, 2, "{:?}", out.stats);
        assert_eq!(distinct_keys(&out), both);
        assert!(
            out.departure_prices().iter().all(|p| p.price.is_some()),
            "both available: {:?}",
            out.departure_prices()
        );
    }

    // After a restart the index and definitions are read back from storage; then the
    // product is re-published and quotes move, all touching the same departures.
    let state = State::open(dir.path()).expect("state reopens");
    let out = run(
        &state,
        &plugins,
        &[
            hotel("2026-12-02", 2, 46000),
            flight("SHA/XMN/2026-12-01", 2, 130000),
            product(2),
            hotel("2026-12-03", 2, 45000),
            flight("SHA/XMN/2026-12-01", 3, 131000),
        ],
    );
    assert_eq!(out.stats.applied, 5, "{:?}", out.stats);
    assert_eq!(out.stats.departures_priced, 2, "{:?}", out.stats);
    assert_eq!(distinct_keys(&out), both);
    for price in out.departure_prices() {
        assert_eq!(price.version, 2, "{price:?}");
    }
    // One pricing call per kind, each over both departures, though the kinds' calls
    // run on two threads.
    for kind in ["flight", "hotel"] {
        assert_eq!(out.stats.plugin_calls[kind].calls, 1, "{:?}", out.stats.plugin_calls);
    }
    let mut calls: Vec<(&str, u32)> = out.stats.call_log.0.iter().map(|c| (c.kind.as_str(), c.departures)).collect();
    calls.sort_unstable();
    assert_eq!(calls, [("flight", 2), ("hotel", 2)]);

    // A quote of one departure only, in a batch of its own, prices that one.
    let out = run(&state, &plugins, &[flight("SHA/XMN/2026-12-01", 4, 132000)]);
    assert_eq!(out.stats.departures_priced, 1, "{:?}", out.stats);
    assert_eq!(distinct_keys(&out), ["P1:SHA:2026-12-01".to_owned()].into());
}
