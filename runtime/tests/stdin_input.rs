//! `pricing run -` reads NDJSON events from stdin: the same events piped in or read
//! from a file give the same prices and the same records, and piping them in again (a
//! restart: stdin is never resumed) applies nothing twice. A live pipe's batch runs as
//! soon as its lines are in: stdin is not read ahead like a file.

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use common::process::Run;

use pricing_runtime::source::STDIN_SOURCE;
use pricing_runtime::state::{DeparturePrice, State};

const BATCH: &str = "100";

fn workload() -> Vec<u8> {
    let config = pricing_runtime::r#gen::GenConfig {
        products: 6,
        cities: 3,
        dates_per_city: 6,
        events: 1_200,
        ..Default::default()
    };
    let mut out = Vec::new();
    pricing_runtime::r#gen::generate(&config, &mut out, |_, _| {}).expect("generates");
    out
}

/// Runs `pricing run INPUT --data DATA`, piping `stdin` in, and returns the run's
/// counters (the JSON it prints last on stderr).
fn pricing_run(input: &str, data: &Path, stdin: Option<&[u8]>) -> serde_json::Value {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pricing"))
        .args(["run", "--admin-listen", "127.0.0.1:0", input, "--batch-size", BATCH, "--data"])
        .arg(data)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts pricing");
    if let Some(bytes) = stdin {
        // Dropping the handle closes the pipe: the end of the stream.
        let mut pipe = child.stdin.take().expect("stdin piped");
        let bytes = bytes.to_vec();
        // A writer thread: the child's stderr is read at the same time, so neither side
        // can block the other on a full pipe.
        let writer = std::thread::spawn(move || pipe.write_all(&bytes));
        let out = child.wait_with_output().expect("pricing ends");
        writer.join().expect("writer thread").expect("writes stdin");
        return counters(&out);
    }
    counters(&child.wait_with_output().expect("pricing ends"))
}

fn counters(out: &std::process::Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pricing run failed: {stderr}");
    let start = stderr.find("\n{").map(|i| i + 1).or_else(|| stderr.starts_with('{').then_some(0));
    let json = &stderr[start.unwrap_or_else(|| panic!("no counters in {stderr}"))..];
    serde_json::from_str(json).unwrap_or_else(|e| panic!("counters {json}: {e}"))
}

/// Current prices without the time they were computed.
fn prices(data: &Path) -> Vec<DeparturePrice> {
    let state = State::open(&data.join("state")).expect("state");
    state.all_prices().map(|p| DeparturePrice { priced_at: String::new(), ..p.expect("price") }).collect()
}

/// The departure records written, without the time they were computed.
fn records(data: &Path) -> Vec<DeparturePrice> {
    std::fs::read_to_string(data.join("departure-prices.ndjson"))
        .expect("output")
        .lines()
        .map(|l| DeparturePrice { priced_at: String::new(), ..serde_json::from_str(l).expect("record") })
        .collect()
}

/// The dead letters written, each with its origin's line but not its file name.
fn dead_letters(data: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(data.join("dlq.ndjson"))
        .expect("dead letters")
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("dead letter");
            v["origin"]["path"] = serde_json::Value::Null;
            v
        })
        .collect()
}

fn lines_of(data: &Path, file: &str, field: &str) -> Vec<String> {
    let text = std::fs::read_to_string(data.join(file)).expect("output");
    text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).expect("record")[field].to_string()).collect()
}

#[test]
fn stdin_prices_like_the_same_events_from_a_file() {
    let events = workload();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("events.ndjson");
    std::fs::write(&file, &events).expect("write");
    let from_file = dir.path().join("from-file");
    let from_stdin = dir.path().join("from-stdin");

    let file_counters = pricing_run(file.to_str().expect("utf-8 path"), &from_file, None);
    let stdin_counters = pricing_run("-", &from_stdin, Some(&events));

    let lines = events.iter().filter(|&&b| b == b'\n').count() as u64;
    assert_eq!(stdin_counters["events"], lines, "every line of stdin is an event");
    assert_eq!(stdin_counters, file_counters);
    assert!(file_counters["departure_records"].as_u64().expect("count") > 0);
    let file_prices = prices(&from_file);
    assert!(!file_prices.is_empty());
    assert_eq!(prices(&from_stdin), file_prices);
    // Same batch boundaries, so the very same records in the same order.
    assert_eq!(records(&from_stdin), records(&from_file));
    assert_eq!(
        lines_of(&from_stdin, "product-prices.ndjson", "from_price"),
        lines_of(&from_file, "product-prices.ndjson", "from_price")
    );
    // Dead letters say where they came from: stdin is `-`, lines numbered from 1.
    let dlq = dead_letters(&from_stdin);
    assert!(!dlq.is_empty());
    assert_eq!(dlq, dead_letters(&from_file));
    let raw = std::fs::read_to_string(from_stdin.join("dlq.ndjson")).expect("dead letters");
    assert!(raw.lines().all(|l| l.contains(r#""path":"-""#)), "{raw}");

    // The position committed under `stdin` is the lines consumed.
    {
        let state = State::open(&from_stdin.join("state")).expect("state");
        let position = state.position(STDIN_SOURCE).expect("reads").expect("stdin position committed");
        let committed = u64::from_le_bytes(position[..8].try_into().expect("8 bytes"));
        assert_eq!(committed, lines);
    }

    // A restart does not skip what a previous run consumed: piping the same stream in
    // again reads every line, but every valid event is now stale, so nothing is
    // re-priced and no departure record is written.
    let before = records(&from_stdin);
    let again = pricing_run("-", &from_stdin, Some(&events));
    assert_eq!(again["events"], lines);
    assert_eq!(again["applied"], 0, "{again}");
    assert_eq!(again["departure_records"], 0, "{again}");
    assert_eq!(prices(&from_stdin), file_prices);
    assert_eq!(records(&from_stdin), before);
}

#[test]
fn stdin_and_files_mix_in_one_run() {
    // A file then stdin in one run equals the two halves of the stream in one file. The
    // split is on a batch boundary, so both runs make the same batches and versions.
    let events = workload();
    let text = String::from_utf8(events.clone()).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    let batch: usize = BATCH.parse().expect("batch size");
    let (head, tail) = lines.split_at(lines.len() / 2 / batch * batch);
    let dir = tempfile::tempdir().expect("tempdir");
    let head_file = dir.path().join("head.ndjson");
    std::fs::write(&head_file, head.join("\n") + "\n").expect("write");
    let whole = dir.path().join("whole.ndjson");
    std::fs::write(&whole, &events).expect("write");

    let mixed = dir.path().join("mixed");
    let out = {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pricing"))
            .args(["run", "--admin-listen", "127.0.0.1:0"])
            .arg(&head_file)
            .args(["-", "--batch-size", BATCH, "--data"])
            .arg(&mixed)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts pricing");
        let mut pipe = child.stdin.take().expect("stdin piped");
        let tail_text = tail.join("\n") + "\n";
        let writer = std::thread::spawn(move || pipe.write_all(tail_text.as_bytes()));
        let out = child.wait_with_output().expect("pricing ends");
        writer.join().expect("writer thread").expect("writes stdin");
        out
    };
    let mixed_counters = counters(&out);
    let whole_data = dir.path().join("whole");
    let whole_counters = pricing_run(whole.to_str().expect("utf-8 path"), &whole_data, None);
    assert_eq!(mixed_counters, whole_counters);
    assert_eq!(prices(&mixed), prices(&whole_data));
    assert_eq!(records(&mixed), records(&whole_data));
}

/// A file's next batch is read before the one before it runs (decoding ahead); a pipe's
/// is not, or each batch would wait for the next one's lines. Here the writer stops after
/// one batch and waits, pipe open, for that batch's dead letters.
#[test]
fn a_batch_on_a_live_pipe_runs_before_the_next_lines_arrive() {
    let batch: usize = BATCH.parse().expect("batch size");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut run = Run::spawn_fed(
        ["run", "-", "--batch-size", BATCH, "--admin-listen", "127.0.0.1:0", "--data"]
            .iter()
            .map(std::ffi::OsStr::new)
            .chain([data.as_os_str()]),
        &[],
        dir.path().join("pricing.log"),
    );
    let mut stdin = run.child.stdin.take().expect("stdin piped");
    for i in 0..batch {
        writeln!(stdin, "not an event {i}").expect("writes");
    }
    stdin.flush().expect("flushes");
    let dlq = data.join("dlq.ndjson");
    // Whole lines only: the writer may be part-way through one.
    let whole_lines = || std::fs::read_to_string(&dlq).unwrap_or_default().matches('\n').count();
    run.wait_until("first batch's dead letters, pipe open", || whole_lines() >= batch);
    let first = common::json_lines(&dlq);
    assert_eq!(first.len(), batch, "one batch's dead letters, no more");
    for (i, letter) in first.iter().enumerate() {
        assert_eq!(letter["reason_class"], "not_json", "{letter}");
        assert_eq!(letter["origin"]["line"], i + 1, "{letter}");
    }
    assert!(run.exited().is_none(), "still reading the open pipe");

    let events = workload();
    stdin.write_all(&events).expect("writes the rest");
    drop(stdin); // the end of the input
    let counters = run.finish();
    let lines = events.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(counters["events"], (batch + lines) as u64, "{counters}");
    assert!(counters["departure_records"].as_u64().is_some_and(|n| n > 0), "the rest is priced: {counters}");
}
