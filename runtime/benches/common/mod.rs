//! Helpers the benchmarks share.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, Result};
use pricing_runtime::r#gen::{GenConfig, GenSummary, generate};
use pricing_runtime::intake::Origin;
use pricing_runtime::pipeline::Input;
use pricing_runtime::source::Runner;

/// The catalog's shape, shared by the benchmarks' command lines.
#[derive(clap::Args, Clone)]
pub struct CatalogArgs {
    /// Products in the catalog.
    #[arg(long, default_value_t = 5_000)]
    pub products: u32,
    /// Mean departure cities per product.
    #[arg(long, default_value_t = 4)]
    pub cities: u32,
    /// Dates per departure city.
    #[arg(long, default_value_t = 50)]
    pub dates_per_city: u32,
    /// Days over which products' first dates are spread (sets the flight fan-out).
    #[arg(long, default_value_t = 365)]
    pub date_spread_days: u32,
    /// The change stream's mix, as `kind=weight` pairs (kinds: flight, hotel, insurance,
    /// cruise, discount, product); kinds not named keep the generator's weights.
    #[arg(long, value_delimiter = ',')]
    pub mix: Vec<String>,
}

impl CatalogArgs {
    /// The generator's settings for this catalog and `events` change events.
    pub fn gen_config(&self, events: u64) -> Result<GenConfig> {
        let mut config = GenConfig {
            products: self.products,
            cities: self.cities,
            dates_per_city: self.dates_per_city,
            date_spread_days: self.date_spread_days,
            events,
            ..GenConfig::default()
        };
        for pair in &self.mix {
            let (kind, weight) = pair.split_once('=').with_context(|| format!("--mix {pair:?}: not kind=weight"))?;
            let weight: u32 = weight.parse().with_context(|| format!("--mix {pair:?}: weight"))?;
            *match kind {
                "flight" => &mut config.mix_flight,
                "hotel" => &mut config.mix_hotel,
                "insurance" => &mut config.mix_insurance,
                "cruise" => &mut config.mix_cruise,
                "discount" => &mut config.mix_discount,
                "product" => &mut config.mix_product,
                other => anyhow::bail!("--mix: unknown kind {other:?}"),
            } = weight;
        }
        Ok(config)
    }

    /// The same catalog as command-line arguments, for a child process.
    pub fn to_args(&self) -> Vec<String> {
        vec![
            "--products".into(),
            self.products.to_string(),
            "--cities".into(),
            self.cities.to_string(),
            "--dates-per-city".into(),
            self.dates_per_city.to_string(),
            "--date-spread-days".into(),
            self.date_spread_days.to_string(),
        ]
        .into_iter()
        .chain(self.mix.iter().flat_map(|pair| ["--mix".into(), pair.clone()]))
        .collect()
    }
}

/// A generated workload: its text, its summary, and how many of its first lines are the
/// catalog and initial quotes (the rest is the change stream).
pub struct Workload {
    /// The NDJSON text.
    pub text: String,
    /// What the generator says it wrote.
    pub summary: GenSummary,
    /// Lines before the change stream.
    pub load_lines: usize,
}

impl Workload {
    /// Generates the workload of `config`.
    pub fn generate(config: &GenConfig) -> Result<Self> {
        let mut text = Vec::new();
        let summary = generate(config, &mut text, |_, _| {})?;
        let load_lines = (summary.catalog_lines + summary.initial_lines) as usize;
        Ok(Workload { text: String::from_utf8(text)?, summary, load_lines })
    }

    /// Its lines.
    pub fn lines(&self) -> Vec<&str> {
        self.text.lines().collect()
    }
}

/// Loads the catalog and initial quotes through `runner` in batches of `batch`; returns
/// the seconds it took.
pub fn load(runner: &mut Runner<'_>, lines: &[&str], batch: usize, what: &str) -> Result<f64> {
    let started = Instant::now();
    let mut done = 0usize;
    for chunk in lines.chunks(batch) {
        runner.batch(&inputs(chunk, done), "bench", (done as u64).to_le_bytes().to_vec())?;
        done += chunk.len();
        progress(what, "load", done, lines.len(), started);
    }
    eprintln!();
    Ok(started.elapsed().as_secs_f64())
}

/// Lines of a generated workload as inputs, numbered from `first + 1`.
pub fn inputs(chunk: &[&str], first: usize) -> Vec<Input> {
    chunk
        .iter()
        .enumerate()
        .map(|(i, l)| Input {
            text: (*l).to_owned(),
            origin: Origin::File { path: "bench".into(), line: (first + i + 1) as u64 },
        })
        .collect()
}

/// One `\r`-refreshed progress line on stderr.
pub fn progress(what: &str, phase: &str, done: usize, of: usize, started: Instant) {
    let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
    eprint!("\r{what} {phase}: {done}/{of} lines, {rate:.0}/s   ");
    let _ = std::io::stderr().flush();
}

/// Bytes of the output files (the state folder is counted by fjall).
pub fn folder_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

/// CPU seconds (user + system) used so far by the calling thread (`thread: true`) or by
/// the whole process, from `/proc`: what a run costs, less noisy than its wall time on a
/// shared machine.
pub fn cpu_seconds(thread: bool) -> Result<f64> {
    stat_cpu_seconds(if thread { "/proc/thread-self/stat" } else { "/proc/self/stat" }).map(|(_, s)| s)
}

/// CPU seconds used so far by the process's live threads whose name starts with
/// `prefix` (fjall's flush and compaction workers are `fjall:worker`).
pub fn threads_cpu_seconds(prefix: &str) -> Result<f64> {
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task")? {
        let path = task?.path().join("stat");
        // A thread may end between listing and reading.
        if let Ok((name, s)) = stat_cpu_seconds(&path.to_string_lossy())
            && name.starts_with(prefix)
        {
            total += s;
        }
    }
    Ok(total)
}

/// A `/proc/.../stat` file's command name and CPU seconds.
fn stat_cpu_seconds(path: &str) -> Result<(String, f64)> {
    let stat = std::fs::read_to_string(path)?;
    // Fields after the command name (in parentheses, which may hold spaces): state is
    // the first, utime and stime the 12th and 13th.
    let (head, rest) = stat.rsplit_once(')').context("no ')' in stat")?;
    let name = head.split_once('(').map_or("", |(_, n)| n).to_owned();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 =
        fields.get(11).context("utime")?.parse::<u64>()? + fields.get(12).context("stime")?.parse::<u64>()?;
    // The kernel reports in USER_HZ, 100 on every Linux this runs on.
    Ok((name, ticks as f64 / 100.0))
}

pub fn peak_rss_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("no VmHWM in /proc/self/status")?;
    Ok(line.split_whitespace().nth(1).context("VmHWM value")?.parse()?)
}
