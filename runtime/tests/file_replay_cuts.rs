//! A file's batches whose output may have been sent when the process died are cut again
//! exactly where they were, even if the restart uses another batch size: a batch cut
//! differently coalesces differently, and could leave a consumer with a version the
//! state no longer has. Once they are replayed, the new batch size applies.

mod common;

use std::path::{Path, PathBuf};

use common::sink::Scripted;
use pricing_runtime::engine::PluginSet;
use pricing_runtime::pipeline::{Pipeline, PipelineConfig};
use pricing_runtime::sink::{Durable, Sink};
use pricing_runtime::source::{Runner, run_file};
use pricing_runtime::state::State;

const LINES: u64 = 40;

/// A sink whose first `good` batches become durable and whose later ones fail, as a
/// process killed after sending their output but before committing them would leave.
fn fails_after(mut good: usize) -> impl Sink {
    Scripted(move || {
        if good == 0 {
            return Durable::after(|| Err(std::io::Error::other("the process died here")));
        }
        good -= 1;
        Durable::done()
    })
}

/// A data folder's state and an input file in it holding `text`.
fn input(text: &str) -> (tempfile::TempDir, PathBuf, State) {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("events.ndjson");
    std::fs::write(&input, text).expect("write");
    let state = State::open(&dir.path().join("state")).expect("state");
    (dir, input, state)
}

/// Consumes `input` in batches of `batch_size` into `sink`; returns the line each batch
/// ended at, as progress reported it, and whether the run ended well.
fn consume(input: &Path, state: &State, batch_size: usize, sink: &mut dyn Sink) -> (Vec<u64>, bool) {
    let (plugins, pipeline) = (PluginSet::default(), Pipeline::new(PipelineConfig::default()));
    let mut runner = Runner::new(state, &plugins, &pipeline, sink);
    let mut ends = Vec::new();
    let ran = run_file(input, batch_size, &mut runner, |p| ends.push(p.lines));
    let finished = runner.finish();
    ends.remove(0); // the start
    (ends, ran.is_ok() && finished.is_ok())
}

fn position(state: &State, input: &Path) -> Option<u64> {
    let bytes = state.position(&format!("file:{}", input.display())).expect("reads")?;
    Some(u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")))
}

/// The line ends of the batches whose intents are stored.
fn left(state: &State) -> Vec<u64> {
    let intents = state.intents("file:").expect("intents");
    intents.iter().map(|(_, v)| u64::from_le_bytes(v[..8].try_into().expect("8 bytes"))).collect()
}

#[test]
fn a_restart_cuts_the_uncommitted_batches_where_they_were_cut_then_uses_its_own_size() {
    // Not events: each is dead-lettered, which is enough to make a batch.
    let text: String = (1..=LINES).map(|n| format!("line {n}\n")).collect();
    let (_dir, input, state) = input(&text);

    // Batches of 7; the first commits, the second's output is "sent" and its commit
    // fails, and so does every later batch's that got under way.
    let (_, ok) = consume(&input, &state, 7, &mut fails_after(1));
    assert!(!ok, "the run must fail");
    assert_eq!(position(&state, &input), Some(7), "only the first batch committed");
    let replayed = left(&state);
    assert!(!replayed.is_empty(), "the batches after the first leave their intents");
    let expected: Vec<u64> = (1..=replayed.len() as u64).map(|i| 7 + 7 * i).collect();
    assert_eq!(replayed, expected, "one intent per batch past the committed one, at its end");

    // Batches of 5 now: first the batches cut at 7, then every 5 lines.
    let (ends, ok) = consume(&input, &state, 5, &mut fails_after(usize::MAX));
    assert!(ok, "the restart runs to the end");
    let mut expected = replayed.clone();
    let mut at = *replayed.last().expect("one");
    while at < LINES {
        at = (at + 5).min(LINES);
        expected.push(at);
    }
    assert_eq!(ends, expected, "replayed cuts first ({replayed:?}), then batches of 5");
    assert_eq!(position(&state, &input), Some(LINES));
    assert!(left(&state).is_empty(), "every intent is removed by its batch's commit: {:?}", left(&state));
}

#[test]
fn a_run_that_ends_well_leaves_no_intent() {
    let (_dir, input, state) = input("a\nb\nc\n");
    let (ends, ok) = consume(&input, &state, 2, &mut fails_after(usize::MAX));
    assert!(ok);
    assert_eq!(ends, vec![2, 3]);
    assert!(left(&state).is_empty(), "{:?}", left(&state));
}

#[test]
fn another_files_intents_are_left_to_it() {
    let (_dir, input, state) = input("a\nb\nc\nd\n");
    // A file whose path starts with this one's and an `@` left a batch ending at line 3.
    let other = format!("file:{}@old@{:020}", input.display(), 3);
    let end: Vec<u8> = [3u64.to_le_bytes(), 6u64.to_le_bytes()].concat();
    state.write_intent(&other, &end).expect("writes");

    let (ends, ok) = consume(&input, &state, 2, &mut fails_after(usize::MAX));
    assert!(ok);
    assert_eq!(ends, vec![2, 4], "cut by its own batch size, not at the other file's end");
    assert_eq!(left(&state), vec![3], "the other file's intent is still there");
}
