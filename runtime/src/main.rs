//! `pricing`: the engine's command line.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use pricing_runtime::config::{Config, InputConfig, Overrides};
use std::sync::Arc;

use pricing_runtime::admin;
use pricing_runtime::engine::{EngineConfig, Plugin, PluginHost};
use pricing_runtime::ops::{Operations, ReadyPart, watch};
use pricing_runtime::pipeline::{Pipeline, Stats};
use pricing_runtime::plugins;
use pricing_runtime::progress::{GenProgress, InputProgress};
use pricing_runtime::registry::Registry;
use pricing_runtime::sink::{FileSink, KafkaSink, Sink};
use pricing_runtime::source::{Runner, STDIN_NAME, Until, run_file, run_kafka, run_stdin};
use pricing_runtime::state::{DeparturePrice, State, Status};

mod cli;

/// The travel pricing engine.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Log format on stderr: `text` for people, `json` (one object per line) for log
    /// pipelines [env: PRICING_LOG_FORMAT]
    #[arg(long, global = true, value_enum, env = "PRICING_LOG_FORMAT", default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines (coloured on a terminal).
    Text,
    /// One JSON object per line, with the span fields.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Load the reference plugins (or the given components) into the wasm host, check
    /// them, and list what each one is.
    Plugins {
        /// Component files to load instead of the built-in reference plugins.
        files: Vec<PathBuf>,
        /// Time budget of one plugin call, in milliseconds.
        #[arg(long, default_value_t = EngineConfig::default().call_budget_ms)]
        call_budget_ms: u64,
        /// Memory limit of one plugin instance, in MiB.
        #[arg(long, default_value_t = EngineConfig::default().memory_limit_mib)]
        memory_limit_mib: u64,
    },
    /// Price the events of NDJSON files (or stdin) on the embedded default: state and
    /// output files (`departure-prices.ndjson`, `product-prices.ndjson`, `dlq.ndjson`) in
    /// the data folder. Resumes after the last committed batch of each file; stdin cannot
    /// seek, so it is always consumed from its first line.
    Run {
        /// Input files, consumed in order; `-` reads stdin. Replace the config's
        /// `input.files` [default: the config's]
        files: Vec<PathBuf>,
        /// TOML config file (every field: `examples/pricing.toml`); the other flags override it.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Data folder: state and output files [default: the config's `data`, else `data`]
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Events per micro-batch, one atomic state commit each [default: the config's
        /// `input.batch_size`, else 1000]
        #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
        batch_size: Option<usize>,
        /// Address of the admin API [default: the config's `admin.listen`, else 127.0.0.1:8080]
        #[arg(long, value_name = "ADDR")]
        admin_listen: Option<std::net::SocketAddr>,
        /// Do not serve the admin API
        #[arg(long)]
        no_admin: bool,
        /// Keep running once the inputs are consumed: serve the admin API and work
        /// through its jobs (reprice, price rollback) until stopped
        #[arg(long)]
        serve: bool,
        /// With Kafka: stop once every assigned partition is consumed to its end and
        /// priced (a replay or backfill) instead of consuming until stopped
        #[arg(long)]
        until_caught_up: bool,
    },
    /// The quickstart: price the example workload (`examples/events.ndjson`) into a fresh
    /// `data/demo` folder and print the starting prices and the cheapest departures.
    Demo {
        /// The example events.
        #[arg(long, default_value = "examples/events.ndjson")]
        events: PathBuf,
        /// Data folder, emptied first.
        #[arg(long, default_value = "data/demo")]
        data: PathBuf,
        /// Exit after printing instead of keeping the admin API up (no admin API is started)
        #[arg(long)]
        exit: bool,
        /// Address of the admin API (another one when 8080 is taken; port 0 picks a free one)
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        admin_listen: std::net::SocketAddr,
    },
    /// A product's price calendar: per departure city, each date's price; the starting
    /// price is marked with `*`.
    Calendar {
        /// Product key, e.g. `P000001`.
        product: String,
        /// Data folder.
        #[arg(long, default_value = "data")]
        data: PathBuf,
    },
    /// Every version of a departure's price, oldest first.
    History {
        /// Departure key `PRODUCT:CITY:DATE`.
        departure: String,
        /// Data folder.
        #[arg(long, default_value = "data")]
        data: PathBuf,
    },
    /// Check a plugin component, built in any language, against a kind's conformance
    /// cases: pass/fail per case, its metadata and its cost per departure.
    Conform(cli::conform::ConformArgs),
    /// Operate a running engine through its admin API: plugin versions, shadow runs,
    /// reprice, price rollback.
    Admin(cli::admin::AdminArgs),
    /// Write a seeded, realistic workload (catalog, initial quotes, change stream) as
    /// NDJSON to stdout; its summary (counts, mean flight fan-out) goes to stderr.
    Gen {
        #[command(flatten)]
        config: pricing_runtime::r#gen::GenConfig,
    },
}

fn main() -> std::process::ExitCode {
    pricing_runtime::allocator::tune();
    match run_cli() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The cause chain is what an operator needs; a backtrace is not.
            // Plain text even with JSON logs: the process is ending, and a person or a
            // supervisor reads this line.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_cli() -> Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,lsm_tree=warn,fjall=warn,wasmtime=warn,cranelift_codegen=warn".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // A closed span is logged (at its level) with its fields: the batch span's counts.
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE);
    match cli.log_format {
        // Colour codes only on a terminal: a log file must stay greppable.
        LogFormat::Text => logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        LogFormat::Json => logs.json().with_current_span(true).with_span_list(false).init(),
    }
    let json_logs = cli.log_format == LogFormat::Json;
    match cli.command {
        Command::Plugins { files, call_budget_ms, memory_limit_mib } => {
            let config =
                EngineConfig::default().with_call_budget_ms(call_budget_ms).with_memory_limit_mib(memory_limit_mib);
            list_plugins(&files, config)
        }
        Command::Run { files, config, data, batch_size, admin_listen, no_admin, serve, until_caught_up } => {
            let overrides = Overrides { files, data, batch_size, admin_listen, no_admin };
            let config = Config::resolve(config.as_deref(), overrides)?;
            let until = if until_caught_up { Until::CaughtUp } else { Until::Stopped };
            run(&config, serve, until, |_, stats, admin| {
                // With JSON logs, the counters are one line too: every stderr line parses.
                let counters =
                    if json_logs { serde_json::to_string(stats)? } else { serde_json::to_string_pretty(stats)? };
                eprintln!("{counters}");
                match admin.filter(|_| serve) {
                    Some(addr) if json_logs => {
                        tracing::info!(url = %format!("http://{addr}"), "inputs consumed; serving the admin API")
                    }
                    Some(addr) => eprintln!(
                        "inputs consumed; serving the admin API on http://{addr} and the console on \
                         http://{addr}/console (Ctrl-C to stop)"
                    ),
                    None => {}
                }
                Ok(())
            })
        }
        Command::Admin(args) => cli::admin::run(args),
        Command::Conform(args) => cli::conform::run(&args),
        Command::Demo { events, data, exit, admin_listen } => demo(&events, &data, exit, admin_listen),
        Command::Calendar { product, data } => calendar(&product, &data),
        Command::History { departure, data } => history(&departure, &data),
        Command::Gen { config } => {
            let started = Instant::now();
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut progress = GenProgress::new();
            let summary = pricing_runtime::r#gen::generate(&config, &mut out, |written, expected| {
                progress.update(written, expected);
            })?;
            std::io::Write::flush(&mut out)?;
            progress.finish();
            eprintln!("{}", serde_json::to_string_pretty(&summary)?);
            eprintln!("generated {} lines in {:.2} s", summary.lines, started.elapsed().as_secs_f64());
            Ok(())
        }
    }
}

/// Runs the engine on `config`: opens the registry, state and outputs, serves the admin
/// API (and watches the plugins folder) if configured, and consumes the inputs in order
/// with one runner, which also works through operations' jobs between and beside the
/// events. Then `done` gets the state, the counters and the admin address; with `serve`
/// the engine keeps working through jobs until the process is stopped (a kill is safe:
/// every batch commits atomically), otherwise the jobs still queued are finished first.
fn run(
    config: &Config,
    serve: bool,
    until: Until,
    done: impl FnOnce(&State, &Stats, Option<std::net::SocketAddr>) -> Result<()>,
) -> Result<()> {
    let data = &config.data;
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let host = Arc::new(PluginHost::new(config.engine.engine_config())?);
    let registry = Registry::open(&data.join("registry"), Arc::clone(&host))
        .with_context(|| format!("opening the plugin registry in {}", data.display()))?
        .with_max_upload_bytes(config.admin.max_upload_bytes());
    let registry = Arc::new(registry);
    let live = registry.live()?;
    let destinations = if config.kafka.enabled() {
        let t = &config.kafka.topics;
        [t.departure_prices.clone(), t.product_prices.clone(), t.dlq.clone()]
    } else {
        FileSink::FILES.map(str::to_owned)
    };
    let metrics = pricing_runtime::metrics::Metrics::new(Some(data)).with_destinations(destinations);
    let ops = Arc::new(Operations::new(config.operations.clone(), Arc::clone(&registry)).with_metrics(metrics));
    let admin = if config.admin.enabled {
        Some(
            admin::serve(&config.admin, Arc::clone(&ops))
                .context("starting the admin API (another address: --admin-listen)")?,
        )
    } else {
        None
    };
    let _watching = match &config.operations.watch {
        Some(folder) => {
            let interval = std::time::Duration::from_millis(config.operations.watch_interval_ms);
            Some(
                watch(folder, interval, Arc::clone(&registry))
                    .with_context(|| format!("watching the plugins folder {}", folder.display()))?,
            )
        }
        None => None,
    };
    // Before the state starts fjall's threads, which it lowers.
    pricing_runtime::priority::set_background_nice(config.pipeline.background_nice);
    let state = State::open(&data.join("state")).with_context(|| format!("opening state in {}", data.display()))?;
    ops.state_opened(state.committer());
    let mut sink: Box<dyn Sink> = if config.kafka.enabled() {
        // Checks the brokers answer and creates missing topics before anything is read.
        pricing_runtime::kafka::prepare(&config.kafka)?;
        ops.set_ready(ReadyPart::Source, true);
        Box::new(KafkaSink::new(&config.kafka).context("creating the Kafka producer")?)
    } else {
        Box::new(FileSink::open(data).with_context(|| format!("opening the output files in {}", data.display()))?)
    };
    let pipeline = Pipeline::new(config.pipeline.clone());
    let mut runner = Runner::new(&state, &*live, &pipeline, &mut *sink).with_ops(Some(&ops));
    let batch_size = config.input.batch_size;
    if config.kafka.enabled() {
        let started = Instant::now();
        let stop = stop_on_signals()?;
        let mut progress = InputProgress::stream(&config.kafka.topics.events);
        let stats = run_kafka(&config.kafka, batch_size, until, &stop, &mut runner, |p| progress.update(p));
        progress.finish();
        log_consumed(&config.kafka.topics.events, &stats?, started);
    }
    if !config.kafka.enabled() {
        // Files and stdin are open as soon as they are read; a missing file fails the run.
        ops.set_ready(ReadyPart::Source, true);
    }
    for file in &config.input.files {
        let started = Instant::now();
        let stats = if file.as_os_str() == STDIN_NAME {
            let mut progress = InputProgress::stream("stdin");
            let stats = run_stdin(batch_size, &mut runner, |p| progress.update(p));
            progress.finish();
            stats?
        } else {
            let name = file.display().to_string();
            // A missing file is reported by run_file, with the error that says so.
            let size = std::fs::metadata(file).map_or(0, |m| m.len());
            let mut progress = InputProgress::file(&name, size);
            let stats = run_file(file, batch_size, &mut runner, |p| progress.update(p));
            progress.finish();
            stats?
        };
        log_consumed(&file.display(), &stats, started);
    }
    if !serve {
        // Jobs asked for during the run are finished, not dropped at exit.
        while runner.run_ops()? {}
    }
    // Waits for the last commit: `done` reads the state.
    runner.run_ops()?;
    done(&state, runner.total(), admin.as_ref().map(admin::AdminHandle::local_addr))?;
    if serve {
        loop {
            if !runner.run_ops()? {
                let _ = ops.wait_for_jobs(std::time::Duration::from_millis(500));
            }
        }
    }
    runner.finish()?;
    Ok(())
}

/// A flag set by SIGTERM or SIGINT, so a Kafka consumer stops cleanly: it prices and
/// commits what it has read and leaves its group. A second SIGINT exits at once.
fn stop_on_signals() -> Result<Arc<std::sync::atomic::AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    signal_hook::flag::register_conditional_shutdown(SIGINT, 130, Arc::clone(&stop))
        .context("installing the SIGINT handler")?;
    for signal in [SIGTERM, SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing a signal handler")?;
    }
    Ok(stop)
}

/// The one log line of an input consumed to its end.
fn log_consumed(input: &dyn std::fmt::Display, stats: &Stats, started: Instant) {
    tracing::info!(
        input = %input,
        events = stats.events,
        stale = stats.stale,
        dead_letters = stats.dead_letter_total(),
        departure_records = stats.departure_records,
        seconds = started.elapsed().as_secs_f64(),
        "consumed"
    );
}

fn demo(events: &Path, data: &Path, exit: bool, admin_listen: std::net::SocketAddr) -> Result<()> {
    // Checked before the data folder is emptied: run from another folder than the
    // repository's root, the default path names nothing, and the demo would stop after
    // emptying (or making) a data folder there for nothing.
    std::fs::File::open(events).with_context(|| {
        format!(
            "cannot read the example events {} (run `pricing demo` from the repository's root, or name them with --events)",
            events.display()
        )
    })?;
    if data.exists() {
        std::fs::remove_dir_all(data).with_context(|| format!("emptying {}", data.display()))?;
    }
    let mut config = Config {
        data: data.to_path_buf(),
        input: InputConfig { files: vec![events.to_path_buf()], ..InputConfig::default() },
        ..Config::default()
    };
    // With `--exit` nobody could use it, and a taken port would fail the demo for nothing.
    config.admin.enabled = !exit;
    config.admin.listen = admin_listen;
    run(&config, !exit, Until::Stopped, |state, stats, admin| {
        print_demo(state, stats, data)?;
        if let Some(addr) = admin.filter(|_| !exit) {
            println!(
                "\noperations console: http://{addr}/console (prices, rules, live charts, dead letters)\n\
                 admin API: http://{addr}/plugins (rules and versions; Ctrl-C to stop)\n  \
                 try: curl -s http://{addr}/plugins\n       pricing admin --url http://{addr} list"
            );
        }
        Ok(())
    })
}

fn print_demo(state: &State, stats: &Stats, data: &Path) -> Result<()> {
    println!(
        "{} events: {} applied, {} stale, {} dead-lettered; {} departure price records, {} product price records\n",
        stats.events,
        stats.applied,
        stats.stale,
        stats.dead_letter_total(),
        stats.departure_records,
        stats.product_records
    );
    let prices: Vec<DeparturePrice> = state.all_prices().collect::<Result<_, _>>()?;
    let mut products: Vec<&str> = prices.iter().map(|p| p.product.as_str()).collect();
    products.dedup();
    println!("{:<10} {:>12} {:<5} {:<11} {:>10}  per city", "product", "from", "city", "date", "available");
    for product in products {
        let Some(pp) = state.product_price(product)? else { continue };
        let per_city: Vec<String> = pp.per_city.iter().map(|(c, v)| format!("{c} {}", money(*v))).collect();
        println!(
            "{:<10} {:>12} {:<5} {:<11} {:>10}  {}",
            product,
            pp.from_price.map_or_else(|| "-".into(), money),
            pp.city.as_deref().unwrap_or("-"),
            pp.date.as_deref().unwrap_or("-"),
            pp.available,
            per_city.join(", ")
        );
    }
    let mut cheapest: Vec<&DeparturePrice> = prices.iter().filter(|p| p.status == Status::Available).collect();
    cheapest.sort_by_key(|p| (p.price, p.date.clone()));
    println!("\ncheapest departures:");
    for p in cheapest.iter().take(5) {
        let parts: Vec<String> = p.components.iter().map(|c| format!("{} {}", c.kind, money(c.amount))).collect();
        println!(
            "  {} {:>12}  v{}  ({})",
            p.key(),
            p.price.map_or_else(|| "-".into(), money),
            p.version,
            parts.join(", ")
        );
    }
    println!("\noutput records: {}/departure-prices.ndjson, product-prices.ndjson, dlq.ndjson", data.display());
    Ok(())
}

fn open_existing(data: &Path) -> Result<State> {
    let folder = data.join("state");
    anyhow::ensure!(folder.exists(), "no state in {} (run `pricing run` or `pricing demo` first)", data.display());
    Ok(State::open(&folder)?)
}

fn calendar(product: &str, data: &Path) -> Result<()> {
    let state = open_existing(data)?;
    let prices = state.product_departure_prices(product)?;
    anyhow::ensure!(!prices.is_empty(), "no departures priced for product {product}");
    let from = state.product_price(product)?;
    let marked = from.as_ref().and_then(|f| Some((f.city.clone()?, f.date.clone()?)));
    if let Some(f) = &from {
        println!("{product}: from {} ({} available)", f.from_price.map_or_else(|| "-".into(), money), f.available);
    }
    let mut city = "";
    for p in &prices {
        if p.city != city {
            city = &p.city;
            let min = from.as_ref().and_then(|f| f.per_city.get(city)).map_or_else(|| "-".into(), |v| money(*v));
            println!("\n{city} (from {min})");
        }
        let star = if marked.as_ref().is_some_and(|(c, d)| *c == p.city && *d == p.date) { "*" } else { " " };
        let shown = match p.status {
            Status::Available => p.price.map_or_else(|| "-".into(), money),
            Status::Unavailable => format!("unavailable: {}", p.reason.as_deref().unwrap_or("")),
            Status::Retired => "retired".into(),
        };
        println!("  {}{star} {shown}  (v{})", p.date, p.version);
    }
    Ok(())
}

fn history(departure: &str, data: &Path) -> Result<()> {
    let state = open_existing(data)?;
    let versions = state.history(departure)?;
    anyhow::ensure!(!versions.is_empty(), "no price history for departure {departure} (key: PRODUCT:CITY:DATE)");
    println!("{:>4} {:<12} {:>12}  {:<10} {:<25} rules", "ver", "status", "price", "cause", "event_ts");
    for p in versions {
        let rules: Vec<&str> = p.rules.values().map(String::as_str).collect();
        println!(
            "{:>4} {:<12} {:>12}  {:<10} {:<25} {}",
            p.version,
            format!("{:?}", p.status).to_lowercase(),
            p.price.map_or_else(|| "-".into(), money),
            p.cause,
            p.event_ts,
            rules.join(" ")
        );
    }
    Ok(())
}

/// Minor units as `3314.00`-style text.
fn money(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, (minor % 100).abs())
}

fn list_plugins(files: &[PathBuf], config: EngineConfig) -> Result<()> {
    let host = PluginHost::new(config)?;
    let sources: Vec<(String, Vec<u8>)> = if files.is_empty() {
        plugins::REFERENCE.iter().map(|(a, wasm)| (format!("built-in {}", a.kind), wasm.to_vec())).collect()
    } else {
        files
            .iter()
            .map(|f| {
                Ok((f.display().to_string(), std::fs::read(f).with_context(|| format!("reading {}", f.display()))?))
            })
            .collect::<Result<_>>()?
    };
    let mut failed = 0;
    println!("{:<28} {:<11} {:>8} {:>9}  description", "plugin", "role", "KiB", "load ms");
    for (source, wasm) in sources {
        let started = Instant::now();
        match host.load(&wasm) {
            Ok(plugin) => print_plugin(&plugin, wasm.len(), started.elapsed().as_secs_f64() * 1e3),
            Err(e) => {
                failed += 1;
                println!("{source}: refused: {e}");
            }
        }
    }
    anyhow::ensure!(failed == 0, "{failed} plugin(s) refused");
    Ok(())
}

fn print_plugin(plugin: &Plugin, size: usize, ms: f64) {
    let info = plugin.info();
    println!(
        "{:<28} {:<11} {:>8} {:>9.1}  {}",
        plugin.id(),
        format!("{:?}", info.role).to_lowercase(),
        size / 1024,
        ms,
        info.description
    );
}
