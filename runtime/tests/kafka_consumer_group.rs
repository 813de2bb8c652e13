//! Two runtime processes in one consumer group share the input topic's partitions;
//! when one is stopped (SIGTERM: it prices and commits what it read, then leaves the
//! group) the other takes its partitions over, reads them from the beginning into its
//! own state (it never held their events), and ends with the prices of a single run
//! over all events.
//!
//! A member killed with SIGKILL cannot leave: the broker must expire its session and
//! rebalance. tansu 0.6 does not: the dead member's partitions stay assigned to it (seen
//! with librdkafka 2.12 here and confluent-kafka's 2.16), so that case is not tested
//! against this broker; with Kafka the survivor gets them after `session.timeout.ms`.
//!
//! What this does not give, by design of per-process state: while the two share the
//! topic, each prices departures with only the resources of its own partitions, so the
//! records they emit then are not the final prices, and their version numbers count
//! per process. See the README's Kafka section.

#![cfg(unix)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::kafka::{Broker, event_key};
use common::process::{RUN_TIMEOUT, Run, run_config, run_files};
use common::workload::{assert_same_prices, settled};

const PARTITIONS: i32 = 4;
const GROUP: &str = "shared";

fn start(dir: &Path, broker: &Broker, name: &str) -> Run {
    let data = dir.join(name);
    let toml = dir.join(format!("{name}.toml"));
    std::fs::write(&toml, broker.config(&data, GROUP, 100)).expect("config");
    run_config(&toml, false, dir.join(format!("{name}.log")))
}

/// The partitions of the last assignment a process logged.
fn assigned(run: &Run) -> BTreeSet<i32> {
    let log = run.log();
    let Some(line) = log.lines().rev().find(|l| l.contains("assigned Kafka partitions")) else {
        return BTreeSet::new();
    };
    let Some(list) = line.split("partitions=").nth(1) else { return BTreeSet::new() };
    list.split_whitespace()
        .next()
        .unwrap_or_default()
        .split(',')
        .filter_map(|p| p.split('@').next()?.parse().ok())
        .collect()
}

/// Waits until `check` holds, failing after the run timeout.
fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + RUN_TIMEOUT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_survivor_takes_over_the_partitions_of_a_stopped_member() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let events = common::workload::generated(dir.path(), 10, 8, 3_000);
    let text = std::fs::read_to_string(&events).expect("events");
    let lines: Vec<&str> = text.lines().collect();
    let (first, second) = lines.split_at(lines.len() / 2);

    // The reference: one process over all events, through files.
    let files = dir.path().join("files");
    run_files(&events, &files, dir.path().join("files.log"));

    broker.create_topic("resource-events", PARTITIONS);
    let keyed = |part: &[&str]| part.iter().map(|l| (event_key(l), l.to_string())).collect::<Vec<_>>();
    let first = keyed(first);
    broker.produce("resource-events", first.iter().map(|(k, v)| (k.as_deref(), v.as_str())));

    let a = start(dir.path(), &broker, "a");
    let b = start(dir.path(), &broker, "b");
    wait_until("both members hold partitions", || {
        let (pa, pb) = (assigned(&a), assigned(&b));
        !pa.is_empty() && !pb.is_empty() && pa.is_disjoint(&pb) && pa.len() + pb.len() == PARTITIONS as usize
    });
    let (pa, pb) = (assigned(&a), assigned(&b));
    wait_until("the group has consumed the first half", || {
        broker.group_consumed(GROUP, "resource-events", first.len() as u64)
    });

    a.terminate();
    let second = keyed(second);
    broker.produce("resource-events", second.iter().map(|(k, v)| (k.as_deref(), v.as_str())));
    let all: BTreeSet<i32> = (0..PARTITIONS).collect();
    wait_until("the survivor holds every partition", || assigned(&b) == all);
    wait_until("the group has consumed everything", || {
        broker.group_consumed(GROUP, "resource-events", lines.len() as u64)
    });
    // Offsets are committed once the state is; stop the survivor to read its state.
    b.terminate();

    assert!(!pa.is_empty() && !pb.is_empty(), "the partitions were shared: a {pa:?}, b {pb:?}");
    assert_same_prices(
        &settled(&dir.path().join("b")),
        &settled(&files),
        "the survivor's prices differ from one run's",
    );
}
