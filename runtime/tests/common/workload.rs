//! A generated workload consumed through the file source, for the runtime tests.

use std::path::Path;

use pricing_runtime::engine::PluginSet;
use pricing_runtime::r#gen::{GenConfig, GenSummary, generate};
use pricing_runtime::pipeline::{Pipeline, PipelineConfig, Stats};
use pricing_runtime::sink::FileSink;
use pricing_runtime::source::{Runner, run_file};
use pricing_runtime::state::{DeparturePrice, State};

/// Writes the workload of `config` to `path`.
pub fn write(config: &GenConfig, path: &Path) -> GenSummary {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    generate(config, &mut out, |_, _| {}).expect("generates")
}

/// Consumes `input` into the data folder `data` in batches of `batch`.
pub fn consume(input: &Path, data: &Path, plugins: &PluginSet, batch: usize) -> Stats {
    let state = State::open(&data.join("state")).expect("state");
    let mut sink = FileSink::open(data).expect("sink");
    let pipeline = Pipeline::new(PipelineConfig::default());
    let mut runner = Runner::new(&state, plugins, &pipeline, &mut sink);
    let stats = run_file(input, batch, &mut runner, |_| {}).expect("consumes");
    runner.finish().expect("last commit lands");
    stats
}

/// The current prices in the data folder `data`, without the time they were computed
/// (which differs between runs of the same events).
pub fn prices(data: &Path) -> Vec<DeparturePrice> {
    let state = State::open(&data.join("state")).expect("state");
    state.all_prices().map(|p| DeparturePrice { priced_at: String::new(), ..p.expect("price") }).collect()
}

/// The current prices of `data` without what depends on how events were batched and
/// interleaved: what runs over the same events must agree on, whatever the
/// partitioning. Kept: each departure's status and price. Dropped: version numbers,
/// causes and times; components, rule versions and the unavailability reason, which a
/// new version carries only when the price or status changes (so they are those of the
/// batch that last changed it); and retired departures, since a departure that a later
/// product update removes is priced and then retired when the two updates fall in
/// different batches, and never priced at all when one batch holds both.
pub fn settled(data: &std::path::Path) -> Vec<pricing_runtime::state::DeparturePrice> {
    prices(data)
        .into_iter()
        .filter(|p| p.status != pricing_runtime::state::Status::Retired)
        .map(|p| pricing_runtime::state::DeparturePrice {
            version: 0,
            cause: String::new(),
            event_ts: String::new(),
            components: Vec::new(),
            rules: Default::default(),
            reason: None,
            ..p
        })
        .collect()
}

/// Checks that every key of `records` (keys and values of departure price versions
/// read back from a topic) has versions 1 to its highest, none missing (repeats are allowed), and that
/// the highest is the version in `data`'s state. Returns the number of keys.
pub fn assert_no_version_gaps<'a>(
    records: impl IntoIterator<Item = (Option<&'a str>, &'a str)>,
    data: &std::path::Path,
) -> usize {
    let mut by_key: std::collections::BTreeMap<String, std::collections::BTreeSet<u64>> = Default::default();
    for (key, value) in records {
        let p: pricing_runtime::state::DeparturePrice =
            serde_json::from_str(value).unwrap_or_else(|e| panic!("not a price record: {e}: {value}"));
        assert_eq!(key, Some(p.key().as_str()), "record key");
        by_key.entry(p.key()).or_default().insert(p.version);
    }
    let state = prices(data);
    assert_eq!(by_key.len(), state.len(), "every priced departure was emitted");
    for p in state {
        let versions = &by_key[&p.key()];
        let expected: std::collections::BTreeSet<u64> = (1..=p.version).collect();
        assert_eq!(versions, &expected, "{}: emitted versions have gaps or exceed the state's", p.key());
    }
    by_key.len()
}

/// Asserts two runs' settled prices are equal, naming the first departures that differ.
pub fn assert_same_prices(
    left: &[pricing_runtime::state::DeparturePrice],
    right: &[pricing_runtime::state::DeparturePrice],
    what: &str,
) {
    let index = |v: &[pricing_runtime::state::DeparturePrice]| {
        v.iter().map(|p| (p.key(), p.clone())).collect::<std::collections::BTreeMap<_, _>>()
    };
    let (l, r) = (index(left), index(right));
    let keys: std::collections::BTreeSet<&String> = l.keys().chain(r.keys()).collect();
    let differ: Vec<_> = keys.into_iter().filter(|k| l.get(*k) != r.get(*k)).collect();
    if let Some(first) = differ.first() {
        panic!(
            "{what}: {} of {} departures differ; first {first}:\n  left:  {:?}\n  right: {:?}\n  others: {:?}",
            differ.len(),
            l.len().max(r.len()),
            l.get(*first),
            r.get(*first),
            differ.iter().skip(1).take(8).collect::<Vec<_>>()
        );
    }
}

/// Writes a generated workload to `dir/events.ndjson`: `products` products of 3 cities
/// and `dates_per_city` dates each, their catalog and quotes, then `events` changes.
pub fn generated(dir: &Path, products: u32, dates_per_city: u32, events: u64) -> std::path::PathBuf {
    let path = dir.join("events.ndjson");
    let config = GenConfig { products, cities: 3, dates_per_city, events, ..Default::default() };
    write(&config, &path);
    path
}
