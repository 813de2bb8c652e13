//! `pricing conform PLUGIN.wasm CASES.json`: the conformance kit on the command line.
//! Prints the plugin's metadata, one line per check (`PASS` / `FAIL` with what was
//! expected and what came back), and the cost per departure; exits non-zero when any
//! check fails, so a deployment script can gate on it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use clap::Args;
use pricing_runtime::conform::{self, Check, Cost, Verdict};
use pricing_runtime::engine::{EngineConfig, PluginHost};
use pricing_sdk::conformance::CaseFile;
use serde::Serialize;

/// What to check and how.
#[derive(Args)]
pub struct ConformArgs {
    /// The plugin component (`.wasm`), built in any language.
    plugin: PathBuf,
    /// The cases file; the reference kinds' are in `examples/conformance/KIND.json`.
    cases: PathBuf,
    /// Departures per timed pricing batch.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Least time spent timing batches, in milliseconds; 0 times 5 batches only.
    #[arg(long, default_value_t = 1_000)]
    time_ms: u64,
    /// Time budget of one plugin call, in milliseconds.
    #[arg(long, default_value_t = EngineConfig::default().call_budget_ms)]
    call_budget_ms: u64,
    /// Memory limit of one plugin instance, in MiB.
    #[arg(long, default_value_t = EngineConfig::default().memory_limit_mib)]
    memory_limit_mib: u64,
    /// Print the report as one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// The whole report, as `--json` prints it.
#[derive(Serialize)]
struct Report<'a> {
    plugin: PluginFacts,
    cases: String,
    passed: usize,
    failed: usize,
    verdicts: &'a [Verdict],
    cost: Option<Cost>,
}

#[derive(Serialize)]
struct PluginFacts {
    id: String,
    kind: String,
    version: String,
    role: String,
    description: String,
    size_bytes: usize,
    load_ms: f64,
}

/// Runs the kit; `Err` when the plugin does not load or any check fails.
pub fn run(args: &ConformArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.cases).with_context(|| format!("reading {}", args.cases.display()))?;
    let cases: CaseFile =
        serde_json::from_str(&text).with_context(|| format!("{} is not a cases file", args.cases.display()))?;
    let wasm = std::fs::read(&args.plugin).with_context(|| format!("reading {}", args.plugin.display()))?;
    let config =
        EngineConfig::default().with_call_budget_ms(args.call_budget_ms).with_memory_limit_mib(args.memory_limit_mib);
    let host = PluginHost::new(config)?;
    let started = Instant::now();
    let plugin = host.load(&wasm).with_context(|| format!("loading {}", args.plugin.display()))?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;

    let verdicts = conform::check(&plugin, &cases);
    let failed = verdicts.iter().filter(|v| !v.passed).count();
    // A plugin of another kind has no cost worth timing against these cases.
    let cost = if verdicts.first().is_some_and(|v| v.check == Check::Kind && v.passed) {
        conform::cost(&plugin, &cases, args.batch, Duration::from_millis(args.time_ms)).context("timing the plugin")?
    } else {
        None
    };
    let info = plugin.info();
    let report = Report {
        plugin: PluginFacts {
            id: plugin.id().to_owned(),
            kind: info.kind.clone(),
            version: info.version.clone(),
            role: format!("{:?}", info.role).to_lowercase(),
            description: info.description.clone(),
            size_bytes: wasm.len(),
            load_ms,
        },
        cases: format!("{} ({})", args.cases.display(), cases.kind),
        passed: verdicts.len() - failed,
        failed,
        verdicts: &verdicts,
        cost,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    anyhow::ensure!(failed == 0, "{failed} of {} checks failed", verdicts.len());
    Ok(())
}

fn print_text(r: &Report<'_>) {
    let p = &r.plugin;
    println!("plugin  {} ({}) {}", p.id, p.role, p.description);
    println!("        {} KiB, compiled and checked in {:.0} ms", p.size_bytes / 1024, p.load_ms);
    println!("cases   {}", r.cases);
    for v in r.verdicts {
        if v.passed {
            println!("PASS    {}", v.name);
        } else {
            println!("FAIL    {}: expected {}, got {}", v.name, v.expected, v.got);
        }
    }
    if let Some(c) = &r.cost {
        println!(
            "cost    {:.0} ns per departure in {}-departure batches (median of {} batches)",
            c.ns_per_departure, c.batch, c.batches
        );
    }
    let verdict = if r.failed == 0 { "PASS" } else { "FAIL" };
    println!("result  {verdict}: {} passed, {} failed", r.passed, r.failed);
}
