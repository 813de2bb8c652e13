//! The `[kafka]` section of the config file, and the environment variables that
//! override it (a container is configured by its environment more often than by a file).

use std::collections::BTreeMap;

use serde::Deserialize;

/// Environment variables read on top of the file, in [`KafkaConfig::apply_env`].
pub const ENV_BROKERS: &str = "PRICING_KAFKA_BROKERS";
/// Overrides `group`.
pub const ENV_GROUP: &str = "PRICING_KAFKA_GROUP";
/// Overrides `instance_id`.
pub const ENV_INSTANCE_ID: &str = "PRICING_KAFKA_INSTANCE_ID";
/// Prefix of variables that set a librdkafka property: `PRICING_KAFKA_PROPERTY_SASL_PASSWORD`
/// sets `sasl.password` (lowercased, `_` becomes `.`).
pub const ENV_PROPERTY_PREFIX: &str = "PRICING_KAFKA_PROPERTY_";

/// How the engine talks to Kafka. With no `brokers` the engine runs on the embedded
/// default (files in, files out) and nothing here is used.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap brokers, `host:port[,host:port...]`. Setting it (here or in
    /// `PRICING_KAFKA_BROKERS`) switches input and output to Kafka. Default: none.
    pub brokers: Option<String>,
    /// Consumer group of the engine's processes. Default: `pricing`.
    pub group: String,
    /// Static group membership (`group.instance.id`): a process restarted with the same
    /// id takes its old place in the group at once, without a rebalance, and keeps its
    /// partitions (and so the state it built for them). Must differ per process. A
    /// static member does not leave the group when it stops; its partitions move only
    /// after `session.timeout.ms`. Default: none (dynamic membership).
    pub instance_id: Option<String>,
    /// Topic names (`[kafka.topics]`).
    pub topics: Topics,
    /// Create missing topics at start (the test broker, and many managed ones, do not
    /// create them on first use). Default: true.
    pub create_topics: bool,
    /// Partitions of a topic created at start. Default: 4.
    pub partitions: i32,
    /// Replication factor of a topic created at start. Default: 1.
    pub replication_factor: i32,
    /// How long to wait for the brokers at start before failing with an error, in
    /// milliseconds. Default: 10000.
    pub connect_timeout_ms: u64,
    /// Longest time a micro-batch waits to fill up before it is priced with fewer
    /// events, in milliseconds. Default: 100.
    pub batch_wait_ms: u64,
    /// Micro-batches read ahead of the pipeline. When that many wait, the consumer
    /// pauses its partitions until the pipeline catches up (backpressure) instead of
    /// buffering without bound. Default: 2.
    pub max_batches_ahead: usize,
    /// librdkafka properties for both the consumer and the producer, passed through as
    /// they are: security (`security.protocol`, `sasl.*`, `ssl.*`), timeouts, tuning.
    /// They are applied last, so they override the engine's own settings. Default: none.
    pub properties: BTreeMap<String, String>,
}

/// The topics the engine reads and writes.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Topics {
    /// Resource-change events in (record key `kind:key`, value the event JSON).
    /// Default: `resource-events`.
    pub events: String,
    /// Departure price versions out (key `PRODUCT:CITY:DATE`). Default: `departure-prices`.
    pub departure_prices: String,
    /// Product starting prices out (key `PRODUCT`). Default: `product-prices`.
    pub product_prices: String,
    /// Dead letters out, with the reason and the source record's topic, partition and
    /// offset as headers. Default: `pricing-dlq`.
    pub dlq: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            events: "resource-events".into(),
            departure_prices: "departure-prices".into(),
            product_prices: "product-prices".into(),
            dlq: "pricing-dlq".into(),
        }
    }
}

impl Topics {
    /// Every topic, input first.
    #[must_use]
    pub fn all(&self) -> [&str; 4] {
        [&self.events, &self.departure_prices, &self.product_prices, &self.dlq]
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: None,
            group: "pricing".into(),
            instance_id: None,
            topics: Topics::default(),
            create_topics: true,
            partitions: 4,
            replication_factor: 1,
            connect_timeout_ms: 10_000,
            batch_wait_ms: 100,
            max_batches_ahead: 2,
            properties: BTreeMap::new(),
        }
    }
}

impl KafkaConfig {
    /// Whether Kafka is configured (else the embedded default runs).
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.brokers.as_deref().is_some_and(|b| !b.trim().is_empty())
    }

    /// This config with the environment's overrides on top: `PRICING_KAFKA_BROKERS`,
    /// `PRICING_KAFKA_GROUP`, `PRICING_KAFKA_INSTANCE_ID` and `PRICING_KAFKA_PROPERTY_*`.
    #[must_use]
    pub fn apply_env(self) -> Self {
        self.with_vars(std::env::vars())
    }

    /// [`KafkaConfig::apply_env`] over the given variables (testable without touching
    /// the process environment).
    #[must_use]
    pub fn with_vars(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        for (name, value) in vars {
            if name == ENV_BROKERS {
                self.brokers = Some(value);
            } else if name == ENV_GROUP {
                self.group = value;
            } else if name == ENV_INSTANCE_ID {
                self.instance_id = Some(value).filter(|v| !v.trim().is_empty());
            } else if let Some(property) = name.strip_prefix(ENV_PROPERTY_PREFIX) {
                self.properties.insert(property.to_lowercase().replace('_', "."), value);
            }
        }
        self
    }

    /// Values TOML accepts but the engine cannot run with.
    pub fn check(&self) -> Result<(), String> {
        if !self.enabled() {
            return Ok(());
        }
        if self.group.trim().is_empty() {
            return Err("`kafka.group` must not be empty".into());
        }
        if self.topics.all().iter().any(|t| t.trim().is_empty()) {
            return Err("`kafka.topics` names must not be empty".into());
        }
        if self.partitions < 1 || self.replication_factor < 1 {
            return Err("`kafka.partitions` and `kafka.replication_factor` must be at least 1".into());
        }
        if self.max_batches_ahead == 0 {
            return Err("`kafka.max_batches_ahead` must be at least 1".into());
        }
        if self.connect_timeout_ms == 0 {
            return Err("`kafka.connect_timeout_ms` must be at least 1".into());
        }
        Ok(())
    }
}

impl std::fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Properties carry passwords (`sasl.password`, `ssl.key.password`): names only.
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("group", &self.group)
            .field("instance_id", &self.instance_id)
            .field("topics", &self.topics)
            .field("create_topics", &self.create_topics)
            .field("partitions", &self.partitions)
            .field("replication_factor", &self.replication_factor)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("batch_wait_ms", &self.batch_wait_ms)
            .field("max_batches_ahead", &self.max_batches_ahead)
            .field("properties", &self.properties.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_brokers_group_and_properties() {
        let vars = [
            (ENV_BROKERS.to_owned(), "k1:9092,k2:9092".to_owned()),
            (ENV_GROUP.to_owned(), "pricing-eu".to_owned()),
            ("PRICING_KAFKA_PROPERTY_SASL_PASSWORD".to_owned(), "secret".to_owned()),
            ("UNRELATED".to_owned(), "x".to_owned()),
        ];
        let config = KafkaConfig::default().with_vars(vars);
        assert!(config.enabled());
        assert_eq!(config.brokers.as_deref(), Some("k1:9092,k2:9092"));
        assert_eq!(config.group, "pricing-eu");
        assert_eq!(config.properties.get("sasl.password").map(String::as_str), Some("secret"));
        assert!(!format!("{config:?}").contains("secret"), "passwords are not printed");
    }

    #[test]
    fn off_by_default_and_checked_when_on() {
        assert!(!KafkaConfig::default().enabled());
        let bad = KafkaConfig { brokers: Some("k:1".into()), partitions: 0, ..KafkaConfig::default() };
        assert!(bad.check().is_err_and(|m| m.contains("partitions")));
    }
}
