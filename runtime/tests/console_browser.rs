//! The operations console in a real browser: headless Chromium (Debian's `chromium`)
//! driven by `playwright-core` (`tests/browser/console.mjs`); `tests/browser/setup`
//! installs both when missing. On the example data the page shows a product's price
//! calendar as a chart with the right from-price marked; it refuses a change with no
//! token and with a wrong one (saying so, changing nothing); with the admin token it deploys
//! a flight version as a shadow, reprices, shows the shadow's diff report, promotes it,
//! then rolls it back; the engine's active version follows each step. The screenshots
//! are kept in `$CARGO_TARGET_DIR/tmp/console-screenshots/`.

mod common;

use std::path::Path;
use std::process::Command;

use common::http::get;
use common::process::Run;
use pricing_runtime::plugins;
use serde_json::Value;

const TOKEN: &str = "console-test-token-81d2";
const PRODUCT: &str = "P000001";

/// The cheapest available departure of `product` among the latest departure records,
/// as (minor units, city, date): what its from-price must be.
fn cheapest(departures: Vec<Value>, product: &str) -> (i64, String, String) {
    let mut latest: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
    for d in departures {
        if d["product"] == product {
            latest.insert(format!("{}:{}", d["city"], d["date"]), d);
        }
    }
    latest
        .values()
        .filter(|d| d["status"] == "available")
        .map(|d| {
            let field = |f: &str| d[f].as_str().expect("text").to_owned();
            (d["price"].as_i64().expect("a price"), field("city"), field("date"))
        })
        .min()
        .expect("an available departure")
}

#[test]
fn the_console_shows_a_calendar_and_rolls_a_rule_back() {
    let browser = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser");
    let setup = Command::new(browser.join("setup")).status().expect("runs tests/browser/setup");
    assert!(setup.success(), "tests/browser/setup failed ({setup}): Chromium and playwright-core are needed");

    let dir = tempfile::tempdir().expect("temp dir");
    let (mut run, addr) = Run::serve_examples(dir.path(), &[("PRICING_ADMIN_TOKEN", TOKEN)]);
    let data = dir.path().join("data");
    let (from, city, date) = cheapest(common::json_lines(&data.join("departure-prices.ndjson")), PRODUCT);
    assert_eq!((from, city.as_str(), date.as_str()), (363_800, "CAN", "2026-12-06"), "the examples' cheapest");

    // The page deploys this one (+50.00 per flight) as a shadow, then promotes it.
    let reference = get(addr, "/health").json["active"]["flight"].as_str().expect("flight is active").to_owned();
    let surcharge = plugins::FLIGHT_SURCHARGE.path;

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let url = format!("http://{addr}");
    let out = Command::new("node")
        .arg(browser.join("console.mjs"))
        // Each page step's limit: it catches a hang, not a slow machine (CI builds and
        // tests on 2 cores while this runs).
        .env("CONSOLE_STEP_TIMEOUT_MS", "30000")
        .args(["--url", &url, "--token", TOKEN, "--product", PRODUCT, "--from-minor", &from.to_string()])
        .args(["--kind", "flight", "--shadow-file", surcharge, "--screenshot"])
        .arg(&shots)
        .output()
        .expect("runs node");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser check failed ({}):\n{stderr}\nscreenshots: {}",
        out.status,
        shots.display()
    );
    // The steps and their timings (shown with --nocapture).
    eprintln!("{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result: Value = serde_json::from_str(stdout.lines().last().expect("a result line")).expect("JSON result");
    assert_eq!(result["ok"], true);
    assert_eq!(result["from_minor"], from);
    // The shadow: the uploaded version, compared on the repriced flight departures; the
    // surcharge changes every available one.
    let listing = get(addr, "/plugins");
    let flight =
        listing.json["kinds"].as_array().and_then(|k| k.iter().find(|k| k["kind"] == "flight")).expect("flight");
    let uploaded = flight["versions"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["uploader"] == "console"))
        .expect("the version the page deployed");
    let candidate = uploaded["id"].as_str().expect("an id");
    let shadow = &result["shadow"];
    assert_eq!(shadow["candidate"], candidate);
    let (compared, changed) = (shadow["compared"].as_u64().expect("n"), shadow["changed"].as_u64().expect("n"));
    assert!(changed > 0 && changed <= compared, "{shadow}");
    assert_eq!(result["active_before"], candidate, "the page showed the promoted version as active");
    assert_eq!(result["active_after"], reference.as_str(), "the page showed the rollback");

    // The engine agrees: promoted, then rolled back, both by the console.
    assert_eq!(get(addr, "/health").json["active"]["flight"], reference.as_str());
    let history = get(addr, "/plugins/flight/history");
    let steps: Vec<(&str, &str)> = history.json.as_array().expect("activations")[1..]
        .iter()
        .map(|a| (a["action"].as_str().expect("action"), a["who"].as_str().expect("who")))
        .collect();
    assert_eq!(steps, [("activate", "console"), ("rollback", "console")], "{}", history.text);

    for name in ["console-prices.png", "console-live.png", "console-shadow.png", "console-rules.png"] {
        let png = std::fs::read(shots.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{name} is a real screenshot");
    }
    run.kill();
}
