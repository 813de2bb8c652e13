//! Decoding ahead: a batch told the next batch's inputs decodes them while it is
//! priced, and the next batch, given those very inputs and plugins, uses them. The
//! records, dead letters, counters and final state are those of decoding each batch in
//! its turn; inputs or plugins other than the ones announced are decoded afresh.

mod common;

use std::sync::Arc;

use common::rig::{Fresh, fresh};
use pricing_runtime::engine::PluginSet;
use pricing_runtime::pipeline::{BatchOutput, Extra, Input, Pipeline, PipelineConfig};
use pricing_runtime::state::{DeparturePrice, ProductPrice, State};

const PRICED_AT: &str = "2026-11-22T10:00:00.000Z";

/// A generated workload with bad and stale events among the good, in batches of 150.
fn batches() -> Vec<Vec<Input>> {
    let mut inputs = common::rig::small_workload(900);
    // Bad input of each kind the decoder alone finds, mid-stream.
    for (at, text) in [
        (400, "{not json"),
        (500, r#"{"id":"x1","kind":"spaceship","key":"k","op":"delete","seq":1,"ts":"2026-11-22T10:00:00Z"}"#),
    ] {
        let origin = inputs[at].origin.clone();
        inputs.insert(at, Input { text: text.to_owned(), origin });
    }
    inputs.chunks(150).map(<[Input]>::to_vec).collect()
}

/// What a batch emitted, comparable between runs.
#[derive(Debug, PartialEq)]
struct Emitted {
    departures: Vec<DeparturePrice>,
    products: Vec<ProductPrice>,
    dead_letters: Vec<(String, String)>,
    stats: pricing_runtime::pipeline::Stats,
}

fn emitted(out: &BatchOutput) -> Emitted {
    Emitted {
        departures: out.departure_prices(),
        products: out.product_prices(),
        dead_letters: out.dead_letters.iter().map(|d| (d.reason_class.to_owned(), d.reason.clone())).collect(),
        stats: out.stats.clone(),
    }
}

/// Runs `batches` through a new pipeline, each batch with `plugins_for` its index and
/// announcing `next_for` its index as the next inputs; commits each. Returns what each
/// emitted, the final prices and how many inputs were handed on decoded ahead.
fn run(
    state: &State,
    batches: &[Vec<Input>],
    plugins_for: impl Fn(usize) -> PluginSet,
    next_for: impl Fn(usize) -> Vec<Input>,
) -> (Vec<Emitted>, Vec<DeparturePrice>, u64) {
    let pipeline = Pipeline::new(PipelineConfig::default());
    let mut out = Vec::new();
    for (i, batch) in batches.iter().enumerate() {
        let next = next_for(i);
        let extra = Extra { next: &next, ..Extra::default() };
        let mut o = pipeline.process_with(state, &plugins_for(i), batch, PRICED_AT, &extra).expect("processes");
        std::mem::take(&mut o.pending).commit(state).expect("commits");
        out.push(emitted(&o));
    }
    let prices = state.all_prices().collect::<Result<_, _>>().expect("prices read");
    (out, prices, pipeline.decoded_ahead())
}

/// The same plugins, shared: the set a live registry hands out unchanged.
fn same(plugins: &PluginSet) -> PluginSet {
    let mut set = PluginSet::default();
    for (_, p) in plugins.iter() {
        set.insert_shared(Arc::clone(p));
    }
    set
}

#[test]
fn batches_decoded_ahead_emit_and_store_what_batches_decoded_in_turn_do() {
    let batches = batches();
    let events: usize = batches.iter().map(Vec::len).sum();
    let Fresh { dir: _dir, host: _host, state, plugins } = fresh();
    let (in_turn, prices, ahead) = run(&state, &batches, |_| same(&plugins), |_| Vec::new());
    assert_eq!(ahead, 0, "nothing announced, nothing decoded ahead");

    let other = fresh();
    let announced = |i: usize| batches.get(i + 1).cloned().unwrap_or_default();
    let (decoded_ahead, prices_ahead, ahead) = run(&other.state, &batches, |_| same(&other.plugins), announced);
    assert_eq!(ahead as usize, events - batches[0].len(), "every batch but the first decoded ahead");
    assert_eq!(decoded_ahead, in_turn);
    assert_eq!(prices_ahead, prices);
    let dead: Vec<&str> = in_turn.iter().flat_map(|e| &e.dead_letters).map(|(class, _)| class.as_str()).collect();
    assert!(dead.contains(&"not_json") && dead.contains(&"unknown_kind"), "bad input in the stream: {dead:?}");
    assert!(prices.len() > 10, "departures priced: {}", prices.len());
}

#[test]
fn inputs_or_plugins_other_than_announced_are_decoded_afresh() {
    let batches = batches();
    let Fresh { dir: _dir, host: _host, state, plugins } = fresh();
    // Batch 3 runs without insurance: its insurance events are dead letters then.
    let without_insurance = || {
        let mut set = PluginSet::default();
        for (_, p) in plugins.iter().filter(|(kind, _)| *kind != "insurance") {
            set.insert_shared(Arc::clone(p));
        }
        set
    };
    let plugins_for = |i: usize| if i == 3 { without_insurance() } else { same(&plugins) };
    let (in_turn, prices, _) = run(&state, &batches, plugins_for, |_| Vec::new());
    let unknown = in_turn[3].dead_letters.iter().filter(|(class, _)| class == "unknown_kind").count();
    assert!(unknown > 0, "batch 3 has insurance events: {:?}", in_turn[3].dead_letters);

    let other = fresh();
    let plugins_for = |i: usize| if i == 3 { without_insurance() } else { same(&other.plugins) };
    // Batch 1 announces inputs that are not batch 2's (one line changed). Batch 2
    // announces batch 3's, decoded with plugins batch 3 does not have (insurance); batch
    // 3 announces batch 4's, decoded without the insurance plugin batch 4 has.
    let announced = |i: usize| {
        let mut next = batches.get(i + 1).cloned().unwrap_or_default();
        if i == 1 {
            next[7].text.push(' ');
        }
        next
    };
    let (decoded, prices_other, ahead) = run(&other.state, &batches, plugins_for, announced);
    let not_used: usize = [0, 2, 3, 4].iter().map(|&i| batches[i].len()).sum();
    let events: usize = batches.iter().map(Vec::len).sum();
    assert_eq!(ahead as usize, events - not_used, "batches 2, 3 and 4 decoded their own inputs");
    assert_eq!(decoded, in_turn);
    assert_eq!(prices_other, prices);
}
