//! Kafka topics as output: `departure-prices` (key `PRODUCT:CITY:DATE`),
//! `product-prices` (key `PRODUCT`) and `pricing-dlq`, written by one idempotent
//! producer. A dead letter's value is the same JSON as in `dlq.ndjson`; its headers carry
//! the reason and where the record came from, so tools can route on them unparsed.
//!
//! [`Sink::flush`] returns only when every record of the batch is acknowledged by the
//! brokers, and fails if any was not: the batch's state and input position commit after
//! it, so a crash or a failed delivery repeats records, never skips them. The runner
//! uses [`Sink::write_batch`]: the records are queued on the pricing thread, and the
//! same wait runs on the commit thread, so the next batch is priced while the brokers
//! acknowledge. That wait also covers what the next batch queued meanwhile, and a
//! failure among those refuses this batch's commit: a stop earlier than needed, never
//! a skipped record.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Message};

use super::{Durable, Sink};
use crate::intake::Origin;
use crate::kafka::KafkaConfig;
use crate::pipeline::{BatchOutput, DeadLetter};

/// How long `flush` waits for acknowledgements at most. librdkafka retries a failed
/// send until `message.timeout.ms` (5 minutes by default) anyway; past that the batch
/// fails rather than the process hanging.
const FLUSH_LIMIT: Duration = Duration::from_secs(600);

/// Counts deliveries that failed for good, so `flush` can refuse to let the batch commit.
#[derive(Default)]
struct Deliveries {
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, (): ()) {
        if let Err((e, message)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut first) = self.first_error.lock() {
                first.get_or_insert_with(|| format!("{e} (topic {})", message.topic()));
            }
        }
    }
}

/// The Kafka sink.
pub struct KafkaSink {
    producer: Arc<ThreadedProducer<Deliveries>>,
    departures: String,
    products: String,
    dlq: String,
}

impl KafkaSink {
    /// An idempotent producer to the configured brokers and topics.
    pub fn new(config: &KafkaConfig) -> Result<Self, KafkaError> {
        let producer = config
            .client_config_with(&[
                // Retries never duplicate or reorder a partition's records.
                ("enable.idempotence", "true"),
                ("linger.ms", "5"),
                // A batch's records are sent before its flush; room for the largest batches.
                ("queue.buffering.max.messages", "1000000"),
            ])
            .create_with_context(Deliveries::default())?;
        Ok(KafkaSink {
            producer: Arc::new(producer),
            departures: config.topics.departure_prices.clone(),
            products: config.topics.product_prices.clone(),
            dlq: config.topics.dlq.clone(),
        })
    }

    /// Queues one record, waiting while librdkafka's queue is full rather than failing.
    fn send(&self, record: BaseRecord<'_, str, [u8]>) -> std::io::Result<()> {
        let mut record = record;
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    // The producer's own thread delivers meanwhile.
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(std::io::Error::other(format!("producing to Kafka: {e}"))),
            }
        }
    }
}

/// The headers of a dead letter: the reason and the source record's coordinates.
fn dead_letter_headers(d: &DeadLetter) -> OwnedHeaders {
    let header = |h: OwnedHeaders, key: &str, value: &str| h.insert(Header { key, value: Some(value) });
    let h = header(OwnedHeaders::new(), "reason", &d.reason);
    let h = header(h, "reason_class", d.reason_class);
    match &d.origin {
        Origin::Kafka { topic, partition, offset } => {
            let h = header(h, "source_topic", topic);
            let h = header(h, "source_partition", &partition.to_string());
            header(h, "source_offset", &offset.to_string())
        }
        Origin::File { path, line } => header(header(h, "source_file", path), "source_line", &line.to_string()),
    }
}

impl Sink for KafkaSink {
    fn write(&mut self, batch: &BatchOutput) -> std::io::Result<()> {
        batch.departures.json(|key, json| self.send(BaseRecord::to(&self.departures).key(key).payload(json)))?;
        for (key, json) in batch.products.iter() {
            self.send(BaseRecord::to(&self.products).key(key).payload(json))?;
        }
        for d in &batch.dead_letters {
            let json = serde_json::to_vec(d)?;
            let key = d.origin.to_string();
            self.send(BaseRecord::to(&self.dlq).key(key.as_str()).payload(&json[..]).headers(dead_letter_headers(d)))?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        acknowledged(&self.producer)
    }

    /// Queues the batch's records here; the wait for their acknowledgement is left.
    fn write_batch(&mut self, batch: &mut BatchOutput) -> std::io::Result<Durable> {
        self.write(batch)?;
        let producer = Arc::clone(&self.producer);
        Ok(Durable::after(move || acknowledged(&producer)))
    }
}

/// Waits until every record queued so far is acknowledged; fails if any delivery failed
/// for good since the last wait.
fn acknowledged(producer: &ThreadedProducer<Deliveries>) -> std::io::Result<()> {
    producer.flush(FLUSH_LIMIT).map_err(|e| std::io::Error::other(format!("flushing to Kafka: {e}")))?;
    let context = producer.context();
    let failed = context.failed.swap(0, Ordering::Relaxed);
    if failed > 0 {
        let first = context.first_error.lock().ok().and_then(|mut f| f.take()).unwrap_or_default();
        return Err(std::io::Error::other(format!("{failed} record(s) not delivered to Kafka, first: {first}")));
    }
    Ok(())
}
