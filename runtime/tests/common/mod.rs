//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod conformance;
pub mod foreign;
pub mod http;
pub mod kafka;
pub mod process;
pub mod rig;
pub mod sink;
pub mod workload;

use pricing_runtime::engine::{EngineConfig, Plugin, PluginHost};
use pricing_runtime::plugins;
use pricing_sdk::Date;
use pricing_sdk::wire::{BatchBuilder, DepartureContext};

/// Every line of an NDJSON output file, parsed (none when the file is missing).
pub fn json_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: not JSON: {e}: {l}", path.display())))
        .collect()
}

/// A host with the default limits.
pub fn host() -> PluginHost {
    PluginHost::new(EngineConfig::default()).expect("host starts")
}

/// Loads the reference plugin of `kind`.
pub fn reference(host: &PluginHost, kind: &str) -> Plugin {
    host.load(plugins::reference(kind).expect("reference plugin exists")).expect("reference plugin loads")
}

/// Reads a component the build script produced.
pub fn artifact(a: plugins::Artifact) -> Vec<u8> {
    std::fs::read(a.path).unwrap_or_else(|e| panic!("{}: {e}", a.path))
}

/// A batch of `n` departures with `nights` nights and no resources.
pub fn plain_batch(n: usize, nights: u32) -> Vec<u8> {
    let mut b = BatchBuilder::new();
    let ctx = DepartureContext { date: Date::from_days(20_000), nights, pax: 2, markup_bp: 0, subtotal: 0 };
    for _ in 0..n {
        b.add_departure(&ctx, &[]);
    }
    b.finish().to_vec()
}

/// Proves the flight plugin still prices correctly: 143000 out + 135000 back.
pub fn assert_flight_prices(host: &PluginHost) {
    let flight = reference(host, "flight");
    let out = flight
        .decode_quote("SHA/XMN/2026-12-01", r#"{"fare":128000,"taxes":15000,"seats":9}"#)
        .expect("no trap")
        .expect("valid quote");
    let back = flight
        .decode_quote("XMN/SHA/2026-12-04", r#"{"fare":120000,"taxes":15000,"seats":9}"#)
        .expect("no trap")
        .expect("valid quote");
    let mut b = BatchBuilder::new();
    let o = b.add_resource([out.as_slice()]);
    let r = b.add_resource([back.as_slice()]);
    let date = Date::parse("2026-12-01").expect("date");
    b.add_departure(&DepartureContext { date, nights: 3, pax: 2, markup_bp: 0, subtotal: 0 }, &[o, r]);
    let outcome = flight.price_batch(b.finish(), 1).expect("flight prices");
    assert_eq!(outcome.results, vec![Ok(278_000)]);
}

/// `wasm` with a custom section `tag` appended: a component that behaves exactly the
/// same but has another hash, so it is another version of the same kind. Custom
/// sections may appear anywhere in a component and never change what it does.
pub fn wasm_variant(wasm: &[u8], tag: &str) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let name = "pricing-test-variant";
    let mut payload = Vec::new();
    leb(name.len(), &mut payload);
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(tag.as_bytes());
    let mut out = wasm.to_vec();
    out.push(0); // custom section id
    leb(payload.len(), &mut out);
    out.extend_from_slice(&payload);
    out
}
