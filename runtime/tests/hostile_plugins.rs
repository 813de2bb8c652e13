//! A plugin that loops, hogs memory, panics or implements another world is contained
//! with a clear error, and the host then prices the next batch correctly.

mod common;

use std::time::{Duration, Instant};

use common::{artifact, assert_flight_prices, plain_batch};
use pricing_runtime::engine::{EngineConfig, PluginError, PluginHost};
use pricing_runtime::plugins::{LOOPER, MEMHOG, PANICKER, WRONG_WORLD};

const POISON_NIGHTS: u32 = 99;

fn host(config: EngineConfig) -> PluginHost {
    PluginHost::new(config).expect("host starts")
}

#[test]
fn a_looping_plugin_is_stopped_at_its_time_budget_and_the_next_batch_prices() {
    let host = host(EngineConfig::default().with_call_budget_ms(200));
    let looper = host.load(&artifact(LOOPER)).expect("loads");

    let started = Instant::now();
    let err = looper.price_batch(&plain_batch(3, POISON_NIGHTS), 3).expect_err("must be stopped");
    let took = started.elapsed();
    assert!(
        matches!(&err, PluginError::Timeout { plugin, budget_ms: 200 } if plugin.starts_with("looper@0.1.0+")),
        "{err}"
    );
    assert!(err.to_string().contains("time budget of 200 ms"), "{err}");
    assert!(took >= Duration::from_millis(200), "stopped before its budget: {took:?}");
    assert!(took < Duration::from_secs(10), "not stopped in time: {took:?}");

    let next = looper.price_batch(&plain_batch(2, 3), 2).expect("a fresh instance serves");
    assert_eq!(next.results, vec![Ok(100), Ok(100)]);
    assert_flight_prices(&host);
}

#[test]
fn a_looping_call_holds_up_no_other_call_to_the_same_plugin() {
    // Two threads call one plugin at once (the pricing thread and its decode helper do):
    // each call runs on an instance of its own, so a call stuck in a loop until its
    // budget runs out does not make the other wait for it.
    let host = host(EngineConfig::default().with_call_budget_ms(5_000));
    let looper = host.load(&artifact(LOOPER)).expect("loads");
    let looping_done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let looping = scope.spawn(|| {
            let err = looper.price_batch(&plain_batch(1, POISON_NIGHTS), 1).expect_err("must be stopped");
            looping_done.store(true, std::sync::atomic::Ordering::SeqCst);
            err
        });
        // Let the looping call get under way first.
        std::thread::sleep(Duration::from_millis(300));
        let started = Instant::now();
        let next = looper.price_batch(&plain_batch(2, 3), 2).expect("prices beside the looping call");
        let took = started.elapsed();
        assert_eq!(next.results, vec![Ok(100), Ok(100)]);
        assert!(
            !looping_done.load(std::sync::atomic::Ordering::SeqCst),
            "the second call finished only after the looping one ({took:?})"
        );
        let err = looping.join().expect("the looping thread ends");
        assert!(matches!(err, PluginError::Timeout { budget_ms: 5_000, .. }), "{err}");
    });
    let next = looper.price_batch(&plain_batch(2, 3), 2).expect("prices after");
    assert_eq!(next.results, vec![Ok(100), Ok(100)]);
}

#[test]
fn a_memory_hog_is_stopped_at_its_memory_limit_and_the_next_batch_prices() {
    let host = host(EngineConfig::default().with_memory_limit_mib(16));
    let hog = host.load(&artifact(MEMHOG)).expect("loads");

    let err = hog.price_batch(&plain_batch(1, POISON_NIGHTS), 1).expect_err("must be stopped");
    assert!(matches!(&err, PluginError::MemoryLimit { limit_mib: 16, .. }), "{err}");
    assert!(err.to_string().contains("memory limit of 16 MiB"), "{err}");

    let next = hog.price_batch(&plain_batch(2, 3), 2).expect("a fresh instance serves");
    assert_eq!(next.results, vec![Ok(100), Ok(100)]);
    assert_flight_prices(&host);
}

#[test]
fn a_panicking_plugin_traps_and_the_next_batch_prices() {
    let host = host(EngineConfig::default());
    let panicker = host.load(&artifact(PANICKER)).expect("loads");

    // The poisoned departure sits between two good ones: the whole call traps.
    let mut batch = pricing_sdk::wire::BatchBuilder::new();
    for nights in [3, POISON_NIGHTS, 3] {
        let ctx = pricing_sdk::wire::DepartureContext {
            date: pricing_sdk::Date::from_days(20_000),
            nights,
            pax: 2,
            markup_bp: 0,
            subtotal: 0,
        };
        batch.add_departure(&ctx, &[]);
    }
    let err = panicker.price_batch(batch.finish(), 3).expect_err("must trap");
    match &err {
        PluginError::Trap { plugin, message } => {
            assert!(plugin.starts_with("panicker@0.1.0+"), "{plugin}");
            assert!(message.contains("unreachable"), "a Rust panic aborts with `unreachable`: {message}");
        }
        other => panic!("expected a trap, got {other}"),
    }

    for _ in 0..3 {
        let next = panicker.price_batch(&plain_batch(2, 3), 2).expect("a fresh instance serves");
        assert_eq!(next.results, vec![Ok(100), Ok(100)]);
    }
    assert_flight_prices(&host);
}

#[test]
fn a_component_of_another_world_is_refused_with_the_reason() {
    let host = host(EngineConfig::default());
    let err = host.load(&artifact(WRONG_WORLD)).err().expect("must be refused");
    assert!(matches!(err, PluginError::WrongWorld(_)), "{err}");
    let text = err.to_string();
    assert!(text.contains("travel:pricing/plugin"), "{text}");
    // wasmtime names the first missing export it checks; which one that is varies.
    assert!(text.contains("no export `"), "the reason names a missing export: {text}");
    assert_flight_prices(&host);
}

#[test]
fn bytes_that_are_no_component_are_refused_with_the_reason() {
    let host = host(EngineConfig::default());
    for (what, bytes) in [
        ("garbage", b"not wasm at all".to_vec()),
        ("empty", Vec::new()),
        ("a core module", b"\0asm\x01\0\0\0".to_vec()),
        ("a truncated component", pricing_runtime::plugins::reference("flight").expect("flight")[..4096].to_vec()),
    ] {
        let err = host.load(&bytes).err().unwrap_or_else(|| panic!("{what} must be refused"));
        assert!(matches!(err, PluginError::Compile(_)), "{what}: {err}");
    }
    assert_flight_prices(&host);
}
