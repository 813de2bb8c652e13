//! Kafka: what the consumer ([`crate::source::run_kafka`]) and the producer
//! ([`crate::sink::KafkaSink`]) share: their librdkafka settings, the check that the
//! brokers answer, and the creation of missing topics.

mod config;

pub use config::{ENV_BROKERS, ENV_GROUP, ENV_INSTANCE_ID, ENV_PROPERTY_PREFIX, KafkaConfig, Topics};

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

/// What can go wrong setting Kafka up.
#[derive(Debug, thiserror::Error)]
pub enum KafkaSetupError {
    /// No broker answered in time: the most common mistake (wrong address, broker down).
    #[error("cannot reach the Kafka brokers at {brokers} within {timeout_ms} ms")]
    Unreachable {
        /// The bootstrap list tried.
        brokers: String,
        /// How long it waited.
        timeout_ms: u64,
        /// What librdkafka said.
        #[source]
        source: KafkaError,
    },
    /// A client could not be created: usually a bad property.
    #[error("bad Kafka client settings")]
    Client(#[source] KafkaError),
    /// A topic could not be created.
    #[error("cannot create Kafka topic {topic}: {reason}")]
    CreateTopic {
        /// The topic.
        topic: String,
        /// The broker's answer.
        reason: String,
    },
    /// The topic is missing and `create_topics` is off.
    #[error("Kafka topic {0} does not exist (set `kafka.create_topics = true` to create it at start)")]
    MissingTopic(String),
}

impl KafkaConfig {
    /// The librdkafka settings every client of the engine starts from: the brokers, then
    /// the operator's properties (which win).
    #[must_use]
    pub fn client_config(&self) -> ClientConfig {
        self.client_config_with(&[])
    }

    /// Like [`KafkaConfig::client_config`], with `ours` set before the operator's
    /// properties, so an operator can still override them.
    #[must_use]
    pub fn client_config_with(&self, ours: &[(&str, &str)]) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", self.brokers.as_deref().unwrap_or_default());
        for (k, v) in ours {
            c.set(*k, *v);
        }
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
}

/// Checks that the brokers answer within `connect_timeout_ms` (a clear error, not a
/// hang, when they do not), and creates the engine's topics that are missing when
/// `create_topics` is on. Returns the input topic's partition count.
pub fn prepare(config: &KafkaConfig) -> Result<i32, KafkaSetupError> {
    let probe: BaseConsumer =
        config.client_config_with(&[("group.id", &config.group)]).create().map_err(KafkaSetupError::Client)?;
    let unreachable = |source| KafkaSetupError::Unreachable {
        brokers: config.brokers.clone().unwrap_or_default(),
        timeout_ms: config.connect_timeout_ms,
        source,
    };
    let metadata = probe.fetch_metadata(None, config.timeout()).map_err(unreachable)?;
    let existing: Vec<String> =
        metadata.topics().iter().filter(|t| t.error().is_none()).map(|t| t.name().to_owned()).collect();
    let missing: Vec<&str> = config.topics.all().into_iter().filter(|t| !existing.iter().any(|e| e == t)).collect();
    if !missing.is_empty() {
        if !config.create_topics {
            return Err(KafkaSetupError::MissingTopic(missing.join(", ")));
        }
        create_topics(config, &missing)?;
    }
    let events = &config.topics.events;
    let metadata = probe.fetch_metadata(Some(events), config.timeout()).map_err(unreachable)?;
    let partitions = metadata.topics().first().map_or(0, |t| t.partitions().len());
    Ok(i32::try_from(partitions).unwrap_or(i32::MAX))
}

fn create_topics(config: &KafkaConfig, topics: &[&str]) -> Result<(), KafkaSetupError> {
    let admin: AdminClient<DefaultClientContext> = config.client_config().create().map_err(KafkaSetupError::Client)?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, config.partitions, TopicReplication::Fixed(config.replication_factor)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(config.timeout())).request_timeout(Some(config.timeout()));
    // The admin API is async; one small runtime for the one call keeps the rest sync.
    let runtime = tokio::runtime::Builder::new_current_thread().build().map_err(|e| KafkaSetupError::CreateTopic {
        topic: topics.join(", "),
        reason: format!("no runtime for the call: {e}"),
    })?;
    let results = runtime
        .block_on(admin.create_topics(&new, &options))
        .map_err(|e| KafkaSetupError::CreateTopic { topic: topics.join(", "), reason: e.to_string() })?;
    for result in results {
        match result {
            Ok(topic) => tracing::info!(topic, partitions = config.partitions, "created Kafka topic"),
            // Another process of the group created it first.
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(KafkaSetupError::CreateTopic { topic, reason: code.to_string() }),
        }
    }
    Ok(())
}
