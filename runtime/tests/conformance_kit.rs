//! The conformance kit: the shared cases files of the five reference kinds are what the
//! Rust reference plugins answer (regenerated here and compared with the committed
//! files), every reference component passes its file through `pricing conform`, and a
//! deliberately wrong plugin fails with the failing cases named.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::conformance::{KINDS, cases_path, reference_case_file};
use pricing_runtime::plugins;
use pricing_sdk::conformance::CaseFile;

/// Set to rewrite the committed cases files from the reference plugins.
const WRITE_ENV: &str = "PRICING_WRITE_CASES";

fn conform(plugin: &Path, cases: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pricing"))
        .arg("conform")
        .arg(plugin)
        .arg(cases)
        .args(["--time-ms", "0", "--batch", "100"])
        .output()
        .expect("pricing conform runs")
}

#[test]
fn committed_cases_are_what_the_reference_plugins_answer() {
    for kind in KINDS {
        let generated = reference_case_file(kind);
        let path = cases_path(kind);
        if std::env::var_os(WRITE_ENV).is_some() {
            let text = serde_json::to_string_pretty(&generated).expect("serialises") + "\n";
            std::fs::write(&path, text).expect("writes the cases file");
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let committed: CaseFile = serde_json::from_str(&text).expect("the committed file parses");
        assert!(!committed.cases.is_empty() && !committed.dependencies.is_empty(), "{kind}: empty cases file");
        assert!(
            committed == generated,
            "{} is stale: regenerate it with `{WRITE_ENV}=1 cargo test -p pricing-runtime --test conformance_kit`",
            path.display()
        );
    }
}

#[test]
fn every_reference_plugin_passes_its_cases() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (artifact, wasm) in plugins::REFERENCE {
        let plugin = dir.path().join(format!("{}.wasm", artifact.kind));
        std::fs::write(&plugin, wasm).expect("writes the component");
        let report = common::conformance::passes(&plugin, artifact.kind);
        let ns = report["cost"]["ns_per_departure"].as_f64().expect("a cost");
        assert!(ns > 0.0, "{}: cost {ns}", artifact.kind);
    }
}

#[test]
fn a_wrong_plugin_fails_with_the_cases_named() {
    // The same flight rules plus 5,000 per person before markup: every priced flight
    // case comes back dearer, while refusals still match.
    let out = conform(Path::new(plugins::FLIGHT_SURCHARGE.path), &cases_path("flight"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("checks failed"));
    let cases = reference_case_file("flight");
    let mut failed = 0;
    for case in &cases.cases {
        if let pricing_sdk::testing::Expect::Price(want) = case.expect {
            let line = format!("FAIL    {}: expected price {want}, got price ", case.name);
            let got: i64 = stdout
                .split(&line)
                .nth(1)
                .and_then(|rest| rest.lines().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("missing `{line}N` in:\n{stdout}"));
            assert!(got >= want + 5_000, "{}: {got}", case.name);
            failed += 1;
        } else {
            assert!(stdout.contains(&format!("PASS    {}\n", case.name)), "{}: {stdout}", case.name);
        }
    }
    assert!(failed > 0);
    assert!(stdout.contains("result  FAIL: "), "{stdout}");
}

#[test]
fn a_plugin_of_another_kind_fails_the_whole_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let hotel = dir.path().join("hotel.wasm");
    std::fs::write(&hotel, plugins::reference("hotel").expect("hotel")).expect("writes");
    let out = conform(&hotel, &cases_path("flight"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL    the plugin prices the cases' kind: expected flight, got hotel"), "{stdout}");
    assert!(!stdout.contains("\ncost "), "no cost for another kind: {stdout}");
}

#[test]
fn an_unreadable_cases_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"kind": "flight", "cases": [], "surprise": 1}"#).expect("writes");
    let out = conform(Path::new(plugins::FLIGHT_SURCHARGE.path), &bad);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("is not a cases file") && stderr.contains("surprise"), "{stderr}");
}
