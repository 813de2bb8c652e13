//! The `pricing run` config file: the documented example parses to the values it shows,
//! an empty file gives the defaults, mistakes are refused with the field named, and the
//! command line overrides the file.

use std::path::{Path, PathBuf};

use pricing_runtime::admin::AdminConfig;
use pricing_runtime::config::{Config, ConfigError, EngineSection, InputConfig, Overrides};
use pricing_runtime::engine::EngineConfig;
use pricing_runtime::kafka::KafkaConfig;
use pricing_runtime::ops::OpsConfig;
use pricing_runtime::pipeline::PipelineConfig;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/pricing.toml")
}

/// Writes `text` as a config file and loads it.
fn load(text: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pricing.toml");
    std::fs::write(&path, text).expect("write");
    Config::load(&path)
}

/// The message of a config that must be refused.
fn refused(text: &str) -> String {
    match load(text) {
        Ok(config) => panic!("accepted {text:?} as {config:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_example_parses_to_the_values_it_documents() {
    let config = Config::load(&example()).expect("examples/pricing.toml loads");
    assert_eq!(
        config,
        Config {
            data: PathBuf::from("data/example"),
            input: InputConfig { files: vec![PathBuf::from("examples/events.ndjson")], batch_size: 500 },
            pipeline: PipelineConfig {
                currency: "CNY".into(),
                supplier_required: vec!["hotel".into()],
                max_call_departures: 50_000,
                background_nice: 10,
            },
            engine: EngineSection { call_budget_ms: 2000, memory_limit_mib: 128 },
            admin: AdminConfig {
                enabled: true,
                listen: "127.0.0.1:8181".parse().expect("addr"),
                token: None,
                max_upload_mib: 64,
            },
            operations: OpsConfig::default(),
            kafka: KafkaConfig::default(),
        }
    );
    assert_eq!(
        config.engine.engine_config(),
        EngineConfig::default().with_call_budget_ms(2000).with_memory_limit_mib(128)
    );
}

#[test]
fn the_example_names_every_field() {
    // A field added to Config but not to the example would parse (defaults) and go
    // undocumented: every field must appear as `name =` in the example.
    let text = std::fs::read_to_string(example()).expect("example");
    for field in [
        "data",
        "files",
        "batch_size",
        "currency",
        "supplier_required",
        "max_call_departures",
        "background_nice",
        "call_budget_ms",
        "memory_limit_mib",
        "enabled",
        "listen",
        "max_upload_mib",
        "reprice_chunk",
        "watch_interval_ms",
        "window_batches",
        "min_calls",
        "max_failure_percent",
        "group",
        "create_topics",
        "partitions",
        "replication_factor",
        "connect_timeout_ms",
        "batch_wait_ms",
        "max_batches_ahead",
        "events",
        "departure_prices",
        "product_prices",
        "dlq",
    ] {
        assert!(text.lines().any(|l| l.starts_with(&format!("{field} ="))), "examples/pricing.toml lacks `{field}`");
    }
    assert!(text.contains("# token = "), "examples/pricing.toml lacks `token`");
    assert!(text.contains("# watch = "), "examples/pricing.toml lacks `watch`");
    for section in ["[input]", "[pipeline]", "[engine]", "[admin]"] {
        assert!(text.lines().any(|l| l == section), "examples/pricing.toml lacks {section}");
    }
}

#[test]
fn an_empty_file_gives_working_defaults() {
    let config = load("").expect("empty config");
    assert_eq!(config, Config::default());
    assert_eq!(config.data, PathBuf::from("data"));
    assert_eq!(config.input.batch_size, 1000);
    assert!(config.input.files.is_empty());
    assert_eq!(config.pipeline, PipelineConfig::default());
    assert_eq!(config.engine.engine_config(), EngineConfig::default());

    // A section may name only some of its fields.
    let config = load("[engine]\nmemory_limit_mib = 32\n").expect("partial section");
    assert_eq!(config.engine.engine_config(), EngineConfig::default().with_memory_limit_mib(32));
}

#[test]
fn unknown_fields_are_refused_with_the_field_named() {
    let message = refused("[input]\nbatch_sise = 10\n");
    assert!(message.contains("batch_sise"), "{message}");
    assert!(message.contains("pricing.toml"), "the message names the file: {message}");

    let message = refused("datta = \"x\"\n");
    assert!(message.contains("datta"), "{message}");

    // Inside the pipeline section, which is the pipeline's own struct.
    let message = refused("[pipeline]\ncurrency = \"CNY\"\nrounding = 100\n");
    assert!(message.contains("rounding"), "{message}");

    // And inside the Kafka section.
    let message = refused("[kafka]\nbrokers = \"localhost\"\nlinger = 5\n");
    assert!(message.contains("linger"), "{message}");
}

#[test]
fn wrong_types_are_refused_with_the_field_named() {
    let message = refused("[input]\nbatch_size = \"many\"\n");
    assert!(message.contains("batch_size"), "{message}");
    assert!(message.contains("pricing.toml"), "the message names the file: {message}");

    let message = refused("[engine]\ncall_budget_ms = -5\n");
    assert!(message.contains("call_budget_ms"), "{message}");

    let message = refused("[input]\nfiles = \"events.ndjson\"\n");
    assert!(message.contains("files"), "{message}");

    let message = refused("[pipeline]\nsupplier_required = \"hotel\"\n");
    assert!(message.contains("supplier_required"), "{message}");
}

#[test]
fn values_that_cannot_work_are_refused() {
    let message = refused("[input]\nbatch_size = 0\n");
    assert!(message.contains("input.batch_size"), "{message}");
    let message = refused("[engine]\ncall_budget_ms = 0\n");
    assert!(message.contains("engine.call_budget_ms"), "{message}");
    let message = refused("[pipeline]\nmax_call_departures = 0\n");
    assert!(message.contains("pipeline.max_call_departures"), "{message}");
    let message = refused("[pipeline]\ncurrency = \"\"\n");
    assert!(message.contains("pipeline.currency"), "{message}");
    for steps in ["-1", "20"] {
        let message = refused(&format!("[pipeline]\nbackground_nice = {steps}\n"));
        assert!(message.contains("pipeline.background_nice") && message.contains("0 to 19"), "{message}");
    }
    let config = load("[pipeline]\nbackground_nice = 0\n").expect("0 turns it off");
    assert_eq!(config.pipeline.background_nice, 0);
}

#[test]
fn a_missing_file_is_named() {
    let err = Config::load(Path::new("/nonexistent/pricing.toml")).expect_err("missing file");
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().contains("/nonexistent/pricing.toml"), "{err}");
}

#[test]
fn the_command_line_overrides_the_file() {
    let path = example();
    let none = Config::resolve(Some(&path), Overrides::default()).expect("resolves");
    assert_eq!(none, Config::load(&path).expect("loads"));

    let overridden = Config::resolve(
        Some(&path),
        Overrides {
            files: vec![PathBuf::from("a.ndjson"), PathBuf::from("-")],
            data: Some(PathBuf::from("elsewhere")),
            batch_size: Some(7),
            admin_listen: Some("127.0.0.1:9099".parse().expect("addr")),
            no_admin: true,
        },
    )
    .expect("resolves");
    assert_eq!(overridden.input.files, [PathBuf::from("a.ndjson"), PathBuf::from("-")]);
    assert_eq!(overridden.data, PathBuf::from("elsewhere"));
    assert_eq!(overridden.input.batch_size, 7);
    assert_eq!((overridden.admin.listen.port(), overridden.admin.enabled), (9099, false));
    // What the command line does not name stays as the file says.
    assert_eq!(overridden.engine, none.engine);
    assert_eq!(overridden.pipeline, none.pipeline);
}

#[test]
fn nothing_to_consume_is_an_error() {
    let err = Config::resolve(None, Overrides::default()).expect_err("no input");
    assert!(matches!(err, ConfigError::NoInput));
    assert!(err.to_string().contains("no input"), "{err}");

    // A config without files and no files on the command line.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pricing.toml");
    std::fs::write(&path, "data = \"d\"\n").expect("write");
    let err = Config::resolve(Some(&path), Overrides::default()).expect_err("no input");
    assert!(matches!(err, ConfigError::NoInput));

    // Files only on the command line are enough.
    let config = Config::resolve(None, Overrides { files: vec![PathBuf::from("x.ndjson")], ..Overrides::default() })
        .expect("resolves");
    assert_eq!(config.data, PathBuf::from("data"));

    let err = Config::resolve(
        None,
        Overrides { files: vec![PathBuf::from("-"), PathBuf::from("-")], ..Overrides::default() },
    )
    .expect_err("stdin twice");
    assert!(matches!(err, ConfigError::StdinTwice));
}

#[test]
fn the_binary_refuses_a_bad_config_naming_file_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[engine]\ncall_budget = 5\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pricing"))
        .args(["run", "--admin-listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .arg("--data")
        .arg(dir.path().join("data"))
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.toml") && stderr.contains("call_budget"), "{stderr}");
    assert!(!dir.path().join("data").exists(), "nothing is opened before the config is accepted");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pricing")).arg("run").output().expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no input"), "{stderr}");
}

#[test]
fn the_binary_prices_with_the_configs_pipeline_settings() {
    // Every example event quotes CNY; a deployment priced in USD must dead-letter each
    // quote as a currency mismatch, which shows `run` uses the file's [pipeline].
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/events.ndjson");
    let path = dir.path().join("usd.toml");
    let text = format!(
        "data = {:?}\n[input]\nfiles = [{:?}]\nbatch_size = 100\n[pipeline]\ncurrency = \"USD\"\n",
        data.display().to_string(),
        events.display().to_string()
    );
    std::fs::write(&path, text).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pricing"))
        .args(["run", "--admin-listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dlq = std::fs::read_to_string(data.join("dlq.ndjson")).expect("dead letters");
    let mismatches = dlq.lines().filter(|l| l.contains("\"reason_class\":\"currency_mismatch\"")).count();
    assert!(mismatches > 100, "{mismatches} currency mismatches");
}

#[test]
fn kafka_brokers_are_an_input_and_exclude_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pricing.toml");
    std::fs::write(
        &path,
        "[kafka]\nbrokers = \"127.0.0.1:9092\"\n[kafka.properties]\n\"socket.timeout.ms\" = \"5000\"\n",
    )
    .expect("write");
    let config = Config::resolve(Some(&path), Overrides::default()).expect("Kafka is something to consume");
    assert!(config.kafka.enabled());
    assert_eq!(config.kafka.topics.events, "resource-events");
    assert_eq!(config.kafka.properties.get("socket.timeout.ms").map(String::as_str), Some("5000"));

    let both = Overrides { files: vec![PathBuf::from("x.ndjson")], ..Overrides::default() };
    let err = Config::resolve(Some(&path), both).expect_err("files and Kafka");
    assert!(matches!(err, ConfigError::KafkaAndFiles), "{err}");

    let msg = refused("[kafka]\nbrokers = \"k:1\"\nmax_batches_ahead = 0\n");
    assert!(msg.contains("max_batches_ahead"), "{msg}");
    let msg = refused("[kafka]\nbrokerz = \"k:1\"\n");
    assert!(msg.contains("brokerz"), "{msg}");
}
