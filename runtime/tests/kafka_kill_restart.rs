//! Exactly-once state on Kafka under hard kills: the runtime, SIGKILLed at several
//! points while it consumes and restarted each time, ends with the same prices as a
//! clean run over the same topic, and every departure's versions on the output topic
//! run from 1 to its stored version without a gap (repeats allowed).

#![cfg(unix)]

mod common;

use std::path::Path;
use std::time::Instant;

use common::kafka::{Broker, Tail, pairs, produce_file};
use common::process::{RUN_TIMEOUT, Run, run_config};
use common::workload::{assert_no_version_gaps, assert_same_prices, settled};

/// Kill points, as percentages of the clean run's departure records.
const KILL_AT_PERCENT: [u64; 3] = [15, 40, 70];

/// A config reading the shared input topic into its own output topics and group.
fn config(broker: &Broker, data: &Path, name: &str) -> String {
    // Static membership: a restarted process takes its killed predecessor's place at
    // once. (Without it, tansu 0.6 never gives the partitions of a member that died
    // without leaving to anyone: the restarted process would wait forever.)
    broker.config(data, name, 50)
        + &format!(
            "instance_id = \"{name}-1\"\n[kafka.topics]\ndeparture_prices = \"{name}-departures\"\nproduct_prices = \"{name}-products\"\n\
             dlq = \"{name}-dlq\"\n"
        )
}

fn start(dir: &Path, toml: &str, name: &str, until_caught_up: bool) -> Run {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml).expect("config");
    // One log per run: a restart must not overwrite the log of the run it follows.
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    run_config(&path, until_caught_up, dir.join(format!("{name}-{n}.log")))
}

#[test]
fn killed_consumers_restart_to_the_clean_prices_without_version_gaps() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let events = common::workload::generated(dir.path(), 10, 10, 4_000);
    broker.create_topic("resource-events", 3);
    produce_file(&broker, "resource-events", &events);

    let clean = dir.path().join("clean");
    let counters = start(dir.path(), &config(&broker, &clean, "clean"), "clean", true).finish();
    let clean_records = counters["departure_records"].as_u64().expect("records");
    assert!(clean_records > 1_000, "{clean_records} records: too small a workload to kill");

    let killed = dir.path().join("killed");
    let toml = config(&broker, &killed, "killed");
    // Created here, so the output can be followed from the first run on.
    broker.create_topic("killed-departures", 3);
    let mut output = Tail::new(&broker, "killed-departures");
    for percent in KILL_AT_PERCENT {
        let threshold = clean_records * percent / 100;
        let before = output.poll() as u64;
        assert!(before < threshold, "already {before} records, past the {percent}% threshold {threshold}");
        // Not --until-caught-up: a deployment, killed while it consumes.
        let mut run = start(dir.path(), &toml, "killed", false);
        let deadline = Instant::now() + RUN_TIMEOUT;
        while (output.poll() as u64) < threshold {
            if let Some(status) = run.exited() {
                panic!("the run ended on its own ({status}) before {percent}%:\n{}", run.log());
            }
            assert!(Instant::now() < deadline, "the output did not reach {threshold} records in {RUN_TIMEOUT:?}");
        }
        run.kill();
    }
    let last = start(dir.path(), &toml, "killed", true).finish();
    let left = last["events"].as_u64().expect("events");
    let total = counters["events"].as_u64().expect("events");
    assert!(left > 0 && left < total, "the last run consumed {left} of {total} events: it should resume part-way");

    assert_same_prices(&settled(&killed), &settled(&clean), "final prices differ from the clean run's");
    let emitted = broker.read_all("killed-departures");
    assert_no_version_gaps(pairs(&emitted), &killed);
}
