//! Over real HTTP: deploying with `activate=true`, rolling back and activating a stored
//! version each change what `GET /plugins` reports, the history, and the live set the
//! pipeline reads.

mod common;

use common::http::{TOKEN, active_hash, get, post, serve};
use pricing_runtime::plugins;

#[test]
fn deploy_activate_and_rollback_change_the_listing_and_the_live_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (registry, server) = serve(dir.path(), 16);
    let addr = server.local_addr();
    let live = registry.live().expect("live set");
    let live_flight = || live.load().get("flight").expect("flight").info().hash.clone();

    let health = get(addr, "/health");
    assert_eq!(health.status, 200, "{}", health.text);
    assert_eq!(health.json["status"], "ok");
    assert!(health.json["active"]["flight"].as_str().expect("flight").starts_with("flight@"));

    let before = get(addr, "/plugins");
    assert_eq!(before.status, 200, "{}", before.text);
    assert_eq!(before.json["kinds"].as_array().expect("kinds").len(), 5);
    let reference = active_hash(&before.json, "flight");
    assert_eq!(live_flight(), reference);

    // Deploy a new flight version and activate it in the same call.
    let variant = common::wasm_variant(plugins::reference("flight").expect("flight"), "v2");
    let deployed = post(addr, "/plugins?activate=true&kind=flight&who=alice", Some(TOKEN), &variant);
    assert_eq!(deployed.status, 201, "{}", deployed.text);
    assert_eq!(deployed.json["kind"], "flight");
    assert_eq!(deployed.json["active"], true);
    assert_eq!(deployed.json["uploader"], "alice");
    let v2 = deployed.json["hash"].as_str().expect("hash").to_owned();
    assert_ne!(v2, reference);
    let after = get(addr, "/plugins");
    assert_eq!(active_hash(&after.json, "flight"), v2);
    let flight = after.json["kinds"].as_array().expect("kinds").iter().find(|k| k["kind"] == "flight").cloned();
    assert_eq!(flight.expect("flight")["versions"].as_array().expect("versions").len(), 2);
    assert_eq!(live_flight(), v2, "the live set serves the deployed version");
    assert_eq!(active_hash(&after.json, "hotel"), active_hash(&before.json, "hotel"), "other kinds unchanged");

    // Roll back: the reference again.
    let rolled = post(addr, "/plugins/flight/rollback?who=bob&reason=bad%20fares", Some(TOKEN), b"");
    assert_eq!(rolled.status, 200, "{}", rolled.text);
    assert_eq!(rolled.json["hash"], reference.as_str());
    assert_eq!(active_hash(&get(addr, "/plugins").json, "flight"), reference);
    assert_eq!(live_flight(), reference);

    // Activate the stored v2 by hash, without uploading it again.
    let activated = post(addr, &format!("/plugins/flight/activate/{v2}"), Some(TOKEN), b"");
    assert_eq!(activated.status, 200, "{}", activated.text);
    assert_eq!(active_hash(&get(addr, "/plugins").json, "flight"), v2);
    assert_eq!(live_flight(), v2);

    // Deploying without activate stores the version and leaves the active one.
    let v3 = common::wasm_variant(plugins::reference("flight").expect("flight"), "v3");
    let stored = post(addr, "/plugins?activate=false", Some(TOKEN), &v3);
    assert_eq!(stored.status, 201, "{}", stored.text);
    assert_eq!(stored.json["active"], false);
    assert_eq!(active_hash(&get(addr, "/plugins").json, "flight"), v2);

    let history = get(addr, "/plugins/flight/history");
    assert_eq!(history.status, 200, "{}", history.text);
    let entries = history.json.as_array().expect("entries");
    let actions: Vec<&str> = entries.iter().map(|a| a["action"].as_str().expect("action")).collect();
    assert_eq!(actions, ["seed", "activate", "rollback", "activate"]);
    assert_eq!(entries[2]["who"], "bob");
    assert_eq!(entries[2]["why"], "bad fares");
    assert_eq!((entries[2]["from"].as_str(), entries[2]["to"].as_str()), (Some(v2.as_str()), Some(reference.as_str())));

    server.shutdown().expect("stops cleanly");
    assert!(std::net::TcpStream::connect(addr).is_err(), "no longer listening after shutdown");
}
