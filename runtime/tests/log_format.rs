//! `--log-format json`: every line the engine writes to stderr is one JSON object (log
//! records and the final counters), and each micro-batch's span carries its counts.

use std::path::Path;
use std::process::Command;

#[test]
fn json_logs_are_one_object_per_line_with_batch_spans() {
    let dir = tempfile::tempdir().expect("temp dir");
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/events.ndjson");
    let out = Command::new(env!("CARGO_BIN_EXE_pricing"))
        .args(["--log-format", "json", "run", "--no-admin", "--batch-size", "500"])
        .arg(&events)
        .arg("--data")
        .arg(dir.path())
        .env("RUST_LOG", "info,fjall=warn,lsm_tree=warn,pricing_runtime::source=debug")
        .output()
        .expect("pricing runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {l}")))
        .collect();
    assert!(lines.iter().any(|l| l["level"] == "INFO"), "{stderr}");
    let batches: Vec<&serde_json::Value> = lines.iter().filter(|l| l["span"]["name"] == "batch").collect();
    let input = std::fs::read_to_string(&events).expect("events").lines().count() as u64;
    // Batches of 500: the closes of all of them, whose event counts add up to the input.
    let closed: Vec<&&serde_json::Value> = batches.iter().filter(|l| l["fields"]["message"] == "close").collect();
    assert_eq!(closed.len() as u64, input.div_ceil(500), "{stderr}");
    assert_eq!(closed.iter().map(|l| l["span"]["events"].as_u64().expect("events")).sum::<u64>(), input);
    assert!(closed.iter().all(|l| l["span"]["departures_priced"].is_u64()), "{stderr}");
    // The last line is the run's counters.
    assert_eq!(lines.last().and_then(|l| l["events"].as_u64()), Some(input), "{stderr}");
}
