//! `pricing run --serve` and `pricing admin ...` end to end, as an operator uses them:
//! the engine consumes the example events and keeps serving; the CLI lists versions,
//! reprices (following the job), shadows a candidate while a reprice feeds it traffic,
//! promotes it, price-rolls it back, and is refused without the token.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const TOKEN: &str = "cli-test-token";

/// The engine, serving; killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path) -> Server {
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/events.ndjson");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pricing"))
        .arg("run")
        .arg(&events)
        .arg("--data")
        .arg(data)
        .args(["--admin-listen", "127.0.0.1:0", "--serve"])
        .env("PRICING_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pricing run starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines.next().expect("pricing run says it serves").expect("stderr line");
        if let Some(rest) = line.split("serving the admin API on ").nth(1) {
            break rest.split_whitespace().next().expect("url").to_owned();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, url }
}

/// Runs `pricing admin --url URL [--token TOKEN] ARGS`; returns (success, stdout JSON, stderr).
fn admin(server: &Server, token: Option<&str>, args: &[&str]) -> (bool, serde_json::Value, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pricing"));
    cmd.args(["admin", "--url", &server.url, "--who", "cli-test"]).env_remove("PRICING_ADMIN_TOKEN");
    if let Some(t) = token {
        cmd.args(["--token", t]);
    }
    let out = cmd.args(args).output().expect("pricing admin runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (out.status.success(), json, String::from_utf8_lossy(&out.stderr).to_string())
}

fn ok(server: &Server, args: &[&str]) -> serde_json::Value {
    let (success, json, stderr) = admin(server, Some(TOKEN), args);
    assert!(success, "pricing admin {args:?} failed: {stderr}");
    json
}

/// The last emitted (status, price) of every departure, from the output file.
fn latest(data: &Path) -> BTreeMap<String, (String, Option<i64>, u64)> {
    let text = std::fs::read_to_string(data.join("departure-prices.ndjson")).expect("output file");
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON record");
        let key = format!(
            "{}:{}:{}",
            v["product"].as_str().unwrap_or(""),
            v["city"].as_str().unwrap_or(""),
            v["date"].as_str().unwrap_or("")
        );
        let version = v["version"].as_u64().expect("version");
        if let Some((_, _, prev)) = out.get(&key) {
            assert!(version > *prev, "{key}: version {version} after {prev}");
        }
        out.insert(key, (v["status"].as_str().unwrap_or("").to_owned(), v["price"].as_i64(), version));
    }
    out
}

fn prices(latest: &BTreeMap<String, (String, Option<i64>, u64)>) -> BTreeMap<String, (String, Option<i64>)> {
    latest.iter().map(|(k, (s, p, _))| (k.clone(), (s.clone(), *p))).collect()
}

#[test]
fn an_operator_drives_a_serving_engine_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = serve(&data);

    let listing = ok(&server, &["list"]);
    assert_eq!(listing["kinds"].as_array().map(Vec::len), Some(5), "{listing}");

    // Reprice, followed to the end.
    let job = ok(&server, &["reprice", "flight"]);
    assert_eq!(job["state"], "done", "{job}");
    let total = job["total"].as_u64().expect("total");
    assert!(total > 0 && job["done"] == total, "{job}");
    assert_eq!(job["emitted"], 0, "the same rules change no price: {job}");
    let before = prices(&latest(&data));

    // A shadow of the surcharge release, fed by a reprice (the stream is idle).
    let surcharge = pricing_runtime::plugins::FLIGHT_SURCHARGE.path;
    let started = ok(&server, &["shadow", "start", "flight", surcharge]);
    let hash = started["candidate"]["hash"].as_str().expect("candidate hash").to_owned();
    ok(&server, &["reprice", "flight"]);
    let report = ok(&server, &["shadow", "report", "flight"]);
    assert_eq!(report["compared"], total, "{report}");
    assert!(report["changed"].as_u64().expect("changed") > 0, "{report}");
    assert_eq!(prices(&latest(&data)), before, "nothing of the shadow was emitted");

    // Promote it, and spread it.
    let promoted = ok(&server, &["shadow", "promote", "flight"]);
    assert_eq!(promoted["activated"]["hash"], hash.as_str());
    let job = ok(&server, &["reprice", "flight"]);
    assert!(job["emitted"].as_u64().expect("emitted") > 0, "{job}");
    assert_ne!(prices(&latest(&data)), before);

    // Price rollback of the release: the earlier prices, as new versions.
    let job = ok(&server, &["price-rollback", "flight", &hash]);
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(prices(&latest(&data)), before, "price rollback restores the prices");
    let jobs = ok(&server, &["jobs"]);
    assert_eq!(jobs.as_array().map(Vec::len), Some(4), "{jobs}");

    // Without the token, changes are refused with the reason; reads work.
    let (success, _, stderr) = admin(&server, None, &["rollback", "flight"]);
    assert!(!success && stderr.contains("401") && stderr.contains("bearer token"), "{stderr}");
    let health = ok(&server, &["health"]);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["auto_rollbacks"], 0);
    let (success, _, stderr) = admin(&server, Some(TOKEN), &["reprice", "boat"]);
    assert!(!success && stderr.contains("404"), "{stderr}");
}
