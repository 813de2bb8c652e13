//! Every mutating admin call needs the bearer token: missing or wrong, it is refused
//! with 401 and changes nothing. Reads need no token.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::http::{TOKEN, active_hash, get, post, serve};
use pricing_runtime::admin::{AdminConfig, TOKEN_ENV};
use pricing_runtime::plugins;
use pricing_runtime::registry::Registry;

#[test]
fn missing_or_wrong_token_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (registry, server) = serve(dir.path(), 16);
    let addr = server.local_addr();
    let before = get(addr, "/plugins");
    assert_eq!(before.status, 200, "reads need no token: {}", before.text);
    let reference = active_hash(&before.json, "flight");

    // A second version exists, so activate and rollback would change something if allowed.
    let variant = common::wasm_variant(plugins::reference("flight").expect("flight"), "v2");
    let stored = registry.deploy(&variant, Some("flight"), "setup", false).expect("deploys");

    // The upload's body is not a component: refused with 401, not 422, shows the token is
    // checked before the body is even read (a small body, so the unread rest cannot
    // reset the connection before the answer arrives).
    let calls = [
        ("/plugins?activate=true".to_owned(), b"\0asm".to_vec()),
        (format!("/plugins/flight/activate/{}", stored.hash), Vec::new()),
        ("/plugins/flight/rollback".to_owned(), Vec::new()),
        (format!("/plugins/flight/shadow?hash={}", stored.hash), Vec::new()),
        ("/plugins/flight/shadow/promote".to_owned(), Vec::new()),
        ("/plugins/flight/shadow/drop".to_owned(), Vec::new()),
        ("/plugins/flight/reprice".to_owned(), Vec::new()),
        (format!("/plugins/flight/price-rollback/{}", stored.hash), Vec::new()),
    ];
    for (path, body) in &calls {
        for (token, why) in [(None, "missing"), (Some("not-the-token"), "wrong"), (Some(""), "missing")] {
            let r = post(addr, path, token, body);
            assert_eq!(r.status, 401, "{path} with {token:?}: {}", r.text);
            assert!(r.error().contains(why), "{path}: {}", r.error());
        }
    }
    assert_eq!(active_hash(&get(addr, "/plugins").json, "flight"), reference);
    assert_eq!(registry.history("flight").expect("history").len(), 1, "no activation recorded");
    let jobs = get(addr, "/jobs");
    assert_eq!((jobs.status, jobs.json.as_array().map(Vec::len)), (200, Some(0)), "no job queued: {}", jobs.text);
    assert_eq!(get(addr, "/plugins/flight/shadow").status, 404, "no shadow started");

    // The right token is accepted.
    let ok = post(addr, &format!("/plugins/flight/activate/{}", stored.hash), Some(TOKEN), b"");
    assert_eq!(ok.status, 200, "{}", ok.text);
}

#[test]
fn with_no_token_configured_changes_are_refused() {
    // The environment's token would stand in for the missing one: run the tests without it.
    assert!(std::env::var_os(TOKEN_ENV).is_none(), "unset {TOKEN_ENV} to run this test (.ci/run does)");
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = Arc::new(Registry::open(dir.path(), Arc::new(common::host())).expect("opens"));
    let config = AdminConfig { listen: SocketAddr::from(([127, 0, 0, 1], 0)), ..AdminConfig::default() };
    let server = pricing_runtime::admin::serve(&config, common::http::ops(registry))
        .expect("loopback without a token serves reads");
    let addr = server.local_addr();
    assert_eq!(get(addr, "/plugins").status, 200);
    let r = post(addr, "/plugins/flight/rollback", Some("anything"), b"");
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.error().contains("no admin token is configured"), "{}", r.error());
}
