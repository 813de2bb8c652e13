//! Malformed records on the events topic land in `pricing-dlq` with their reason and
//! their source topic, partition and offset as headers; the good records around them
//! are priced.

#![cfg(unix)]

mod common;

use common::kafka::Broker;
use common::process::run_config;

#[test]
fn malformed_records_land_in_the_dlq_with_their_reason_and_origin() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("tempdir");
    // One partition, so each record's offset is its place in this list.
    broker.create_topic("resource-events", 1);
    let product = r#"{"id":"p1","kind":"product","key":"P1","op":"upsert","seq":1,"ts":"2026-11-22T09:00:00Z","data":{"name":"Xiamen 3D2N","destination":"XMN","currency":"CNY","nights":2,"pax":1,"departures":[{"city":"SHA","dates":["2026-12-01"]}],"components":[{"kind":"flight"}]}}"#;
    let out = r#"{"id":"f1","kind":"flight","key":"SHA/XMN/2026-12-01","op":"upsert","seq":1,"ts":"2026-11-22T10:00:00Z","data":{"fare":100000,"taxes":5000,"seats":9,"currency":"CNY"}}"#;
    let back = r#"{"id":"f2","kind":"flight","key":"XMN/SHA/2026-12-03","op":"upsert","seq":1,"ts":"2026-11-22T10:00:00Z","data":{"fare":90000,"taxes":5000,"seats":9,"currency":"CNY"}}"#;
    let no_seq =
        r#"{"id":"m1","kind":"flight","key":"SHA/XMN/2026-12-01","op":"upsert","ts":"2026-11-22T10:00:00Z","data":{}}"#;
    let boat = r#"{"id":"m2","kind":"boat","key":"Z","op":"upsert","seq":1,"ts":"2026-11-22T10:00:00Z","data":{}}"#;
    let negative = r#"{"id":"m3","kind":"flight","key":"SHA/XMN/2026-12-01","op":"upsert","seq":5,"ts":"2026-11-22T10:00:00Z","data":{"fare":-1,"taxes":0,"seats":9,"currency":"CNY"}}"#;
    let records: [(Option<&str>, &str, Option<&str>); 8] = [
        (Some("product:P1"), product, None),
        (Some("x:y"), "this is not json", Some("not_json")),
        (Some("flight:SHA/XMN/2026-12-01"), no_seq, Some("missing_field")),
        (Some("boat:Z"), boat, Some("unknown_kind")),
        (None, "", Some("not_json")),
        (Some("flight:SHA/XMN/2026-12-01"), negative, Some("negative_amount")),
        (Some("flight:SHA/XMN/2026-12-01"), out, None),
        (Some("flight:XMN/SHA/2026-12-03"), back, None),
    ];
    broker.produce("resource-events", records.iter().map(|(k, v, _)| (*k, *v)));

    let data = dir.path().join("data");
    let toml = dir.path().join("kafka.toml");
    std::fs::write(&toml, broker.config(&data, "dlq", 100)).expect("config");
    let counters = run_config(&toml, true, dir.path().join("run.log")).finish();
    assert_eq!(counters["events"].as_u64(), Some(records.len() as u64));

    let mut dlq = broker.read_all("pricing-dlq");
    // Keyed by origin, they spread over the partitions: put them back in input order.
    dlq.sort_by_key(|r| r.headers.get("source_offset").and_then(|o| o.parse::<u64>().ok()));
    let expected: Vec<(usize, &str)> =
        records.iter().enumerate().filter_map(|(i, (_, _, class))| class.map(|c| (i, c))).collect();
    assert_eq!(dlq.len(), expected.len(), "one dead letter per malformed record: {dlq:#?}");
    for (record, (offset, class)) in dlq.iter().zip(&expected) {
        let h = &record.headers;
        assert_eq!(h.get("reason_class").map(String::as_str), Some(*class), "{record:?}");
        assert!(h.get("reason").is_some_and(|r| !r.is_empty()), "a reason: {record:?}");
        assert_eq!(h.get("source_topic").map(String::as_str), Some("resource-events"));
        assert_eq!(h.get("source_partition").map(String::as_str), Some("0"));
        assert_eq!(h.get("source_offset"), Some(&offset.to_string()), "{record:?}");
        let value: serde_json::Value = serde_json::from_str(&record.value).expect("the dead letter is JSON");
        assert_eq!(value["reason_class"], *class);
        assert_eq!(value["origin"]["offset"], *offset);
    }

    // The good records around them were priced: the one departure has a price.
    let prices = broker.read_all("departure-prices");
    let last: serde_json::Value = serde_json::from_str(&prices.last().expect("a price record").value).expect("JSON");
    assert_eq!(last["status"], "available", "{last}");
    // Fares and taxes of both legs, one person, no markup.
    assert_eq!(last["price"], 100_000 + 5_000 + 90_000 + 5_000, "{last}");
    assert_eq!(prices.last().and_then(|r| r.key.as_deref()), Some("P1:SHA:2026-12-01"));
}
