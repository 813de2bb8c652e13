//! Every bad-input class of a generated stream lands in the dead-letter output with its
//! reason and origin; stale events are counted and skipped; the good events around them
//! are all applied.

mod common;

use std::collections::BTreeMap;

use common::workload::{consume, write};
use pricing_runtime::engine::PluginSet;
use pricing_runtime::r#gen::GenConfig;

#[test]
fn each_bad_input_class_is_dead_lettered_with_its_reason() {
    let host = common::host();
    let plugins = PluginSet::reference(&host).expect("plugins");
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("events.ndjson");
    let config = GenConfig { products: 6, events: 3_000, malformed_rate: 0.05, stale_rate: 0.03, ..Default::default() };
    let summary = write(&config, &input);
    let stats = consume(&input, dir.path(), &plugins, 250);

    let m = &summary.malformed;
    let expected: BTreeMap<String, u64> = [
        ("not_json", m.not_json),
        ("missing_field", m.missing_field + m.missing_supplier),
        ("wrong_type", m.wrong_type),
        ("unknown_kind", m.unknown_kind),
        ("negative_amount", m.negative_amount),
        ("currency_mismatch", m.currency_mismatch),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert!(expected.values().all(|n| *n > 0), "the workload has every class: {expected:?}");
    assert_eq!(stats.dead_letters, expected);
    assert_eq!(stats.stale, summary.stale);
    assert_eq!(stats.events, summary.lines);
    assert_eq!(stats.applied, summary.lines - summary.malformed_total - summary.stale, "every good event applied");

    let dlq = std::fs::read_to_string(dir.path().join("dlq.ndjson")).expect("dlq file");
    let records: Vec<serde_json::Value> = dlq.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert_eq!(records.len() as u64, summary.malformed_total);
    for r in &records {
        assert!(r["reason"].as_str().is_some_and(|s| !s.is_empty()), "{r}");
        assert_eq!(r["origin"]["source"], "file", "{r}");
        assert!(r["origin"]["line"].as_u64().is_some_and(|l| l >= 1), "{r}");
        assert!(!r["event"].is_null(), "the original event or raw text: {r}");
    }
}
