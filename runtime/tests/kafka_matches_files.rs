//! The same events through Kafka (three partitions, a real broker) and through the
//! embedded file source give identical final prices, dead letters and counts; every
//! departure's versions reach the output topic without a gap.

#![cfg(unix)]

mod common;

use common::kafka::{Broker, pairs, produce_file};
use common::process::{run_config, run_files};
use common::workload::{assert_no_version_gaps, assert_same_prices, settled};

#[test]
fn kafka_and_file_runs_agree() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let events = common::workload::generated(dir.path(), 12, 8, 3_000);

    let files = dir.path().join("files");
    let by_file = run_files(&events, &files, dir.path().join("files.log"));

    broker.create_topic("resource-events", 3);
    let produced = produce_file(&broker, "resource-events", &events);
    let kafka = dir.path().join("kafka");
    let toml = dir.path().join("kafka.toml");
    std::fs::write(&toml, broker.config(&kafka, "agree", 200)).expect("config");
    let by_kafka = run_config(&toml, true, dir.path().join("kafka.log")).finish();

    assert_eq!(by_kafka["events"].as_u64(), Some(produced as u64), "every record consumed once");
    for counter in ["events", "applied", "stale", "dead_letters"] {
        assert_eq!(by_kafka[counter], by_file[counter], "{counter} differ: Kafka {by_kafka}, files {by_file}");
    }
    let prices = settled(&kafka);
    assert!(prices.len() > 100, "{} departures: too small to compare", prices.len());
    assert_same_prices(&prices, &settled(&files), "final prices differ between Kafka and files");

    let emitted = broker.read_all("departure-prices");
    assert_eq!(Some(emitted.len() as u64), by_kafka["departure_records"].as_u64(), "records on the topic");
    assert_no_version_gaps(pairs(&emitted), &kafka);
    let products = broker.read_all("product-prices");
    assert_eq!(Some(products.len() as u64), by_kafka["product_records"].as_u64());
    let dlq = broker.read_all("pricing-dlq");
    assert_eq!(
        dlq.len() as u64,
        by_file["dead_letters"].as_object().map_or(0, |m| m.values().filter_map(serde_json::Value::as_u64).sum())
    );
}
