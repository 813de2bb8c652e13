//! A real Kafka-protocol broker for the tests: tansu with in-memory storage on a free
//! loopback port, and rdkafka as the client that produces the input and reads the
//! output. tansu (`cargo install tansu --features dynostore`) is installed into
//! `~/.cache/travel-pricing/tools` when it is missing (by `.ci/run`, or by the first
//! test that needs it); `TANSU` names another binary.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Headers;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A running tansu broker, killed when dropped.
pub struct Broker {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// One record read back from a topic.
#[derive(Clone, Debug)]
pub struct Record {
    /// When the producer created it, in ms since the epoch.
    pub timestamp: Option<i64>,
    /// The record key.
    pub key: Option<String>,
    /// The value, as text.
    pub value: String,
    /// Its headers, as text.
    pub headers: BTreeMap<String, String>,
}

/// The tansu release the tests run against (`.ci/run` installs the same one).
const TANSU_VERSION: &str = "0.6.0";

/// The broker binary: `TANSU`, else the cached install, which is built on first use so
/// that `cargo test` works on a fresh machine (about 10 minutes, once per machine).
fn tansu() -> PathBuf {
    if let Ok(path) = std::env::var("TANSU") {
        return PathBuf::from(path);
    }
    let cache = PathBuf::from(std::env::var("HOME").expect("HOME is set")).join(".cache/travel-pricing");
    let binary = cache.join("tools/bin/tansu");
    if binary.exists() {
        return binary;
    }
    // Test binaries may run side by side (nextest): one builds, the others wait.
    let lock = cache.join("tansu-install.lock");
    std::fs::create_dir_all(&cache).expect("cache folder");
    while std::fs::create_dir(&lock).is_err() {
        if binary.exists() {
            return binary;
        }
        // A lock left by an install that was killed would block every later run.
        let age = std::fs::metadata(&lock).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
        if age.is_some_and(|a| a > Duration::from_secs(40 * 60)) {
            let _ = std::fs::remove_dir(&lock);
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    eprintln!("installing the tansu {TANSU_VERSION} broker into {} (once per machine)", binary.display());
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["install", "tansu", "--version", TANSU_VERSION, "--features", "dynostore", "--root"])
        .arg(cache.join("tools"))
        .env("CARGO_TARGET_DIR", cache.join("tansu-target"))
        .status();
    let _ = std::fs::remove_dir(&lock);
    assert!(status.is_ok_and(|s| s.success()), "installing tansu failed");
    binary
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("binds a free port").local_addr().expect("addr").port()
}

impl Broker {
    /// Starts a broker and waits until it answers a metadata request.
    pub fn start() -> Broker {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let url = format!("tcp://{addr}");
        let log = dir.path().join("tansu.log");
        let binary = tansu();
        let child = Command::new(&binary)
            .args(["broker", "--cluster-id", "pricing-test", "--listener-url", &url])
            .args(["--advertised-listener-url", &url, "--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start the tansu broker {} ({e}); `.ci/run` installs it", binary.display())
            });
        let broker = Broker { child, addr, log, _dir: dir };
        let probe: BaseConsumer = broker.client().create().expect("client");
        let deadline = Instant::now() + TIMEOUT;
        while let Err(e) = probe.fetch_metadata(None, Duration::from_secs(2)) {
            assert!(Instant::now() < deadline, "tansu did not answer in {TIMEOUT:?}: {e}\n{}", broker.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        broker
    }

    /// What the broker logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Client settings pointing at this broker.
    pub fn client(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.addr);
        c
    }

    /// The broker's process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends the broker a signal (`STOP`, `CONT`).
    pub fn signal(&self, name: &str) {
        let status =
            Command::new("kill").args([format!("-{name}"), self.pid().to_string()]).status().expect("runs kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Creates `topic` with `partitions` partitions.
    pub fn create_topic(&self, topic: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = self.client().create().expect("admin client");
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let new = [NewTopic::new(topic, partitions, TopicReplication::Fixed(1))];
        let results = runtime.block_on(admin.create_topics(&new, &AdminOptions::new())).expect("create topics");
        for r in results {
            match r {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((t, code)) => panic!("creating {t}: {code}"),
            }
        }
    }

    /// Produces `(key, value)` records to `topic` and waits until all are acknowledged.
    ///
    /// One record per batch: tansu 0.6 answers a fetch that starts inside a stored batch
    /// with the batches after it only, so a consumer that seeks back to a stored
    /// position, or resumes after a pause, would skip the rest of that batch (or wait
    /// forever at the last one). Real Kafka returns the whole batch and the client skips
    /// what it does not need. Single-record batches make every offset a batch start.
    pub fn produce<'a>(&self, topic: &str, records: impl IntoIterator<Item = (Option<&'a str>, &'a str)>) {
        let producer: ThreadedProducer<DefaultProducerContext> = self
            .client()
            .set("enable.idempotence", "true")
            .set("linger.ms", "0")
            .set("batch.num.messages", "1")
            .set("queue.buffering.max.messages", "1000000")
            .create()
            .expect("producer");
        for (key, value) in records {
            let mut record = BaseRecord::<str, str>::to(topic).payload(value);
            if let Some(key) = key {
                record = record.key(key);
            }
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err((e, _)) => panic!("producing to {topic}: {e}"),
                }
            }
        }
        // Single-record batches go at a few thousand per second: a large input takes minutes.
        producer.flush(TIMEOUT * 20).expect("all records acknowledged");
    }

    /// Reads every record of `topic` so far, in offset order within each partition.
    pub fn read_all(&self, topic: &str) -> Vec<Record> {
        let mut tail = Tail::new(self, topic);
        tail.read(Duration::from_secs(2), TIMEOUT * 4);
        tail.records
    }

    /// Whether `group` has committed offsets of `topic` that add up to `records`: it has
    /// consumed that many and made them durable. (Offsets start at 0 and have no gaps
    /// here. Watermarks would be simpler, but tansu 0.6 reports a partition's high
    /// watermark as its last batch's base offset plus one.)
    pub fn group_consumed(&self, group: &str, topic: &str, records: u64) -> bool {
        let consumer: BaseConsumer = self.client().set("group.id", group).create().expect("consumer");
        let mut tpl = TopicPartitionList::new();
        for p in 0..self.partitions(&consumer, topic) {
            tpl.add_partition(topic, p);
        }
        let Ok(committed) = consumer.committed_offsets(tpl, Duration::from_secs(5)) else { return false };
        let sum: i64 = committed.elements().iter().filter_map(|e| e.offset().to_raw()).filter(|o| *o > 0).sum();
        sum == i64::try_from(records).expect("count")
    }

    fn partitions(&self, consumer: &BaseConsumer, topic: &str) -> i32 {
        let metadata = consumer.fetch_metadata(Some(topic), TIMEOUT).expect("metadata");
        let n = metadata.topics().first().map_or(0, |t| t.partitions().len());
        i32::try_from(n).expect("partitions")
    }

    /// A `pricing run --config` file that consumes from this broker.
    pub fn config(&self, data: &std::path::Path, group: &str, batch_size: usize) -> String {
        format!(
            "data = {data:?}\n[input]\nbatch_size = {batch_size}\n[admin]\nenabled = false\n\
             [kafka]\nbrokers = \"{}\"\ngroup = \"{group}\"\npartitions = 3\n",
            self.addr
        )
    }
}

/// A reader that keeps up with a topic: each [`Tail::poll`] reads what was added since.
pub struct Tail {
    consumer: BaseConsumer,
    partitions: i32,
    caught_up: bool,
    /// Everything read so far, in arrival order (offset order within a partition).
    pub records: Vec<Record>,
}

impl Tail {
    /// A reader of `topic` (which must exist) from its beginning.
    pub fn new(broker: &Broker, topic: &str) -> Tail {
        let consumer: BaseConsumer = broker
            .client()
            .set("group.id", "pricing-test-reader")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .create()
            .expect("consumer");
        let partitions = broker.partitions(&consumer, topic);
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning).expect("tpl");
        }
        consumer.assign(&tpl).expect("assign");
        Tail { consumer, partitions, caught_up: false, records: Vec::new() }
    }

    /// Reads what has arrived since the last call, for at most about a second (a
    /// topic being written to keeps arriving); returns the number of records read so
    /// far. Made for following progress; [`Broker::read_all`] reads a finished topic.
    pub fn poll(&mut self) -> usize {
        // The first read waits longer: connecting and the first fetch take a moment.
        let (quiet, limit) = if self.caught_up {
            (Duration::from_millis(300), Duration::from_secs(1))
        } else {
            (Duration::from_secs(2), Duration::from_secs(5))
        };
        self.read(quiet, limit)
    }

    /// Reads until every partition has reported its end, nothing has arrived for
    /// `quiet`, or `limit` has passed. tansu 0.6 reports a partition's end only when its
    /// last batch holds one record (its high watermark is that batch's base offset + 1),
    /// so quiet is what ends most reads.
    fn read(&mut self, quiet: Duration, limit: Duration) -> usize {
        let mut at_end = std::collections::BTreeSet::new();
        let partitions = usize::try_from(self.partitions).expect("partitions");
        let started = Instant::now();
        let mut last = Instant::now();
        while at_end.len() < partitions && last.elapsed() < quiet && started.elapsed() < limit {
            match self.consumer.poll(Duration::from_millis(50)) {
                Some(Ok(m)) => {
                    self.records.push(record(&m));
                    last = Instant::now();
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    at_end.insert(p);
                }
                Some(Err(e)) => panic!("reading a topic: {e}"),
                None => {}
            }
        }
        self.caught_up = true;
        self.records.len()
    }
}

fn record(m: &rdkafka::message::BorrowedMessage<'_>) -> Record {
    let headers = m
        .headers()
        .map(|h| {
            h.iter().map(|h| (h.key.to_owned(), String::from_utf8_lossy(h.value.unwrap_or_default()).into())).collect()
        })
        .unwrap_or_default();
    Record {
        timestamp: m.timestamp().to_millis(),
        key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
        value: String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
        headers,
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // A stopped broker must be continued to die cleanly.
        let _ = Command::new("kill").args(["-CONT".to_owned(), self.pid().to_string()]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Kafka record key of an event line (`kind:key`), as DOMAIN.md says; none for a
/// line that is not an event.
pub fn event_key(line: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    Some(format!("{}:{}", v.get("kind")?.as_str()?, v.get("key")?.as_str()?))
}

/// Produces the lines of an NDJSON file to `topic`, each keyed by [`event_key`].
pub fn produce_file(broker: &Broker, topic: &str, path: &std::path::Path) -> usize {
    let text = std::fs::read_to_string(path).expect("reads the events");
    let lines: Vec<(Option<String>, &str)> =
        text.lines().filter(|l| !l.trim().is_empty()).map(|l| (event_key(l), l)).collect();
    broker.produce(topic, lines.iter().map(|(k, v)| (k.as_deref(), *v)));
    lines.len()
}

/// Records as (key, value) pairs, for `workload::assert_no_version_gaps`.
pub fn pairs(records: &[Record]) -> impl Iterator<Item = (Option<&str>, &str)> {
    records.iter().map(|r| (r.key.as_deref(), r.value.as_str()))
}
