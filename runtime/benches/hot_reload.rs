//! Hot reload figures on a generated catalog of about 1,000,000 departures, with the
//! reference plugins as WebAssembly components served from the registry:
//!
//! - **swap**: the change stream is priced in batches while another thread deploys and
//!   activates new flight versions through the registry, as the admin API does: a third
//!   of the way, a release with the same rules (`flight-same`: the swap's own cost); two
//!   thirds of the way, one that changes every price (`flight-surcharge`: each departure
//!   it re-prices gets a new version). Reported per swap: the deploy call's time, the time
//!   from its return to the end of the first batch priced by the new version (the first
//!   price it computed is in that batch: the batch in flight finishes with the old
//!   version first), and events/s before, during and after it, from each batch's events
//!   over its duration.
//! - **reprice**: a reprice of every departure that uses `flight` (all of them), run by
//!   the runner's idle loop: departures/s.
//!
//! Run: `cargo bench -p pricing-runtime --bench hot_reload` (`-- --help` for the knobs).

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result};
use clap::Parser;
use pricing_runtime::engine::{EngineConfig, PluginHost};
use pricing_runtime::ops::{JobState, Operations, OpsConfig};
use pricing_runtime::pipeline::{Pipeline, PipelineConfig};
use pricing_runtime::plugins;
use pricing_runtime::registry::Registry;
use pricing_runtime::sink::FileSink;
use pricing_runtime::source::Runner;
use pricing_runtime::state::State;

mod common;
use common::{CatalogArgs, Workload, inputs, load, progress};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    catalog: CatalogArgs,
    /// Change events streamed around the swaps.
    #[arg(long, default_value_t = 60_000)]
    events: u64,
    /// Events per micro-batch of the stream (the catalog loads in batches of 5,000).
    #[arg(long, default_value_t = 1_000)]
    batch_size: usize,
    /// Departures per reprice chunk.
    #[arg(long, default_value_t = OpsConfig::default().reprice_chunk)]
    reprice_chunk: usize,
    /// Ignored: cargo bench passes it.
    #[arg(long, hide = true)]
    bench: bool,
}

/// One stream batch: when it ended (seconds since the stream started), how long it took,
/// its events, and the flight version that priced it.
struct Batch {
    end: f64,
    seconds: f64,
    events: usize,
    flight: String,
}

fn main() -> Result<()> {
    pricing_runtime::allocator::tune();
    let args = Args::parse();
    let config = args.catalog.gen_config(args.events)?;
    let workload = Workload::generate(&config)?;
    let lines = workload.lines();
    let load_lines = workload.load_lines;

    let dir = tempfile::tempdir()?;
    let host = Arc::new(PluginHost::new(EngineConfig::default())?);
    let registry = Arc::new(Registry::open(&dir.path().join("registry"), host)?);
    let live = registry.live()?;
    let ops_config = OpsConfig { reprice_chunk: args.reprice_chunk, ..OpsConfig::default() };
    let ops = Operations::new(ops_config, Arc::clone(&registry));
    let state = State::open(&dir.path().join("state"))?;
    let mut sink = FileSink::open(dir.path())?;
    let pipeline = Pipeline::new(PipelineConfig::default());
    let mut runner = Runner::new(&state, &*live, &pipeline, &mut sink).with_ops(Some(&ops));
    let load_seconds = load(&mut runner, &lines[..load_lines], 5_000, "hot-reload")?;

    // The swaps: deploys (with activate) on another thread, a third and two thirds of
    // the way through the stream.
    let stream = &lines[load_lines..];
    let mut swaps = [
        Swap::new("same rules, new version", plugins::FLIGHT_SAME, stream.len() / 3)?,
        Swap::new("surcharge: every flight price changes", plugins::FLIGHT_SURCHARGE, stream.len() * 2 / 3)?,
    ];
    let started = Instant::now();
    let mut batches = Vec::new();
    let mut next = 0usize;
    let mut deploying: Option<std::thread::JoinHandle<Result<(f64, String)>>> = None;
    let mut done = 0usize;
    for chunk in stream.chunks(args.batch_size) {
        if deploying.as_ref().is_some_and(std::thread::JoinHandle::is_finished)
            && let Some(handle) = deploying.take()
        {
            let (returned, id) = handle.join().map_err(|_| anyhow::anyhow!("deploy thread panicked"))??;
            (swaps[next].returned, swaps[next].id) = (returned, id);
            next += 1;
        }
        if deploying.is_none() && next < swaps.len() && done >= swaps[next].at {
            let registry = Arc::clone(&registry);
            let wasm = swaps[next].wasm.clone();
            swaps[next].asked = started.elapsed().as_secs_f64();
            deploying = Some(std::thread::spawn(move || {
                let info = registry.deploy(&wasm, Some("flight"), "bench", true)?;
                Ok((started.elapsed().as_secs_f64(), info.id))
            }));
        }
        // The runner takes the set at the start of the batch, right after this.
        let flight = live.load().get("flight").map(|p| p.id().to_owned()).unwrap_or_default();
        let t = Instant::now();
        let position = ((load_lines + done) as u64).to_le_bytes().to_vec();
        runner.batch(&inputs(chunk, load_lines + done), "bench", position)?;
        batches.push(Batch {
            end: started.elapsed().as_secs_f64(),
            seconds: t.elapsed().as_secs_f64(),
            events: chunk.len(),
            flight,
        });
        done += chunk.len();
        progress("hot-reload", "stream", done, stream.len(), started);
    }
    eprintln!();
    anyhow::ensure!(deploying.is_none() && next == swaps.len(), "the stream ended before every swap was priced");

    // Reprice every departure that uses flight, as `pricing admin reprice flight` asks.
    let job = ops.reprice("flight", "bench")?;
    let t = Instant::now();
    while runner.run_ops()? {
        let status = ops.job(job.id)?;
        progress("hot-reload", "reprice", status.done as usize, status.total as usize, t);
    }
    eprintln!();
    let status = ops.job(job.id)?;
    anyhow::ensure!(status.state == JobState::Done, "reprice ended {:?}: {:?}", status.state, status.error);
    runner.finish()?;

    let rate = |from: f64, to: f64| {
        let picked: Vec<&Batch> = batches.iter().filter(|b| b.end > from && b.end - b.seconds < to).collect();
        let events: usize = picked.iter().map(|b| b.events).sum();
        let seconds: f64 = picked.iter().map(|b| b.seconds).sum();
        format!("{:.0} ({} batches)", events as f64 / seconds.max(1e-9), picked.len())
    };
    let window = 10.0;
    println!(
        "\n{} departures (mean flight fan-out {:.1}), loaded in {load_seconds:.1} s; stream {} events in batches of {}",
        workload.summary.departures,
        workload.summary.mean_flight_fanout,
        stream.len(),
        args.batch_size
    );
    // The stream's own spread: batches differ in fan-out, so a window's rate is only a
    // dip if it falls outside it.
    let mut per_batch: Vec<f64> = batches.iter().map(|b| b.events as f64 / b.seconds.max(1e-9)).collect();
    per_batch.sort_by(f64::total_cmp);
    let pick = |q: f64| per_batch[((per_batch.len() - 1) as f64 * q) as usize];
    let all_events: usize = batches.iter().map(|b| b.events).sum();
    let all_seconds: f64 = batches.iter().map(|b| b.seconds).sum();
    println!(
        "whole stream: {:.0} events/s; per batch p10 {:.0}, p50 {:.0}, p90 {:.0}",
        all_events as f64 / all_seconds,
        pick(0.1),
        pick(0.5),
        pick(0.9)
    );
    println!(
        "\n| swap | deploy call ms | deploy returned -> new version's first batch starts / ends, ms | events/s {window:.0} s before | during | {window:.0} s after |"
    );
    println!("|---|---|---|---|---|---|");
    for swap in &swaps {
        let first = batches
            .iter()
            .find(|b| b.flight == swap.id && b.end > swap.returned)
            .context("no batch was priced by the new version")?;
        println!(
            "| {} ({}) | {:.0} | {:.0} / {:.0} | {} | {} | {} |",
            swap.name,
            swap.id,
            (swap.returned - swap.asked) * 1e3,
            (first.end - first.seconds - swap.returned).max(0.0) * 1e3,
            (first.end - swap.returned) * 1e3,
            rate(swap.asked - window, swap.asked),
            rate(swap.asked, first.end),
            rate(first.end, first.end + window)
        );
    }
    println!(
        "\nreprice flight: {} departures in {:.1} s = {:.0} departures/s ({} new versions; chunks of {})",
        status.done,
        t.elapsed().as_secs_f64(),
        status.departures_per_s,
        status.emitted,
        args.reprice_chunk
    );
    Ok(())
}

/// One planned swap, and when it happened (seconds since the stream started).
struct Swap {
    name: &'static str,
    wasm: Vec<u8>,
    /// Stream events consumed before it is asked for.
    at: usize,
    asked: f64,
    returned: f64,
    id: String,
}

impl Swap {
    fn new(name: &'static str, artifact: plugins::Artifact, at: usize) -> Result<Self> {
        let wasm = std::fs::read(artifact.path).with_context(|| format!("reading {}", artifact.path))?;
        Ok(Swap { name, wasm, at, asked: 0.0, returned: 0.0, id: String::new() })
    }
}
