//! `/metrics` and `/ready` on a running engine: after the example events are consumed the
//! endpoint parses as Prometheus text, and its counters equal what the run wrote (input
//! lines per kind, dead letters per reason, output records per output, plugin calls per
//! version) and what the API reports as active.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use common::http::get;
use common::process::Run;
use prometheus_parse::{Scrape, Value};

/// Every sample of `name` whose labels include `labels`, summed.
fn sum(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(_) | Value::Summary(_) => panic!("{name} is not a single value"),
        })
        .sum()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_metrics_count_what_the_run_did() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/events.ndjson");
    let (mut run, addr) = Run::serve_examples(dir.path(), &[]);

    let ready = get(addr, "/ready");
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(ready.json["ready"], true);

    let answer = get(addr, "/metrics");
    assert_eq!(answer.status, 200, "{}", answer.text);
    let text = answer.text.clone();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text");
    let health = get(addr, "/health");
    run.kill();

    // Input: every line counted once, under its kind, with its outcome.
    let input = lines(&events);
    let mut per_kind: BTreeMap<String, f64> = BTreeMap::new();
    for line in &input {
        let kind = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v["kind"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "none".into());
        *per_kind.entry(kind).or_default() += 1.0;
    }
    assert_eq!(sum(&scrape, "pricing_events_total", &[]), input.len() as f64);
    for (kind, n) in &per_kind {
        assert_eq!(sum(&scrape, "pricing_events_total", &[("kind", kind)]), *n, "events of kind {kind}");
    }

    // Outputs: as many as the files hold.
    let dlq = lines(&data.join("dlq.ndjson"));
    let departures = lines(&data.join("departure-prices.ndjson"));
    let products = lines(&data.join("product-prices.ndjson"));
    assert!(!dlq.is_empty() && !departures.is_empty() && !products.is_empty());
    assert_eq!(sum(&scrape, "pricing_events_total", &[("outcome", "dead_lettered")]), dlq.len() as f64);
    assert_eq!(sum(&scrape, "pricing_dead_letters_total", &[]), dlq.len() as f64);
    let mut reasons: BTreeMap<String, f64> = BTreeMap::new();
    for d in &dlq {
        let v: serde_json::Value = serde_json::from_str(d).expect("dead letter JSON");
        *reasons.entry(v["reason_class"].as_str().expect("reason_class").to_owned()).or_default() += 1.0;
    }
    for (reason, n) in &reasons {
        assert_eq!(sum(&scrape, "pricing_dead_letters_total", &[("reason", reason)]), *n, "reason {reason}");
    }
    let output = |o: &str| sum(&scrape, "pricing_output_records_total", &[("output", o)]);
    assert_eq!(output("departure-prices"), departures.len() as f64);
    assert_eq!(output("product-prices"), products.len() as f64);
    assert_eq!(output("dlq"), dlq.len() as f64);
    // Each names where it went: its file in the data folder.
    for (o, file) in [
        ("departure-prices", "departure-prices.ndjson"),
        ("product-prices", "product-prices.ndjson"),
        ("dlq", "dlq.ndjson"),
    ] {
        assert_eq!(sum(&scrape, "pricing_output_records_total", &[("output", o), ("topic", file)]), output(o), "{o}");
    }
    // Every departure record here was caused by an event: one freshness sample each.
    assert_eq!(sum(&scrape, "pricing_event_to_price_seconds_count", &[]), departures.len() as f64);

    // Batches and their latency histogram agree.
    let batches = sum(&scrape, "pricing_batches_total", &[]);
    assert!(batches >= 1.0);
    assert_eq!(sum(&scrape, "pricing_batch_duration_seconds_count", &[]), batches);
    assert!(sum(&scrape, "pricing_departures_priced_total", &[]) >= departures.len() as f64);
    // The second batch re-prices departures whose other components it did not change.
    assert!(sum(&scrape, "pricing_components_reused_total", &[]) > 0.0, "{text}");

    // Plugins: the five reference kinds were called, each call timed, each active.
    let versions: BTreeMap<String, String> = health.json["active"]
        .as_object()
        .expect("active versions")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("id").to_owned()))
        .collect();
    assert_eq!(versions.len(), 5, "{}", health.text);
    for (kind, version) in &versions {
        let labels = [("kind", kind.as_str()), ("version", version.as_str())];
        let calls = sum(&scrape, "pricing_plugin_calls_total", &labels);
        assert!(calls >= 1.0, "{kind}: no calls");
        assert_eq!(sum(&scrape, "pricing_plugin_call_duration_seconds_count", &labels), calls, "{kind}");
        assert!(sum(&scrape, "pricing_plugin_departures_total", &labels) >= calls, "{kind}");
        assert_eq!(sum(&scrape, "pricing_plugin_failures_total", &labels), 0.0, "{kind}");
        assert_eq!(sum(&scrape, "pricing_plugin_active", &labels), 1.0, "{kind} {version} active");
    }
    assert!(sum(&scrape, "pricing_state_size_bytes", &[]) > 0.0);
    for name in
        ["pricing_events", "pricing_batch_duration_seconds", "pricing_plugin_active", "pricing_state_size_bytes"]
    {
        assert!(scrape.docs.contains_key(name), "no HELP for {name}");
    }

    // The example Grafana dashboard asks only for metrics the engine serves.
    let dashboard =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/grafana-dashboard.json"))
            .expect("the dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).expect("dashboard JSON");
    let mut asked = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            for word in
                expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("pricing_"))
            {
                let family = ["_bucket", "_count", "_sum", "_total"]
                    .iter()
                    .find_map(|suffix| word.strip_suffix(suffix))
                    .unwrap_or(word);
                // The lag exists only on the Kafka source (kafka_* tests and benches).
                let kafka_only = family == "pricing_kafka_consumer_lag_records";
                assert!(
                    kafka_only || text.contains(&format!("# TYPE {family} ")),
                    "the dashboard asks for {word}, not served"
                );
                asked += 1;
            }
        }
    }
    assert!(asked >= 10, "the dashboard uses {asked} metrics");
}

#[test]
fn ready_waits_for_state_and_source() {
    let dir = tempfile::tempdir().expect("temp dir");
    let registry = std::sync::Arc::new(
        pricing_runtime::registry::Registry::open(dir.path(), std::sync::Arc::new(common::host())).expect("registry"),
    );
    let ops = common::http::ops(std::sync::Arc::clone(&registry));
    let config = pricing_runtime::admin::AdminConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..pricing_runtime::admin::AdminConfig::default()
    };
    let admin = pricing_runtime::admin::serve(&config, std::sync::Arc::clone(&ops)).expect("admin API starts");
    let addr = admin.local_addr();

    assert_eq!(get(addr, "/health").status, 200, "the process is up");
    let before = get(addr, "/ready");
    assert_eq!(before.status, 503, "{}", before.text);
    assert_eq!((before.json["state"].as_bool(), before.json["plugins"].as_bool()), (Some(false), Some(true)));
    ops.set_ready(pricing_runtime::ops::ReadyPart::State, true);
    assert_eq!(get(addr, "/ready").status, 503, "the source is not connected yet");
    ops.set_ready(pricing_runtime::ops::ReadyPart::Source, true);
    let after = get(addr, "/ready");
    assert_eq!(after.status, 200, "{}", after.text);
    assert_eq!(after.json["ready"], true);
}
