//! The file source resumes after the last committed batch: a run stopped part-way and
//! resumed ends with the same prices and the same (departure, version) records as an
//! uninterrupted run, and consuming a finished file again changes nothing.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use pricing_runtime::engine::PluginSet;
use pricing_runtime::pipeline::Stats;
use pricing_runtime::state::{DeparturePrice, State};

const BATCH: usize = 100;

fn workload() -> String {
    let config = pricing_runtime::r#gen::GenConfig {
        products: 6,
        cities: 3,
        dates_per_city: 8,
        events: 1_500,
        ..Default::default()
    };
    let mut out = Vec::new();
    pricing_runtime::r#gen::generate(&config, &mut out, |_, _| {}).expect("generates");
    String::from_utf8(out).expect("utf-8")
}

fn consume(input: &Path, data: &Path, plugins: &PluginSet) -> Stats {
    common::workload::consume(input, data, plugins, BATCH)
}

/// Current prices without the time they were computed.
fn prices(data: &Path) -> Vec<DeparturePrice> {
    let state = State::open(&data.join("state")).expect("state");
    state.all_prices().map(|p| DeparturePrice { priced_at: String::new(), ..p.expect("price") }).collect()
}

fn emitted_versions(data: &Path) -> BTreeSet<(String, u64)> {
    std::fs::read_to_string(data.join("departure-prices.ndjson"))
        .expect("output")
        .lines()
        .map(|l| {
            let p: DeparturePrice = serde_json::from_str(l).expect("record");
            (p.key(), p.version)
        })
        .collect()
}

#[test]
fn a_stopped_run_resumes_to_the_same_prices_and_versions() {
    let host = common::host();
    let plugins = PluginSet::reference(&host).expect("plugins");
    let text = workload();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 10 * BATCH);

    let clean = tempfile::tempdir().expect("tempdir");
    let input = clean.path().join("events.ndjson");
    std::fs::write(&input, &text).expect("write");
    let clean_stats = consume(&input, clean.path(), &plugins);
    assert!(clean_stats.departure_records > 0 && clean_stats.dead_letter_total() > 0);

    // Stop after 3, then 7 batches (the file held only that much), then finish.
    let stopped = tempfile::tempdir().expect("tempdir");
    let input = stopped.path().join("events.ndjson");
    let mut total = Stats::default();
    for upto in [3 * BATCH, 7 * BATCH, lines.len()] {
        std::fs::write(&input, lines[..upto].join("\n") + "\n").expect("write");
        total.add(&consume(&input, stopped.path(), &plugins));
    }
    assert_eq!(total.events, clean_stats.events, "every line consumed once");
    assert_eq!(total.applied, clean_stats.applied);
    assert_eq!(prices(stopped.path()), prices(clean.path()));
    assert_eq!(emitted_versions(stopped.path()), emitted_versions(clean.path()));

    // Consuming the finished file again reads nothing and changes nothing.
    let again = consume(&input, stopped.path(), &plugins);
    assert_eq!(again.events, 0);
    assert_eq!(prices(stopped.path()), prices(clean.path()));
}
