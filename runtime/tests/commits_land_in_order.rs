//! Two batches' commits may be in flight at once, and they still land in batch order:
//! a batch whose records became durable first waits for the batch before it, and a
//! batch whose commit failed takes every later one in flight with it, so the stored
//! position never passes a batch that did not commit.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::sink::Scripted;
use pricing_runtime::engine::PluginSet;
use pricing_runtime::intake::Origin;
use pricing_runtime::pipeline::{Input, Pipeline, PipelineConfig};
use pricing_runtime::sink::{Durable, Sink};
use pricing_runtime::source::Runner;
use pricing_runtime::state::State;

/// A sink for `n` batches whose each becomes durable when the test says, and the gates
/// that say it: each batch's `Durable` waits for the next outcome queued for it.
fn gated(n: usize) -> (impl Sink, Vec<mpsc::SyncSender<std::io::Result<()>>>) {
    let (gates, mut outcomes): (Vec<_>, Vec<mpsc::Receiver<std::io::Result<()>>>) =
        (0..n).map(|_| mpsc::sync_channel(1)).unzip();
    let sink = Scripted(move || {
        let outcome = outcomes.remove(0);
        Durable::after(move || outcome.recv().unwrap_or_else(|_| Err(std::io::Error::other("gate dropped"))))
    });
    (sink, gates)
}

fn line(n: u64) -> Vec<Input> {
    // Not an event: dead-lettered, which is enough to make a batch with a position.
    vec![Input { text: format!("line {n}"), origin: Origin::File { path: "t".into(), line: n } }]
}

fn position(state: &State) -> Option<u64> {
    state.position("t").expect("reads").map(|p| u64::from_le_bytes(p.try_into().expect("8 bytes")))
}

/// Runs batches 1 and 2 (positions 1 and 2 of source `t`) into a gated sink, then
/// `check` with the state, the runner and each batch's gate.
fn two_batches(check: impl FnOnce(&State, &mut Runner<'_>, &[mpsc::SyncSender<std::io::Result<()>>])) {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open(dir.path()).expect("state");
    let (plugins, pipeline) = (PluginSet::default(), Pipeline::new(PipelineConfig::default()));
    let (mut sink, gates) = gated(2);
    let mut runner = Runner::new(&state, &plugins, &pipeline, &mut sink);
    runner.batch(&line(1), "t", 1u64.to_le_bytes().to_vec()).expect("batch 1");
    runner.batch(&line(2), "t", 2u64.to_le_bytes().to_vec()).expect("batch 2");
    check(&state, &mut runner, &gates);
}

#[test]
fn a_batch_durable_first_commits_after_the_batch_before_it() {
    two_batches(|state, runner, gates| {
        assert_eq!(runner.in_flight(), 2, "both commits in flight: the second batch did not wait for the first");
        gates[1].send(Ok(())).expect("gate");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(position(state), None, "batch 2 committed before batch 1");

        gates[0].send(Ok(())).expect("gate");
        runner.settle().expect("both land");
        assert_eq!((runner.in_flight(), position(state)), (0, Some(2)));
        assert_eq!(runner.take_durable_at().len(), 2, "a durable time for each batch");
    });
}

#[test]
fn a_failed_commit_fails_the_later_ones_in_flight() {
    two_batches(|state, runner, gates| {
        gates[1].send(Ok(())).expect("gate");
        gates[0].send(Err(std::io::Error::other("disk full"))).expect("gate");
        let first = runner.settle().expect_err("batch 1's records were not written");
        assert!(format!("{first:#}").contains("disk full"), "{first:#}");
        let second = runner.settle().expect_err("batch 2 must not land after a gap");
        assert!(format!("{second:#}").contains("the commit of an earlier batch failed"), "{second:#}");
        assert_eq!(position(state), None, "no position past a batch that did not commit");
    });
}

#[test]
fn an_idle_runner_lands_its_commits_without_operations() {
    // A source that idles calls `run_ops` (the Kafka source does, every 200 ms without
    // a batch); with nothing queued and no operations at all, the commits in flight
    // must still land, or the last batches' offsets wait for the next event.
    two_batches(|state, runner, gates| {
        for gate in gates {
            gate.send(Ok(())).expect("gate");
        }
        assert!(!runner.run_ops().expect("idle"), "no operations, so no work of theirs");
        assert_eq!((runner.in_flight(), position(state)), (0, Some(2)));
    });
}
