//! The config file of `pricing run` (`--config FILE`, TOML). Every section and field is
//! optional and has a working default, so a file names only what it changes; an unknown
//! field or a value of the wrong type is refused with the file, line and field named.
//! `examples/pricing.toml` lists every field with its default.
//!
//! Relative paths (`data`, `input.files`) are taken from the current folder, as they
//! are on the command line, so a config and the equivalent flags mean the same thing.
//! Values given on the command line override the file's ([`Overrides`]).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::admin::AdminConfig;
use crate::engine::EngineConfig;
use crate::kafka::KafkaConfig;
use crate::ops::OpsConfig;
use crate::pipeline::PipelineConfig;
use crate::priority;
use crate::source::STDIN_NAME;

/// The data folder when neither the config nor the command line names one.
pub const DEFAULT_DATA: &str = "data";

/// Events per micro-batch when neither the config nor the command line says.
pub const DEFAULT_BATCH_SIZE: usize = 1000;

/// Everything `pricing run` can be configured with.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Data folder: state in `DATA/state`, output records appended to
    /// `DATA/departure-prices.ndjson`, `DATA/product-prices.ndjson` and `DATA/dlq.ndjson`.
    /// Default `data`.
    pub data: PathBuf,
    /// What to consume (`[input]`).
    pub input: InputConfig,
    /// The pricing pipeline's settings (`[pipeline]`): pricing currency and the kinds that
    /// must name a supplier.
    pub pipeline: PipelineConfig,
    /// The limits every plugin call runs under (`[engine]`).
    pub engine: EngineSection,
    /// The admin API: rules registry, deploy, activate, roll back (`[admin]`).
    pub admin: AdminConfig,
    /// Reprice, price rollback, automatic rollback and the watched plugins folder
    /// (`[operations]`).
    pub operations: OpsConfig,
    /// Kafka brokers, group, topics and client properties (`[kafka]`). With `brokers`
    /// set (here or in `PRICING_KAFKA_BROKERS`), events come from and prices go to Kafka
    /// instead of files; state stays in the data folder.
    pub kafka: KafkaConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data: PathBuf::from(DEFAULT_DATA),
            input: InputConfig::default(),
            pipeline: PipelineConfig::default(),
            engine: EngineSection::default(),
            admin: AdminConfig::default(),
            operations: OpsConfig::default(),
            kafka: KafkaConfig::default(),
        }
    }
}

/// The `[input]` section.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InputConfig {
    /// NDJSON event files, consumed in order, each resumed after its last committed batch;
    /// `-` is standard input (never resumed: it cannot seek). Default: none, so they must
    /// come from here or the command line.
    pub files: Vec<PathBuf>,
    /// Events (lines) per micro-batch: one atomic state commit each. Default 1000.
    pub batch_size: usize,
}

impl Default for InputConfig {
    fn default() -> Self {
        InputConfig { files: Vec::new(), batch_size: DEFAULT_BATCH_SIZE }
    }
}

/// The `[engine]` section: the two limits of [`EngineConfig`], with its defaults.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSection {
    /// Wall-clock budget of one plugin call (a whole pricing batch), in milliseconds; a
    /// call past it is interrupted and its departures become unavailable. Default 1000.
    pub call_budget_ms: u64,
    /// Largest linear memory one plugin instance may grow to, in MiB. Default 64.
    pub memory_limit_mib: u64,
}

impl Default for EngineSection {
    fn default() -> Self {
        // Mirrors the engine's own defaults rather than repeating the numbers.
        let engine = EngineConfig::default();
        EngineSection { call_budget_ms: engine.call_budget_ms, memory_limit_mib: engine.memory_limit_mib }
    }
}

impl EngineSection {
    /// The engine's settings with these limits.
    #[must_use]
    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig::default().with_call_budget_ms(self.call_budget_ms).with_memory_limit_mib(self.memory_limit_mib)
    }
}

/// Values from the command line, which take precedence over the config file's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Input files; when not empty they replace `input.files` (they are not added to it).
    pub files: Vec<PathBuf>,
    /// Replaces `data`.
    pub data: Option<PathBuf>,
    /// Replaces `input.batch_size`.
    pub batch_size: Option<usize>,
    /// Replaces `admin.listen`.
    pub admin_listen: Option<std::net::SocketAddr>,
    /// Turns the admin API off (`admin.enabled = false`).
    pub no_admin: bool,
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}", path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// What reading it said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit [`Config`]: an unknown field, a wrong
    /// type. The TOML error names the line, the field and what was expected.
    // The TOML error ends with a newline after its snippet; a message line must not.
    #[error("config file {}: {}", path.display(), error.to_string().trim_end())]
    Parse {
        /// The config file.
        path: PathBuf,
        /// The TOML problem (boxed: it carries the offending text and its span).
        error: Box<toml::de::Error>,
    },
    /// A value parses but cannot work, e.g. a batch size of 0.
    #[error("config file {}: {message}", path.display())]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// Which field and why.
        message: String,
    },
    /// Neither the command line nor the config file names anything to consume.
    #[error(
        "no input: name NDJSON event files (or `-` for stdin) on the command line, list them as `files` \
         under `[input]` in a --config file, or configure Kafka (`[kafka] brokers` or PRICING_KAFKA_BROKERS)"
    )]
    NoInput,
    /// Both Kafka and input files are configured; a run reads one or the other.
    #[error(
        "both Kafka (`kafka.brokers` or PRICING_KAFKA_BROKERS) and input files are configured; a run consumes \
         one or the other"
    )]
    KafkaAndFiles,
    /// Standard input was named more than once; it can be read to its end only once.
    #[error("`-` (stdin) is named more than once in the input files; it can only be read once")]
    StdinTwice,
}

impl Config {
    /// Reads and checks the config file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let config: Config = toml::from_str(&text)
            .map_err(|error| ConfigError::Parse { path: path.to_owned(), error: Box::new(error) })?;
        config.check().map_err(|message| ConfigError::Invalid { path: path.to_owned(), message })?;
        Ok(config)
    }

    /// The config file at `path` if there is one, else the defaults, with the
    /// environment's Kafka settings and then the command line's values on top; fails
    /// when the result has nothing to consume.
    pub fn resolve(path: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let mut config = match path {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        config.kafka = config.kafka.apply_env();
        let config = config.with_overrides(overrides);
        config.check_input()?;
        let invalid = |message| ConfigError::Invalid { path: path.map(Path::to_owned).unwrap_or_default(), message };
        config.kafka.check().map_err(invalid)?;
        Ok(config)
    }

    /// This config with the command line's values in place of its own.
    #[must_use]
    pub fn with_overrides(mut self, overrides: Overrides) -> Self {
        if !overrides.files.is_empty() {
            self.input.files = overrides.files;
        }
        if let Some(data) = overrides.data {
            self.data = data;
        }
        if let Some(batch_size) = overrides.batch_size {
            self.input.batch_size = batch_size;
        }
        if let Some(listen) = overrides.admin_listen {
            self.admin.listen = listen;
        }
        if overrides.no_admin {
            self.admin.enabled = false;
        }
        self
    }

    /// Fails unless there is something to consume (Kafka, or files naming stdin at
    /// most once).
    pub fn check_input(&self) -> Result<(), ConfigError> {
        if self.kafka.enabled() {
            return if self.input.files.is_empty() { Ok(()) } else { Err(ConfigError::KafkaAndFiles) };
        }
        if self.input.files.is_empty() {
            return Err(ConfigError::NoInput);
        }
        if self.input.files.iter().filter(|f| f.as_os_str() == STDIN_NAME).count() > 1 {
            return Err(ConfigError::StdinTwice);
        }
        Ok(())
    }

    /// Values TOML accepts but the engine cannot run with.
    fn check(&self) -> Result<(), String> {
        if self.input.batch_size == 0 {
            return Err("`input.batch_size` must be at least 1".into());
        }
        if self.pipeline.max_call_departures == 0 {
            return Err("`pipeline.max_call_departures` must be at least 1".into());
        }
        if self.engine.call_budget_ms == 0 {
            return Err("`engine.call_budget_ms` must be at least 1".into());
        }
        if self.engine.memory_limit_mib == 0 {
            return Err("`engine.memory_limit_mib` must be at least 1".into());
        }
        if !(0..=priority::NICEST).contains(&self.pipeline.background_nice) {
            return Err(format!(
                "`pipeline.background_nice` must be 0 to {}, not {}",
                priority::NICEST,
                self.pipeline.background_nice
            ));
        }
        if self.pipeline.currency.trim().is_empty() {
            return Err("`pipeline.currency` must not be empty".into());
        }
        self.operations.check()?;
        self.kafka.check()
    }
}
