//! Pricing cost per departure, every reference plugin, batches of 1, 10, 100 and 1,000
//! departures: the same batch bytes priced by the rule code called natively (the SDK
//! driver, exactly what the component runs) and through the wasm component, in one run.
//!
//! A second table puts the plugins written in other languages (`plugins/build-foreign`:
//! `insurance` in JavaScript, `ticket` in Python) beside the Rust insurance component,
//! the nearest in shape (one resource, two suppliers), at the same batch sizes: size,
//! load (compile and check) time and ns per departure.
//!
//! Run: `cargo bench -p pricing-runtime --bench plugins`
//! (`-- --quick` for a short run). Prints markdown tables: median ns per departure
//! over the samples, and wasm / native.

use std::hint::black_box;
use std::time::{Duration, Instant};

use std::path::{Path, PathBuf};

use pricing_runtime::engine::{EngineConfig, Plugin, PluginHost};
use pricing_runtime::plugins;
use pricing_sdk::wire::{BatchBuilder, DepartureContext};
use pricing_sdk::{Date, PricingRule, driver};
use serde_json::{Value, json};

/// How one kind's batches look: resources per departure, suppliers per resource, and a
/// quote for (resource, supplier).
struct Shape {
    kind: &'static str,
    deps: usize,
    suppliers: usize,
    key: fn(usize) -> String,
    quote: fn(usize, usize) -> Value,
    nights: u32,
    subtotal: i64,
}

const SHAPES: &[Shape] = &[
    Shape {
        kind: "flight",
        deps: 2,
        suppliers: 3,
        key: |i| format!("SHA/XMN/{}", Date::from_days(20_000 + i as i32)),
        quote: |i, s| json!({"fare": 90_000 + (i * 37 + s * 1_013) % 60_000, "taxes": 15_000, "seats": (i + s) % 9}),
        nights: 3,
        subtotal: 0,
    },
    Shape {
        kind: "hotel",
        deps: 3,
        suppliers: 3,
        key: |i| format!("H88/{}", Date::from_days(20_000 + i as i32)),
        quote: |i, s| json!({"room_night": 40_000 + (i * 53 + s * 701) % 30_000, "rooms": (i + s) % 4}),
        nights: 3,
        subtotal: 0,
    },
    Shape {
        kind: "insurance",
        deps: 1,
        suppliers: 2,
        key: |i| format!("PLAN{i}"),
        quote: |i, s| {
            json!({"bands": [{"max_days": 3, "price": 2_000 + (i + s) % 500}, {"max_days": 7, "price": 3_000},
                             {"max_days": 14, "price": 5_000}, {"max_days": 30, "price": 9_000}]})
        },
        nights: 4,
        subtotal: 0,
    },
    Shape {
        kind: "cruise",
        deps: 1,
        suppliers: 2,
        key: |i| format!("SPIRIT/{}/OV", Date::from_days(20_000 + i as i32)),
        quote: |i, s| json!({"per_person": 500_000 + (i * 91 + s * 7) % 90_000, "port_fees": 30_000, "cabins": (i + s) % 3}),
        nights: 5,
        subtotal: 0,
    },
    Shape {
        kind: "discount",
        deps: 2,
        suppliers: 1,
        key: |i| format!("RULE{i}"),
        quote: |i, _| {
            if i % 2 == 0 {
                json!({"type": "percent", "value_bp": 500 + (i % 7) * 100, "cap": 20_000})
            } else {
                json!({"type": "fixed", "value": 10_000, "min_subtotal": 200_000, "from": "2024-01-01", "to": "2027-12-31"})
            }
        },
        nights: 3,
        subtotal: 356_000,
    },
];

/// A batch of `n` departures sharing a pool of about n/2 resources, as the departures
/// re-priced for one change share route-dates and hotel nights; quotes stored as `R`'s
/// native driver stores them.
fn batch<R: PricingRule>(shape: &Shape, n: usize) -> Vec<u8> {
    batch_with(shape, n, |key, data| driver::decode_quote::<R>(key, data).expect("bench quote is valid"))
}

/// [`batch`] with quotes stored by `decode` (a component's own `decode-quote`: every
/// plugin has its own stored form).
fn batch_with(shape: &Shape, n: usize, decode: impl Fn(&str, &str) -> Vec<u8>) -> Vec<u8> {
    let pool = n / 2 + shape.deps;
    let mut b = BatchBuilder::new();
    let ids: Vec<u32> = (0..pool)
        .map(|i| {
            let key = (shape.key)(i);
            let quotes: Vec<Vec<u8>> =
                (0..shape.suppliers).map(|s| decode(&key, &(shape.quote)(i, s).to_string())).collect();
            b.add_resource(quotes.iter().map(Vec::as_slice))
        })
        .collect();
    for d in 0..n {
        let start = (d * 7) % (pool - shape.deps + 1);
        let ctx = DepartureContext {
            date: Date::from_days(20_000 + (d % 60) as i32),
            nights: shape.nights,
            pax: 2,
            markup_bp: 300,
            subtotal: shape.subtotal,
        };
        b.add_departure(&ctx, &ids[start..start + shape.deps]);
    }
    b.finish().to_vec()
}

/// Iterations of `f` that take about `target`.
fn calibrate(target: Duration, f: &mut impl FnMut()) -> u64 {
    let mut iters = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        if t.elapsed() >= target {
            return iters;
        }
        iters *= 2;
    }
}

/// Mean ns per departure of one sample of `iters` calls.
fn sample(n: usize, iters: u64, f: &mut impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed().as_nanos() as f64 / (iters as f64 * n as f64)
}

/// Median ns per departure of `native` and `wasm`, their samples interleaved so that
/// both see the same machine (another process, frequency changes) and the ratio holds.
fn measure_pair(
    n: usize,
    samples: usize,
    sample_time: Duration,
    mut native: impl FnMut(),
    mut wasm: impl FnMut(),
) -> (f64, f64) {
    let (ni, wi) = (calibrate(sample_time, &mut native), calibrate(sample_time, &mut wasm));
    let (mut ns, mut ws): (Vec<f64>, Vec<f64>) =
        (0..samples).map(|_| (sample(n, ni, &mut native), sample(n, wi, &mut wasm))).unzip();
    ns.sort_by(f64::total_cmp);
    ws.sort_by(f64::total_cmp);
    (ns[samples / 2], ws[samples / 2])
}

fn run<R: PricingRule>(host: &PluginHost, shape: &Shape, quick: bool) {
    let plugin = host.load(plugins::reference(shape.kind).expect("reference plugin")).expect("loads");
    let (samples, sample_time) = if quick { (5, Duration::from_millis(20)) } else { (31, Duration::from_millis(30)) };
    for n in [1usize, 10, 100, 1_000] {
        let bytes = batch::<R>(shape, n);
        let native_out = driver::price_batch::<R>(&bytes);
        let wasm_out = plugin.price_batch(&bytes, n).expect("prices");
        assert_eq!(native_out.amounts.len(), wasm_out.results.len());
        let (native, wasm) = measure_pair(
            n,
            samples,
            sample_time,
            || {
                black_box(driver::price_batch::<R>(black_box(&bytes)));
            },
            || {
                black_box(plugin.price_batch(black_box(&bytes), n).expect("prices"));
            },
        );
        println!("| {} | {n} | {native:.1} | {wasm:.1} | {:.2}x |", shape.kind, wasm / native);
    }
}

/// The ticket kind's batches: one attraction-date per departure, two suppliers.
const TICKET: Shape = Shape {
    kind: "ticket",
    deps: 1,
    suppliers: 2,
    key: |i| format!("GULANGYU/{}", Date::from_days(20_000 + i as i32)),
    quote: |i, s| json!({"price": 10_000 + (i * 31 + s * 977) % 8_000, "quota": 2 + (i + s) % 5}),
    nights: 2,
    subtotal: 0,
};

/// Builds the other languages' components (cached by `plugins/build-foreign`).
fn foreign_components() -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repository root").to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo.join("target"), PathBuf::from);
    let out = target.join("foreign-plugins");
    let status =
        std::process::Command::new(repo.join("plugins/build-foreign")).arg(&out).status().expect("build-foreign runs");
    assert!(status.success(), "plugins/build-foreign failed");
    out
}

/// A quote in the stored form of `plugin`.
fn stored(plugin: &Plugin, key: &str, data: &str) -> Vec<u8> {
    plugin.decode_quote(key, data).expect("decodes").expect("bench quote is valid")
}

/// Loads a component, timing the compile and checks.
fn load_timed(host: &PluginHost, wasm: &[u8]) -> (Plugin, f64) {
    let t = Instant::now();
    let plugin = host.load(wasm).expect("the component loads");
    (plugin, t.elapsed().as_secs_f64() * 1e3)
}

/// The Rust insurance component beside its JavaScript port and the Python ticket plugin.
fn foreign(host: &PluginHost, quick: bool) {
    let dir = foreign_components();
    let rust_wasm = plugins::reference("insurance").expect("reference insurance");
    let js_wasm = std::fs::read(dir.join("insurance-js.wasm")).expect("insurance-js.wasm");
    let py_wasm = std::fs::read(dir.join("ticket.wasm")).expect("ticket.wasm");
    let (rust, rust_ms) = load_timed(host, rust_wasm);
    let (js, js_ms) = load_timed(host, &js_wasm);
    let (py, py_ms) = load_timed(host, &py_wasm);
    let insurance = SHAPES.iter().find(|s| s.kind == "insurance").expect("insurance shape");
    println!();
    println!("| component | language | KiB | load ms |");
    println!("|---|---|---:|---:|");
    for (name, lang, size, ms) in [
        ("insurance", "Rust", rust_wasm.len(), rust_ms),
        ("insurance-js", "JavaScript", js_wasm.len(), js_ms),
        ("ticket", "Python", py_wasm.len(), py_ms),
    ] {
        println!("| {name} | {lang} | {} | {ms:.0} |", size / 1024);
    }
    println!();
    println!("| plugin | batch | Rust insurance ns/departure | this ns/departure | this / Rust |");
    println!("|---|---:|---:|---:|---:|");
    let (samples, sample_time) = if quick { (5, Duration::from_millis(20)) } else { (11, Duration::from_millis(100)) };
    for (name, plugin, shape) in [("insurance (JavaScript)", &js, insurance), ("ticket (Python)", &py, &TICKET)] {
        for n in [1usize, 10, 100, 1_000] {
            let rust_bytes = batch_with(insurance, n, |k, d| stored(&rust, k, d));
            let bytes = batch_with(shape, n, |k, d| stored(plugin, k, d));
            let priced = plugin.price_batch(&bytes, n).expect("prices");
            assert!(priced.results.iter().any(Result::is_ok), "{name}: nothing priced");
            let (base, this) = measure_pair(
                n,
                samples,
                sample_time,
                || {
                    black_box(rust.price_batch(black_box(&rust_bytes), n).expect("prices"));
                },
                || {
                    black_box(plugin.price_batch(black_box(&bytes), n).expect("prices"));
                },
            );
            println!("| {name} | {n} | {base:.1} | {this:.1} | {:.1}x |", this / base);
        }
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let host = PluginHost::new(EngineConfig::default()).expect("host");
    println!("| plugin | batch | native ns/departure | wasm ns/departure | wasm / native |");
    println!("|---|---:|---:|---:|---:|");
    for shape in SHAPES {
        match shape.kind {
            "flight" => run::<plugin_flight::Flight>(&host, shape, quick),
            "hotel" => run::<plugin_hotel::Hotel>(&host, shape, quick),
            "insurance" => run::<plugin_insurance::Insurance>(&host, shape, quick),
            "cruise" => run::<plugin_cruise::Cruise>(&host, shape, quick),
            "discount" => run::<plugin_discount::Discount>(&host, shape, quick),
            other => unreachable!("no shape for {other}"),
        }
    }
    foreign(&host, quick);
}
