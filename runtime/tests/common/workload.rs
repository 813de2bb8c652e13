//! A generated workload consumed through the file source, for the runtime tests.

use std::path::Path;

use pricing_runtime::engine::PluginSet;
use pricing_runtime::r#gen::{GenConfig, GenSummary, generate};
use pricing_runtime::pipeline::{Pipeline, PipelineConfig, Stats};
use pricing_runtime::sink::FileSink;
use pricing_runtime::source::{Runner, run_file};
use pricing_runtime::state::State;

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
