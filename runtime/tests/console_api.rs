//! The operations console's JSON and files on a running engine: after the example
//! events, product search, calendars, histories, the timeline, the dead letters and the
//! rules answer exactly what the run wrote and counted; the page and its chart library
//! are served from the binary; price queries answer 503 until the state is open.

mod common;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use common::http::get;
use common::json_lines;
use common::process::Run;
use serde_json::Value;

/// A GET by hand, for the answer's head (the test client keeps only the body).
fn raw_get(addr: SocketAddr, path: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connects");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").expect("sends");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("reads");
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("a head");
    (String::from_utf8_lossy(&answer[..split]).to_lowercase(), answer[split + 4..].to_vec())
}

/// The value of the unlabelled sample `name` in Prometheus text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

#[test]
fn the_console_api_answers_what_the_run_wrote() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut run, addr) = Run::serve_examples(dir.path(), &[]);
    let data = dir.path().join("data");
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/events.ndjson");
    let input = std::fs::read_to_string(&events).expect("examples").lines().filter(|l| !l.trim().is_empty()).count();
    let departures = json_lines(&data.join("departure-prices.ndjson"));
    let products = json_lines(&data.join("product-prices.ndjson"));
    let dlq = json_lines(&data.join("dlq.ndjson"));
    assert!(!departures.is_empty() && !products.is_empty() && !dlq.is_empty(), "the examples price and refuse");

    // Expected from the output files: the last record of each product and departure,
    // and every version of each departure in order.
    let mut latest_product: BTreeMap<String, Value> = BTreeMap::new();
    for p in &products {
        latest_product.insert(p["product"].as_str().expect("product").to_owned(), p.clone());
    }
    let mut versions: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for d in &departures {
        let key = format!(
            "{}:{}:{}",
            d["product"].as_str().expect("p"),
            d["city"].as_str().expect("c"),
            d["date"].as_str().expect("d")
        );
        versions.entry(key).or_default().push(d.clone());
    }

    // Search: case-insensitive, in key order, limited.
    let found = get(addr, "/api/products?q=p00000&limit=3");
    assert_eq!(found.status, 200, "{}", found.text);
    let keys: Vec<&str> =
        found.json.as_array().expect("a list").iter().map(|p| p["product"].as_str().expect("key")).collect();
    let expected: Vec<&str> =
        latest_product.keys().filter(|k| k.contains("P00000")).take(3).map(String::as_str).collect();
    assert_eq!(keys, expected);
    let everything = get(addr, "/api/products?limit=200");
    assert_eq!(everything.json.as_array().expect("a list").len(), latest_product.len());
    assert_eq!(get(addr, "/api/products?bogus=1").status, 400, "unknown parameters are refused");

    // Each product's calendar: its latest starting prices and its departures' latest
    // versions, record for record.
    for (product, from) in &latest_product {
        let calendar = get(addr, &format!("/api/products/{product}/calendar"));
        assert_eq!(calendar.status, 200, "{product}: {}", calendar.text);
        assert_eq!(&calendar.json["from"], from, "{product}'s starting prices");
        let expected: Vec<&Value> = versions
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{product}:")))
            .map(|(_, v)| v.last().expect("a version"))
            .collect();
        let got: Vec<&Value> = calendar.json["departures"].as_array().expect("departures").iter().collect();
        assert_eq!(got, expected, "{product}'s departures");
    }
    assert_eq!(get(addr, "/api/products/NO-SUCH-PRODUCT/calendar").status, 404);

    // Every departure's history: all its versions, oldest first.
    for (key, expected) in &versions {
        let history = get(addr, &format!("/api/departures/{key}/history"));
        assert_eq!(history.status, 200, "{key}: {}", history.text);
        assert_eq!(history.json.as_array().expect("versions"), expected, "{key}'s history");
    }
    let missing = get(addr, "/api/departures/P000001:XXX:2026-12-01/history");
    assert_eq!(missing.status, 404);
    assert!(missing.error().contains("PRODUCT:CITY:DATE"), "{}", missing.error());

    // The timeline counts every input event, departure pricing and dead letter.
    let live = get(addr, "/api/live");
    assert_eq!(live.status, 200, "{}", live.text);
    let seconds = live.json["bucket_seconds"].as_f64().expect("bucket size");
    let points = live.json["points"].as_array().expect("points");
    assert_eq!(points.len(), 180, "15 minutes of 5 s points");
    let total = |field: &str| points.iter().map(|p| p[field].as_f64().unwrap_or(0.0)).sum::<f64>();
    assert_eq!((total("events_per_second") * seconds).round() as usize, input);
    assert_eq!(total("dead_letters") as usize, dlq.len());
    let metrics = get(addr, "/metrics").text;
    let priced = metric(&metrics, "pricing_departures_priced_total");
    assert_eq!((total("departures_per_second") * seconds).round(), priced);
    let with_freshness = points.iter().filter(|p| p["freshness_p50_ms"].is_number()).count();
    assert!(with_freshness >= 1, "the run's departure records give freshness points");
    for p in points.iter().filter(|p| p["freshness_p50_ms"].is_number()) {
        assert!(p["freshness_p50_ms"].as_f64() <= p["freshness_p99_ms"].as_f64(), "p50 <= p99: {p}");
    }

    // The latest dead letters, newest first, as the dlq output wrote them.
    let letters = get(addr, "/api/dead-letters");
    let newest_first: Vec<Value> = dlq.iter().rev().take(100).cloned().collect();
    assert_eq!(letters.json.as_array().expect("dead letters"), &newest_first);

    // Rules: each kind's active version, with figures equal to the Prometheus counters.
    let rules = get(addr, "/api/rules");
    assert_eq!(rules.status, 200, "{}", rules.text);
    let kinds = rules.json["kinds"].as_array().expect("kinds");
    assert_eq!(kinds.len(), 5, "the five reference kinds");
    for k in kinds {
        let active = k["active"].as_str().expect("an active version");
        let version = k["versions"].as_array().expect("versions").iter().find(|v| v["active"] == true).expect("one");
        assert_eq!(version["id"], active);
        let calls = metrics
            .lines()
            .find(|l| l.starts_with("pricing_plugin_calls_total{") && l.contains(&format!("version=\"{active}\"")))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no calls of {active} in the metrics"));
        assert_eq!(version["figures"]["calls"].as_f64(), Some(calls), "{active}");
        assert_eq!((version["figures"]["failures"].as_u64(), version["figures"]["traps"].as_u64()), (Some(0), Some(0)));
        assert!(version["figures"]["mean_ms"].as_f64() <= version["figures"]["max_ms"].as_f64());
        assert!(k["shadow"].is_null());
    }

    // The page and its files, from the binary.
    let (head, page) = raw_get(addr, "/console");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(head.contains("content-security-policy: default-src 'self'"), "{head}");
    let page = String::from_utf8(page).expect("utf-8");
    for needed in ["/console/app.js", "/console/uPlot.iife.min.js", "id=\"calendar-chart\"", "id=\"rules-table\""] {
        assert!(page.contains(needed), "the page lacks {needed}");
    }
    let (head, chart) = raw_get(addr, "/console/uPlot.iife.min.js");
    assert!(head.contains("content-type: text/javascript"), "{head}");
    assert!(chart.len() > 20_000 && String::from_utf8_lossy(&chart).contains("uPlot"), "the chart library");
    let (head, license) = raw_get(addr, "/console/uPlot-LICENSE.txt");
    assert!(head.starts_with("http/1.1 200") && String::from_utf8_lossy(&license).contains("MIT"), "{head}");
    assert!(raw_get(addr, "/console/nothing.js").0.starts_with("http/1.1 404"));
    let (head, _) = raw_get(addr, "/");
    assert!(head.contains("location: /console"), "{head}");
    run.kill();
}

#[test]
fn price_queries_wait_for_the_state() {
    let dir = tempfile::tempdir().expect("temp dir");
    // An admin server over operations whose state never opened.
    let (_registry, admin) = common::http::serve(dir.path(), 16);
    let addr = admin.local_addr();
    for path in ["/api/products", "/api/products/P1/calendar", "/api/departures/P1:A:2026-01-01/history"] {
        let answer = get(addr, path);
        assert_eq!(answer.status, 503, "{path}: {}", answer.text);
        assert_eq!(answer.error(), "the state is not open yet");
    }
    let live = get(addr, "/api/live");
    assert_eq!(live.status, 200);
    assert!(live.json["points"].as_array().expect("points").iter().all(|p| p["events_per_second"] == 0.0));
    assert_eq!(get(addr, "/api/dead-letters").json, serde_json::json!([]));
    let rules = get(addr, "/api/rules");
    assert_eq!(rules.status, 200, "{}", rules.text);
}
