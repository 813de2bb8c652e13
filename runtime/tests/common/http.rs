//! Admin API calls for the tests, through the library's own client
//! ([`pricing_runtime::admin::client`]), and a test server.

use std::net::SocketAddr;

use pricing_runtime::admin::client::Client;
pub use pricing_runtime::admin::client::Response;

/// Sends one request. `token` becomes `Authorization: Bearer TOKEN`.
pub fn request(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Response {
    Client::new(addr, token.map(str::to_owned)).request(method, path, body).expect("an HTTP answer")
}

/// GET without a token.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, None, b"")
}

/// POST with a token.
pub fn post(addr: SocketAddr, path: &str, token: Option<&str>, body: &[u8]) -> Response {
    request(addr, "POST", path, token, body)
}

/// The token the admin test servers use.
pub const TOKEN: &str = "test-token-5f1c";

/// A registry in `dir` and an admin server over it on a free loopback port, with
/// [`TOKEN`] and the given upload limit.
pub fn serve(
    dir: &std::path::Path,
    max_upload_mib: u64,
) -> (std::sync::Arc<pricing_runtime::registry::Registry>, pricing_runtime::admin::AdminHandle) {
    use pricing_runtime::admin::{AdminConfig, serve};
    use pricing_runtime::registry::Registry;
    let registry = std::sync::Arc::new(
        Registry::open(dir, std::sync::Arc::new(super::host()))
            .expect("registry opens")
            .with_max_upload_bytes(usize::try_from(max_upload_mib << 20).expect("fits")),
    );
    let config = AdminConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        token: Some(TOKEN.into()),
        max_upload_mib,
        ..AdminConfig::default()
    };
    let handle = serve(&config, ops(std::sync::Arc::clone(&registry))).expect("admin API starts");
    (registry, handle)
}

/// Operations over `registry` with the default settings.
pub fn ops(
    registry: std::sync::Arc<pricing_runtime::registry::Registry>,
) -> std::sync::Arc<pricing_runtime::ops::Operations> {
    std::sync::Arc::new(pricing_runtime::ops::Operations::new(pricing_runtime::ops::OpsConfig::default(), registry))
}

/// The active hash of `kind` in a `GET /plugins` answer.
pub fn active_hash(listing: &serde_json::Value, kind: &str) -> String {
    listing["kinds"]
        .as_array()
        .expect("kinds")
        .iter()
        .find(|k| k["kind"] == kind)
        .and_then(|k| k["active"].as_str())
        .unwrap_or_else(|| panic!("no active {kind} in {listing}"))
        .to_owned()
}
