//! `pricing`: the engine's command line.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use pricing_runtime::engine::{EngineConfig, Plugin, PluginHost};
use pricing_runtime::plugins;

/// The travel pricing engine.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
    /// Write a seeded, realistic workload (catalog, initial quotes, change stream) as
    /// NDJSON to stdout; its summary (counts, mean flight fan-out) goes to stderr.
    Gen {
        #[command(flatten)]
        config: pricing_runtime::r#gen::GenConfig,
    },
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Plugins { files, call_budget_ms, memory_limit_mib } => {
            let config =
                EngineConfig::default().with_call_budget_ms(call_budget_ms).with_memory_limit_mib(memory_limit_mib);
            list_plugins(&files, config)
        }
        Command::Gen { config } => {
            let started = Instant::now();
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let summary = pricing_runtime::r#gen::generate(&config, &mut out, |_, _| {})?;
            std::io::Write::flush(&mut out)?;
            eprintln!("{}", serde_json::to_string_pretty(&summary)?);
            eprintln!("generated {} lines in {:.2} s", summary.lines, started.elapsed().as_secs_f64());
            Ok(())
        }
    }
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
