//! An engine as `pricing run` wires it, in-process: registry (reference plugins seeded),
//! live set, operations, state and pipeline in a temporary folder; plus a sink that
//! keeps each batch's records and helpers to drive jobs.

use std::collections::BTreeMap;
use std::sync::Arc;

use pricing_runtime::engine::{LivePlugins, PluginSet};
use pricing_runtime::intake::Origin;
use pricing_runtime::ops::{Operations, OpsConfig};
use pricing_runtime::pipeline::{BatchOutput, Input, Pipeline, PipelineConfig};
use pricing_runtime::registry::Registry;
use pricing_runtime::sink::Sink;
use pricing_runtime::source::Runner;
use pricing_runtime::state::{ComponentAmount, DeparturePrice, State, Status};

/// The engine's parts.
pub struct Rig {
    /// Holds the folder.
    pub dir: tempfile::TempDir,
    /// The plugin registry.
    pub registry: Arc<Registry>,
    /// The live set the runner reads.
    pub live: Arc<LivePlugins>,
    /// The operations.
    pub ops: Arc<Operations>,
    /// The state.
    pub state: State,
    /// The pipeline.
    pub pipeline: Pipeline,
}

impl Rig {
    /// A fresh engine with these operations settings.
    pub fn new(config: OpsConfig) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry =
            Arc::new(Registry::open(&dir.path().join("registry"), Arc::new(super::host())).expect("registry opens"));
        let live = registry.live().expect("live set");
        let ops = Arc::new(Operations::new(config, Arc::clone(&registry)));
        let state = State::open(&dir.path().join("state")).expect("state opens");
        Rig { dir, registry, live, ops, state, pipeline: Pipeline::new(PipelineConfig::default()) }
    }

    /// A runner over the live set, doing the operations' work, writing to `sink`.
    pub fn runner<'a>(&'a self, sink: &'a mut dyn Sink) -> Runner<'a> {
        Runner::new(&self.state, &*self.live, &self.pipeline, sink).with_ops(Some(&self.ops))
    }

    /// Deploys a test plugin's component (not activated); returns its hash.
    pub fn deploy(&self, artifact: pricing_runtime::plugins::Artifact) -> String {
        self.registry.deploy(&super::artifact(artifact), Some("flight"), "test", false).expect("deploys").hash
    }

    /// The id (`kind@version+hash8`) of stored version `hash`.
    pub fn id(&self, hash: &str) -> String {
        self.registry.version(hash).expect("reads").expect("stored").id
    }
}

/// Works through every queued job.
pub fn run_jobs(runner: &mut Runner<'_>) {
    while runner.run_ops().expect("job batch") {}
}

/// Keeps each batch's departure records, as the batch wrote them.
#[derive(Default)]
pub struct Collect {
    /// Per batch, its records.
    pub batches: Vec<Vec<DeparturePrice>>,
}

impl Sink for Collect {
    fn write(&mut self, batch: &BatchOutput) -> std::io::Result<()> {
        self.batches.push(batch.departure_prices());
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A small generated workload as inputs: 6 products from 2 cities on 5 dates each, with
/// their quotes and `events` changes.
pub fn small_workload(events: u64) -> Vec<Input> {
    inputs(&pricing_runtime::r#gen::GenConfig {
        products: 6,
        cities: 2,
        dates_per_city: 5,
        events,
        ..Default::default()
    })
}

/// The lines of a generated workload, as inputs.
pub fn inputs(config: &pricing_runtime::r#gen::GenConfig) -> Vec<Input> {
    let mut out = Vec::new();
    pricing_runtime::r#gen::generate(config, &mut out, |_, _| {}).expect("generates");
    let text = String::from_utf8(out).expect("utf-8");
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| Input { text: l.to_owned(), origin: Origin::File { path: "work".into(), line: i as u64 + 1 } })
        .collect()
}

/// A state in a new temporary folder, and the reference plugins. Bound as
/// `Fresh { dir: _dir, host: _host, state, plugins }`, they drop in the reverse order:
/// the plugins before their host, the state before its folder.
pub struct Fresh {
    /// The reference plugins.
    pub plugins: PluginSet,
    /// Their host.
    pub host: pricing_runtime::engine::PluginHost,
    /// The state.
    pub state: State,
    /// Holds the folder.
    pub dir: tempfile::TempDir,
}

/// An empty state and the reference plugins, for tests that drive the pipeline directly.
pub fn fresh() -> Fresh {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open(dir.path()).expect("state opens");
    let host = super::host();
    let plugins = PluginSet::reference(&host).expect("reference plugins load");
    Fresh { plugins, host, state, dir }
}

/// `lines` as the inputs of file `path`, numbered from 1.
pub fn file_inputs(path: &str, lines: &[impl AsRef<str>]) -> Vec<Input> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| Input {
            text: l.as_ref().to_owned(),
            origin: Origin::File { path: path.into(), line: i as u64 + 1 },
        })
        .collect()
}

/// Prices `lines` (of file `path`) as one batch with the default settings, stamped
/// 2026-11-22T10:00:00.000Z, and commits it.
pub fn commit_batch(state: &State, plugins: &PluginSet, path: &str, lines: &[impl AsRef<str>]) -> BatchOutput {
    let pipeline = Pipeline::new(PipelineConfig::default());
    let inputs = file_inputs(path, lines);
    let mut out = pipeline.process(state, plugins, &inputs, "2026-11-22T10:00:00.000Z").expect("processes");
    std::mem::take(&mut out.pending).commit(state).expect("commits");
    out
}

/// What a buyer sees of a departure, and the rules behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Status.
    pub status: Status,
    /// Price.
    pub price: Option<i64>,
    /// Components.
    pub components: Vec<ComponentAmount>,
    /// Rules.
    pub rules: BTreeMap<String, String>,
}

/// Every current price, by key, without versions, causes and times.
pub fn seen(state: &State) -> BTreeMap<String, Seen> {
    state
        .all_prices()
        .map(|p| {
            let p = p.expect("price decodes");
            (p.key(), Seen { status: p.status, price: p.price, components: p.components, rules: p.rules })
        })
        .collect()
}

/// Every current version, by key.
pub fn versions(state: &State) -> BTreeMap<String, u64> {
    state.all_prices().map(|p| p.expect("price decodes")).map(|p| (p.key(), p.version)).collect()
}
