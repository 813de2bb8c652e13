//! Swap under load: events stream through a [`Runner`] while the flight rules are
//! swapped between two versions more than ten times. Every emitted price names the
//! version active for its batch, no event is lost or applied twice, and the final state
//! equals a run that used the same versions at the same input positions without any
//! live swapping. A second test swaps from another thread as fast as it can while
//! batches run: no batch ever mixes versions.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::rig::Collect;
use pricing_runtime::engine::{LivePlugins, PluginSet};
use pricing_runtime::pipeline::{Input, Pipeline, PipelineConfig, Stats};
use pricing_runtime::plugins;
use pricing_runtime::registry::Registry;
use pricing_runtime::source::Runner;
use pricing_runtime::state::{DeparturePrice, State};

const BATCH: usize = 100;

/// Generated events, cut into micro-batches.
fn batches() -> Vec<Vec<Input>> {
    let config = pricing_runtime::r#gen::GenConfig {
        products: 8,
        cities: 3,
        dates_per_city: 6,
        events: 3_000,
        ..Default::default()
    };
    common::rig::inputs(&config).chunks(BATCH).map(<[Input]>::to_vec).collect()
}

fn without_time(p: DeparturePrice) -> DeparturePrice {
    DeparturePrice { priced_at: String::new(), ..p }
}

fn final_prices(state: &State) -> Vec<DeparturePrice> {
    state.all_prices().map(|p| without_time(p.expect("price"))).collect()
}

fn position(batch: usize) -> Vec<u8> {
    (batch as u64).to_be_bytes().to_vec()
}

fn assert_counted_once(total: &Stats, events: usize) {
    assert_eq!(total.events, events as u64, "every event read once");
    assert_eq!(total.applied + total.stale + total.dead_letter_total(), total.events, "every event accounted for once");
    assert_eq!(total.plugin_failures, 0);
}

#[test]
fn versions_swapped_between_batches_price_exactly_their_batches() {
    let batches = batches();
    let events: usize = batches.iter().map(Vec::len).sum();
    assert!(batches.len() >= 25, "enough batches for the swaps: {}", batches.len());
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = Registry::open(&dir.path().join("registry"), Arc::new(common::host())).expect("registry");
    let live = registry.live().expect("live set");
    let reference = registry.active("flight").expect("read").expect("seeded flight");
    let variant = common::wasm_variant(plugins::reference("flight").expect("flight"), "v2");
    let v2 = registry.deploy(&variant, Some("flight"), "test", false).expect("deploys").hash;
    let ids = [reference.as_str(), v2.as_str()].map(|h| registry.version(h).expect("read").expect("stored").id);

    // The live run: swap through the registry (as the admin API does) every 2 batches.
    let state = State::open(&dir.path().join("live")).expect("state");
    let pipeline = Pipeline::new(PipelineConfig::default());
    let mut sink = Collect::default();
    let mut active_for_batch = Vec::new();
    let mut swaps = 0;
    let mut current = 0usize;
    {
        let mut runner = Runner::live(&state, &live, &pipeline, &mut sink);
        for (i, batch) in batches.iter().enumerate() {
            if i > 0 && i % 2 == 0 {
                current = 1 - current;
                let hash = if current == 0 { &reference } else { &v2 };
                registry.activate("flight", hash, "test", "swap under load").expect("swaps");
                swaps += 1;
            }
            active_for_batch.push(current);
            runner.batch(batch, "work", position(i)).expect("batch");
        }
        assert_counted_once(&runner.finish().expect("finishes"), events);
    }
    assert!(swaps >= 10, "{swaps} swaps");
    assert_eq!(registry.history("flight").expect("history").len(), 1 + swaps);

    // Every emitted departure price names the flight version active for its batch.
    let mut named = [0usize; 2];
    for (i, records) in sink.batches.iter().enumerate() {
        for r in records {
            if let Some(flight) = r.rules.get("flight") {
                assert_eq!(flight, &ids[active_for_batch[i]], "batch {i}, {}", r.key());
                named[active_for_batch[i]] += 1;
            }
        }
    }
    assert!(named[0] > 0 && named[1] > 0, "both versions priced something: {named:?}");

    // The same versions at the same input positions, each batch with a fixed set.
    let host = common::host();
    let mut fixed = [PluginSet::reference(&host).expect("reference"), PluginSet::reference(&host).expect("reference")];
    fixed[1].insert(host.load(&variant).expect("variant loads"));
    let replay = State::open(&dir.path().join("replay")).expect("state");
    let mut replay_sink = Collect::default();
    let mut total = Stats::default();
    for (i, batch) in batches.iter().enumerate() {
        let mut runner = Runner::new(&replay, &fixed[active_for_batch[i]], &pipeline, &mut replay_sink);
        runner.batch(batch, "work", position(i)).expect("batch");
        total.add(&runner.finish().expect("finishes"));
    }
    assert_counted_once(&total, events);
    assert_eq!(final_prices(&state), final_prices(&replay), "same final state");
    let strip = |b: &Vec<Vec<DeparturePrice>>| -> Vec<Vec<DeparturePrice>> {
        b.iter().map(|r| r.iter().cloned().map(without_time).collect()).collect()
    };
    assert_eq!(strip(&sink.batches), strip(&replay_sink.batches), "same records, batch by batch");
}

#[test]
fn a_swap_from_another_thread_never_splits_a_batch() {
    let batches = batches();
    let events: usize = batches.iter().map(Vec::len).sum();
    let host = common::host();
    let mut a = PluginSet::reference(&host).expect("reference");
    let mut b = a.clone();
    // Native against wasm: the same rules, told apart by the version in `rules`.
    b.insert(pricing_runtime::engine::Plugin::native::<plugin_flight::Flight>());
    a.insert(common::reference(&host, "flight"));
    let (a, b) = (Arc::new(a), Arc::new(b));
    let live = Arc::new(LivePlugins::new(PluginSet::clone(&a)));

    let done = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU64::new(0));
    let swapper = {
        let (live, done, swaps, a, b) = (Arc::clone(&live), Arc::clone(&done), Arc::clone(&swaps), a, b);
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let n = swaps.fetch_add(1, Ordering::Relaxed);
                live.store(Arc::clone(if n % 2 == 0 { &b } else { &a }));
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        })
    };

    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open(&dir.path().join("state")).expect("state");
    let pipeline = Pipeline::new(PipelineConfig::default());
    let mut sink = Collect::default();
    let mut runner = Runner::live(&state, &live, &pipeline, &mut sink);
    for (i, batch) in batches.iter().enumerate() {
        // Make sure swaps keep happening while the stream runs, however fast it is.
        let seen = swaps.load(Ordering::Relaxed);
        while swaps.load(Ordering::Relaxed) == seen {
            std::thread::yield_now();
        }
        runner.batch(batch, "work", position(i)).expect("batch");
    }
    let total = runner.finish().expect("finishes");
    done.store(true, Ordering::Relaxed);
    swapper.join().expect("swapper");
    assert!(swaps.load(Ordering::Relaxed) >= 10);
    assert_counted_once(&total, events);

    let mut versions_seen = std::collections::BTreeSet::new();
    for (i, records) in sink.batches.iter().enumerate() {
        let flight: std::collections::BTreeSet<&String> =
            records.iter().filter_map(|r| r.rules.get("flight")).collect();
        assert!(flight.len() <= 1, "batch {i} mixed versions: {flight:?}");
        versions_seen.extend(flight.into_iter().cloned());
    }
    assert_eq!(versions_seen.len(), 2, "both versions priced batches: {versions_seen:?}");

    // Both versions price identically: apart from `rules`, the state equals a run with one.
    let clean = State::open(&dir.path().join("clean")).expect("state");
    let mut clean_sink = Collect::default();
    let one = PluginSet::reference(&host).expect("reference");
    let mut runner = Runner::new(&clean, &one, &pipeline, &mut clean_sink);
    for (i, batch) in batches.iter().enumerate() {
        runner.batch(batch, "work", position(i)).expect("batch");
    }
    assert_counted_once(&runner.finish().expect("finishes"), events);
    let no_rules = |s: &State| -> Vec<DeparturePrice> {
        final_prices(s).into_iter().map(|p| DeparturePrice { rules: Default::default(), ..p }).collect()
    };
    assert_eq!(no_rules(&state), no_rules(&clean));
}
