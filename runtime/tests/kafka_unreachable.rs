//! A broker that cannot be reached at start is a clear error within the configured
//! timeout, not a hang.

#![cfg(unix)]

mod common;

use std::time::{Duration, Instant};

use common::process::run_config;

#[test]
fn an_unreachable_broker_fails_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let toml = dir.path().join("kafka.toml");
    let data = dir.path().join("data");
    std::fs::write(
        &toml,
        format!("data = {data:?}\n[admin]\nenabled = false\n[kafka]\nbrokers = \"127.0.0.1:{port}\"\nconnect_timeout_ms = 2000\n"),
    )
    .expect("config");
    let started = Instant::now();
    let (status, log) = run_config(&toml, false, dir.path().join("run.log")).wait();
    let took = started.elapsed();
    assert!(!status.success(), "started without a broker:\n{log}");
    assert!(log.contains(&format!("cannot reach the Kafka brokers at 127.0.0.1:{port} within 2000 ms")), "{log}");
    // Plugin compilation at start comes first; the wait itself is the 2 s asked for.
    assert!(took < Duration::from_secs(120), "took {took:?}");
}
