//! The reference kinds' conformance cases, generated from the Rust reference plugins:
//! each plugin's own pricing cases (`plugin_*::cases`) and, for a few bindings and
//! departures, the dependency keys its native rules give.

use pricing_sdk::conformance::{CaseDeparture, CaseFile, DependencyCase, ExpectKeys, PriceCase};
use pricing_sdk::testing::{Case, departure};
use pricing_sdk::{PricingRule, driver};
use serde_json::{Value, json};

/// The reference kinds.
pub const KINDS: [&str; 5] = ["flight", "hotel", "insurance", "cruise", "discount"];

/// Bindings each kind's dependencies are checked with: good ones and refused ones.
pub fn bindings(kind: &str) -> Vec<Value> {
    match kind {
        "flight" => vec![json!({"kind": "flight", "markup_bp": 300}), json!({"kind": "flight"}), json!([1])],
        "hotel" => vec![json!({"kind": "hotel", "hotel": "H88"}), json!({"kind": "hotel"}), json!({"hotel": 7})],
        "insurance" => vec![json!({"kind": "insurance", "plan": "basic"}), json!({"kind": "insurance"})],
        "cruise" => {
            vec![json!({"kind": "cruise", "ship": "SPIRIT", "cabin": "OV"}), json!({"kind": "cruise", "ship": "X"})]
        }
        "discount" => {
            vec![
                json!({"kind": "discount", "rules": ["EB30", "FULL200"]}),
                json!({"kind": "discount", "rules": "EB30"}),
            ]
        }
        other => panic!("no reference kind {other}"),
    }
}

/// The departures every binding is checked against.
pub fn departures() -> Vec<pricing_sdk::Departure> {
    vec![departure("SHA", "XMN", "2026-12-30", 3, 2), departure("PEK", "XMN", "2027-02-27", 4, 3)]
}

/// The cases file of a reference kind.
pub fn reference_case_file(kind: &str) -> CaseFile {
    match kind {
        "flight" => case_file::<plugin_flight::Flight>(&plugin_flight::cases::cases()),
        "hotel" => case_file::<plugin_hotel::Hotel>(&plugin_hotel::cases::cases()),
        "insurance" => case_file::<plugin_insurance::Insurance>(&plugin_insurance::cases::cases()),
        "cruise" => case_file::<plugin_cruise::Cruise>(&plugin_cruise::cases::cases()),
        "discount" => case_file::<plugin_discount::Discount>(&plugin_discount::cases::cases()),
        other => panic!("no reference kind {other}"),
    }
}

fn case_file<R: PricingRule>(cases: &[Case]) -> CaseFile {
    let meta = R::metadata();
    let mut dependencies = Vec::new();
    for binding in bindings(meta.kind) {
        for d in departures() {
            let keys = driver::dependencies::<R>(&binding.to_string(), std::slice::from_ref(&d))
                .map(|mut all| all.pop().unwrap_or_default());
            dependencies.push(DependencyCase {
                name: format!(
                    "{binding} for {} {}->{} {} nights {} pax",
                    d.date, d.city, d.destination, d.nights, d.pax
                ),
                binding: binding.clone(),
                departure: CaseDeparture::from(&d),
                expect: ExpectKeys::from_outcome(&keys),
            });
        }
    }
    CaseFile {
        kind: meta.kind.to_owned(),
        source: format!("generated from the Rust reference plugin {}@{}", meta.kind, meta.version),
        cases: cases.iter().map(PriceCase::from).collect(),
        dependencies,
    }
}

/// `examples/conformance/KIND.json`.
pub fn cases_path(kind: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../examples/conformance/{kind}.json"))
}

/// Runs `pricing conform PLUGIN examples/conformance/KIND.json --json` (no timing),
/// requires every check to pass, and returns the report.
pub fn passes(plugin: &std::path::Path, kind: &str) -> serde_json::Value {
    let cases = cases_path(kind);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pricing"))
        .arg("conform")
        .arg(plugin)
        .arg(&cases)
        .args(["--json", "--time-ms", "0"])
        .output()
        .expect("pricing conform runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
    let file: CaseFile = serde_json::from_str(&std::fs::read_to_string(&cases).expect("cases file")).expect("parses");
    // The kind, each pricing case, the one-batch check and each dependency case.
    assert_eq!(report["passed"], 1 + file.cases.len() + 1 + file.dependencies.len(), "{stdout}");
    assert_eq!(report["failed"], 0, "{stdout}");
    assert_eq!(report["plugin"]["kind"], kind, "{stdout}");
    report
}
