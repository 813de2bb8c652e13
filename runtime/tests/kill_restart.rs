//! The delivery guarantee under a hard kill: the `pricing` binary, SIGKILLed at several
//! points of a run and restarted each time, ends with the same prices as an
//! uninterrupted run, and its output holds every (departure, version) record of the
//! uninterrupted run: some repeated (a batch whose records were flushed but whose state
//! was not committed is priced again), none missing and none different.

#![cfg(unix)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::process::{RUN_TIMEOUT, Run};
use pricing_runtime::state::DeparturePrice;

const BATCH: &str = "50";
const OUTPUT: &str = "departure-prices.ndjson";
/// Kill points, as percentages of the uninterrupted run's output size.
const KILL_AT_PERCENT: [u64; 3] = [20, 45, 70];

/// `pricing run INPUT` into `data`, logging to `log`.
fn start(input: &Path, data: &Path, log: PathBuf) -> Run {
    let args = [OsStr::new("run"), OsStr::new("--admin-listen"), OsStr::new("127.0.0.1:0"), input.as_os_str()];
    let rest = [OsStr::new("--batch-size"), OsStr::new(BATCH), OsStr::new("--data"), data.as_os_str()];
    Run::spawn(args.into_iter().chain(rest), log)
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Every departure record of the output, without the time it was computed, in order.
fn records(data: &Path) -> Vec<DeparturePrice> {
    std::fs::read_to_string(data.join(OUTPUT))
        .expect("output")
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let p: DeparturePrice =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{OUTPUT} line {} is not a record: {e}: {l}", i + 1));
            DeparturePrice { priced_at: String::new(), ..p }
        })
        .collect()
}

#[test]
fn killed_runs_restart_to_the_same_prices_and_versions() {
    let config = pricing_runtime::r#gen::GenConfig {
        products: 10,
        cities: 3,
        dates_per_city: 10,
        events: 4_000,
        ..Default::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("events.ndjson");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&input).expect("create"));
        pricing_runtime::r#gen::generate(&config, &mut out, |_, _| {}).expect("generates");
    }

    // The reference: one uninterrupted run.
    let reference = dir.path().join("reference");
    let reference_counters = start(&input, &reference, dir.path().join("reference.log")).finish();
    let reference_size = size(&reference.join(OUTPUT));
    let reference_records = records(&reference);
    let reference_prices = common::workload::prices(&reference);
    assert!(reference_records.len() > 1_000, "{} records: too small a workload to kill", reference_records.len());
    assert!(!reference_prices.is_empty());
    let by_version: BTreeMap<(String, u64), DeparturePrice> =
        reference_records.iter().map(|p| ((p.key(), p.version), p.clone())).collect();
    assert_eq!(by_version.len(), reference_records.len(), "an uninterrupted run writes each version once");

    // The same input, killed whenever the output has grown past each threshold.
    let killed = dir.path().join("killed");
    let output = killed.join(OUTPUT);
    for (n, percent) in KILL_AT_PERCENT.into_iter().enumerate() {
        let threshold = reference_size * percent / 100;
        let before = size(&output);
        assert!(before < threshold, "the output is already {before} bytes, past the {percent}% threshold {threshold}");
        let mut run = start(&input, &killed, dir.path().join(format!("killed-{n}.log")));
        let deadline = Instant::now() + RUN_TIMEOUT;
        while size(&output) < threshold {
            if let Some(status) = run.exited() {
                panic!("run {n} ended on its own ({status}) before its output reached {percent}%:\n{}", run.log());
            }
            assert!(Instant::now() < deadline, "run {n}'s output did not reach {threshold} bytes in {RUN_TIMEOUT:?}");
            // Short polls: a batch takes a few milliseconds and the run must still be
            // going when it is killed.
            std::thread::sleep(Duration::from_millis(1));
        }
        run.kill();
    }

    // Let the last restart finish.
    let final_counters = start(&input, &killed, dir.path().join("final.log")).finish();
    let left = final_counters["events"].as_u64().expect("events");
    let total = reference_counters["events"].as_u64().expect("events");
    assert!(left > 0 && left < total, "the last run consumed {left} of {total} events: it should resume part-way");

    assert_eq!(common::workload::prices(&killed), reference_prices, "final prices differ from the uninterrupted run's");

    let killed_records = records(&killed);
    let emitted: BTreeSet<(String, u64)> = killed_records.iter().map(|p| (p.key(), p.version)).collect();
    let missing: Vec<_> = by_version.keys().filter(|k| !emitted.contains(*k)).take(5).collect();
    assert!(missing.is_empty(), "records lost across the kills (first few): {missing:?}");
    let extra: Vec<_> = emitted.iter().filter(|k| !by_version.contains_key(*k)).take(5).collect();
    assert!(extra.is_empty(), "versions the uninterrupted run never wrote (first few): {extra:?}");
    // A repeat is the same batch priced again: the same record, not just the same key.
    for record in &killed_records {
        assert_eq!(&by_version[&(record.key(), record.version)], record, "a repeated record differs");
    }
    assert!(killed_records.len() >= reference_records.len());
}
