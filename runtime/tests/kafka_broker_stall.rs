//! A broker that stops answering mid-stream (SIGSTOP for 10 seconds, then SIGCONT):
//! the runtime waits and recovers by itself, loses nothing, and ends with the prices of
//! the same events through files.

#![cfg(unix)]

mod common;

use std::time::{Duration, Instant};

use common::kafka::{Broker, Tail, pairs, produce_file};
use common::process::{RUN_TIMEOUT, run_config, run_files};
use common::workload::{assert_no_version_gaps, assert_same_prices, settled};

const STALL: Duration = Duration::from_secs(10);

#[test]
fn the_runtime_rides_out_a_stalled_broker() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let events = common::workload::generated(dir.path(), 10, 10, 6_000);

    let files = dir.path().join("files");
    run_files(&events, &files, dir.path().join("files.log"));

    broker.create_topic("resource-events", 3);
    let produced = produce_file(&broker, "resource-events", &events);
    let data = dir.path().join("kafka");
    let toml = dir.path().join("kafka.toml");
    // Small batches: the run lasts long enough to be stalled in the middle.
    std::fs::write(&toml, broker.config(&data, "stall", 20)).expect("config");
    let mut run = run_config(&toml, true, dir.path().join("kafka.log"));
    run.wait_for_log("assigned Kafka partitions");
    // Let it price a little, then freeze the broker.
    let deadline = Instant::now() + RUN_TIMEOUT;
    let mut output = Tail::new(&broker, "departure-prices");
    while output.poll() < 200 {
        assert!(Instant::now() < deadline && run.exited().is_none(), "no output before the stall:\n{}", run.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    broker.signal("STOP");
    std::thread::sleep(STALL);
    assert!(run.exited().is_none(), "the runtime gave up while the broker was stopped:\n{}", run.log());
    let stalled_at = output.poll();
    broker.signal("CONT");
    let counters = run.finish();
    // A fresh reader: the tail's own fetch position may sit inside a batch the
    // engine's producer wrote, which tansu 0.6 does not serve from the middle.
    let departure_records = broker.read_all("departure-prices");
    assert!(departure_records.len() > stalled_at, "the run had already finished before the stall");

    assert_eq!(counters["events"].as_u64(), Some(produced as u64), "every record consumed once");
    assert_same_prices(&settled(&data), &settled(&files), "final prices differ from the file run's");
    assert_no_version_gaps(pairs(&departure_records), &data);
}
