//! End to end: a generated catalog of about 1,000,000 departures is loaded, then a
//! change stream is priced through the whole pipeline (decode, state, fan-out, plugins,
//! versioned prices, output files, atomic commits), once with the reference plugins as
//! WebAssembly components and once with the same rule code compiled natively, each in
//! its own process so peak memory is its own.
//!
//! Run: `cargo bench -p pricing-runtime --bench pipeline` (defaults: 5,000 products x 4
//! cities x 50 dates, 50,000 change events, batches of 5,000). `-- --help` lists the
//! knobs. Prints one row per backend and the wasm/native ratio.
//!
//! Event-to-price latency here is the time from an event's batch entering the pipeline
//! to its prices being written and flushed (which the file sink does on a thread of its
//! own, while the next batch is priced; see `Runner::take_durable_at`): with the input
//! replayed as fast as it goes, that is what an event waits for its price.

use std::process::Command;
use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use pricing_runtime::engine::{EngineConfig, Plugin, PluginHost, PluginSet};
use pricing_runtime::pipeline::{Input, Pipeline, PipelineConfig, Stats};
use pricing_runtime::sink::FileSink;
use pricing_runtime::source::Runner;
use pricing_runtime::state::State;
use serde::{Deserialize, Serialize};

mod common;
use common::{
    CatalogArgs, Workload, cpu_seconds, folder_bytes, inputs, load, peak_rss_kib, progress, threads_cpu_seconds,
};

#[derive(Parser, Clone)]
struct Args {
    #[command(flatten)]
    catalog: CatalogArgs,
    /// Change events after the catalog and initial quotes.
    #[arg(long, default_value_t = 50_000)]
    events: u64,
    /// Events per micro-batch.
    #[arg(long, default_value_t = 5_000)]
    batch_size: usize,
    /// Start the stream with nothing in the working set, as after a restart: each
    /// product's and resource's first use in the stream reads it from fjall.
    #[arg(long)]
    cold: bool,
    /// Hand each batch to the runner without the next one, as a source that cannot read
    /// ahead (a pipe, a topic) does: the batch decodes its own inputs. By default the
    /// next batch's inputs are decoded while each batch is priced, as a file's are.
    #[arg(long)]
    no_read_ahead: bool,
    /// `both` (each in a child process), `wasm` or `native`.
    #[arg(long, default_value = "both")]
    backend: String,
    /// Ignored: cargo bench passes it.
    #[arg(long, hide = true)]
    bench: bool,
}

/// One backend's figures.
#[derive(Serialize, Deserialize)]
struct Report {
    backend: String,
    load_lines: u64,
    load_seconds: f64,
    events: u64,
    seconds: f64,
    events_per_s: f64,
    reprices: u64,
    reprices_per_s: f64,
    /// CPU seconds of the thread that prices (the critical path) during the stream.
    pricing_cpu_s: f64,
    /// CPU seconds of fjall's flush and compaction workers during the stream.
    fjall_workers_cpu_s: f64,
    /// CPU seconds of the whole process during the stream (pricing, commits, workers).
    process_cpu_s: f64,
    records: u64,
    /// Component amounts kept from their departure's last pricing (no plugin call).
    components_reused: u64,
    /// Stream events decoded while the batch before theirs was priced (0 with
    /// `--no-read-ahead`).
    events_decoded_ahead: u64,
    /// Plugin calls that failed as a whole (trap, timeout, memory limit) while loading
    /// the catalog, and during the stream: the departures they priced are unavailable.
    load_plugin_failures: u64,
    plugin_failures: u64,
    p50_ms: f64,
    p99_ms: f64,
    state_mib: f64,
    output_mib: f64,
    peak_rss_mib: f64,
    departures: u64,
    mean_flight_fanout: f64,
}

fn main() -> Result<()> {
    pricing_runtime::allocator::tune();
    let args = Args::parse();
    match args.backend.as_str() {
        "both" => both(&args),
        backend => {
            let report = run(&args, backend)?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
    }
}

fn both(args: &Args) -> Result<()> {
    let exe = std::env::current_exe()?;
    let mut reports = Vec::new();
    for backend in ["wasm", "native"] {
        let out = Command::new(&exe)
            .args(["--backend", backend])
            .args(args.catalog.to_args())
            .args(["--events", &args.events.to_string(), "--batch-size", &args.batch_size.to_string()])
            .args(args.cold.then_some("--cold"))
            .args(args.no_read_ahead.then_some("--no-read-ahead"))
            .stderr(std::process::Stdio::inherit())
            .output()?;
        anyhow::ensure!(out.status.success(), "{backend} run failed");
        let line = String::from_utf8(out.stdout)?;
        reports.push(serde_json::from_str::<Report>(line.trim())?);
    }
    let r0 = &reports[0];
    println!(
        "\n{} departures, mean flight fan-out {:.1}; load {} lines; stream {} events, batches of {}\n",
        r0.departures, r0.mean_flight_fanout, r0.load_lines, r0.events, args.batch_size
    );
    println!(
        "| backend | load s | events/s | re-prices/s | pricing CPU s | fjall workers CPU s | process CPU s | records | components reused | plugin failures (load / stream) | p50 ms | p99 ms | state MiB | output MiB | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &reports {
        println!(
            "| {} | {:.1} | {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {} | {} | {} / {} | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} |",
            r.backend,
            r.load_seconds,
            r.events_per_s,
            r.reprices_per_s,
            r.pricing_cpu_s,
            r.fjall_workers_cpu_s,
            r.process_cpu_s,
            r.records,
            r.components_reused,
            r.load_plugin_failures,
            r.plugin_failures,
            r.p50_ms,
            r.p99_ms,
            r.state_mib,
            r.output_mib,
            r.peak_rss_mib
        );
    }
    println!("\nwasm / native stream time: {:.2}", reports[0].seconds / reports[1].seconds);
    Ok(())
}

fn plugins(host: &PluginHost, backend: &str) -> Result<PluginSet> {
    Ok(match backend {
        "wasm" => PluginSet::reference(host)?,
        "native" => {
            let mut set = PluginSet::default();
            set.insert(Plugin::native::<plugin_flight::Flight>());
            set.insert(Plugin::native::<plugin_hotel::Hotel>());
            set.insert(Plugin::native::<plugin_insurance::Insurance>());
            set.insert(Plugin::native::<plugin_cruise::Cruise>());
            set.insert(Plugin::native::<plugin_discount::Discount>());
            set
        }
        other => anyhow::bail!("unknown backend {other:?}"),
    })
}

fn run(args: &Args, backend: &str) -> Result<Report> {
    let config = args.catalog.gen_config(args.events)?;
    let workload = Workload::generate(&config)?;
    let (summary, load_lines, lines) = (&workload.summary, workload.load_lines, workload.lines());

    let dir = tempfile::tempdir()?;
    let host = PluginHost::new(EngineConfig::default())?;
    let plugins = plugins(&host, backend)?;
    let state = State::open(&dir.path().join("state"))?;
    let mut sink = FileSink::open(dir.path())?;
    let pipeline = Pipeline::new(PipelineConfig::default());
    let mut runner = Runner::new(&state, &plugins, &pipeline, &mut sink);

    let load_seconds = load(&mut runner, &lines[..load_lines], args.batch_size, backend)?;
    let mut done = load_lines;
    let before: Stats = runner.total().clone();

    // The load's last commit lands first, so the stream's figures are its own.
    runner.settle()?;
    let _ = runner.take_durable_at();
    if args.cold {
        state.forget_working_set();
    }
    let started = Instant::now();
    let (thread_cpu, process_cpu) = (cpu_seconds(true)?, cpu_seconds(false)?);
    let workers_cpu = threads_cpu_seconds("fjall")?;
    let stream = &lines[load_lines..];
    let mut latencies: Vec<(f64, usize)> = Vec::new();
    // Batches whose records are not yet known durable: when each started, its events.
    // Commits land in batch order, so the oldest is next.
    let mut in_flight = std::collections::VecDeque::new();
    let mut landed = |runner: &mut Runner<'_>, in_flight: &mut std::collections::VecDeque<(Instant, usize)>| {
        for at in runner.take_durable_at() {
            if let Some((t, n)) = in_flight.pop_front() {
                latencies.push((at.duration_since(t).as_secs_f64() * 1e3, n));
            }
        }
    };
    // Built a batch ahead, as a file source reads them (see `Runner::batch_then`).
    let chunks: Vec<&[&str]> = stream.chunks(args.batch_size).collect();
    let mut batch = chunks.first().map(|c| inputs(c, done)).unwrap_or_default();
    for (i, chunk) in chunks.iter().enumerate() {
        let following = chunks.get(i + 1).map(|c| inputs(c, done + chunk.len())).unwrap_or_default();
        let next: &[Input] = if args.no_read_ahead { &[] } else { &following };
        in_flight.push_back((Instant::now(), chunk.len()));
        runner.batch_then(&batch, next, "bench", (done as u64).to_le_bytes().to_vec())?;
        landed(&mut runner, &mut in_flight);
        batch = following;
        done += chunk.len();
        progress(backend, "stream", done - load_lines, stream.len(), started);
    }
    let pricing_cpu_s = cpu_seconds(true)? - thread_cpu;
    runner.settle()?;
    landed(&mut runner, &mut in_flight);
    let total = runner.finish()?;
    let seconds = started.elapsed().as_secs_f64();
    let process_cpu_s = cpu_seconds(false)? - process_cpu;
    let fjall_workers_cpu_s = threads_cpu_seconds("fjall")? - workers_cpu;
    eprintln!();
    let reprices = total.departures_priced - before.departures_priced;

    Ok(Report {
        backend: backend.to_owned(),
        load_lines: load_lines as u64,
        load_seconds,
        events: stream.len() as u64,
        seconds,
        events_per_s: stream.len() as f64 / seconds,
        reprices,
        reprices_per_s: reprices as f64 / seconds,
        pricing_cpu_s,
        fjall_workers_cpu_s,
        process_cpu_s,
        records: total.departure_records - before.departure_records,
        components_reused: total.components_reused - before.components_reused,
        events_decoded_ahead: pipeline.decoded_ahead(),
        load_plugin_failures: before.plugin_failures,
        plugin_failures: total.plugin_failures - before.plugin_failures,
        p50_ms: percentile(&mut latencies, 0.50),
        p99_ms: percentile(&mut latencies, 0.99),
        state_mib: state.disk_space()? as f64 / 1048576.0,
        output_mib: folder_bytes(dir.path())? as f64 / 1048576.0,
        peak_rss_mib: peak_rss_kib()? as f64 / 1024.0,
        departures: summary.departures,
        mean_flight_fanout: summary.mean_flight_fanout,
    })
}

/// The latency below which `q` of the events were, each batch's latency counted once
/// per event in it.
fn percentile(batches: &mut [(f64, usize)], q: f64) -> f64 {
    batches.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: usize = batches.iter().map(|b| b.1).sum();
    let mut seen = 0;
    for (ms, n) in batches.iter() {
        seen += n;
        if seen as f64 >= q * total as f64 {
            return *ms;
        }
    }
    0.0
}
