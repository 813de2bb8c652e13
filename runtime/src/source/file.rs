//! NDJSON files as input: one event per line, consumed in micro-batches of a fixed
//! number of lines. The position stored with each batch is the number of lines
//! consumed, so a restart resumes exactly after the last committed batch, with the same
//! batch boundaries as an uninterrupted run.

use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::engine::PluginSet;
use crate::intake::{Origin, format_millis};
use crate::pipeline::{Input, Pipeline, Stats};
use crate::sink::Sink;
use crate::state::State;

/// Consumes `path` from its stored position to the end. `progress` is called after each
/// batch with the lines consumed so far.
pub fn run_file(
    path: &Path,
    batch_size: usize,
    state: &State,
    plugins: &PluginSet,
    pipeline: &Pipeline,
    sink: &mut dyn Sink,
    mut progress: impl FnMut(u64),
) -> Result<Stats> {
    let name = path.display().to_string();
    let source = format!("file:{name}");
    let done = match state.position(&source)? {
        Some(bytes) => u64::from_le_bytes(bytes.as_slice().try_into().context("stored file position is corrupt")?),
        None => 0,
    };
    let file = std::fs::File::open(path).with_context(|| format!("cannot open input {name}"))?;
    let mut lines = BufReader::new(file).lines();
    let mut consumed = 0u64;
    while consumed < done {
        match lines.next() {
            Some(line) => {
                line.with_context(|| format!("reading {name}"))?;
                consumed += 1;
            }
            None => break,
        }
    }
    let mut total = Stats::default();
    let size = batch_size.max(1);
    // The batch grows as lines arrive: a huge --batch-size must not reserve memory up front.
    let mut batch = Vec::with_capacity(size.min(4_096));
    loop {
        batch.clear();
        let mut read = 0usize;
        for line in lines.by_ref().take(size) {
            let text = line.with_context(|| format!("reading {name}"))?;
            read += 1;
            consumed += 1;
            if !text.trim().is_empty() {
                batch.push(Input { text, origin: Origin::File { path: name.clone(), line: consumed } });
            }
        }
        if read == 0 {
            break;
        }
        let mut out = pipeline.process(state, plugins, &batch, &format_millis(now_millis()))?;
        // Output first, state second: a crash in between repeats records, never loses one.
        sink.write(&out).context("writing output records")?;
        sink.flush().context("flushing output records")?;
        let mut pending = std::mem::take(&mut out.pending);
        pending.set_position(&source, consumed.to_le_bytes().to_vec());
        pending.commit(state)?;
        total.add(&out.stats);
        progress(consumed);
    }
    Ok(total)
}

fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
