//! A crash between a batch's output and its commit, on Kafka: the restarted runtime cuts
//! that batch again where it ended, so its departure records come out as they did
//! before. (Cut elsewhere, a replay could coalesce away a version consumers already
//! received, and they would keep its price although the state has another.) The crash
//! is set up by hand, through the intent a batch records before its output is sent.

#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::kafka::{Broker, produce_file};
use common::process::run_config;
use common::workload::{assert_same_prices, settled};
use pricing_runtime::state::State;

/// Runs the example events from the shared topic into `name`'s own output, in batches of
/// `batch_size` (cut by size only: the wait is longer than the run), and returns each
/// departure record as (key, version, price).
fn run(broker: &Broker, dir: &Path, name: &str, batch_size: usize) -> Vec<(String, u64, String)> {
    let toml = broker.config(&dir.join(name), name, batch_size)
        + &format!(
            "batch_wait_ms = 600000\n[kafka.topics]\ndeparture_prices = \"{name}-departures\"\n\
             product_prices = \"{name}-products\"\ndlq = \"{name}-dlq\"\n"
        );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml).expect("config");
    run_config(&path, true, dir.join(format!("{name}.log"))).finish();
    let mut records: Vec<(String, u64, String)> = broker
        .read_all(&format!("{name}-departures"))
        .into_iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.value).expect("json");
            (r.key.expect("keyed"), v["version"].as_u64().expect("version"), v["price"].to_string())
        })
        .collect();
    records.sort();
    records
}

#[test]
fn a_batch_left_uncommitted_by_a_crash_is_cut_again_where_it_ended() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("tempdir");
    broker.create_topic("resource-events", 1);
    let events = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/events.ndjson");
    let n = produce_file(&broker, "resource-events", &events);
    let half = n.div_ceil(2);
    let all = n + 1;

    // The crash: the first batch, events [0, half), recorded its intent and sent its
    // output, and its commit never landed. Nothing is committed.
    let crashed = dir.path().join("crashed");
    {
        let state = State::open(&crashed.join("state")).expect("state");
        let ends = BTreeMap::from([(0, i64::try_from(half).expect("offset"))]);
        pricing_runtime::source::record_cut(&state, "resource-events", &ends).expect("intent");
    }
    // Batches of `all`: without the intent, one batch.
    let replayed = run(&broker, dir.path(), "crashed", all);
    let halves = run(&broker, dir.path(), "halves", half);
    let whole = run(&broker, dir.path(), "whole", all);

    let first_difference = replayed.iter().zip(&halves).find(|(a, b)| a != b);
    assert!(
        replayed == halves,
        "the replay did not cut the first batch where the crashed run had: {} against {} records, first difference {first_difference:?}",
        replayed.len(),
        halves.len()
    );
    assert!(
        whole.len() < halves.len(),
        "one batch coalesces more than two ({} against {} records): the test needs a workload where the cut matters",
        whole.len(),
        halves.len()
    );
    assert_same_prices(&settled(&crashed), &settled(&dir.path().join("whole")), "final prices differ");
    let state = State::open(&crashed.join("state")).expect("state");
    let left = state.intents("").expect("intents");
    assert!(left.is_empty(), "the replayed batch's commit did not retire its intent: {left:?}");
}
