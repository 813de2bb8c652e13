//! The engine as a Kafka consumer, against a real broker (tansu, in memory, on
//! loopback), in one run on the same broker and input topic:
//!
//! - **raw**: rdkafka consuming the input topic and doing nothing else: the limit.
//! - **engine**: `pricing run --until-caught-up` over the same topic: events/s from its
//!   partitions being assigned to every partition priced to its end, and engine / raw.
//! - **latency**: a long-running `pricing run` whose catalog is loaded, fed change
//!   events at fixed offered rates, each event stamped with the time it is sent; the
//!   event-to-price latency of a departure record is the record's producer timestamp
//!   (set when the engine hands it to Kafka) minus its `event_ts` (p50 and p99).
//!
//! Run: `cargo bench -p pricing-runtime --bench kafka` (`-- --help` for the knobs).

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Parser;
use pricing_runtime::intake::{format_millis, parse_rfc3339_millis};
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};

#[path = "../tests/common/kafka.rs"]
#[allow(dead_code)]
mod broker;
mod common;

use broker::{Broker, event_key};
use common::Workload;

#[derive(Parser)]
struct Args {
    /// Products of the generated catalog (each with ~3 cities x 30 dates).
    #[arg(long, default_value_t = 300)]
    products: u32,
    /// Change events after the catalog; the latency runs use them too, once each.
    #[arg(long, default_value_t = 220_000)]
    events: u64,
    /// Partitions of the input topic.
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    /// Events per micro-batch.
    #[arg(long, default_value_t = 1_000)]
    batch_size: usize,
    /// Offered rates of the latency runs, events/s.
    #[arg(long, value_delimiter = ',', default_values_t = [1_000, 20_000])]
    rates: Vec<u64>,
    /// Seconds each offered rate is kept up.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Ignored: cargo bench passes it.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let broker = Broker::start();
    let dir = tempfile::tempdir()?;
    let config = pricing_runtime::r#gen::GenConfig {
        products: args.products,
        events: args.events,
        malformed_rate: 0.0,
        ..Default::default()
    };
    let workload = Workload::generate(&config)?;
    let lines = workload.lines();
    let (catalog, changes) = lines.split_at(workload.load_lines);
    eprintln!(
        "workload: {} products, {} departures, {} catalog lines, {} change events",
        workload.summary.products,
        workload.summary.departures,
        catalog.len(),
        changes.len()
    );

    // The input topic, filled once; raw and engine read the same records.
    broker.create_topic("events", args.partitions);
    let started = Instant::now();
    let keyed: Vec<(Option<String>, &str)> = lines.iter().map(|l| (event_key(l), *l)).collect();
    broker.produce("events", keyed.iter().map(|(k, v)| (k.as_deref(), *v)));
    let total = lines.len() as u64;
    eprintln!("produced {total} records in {:.1} s", started.elapsed().as_secs_f64());

    let raw = raw_rate(&broker, "events", total)?;
    let engine = engine_rate(&broker, dir.path(), &args)?;

    let mut live = Vec::new();
    let toml = engine_config(&broker, &dir.path().join("live"), "live", "live", args.batch_size);
    let path = dir.path().join("live.toml");
    std::fs::write(&path, toml)?;
    broker.create_topic("live", args.partitions);
    let mut child = spawn(&path, &dir.path().join("live.log"), false)?;
    let catalog_keyed: Vec<(Option<String>, &str)> = catalog.iter().map(|l| (event_key(l), *l)).collect();
    broker.produce("live", catalog_keyed.iter().map(|(k, v)| (k.as_deref(), *v)));
    let mut on_topic = catalog.len() as u64;
    wait_consumed(&broker, "live", "live", on_topic, &mut child)?;
    let mut next = 0usize;
    for &rate in &args.rates {
        let count = usize::try_from(rate * args.seconds)?;
        let Some(batch) = changes.get(next..next + count) else {
            bail!("not enough change events for {rate}/s over {} s: raise --events", args.seconds)
        };
        next += count;
        let tag = format!("r{rate}-");
        let sent = offer(&broker, "live", batch, rate, &tag)?;
        on_topic += count as u64;
        let settle = Instant::now();
        wait_consumed(&broker, "live", "live", on_topic, &mut child)?;
        let (p50, p99, records) = latencies(&broker, "live-departures", &tag)?;
        live.push((rate, sent, p50, p99, records, settle.elapsed().as_secs_f64()));
    }
    let _ = child.kill();
    let _ = child.wait();

    println!("\nKafka (tansu broker, {} partitions), {total} records on the input topic", args.partitions);
    println!("| reader | events/s | vs raw |");
    println!("|---|---|---|");
    println!("| raw rdkafka consumer | {raw:.0} | 1.00 |");
    println!("| engine end to end | {engine:.0} | {:.3} |", engine / raw);
    println!("\n| offered events/s | sent/s | p50 ms | p99 ms | departure records | drained s after |");
    println!("|---|---|---|---|---|---|");
    for (rate, sent, p50, p99, records, drained) in live {
        println!("| {rate} | {sent:.0} | {p50} | {p99} | {records} | {drained:.1} |");
    }
    Ok(())
}

/// Reads the whole topic with a plain consumer; records/s from the first to the last.
fn raw_rate(broker: &Broker, topic: &str, total: u64) -> Result<f64> {
    let consumer: BaseConsumer =
        broker.client().set("group.id", "raw").set("auto.offset.reset", "earliest").create()?;
    consumer.subscribe(&[topic])?;
    let mut seen = 0u64;
    let mut first = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    while seen < total {
        if Instant::now() > deadline {
            bail!("raw consumer stuck at {seen} of {total}");
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                first.get_or_insert_with(Instant::now);
                seen += 1;
                std::hint::black_box(m.payload());
            }
            Some(Err(e)) => eprintln!("raw consumer: {e}"),
            None => {}
        }
    }
    let seconds = first.map_or(0.0, |f| f.elapsed().as_secs_f64());
    Ok(seen as f64 / seconds.max(1e-9))
}

/// A `pricing run` config on `topic` with its own group and output topics. It never
/// pauses its partitions: the offered records come in producer batches, and tansu 0.6
/// cannot resume a fetch inside a batch (see the README's Kafka section), so the
/// latency at an overload includes the queue read ahead.
fn engine_config(broker: &Broker, data: &Path, topic: &str, name: &str, batch: usize) -> String {
    format!(
        "data = {data:?}\n[input]\nbatch_size = {batch}\n[admin]\nenabled = false\n[kafka]\nbrokers = \"{}\"\n\
         group = \"{name}\"\nmax_batches_ahead = 100000\n[kafka.topics]\nevents = \"{topic}\"\ndeparture_prices = \"{name}-departures\"\n\
         product_prices = \"{name}-products\"\ndlq = \"{name}-dlq\"\n",
        broker.addr
    )
}

fn spawn(config: &Path, log: &Path, until_caught_up: bool) -> Result<Child> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pricing"));
    command.args([OsStr::new("run"), OsStr::new("--config"), config.as_os_str()]);
    if until_caught_up {
        command.arg("--until-caught-up");
    }
    Ok(command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(std::fs::File::create(log)?).spawn()?)
}

/// The time of the first log line containing `text`, in ms since the epoch.
fn logged_at(log: &str, text: &str) -> Result<i64> {
    let line = log.lines().find(|l| l.contains(text)).with_context(|| format!("no {text:?} in the log"))?;
    let ts = line.split_whitespace().next().unwrap_or_default();
    parse_rfc3339_millis(ts).with_context(|| format!("no timestamp in {line:?}"))
}

/// Runs the engine over the whole input topic; events/s from assignment to caught up.
fn engine_rate(broker: &Broker, dir: &Path, args: &Args) -> Result<f64> {
    let path = dir.join("engine.toml");
    std::fs::write(&path, engine_config(broker, &dir.join("engine"), "events", "engine", args.batch_size))?;
    let log = dir.join("engine.log");
    let status = spawn(&path, &log, true)?.wait()?;
    let text = std::fs::read_to_string(&log)?;
    if !status.success() {
        bail!("the engine failed ({status}):\n{text}");
    }
    let counters: serde_json::Value = serde_json::from_str(&text[text.find("\n{").context("counters")? + 1..])?;
    let events = counters["events"].as_u64().context("events")?;
    let from = logged_at(&text, "assigned Kafka partitions")?;
    let to = logged_at(&text, "consumed to its end")?;
    eprintln!("engine: {events} events in {} ms ({} departure records)", to - from, counters["departure_records"]);
    Ok(events as f64 * 1000.0 / (to - from).max(1) as f64)
}

/// Waits until `group` has consumed (and made durable) `records` records of `topic`.
fn wait_consumed(broker: &Broker, topic: &str, group: &str, records: u64, child: &mut Child) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(1800);
    while !broker.group_consumed(group, topic, records) {
        if let Some(status) = child.try_wait()? {
            bail!("the engine ended ({status})");
        }
        if Instant::now() > deadline {
            bail!("the engine did not catch up with {topic}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// Produces `events` at `rate` per second, each with a fresh `ts` (now) and an id
/// starting with `tag`; returns the rate achieved.
fn offer(broker: &Broker, topic: &str, events: &[&str], rate: u64, tag: &str) -> Result<f64> {
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
    let producer: ThreadedProducer<DefaultProducerContext> =
        broker.client().set("linger.ms", "1").set("queue.buffering.max.messages", "1000000").create()?;
    let started = Instant::now();
    let epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let epoch_ms = i64::try_from(epoch.as_millis())?;
    for (i, line) in events.iter().enumerate() {
        let due = Duration::from_secs_f64(i as f64 / rate as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        let mut event: serde_json::Value = serde_json::from_str(line)?;
        let now = epoch_ms + i64::try_from(started.elapsed().as_millis())?;
        event["ts"] = format_millis(now).into();
        event["id"] = format!("{tag}{i}").into();
        let value = event.to_string();
        let key = event_key(line);
        let mut record = BaseRecord::<str, str>::to(topic).payload(&value);
        if let Some(key) = key.as_deref() {
            record = record.key(key);
        }
        while let Err((e, back)) = producer.send(record) {
            record = back;
            if !matches!(e, rdkafka::error::KafkaError::MessageProduction(_)) {
                bail!("producing: {e}");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if i % 10_000 == 0 {
            eprint!("\roffering {rate}/s: {i}/{} ", events.len());
            let _ = std::io::stderr().flush();
        }
    }
    producer.flush(Duration::from_secs(60))?;
    eprintln!();
    Ok(events.len() as f64 / started.elapsed().as_secs_f64())
}

/// p50 and p99 of record timestamp minus `event_ts` over the departure records caused
/// by events tagged `tag`, and how many there were.
fn latencies(broker: &Broker, topic: &str, tag: &str) -> Result<(i64, i64, usize)> {
    let mut ms: Vec<i64> = broker
        .read_all(topic)
        .iter()
        .filter_map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.value).ok()?;
            if !v["cause"].as_str()?.starts_with(tag) {
                return None;
            }
            Some(r.timestamp? - parse_rfc3339_millis(v["event_ts"].as_str()?)?)
        })
        .collect();
    if ms.is_empty() {
        bail!("no departure records caused by the {tag} events");
    }
    ms.sort_unstable();
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    Ok((at(0.5), at(0.99), ms.len()))
}
