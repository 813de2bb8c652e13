//! A Kafka topic as input: a consumer in a consumer group on the resource-events topic.
//!
//! **Exactly-once state.** Each micro-batch commits, in the same atomic fjall batch as
//! the state it produced, the next offset of every partition it consumed (source
//! `kafka:TOPIC:PARTITION`). On assignment the consumer seeks each partition to that
//! stored offset, not to the group's committed one, so a crash or a rebalance at any
//! point neither repeats nor skips a state change. A partition this process has no
//! position for is read from its beginning: the state here must hold every event of
//! the partitions it serves.
//!
//! **Offsets in Kafka.** Once a batch's commit has landed its offsets are stored in the
//! consumer and committed to the group by librdkafka's auto-commit, so standard lag
//! tools work; they are never what the engine resumes from.
//!
//! **Threads.** The consumer polls on its own thread and hands complete micro-batches to
//! the pipeline (the calling thread) through a bounded queue. When `max_batches_ahead`
//! batches wait, it pauses its partitions and keeps polling (heartbeats, rebalances)
//! until the pipeline catches up: backpressure instead of unbounded buffering.
//!
//! **Revocation.** When partitions are taken away, the rebalance callback hands over the
//! events already read, waits until the pipeline has priced them and their commit has
//! landed, and commits their offsets to Kafka synchronously before giving the partitions
//! up, so the next owner's lag is right.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};

use super::{Progress, Runner};
use crate::intake::Origin;
use crate::kafka::KafkaConfig;
use crate::metrics::{LagGauge, Metrics};
use crate::pipeline::{Input, Stats};

/// How long the pipeline waits for a batch before it works on queued operations
/// (reprice, price rollback) instead.
const IDLE: Duration = Duration::from_millis(200);

/// How often librdkafka reports its statistics, which carry the consumer lag.
const STATS_EVERY_MS: &str = "5000";

/// How a Kafka run ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Until {
    /// Consume until the process is stopped: a deployment.
    #[default]
    Stopped,
    /// Stop once every assigned partition is read to its end and priced: a replay, a
    /// backfill, a test.
    CaughtUp,
}

/// The source name under which a partition's next offset is committed.
#[must_use]
pub fn position_source(topic: &str, partition: i32) -> String {
    format!("{}{partition}", position_prefix(topic))
}

/// What every partition's source name of `topic` starts with.
fn position_prefix(topic: &str) -> String {
    format!("kafka:{topic}:")
}

/// What the consumer thread hands the pipeline.
enum Handoff {
    /// Events and, per partition, the offset after the last of them.
    Batch(Vec<Input>, BTreeMap<i32, i64>),
    /// Answer once everything handed before is priced and committed.
    Barrier(SyncSender<()>),
    /// Nothing more comes: the pipeline finishes what it was handed and returns.
    End,
}

/// Events read and not yet handed over, with the offsets after them.
#[derive(Default)]
struct Assembling {
    /// A complete batch the pipeline had no room for yet. It holds older events than
    /// `inputs`, so it is always handed over first.
    held: Option<Handoff>,
    inputs: Vec<Input>,
    next: BTreeMap<i32, i64>,
    started: Option<Instant>,
}

impl Assembling {
    fn take(&mut self) -> Option<Handoff> {
        if self.inputs.is_empty() {
            return None;
        }
        self.started = None;
        Some(Handoff::Batch(std::mem::take(&mut self.inputs), std::mem::take(&mut self.next)))
    }

    /// Everything read and not handed over, oldest first.
    fn take_all(&mut self) -> impl Iterator<Item = Handoff> + use<> {
        self.held.take().into_iter().chain(self.take())
    }
}

/// What the consumer thread, its rebalance callback and the pipeline share.
struct Shared {
    topic: String,
    to_pipeline: SyncSender<Handoff>,
    /// Per partition, the offset after the last event handed to the pipeline: where
    /// this process's state will be once the pipeline is done, so where a partition
    /// assigned (again) resumes. Starts from the positions stored in fjall.
    handed: Mutex<BTreeMap<i32, i64>>,
    /// Offsets whose batch has committed, not yet stored in the consumer.
    landed: Mutex<BTreeMap<i32, i64>>,
    assembling: Mutex<Assembling>,
    /// Set when the pipeline has stopped (an error): the consumer thread ends.
    stop: AtomicBool,
    /// Where librdkafka's statistics put each partition's lag, when metrics are kept.
    lag: Option<LagGauge>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not hide the data: the values stay consistent per update.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// Hands everything read so far to the pipeline, waits until it is priced and
    /// committed, and commits the offsets to Kafka. Used before partitions are given up
    /// and before a caught-up run ends.
    fn drain_and_commit(&self, consumer: &BaseConsumer<Ctx>) {
        let batches: Vec<Handoff> = lock(&self.assembling).take_all().collect();
        let (reply, done) = sync_channel(1);
        let handed = batches.into_iter().all(|b| self.to_pipeline.send(b).is_ok());
        if !handed || self.to_pipeline.send(Handoff::Barrier(reply)).is_err() || done.recv().is_err() {
            // The pipeline has stopped; the process is ending with its error.
            return;
        }
        self.store_landed(consumer);
        if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
            // Nothing stored yet is the one harmless case.
            if !matches!(e, KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)) {
                tracing::warn!(error = %e, "committing offsets to Kafka failed; lag tools may lag behind");
            }
        }
    }

    /// Stores the offsets of committed batches in the consumer (auto-commit sends them).
    fn store_landed(&self, consumer: &BaseConsumer<Ctx>) {
        let landed = std::mem::take(&mut *lock(&self.landed));
        if landed.is_empty() {
            return;
        }
        let mut tpl = TopicPartitionList::new();
        for (p, offset) in landed {
            if tpl.add_partition_offset(&self.topic, p, Offset::Offset(offset)).is_err() {
                continue;
            }
        }
        // Fails for partitions no longer assigned: their new owner commits them.
        if let Err(e) = consumer.store_offsets(&tpl) {
            tracing::debug!(error = %e, "storing offsets");
        }
    }
}

/// The consumer's context: seeks assigned partitions to this process's positions.
struct Ctx(Arc<Shared>);

impl ClientContext for Ctx {
    fn stats(&self, statistics: Statistics) {
        let Some(lag) = &self.0.lag else { return };
        let Some(topic) = statistics.topics.get(&self.0.topic) else { return };
        for (p, stats) in &topic.partitions {
            // -1: librdkafka's internal unassigned partition, or a lag not known yet.
            if *p >= 0 && stats.consumer_lag >= 0 {
                lag.set(&self.0.topic, *p, stats.consumer_lag);
            }
        }
    }
}

impl ConsumerContext for Ctx {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        let shared = &self.0;
        let cooperative = matches!(consumer.rebalance_protocol(), RebalanceProtocol::Cooperative);
        let partitions: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let handed = lock(&shared.handed).clone();
                let mut at = Vec::with_capacity(partitions.len());
                for &p in &partitions {
                    let offset = handed.get(&p).map_or(Offset::Beginning, |o| Offset::Offset(*o));
                    at.push(format!("{p}@{}", handed.get(&p).map_or_else(|| "beginning".into(), i64::to_string)));
                    if let Err(e) = tpl.set_partition_offset(&shared.topic, p, offset) {
                        tracing::error!(partition = p, error = %e, "cannot set the start offset");
                    }
                }
                tracing::info!(topic = %shared.topic, partitions = %at.join(","), "assigned Kafka partitions");
                if cooperative { consumer.incremental_assign(tpl) } else { consumer.assign(tpl) }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                shared.drain_and_commit(consumer);
                tracing::info!(topic = %shared.topic, partitions = ?partitions, "revoked Kafka partitions");
                if cooperative { consumer.incremental_unassign(tpl) } else { consumer.unassign() }
            }
            other => {
                tracing::warn!(error = ?other, "Kafka rebalance error; giving up the assignment");
                consumer.unassign()
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "applying a Kafka rebalance failed");
        }
    }
}

/// Consumes the configured events topic through `runner` until `until` says to stop or
/// `stop` is set (a signal), and returns the counters of what it priced. On `stop` the
/// events already read are priced and committed, and the consumer leaves its group, so
/// another member takes its partitions over at once. `progress` gets the events and bytes
/// consumed so far after each batch.
pub fn run_kafka(
    config: &KafkaConfig,
    batch_size: usize,
    until: Until,
    stop: &AtomicBool,
    runner: &mut Runner<'_>,
    mut progress: impl FnMut(Progress),
) -> Result<Stats> {
    let topic = config.topics.events.clone();
    let (to_pipeline, from_consumer) = sync_channel(config.max_batches_ahead);
    let shared = Arc::new(Shared {
        topic: topic.clone(),
        to_pipeline,
        handed: Mutex::new(stored_positions(config, runner)?),
        landed: Mutex::new(BTreeMap::new()),
        assembling: Mutex::new(Assembling::default()),
        stop: AtomicBool::new(false),
        lag: runner.metrics().map(Metrics::lag_gauge),
    });
    let group = config.group.as_str();
    let mut ours = vec![
        ("group.id", group),
        // Offsets are stored by hand once a batch is durable, then auto-committed.
        ("enable.auto.commit", "true"),
        ("enable.auto.offset.store", "false"),
        ("auto.offset.reset", "earliest"),
        ("enable.partition.eof", "true"),
    ];
    if let Some(id) = &config.instance_id {
        ours.push(("group.instance.id", id));
    }
    if shared.lag.is_some() {
        // The lag comes from librdkafka's own statistics: no extra requests to the
        // brokers, which could queue behind a long fetch.
        ours.push(("statistics.interval.ms", STATS_EVERY_MS));
    }
    let consumer: BaseConsumer<Ctx> = config
        .client_config_with(&ours)
        .create_with_context(Ctx(Arc::clone(&shared)))
        .context("creating the Kafka consumer")?;
    consumer.subscribe(&[&topic]).with_context(|| format!("subscribing to {topic}"))?;
    tracing::info!(topic = %topic, group, "consuming from Kafka");

    let wait = Duration::from_millis(config.batch_wait_ms);
    std::thread::scope(|scope| {
        let polling = std::thread::Builder::new()
            .name("kafka-consumer".into())
            .spawn_scoped(scope, || poll_loop(&consumer, &shared, batch_size.max(1), wait, until, stop))
            .context("starting the consumer thread")?;
        let priced = pipeline_loop(&from_consumer, &shared, runner, &mut progress);
        // Whatever ended the pipeline ends the consumer too.
        shared.stop.store(true, Ordering::Relaxed);
        drop(from_consumer);
        let polled = polling.join().map_err(|_| anyhow::anyhow!("the Kafka consumer thread panicked"))?;
        let stats = priced?;
        polled?;
        Ok(stats)
    })
}

/// The next offset stored in fjall for each partition of the events topic this process
/// has consumed. Partitions it has never read have none (read from the beginning).
fn stored_positions(config: &KafkaConfig, runner: &Runner<'_>) -> Result<BTreeMap<i32, i64>> {
    let prefix = position_prefix(&config.topics.events);
    let mut positions = BTreeMap::new();
    for (source, bytes) in runner.state().positions(&prefix)? {
        let corrupt = || anyhow::anyhow!("stored position of {source} is corrupt");
        let partition: i32 = source[prefix.len()..].parse().map_err(|_| corrupt())?;
        let offset = bytes.as_slice().try_into().map(i64::from_le_bytes).map_err(|_| corrupt())?;
        positions.insert(partition, offset);
    }
    Ok(positions)
}

/// The pipeline's side: prices each batch handed over, commits it with its offsets,
/// and reports offsets whose commit has landed.
fn pipeline_loop(
    from_consumer: &Receiver<Handoff>,
    shared: &Shared,
    runner: &mut Runner<'_>,
    progress: &mut impl FnMut(Progress),
) -> Result<Stats> {
    let mut stats = Stats::default();
    let mut consumed = Progress::default();
    progress(consumed);
    // The offsets of the batch whose commit is in flight.
    let mut in_flight: Option<BTreeMap<i32, i64>> = None;
    let landed = |offsets: Option<BTreeMap<i32, i64>>| {
        if let Some(offsets) = offsets {
            lock(&shared.landed).extend(offsets);
        }
    };
    loop {
        match from_consumer.recv_timeout(IDLE) {
            Ok(Handoff::Batch(inputs, next)) => {
                let positions =
                    next.iter().map(|(p, o)| (position_source(&shared.topic, *p), o.to_le_bytes().to_vec())).collect();
                consumed.lines += inputs.len() as u64;
                consumed.bytes += inputs.iter().map(|i| i.text.len() as u64).sum::<u64>();
                stats.add(&runner.batch_at(&inputs, positions)?);
                // A batch starts its commit only after the previous one's has landed.
                landed(in_flight.replace(next));
                progress(consumed);
            }
            Ok(Handoff::Barrier(reply)) => {
                runner.settle()?;
                landed(in_flight.take());
                let _ = reply.send(());
            }
            Err(RecvTimeoutError::Timeout) => {
                // Idle: queued operations' work, and the last commit lands.
                runner.run_ops()?;
                landed(in_flight.take());
            }
            Ok(Handoff::End) | Err(RecvTimeoutError::Disconnected) => {
                runner.settle()?;
                landed(in_flight.take());
                return Ok(stats);
            }
        }
    }
}

/// The consumer's side: polls, assembles micro-batches, hands them over with
/// backpressure, and stores the offsets of landed commits.
fn poll_loop(
    consumer: &BaseConsumer<Ctx>,
    shared: &Shared,
    batch_size: usize,
    wait: Duration,
    until: Until,
    stop: &AtomicBool,
) -> Result<()> {
    let mut at_end: HashSet<i32> = HashSet::new();
    let mut paused = false;
    while !shared.stop.load(Ordering::Relaxed) {
        shared.store_landed(consumer);
        match consumer.poll(Duration::from_millis(50)) {
            Some(Ok(m)) => {
                at_end.remove(&m.partition());
                let text = String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
                let mut a = lock(&shared.assembling);
                a.started.get_or_insert_with(Instant::now);
                a.next.insert(m.partition(), m.offset() + 1);
                lock(&shared.handed).insert(m.partition(), m.offset() + 1);
                a.inputs.push(Input {
                    text,
                    origin: Origin::Kafka { topic: m.topic().to_owned(), partition: m.partition(), offset: m.offset() },
                });
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) => {
                // Broker gone, network down: librdkafka reconnects by itself.
                tracing::warn!(error = %e, "Kafka consumer error; retrying");
            }
            None => {}
        }
        // The batch to hand over: the one held back, or a newly complete one. It stays
        // in `assembling` while it waits, so a revocation hands it over first.
        let ready = {
            let mut a = lock(&shared.assembling);
            let full = a.inputs.len() >= batch_size;
            let waited = a.started.is_some_and(|s| s.elapsed() >= wait);
            if a.held.is_none() && (full || waited) {
                a.held = a.take();
            }
            a.held.take()
        };
        if let Some(batch) = ready {
            match shared.to_pipeline.try_send(batch) {
                Ok(()) => {
                    if paused {
                        set_paused(consumer, false);
                        paused = false;
                    }
                }
                Err(TrySendError::Full(batch)) => {
                    // The pipeline is behind: stop fetching, keep polling.
                    lock(&shared.assembling).held = Some(batch);
                    if !paused {
                        set_paused(consumer, true);
                        paused = true;
                    }
                }
                Err(TrySendError::Disconnected(_)) => break,
            }
        }
        if stop.load(Ordering::Relaxed) {
            shared.drain_and_commit(consumer);
            tracing::info!("stopping: the events read are priced and committed");
            break;
        }
        let waiting = lock(&shared.assembling).held.is_some();
        if until == Until::CaughtUp && !waiting && caught_up(consumer, &at_end) {
            shared.drain_and_commit(consumer);
            if lock(&shared.assembling).inputs.is_empty() {
                tracing::info!("every assigned partition is consumed to its end");
                break;
            }
        }
    }
    // Ends the pipeline's loop once it has priced what it was handed (it may have
    // stopped already, with its error).
    let _ = shared.to_pipeline.send(Handoff::End);
    Ok(())
}

fn caught_up(consumer: &BaseConsumer<Ctx>, at_end: &HashSet<i32>) -> bool {
    let Ok(assignment) = consumer.assignment() else { return false };
    let assigned = assignment.elements();
    !assigned.is_empty() && assigned.iter().all(|e| at_end.contains(&e.partition()))
}

fn set_paused(consumer: &BaseConsumer<Ctx>, pause: bool) {
    let Ok(assignment) = consumer.assignment() else { return };
    let result = if pause { consumer.pause(&assignment) } else { consumer.resume(&assignment) };
    match result {
        Ok(()) => tracing::debug!(pause, "backpressure"),
        Err(e) => tracing::warn!(error = %e, pause, "pausing or resuming Kafka partitions failed"),
    }
}
