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
//! **The same batches on a replay.** A batch closes when full or when a wait expires,
//! and its records reach the brokers before its commit. Replayed after a crash, the
//! same events could be cut otherwise, and a batch cut otherwise coalesces otherwise: a
//! version already emitted could be written no more, and consumers would keep its
//! stale price. So each batch records its ends as an intent before its output is sent
//! ([`Runner::batch_at`]), its commit removes it, and a restart cuts the batches whose
//! intents are left exactly as before, setting aside what it reads past their ends.
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

use std::collections::{BTreeMap, HashSet, VecDeque};
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

use super::{Intent, Progress, Runner};
use crate::intake::Origin;
use crate::kafka::KafkaConfig;
use crate::metrics::{LagGauge, Metrics};
use crate::pipeline::{Input, Stats};
use crate::state::State;

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
    /// A micro-batch.
    Batch(Batch),
    /// Answer once everything handed before is priced and committed.
    Barrier(SyncSender<()>),
    /// Nothing more comes: the pipeline finishes what it was handed and returns.
    End,
}

/// A micro-batch as cut by the consumer thread.
#[derive(Debug, Default)]
struct Batch {
    /// Its number: names its intent in the state.
    seq: u64,
    inputs: Vec<Input>,
    /// Per partition, the offset after the last of its events.
    next: BTreeMap<i32, i64>,
    /// Intents given up, removed by this batch's commit.
    retire: Vec<u64>,
}

/// A batch cut before a crash, read back from its intent: cut again with the same ends.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Cut {
    seq: u64,
    /// Per partition, the offset after the batch's last event.
    ends: BTreeMap<i32, i64>,
}

/// How long a replayed batch waits for the rest of its events before it is cut with
/// what it has: its partition may have gone to another member, or its records may have
/// been deleted.
const REPLAY_WAIT: Duration = Duration::from_secs(10);

/// Events read and not yet handed over, with the offsets after them.
#[derive(Default)]
struct Assembling {
    /// A complete batch the pipeline had no room for yet. It holds older events than
    /// `inputs`, so it is always handed over first.
    held: Option<Handoff>,
    inputs: Vec<Input>,
    next: BTreeMap<i32, i64>,
    /// When the first event of the batch being cut (or, replaying, of any) was read.
    started: Option<Instant>,
    /// The number of the next new batch.
    seq: u64,
    /// Batches cut before a crash whose output may have reached the brokers before
    /// their commit, oldest first: they are cut again with the same ends, so that they
    /// price exactly as before. A batch cut elsewhere could coalesce an emitted version
    /// away, and consumers, which keep the highest version, would keep its stale price.
    replay: VecDeque<Cut>,
    /// Events set aside for later batches, oldest first, with their partition and
    /// offset: read past the end of the batch being replayed, and those behind them.
    spill: Vec<(i32, i64, Input)>,
    /// The most events a new batch takes from `spill` at once.
    batch_size: usize,
    /// Intents that will never be replayed, removed by the next batch's commit.
    given_up: Vec<u64>,
}

impl Assembling {
    /// Cuts batches of up to `batch_size` events, after the batches to replay stored in
    /// fjall.
    fn resuming(stored: &Stored, batch_size: usize) -> Self {
        Assembling {
            batch_size,
            seq: stored.next_seq,
            replay: stored.replay.iter().cloned().collect(),
            given_up: stored.given_up.clone(),
            ..Assembling::default()
        }
    }

    /// Adds an event just read: to the batch being cut, or aside for a later batch when
    /// it is past the end of the batch being replayed, or when events are aside already
    /// (they go first).
    fn push(&mut self, partition: i32, offset: i64, input: Input) {
        self.started.get_or_insert_with(Instant::now);
        let aside = match self.replay.front() {
            Some(cut) => cut.ends.get(&partition).is_none_or(|end| offset >= *end),
            None => !self.spill.is_empty(),
        };
        if aside {
            self.spill.push((partition, offset, input));
        } else {
            self.next.insert(partition, offset + 1);
            self.inputs.push(input);
        }
    }

    /// Moves events set aside into the batch being cut, oldest first: replaying, those
    /// within the next batch's ends; then, at most a full batch.
    fn refill(&mut self) {
        let mut aside = std::mem::take(&mut self.spill).into_iter();
        while let Some((partition, offset, input)) = aside.next() {
            if self.replay.is_empty() && self.inputs.len() >= self.batch_size {
                self.spill.push((partition, offset, input));
                self.spill.extend(aside);
                return;
            }
            self.push(partition, offset, input);
        }
    }

    /// Whether the batch being replayed is complete: each of its partitions is read to
    /// its end, or to the end of the partition (`at_end`), or it has waited too long.
    fn replayed(&self, at_end: &HashSet<i32>) -> bool {
        let Some(cut) = self.replay.front() else { return false };
        let read = |p: &i32, end: &i64| self.next.get(p).is_some_and(|n| n >= end) || at_end.contains(p);
        cut.ends.iter().all(|(p, end)| read(p, end)) || self.started.is_some_and(|s| s.elapsed() >= REPLAY_WAIT)
    }

    /// The batch being cut, numbered `seq`, if it has events; otherwise its number is
    /// given up. Events set aside are then sorted against the next batch to replay.
    fn cut(&mut self, seq: u64) -> Option<Handoff> {
        self.started = None;
        let batch = if self.inputs.is_empty() {
            self.given_up.push(seq);
            None
        } else {
            Some(Handoff::Batch(Batch {
                seq,
                inputs: std::mem::take(&mut self.inputs),
                next: std::mem::take(&mut self.next),
                retire: std::mem::take(&mut self.given_up),
            }))
        };
        self.refill();
        batch
    }

    /// The batch being replayed, cut now, complete or not.
    fn take_replayed(&mut self) -> Option<Handoff> {
        let cut = self.replay.pop_front()?;
        if self.started.is_some_and(|s| s.elapsed() >= REPLAY_WAIT) {
            tracing::warn!(batch = cut.seq, "a batch replayed after a crash is cut short: not all its events came");
        }
        self.cut(cut.seq)
    }

    /// The new batch being cut, if it has events.
    fn take(&mut self) -> Option<Handoff> {
        if self.inputs.is_empty() {
            return None;
        }
        let seq = self.seq;
        self.seq += 1;
        self.cut(seq)
    }

    /// Everything read and not handed over, oldest first: batches still to replay are
    /// cut with what they have.
    fn take_all(&mut self) -> Vec<Handoff> {
        let mut out: Vec<Handoff> = self.held.take().into_iter().collect();
        while !self.replay.is_empty() {
            out.extend(self.take_replayed());
        }
        while let Some(batch) = self.take() {
            out.push(batch);
        }
        out
    }
}

/// What fjall holds for the events topic: positions, and the intents of batches whose
/// commit never landed.
#[derive(Debug, Default)]
struct Stored {
    positions: BTreeMap<i32, i64>,
    replay: Vec<Cut>,
    given_up: Vec<u64>,
    next_seq: u64,
}

/// The name of batch `seq`'s intent: zero-padded, so names sort as numbers.
fn intent_name(topic: &str, seq: u64) -> String {
    format!("{}{seq:020}", position_prefix(topic))
}

/// An intent's value: each partition (i32 LE) and the offset after the batch (i64 LE).
fn encode_ends(ends: &BTreeMap<i32, i64>) -> Vec<u8> {
    ends.iter().flat_map(|(p, end)| p.to_le_bytes().into_iter().chain(end.to_le_bytes())).collect()
}

fn decode_ends(bytes: &[u8]) -> Option<BTreeMap<i32, i64>> {
    if !bytes.len().is_multiple_of(12) {
        return None;
    }
    bytes
        .chunks_exact(12)
        .map(|c| Some((i32::from_le_bytes(c[..4].try_into().ok()?), i64::from_le_bytes(c[4..].try_into().ok()?))))
        .collect()
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
        let batches = lock(&self.assembling).take_all();
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
    let stored = stored(&topic, runner.state())?;
    if !stored.replay.is_empty() {
        tracing::info!(batches = stored.replay.len(), "replaying the batches a crash left uncommitted, cut as before");
    }
    let shared = Arc::new(Shared {
        topic: topic.clone(),
        to_pipeline,
        assembling: Mutex::new(Assembling::resuming(&stored, batch_size.max(1))),
        handed: Mutex::new(stored.positions),
        landed: Mutex::new(BTreeMap::new()),
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
            .spawn_scoped(scope, || poll_loop(&consumer, &shared, wait, until, stop))
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

/// What fjall holds for `topic`. The next offset of each partition this process has
/// consumed (partitions it has never read have none: read from the beginning), and the
/// batches a crash left uncommitted, to cut again. An intent whose events are all
/// committed (it should not outlive its commit) is given up.
fn stored(topic: &str, state: &State) -> Result<Stored> {
    let prefix = position_prefix(topic);
    let mut stored = Stored::default();
    for (source, bytes) in state.positions(&prefix)? {
        let corrupt = || anyhow::anyhow!("stored position of {source} is corrupt");
        let partition: i32 = source[prefix.len()..].parse().map_err(|_| corrupt())?;
        let offset = bytes.as_slice().try_into().map(i64::from_le_bytes).map_err(|_| corrupt())?;
        stored.positions.insert(partition, offset);
    }
    for (name, bytes) in state.intents(&prefix)? {
        let corrupt = || anyhow::anyhow!("stored intent {name} is corrupt");
        let seq: u64 = name[prefix.len()..].parse().map_err(|_| corrupt())?;
        let mut ends = decode_ends(&bytes).ok_or_else(corrupt)?;
        stored.next_seq = stored.next_seq.max(seq + 1);
        ends.retain(|p, end| stored.positions.get(p).is_none_or(|at| at < end));
        if ends.is_empty() {
            stored.given_up.push(seq);
        } else {
            stored.replay.push(Cut { seq, ends });
        }
    }
    Ok(stored)
}

/// Records that the next batch of `topic` ends, per partition, before the offsets in
/// `ends`, as each batch does before its output is sent: the next run cuts its first
/// batch there. This is what a crash between a batch's output and its commit leaves
/// behind; tests and repairs write one by hand.
pub fn record_cut(state: &State, topic: &str, ends: &BTreeMap<i32, i64>) -> Result<()> {
    let seq = stored(topic, state)?.next_seq;
    Ok(state.write_intent(&intent_name(topic, seq), &encode_ends(ends))?)
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
    // The offsets of the batches whose commits are in flight, oldest first.
    let mut in_flight: VecDeque<BTreeMap<i32, i64>> = VecDeque::new();
    // Reports the offsets of the batches whose commits have landed: all but the last
    // `runner.in_flight()`.
    let landed = |in_flight: &mut VecDeque<BTreeMap<i32, i64>>, runner: &Runner<'_>| {
        while in_flight.len() > runner.in_flight() {
            if let Some(offsets) = in_flight.pop_front() {
                lock(&shared.landed).extend(offsets);
            }
        }
    };
    loop {
        match from_consumer.recv_timeout(IDLE) {
            Ok(Handoff::Batch(Batch { seq, inputs, next, retire })) => {
                let positions =
                    next.iter().map(|(p, o)| (position_source(&shared.topic, *p), o.to_le_bytes().to_vec())).collect();
                let intent = Intent {
                    name: intent_name(&shared.topic, seq),
                    value: encode_ends(&next),
                    retire: retire.into_iter().map(|seq| intent_name(&shared.topic, seq)).collect(),
                };
                consumed.lines += inputs.len() as u64;
                consumed.bytes += inputs.iter().map(|i| i.text.len() as u64).sum::<u64>();
                stats.add(&runner.batch_at(&inputs, &[], positions, &intent)?);
                in_flight.push_back(next);
                landed(&mut in_flight, runner);
                progress(consumed);
            }
            Ok(Handoff::Barrier(reply)) => {
                runner.settle()?;
                landed(&mut in_flight, runner);
                let _ = reply.send(());
            }
            Err(RecvTimeoutError::Timeout) => {
                // Idle: queued operations' work, and the last commit lands.
                runner.run_ops()?;
                landed(&mut in_flight, runner);
            }
            Ok(Handoff::End) | Err(RecvTimeoutError::Disconnected) => {
                runner.settle()?;
                landed(&mut in_flight, runner);
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
                lock(&shared.handed).insert(m.partition(), m.offset() + 1);
                let origin =
                    Origin::Kafka { topic: m.topic().to_owned(), partition: m.partition(), offset: m.offset() };
                a.push(m.partition(), m.offset(), Input { text, origin });
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
            if a.held.is_none() {
                if !a.replay.is_empty() {
                    // Replaying: cut where the batch was cut before the crash.
                    if a.replayed(&at_end) {
                        a.held = a.take_replayed();
                    }
                } else if a.inputs.len() >= a.batch_size || a.started.is_some_and(|s| s.elapsed() >= wait) {
                    a.held = a.take();
                }
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
            let a = lock(&shared.assembling);
            if a.inputs.is_empty() && a.spill.is_empty() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn input(partition: i32, offset: i64) -> Input {
        Input { text: format!("{partition}@{offset}"), origin: Origin::Kafka { topic: "t".into(), partition, offset } }
    }

    fn push(a: &mut Assembling, events: &[(i32, i64)]) {
        for &(p, o) in events {
            a.push(p, o, input(p, o));
        }
    }

    /// A handoff's batch as (seq, events as `partition@offset`, next offsets, intents retired).
    type Seen = (u64, Vec<String>, Vec<(i32, i64)>, Vec<u64>);

    fn batch(handoff: Option<Handoff>) -> Seen {
        let Some(Handoff::Batch(b)) = handoff else { panic!("expected a batch") };
        (b.seq, b.inputs.into_iter().map(|i| i.text).collect(), b.next.into_iter().collect(), b.retire)
    }

    fn texts(events: &[&str]) -> Vec<String> {
        events.iter().map(|e| (*e).to_owned()).collect()
    }

    fn replaying(cuts: &[(u64, &[(i32, i64)])]) -> Assembling {
        let stored = Stored {
            positions: BTreeMap::new(),
            replay: cuts.iter().map(|(seq, ends)| Cut { seq: *seq, ends: ends.iter().copied().collect() }).collect(),
            given_up: vec![2],
            next_seq: 6,
        };
        Assembling::resuming(&stored, 2)
    }

    #[test]
    fn batches_left_by_a_crash_are_cut_again_where_they_ended() {
        let mut a = replaying(&[(4, &[(0, 3), (1, 2)]), (5, &[(1, 4)])]);
        let none = HashSet::new();
        // Partition 2 is not in batch 4, and 1@2 is past its end: both wait.
        push(&mut a, &[(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (1, 2)]);
        assert!(!a.replayed(&none), "0@2 is still missing");
        push(&mut a, &[(0, 2)]);
        assert!(a.replayed(&none));
        assert_eq!(
            batch(a.take_replayed()),
            (4, texts(&["0@0", "1@0", "0@1", "1@1", "0@2"]), vec![(0, 3), (1, 2)], vec![2])
        );
        // What waited is sorted against batch 5: 1@2 is in, 2@0 waits again.
        assert!(!a.replayed(&none));
        push(&mut a, &[(2, 1), (1, 3)]);
        assert!(a.replayed(&none));
        assert_eq!(batch(a.take_replayed()), (5, texts(&["1@2", "1@3"]), vec![(1, 4)], vec![]));
        // Replay done: the rest is a new batch, numbered after every stored intent.
        assert!(a.replay.is_empty() && a.spill.is_empty());
        assert_eq!(batch(a.take()), (6, texts(&["2@0", "2@1"]), vec![(2, 2)], vec![]));
        assert!(a.take().is_none());
    }

    #[test]
    fn a_replayed_batch_ends_early_at_the_end_of_a_partition_or_after_a_wait() {
        let mut a = replaying(&[(4, &[(0, 5), (1, 5)])]);
        push(&mut a, &[(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (1, 3), (1, 4)]);
        assert!(!a.replayed(&HashSet::new()));
        // Partition 0 has nothing more: its records were deleted.
        assert!(a.replayed(&HashSet::from([0])));

        let mut a = replaying(&[(4, &[(0, 5)])]);
        push(&mut a, &[(3, 0)]);
        a.started = Some(Instant::now() - REPLAY_WAIT);
        assert!(a.replayed(&HashSet::new()), "a partition that never comes (assigned elsewhere) ends the wait");
        // Cut with nothing of its own: given up, retired by the next batch.
        assert!(a.take_replayed().is_none());
        assert_eq!(batch(a.take()), (6, texts(&["3@0"]), vec![(3, 1)], vec![2, 4]));
    }

    #[test]
    fn after_a_replay_what_was_set_aside_comes_out_in_full_batches_before_newer_events() {
        let mut a = replaying(&[(4, &[(0, 1)])]);
        push(&mut a, &[(1, 0), (1, 1), (1, 2), (1, 3), (1, 4), (0, 0)]);
        assert!(a.replayed(&HashSet::new()));
        assert_eq!(batch(a.take_replayed()), (4, texts(&["0@0"]), vec![(0, 1)], vec![2]));
        assert_eq!(a.inputs.len(), 2, "one full batch (of 2) taken from what was set aside");
        push(&mut a, &[(0, 1)]);
        assert_eq!(batch(a.take()), (6, texts(&["1@0", "1@1"]), vec![(1, 2)], vec![]));
        assert_eq!(batch(a.take()), (7, texts(&["1@2", "1@3"]), vec![(1, 4)], vec![]));
        assert_eq!(batch(a.take()), (8, texts(&["1@4", "0@1"]), vec![(0, 2), (1, 5)], vec![]));
        assert!(a.take().is_none() && a.spill.is_empty());
    }

    #[test]
    fn draining_mid_replay_hands_everything_read_once_in_order() {
        let mut a = replaying(&[(4, &[(0, 2)]), (5, &[(0, 4), (1, 1)])]);
        push(&mut a, &[(1, 0), (0, 0), (1, 1), (0, 1), (0, 2), (1, 2)]);
        let batches: Vec<_> = a.take_all().into_iter().map(Some).map(batch).collect();
        assert_eq!(
            batches,
            vec![
                (4, texts(&["0@0", "0@1"]), vec![(0, 2)], vec![2]),
                (5, texts(&["1@0", "0@2"]), vec![(0, 3), (1, 1)], vec![]),
                (6, texts(&["1@1", "1@2"]), vec![(1, 3)], vec![]),
            ]
        );
        assert!(a.take_all().is_empty());
    }

    #[test]
    fn intents_are_read_back_after_the_positions_and_retired_by_commits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = State::open(dir.path()).expect("state");
        let mut pending = crate::state::Pending::default();
        pending.set_position(&position_source("t", 0), 10i64.to_le_bytes().to_vec());
        pending.set_position(&position_source("t", 1), 7i64.to_le_bytes().to_vec());
        pending.commit(&state).expect("commit");
        let ends = |e: &[(i32, i64)]| encode_ends(&e.iter().copied().collect());
        // Committed (an intent that outlived its commit), partly committed, not committed.
        state.write_intent(&intent_name("t", 8), &ends(&[(0, 10), (1, 7)])).expect("intent");
        state.write_intent(&intent_name("t", 9), &ends(&[(0, 10), (1, 9)])).expect("intent");
        state.write_intent(&intent_name("t", 10), &ends(&[(0, 12), (2, 3)])).expect("intent");
        state.write_intent(&intent_name("other", 11), &ends(&[(0, 99)])).expect("intent");

        let read = stored("t", &state).expect("stored");
        assert_eq!(read.positions, BTreeMap::from([(0, 10), (1, 7)]));
        assert_eq!(
            read.replay,
            vec![
                Cut { seq: 9, ends: BTreeMap::from([(1, 9)]) },
                Cut { seq: 10, ends: BTreeMap::from([(0, 12), (2, 3)]) }
            ]
        );
        assert_eq!((read.given_up, read.next_seq), (vec![8], 11));

        let mut pending = crate::state::Pending::default();
        pending.retire_intent(&intent_name("t", 8));
        pending.retire_intent(&intent_name("t", 9));
        pending.commit(&state).expect("commit");
        let left: Vec<String> = state.intents("").expect("intents").into_iter().map(|(name, _)| name).collect();
        assert_eq!(left, vec![intent_name("other", 11), intent_name("t", 10)]);

        state.write_intent(&intent_name("t", 12), &[1, 2, 3]).expect("intent");
        let error = stored("t", &state).expect_err("a cut intent");
        assert!(format!("{error}").contains("is corrupt"), "{error}");
    }
}
