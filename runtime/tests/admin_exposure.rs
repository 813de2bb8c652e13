//! The admin API refuses to start on a non-loopback address without a token, and
//! listens on loopback by default.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use pricing_runtime::admin::{AdminConfig, AdminError, TOKEN_ENV, serve};
use pricing_runtime::registry::Registry;

#[test]
fn a_non_loopback_address_without_a_token_is_refused() {
    assert!(AdminConfig::default().listen.ip().is_loopback(), "loopback by default");
    // The environment's token would stand in for the missing one: run the tests without it.
    assert!(std::env::var_os(TOKEN_ENV).is_none(), "unset {TOKEN_ENV} to run this test (.ci/run does)");
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = Arc::new(Registry::open(dir.path(), Arc::new(common::host())).expect("opens"));
    for listen in ["0.0.0.0:0", "[::]:0", "192.0.2.10:8080"] {
        let listen: SocketAddr = listen.parse().expect("address");
        for token in [None, Some(String::new()), Some("   ".to_owned())] {
            let config = AdminConfig { listen, token: token.clone(), ..AdminConfig::default() };
            let err = serve(&config, common::http::ops(Arc::clone(&registry))).err().expect("refused");
            assert!(matches!(err, AdminError::ExposedWithoutToken(a) if a == listen), "{err}");
            assert!(err.to_string().contains("without a token"), "{err}");
        }
    }
    // With a token the same address is allowed.
    let config = AdminConfig {
        listen: "0.0.0.0:0".parse().expect("address"),
        token: Some("s3cret".into()),
        ..AdminConfig::default()
    };
    serve(&config, common::http::ops(registry)).expect("served with a token").shutdown().expect("stops");
}

#[test]
fn the_config_section_refuses_unknown_fields_and_hides_the_token() {
    let config: AdminConfig = toml::from_str("listen = \"127.0.0.1:9000\"\ntoken = \"abc\"\n").expect("parses");
    assert_eq!(config.listen, "127.0.0.1:9000".parse().expect("address"));
    assert_eq!(config.max_upload_mib, 64, "defaults fill the rest");
    assert!(!format!("{config:?}").contains("abc"), "Debug must not print the token");
    let err = toml::from_str::<AdminConfig>("tokn = \"abc\"\n").expect_err("unknown field");
    assert!(err.to_string().contains("tokn"), "{err}");
}
