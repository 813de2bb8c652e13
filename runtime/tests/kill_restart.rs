//! The delivery guarantee under a hard kill: the `pricing` binary, SIGKILLed at several
//! points of a run and restarted each time, ends with the same prices as an
//! uninterrupted run, and its output holds every (departure, version) record of the
//! uninterrupted run: some repeated (a batch whose records were flushed but whose state
//! was not committed is priced again), none missing and none different.

#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use pricing_runtime::state::{DeparturePrice, State};

const BATCH: &str = "50";
const OUTPUT: &str = "departure-prices.ndjson";
/// Kill points, as percentages of the uninterrupted run's output size.
const KILL_AT_PERCENT: [u64; 3] = [20, 45, 70];
/// How long any one run may take, including compiling the plugins at start. Generous:
/// the machine may be busy with other builds and tests.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);
const SIGKILL: i32 = 9;

/// A running `pricing run`, killed if the test fails before it ends.
struct Run {
    child: Child,
    log: PathBuf,
}

impl Run {
    fn start(input: &Path, data: &Path, log: PathBuf) -> Run {
        let stderr = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_pricing"))
            .args(["run", "--admin-listen", "127.0.0.1:0"])
            .arg(input)
            .args(["--batch-size", BATCH, "--data"])
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // A file, not a pipe: nobody reads it while the run goes on.
            .stderr(stderr)
            .spawn()
            .expect("starts pricing");
        Run { child, log }
    }

    /// Whether the run has ended, and how.
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("polls the child")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the run to end on its own and returns its counters (the JSON it prints
    /// last on stderr).
    fn finish(mut self) -> serde_json::Value {
        let deadline = Instant::now() + RUN_TIMEOUT;
        let status = loop {
            if let Some(status) = self.exited() {
                break status;
            }
            assert!(Instant::now() < deadline, "pricing run did not finish in {RUN_TIMEOUT:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        };
        let log = self.log();
        assert!(status.success(), "pricing run failed ({status}):\n{log}");
        let start = log.find("\n{").map(|i| i + 1).unwrap_or_else(|| panic!("no counters in:\n{log}"));
        serde_json::from_str(&log[start..]).unwrap_or_else(|e| panic!("counters: {e}:\n{log}"))
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Current prices without the time they were computed.
fn prices(data: &Path) -> Vec<DeparturePrice> {
    let state = State::open(&data.join("state")).expect("state");
    state.all_prices().map(|p| DeparturePrice { priced_at: String::new(), ..p.expect("price") }).collect()
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
    let reference_counters = Run::start(&input, &reference, dir.path().join("reference.log")).finish();
    let reference_size = size(&reference.join(OUTPUT));
    let reference_records = records(&reference);
    let reference_prices = prices(&reference);
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
        let mut run = Run::start(&input, &killed, dir.path().join(format!("killed-{n}.log")));
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
        run.child.kill().expect("sends SIGKILL");
        let status = run.child.wait().expect("reaps the child");
        // A child that had already exited would report its own status, not the signal:
        // this proves the kill hit a run that was still consuming.
        assert_eq!(status.signal(), Some(SIGKILL), "run {n} was not killed mid-stream: {status}\n{}", run.log());
    }

    // Let the last restart finish.
    let final_counters = Run::start(&input, &killed, dir.path().join("final.log")).finish();
    let left = final_counters["events"].as_u64().expect("events");
    let total = reference_counters["events"].as_u64().expect("events");
    assert!(left > 0 && left < total, "the last run consumed {left} of {total} events: it should resume part-way");

    assert_eq!(prices(&killed), reference_prices, "final prices differ from the uninterrupted run's");

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
