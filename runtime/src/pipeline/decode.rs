//! Decoding a batch's inputs before they meet the state: each record checked against the
//! contract, and each resource upsert's quote by its plugin. Neither reads the state, so
//! a large batch is decoded on two threads while the pricing thread applies it in order,
//! or, when the caller knew it a batch ahead, while the batch before was priced
//! ([`Ahead`]).

use std::hash::BuildHasher;
use std::sync::Arc;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use super::{Input, PipelineConfig};
use crate::engine::{Plugin, PluginError, PluginSet, PriceError};
use crate::intake::{Event, Op, Rejection, Rules, decode};

/// Inputs decoded at a time; a batch of more than one chunk is decoded on two threads.
const CHUNK: usize = 1024;

/// A plugin's verdict on a quote's data: its compact stored form, or why not.
pub(super) type QuoteCheck = Result<Result<Vec<u8>, PriceError>, PluginError>;

/// An input decoded, before it meets the state.
pub(super) struct Decoded {
    /// The event, or why the input is not one.
    pub event: Result<Event, Rejection>,
    /// For a resource upsert of a kind with a plugin, the plugin's verdict on the quote
    /// (used only if the event is not stale, but counted either way).
    pub quote: Option<QuoteCheck>,
}

/// One input decoded with `plugins`.
fn decode_input(config: &PipelineConfig, plugins: &PluginSet, input: &Input) -> Decoded {
    let known = |k: &str| plugins.has(k);
    let rules = Rules { known_kind: &known, supplier_required: &config.supplier_required, currency: &config.currency };
    let event = decode(&input.text, &rules);
    let quote = match &event {
        Ok(e) if e.op == Op::Upsert && e.kind != "product" => {
            plugins.get(&e.kind).map(|plugin| plugin.decode_quote(&e.key, e.data.get()))
        }
        _ => None,
    };
    Decoded { event, quote }
}

/// The start of a batch decoded ahead, on a thread of its own while the batch before it
/// is priced: decoding and the quote checks were about a tenth of the pricing thread's
/// time, and half of that stayed on it even with the helper below. After its first
/// chunk it stops when that pricing ends, so the pricing thread waits for a chunk at
/// most; the batch decodes what is left itself. Used only for the very inputs, and the
/// very plugins, it was decoded with.
pub(super) struct Ahead {
    /// The plugins it was decoded with, by kind: kept, so that a set swapped in since
    /// can never be taken for them.
    plugins: Vec<(String, Arc<Plugin>)>,
    /// A hash of each input's text, with `hasher`: the inputs it was decoded from.
    texts: Vec<u64>,
    hasher: foldhash::quality::RandomState,
    decoded: Vec<Decoded>,
}

impl Ahead {
    /// Decodes `inputs` with `plugins`, a chunk at a time, until `stop` is set (at least
    /// the first chunk).
    pub(super) fn decode(config: &PipelineConfig, plugins: &PluginSet, inputs: &[Input], stop: &AtomicBool) -> Ahead {
        let hasher = foldhash::quality::RandomState::default();
        let mut texts = Vec::with_capacity(inputs.len());
        let mut decoded = Vec::with_capacity(inputs.len());
        for (n, chunk) in inputs.chunks(CHUNK).enumerate() {
            if n > 0 && stop.load(Ordering::Relaxed) {
                break;
            }
            texts.extend(chunk.iter().map(|i| hasher.hash_one(&i.text)));
            decoded.extend(chunk.iter().map(|i| decode_input(config, plugins, i)));
        }
        Ahead { plugins: plugins.iter().map(|(k, p)| (k.to_owned(), Arc::clone(p))).collect(), texts, hasher, decoded }
    }

    /// Its decoded inputs, the first of `inputs`, if they and `plugins` are what it
    /// decoded them from.
    pub(super) fn take_for(self, plugins: &PluginSet, inputs: &[Input]) -> Option<Vec<Decoded>> {
        let same_plugins = self.plugins.len() == plugins.iter().count()
            && self.plugins.iter().zip(plugins.iter()).all(|((k, a), (kind, b))| k == kind && Arc::ptr_eq(a, b));
        let same_inputs = self.texts.len() <= inputs.len()
            && self.texts.iter().zip(inputs).all(|(&t, input)| t == self.hasher.hash_one(&input.text));
        (same_plugins && same_inputs).then_some(self.decoded)
    }
}

/// Decodes `inputs` and hands each, with what was found, to `each`, in order; stops at
/// `each`'s first error. Inputs decoded ahead (`ready`, for the first of these very
/// inputs) are handed on as they are. Of the rest, a batch of more than one chunk is
/// decoded by a helper thread and this one, each taking the next chunk not yet taken,
/// while this one applies them in order: at large batches, decoding and the quote checks
/// were a seventh of this (the pricing) thread's time.
pub(super) fn decoded<E>(
    config: &PipelineConfig,
    plugins: &PluginSet,
    inputs: &[Input],
    ready: Option<Vec<Decoded>>,
    mut each: impl FnMut(&Input, Decoded) -> Result<(), E>,
) -> Result<(), E> {
    let inputs = match ready {
        Some(ready) => {
            let (done, rest) = inputs.split_at(ready.len().min(inputs.len()));
            done.iter().zip(ready).try_for_each(|(input, d)| each(input, d))?;
            rest
        }
        None => inputs,
    };
    let decode_input = |input: &Input| decode_input(config, plugins, input);
    if inputs.len() <= CHUNK {
        return inputs.iter().try_for_each(|input| each(input, decode_input(input)));
    }
    let chunks: Vec<&[Input]> = inputs.chunks(CHUNK).collect();
    let shared = Shared {
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        helper_gone: AtomicBool::new(false),
        done: Mutex::new((0..chunks.len()).map(|_| None).collect()),
        ready: Condvar::new(),
    };
    let decode_chunk = |i: usize| {
        let decoded: Vec<Decoded> = chunks[i].iter().map(decode_input).collect();
        shared.lock()[i] = Some(decoded);
        shared.ready.notify_all();
    };
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let _gone = HelperGone(&shared);
            while !shared.stop.load(Ordering::Relaxed) {
                let i = shared.next.fetch_add(1, Ordering::Relaxed);
                if i >= chunks.len() {
                    break;
                }
                decode_chunk(i);
            }
        });
        let result = (|| {
            for (i, chunk) in chunks.iter().enumerate() {
                let decoded = loop {
                    if let Some(d) = shared.lock()[i].take() {
                        break d;
                    }
                    // Not decoded yet: decode the next chunk nobody has taken, if any,
                    // rather than wait; else wait for this one.
                    let j = shared.next.fetch_add(1, Ordering::Relaxed);
                    if j < chunks.len() {
                        decode_chunk(j);
                        continue;
                    }
                    let mut done = shared.lock();
                    while done[i].is_none() && !shared.helper_gone.load(Ordering::Relaxed) {
                        done = shared.ready.wait(done).unwrap_or_else(PoisonError::into_inner);
                    }
                    match done[i].take() {
                        Some(d) => break d,
                        // The helper panicked on it (the scope passes the panic on once
                        // this thread is done): decoded here instead.
                        None => break chunk.iter().map(decode_input).collect(),
                    }
                };
                for (input, d) in chunk.iter().zip(decoded) {
                    each(input, d)?;
                }
            }
            Ok(())
        })();
        // After an error, the helper takes no further chunk.
        shared.stop.store(true, Ordering::Relaxed);
        result
    })
}

/// A batch's chunks being decoded by the thread that applies them and a helper.
struct Shared {
    /// The next chunk not taken.
    next: AtomicUsize,
    /// Set once the applier is done: the helper takes no more.
    stop: AtomicBool,
    /// Set as the helper ends, however it ends.
    helper_gone: AtomicBool,
    /// By chunk: its decoded inputs, from when they are decoded until applied.
    done: Mutex<Vec<Option<Vec<Decoded>>>>,
    /// Signalled as each chunk is decoded, and as the helper ends.
    ready: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Vec<Option<Vec<Decoded>>>> {
        self.done.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Marks the helper gone when dropped, and wakes the applier: a helper that panicked
/// on a chunk never decodes it, and the applier waiting for it would wait for good.
struct HelperGone<'a>(&'a Shared);

impl Drop for HelperGone<'_> {
    fn drop(&mut self) {
        self.0.helper_gone.store(true, Ordering::Relaxed);
        // Taken and let go, so that the applier is either past its check or waiting.
        drop(self.0.lock());
        self.0.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::Origin;

    /// `n` inputs: products (valid without any plugin), every 7th not JSON, every 5th
    /// of an unknown kind.
    fn inputs(n: usize) -> Vec<Input> {
        (0..n)
            .map(|i| {
                let text = if i % 7 == 3 {
                    format!("{{not json {i}")
                } else {
                    let kind = if i % 5 == 1 { "spaceship" } else { "product" };
                    format!(
                        r#"{{"id":"e{i}","kind":"{kind}","key":"P{i}","op":"delete","seq":1,"ts":"2026-11-22T10:00:00Z"}}"#
                    )
                };
                Input { text, origin: Origin::File { path: "t".into(), line: i as u64 + 1 } }
            })
            .collect()
    }

    /// What `decoded` hands on, as (line, event id or rejection class).
    fn seen(inputs: &[Input], stop_at: Option<usize>) -> (Vec<(u64, String)>, Result<(), usize>) {
        seen_with(inputs, None, stop_at)
    }

    /// [`seen`], with the first inputs decoded ahead (`ready`).
    fn seen_with(
        inputs: &[Input],
        ready: Option<Vec<Decoded>>,
        stop_at: Option<usize>,
    ) -> (Vec<(u64, String)>, Result<(), usize>) {
        let mut seen = Vec::new();
        let result = decoded(&PipelineConfig::default(), &PluginSet::default(), inputs, ready, |input, d| {
            let Origin::File { line, .. } = input.origin else { unreachable!("file inputs") };
            assert!(d.quote.is_none(), "no resource upserts here");
            seen.push((line, d.event.map_or_else(|r| r.class().to_owned(), |e| e.id)));
            if stop_at == Some(seen.len()) { Err(seen.len()) } else { Ok(()) }
        });
        (seen, result)
    }

    #[test]
    fn every_input_is_handed_on_once_in_order_with_its_own_outcome_however_large_the_batch() {
        for n in [0, 1, CHUNK, CHUNK + 1, 5 * CHUNK + 17] {
            let batch = inputs(n);
            let (seen, result) = seen(&batch, None);
            assert_eq!(result, Ok(()));
            let expected: Vec<(u64, String)> = (0..n)
                .map(|i| {
                    let what = match (i % 7, i % 5) {
                        (3, _) => "not_json".to_owned(),
                        (_, 1) => "unknown_kind".to_owned(),
                        _ => format!("e{i}"),
                    };
                    (i as u64 + 1, what)
                })
                .collect();
            assert_eq!(seen, expected, "{n} inputs");
        }
    }

    /// Stopped at once, the decoding ahead still does its first chunk; the batch hands
    /// those on and decodes the rest, all in order, as if none were decoded ahead. Inputs
    /// that differ within what was decoded ahead are decoded afresh.
    #[test]
    fn a_batch_decoded_ahead_in_part_hands_on_every_input_in_order() {
        let batch = inputs(3 * CHUNK + 5);
        let config = PipelineConfig::default();
        let plugins = PluginSet::default();
        let stopped = AtomicBool::new(true);
        let ahead = Ahead::decode(&config, &plugins, &batch, &stopped);
        assert_eq!(ahead.decoded.len(), CHUNK, "the first chunk");
        let ready = ahead.take_for(&plugins, &batch).expect("the same inputs");
        assert_eq!(seen_with(&batch, Some(ready), None), seen(&batch, None));

        let mut changed = batch.clone();
        changed[CHUNK + 1].text.push(' ');
        let ahead = Ahead::decode(&config, &plugins, &batch, &stopped);
        assert!(ahead.take_for(&plugins, &changed).is_some(), "a change after what was decoded ahead");
        changed[CHUNK - 1].text.push(' ');
        let ahead = Ahead::decode(&config, &plugins, &batch, &stopped);
        assert!(ahead.take_for(&plugins, &changed).is_none(), "a change within it");
        let ahead = Ahead::decode(&config, &plugins, &batch, &AtomicBool::new(false));
        assert_eq!(ahead.decoded.len(), batch.len(), "not stopped: all of it");
        assert!(ahead.take_for(&plugins, &batch[..CHUNK]).is_none(), "fewer inputs than it decoded");
    }

    #[test]
    fn an_error_stops_the_batch_where_it_happened() {
        let batch = inputs(4 * CHUNK);
        let (seen, result) = seen(&batch, Some(CHUNK + 5));
        assert_eq!(result, Err(CHUNK + 5));
        assert_eq!(seen.len(), CHUNK + 5, "nothing after the error");
        assert_eq!(seen.last().map(|s| s.0), Some(CHUNK as u64 + 5));
    }
}
