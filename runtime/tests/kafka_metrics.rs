//! On the Kafka source, `/ready` says ready once the brokers answered, and `/metrics`
//! reports each assigned partition's consumer lag, down to 0 once everything produced
//! is priced, with every produced record counted as an input event.

#![cfg(unix)]

mod common;

use std::time::{Duration, Instant};

use common::http::get;
use common::kafka::{Broker, produce_file};
use common::process::{RUN_TIMEOUT, run_config};

/// Longest wait for the lag to settle: statistics come every 5 s.
const SETTLE: Duration = Duration::from_secs(120);

const PARTITIONS: i32 = 3;

/// Every sample of `name` in Prometheus text, as (labels text, value).
fn samples<'t>(text: &'t str, name: &str) -> Vec<(&'t str, f64)> {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| {
            let (head, value) = l.rsplit_once(' ')?;
            Some((&head[name.len()..], value.parse().ok()?))
        })
        .collect()
}

#[test]
fn consumer_lag_per_partition_falls_to_zero() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let events = common::workload::generated(dir.path(), 4, 5, 600);
    broker.create_topic("resource-events", PARTITIONS);
    let produced = produce_file(&broker, "resource-events", &events);

    let data = dir.path().join("data");
    let toml = dir.path().join("kafka.toml");
    let config = broker
        .config(&data, "metrics", 100)
        .replace("[admin]\nenabled = false\n", "[admin]\nenabled = true\nlisten = \"127.0.0.1:0\"\n");
    std::fs::write(&toml, config).expect("config");
    let mut run = run_config(&toml, false, dir.path().join("kafka.log"));
    let addr = run.admin_addr();
    run.wait_for_log("assigned Kafka partitions");

    // The lag comes with librdkafka's statistics every 5 s: wait for a report of every
    // partition at 0, with all produced records counted.
    let deadline = Instant::now() + SETTLE.min(RUN_TIMEOUT);
    let text = loop {
        let text = get(addr, "/metrics").text;
        let lag = samples(&text, "pricing_kafka_consumer_lag_records");
        let events: f64 = samples(&text, "pricing_events_total").iter().map(|(_, v)| v).sum();
        if lag.len() == PARTITIONS as usize && lag.iter().all(|(_, v)| *v == 0.0) && events == produced as f64 {
            break text;
        }
        assert!(Instant::now() < deadline, "no zero lag on {PARTITIONS} partitions; last scrape:\n{text}");
        assert!(run.exited().is_none(), "the run ended:\n{}", run.log());
        std::thread::sleep(Duration::from_millis(250));
    };
    for p in 0..PARTITIONS {
        assert!(text.contains(&format!("topic=\"resource-events\",partition=\"{p}\"")), "partition {p}:\n{text}");
    }
    // Output counts name their Kafka topics.
    let departures: f64 = samples(&text, "pricing_output_records_total")
        .iter()
        .filter(|(labels, _)| labels.contains("output=\"departure-prices\",topic=\"departure-prices\""))
        .map(|(_, v)| v)
        .sum();
    assert!(departures > 0.0, "no departure records counted under their topic:\n{text}");
    assert!(text.contains("output=\"dlq\",topic=\"pricing-dlq\""), "{text}");
    let ready = get(addr, "/ready");
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(ready.json["source"], true);
    run.terminate();
}
