//! A new resource kind, `ticket` (attraction tickets), written in Python
//! (`plugins/ticket-py`, built with componentize-py), added to a running engine through
//! the admin API with no change to the host: before the deploy a product using it is
//! dead-lettered as an unknown kind; after it, the product and its ticket quotes are
//! priced, and the prices are the hand-computed ones. It also passes its conformance
//! cases (`examples/conformance/ticket.json`).

mod common;

use std::io::Write as _;
use std::path::Path;

use common::http::{TOKEN, post};
use common::process::Run;

const PRODUCT_SEQ1: &str = r#"{"id":"p-1","kind":"product","key":"P-TKT","op":"upsert","seq":1,"ts":"2026-12-01T09:00:00Z","data":{"name":"Xiamen Gulangyu 3D2N","destination":"XMN","currency":"CNY","nights":2,"pax":2,"departures":[{"city":"SHA","dates":["2027-01-10","2027-01-11","2027-01-12"]}],"components":[{"kind":"ticket","attraction":"GULANGYU","markup_bp":300}]}}"#;

/// The ticket quotes, and the product again (seq 2) once the kind exists.
const AFTER_DEPLOY: &[&str] = &[
    r#"{"id":"p-2","kind":"product","key":"P-TKT","op":"upsert","seq":2,"ts":"2026-12-01T09:01:00Z","data":{"name":"Xiamen Gulangyu 3D2N","destination":"XMN","currency":"CNY","nights":2,"pax":2,"departures":[{"city":"SHA","dates":["2027-01-10","2027-01-11","2027-01-12"]}],"components":[{"kind":"ticket","attraction":"GULANGYU","markup_bp":300}]}}"#,
    // 2027-01-10: one supplier, enough tickets.
    r#"{"id":"t-1","kind":"ticket","key":"GULANGYU/2027-01-10","supplier":"KLOOK","op":"upsert","seq":1,"ts":"2026-12-01T09:02:00Z","data":{"price":12050,"quota":10,"currency":"CNY"}}"#,
    // 2027-01-11: the cheaper supplier has 1 ticket left for 2 travellers.
    r#"{"id":"t-2","kind":"ticket","key":"GULANGYU/2027-01-11","supplier":"KLOOK","op":"upsert","seq":1,"ts":"2026-12-01T09:02:01Z","data":{"price":9900,"quota":1,"currency":"CNY"}}"#,
    r#"{"id":"t-3","kind":"ticket","key":"GULANGYU/2027-01-11","supplier":"TRIP","op":"upsert","seq":1,"ts":"2026-12-01T09:02:02Z","data":{"price":11000,"quota":2,"currency":"CNY"}}"#,
    // Refused by the plugin: the quota is not a count.
    r#"{"id":"t-bad","kind":"ticket","key":"GULANGYU/2027-01-12","supplier":"TRIP","op":"upsert","seq":1,"ts":"2026-12-01T09:02:03Z","data":{"price":8000,"quota":"plenty","currency":"CNY"}}"#,
    // 2027-01-10 sells down to 1 ticket: no longer enough for 2.
    r#"{"id":"t-4","kind":"ticket","key":"GULANGYU/2027-01-10","supplier":"KLOOK","op":"upsert","seq":2,"ts":"2026-12-01T09:03:00Z","data":{"price":12050,"quota":1,"currency":"CNY"}}"#,
];

fn dead_letters(data: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(data.join("dlq.ndjson")).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).expect("JSON dead letter")).collect()
}

#[test]
fn a_python_plugin_deployed_while_running_prices_a_new_kind() {
    let ticket = std::fs::read(&common::foreign::build().ticket).expect("reads ticket.wasm");
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut run = Run::spawn_fed(
        ["run", "-", "--batch-size", "1", "--admin-listen", "127.0.0.1:0", "--data"]
            .iter()
            .map(std::ffi::OsStr::new)
            .chain([data.as_os_str()]),
        &[("PRICING_ADMIN_TOKEN", TOKEN)],
        dir.path().join("pricing.log"),
    );
    let addr = run.admin_addr();
    let mut stdin = run.child.stdin.take().expect("stdin piped");

    // No plugin prices `ticket` yet: the product is dead-lettered, nothing is priced.
    writeln!(stdin, "{PRODUCT_SEQ1}").expect("writes");
    stdin.flush().expect("flushes");
    run.wait_until("the unknown-kind dead letter", || !dead_letters(&data).is_empty());
    let first = &dead_letters(&data)[0];
    assert!(first["reason"].as_str().is_some_and(|r| r.contains("ticket")), "{first}");
    assert!(std::fs::read_to_string(data.join("departure-prices.ndjson")).unwrap_or_default().is_empty());

    // Deploy and activate the Python plugin through the admin API, engine running.
    let deployed = post(addr, "/plugins?activate=true&who=python-test", Some(TOKEN), &ticket);
    assert_eq!(deployed.status, 201, "{}", deployed.text);
    assert_eq!(deployed.json["kind"], "ticket", "{}", deployed.text);
    assert_eq!(deployed.json["active"], true, "{}", deployed.text);

    for line in AFTER_DEPLOY {
        writeln!(stdin, "{line}").expect("writes");
    }
    drop(stdin); // the end of the input: the run finishes and exits
    let counters = run.finish();
    let dead: u64 = counters["dead_letters"].as_object().expect("counts").values().filter_map(|v| v.as_u64()).sum();
    assert_eq!(dead, 2, "{counters}");

    // Hand-checked, per person: the component is the cheapest price with quota >= pax
    // (2), plus the 300 bp markup rounded up to the fen, and the departure total rounded
    // up to a whole yuan (100 fen). Batches of one event: every record in order, with a
    // new version whenever the status, the price or the reason changes.
    let records: Vec<(String, u64, String, Option<i64>, String)> =
        std::fs::read_to_string(data.join("departure-prices.ndjson"))
            .expect("output")
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON record"))
            .map(|r| {
                assert!(r["rules"]["ticket"].as_str().is_some_and(|id| id.starts_with("ticket@1.0.0+")), "{r}");
                let text = |f: &str| r[f].as_str().unwrap_or("").to_owned();
                (
                    text("date"),
                    r["version"].as_u64().expect("version"),
                    text("status"),
                    r["price"].as_i64(),
                    text("cause"),
                )
            })
            .collect();
    let want: Vec<(String, u64, String, Option<i64>, String)> = [
        // The product (seq 2): no quotes yet, every departure unavailable.
        ("2027-01-10", 1, "unavailable", None, "p-2"),
        ("2027-01-11", 1, "unavailable", None, "p-2"),
        ("2027-01-12", 1, "unavailable", None, "p-2"),
        // 12050 * 1.03 = 12411.5 -> 12412 -> 12500.
        ("2027-01-10", 2, "available", Some(12_500), "t-1"),
        // KLOOK's 9900 has quota 1 < 2: still unavailable, for another reason.
        ("2027-01-11", 2, "unavailable", None, "t-2"),
        // TRIP's 11000 with quota 2: 11000 * 1.03 = 11330 -> 11400.
        ("2027-01-11", 3, "available", Some(11_400), "t-3"),
        // (t-bad is refused: 2027-01-12 keeps no quote and is not re-priced.)
        // KLOOK sells down to quota 1 < 2.
        ("2027-01-10", 3, "unavailable", None, "t-4"),
    ]
    .into_iter()
    .map(|(d, v, s, p, c)| (d.to_owned(), v, s.to_owned(), p, c.to_owned()))
    .collect();
    assert_eq!(records, want);

    let refused = dead_letters(&data);
    assert_eq!(refused.len(), 2);
    assert!(refused[1]["reason"].as_str().is_some_and(|r| r.contains("quota")), "{}", refused[1]);
}

#[test]
fn passes_the_ticket_conformance_cases() {
    let report = common::conformance::passes(&common::foreign::build().ticket, "ticket");
    assert_eq!(report["plugin"]["id"].as_str().map(|id| id.starts_with("ticket@1.0.0+")), Some(true));
}
