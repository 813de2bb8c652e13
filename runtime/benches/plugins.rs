//! Pricing cost per departure, every reference plugin, batches of 1, 10, 100 and 1,000
//! departures: the same batch bytes priced by the rule code called natively (the SDK
//! driver, exactly what the component runs) and through the wasm component, in one run.
//!
//! Run: `cargo bench -p pricing-runtime --bench plugins`
//! (`-- --quick` for a short run). Prints a markdown table: median ns per departure
//! over the samples, and wasm / native.

use std::hint::black_box;
use std::time::{Duration, Instant};

use pricing_runtime::engine::{EngineConfig, PluginHost};
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
/// re-priced for one change share route-dates and hotel nights.
fn batch<R: PricingRule>(shape: &Shape, n: usize) -> Vec<u8> {
    let pool = n / 2 + shape.deps;
    let mut b = BatchBuilder::new();
    let ids: Vec<u32> = (0..pool)
        .map(|i| {
            let key = (shape.key)(i);
            let quotes: Vec<Vec<u8>> = (0..shape.suppliers)
                .map(|s| {
                    driver::decode_quote::<R>(&key, &(shape.quote)(i, s).to_string()).expect("bench quote is valid")
                })
                .collect();
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
}
