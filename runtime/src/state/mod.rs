//! Engine state in fjall: one database, one journal, a keyspace per concern. The single
//! writer works on a decoded copy of what it has touched ([`Writer`], see `working.rs`)
//! and commits a micro-batch's changes, with the input position it consumed, as one
//! atomic fjall batch ([`Pending`]). Readers (queries) read fjall directly.
//!
//! | keyspace | key | value |
//! |---|---|---|
//! | `quotes` | `kind\0key\0supplier` | [`QuoteRecord`] |
//! | `products` | product | [`ProductRecord`] |
//! | `index` | `kind\0key\0departure` | empty: departure depends on resource |
//! | `departures` | departure | [`DepartureRecord`] |
//! | `current` | `product:` | where each of the product's departures' current version is: its number and the `at` of its `log` entry (see `current.rs`) |
//! | `prices` | departure | as written before `current`: the current version and where it is in `log` ([`PriceAt`]), or the offer or record; still read for departures `current` lists at 0, and for products it does not list |
//! | `log` | `at(u64 BE)product` | the [`DeparturePrice`] versions of the product's departures written by batch `at` (postcard, without the key's parts and with their rules by id: see `records::Stored`), each with its `CITY:DATE`, version and the `at` of the version before (see `push_logged`); folders written before grouping also hold `at(u64 BE)departure\0version(u64 BE)` keys, one version each, then that link |
//! | `history` | `departure\0version(u64 BE)` | the versions written before `log` existed, in the same form without the link |
//! | `from_prices` | product | current [`ProductPrice`] (JSON) |
//! | `meta` | `position/<source>` | input position consumed |
//! | `meta` | `intent/<name>` | what a batch consumed, written before its output is sent and removed by its commit (see [`Committer::write_intent`]) |
//! | `meta` | `rules/<id>` | a rule set (JSON), named by id in history (see `rules.rs`) |
//!
//! Price versions are what the engine writes most. `log` keys them in commit order: `at`
//! is the sequence number of the batch that wrote them, so every table fjall flushes
//! holds keys above all earlier ones and compaction moves tables instead of rewriting
//! them. A batch's versions of one product's departures are one entry: fjall's cost is
//! mostly per entry (journal item, memtable node, table index), and a batch re-prices a
//! product's departures together. A departure's versions are found from its current one
//! (`current` names its `at`), each naming the `at` of the one before: a chain read
//! newest first (see `Committer::history`). A departure's current full record is in its
//! `log` entry. Versions written before `log` existed stay in `history` (keyed by
//! departure and version, larger values in blob files), and read back the same.

mod cheapest;
mod current;
mod json;
mod records;
mod rules;
mod working;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

pub use cheapest::Cheapest;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use records::Stored;
pub use records::{
    BoundComponent, ComponentAmount, DeparturePrice, DepartureRecord, PriceRef, ProductPrice, ProductRecord,
    QuoteRecord, Status, rules_json, write_stored_json,
};
use rules::RuleSets;
use serde::Serialize;
use serde::de::DeserializeOwned;
use working::Working;
pub use working::{Definition, Dependents, Offer, ProductView, Quotes, Resource, ResourceSlot, Slot, Writer};

/// A state failure: storage, or a stored value that no longer decodes.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// fjall failed. Its cause is in the message, not given as a source: see
    /// [`crate::storage`].
    #[error("state storage: {}", crate::storage::describe(.0))]
    Storage(fjall::Error),
    /// A stored value does not decode (written by an incompatible version?).
    #[error("stored {what} does not decode: {why}")]
    Corrupt {
        /// Which keyspace.
        what: &'static str,
        /// The decoder's message.
        why: String,
    },
}

impl From<fjall::Error> for StateError {
    fn from(e: fjall::Error) -> Self {
        StateError::Storage(e)
    }
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, StateError>;

/// The engine's state, open on a data folder.
pub struct State {
    ks: Committer,
    working: Mutex<Working>,
}

fn from_postcard<T: DeserializeOwned>(bytes: &[u8], what: &'static str) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|e| StateError::Corrupt { what, why: e.to_string() })
}

fn from_json<T: DeserializeOwned>(bytes: &[u8], what: &'static str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt { what, why: e.to_string() })
}

fn postcard_get<T: DeserializeOwned>(ks: &Keyspace, key: &[u8], what: &'static str) -> Result<Option<T>> {
    ks.get(key)?.map(|v| from_postcard(&v, what)).transpose()
}

fn corrupt(what: &'static str) -> impl Fn(postcard::Error) -> StateError {
    move |e| StateError::Corrupt { what, why: e.to_string() }
}

/// The whole record of `departure` stored in history as `bytes`, in either stored form.
fn history_price(departure: &str, bytes: &[u8], rule_sets: &mut RuleSets<'_>) -> Result<DeparturePrice> {
    match Stored::decode(bytes).map_err(corrupt("history"))? {
        Stored::Whole(price) => Ok(price),
        Stored::Compact { price, rule_set } => {
            let Some((product, city, date)) = departure_parts(departure) else {
                return Err(StateError::Corrupt {
                    what: "history",
                    why: format!("{departure} is not a departure key"),
                });
            };
            Ok(DeparturePrice {
                product: product.to_owned(),
                city: city.to_owned(),
                date: date.to_owned(),
                rules: rule_sets.get(rule_set)?.clone(),
                ..price
            })
        }
    }
}

/// The tag that starts a `prices` value written by this engine. Data folders written
/// before it hold whole [`DeparturePrice`]s there, which start with the length of a
/// non-empty product key, never 0: every form reads back.
const OFFER_TAG: u8 = 0;

/// After [`OFFER_TAG`], the mark of a version in `log`: `at` (u64 BE) follows. Offers
/// written before `log` follow the tag directly and start with their version, never 0.
const IN_LOG: u8 = 0;

/// After `at`, the mark of a [`PriceAt`]: the version (u64 BE) follows and nothing else.
/// Values written before it carry the offer there instead, which starts with its
/// version, never 0.
const AT_ONLY: u8 = 0;

/// A `prices` value as the engine wrote it before `current` (which lists a product's
/// departures in one entry instead of one entry each): where the departure's current
/// version is in `log`, and nothing more. The engine keeps current offers in its
/// working set and reads a product's from `log` when it first touches it (one point
/// read per departure), so `prices` need not hold them: 19 bytes, which fjall stores
/// inline in its memtables (no allocation per value), instead of the offer's 70-odd,
/// and the keyspace fjall rewrites most while compacting (departures are overwritten in
/// random order) is a few times smaller.
/// In alternating runs of the 601,500-departure pipeline benchmark (longer stream) this
/// alone took fjall's workers from 7.0-7.5 to 6.4-6.8 CPU s; grouping `log` by product
/// then took them to 4.4-5.1 and the whole process from 46-51 to 39-40 (see the README).
pub type PriceAt = [u8; 19];

/// The `prices` value naming `version`, written by the batch `at`, as written before
/// `current`.
#[cfg(test)]
#[must_use]
pub fn price_at(at: u64, version: u64) -> PriceAt {
    let mut out = [0; 19];
    out[..2].copy_from_slice(&[OFFER_TAG, IN_LOG]);
    out[2..10].copy_from_slice(&at.to_be_bytes());
    out[10] = AT_ONLY;
    out[11..].copy_from_slice(&version.to_be_bytes());
    out
}

/// A `prices` value, in any form.
enum Current {
    /// The version and the batch whose `log` entry holds it.
    At {
        version: u64,
        at: u64,
    },
    /// An offer, with `at` set when its version is in `log` (0: in `history`).
    Offer(Offer),
    Whole(DeparturePrice),
}

/// Where a departure's current version is ([`Committer::locate`]).
enum Where {
    /// Listed in its product's `current` entry: the version, in the `log` entry of `at`.
    Listed { version: u64, at: u64 },
    /// Its `prices` value, written before `current`.
    Prices(fjall::Slice),
    /// It has no price.
    Nowhere,
}

fn current(bytes: &[u8]) -> Result<Current> {
    match bytes {
        [OFFER_TAG, IN_LOG, rest @ ..] => {
            let (at, rest) = split_be(rest).ok_or_else(|| StateError::Corrupt {
                what: "price",
                why: "a version in log without its place".into(),
            })?;
            match rest {
                [AT_ONLY, version @ ..] => {
                    let version = <[u8; 8]>::try_from(version).map_err(|_| StateError::Corrupt {
                        what: "price",
                        why: "a version in log without its number".into(),
                    })?;
                    Ok(Current::At { version: u64::from_be_bytes(version), at })
                }
                offer => Ok(Current::Offer(Offer { at, ..from_postcard(offer, "price")? })),
            }
        }
        [OFFER_TAG, rest @ ..] => Ok(Current::Offer(from_postcard(rest, "price")?)),
        _ => Ok(Current::Whole(DeparturePrice::from_stored(bytes).map_err(corrupt("price"))?)),
    }
}

/// A u64 (BE) that starts `bytes`, and the rest.
fn split_be(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<8>()?;
    Some((u64::from_be_bytes(*head), rest))
}

/// The mark, in a version's `at`, of a version stored in its product's `log` entry for
/// that batch (`log_group_key`). Without it, `at` names a `log` entry holding that
/// version alone, as written before versions were grouped. Batch numbers never reach it.
pub const GROUPED: u64 = 1 << 63;

/// The `log` key of the versions of `product`'s departures written by the batch `at`.
/// Unlike a key of one version (`log_key`), it holds no `\0`.
fn log_group_key(at: u64, product: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(product.len() + 8);
    k.extend_from_slice(&at.to_be_bytes());
    k.extend_from_slice(product.as_bytes());
    k
}

/// The product `log` entries a read has fetched, by key: a product's departures mostly
/// have their current versions in a few batches' entries, so reading them all (a product's
/// prices, every price) fetches each entry once rather than once per departure.
#[derive(Default)]
struct LogEntries(HashMap<Vec<u8>, fjall::Slice>);

impl LogEntries {
    /// Entries kept at most; then all are dropped. Entries are a few KiB each.
    const KEPT: usize = 256;

    fn get(&mut self, log: &Keyspace, key: Vec<u8>) -> Result<Option<fjall::Slice>> {
        if let Some(value) = self.0.get(&key) {
            return Ok(Some(value.clone()));
        }
        let Some(value) = log.get(&key)? else { return Ok(None) };
        if self.0.len() == Self::KEPT {
            self.0.clear();
        }
        self.0.insert(key, value.clone());
        Ok(Some(value))
    }
}

/// What a read of several prices keeps between them: the rule sets and the `log`
/// entries it has fetched.
struct Reading<'a> {
    rule_sets: RuleSets<'a>,
    entries: LogEntries,
}

/// Appends one version to a product's `log` entry: the departure's `CITY:DATE` (u32 BE
/// length, then the bytes), its version (u64 BE), the `at` of the version before it
/// (u64 BE; 0: in `history`, or none), and the stored record (u32 BE length, then the
/// bytes).
pub(crate) fn push_logged(group: &mut Vec<u8>, city_date: &str, version: u64, link: u64, stored: &[u8]) {
    group.extend_from_slice(&(city_date.len() as u32).to_be_bytes());
    group.extend_from_slice(city_date.as_bytes());
    group.extend_from_slice(&version.to_be_bytes());
    group.extend_from_slice(&link.to_be_bytes());
    group.extend_from_slice(&(stored.len() as u32).to_be_bytes());
    group.extend_from_slice(stored);
}

/// The stored record of `city_date`'s `version` in a product's `log` entry, and the `at`
/// of the version before it; `None` if the entry does not hold it.
fn find_logged<'a>(mut group: &'a [u8], city_date: &str, version: u64) -> Result<Option<(&'a [u8], u64)>> {
    let cut = || StateError::Corrupt { what: "log", why: "a product's entry is cut short".into() };
    while !group.is_empty() {
        let (len, rest) = group.split_first_chunk::<4>().ok_or_else(cut)?;
        let (name, rest) = rest.split_at_checked(u32::from_be_bytes(*len) as usize).ok_or_else(cut)?;
        let (v, rest) = split_be(rest).ok_or_else(cut)?;
        let (link, rest) = split_be(rest).ok_or_else(cut)?;
        let (len, rest) = rest.split_first_chunk::<4>().ok_or_else(cut)?;
        let (stored, rest) = rest.split_at_checked(u32::from_be_bytes(*len) as usize).ok_or_else(cut)?;
        if name == city_date.as_bytes() && v == version {
            return Ok(Some((stored, link)));
        }
        group = rest;
    }
    Ok(None)
}

fn json_get<T: DeserializeOwned>(ks: &Keyspace, key: &[u8], what: &'static str) -> Result<Option<T>> {
    ks.get(key)?.map(|v| from_json(&v, what)).transpose()
}

fn postcard_bytes<T: Serialize>(v: &T) -> Vec<u8> {
    // Serialising plain structs into a Vec cannot fail.
    postcard::to_allocvec(v).unwrap_or_default()
}

/// A record's JSON: the output line, also stored as the current price and history.
#[must_use]
pub fn json_record<T: Serialize>(v: &T) -> Arc<[u8]> {
    // Serialising plain structs with string keys cannot fail.
    serde_json::to_vec(v).unwrap_or_default().into()
}

/// `PRODUCT` and `CITY:DATE` of a departure key.
#[must_use]
pub fn split_departure(key: &str) -> Option<(&str, &str)> {
    split_colon(key)
}

/// The product and `CITY:DATE` parts of a departure id; one without a product part is
/// its own product.
pub(crate) fn product_of(id: &str) -> (&str, &str) {
    split_departure(id).unwrap_or((id, ""))
}

/// `PRODUCT`, `CITY` and `DATE` of a departure key.
#[must_use]
pub fn departure_parts(key: &str) -> Option<(&str, &str, &str)> {
    let (product, rest) = split_colon(key)?;
    let (city, date) = split_colon(rest)?;
    Some((product, city, date))
}

/// `s` split at its first `:`. Every new price version splits its departure's id, a
/// few dozen bytes, where a plain scan beats `str::split_once`'s `memchr`, made for long
/// texts: that took 3.3 % of the pricing thread's samples in a profile of the flight
/// stream.
pub(crate) fn split_colon(s: &str) -> Option<(&str, &str)> {
    let at = s.bytes().position(|b| b == b':')?;
    // `:` is one byte of ASCII, so both sides are whole UTF-8.
    Some((&s[..at], &s[at + 1..]))
}

/// Replaces `out` with `a\0b\0`: the prefix of every key under (a, b).
fn write_pair_prefix(out: &mut Vec<u8>, a: &str, b: &str) {
    out.clear();
    for part in [a, b] {
        out.extend_from_slice(part.as_bytes());
        out.push(0);
    }
}

fn history_key(departure: &str, version: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(departure.len() + 9);
    k.extend_from_slice(departure.as_bytes());
    k.push(0);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

/// The `log` key of `departure`'s `version` alone, written by the batch numbered `at`, as
/// written before versions were grouped by product (`log_group_key`); still read.
fn log_key(at: u64, departure: &str, version: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(departure.len() + 17);
    k.extend_from_slice(&at.to_be_bytes());
    k.extend_from_slice(departure.as_bytes());
    k.push(0);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

/// The engine writes far more than it reads from storage (its working set serves the
/// reads), so the options favour writes:
/// - compaction merges L0 into L1 at 8 tables rather than fjall's default 4, half as many
///   rewrites of L1. In the pipeline benchmark (1,000 products, 40,000 events) this
///   halved the CPU of fjall's workers, 4.7 s to 2.1-2.6 s, for about 15 % more bytes
///   on disk until compaction catches up;
/// - price history values of 128 bytes or more (one version per changed re-price,
///   never overwritten) are kept apart from their keys in blob files, so compaction
///   moves keys and pointers, not versions. When versions were stored whole (200-300
///   bytes), this took fjall's workers from 30.7 to 23.5 CPU s over the stream of the
///   1,000,000-departure benchmark. Compact versions (about 100 bytes) now mostly stay
///   in the tables: in alternating runs of the 601,500-departure stream, a threshold of
///   32 bytes, which would separate them all, cost fjall's workers 7.2-8.1 CPU s against
///   6.0-6.3 with 128. Current prices are overwritten all the time: in blob files their
///   stale copies would take 27 % more disk for no CPU gain. (Versions are now written
///   to `log`, whose tables are moved, not merged: it needs neither);
/// - keyspaces read only by prefix (`quotes`, `index`) or rarely read by key (`log`,
///   `history`) build no bloom filters: only a point read of a missing key gains from
///   one, and building them took about a tenth of fjall's worker.
///
/// Point reads, rare here, may look at more tables and read a blob. fjall applies these
/// options when it creates a keyspace: a data folder made by an earlier version keeps
/// the options it was made with, and reads and writes the same.
fn keyspace_options(name: &str) -> KeyspaceCreateOptions {
    let mut options = KeyspaceCreateOptions::default()
        .compaction_strategy(Arc::new(fjall::compaction::Leveled::default().with_l0_threshold(8)));
    if matches!(name, "quotes" | "index" | "log" | "history") {
        options = options.filter_policy(fjall::config::FilterPolicy::disabled());
    }
    if name == "history" {
        options.with_kv_separation(Some(fjall::KvSeparationOptions::default().separation_threshold(128)))
    } else {
        options
    }
}

/// fjall's flush and compaction threads. fjall's default is one per core up to 4, but in
/// fjall 3.1 a pool of more than one keeps worker 0 busy re-queueing the compaction
/// requests it leaves to the others (`worker_pool.rs`) for as long as another worker
/// compacts: a core spent on nothing, which the pricing thread needs. One worker flushes
/// and compacts in turn. In the 1,000,000-departure benchmark (wasm, alternating runs) it
/// took fjall's workers from 14.3-15.3 to 8.9 CPU s over the stream and the whole process
/// from 46.9-49.1 to 38.9-41.5, with no worse latency.
const FJALL_WORKERS: usize = 1;

impl State {
    /// Opens (or creates) the state in `folder`.
    pub fn open(folder: &Path) -> Result<Self> {
        let db = Database::builder(folder).worker_threads(FJALL_WORKERS).open()?;
        let ks = |name: &str| db.keyspace(name, || keyspace_options(name));
        let ks = Committer {
            quotes: ks("quotes")?,
            products: ks("products")?,
            index: ks("index")?,
            departures: ks("departures")?,
            current: ks("current")?,
            prices: ks("prices")?,
            history: ks("history")?,
            log: ks("log")?,
            from_prices: ks("from_prices")?,
            meta: ks("meta")?,
            db,
        };
        // Flushes and compactions run beside the pricing thread, not in its place.
        crate::priority::background_fjall();
        Ok(State { ks, working: Mutex::default() })
    }

    /// Handles to commit with from another thread.
    #[must_use]
    pub fn committer(&self) -> Committer {
        self.ks.clone()
    }

    /// The writer's access for one micro-batch. There is one writer: a second caller
    /// waits until the first finishes.
    pub fn writer(&self) -> Writer<'_> {
        // A panic while holding the lock, or a writer dropped unfinished (a batch that
        // failed part-way), leaves a working set that may be half-changed: start over
        // from what fjall has. A later batch would otherwise store the failed batch's
        // changes with its own: its product's `current` entries list every departure.
        let mut guard = self.working.lock().unwrap_or_else(|poisoned| {
            let mut g = poisoned.into_inner();
            g.start_over();
            g
        });
        if guard.in_batch {
            guard.start_over();
        }
        Writer::new(self, guard)
    }

    /// Drops the working set: the next batch reads what it touches from fjall again, as
    /// a restarted process would. Gives its memory back; waits for a batch in progress.
    pub fn forget_working_set(&self) {
        *self.working.lock().unwrap_or_else(PoisonError::into_inner) = Working::default();
    }
}

/// The state's storage handles (the database and its keyspaces); cloned to commit off
/// the pipeline's thread, and to read committed state from another (the admin API's
/// console). Reads see only committed batches: fjall reads never block the writer.
#[derive(Clone)]
pub struct Committer {
    db: Database,
    quotes: Keyspace,
    products: Keyspace,
    index: Keyspace,
    departures: Keyspace,
    current: Keyspace,
    prices: Keyspace,
    history: Keyspace,
    log: Keyspace,
    from_prices: Keyspace,
    meta: Keyspace,
}

impl Committer {
    fn reading(&self) -> Reading<'_> {
        Reading { rule_sets: RuleSets::new(&self.meta), entries: LogEntries::default() }
    }

    /// The stored input position of `source`, if any.
    pub fn position(&self, source: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.meta.get(format!("position/{source}"))?.map(|v| v.to_vec()))
    }

    /// Every stored input position whose source name starts with `prefix`, as
    /// (source, position) pairs in source order.
    pub fn positions(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        self.listed("position/", prefix)
    }

    /// Every batch intent whose name starts with `prefix` still stored, as (name,
    /// intent) pairs in name order: the batches whose output may have been sent and
    /// whose commit has not landed (see [`Committer::write_intent`]).
    pub fn intents(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        self.listed("intent/", prefix)
    }

    /// Records, durably, what a batch is about to consume, before any of its output is
    /// sent; its commit removes it ([`Pending::retire_intent`]). A source that cuts its
    /// batches by time (a Kafka topic) reads the intents left by a crash and cuts those
    /// batches again with the same ends. Cut otherwise, the replay could coalesce away a
    /// version that consumers already received, and they would keep its stale price.
    pub fn write_intent(&self, name: &str, intent: &[u8]) -> Result<()> {
        self.meta.insert(format!("intent/{name}"), intent)?;
        self.db.persist(PersistMode::Buffer)?;
        Ok(())
    }

    /// The `meta` entries under `kind` whose names start with `prefix`, as (name, value).
    fn listed(&self, kind: &str, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        for kv in self.meta.prefix(format!("{kind}{prefix}").as_bytes()) {
            let (k, v) = kv.into_inner()?;
            out.push((String::from_utf8_lossy(&k[kind.len()..]).into_owned(), v.to_vec()));
        }
        Ok(out)
    }

    /// The current price of a departure.
    pub fn price(&self, departure: &str) -> Result<Option<DeparturePrice>> {
        let r = &mut self.reading();
        match self.locate(departure)? {
            Where::Listed { version, at } => Ok(Some(self.version(departure, version, at, r)?.0)),
            Where::Prices(value) => Ok(Some(self.whole(departure.as_bytes(), &value, r)?)),
            Where::Nowhere => Ok(None),
        }
    }

    /// Where `departure`'s current version is: its product's `current` entry, if it has
    /// one, lists all its departures with a price; else (a product not re-priced since
    /// `current` existed) its `prices` value says.
    fn locate(&self, departure: &str) -> Result<Where> {
        let (product, city_date) = product_of(departure);
        let Some(value) = self.current.get(current::key(product))? else {
            return Ok(self.prices.get(departure.as_bytes())?.map_or(Where::Nowhere, Where::Prices));
        };
        match current::entries(&value)?.into_iter().find(|(name, _, _)| *name == city_date) {
            Some((_, _, 0)) => self.listed_in_prices(departure).map(Where::Prices),
            Some((_, version, at)) => Ok(Where::Listed { version, at }),
            None => Ok(Where::Nowhere),
        }
    }

    /// The `prices` value of a departure that `current` lists at 0: stored before
    /// `current` existed, and never re-priced since.
    fn listed_in_prices(&self, departure: &str) -> Result<fjall::Slice> {
        self.prices.get(departure.as_bytes())?.ok_or_else(|| StateError::Corrupt {
            what: "current",
            why: format!("{departure} is listed as priced before `current`, and `prices` has no price for it"),
        })
    }

    /// The whole current record of `departure`, listed in `current` at (`version`, `at`).
    fn listed_whole(&self, departure: &str, version: u64, at: u64, r: &mut Reading<'_>) -> Result<DeparturePrice> {
        if at == 0 {
            let value = self.listed_in_prices(departure)?;
            return self.whole(departure.as_bytes(), &value, r);
        }
        Ok(self.version(departure, version, at, r)?.0)
    }

    /// The whole current record of the departure `key`, whose `prices` value is `value`.
    fn whole(&self, key: &[u8], value: &[u8], r: &mut Reading<'_>) -> Result<DeparturePrice> {
        let (version, at) = match current(value)? {
            Current::Whole(p) => return Ok(p),
            Current::Offer(offer) => (offer.version, offer.at),
            Current::At { version, at } => (version, at),
        };
        Ok(self.version(&String::from_utf8_lossy(key), version, at, r)?.0)
    }

    /// `departure`'s `version`, stored in `log` by the batch `at` (in its product's entry
    /// if `at` is marked [`GROUPED`], else alone) or, for 0, in `history`; and the `at` of
    /// the version before it (0: in `history`, or none).
    fn version(&self, departure: &str, version: u64, at: u64, r: &mut Reading<'_>) -> Result<(DeparturePrice, u64)> {
        let what = if at == 0 { "history" } else { "log" };
        let missing = || StateError::Corrupt { what, why: format!("{departure} has no version {version}") };
        if at & GROUPED != 0 {
            let (product, city_date) = product_of(departure);
            let group = r.entries.get(&self.log, log_group_key(at & !GROUPED, product))?.ok_or_else(missing)?;
            let (stored, link) = find_logged(&group, city_date, version)?.ok_or_else(missing)?;
            return Ok((history_price(departure, stored, &mut r.rule_sets)?, link));
        }
        if at == 0 {
            let value = self.history.get(history_key(departure, version))?.ok_or_else(missing)?;
            return Ok((history_price(departure, &value, &mut r.rule_sets)?, 0));
        }
        let value = self.log.get(log_key(at, departure, version))?.ok_or_else(missing)?;
        let (stored, link) = value
            .split_last_chunk::<8>()
            .ok_or_else(|| StateError::Corrupt { what, why: format!("{departure} version {version} is too short") })?;
        Ok((history_price(departure, stored, &mut r.rule_sets)?, u64::from_be_bytes(*link)))
    }

    /// The number of the next batch to write versions: one above the last in `log`.
    pub(crate) fn next_log_at(&self) -> Result<u64> {
        let Some(last) = self.log.last_key_value() else { return Ok(1) };
        let key = last.key()?;
        let (at, _) = split_be(&key)
            .ok_or_else(|| StateError::Corrupt { what: "log", why: "a key without its batch number".into() })?;
        Ok(at + 1)
    }

    /// Every current departure price of a product, in key order (city, then date).
    pub fn product_departure_prices(&self, product: &str) -> Result<Vec<DeparturePrice>> {
        let prefix = format!("{product}:");
        let r = &mut self.reading();
        if let Some(value) = self.current.get(current::key(product))? {
            return self.listed_prices(product, &value, r);
        }
        let mut out = Vec::new();
        for kv in self.prices.prefix(prefix.as_bytes()) {
            let (k, v) = kv.into_inner()?;
            out.push(self.whole(&k, &v, r)?);
        }
        Ok(out)
    }

    /// The current prices of the departures a product's `current` value lists, in key
    /// order.
    fn listed_prices(&self, product: &str, value: &[u8], r: &mut Reading<'_>) -> Result<Vec<DeparturePrice>> {
        let mut listed = current::entries(value)?;
        listed.sort_unstable_by(|a, b| a.0.cmp(b.0));
        listed
            .into_iter()
            .map(|(city_date, version, at)| self.listed_whole(&format!("{product}:{city_date}"), version, at, r))
            .collect()
    }

    /// What every current departure price of a product says to a buyer, by `CITY:DATE`,
    /// each with the `at` of its version.
    pub fn product_offers(&self, product: &str) -> Result<BTreeMap<String, Offer>> {
        let prefix = format!("{product}:");
        let r = &mut self.reading();
        let mut out = BTreeMap::new();
        if let Some(value) = self.current.get(current::key(product))? {
            for (city_date, version, at) in current::entries(&value)? {
                let departure = format!("{prefix}{city_date}");
                let offer = if at == 0 {
                    let value = self.listed_in_prices(&departure)?;
                    self.prices_offer(&departure, &value, r)?
                } else {
                    Offer { at, ..Offer::of(self.version(&departure, version, at, r)?.0) }
                };
                out.insert(city_date.to_owned(), offer);
            }
            return Ok(out);
        }
        for kv in self.prices.prefix(prefix.as_bytes()) {
            let (k, v) = kv.into_inner()?;
            let offer = self.prices_offer(&String::from_utf8_lossy(&k), &v, r)?;
            out.insert(String::from_utf8_lossy(&k[prefix.len()..]).into_owned(), offer);
        }
        Ok(out)
    }

    /// The offer of `departure`, whose `prices` value is `value`, with the `at` of its
    /// version (0: in `history`).
    fn prices_offer(&self, departure: &str, value: &[u8], r: &mut Reading<'_>) -> Result<Offer> {
        Ok(match current(value)? {
            Current::Offer(offer) => offer,
            Current::Whole(p) => Offer::of(p),
            Current::At { version, at } => Offer { at, ..Offer::of(self.version(departure, version, at, r)?.0) },
        })
    }

    /// Every stored version of a departure's price, oldest first: those in `log` read
    /// down the chain from the current one, after those written before `log` existed.
    pub fn history(&self, departure: &str) -> Result<Vec<DeparturePrice>> {
        let r = &mut self.reading();
        let mut next = match self.locate(departure)? {
            Where::Listed { version, at } => Some((version, at)),
            Where::Prices(value) => match current(&value)? {
                Current::At { version, at } => Some((version, at)),
                Current::Offer(offer) if offer.at != 0 => Some((offer.version, offer.at)),
                _ => None,
            },
            Where::Nowhere => None,
        };
        let mut newest_first = Vec::new();
        while let Some((version, at)) = next {
            let (price, before) = self.version(departure, version, at, r)?;
            newest_first.push(price);
            next = (before != 0 && version > 1).then(|| (version - 1, before));
        }
        let mut out = Vec::new();
        let mut prefix = departure.as_bytes().to_vec();
        prefix.push(0);
        for kv in self.history.prefix(&prefix) {
            let (_, v) = kv.into_inner()?;
            out.push(history_price(departure, &v, &mut r.rule_sets)?);
        }
        out.extend(newest_first.into_iter().rev());
        Ok(out)
    }

    /// A product's current starting prices.
    pub fn product_price(&self, product: &str) -> Result<Option<ProductPrice>> {
        json_get(&self.from_prices, product.as_bytes(), "product price")
    }

    /// Every current departure price, in key order: each product listed in `current`
    /// where its departures' keys sort, merged with the `prices` values of products it
    /// does not list (stored before `current` existed).
    pub fn all_prices(&self) -> impl Iterator<Item = Result<DeparturePrice>> + '_ {
        let mut r = self.reading();
        let mut listed = self.current.iter().map(|kv| kv.into_inner()).peekable();
        let mut before = self.prices.iter().map(|kv| kv.into_inner()).peekable();
        let mut ready = VecDeque::new();
        // The key of the product listed last: its `prices` values, if any, are older.
        let mut superseded: Option<fjall::Slice> = None;
        std::iter::from_fn(move || {
            loop {
                if let Some(next) = ready.pop_front() {
                    return Some(next);
                }
                while let Some(Ok((k, _))) = before.peek()
                    && superseded.as_ref().is_some_and(|product| k.starts_with(product))
                {
                    before.next();
                }
                let listed_first = match (listed.peek(), before.peek()) {
                    (None, None) => return None,
                    (Some(Err(_)), _) | (Some(_), None) => true,
                    (None, Some(_)) | (_, Some(Err(_))) => false,
                    (Some(Ok((a, _))), Some(Ok((b, _)))) => a <= b,
                };
                let next = if listed_first { listed.next() } else { before.next() };
                let (k, v) = match next? {
                    Ok(kv) => kv,
                    Err(e) => return Some(Err(e.into())),
                };
                if !listed_first {
                    return Some(self.whole(&k, &v, &mut r));
                }
                let product = String::from_utf8_lossy(&k[..k.len().saturating_sub(1)]).into_owned();
                match self.listed_prices(&product, &v, &mut r) {
                    Ok(prices) => ready.extend(prices.into_iter().map(Ok)),
                    Err(e) => ready.push_back(Err(e)),
                }
                superseded = Some(k);
            }
        })
    }

    /// Every departure with a component of `kind`, in key order: what a reprice of the
    /// kind covers. Reads committed state only.
    pub fn departures_using(&self, kind: &str) -> Result<Vec<Arc<str>>> {
        let mut out = Vec::new();
        for kv in self.departures.iter() {
            let (k, v) = kv.into_inner()?;
            let record: DepartureRecord = from_postcard(&v, "departure")?;
            if record.components.iter().any(|c| &*c.kind == kind) {
                out.push(Arc::from(String::from_utf8_lossy(&k).as_ref()));
            }
        }
        Ok(out)
    }

    /// Bytes on disk of the whole state.
    pub fn disk_space(&self) -> Result<u64> {
        Ok(self.db.disk_space()?)
    }

    /// Up to `limit` products with a starting price whose key contains `needle`
    /// (case-insensitive), in key order, each with its current starting prices.
    pub fn find_products(&self, needle: &str, limit: usize) -> Result<Vec<ProductPrice>> {
        let needle = needle.to_lowercase();
        let mut out = Vec::new();
        for kv in self.from_prices.iter() {
            let (k, v) = kv.into_inner()?;
            if String::from_utf8_lossy(&k).to_lowercase().contains(&needle) {
                out.push(from_json(&v, "product price")?);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// Reads go straight to the committed keyspaces.
impl std::ops::Deref for State {
    type Target = Committer;

    fn deref(&self) -> &Committer {
        &self.ks
    }
}

/// A micro-batch's writes, encoded: committed as one atomic fjall batch together with
/// the input position they consumed.
#[derive(Default)]
pub struct Pending {
    quotes: Vec<(Vec<u8>, Vec<u8>)>,
    products: Vec<(Vec<u8>, Vec<u8>)>,
    index: Vec<(Vec<u8>, bool)>,
    departures: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    current: Vec<(Vec<u8>, Vec<u8>)>,
    log: Vec<(Vec<u8>, Vec<u8>)>,
    starting: Vec<(String, Arc<[u8]>)>,
    rule_sets: Vec<(u32, Vec<u8>)>,
    positions: Vec<(String, Vec<u8>)>,
    retired: Vec<String>,
}

impl Pending {
    /// Records the input position consumed, committed with the state it produced.
    pub fn set_position(&mut self, source: &str, position: Vec<u8>) {
        self.positions.push((source.to_owned(), position));
    }

    /// Removes the intent `name` ([`Committer::write_intent`]) with this commit: the
    /// batch it describes is done, or will never be replayed.
    pub fn retire_intent(&mut self, name: &str) {
        self.retired.push(name.to_owned());
    }

    /// Writes everything as one atomic batch and hands the journal to the OS, so a
    /// killed process loses nothing committed.
    pub fn commit(self, state: &State) -> Result<()> {
        self.commit_to(&state.ks)
    }

    /// [`Pending::commit`] through handles that can live on another thread.
    pub fn commit_to(mut self, state: &Committer) -> Result<()> {
        self.sort();
        let mut b = state.db.batch();
        for (k, v) in self.quotes {
            b.insert(&state.quotes, k, v);
        }
        for (k, v) in self.products {
            b.insert(&state.products, k, v);
        }
        for (k, present) in self.index {
            if present {
                b.insert(&state.index, k, Vec::<u8>::new());
            } else {
                b.remove(&state.index, k);
            }
        }
        for (k, d) in self.departures {
            match d {
                Some(d) => b.insert(&state.departures, k, d),
                None => b.remove(&state.departures, k),
            }
        }
        for (k, v) in self.current {
            b.insert(&state.current, k, v);
        }
        for (k, v) in self.log {
            b.insert(&state.log, k, v);
        }
        for (k, v) in self.starting {
            b.insert(&state.from_prices, k, &*v);
        }
        for (id, json) in self.rule_sets {
            b.insert(&state.meta, rules::key(id), json);
        }
        for (source, pos) in self.positions {
            b.insert(&state.meta, format!("position/{source}"), pos);
        }
        for name in self.retired {
            b.remove(&state.meta, format!("intent/{name}"));
        }
        b.commit()?;
        state.db.persist(PersistMode::Buffer)?;
        Ok(())
    }

    /// Puts each keyspace's writes in key order. fjall inserts a batch into its memtables
    /// (skiplists) in the order given; a batch's current prices (one entry per departure
    /// then, in `prices`) came out of a hash map, so
    /// each insert searched a 64 MiB skiplist from the top and missed the cache at most
    /// levels. In key order, consecutive inserts walk the same, cached path. In the
    /// pipeline benchmark (1,003,200 departures, alternating runs) this took the commit
    /// thread from 16.5-18.0 to 9.0-9.2 CPU s over the stream, and the whole process from
    /// 69.6-76.5 to 55.7-59.3. Lists already in order (log, index, quotes) cost one
    /// pass to check.
    fn sort(&mut self) {
        fn by_key<K: AsRef<[u8]>, V>(list: &mut [(K, V)]) {
            list.sort_unstable_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
        }
        by_key(&mut self.quotes);
        by_key(&mut self.products);
        by_key(&mut self.index);
        by_key(&mut self.departures);
        by_key(&mut self.current);
        by_key(&mut self.log);
        by_key(&mut self.starting);
    }
}

/// A version of `product`'s departure from SHA on 2026-12-01 for tests: `amount`, all of
/// it flight, caused by `e-VERSION`.
#[cfg(test)]
pub(crate) fn sample_price(product: &str, version: u64, amount: i64) -> DeparturePrice {
    DeparturePrice {
        product: product.into(),
        city: "SHA".into(),
        date: "2026-12-01".into(),
        status: Status::Available,
        price: Some(amount),
        reason: None,
        currency: "CNY".into(),
        components: vec![ComponentAmount { kind: "flight".into(), amount }],
        rules: BTreeMap::from([("flight".to_owned(), "flight@1.0.0+1a2b3c4d".to_owned())]),
        version,
        cause: format!("e-{version}"),
        event_ts: "2026-11-22T10:00:00Z".into(),
        priced_at: "2026-11-22T10:00:00.004Z".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(version: u64, amount: i64) -> DeparturePrice {
        sample_price("P1", version, amount)
    }

    fn stored(p: &DeparturePrice) -> Vec<u8> {
        p.borrowed(&mut Vec::new()).to_whole_stored()
    }

    /// A `log` value: the stored version, then the `at` of the one before.
    fn linked(p: &DeparturePrice, before: u64) -> Vec<u8> {
        let mut v = stored(p);
        v.extend_from_slice(&before.to_be_bytes());
        v
    }

    /// A `prices` value as written before `log`: the tag, then the offer.
    fn offer_before_log(offer: &Offer) -> Vec<u8> {
        let mut v = vec![OFFER_TAG];
        v.extend_from_slice(&postcard_bytes(offer));
        v
    }

    /// A `prices` value as written before [`PriceAt`]: the place of the version in `log`,
    /// then the offer.
    fn offer_in_log(offer: &Offer) -> Vec<u8> {
        let mut v = vec![OFFER_TAG, IN_LOG];
        v.extend_from_slice(&offer.at.to_be_bytes());
        v.extend_from_slice(&postcard_bytes(offer));
        v
    }

    /// P1's departures as folders written before `current` hold them in `prices`: one
    /// in every form. Returns their current prices in key order, then the first version
    /// of the last one (`XMN`).
    fn stored_before_current(state: &State) -> [DeparturePrice; 5] {
        let (whole, old, new) = ("P1:PEK:2026-12-01", "P1:SHA:2026-12-01", "P1:SZX:2026-12-01");
        let whole_price = DeparturePrice { city: "PEK".into(), ..price(3, 100_000) };
        let old_price = price(2, 200_000);
        let new_price = DeparturePrice { city: "SZX".into(), ..price(1, 300_000) };
        let at_price = DeparturePrice { city: "XMN".into(), ..price(2, 400_000) };
        let at_first = DeparturePrice { city: "XMN".into(), ..price(1, 1) };
        let at = "P1:XMN:2026-12-01";
        let mut b = state.ks.db.batch();
        b.insert(&state.ks.prices, whole, stored(&whole_price));
        b.insert(&state.ks.history, history_key(old, 1), stored(&price(1, 150_000)));
        b.insert(&state.ks.history, history_key(old, 2), stored(&old_price));
        b.insert(&state.ks.prices, old, offer_before_log(&Offer::of(old_price.clone())));
        b.insert(&state.ks.log, log_key(9, new, 1), linked(&new_price, 0));
        b.insert(&state.ks.prices, new, offer_in_log(&Offer { at: 9, ..Offer::of(new_price.clone()) }));
        // Version 1 alone in `log`, as written before grouping; version 2 in the product's
        // entry of batch 11, after another departure's version.
        b.insert(&state.ks.log, log_key(4, at, 1), linked(&at_first, 0));
        let mut group = Vec::new();
        push_logged(&mut group, "SHA:2026-12-09", 1, 0, &stored(&price(1, 5)));
        push_logged(&mut group, "XMN:2026-12-01", 2, 4, &stored(&at_price));
        b.insert(&state.ks.log, log_group_key(11, "P1"), group);
        b.insert(&state.ks.prices, at, price_at(11 | GROUPED, 2));
        b.commit().expect("commits");
        [whole_price, old_price, new_price, at_price, at_first]
    }

    /// Ids split at their first two `:`s, whatever the bytes around them; an id with
    /// fewer is not a departure's.
    #[test]
    fn departure_ids_split_into_product_city_and_date() {
        assert_eq!(departure_parts("P1:SHA:2026-12-01"), Some(("P1", "SHA", "2026-12-01")));
        assert_eq!(departure_parts("Ü-ÿ:上海:2026:12"), Some(("Ü-ÿ", "上海", "2026:12")));
        assert_eq!(departure_parts("::"), Some(("", "", "")));
        assert_eq!(departure_parts("P1:SHA"), None);
        assert_eq!(departure_parts("P1"), None);
        assert_eq!(split_departure("P1:SHA:2026-12-01"), Some(("P1", "SHA:2026-12-01")));
        assert_eq!(split_departure("P1"), None);
        assert_eq!(split_colon(""), None);
    }

    /// `prices` points into `log`; folders written before that hold offers pointing into
    /// `log` or `history`, or whole records. All read back whole, and all give the
    /// working set its offers.
    #[test]
    fn current_prices_read_back_in_every_stored_form() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = State::open(dir.path()).expect("opens");
        let [whole_price, old_price, new_price, at_price, at_first] = stored_before_current(&state);
        let at = "P1:XMN:2026-12-01";

        for p in [&whole_price, &old_price, &new_price, &at_price] {
            assert_eq!(state.price(&p.key()).expect("reads").as_ref(), Some(p));
        }
        let all: Vec<DeparturePrice> = state.all_prices().collect::<Result<_>>().expect("reads");
        assert_eq!(all, [whole_price.clone(), old_price.clone(), new_price.clone(), at_price.clone()]);
        assert_eq!(state.product_departure_prices("P1").expect("reads"), all);
        let offers = state.product_offers("P1").expect("reads");
        assert_eq!(offers["PEK:2026-12-01"], Offer::of(whole_price));
        assert_eq!(offers["SHA:2026-12-01"], Offer::of(old_price));
        assert_eq!(offers["SZX:2026-12-01"], Offer::of(new_price));
        assert_eq!(offers["SZX:2026-12-01"].at, 9);
        assert_eq!(offers["XMN:2026-12-01"], Offer::of(at_price.clone()));
        assert_eq!(offers["XMN:2026-12-01"].at, 11 | GROUPED);
        assert_eq!(state.history(at).expect("reads"), [at_first, at_price]);
    }

    /// A product re-priced by this engine gets a `current` entry listing all its
    /// departures, those stored before in `prices` included; from then on it alone says
    /// where the product's prices are. Products it does not list are still read from
    /// `prices`, in key order among those it lists.
    #[test]
    fn a_product_repriced_is_listed_whole_in_current_and_the_rest_still_read_from_prices() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = State::open(dir.path()).expect("opens");
        let [whole_price, old_price, new_price, at_price, at_first] = stored_before_current(&state);
        let p10 = DeparturePrice { product: "P10".into(), ..price(1, 10) };
        let p2 = DeparturePrice { product: "P2".into(), ..price(5, 20) };
        for p in [&p10, &p2] {
            state.ks.prices.insert(p.key(), stored(p)).expect("writes");
        }
        let v3 = DeparturePrice { city: "XMN".into(), ..price(3, 450_000) };
        let mut w = state.writer();
        let slot = w.intern("P1:XMN:2026-12-01");
        w.put_price(slot, Offer::of(v3.clone()), &stored(&v3)).expect("writes");
        w.finish().commit(&state).expect("commits");

        let listed: Vec<Vec<u8>> = state.ks.current.iter().map(|kv| kv.key().expect("reads").to_vec()).collect();
        assert_eq!(listed, [b"P1:".to_vec()], "only the product re-priced");
        let p1 = [whole_price.clone(), old_price, new_price, v3.clone()];
        // '0' sorts before ':': P10's departures come before P1's.
        let expected: Vec<DeparturePrice> = [p10.clone()].into_iter().chain(p1.clone()).chain([p2.clone()]).collect();
        let all: Vec<DeparturePrice> = state.all_prices().collect::<Result<_>>().expect("reads");
        assert_eq!(all, expected);
        assert_eq!(state.product_departure_prices("P1").expect("reads"), p1);
        assert_eq!(state.product_departure_prices("P2").expect("reads"), std::slice::from_ref(&p2));
        for p in &expected {
            assert_eq!(state.price(&p.key()).expect("reads").as_ref(), Some(p));
        }
        assert_eq!(state.price("P1:XMN:2026-12-02").expect("reads"), None);
        assert_eq!(state.history("P1:XMN:2026-12-01").expect("reads"), [at_first, at_price, v3.clone()]);

        // Reopened, the working set reads P1's offers from its entry: a version of a
        // departure stored before `current` links to it as it did.
        drop(state);
        let state = State::open(dir.path()).expect("reopens");
        let offers = state.product_offers("P1").expect("reads");
        assert_eq!(offers["XMN:2026-12-01"], Offer::of(v3));
        assert_eq!(offers["XMN:2026-12-01"].at, 12 | GROUPED);
        assert_eq!(offers["PEK:2026-12-01"], Offer::of(whole_price.clone()));
        let v4 = DeparturePrice { city: "PEK".into(), ..price(4, 90_000) };
        let mut w = state.writer();
        let slot = w.intern("P1:PEK:2026-12-01");
        w.put_price(slot, Offer::of(v4.clone()), &stored(&v4)).expect("writes");
        w.finish().commit(&state).expect("commits");
        assert_eq!(state.price("P1:PEK:2026-12-01").expect("reads"), Some(v4.clone()));
        assert_eq!(state.history("P1:PEK:2026-12-01").expect("reads"), [v4]);
        assert_eq!(state.all_prices().count(), expected.len());
    }

    /// A departure priced before `log` existed and since: its versions in `history`,
    /// then those in `log` down the chain from the current one, oldest first. Versions
    /// of other departures in the same batches are not in its chain.
    #[test]
    fn history_reads_the_versions_before_log_then_the_chain_in_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = State::open(dir.path()).expect("opens");
        assert_eq!(state.next_log_at().expect("reads"), 1);
        let key = "P1:SHA:2026-12-01";
        let other = DeparturePrice { date: "2026-12-02".into(), ..price(1, 9) };
        let versions: Vec<DeparturePrice> = (1..=4).map(|v| price(v, 100 * v as i64)).collect();
        let mut b = state.ks.db.batch();
        b.insert(&state.ks.history, history_key(key, 1), stored(&versions[0]));
        b.insert(&state.ks.history, history_key(key, 2), stored(&versions[1]));
        b.insert(&state.ks.log, log_key(5, key, 3), linked(&versions[2], 0));
        b.insert(&state.ks.log, log_key(5, &other.key(), 1), linked(&other, 0));
        let mut group = Vec::new();
        push_logged(&mut group, "SHA:2026-12-01", 4, 5, &stored(&versions[3]));
        b.insert(&state.ks.log, log_group_key(7, "P1"), group);
        b.insert(&state.ks.prices, key, price_at(7 | GROUPED, 4));
        b.commit().expect("commits");

        assert_eq!(state.history(key).expect("reads"), versions);
        assert_eq!(state.price(key).expect("reads").as_ref(), versions.last());
        assert_eq!(state.next_log_at().expect("reads"), 8);
        assert_eq!(state.history("P9:SHA:2026-12-01").expect("reads"), []);
    }

    #[test]
    fn a_current_price_whose_version_is_missing_or_cut_is_reported_corrupt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = State::open(dir.path()).expect("opens");
        state.ks.prices.insert("P1:SHA:2026-12-01", offer_before_log(&Offer::of(price(4, 1)))).expect("writes");
        let err = state.price("P1:SHA:2026-12-01").expect_err("no version 4 in history");
        assert!(err.to_string().contains("no version 4"), "{err}");
        state.ks.prices.insert("P1:SHA:2026-12-01", price_at(3, 4)).expect("writes");
        let err = state.price("P1:SHA:2026-12-01").expect_err("no version 4 in log");
        assert!(err.to_string().contains("stored log does not decode: P1:SHA:2026-12-01 has no version 4"), "{err}");
        state.ks.prices.insert("P1:SHA:2026-12-01", price_at(3 | GROUPED, 4)).expect("writes");
        let err = state.price("P1:SHA:2026-12-01").expect_err("no entry of batch 3");
        assert!(err.to_string().contains("has no version 4"), "{err}");
        let mut group = Vec::new();
        push_logged(&mut group, "SHA:2026-12-01", 3, 0, &stored(&price(3, 1)));
        state.ks.log.insert(log_group_key(3, "P1"), &group).expect("writes");
        let err = state.price("P1:SHA:2026-12-01").expect_err("no version 4 in the entry");
        assert!(err.to_string().contains("has no version 4"), "{err}");
        state.ks.log.insert(log_group_key(3, "P1"), &group[..group.len() - 1]).expect("writes");
        let err = state.price("P1:SHA:2026-12-01").expect_err("a cut entry");
        assert!(err.to_string().contains("cut short"), "{err}");
        state.ks.prices.insert("P1:SHA:2026-12-01", &price_at(3, 4)[..15]).expect("writes");
        let err = state.price("P1:SHA:2026-12-01").expect_err("a cut value");
        assert!(err.to_string().contains("without its number"), "{err}");
    }

    /// A batch's writes come in the order it made them (`current` entries in product
    /// order, where "P1" comes before "P10", though "P10:" sorts before "P1:"); they reach
    /// fjall in key order (see `Pending::sort`), and commit to the same state.
    #[test]
    fn a_batch_is_committed_in_key_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = State::open(dir.path()).expect("opens");
        let listed = [
            ("P2", ["SHA:2026-12-01"].as_slice()),
            ("P1", &["SHA:2026-12-02", "SHA:2026-12-01"]),
            ("P10", &["PEK:2026-12-01"]),
        ];
        let mut pending = Pending::default();
        let mut keys = Vec::new();
        for (product, departures) in listed {
            let mut value = current::empty();
            for city_date in departures {
                let key = format!("{product}:{city_date}");
                let p = price(keys.len() as u64 + 1, 1_000 * keys.len() as i64);
                pending.log.push((log_key(1, &key, p.version), linked(&p, 0)));
                current::push(&mut value, city_date, p.version, 1);
                keys.push(key);
            }
            pending.current.push((current::key(product), value));
        }
        pending.log.reverse();
        pending.sort();
        let order: Vec<&[u8]> = pending.current.iter().map(|(k, _)| k.as_slice()).collect();
        // Byte order, as fjall keeps keys: '0' sorts before ':'.
        assert_eq!(order, [b"P10:".as_slice(), b"P1:", b"P2:"]);
        assert!(pending.log.is_sorted_by(|a, b| a.0 <= b.0));
        pending.commit(&state).expect("commits");
        for (v, key) in keys.iter().enumerate() {
            let read = state.price(key).expect("reads").expect("stored");
            assert_eq!((read.version, read.price), (v as u64 + 1, Some(1_000 * v as i64)), "{key}");
        }
    }
}
