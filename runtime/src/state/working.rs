//! The writer's working set: the state a micro-batch reads and changes, held decoded in
//! memory and read through from fjall on first use.
//!
//! The engine is the only writer of its state, so a copy it keeps in step with its own
//! writes never goes stale: a batch changes the working set directly and logs what it
//! changed; [`Writer::finish`] turns that log into one atomic fjall batch. Entries are
//! kept whole per group (every supplier of a resource, every dependent of a resource,
//! every departure price of a product), so a group read once never needs fjall again,
//! and the hot path of a warm engine touches no storage until it commits.
//!
//! Nothing is evicted: memory grows with the state that has been touched (the benchmark
//! in the README reports it for 1,000,000 departures).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, MutexGuard};

use super::records::{
    ComponentAmount, DeparturePrice, DepartureRecord, ProductPrice, ProductRecord, QuoteRecord, Status,
};
use pricing_sdk::wire::EncodedResource;
use serde::{Deserialize, Serialize};

use super::{Pending, Result, State, from_postcard, offer_bytes, pair_prefix, postcard_bytes, split_departure, triple};

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type Set<K> = HashSet<K, foldhash::fast::RandomState>;

/// A departure's place in the working set: the index of its entry in a dense table,
/// fixed while the working set lives (a removed departure keeps its slot, defined as
/// none; the reset after a panic starts the table over, which is why slots are only
/// kept for the length of one [`Writer`]). A batch marks, looks up and groups
/// departures by slot: indexing an array instead of hashing ids, for the hundreds of
/// thousands a batch touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot(u32);

impl Slot {
    /// The slot's index, for tables kept beside the working set (such as a batch's marks).
    #[must_use]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The departures that depend on one resource, by slot.
pub type Dependents = Set<Slot>;

/// One departure of the working set.
struct Entry {
    id: Arc<str>,
    /// `None` until read from fjall; then its definition, if it has one.
    record: Option<Option<Arc<DepartureRecord>>>,
}

/// Every supplier quote of one resource (deleted ones keep their seq).
#[derive(Clone, Default)]
pub struct Resource {
    quotes: BTreeMap<String, QuoteRecord>,
    /// The live quotes as a plugin batch carries them, kept in step with `quotes`: a
    /// resource goes into a batch for every call that prices a departure using it, far
    /// more often than it changes.
    encoded: EncodedResource,
}

impl Resource {
    /// The compact forms of the live quotes, in supplier order.
    pub fn live(&self) -> impl Iterator<Item = &[u8]> {
        self.quotes.values().filter(|q| !q.deleted).map(|q| q.compact.as_slice())
    }

    /// The live quotes encoded for a plugin batch.
    #[must_use]
    pub fn encoded(&self) -> &EncodedResource {
        &self.encoded
    }

    fn put(&mut self, supplier: String, quote: QuoteRecord) {
        self.quotes.insert(supplier, quote);
        self.encoded = EncodedResource::new(self.live());
    }

    /// The stored seq of a supplier's quote.
    #[must_use]
    pub fn seq(&self, supplier: &str) -> Option<u64> {
        self.quotes.get(supplier).map(|q| q.seq)
    }
}

/// What a buyer sees of a departure's current price, and its version: the `prices`
/// keyspace's value (see [`super::offer_bytes`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// Version of the current record.
    pub version: u64,
    /// Sellability.
    pub status: Status,
    /// Per-person price when available.
    pub price: Option<i64>,
    /// Why it is unavailable.
    pub reason: Option<String>,
    /// Per-component amounts.
    pub components: Vec<ComponentAmount>,
}

impl Offer {
    /// What a price record says to a buyer.
    #[must_use]
    pub fn of(p: DeparturePrice) -> Self {
        Offer { version: p.version, status: p.status, price: p.price, reason: p.reason, components: p.components }
    }

    /// Whether `other` says the same to a buyer (versions aside).
    #[must_use]
    pub fn same_offer(&self, other: &Offer) -> bool {
        self.status == other.status
            && self.price == other.price
            && self.reason == other.reason
            && self.components == other.components
    }
}

/// A product's current prices: every departure's offer (keyed `CITY:DATE`) and its
/// starting prices.
#[derive(Default)]
pub struct ProductPrices {
    /// Offers by `CITY:DATE`.
    pub departures: BTreeMap<String, Offer>,
    /// The current starting prices.
    pub starting: Option<ProductPrice>,
}

/// The decoded working set. Lives in [`State`]; reached through a [`Writer`].
#[derive(Default)]
pub(super) struct Working {
    /// The slot of each departure id the engine has met ([`Writer::intern`]).
    slots: Map<Arc<str>, Slot>,
    /// By slot: each departure's id and definition.
    departures: Vec<Entry>,
    /// One shared copy of each component kind and resource key of the departures held:
    /// a plugin call's batch holds each resource once, found by pointer.
    names: Set<Arc<str>>,
    resources: Map<Vec<u8>, Arc<Resource>>,
    dependents: Map<Vec<u8>, Arc<Dependents>>,
    products: Map<String, Option<ProductRecord>>,
    prices: Map<String, ProductPrices>,
}

/// What a batch changed, by key; values are read from the working set at the end.
#[derive(Default)]
struct Changed {
    quotes: BTreeSet<(Vec<u8>, String)>,
    index: BTreeMap<Vec<u8>, bool>,
    departures: Set<Slot>,
    products: Set<String>,
    prices: Map<Arc<str>, Vec<u8>>,
    history: Vec<(Vec<u8>, Vec<u8>)>,
    starting: Map<String, Arc<[u8]>>,
}

/// The single writer's access to the state for one micro-batch: reads through the
/// working set, writes to it, and logs the changes for [`Writer::finish`].
pub struct Writer<'a> {
    state: &'a State,
    w: MutexGuard<'a, Working>,
    changed: Changed,
}

impl<'a> Writer<'a> {
    pub(super) fn new(state: &'a State, w: MutexGuard<'a, Working>) -> Self {
        Writer { state, w, changed: Changed::default() }
    }

    /// Every supplier quote of (kind, key).
    pub fn resource(&mut self, kind: &str, key: &str) -> Result<Arc<Resource>> {
        let prefix = pair_prefix(kind, key);
        if let Some(r) = self.w.resources.get(&prefix) {
            return Ok(Arc::clone(r));
        }
        let mut r = Resource::default();
        for kv in self.state.ks.quotes.prefix(&prefix) {
            let (k, v) = kv.into_inner()?;
            let supplier = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            r.quotes.insert(supplier, from_postcard(&v, "quote")?);
        }
        r.encoded = EncodedResource::new(r.live());
        let r = Arc::new(r);
        self.w.resources.insert(prefix, Arc::clone(&r));
        Ok(r)
    }

    /// Records a supplier's quote.
    pub fn put_quote(&mut self, kind: &str, key: &str, supplier: &str, quote: QuoteRecord) -> Result<()> {
        self.resource(kind, key)?;
        let prefix = pair_prefix(kind, key);
        if let Some(r) = self.w.resources.get_mut(&prefix) {
            Arc::make_mut(r).put(supplier.to_owned(), quote);
        }
        self.changed.quotes.insert((prefix, supplier.to_owned()));
        Ok(())
    }

    /// The slot of a departure id, given one on first sight.
    pub fn intern(&mut self, id: &str) -> Slot {
        if let Some(slot) = self.w.slots.get(id) {
            return *slot;
        }
        let slot = Slot(u32::try_from(self.w.departures.len()).expect("fewer than 2^32 departures"));
        let id: Arc<str> = Arc::from(id);
        self.w.departures.push(Entry { id: Arc::clone(&id), record: None });
        self.w.slots.insert(id, slot);
        slot
    }

    /// The id of the departure in `slot`.
    #[must_use]
    pub fn id(&self, slot: Slot) -> &Arc<str> {
        &self.w.departures[slot.index()].id
    }

    /// The departures that depend on (kind, key).
    pub fn dependents(&mut self, kind: &str, key: &str) -> Result<Arc<Dependents>> {
        let prefix = pair_prefix(kind, key);
        if let Some(d) = self.w.dependents.get(&prefix) {
            return Ok(Arc::clone(d));
        }
        let mut found = Dependents::default();
        for kv in self.state.ks.index.prefix(&prefix) {
            let k = kv.key()?;
            found.insert(self.intern(&String::from_utf8_lossy(&k[prefix.len()..])));
        }
        let d = Arc::new(found);
        self.w.dependents.insert(prefix, Arc::clone(&d));
        Ok(d)
    }

    /// Adds or removes "departure depends on (kind, key)".
    pub fn set_dependency(&mut self, kind: &str, key: &str, departure: Slot, present: bool) -> Result<()> {
        self.dependents(kind, key)?;
        let prefix = pair_prefix(kind, key);
        if let Some(d) = self.w.dependents.get_mut(&prefix) {
            let d = Arc::make_mut(d);
            if present {
                d.insert(departure);
            } else {
                d.remove(&departure);
            }
        }
        let id = Arc::clone(self.id(departure));
        self.changed.index.insert(triple(kind, key, &id), present);
        Ok(())
    }

    /// A departure's definition.
    pub fn departure(&mut self, slot: Slot) -> Result<Option<Arc<DepartureRecord>>> {
        let entry = &self.w.departures[slot.index()];
        if let Some(d) = &entry.record {
            return Ok(d.clone());
        }
        let id = Arc::clone(&entry.id);
        let d: Option<DepartureRecord> = super::postcard_get(&self.state.ks.departures, id.as_bytes(), "departure")?;
        let d = d.map(|d| Arc::new(self.share_names(d)));
        self.w.departures[slot.index()].record = Some(d.clone());
        Ok(d)
    }

    /// Sets (or with `None` removes) a departure's definition.
    pub fn put_departure(&mut self, slot: Slot, record: Option<DepartureRecord>) {
        let record = record.map(|r| Arc::new(self.share_names(r)));
        self.w.departures[slot.index()].record = Some(record);
        self.changed.departures.insert(slot);
    }

    /// `record` with its kinds and resource keys replaced by the shared copies.
    fn share_names(&mut self, mut record: DepartureRecord) -> DepartureRecord {
        let names = &mut self.w.names;
        let mut share = |name: &mut Arc<str>| match names.get(&**name) {
            Some(shared) => *name = Arc::clone(shared),
            None => {
                names.insert(Arc::clone(name));
            }
        };
        for c in &mut record.components {
            share(&mut c.kind);
            c.keys.iter_mut().for_each(&mut share);
        }
        record
    }

    /// A product, with its seq.
    pub fn product(&mut self, id: &str) -> Result<Option<ProductRecord>> {
        if let Some(p) = self.w.products.get(id) {
            return Ok(p.clone());
        }
        let p: Option<ProductRecord> = super::postcard_get(&self.state.ks.products, id.as_bytes(), "product")?;
        self.w.products.insert(id.to_owned(), p.clone());
        Ok(p)
    }

    /// Records a product.
    pub fn put_product(&mut self, id: &str, record: ProductRecord) {
        self.w.products.insert(id.to_owned(), Some(record));
        self.changed.products.insert(id.to_owned());
    }

    /// A product's current prices, loaded whole on first use.
    pub fn product_prices(&mut self, product: &str) -> Result<&ProductPrices> {
        if !self.w.prices.contains_key(product) {
            let pp = ProductPrices {
                departures: self.state.product_offers(product)?,
                starting: self.state.product_price(product)?,
            };
            self.w.prices.insert(product.to_owned(), pp);
        }
        Ok(&self.w.prices[product])
    }

    /// A departure's current offer.
    pub fn offer(&mut self, departure: &str) -> Result<Option<&Offer>> {
        let Some((product, rest)) = split_departure(departure) else { return Ok(None) };
        Ok(self.product_prices(product)?.departures.get(rest))
    }

    /// Every committed version of a departure's price, oldest first. Versions of the
    /// batch in progress, or of a commit still in flight, are not there yet: a caller
    /// that needs them waits for the commit first.
    pub fn committed_history(&self, departure: &str) -> Result<Vec<DeparturePrice>> {
        self.state.history(departure)
    }

    /// Records a new price version of the departure `key`: what it says to a buyer as its
    /// current price, and the whole record's stored bytes in history.
    pub fn put_price(&mut self, key: &Arc<str>, offer: Offer, stored: Vec<u8>) -> Result<()> {
        // Keys are `PRODUCT:CITY:DATE` (see [`super::PriceRef::key`]); one without a
        // product part is still stored, under its whole key.
        let (product, rest) = split_departure(key).unwrap_or((key, ""));
        self.product_prices(product)?;
        self.changed.history.push((super::history_key(key, offer.version), stored));
        let current = offer_bytes(&offer);
        if let Some(pp) = self.w.prices.get_mut(product) {
            // Most versions replace an offer: no new key to allocate.
            match pp.departures.get_mut(rest) {
                Some(current) => *current = offer,
                None => {
                    pp.departures.insert(rest.to_owned(), offer);
                }
            }
        }
        self.changed.prices.insert(Arc::clone(key), current);
        Ok(())
    }

    /// Records a product's starting prices and their JSON.
    pub fn put_product_price(&mut self, price: ProductPrice, json: Arc<[u8]>) -> Result<()> {
        self.product_prices(&price.product)?;
        self.changed.starting.insert(price.product.clone(), json);
        if let Some(pp) = self.w.prices.get_mut(&price.product) {
            pp.starting = Some(price);
        }
        Ok(())
    }

    /// The batch's changes as the writes of one atomic commit; releases the working set.
    #[must_use]
    pub fn finish(self) -> Pending {
        let Writer { w, changed, .. } = self;
        let mut p = Pending::default();
        for (prefix, supplier) in changed.quotes {
            if let Some(q) = w.resources.get(&prefix).and_then(|r| r.quotes.get(&supplier)) {
                let mut k = prefix;
                k.extend_from_slice(supplier.as_bytes());
                p.quotes.push((k, postcard_bytes(q)));
            }
        }
        p.index = changed.index.into_iter().collect();
        for slot in changed.departures {
            let entry = &w.departures[slot.index()];
            let v = entry.record.as_ref().and_then(|d| d.as_deref().map(postcard_bytes));
            p.departures.push((entry.id.as_bytes().to_vec(), v));
        }
        for id in changed.products {
            if let Some(Some(rec)) = w.products.get(&id) {
                p.products.push((id.into_bytes(), postcard_bytes(rec)));
            }
        }
        p.prices = changed.prices.into_iter().collect();
        p.history = changed.history;
        p.starting = changed.starting.into_iter().collect();
        p
    }
}
