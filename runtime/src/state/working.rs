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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Deref;
use std::sync::{Arc, MutexGuard, OnceLock};

use super::cheapest::{Cheapest, available_price};
use super::records::{
    ComponentAmount, DeparturePrice, DepartureRecord, ProductPrice, ProductRecord, QuoteRecord, Status, rules_json,
};
use super::rules::RuleSetIds;
use pricing_sdk::wire::EncodedResource;
use serde::{Deserialize, Serialize};

use super::{
    GROUPED, Pending, Result, State, StateError, current, from_postcard, postcard_bytes, product_of, push_logged,
    write_pair_prefix,
};

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

    /// The slot at `index`, for tests that need one without a working set.
    #[cfg(test)]
    pub(crate) fn at(index: u32) -> Slot {
        Slot(index)
    }
}

/// The departures that depend on one resource, by slot.
pub type Dependents = Set<Slot>;

/// A resource's place in the working set, as [`Slot`] is a departure's (and, like it,
/// kept only for one [`Writer`]): a departure's definition names its resources by
/// slot, so a plugin call finds each resource of each departure it prices by indexing
/// arrays, not by hashing `kind\0key\0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceSlot(u32);

impl ResourceSlot {
    /// The slot's index, for tables kept beside the working set (such as a call's
    /// resources).
    #[must_use]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One departure of the working set.
struct Entry {
    id: Arc<str>,
    /// `None` until read from fjall; then its definition, if it has one.
    record: Option<Option<Arc<Definition>>>,
    /// `None` until its product's current prices are read; then its current offer, if
    /// it has one. Kept here rather than in [`ProductPrices`] so that the hot path
    /// (compare with the current offer, replace it) indexes an array instead of
    /// hashing a product and searching its departures by name.
    offer: Option<Option<Offer>>,
    /// Where its place is in its product's [`ProductPrices::current`] value
    /// (`current::push`); [`NO_PLACE`] until it has one.
    place: usize,
}

/// The [`Entry::place`] of a departure without a price.
const NO_PLACE: usize = usize::MAX;

/// A departure's definition as the working set holds it: the stored record, and the
/// slots of its components' resources.
pub struct Definition {
    record: DepartureRecord,
    /// Every component's resources in turn, in the order of its keys.
    resources: Box<[ResourceSlot]>,
}

impl Definition {
    /// The slots of component `c`'s resources, in the order of its keys.
    #[must_use]
    pub fn resources(&self, c: usize) -> &[ResourceSlot] {
        // A departure has a handful of components: summing is cheaper than storing offsets.
        let start: usize = self.record.components[..c].iter().map(|c| c.keys.len()).sum();
        &self.resources[start..start + self.record.components[c].keys.len()]
    }

    /// A definition whose components have no resources, for tests of what is done with
    /// prices already computed.
    #[cfg(test)]
    pub(crate) fn without_resources(record: DepartureRecord) -> Definition {
        Definition { record, resources: Box::new([]) }
    }
}

impl Deref for Definition {
    type Target = DepartureRecord;

    fn deref(&self) -> &DepartureRecord {
        &self.record
    }
}

/// One resource of the working set: its keys' prefix, and what has been read of it.
struct ResourceEntry {
    /// `kind\0key\0`, the prefix of its quotes' and its dependents' keys.
    prefix: Arc<[u8]>,
    /// Unset until read from fjall. Set through a shared reference, so that threads
    /// building plugin calls of different kinds read the working set at once
    /// ([`Quotes`]).
    quotes: OnceLock<Resource>,
    /// `None` until read from fjall.
    dependents: Option<Arc<Dependents>>,
}

/// Every supplier quote of one resource (deleted ones keep their seq).
#[derive(Default)]
pub struct Resource {
    quotes: BTreeMap<String, QuoteRecord>,
    /// The live quotes as a plugin batch carries them, encoded on first use after a
    /// change: a resource goes into a batch for every call that prices a departure using
    /// it, far more often than it changes, and a popular one changes many times in a
    /// batch before it is priced once.
    encoded: OnceLock<EncodedResource>,
}

impl Resource {
    /// The compact forms of the live quotes, in supplier order.
    pub fn live(&self) -> impl Iterator<Item = &[u8]> {
        self.quotes.values().filter(|q| !q.deleted).map(|q| q.compact.as_slice())
    }

    /// The live quotes encoded for a plugin batch.
    #[must_use]
    pub fn encoded(&self) -> &EncodedResource {
        self.encoded.get_or_init(|| EncodedResource::new(self.live()))
    }

    fn put(&mut self, supplier: &str, quote: QuoteRecord) {
        match self.quotes.get_mut(supplier) {
            Some(stored) => *stored = quote,
            None => {
                self.quotes.insert(supplier.to_owned(), quote);
            }
        }
        self.encoded = OnceLock::new();
    }

    /// The stored seq of a supplier's quote.
    #[must_use]
    pub fn seq(&self, supplier: &str) -> Option<u64> {
        self.quotes.get(supplier).map(|q| q.seq)
    }
}

/// What a buyer sees of a departure's current price, its version, and where that version
/// is stored (its product's `current` entry says where: see `current.rs`). Two offers are
/// equal when their versions and what they say are: `at` is only where the record is.
#[derive(Clone, Debug, Serialize, Deserialize)]
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
    /// The batch whose `log` entries hold this version's whole record, marked
    /// [`super::GROUPED`] when it is in its product's entry; 0 for a version written
    /// before `log` existed (in `history`) or not yet stored. Stored beside the offer, not
    /// in it.
    #[serde(skip)]
    pub at: u64,
}

impl PartialEq for Offer {
    fn eq(&self, other: &Offer) -> bool {
        self.version == other.version && self.same_offer(other)
    }
}

impl Eq for Offer {}

/// No offer: retired, version 0, no components.
impl Default for Offer {
    fn default() -> Self {
        Offer { version: 0, status: Status::Retired, price: None, reason: None, components: Vec::new(), at: 0 }
    }
}

impl Offer {
    /// What a price record says to a buyer (not yet stored: `at` is 0).
    #[must_use]
    pub fn of(p: DeparturePrice) -> Self {
        Offer {
            version: p.version,
            status: p.status,
            price: p.price,
            reason: p.reason,
            components: p.components,
            at: 0,
        }
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

/// A product's current prices: which of its departures have an offer (their offers
/// are kept with the departures, see `Entry::offer`), and its starting prices.
#[derive(Default)]
pub(super) struct ProductPrices {
    /// The slots of the departures with an offer, by `CITY:DATE`.
    departures: BTreeMap<String, Slot>,
    /// The current starting prices.
    starting: Option<ProductPrice>,
    /// The cheapest offers per city, kept as offers change.
    cheapest: Cheapest,
    /// Its `current` value (see `current.rs`), kept encoded: a new version overwrites its
    /// departure's place, and a batch that re-priced the product writes a copy.
    current: Vec<u8>,
}

/// A product's current prices, as [`Writer::product_prices`] reads them.
#[derive(Clone, Copy)]
pub struct ProductView<'a> {
    prices: &'a ProductPrices,
    entries: &'a [Entry],
}

impl<'a> ProductView<'a> {
    /// Every departure's current offer, by `CITY:DATE`, in that order.
    pub fn offers(&self) -> impl Iterator<Item = (&'a str, &'a Offer)> + use<'a> {
        let entries = self.entries;
        self.prices.departures.iter().filter_map(move |(city_date, slot)| {
            let offer = entries[slot.index()].offer.as_ref()?.as_ref()?;
            Some((city_date.as_str(), offer))
        })
    }

    /// The current starting prices.
    #[must_use]
    pub fn starting(&self) -> Option<&'a ProductPrice> {
        self.prices.starting.as_ref()
    }

    /// The cheapest current offers per city: what the next starting prices are made of.
    #[must_use]
    pub fn cheapest(&self) -> &'a Cheapest {
        &self.prices.cheapest
    }
}

/// The decoded working set. Lives in [`State`]; reached through a [`Writer`].
#[derive(Default)]
pub(super) struct Working {
    /// The slot of each departure id the engine has met ([`Writer::intern`]).
    slots: Map<Arc<str>, Slot>,
    /// By slot: each departure's id and definition.
    departures: Vec<Entry>,
    /// One shared copy of each component kind and resource key of the departures held.
    names: Set<Arc<str>>,
    /// The slot of each resource (by `kind\0key\0`) the engine has met.
    resource_slots: Map<Arc<[u8]>, ResourceSlot>,
    /// By slot: each resource's quotes and dependents.
    resources: Vec<ResourceEntry>,
    products: Map<String, Option<ProductRecord>>,
    prices: Map<String, ProductPrices>,
    /// The ids of the rule sets stored or named, read on first use.
    rule_sets: Option<RuleSetIds>,
    /// The number of the next batch to write price versions (their `at` in `log`); 0
    /// until read from fjall. Kept here, not read per batch: the batch before may not
    /// have landed yet.
    next_at: u64,
    /// Set while a [`Writer`] has it, cleared by [`Writer::finish`].
    pub(super) in_batch: bool,
}

impl Working {
    /// Forgets everything but the next batch number: batch numbers are never reused,
    /// and the batch that took the last one may not have landed yet.
    pub(super) fn start_over(&mut self) {
        *self = Working { next_at: self.next_at, ..Working::default() };
    }
}

/// What a batch changed, by key; values are read from the working set at the end.
#[derive(Default)]
struct Changed {
    /// Each quote written, by resource slot and supplier, as often as written: sorted
    /// and made unique once, at the end, rather than kept in a set by key as they come.
    quotes: Vec<(ResourceSlot, String)>,
    index: BTreeMap<Vec<u8>, bool>,
    departures: Set<Slot>,
    products: Set<String>,
    /// Versions by product, each group a product's `log` entry in the making (see
    /// [`super::push_logged`]). A batch prices departures in id order, so a product's
    /// versions nearly always come in one run; a product in two runs is merged at the end.
    log: Vec<(Box<str>, Vec<u8>)>,
    starting: Map<String, Arc<[u8]>>,
    /// The rule sets the batch's history names, by id, with their JSON.
    rule_sets: BTreeMap<u32, Vec<u8>>,
}

/// The resources of the working set, read through a shared reference: the plugin calls
/// of a batch's component kinds are built on two threads at once.
#[derive(Clone, Copy)]
pub struct Quotes<'a> {
    state: &'a State,
    resources: &'a [ResourceEntry],
}

impl<'a> Quotes<'a> {
    /// How many resources have a slot: every slot is below it.
    #[must_use]
    pub fn count(&self) -> usize {
        self.resources.len()
    }

    /// Every supplier quote of the resource in `slot`, read from fjall on first use.
    pub fn at(&self, slot: ResourceSlot) -> Result<&'a Resource> {
        let entry = &self.resources[slot.index()];
        if let Some(r) = entry.quotes.get() {
            return Ok(r);
        }
        let mut r = Resource::default();
        for kv in self.state.ks.quotes.prefix(&*entry.prefix) {
            let (k, v) = kv.into_inner()?;
            let supplier = String::from_utf8_lossy(&k[entry.prefix.len()..]).into_owned();
            r.quotes.insert(supplier, from_postcard(&v, "quote")?);
        }
        // Two threads that read it at once read the same quotes: either's will do.
        Ok(entry.quotes.get_or_init(|| r))
    }
}

/// The single writer's access to the state for one micro-batch: reads through the
/// working set, writes to it, and logs the changes for [`Writer::finish`].
pub struct Writer<'a> {
    state: &'a State,
    w: MutexGuard<'a, Working>,
    changed: Changed,
    /// Where a resource's key prefix is built to look its slot up.
    prefix: Vec<u8>,
    /// The last rule set named and its id: consecutive versions nearly always share one.
    last_rule_set: Option<(Vec<(String, String)>, u32)>,
    /// This batch's number in `log`, taken at its first version (0: none yet). Taken
    /// for good: a batch dropped unfinished does not hand it to the next.
    at: u64,
}

impl<'a> Writer<'a> {
    pub(super) fn new(state: &'a State, mut w: MutexGuard<'a, Working>) -> Self {
        w.in_batch = true;
        Writer { state, w, changed: Changed::default(), prefix: Vec::new(), last_rule_set: None, at: 0 }
    }

    /// The id that names the rule set `rules` (sorted by kind, each kind once) in a
    /// history value written by this batch, and the set's JSON ([`rules_json`]) for the
    /// record; the set is stored with the batch.
    pub fn rule_set(&mut self, rules: &[(&str, &str)]) -> Result<(u32, &[u8])> {
        if let Some((last, id)) = &self.last_rule_set
            && last.len() == rules.len()
            && last.iter().zip(rules).all(|((k, v), (k2, v2))| k == k2 && v == v2)
        {
            return Ok((*id, &self.changed.rule_sets[id]));
        }
        let ids = match &mut self.w.rule_sets {
            Some(ids) => ids,
            unread => unread.insert(RuleSetIds::load(&self.state.ks.meta)?),
        };
        let json = rules_json(rules);
        let id = ids.id(&json);
        self.last_rule_set = Some((rules.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(), id));
        Ok((id, self.changed.rule_sets.entry(id).or_insert(json)))
    }

    /// The slot of the resource (kind, key), given one on first sight.
    pub fn resource_slot(&mut self, kind: &str, key: &str) -> ResourceSlot {
        write_pair_prefix(&mut self.prefix, kind, key);
        if let Some(slot) = self.w.resource_slots.get(&self.prefix[..]) {
            return *slot;
        }
        let slot = ResourceSlot(u32::try_from(self.w.resources.len()).expect("fewer than 2^32 resources"));
        let prefix: Arc<[u8]> = Arc::from(&self.prefix[..]);
        self.w.resources.push(ResourceEntry { prefix: Arc::clone(&prefix), quotes: OnceLock::new(), dependents: None });
        self.w.resource_slots.insert(prefix, slot);
        slot
    }

    /// The resources' quotes, read-only: a view that threads can share.
    #[must_use]
    pub fn quotes(&self) -> Quotes<'_> {
        Quotes { state: self.state, resources: &self.w.resources }
    }

    /// Every supplier quote of the resource in `slot` ([`Writer::resource_slot`]).
    pub fn resource(&self, slot: ResourceSlot) -> Result<&Resource> {
        self.quotes().at(slot)
    }

    /// Records a supplier's quote.
    pub fn put_quote(&mut self, slot: ResourceSlot, supplier: &str, quote: QuoteRecord) -> Result<()> {
        self.quotes().at(slot)?;
        let entry = &mut self.w.resources[slot.index()];
        if let Some(r) = entry.quotes.get_mut() {
            r.put(supplier, quote);
        }
        self.changed.quotes.push((slot, supplier.to_owned()));
        Ok(())
    }

    /// The resources whose quotes this batch has written so far (a resource once per
    /// quote written).
    pub fn changed_resources(&self) -> impl Iterator<Item = ResourceSlot> + '_ {
        self.changed.quotes.iter().map(|(slot, _)| *slot)
    }

    /// The slot of a departure id, given one on first sight.
    pub fn intern(&mut self, id: &str) -> Slot {
        if let Some(slot) = self.w.slots.get(id) {
            return *slot;
        }
        let slot = Slot(u32::try_from(self.w.departures.len()).expect("fewer than 2^32 departures"));
        let id: Arc<str> = Arc::from(id);
        self.w.departures.push(Entry { id: Arc::clone(&id), record: None, offer: None, place: NO_PLACE });
        self.w.slots.insert(id, slot);
        slot
    }

    /// The id of the departure in `slot`.
    #[must_use]
    pub fn id(&self, slot: Slot) -> &Arc<str> {
        &self.w.departures[slot.index()].id
    }

    /// The departures that depend on the resource in `slot` ([`Writer::resource_slot`]).
    pub fn dependents(&mut self, slot: ResourceSlot) -> Result<Arc<Dependents>> {
        let entry = &self.w.resources[slot.index()];
        if let Some(d) = &entry.dependents {
            return Ok(Arc::clone(d));
        }
        let prefix = Arc::clone(&entry.prefix);
        let mut found = Dependents::default();
        for kv in self.state.ks.index.prefix(&*prefix) {
            let k = kv.key()?;
            found.insert(self.intern(&String::from_utf8_lossy(&k[prefix.len()..])));
        }
        let d = Arc::new(found);
        self.w.resources[slot.index()].dependents = Some(Arc::clone(&d));
        Ok(d)
    }

    /// Adds or removes "departure depends on (kind, key)".
    pub fn set_dependency(&mut self, kind: &str, key: &str, departure: Slot, present: bool) -> Result<()> {
        let slot = self.resource_slot(kind, key);
        self.dependents(slot)?;
        let Working { resources, departures, .. } = &mut *self.w;
        let entry = &mut resources[slot.index()];
        if let Some(d) = &mut entry.dependents {
            let d = Arc::make_mut(d);
            if present {
                d.insert(departure);
            } else {
                d.remove(&departure);
            }
        }
        let mut index_key = entry.prefix.to_vec();
        index_key.extend_from_slice(departures[departure.index()].id.as_bytes());
        self.changed.index.insert(index_key, present);
        Ok(())
    }

    /// A departure's definition.
    pub fn departure(&mut self, slot: Slot) -> Result<Option<Arc<Definition>>> {
        let entry = &self.w.departures[slot.index()];
        if let Some(d) = &entry.record {
            return Ok(d.clone());
        }
        let id = Arc::clone(&entry.id);
        let d: Option<DepartureRecord> = super::postcard_get(&self.state.ks.departures, id.as_bytes(), "departure")?;
        let d = d.map(|d| Arc::new(self.definition(d)));
        self.w.departures[slot.index()].record = Some(d.clone());
        Ok(d)
    }

    /// Sets (or with `None` removes) a departure's definition.
    pub fn put_departure(&mut self, slot: Slot, record: Option<DepartureRecord>) {
        let record = record.map(|r| Arc::new(self.definition(r)));
        self.w.departures[slot.index()].record = Some(record);
        self.changed.departures.insert(slot);
    }

    /// `record` as the working set holds it: its kinds and resource keys replaced by
    /// the shared copies, and its resources' slots.
    fn definition(&mut self, mut record: DepartureRecord) -> Definition {
        let mut resources = Vec::with_capacity(record.components.iter().map(|c| c.keys.len()).sum());
        for c in &record.components {
            for key in &c.keys {
                resources.push(self.resource_slot(&c.kind, key));
            }
        }
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
        Definition { record, resources: resources.into_boxed_slice() }
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
    pub fn product_prices(&mut self, product: &str) -> Result<ProductView<'_>> {
        self.load_product_prices(product)?;
        let Working { prices, departures: entries, .. } = &mut *self.w;
        if let Some(pp) = prices.get_mut(product) {
            pp.cheapest.refresh(&pp.departures, |slot| price_in(entries, slot));
        }
        Ok(ProductView { prices: &prices[product], entries })
    }

    /// Reads a product's current prices into the working set, unless they are there.
    fn load_product_prices(&mut self, product: &str) -> Result<()> {
        if self.w.prices.contains_key(product) {
            return Ok(());
        }
        let mut pp = ProductPrices {
            departures: BTreeMap::new(),
            starting: self.state.product_price(product)?,
            cheapest: Cheapest::default(),
            current: current::empty(),
        };
        for (city_date, offer) in self.state.product_offers(product)? {
            let slot = self.intern(&format!("{product}:{city_date}"));
            let entry = &mut self.w.departures[slot.index()];
            entry.place = current::push(&mut pp.current, &city_date, offer.version, offer.at);
            entry.offer = Some(Some(offer));
            pp.departures.insert(city_date, slot);
        }
        pp.cheapest = Cheapest::scan(&pp.departures, |slot| price_in(&self.w.departures, slot));
        self.w.prices.insert(product.to_owned(), pp);
        Ok(())
    }

    /// A departure's current offer.
    pub fn offer(&mut self, slot: Slot) -> Result<Option<&Offer>> {
        if self.w.departures[slot.index()].offer.is_none() {
            let id = Arc::clone(&self.w.departures[slot.index()].id);
            self.load_product_prices(product_of(&id).0)?;
            // Loading its product's prices gave it its offer, if it has one.
            self.w.departures[slot.index()].offer.get_or_insert(None);
        }
        Ok(self.w.departures[slot.index()].offer.as_ref().and_then(Option::as_ref))
    }

    /// Every committed version of a departure's price, oldest first. Versions of the
    /// batch in progress, or of a commit still in flight, are not there yet: a caller
    /// that needs them waits for the commit first.
    pub fn committed_history(&self, departure: &str) -> Result<Vec<DeparturePrice>> {
        self.state.history(departure)
    }

    /// Records a new price version of the departure in `slot`: what it says to a buyer as
    /// its current price, and the whole record's stored bytes (`stored`) in its product's
    /// `log` entry for this batch, linked to the version before.
    pub fn put_price(&mut self, slot: Slot, mut offer: Offer, stored: &[u8]) -> Result<()> {
        let id = Arc::clone(self.id(slot));
        self.put_price_swap(slot, &id, &mut offer, stored)
    }

    /// [`Writer::put_price`] for the departure `id` (the one in `slot`, as
    /// [`Writer::id`] gives it), that leaves the offer replaced in `offer` (or an empty
    /// one) for the caller to fill again: the pricing loop reuses its components' room
    /// and kinds instead of allocating, cloning and dropping them per version.
    ///
    /// The caller's `id` saves reading the slot's: it is the last field of a table row of
    /// about 120 bytes, on another cache line than the offer, and that read was a cache
    /// miss for most versions (two-thirds of this function's samples in a profile).
    pub fn put_price_swap(&mut self, slot: Slot, id: &Arc<str>, offer: &mut Offer, stored: &[u8]) -> Result<()> {
        debug_assert!(Arc::ptr_eq(id, self.id(slot)), "the departure in the slot");
        self.offer(slot)?;
        if self.at == 0 {
            if self.w.next_at == 0 {
                self.w.next_at = self.state.next_log_at()?;
            }
            self.at = self.w.next_at;
            self.w.next_at += 1;
        }
        offer.at = self.at | GROUPED;
        let Working { departures, prices, .. } = &mut *self.w;
        let entry = &mut departures[slot.index()];
        let before = entry.offer.as_ref().and_then(Option::as_ref).map_or(0, |o| o.at);
        let (product, city_date) = product_of(id);
        match self.changed.log.last_mut() {
            Some((p, group)) if **p == *product => push_logged(group, city_date, offer.version, before, stored),
            _ => {
                let mut group = Vec::with_capacity(4096);
                push_logged(&mut group, city_date, offer.version, before, stored);
                self.changed.log.push((product.into(), group));
            }
        }
        // `offer` loaded the product's prices.
        let Some(pp) = prices.get_mut(product) else {
            return Err(StateError::Corrupt {
                what: "price",
                why: format!("{id}: its product's prices are not loaded"),
            });
        };
        if entry.place == NO_PLACE {
            entry.place = current::push(&mut pp.current, city_date, offer.version, offer.at);
        } else {
            current::set(&mut pp.current, entry.place, offer.version, offer.at);
        }
        let first = matches!(entry.offer, Some(None));
        let price = available_price(Some(offer));
        let replaced = entry.offer.replace(Some(std::mem::take(offer))).flatten();
        let was = available_price(replaced.as_ref());
        if let Some(replaced) = replaced {
            *offer = replaced;
        }
        // Most versions replace an offer: only a departure's first one is new to its
        // product.
        if first || price != was {
            if first {
                pp.departures.insert(city_date.to_owned(), slot);
            }
            pp.cheapest.changed(city_date, was, price);
        }
        Ok(())
    }

    /// Records a product's starting prices and their JSON.
    pub fn put_product_price(&mut self, price: ProductPrice, json: Arc<[u8]>) -> Result<()> {
        self.load_product_prices(&price.product)?;
        self.changed.starting.insert(price.product.clone(), json);
        if let Some(pp) = self.w.prices.get_mut(&price.product) {
            pp.starting = Some(price);
        }
        Ok(())
    }

    /// The batch's changes as the writes of one atomic commit; releases the working set.
    #[must_use]
    pub fn finish(self) -> Pending {
        let Writer { mut w, mut changed, at, .. } = self;
        w.in_batch = false;
        let mut p = Pending::default();
        changed.quotes.sort_unstable();
        changed.quotes.dedup();
        for (slot, supplier) in changed.quotes {
            let entry = &w.resources[slot.index()];
            if let Some(q) = entry.quotes.get().and_then(|r| r.quotes.get(&supplier)) {
                let mut k = entry.prefix.to_vec();
                k.extend_from_slice(supplier.as_bytes());
                p.quotes.push((k, postcard_bytes(q)));
            }
        }
        p.quotes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        p.index = changed.index.into_iter().collect();
        for slot in changed.departures {
            let entry = &w.departures[slot.index()];
            let v = entry.record.as_ref().and_then(|d| d.as_deref().map(|d| postcard_bytes(&d.record)));
            p.departures.push((entry.id.as_bytes().to_vec(), v));
        }
        for id in changed.products {
            if let Some(Some(rec)) = w.products.get(&id) {
                p.products.push((id.into_bytes(), postcard_bytes(rec)));
            }
        }
        let mut groups = changed.log;
        // A product's runs in order, merged: readers search one entry per batch.
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        let mut merged: Vec<(Box<str>, Vec<u8>)> = Vec::with_capacity(groups.len());
        for (product, group) in groups {
            match merged.last_mut() {
                Some((p, to)) if *p == product => to.extend_from_slice(&group),
                _ => merged.push((product, group)),
            }
        }
        // The products re-priced are those with versions in `log`.
        p.current = merged
            .iter()
            .filter_map(|(product, _)| Some((current::key(product), w.prices.get(&**product)?.current.clone())))
            .collect();
        p.log = merged.into_iter().map(|(product, group)| (super::log_group_key(at, &product), group)).collect();
        p.starting = changed.starting.into_iter().collect();
        p.rule_sets = changed.rule_sets.into_iter().collect();
        p
    }
}

/// The [`available_price`] of the departure in `slot`.
fn price_in(entries: &[Entry], slot: Slot) -> Option<i64> {
    available_price(entries[slot.index()].offer.as_ref().and_then(Option::as_ref))
}

#[cfg(test)]
mod tests {
    use super::super::records::BoundComponent;
    use super::*;

    fn component(kind: &str, keys: &[&str]) -> BoundComponent {
        BoundComponent { kind: kind.into(), markup_bp: 0, keys: keys.iter().map(|k| Arc::from(*k)).collect() }
    }

    fn offer(version: u64, price: i64) -> Offer {
        Offer { version, status: Status::Available, price: Some(price), reason: None, components: Vec::new(), at: 0 }
    }

    /// The stored record of departure `id` that says what `o` says: a reopened working
    /// set reads offers back from these.
    fn stored_as(id: &str, o: &Offer) -> Vec<u8> {
        let (product, city, date) = super::super::departure_parts(id).expect("a departure id");
        let p = DeparturePrice {
            product: product.into(),
            city: city.into(),
            date: date.into(),
            status: o.status,
            price: o.price,
            reason: o.reason.clone(),
            currency: "CNY".into(),
            components: o.components.clone(),
            rules: BTreeMap::new(),
            version: o.version,
            cause: "e-1".into(),
            event_ts: "2026-11-22T10:00:00Z".into(),
            priced_at: "2026-11-22T10:00:00.004Z".into(),
        };
        p.borrowed(&mut Vec::new()).to_whole_stored()
    }

    #[test]
    fn a_definition_names_its_resources_by_slot_in_key_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = State::open(dir.path()).expect("opens");
        let mut w = state.writer();
        let dep = w.intern("P1:SHA:2026-12-01");
        let record = DepartureRecord {
            product: "P1".into(),
            city: "SHA".into(),
            date: pricing_sdk::Date::parse("2026-12-01").expect("date"),
            nights: 2,
            pax: 2,
            components: vec![
                component("hotel", &["H1:2026-12-01", "H1:2026-12-02"]),
                component("flight", &[]),
                component("flight", &["SHA-NRT:2026-12-01", "H1:2026-12-01"]),
            ],
        };
        w.put_departure(dep, Some(record));
        let def = w.departure(dep).expect("reads").expect("defined");
        let slots = |w: &mut Writer<'_>, kind: &str, keys: &[&str]| -> Vec<ResourceSlot> {
            keys.iter().map(|k| w.resource_slot(kind, k)).collect()
        };
        assert_eq!(def.resources(0), slots(&mut w, "hotel", &["H1:2026-12-01", "H1:2026-12-02"]));
        assert!(def.resources(1).is_empty());
        assert_eq!(def.resources(2), slots(&mut w, "flight", &["SHA-NRT:2026-12-01", "H1:2026-12-01"]));
        // One slot per (kind, key): the same key of another kind is another resource.
        assert_ne!(def.resources(0)[0], def.resources(2)[1]);
        assert_eq!(w.quotes().count(), 4);
    }

    /// A resource's quotes are encoded for the plugins when first priced after a
    /// change, so each change must show: a new supplier, a new quote from one already
    /// there, a deleted one.
    #[test]
    fn a_resource_encoded_for_the_plugins_follows_each_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = State::open(dir.path()).expect("opens");
        let mut w = state.writer();
        let slot = w.resource_slot("hotel", "H1:2026-12-01");
        let quote = |seq: u64, compact: &[u8]| QuoteRecord { seq, deleted: false, compact: compact.to_vec() };
        let encoded = |w: &Writer<'_>| w.resource(slot).expect("reads").encoded().clone();
        assert_eq!(encoded(&w), EncodedResource::default());
        w.put_quote(slot, "s2", quote(1, b"two")).expect("puts");
        assert_eq!(encoded(&w), EncodedResource::new([&b"two"[..]]));
        // Supplier order, whatever the order of the changes.
        w.put_quote(slot, "s1", quote(1, b"one")).expect("puts");
        assert_eq!(encoded(&w), EncodedResource::new([&b"one"[..], b"two"]));
        w.put_quote(slot, "s2", quote(2, b"TWO")).expect("puts");
        w.put_quote(slot, "s2", quote(3, b"two, again")).expect("puts");
        assert_eq!(encoded(&w), EncodedResource::new([&b"one"[..], b"two, again"]));
        w.put_quote(slot, "s1", QuoteRecord { seq: 2, deleted: true, compact: Vec::new() }).expect("puts");
        assert_eq!(encoded(&w), EncodedResource::new([&b"two, again"[..]]));
        assert_eq!(w.resource(slot).expect("reads").seq("s1"), Some(2), "a deleted quote keeps its seq");
    }

    /// Offers live with their departures; the product lists the departures that have
    /// one, and a first offer joins that list. Committed, they read back the same.
    #[test]
    fn offers_are_kept_by_departure_and_listed_by_product() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ids = ["P1:SHA:2026-12-02", "P1:PEK:2026-12-01", "P2:SHA:2026-12-01"];
        {
            let state = State::open(dir.path()).expect("opens");
            let mut w = state.writer();
            let slots: Vec<Slot> = ids.iter().map(|id| w.intern(id)).collect();
            assert_eq!(w.offer(slots[0]).expect("reads"), None);
            for (i, slot) in slots.iter().enumerate() {
                let o = offer(1, 100 * (i as i64 + 1));
                w.put_price(*slot, o.clone(), &stored_as(ids[i], &o)).expect("writes");
            }
            w.put_price(slots[0], offer(2, 150), &stored_as(ids[0], &offer(2, 150))).expect("writes");
            assert_eq!(w.offer(slots[0]).expect("reads"), Some(&offer(2, 150)));
            let listed: Vec<(&str, i64)> = w
                .product_prices("P1")
                .expect("reads")
                .offers()
                .map(|(city_date, o)| (city_date, o.price.unwrap_or_default()))
                .collect();
            assert_eq!(listed, [("PEK:2026-12-01", 200), ("SHA:2026-12-02", 150)]);
            w.finish().commit(&state).expect("commits");
        }
        let state = State::open(dir.path()).expect("reopens");
        let mut w = state.writer();
        let slot = w.intern(ids[0]);
        assert_eq!(w.offer(slot).expect("reads"), Some(&offer(2, 150)));
        assert_eq!(w.product_prices("P2").expect("reads").offers().count(), 1);
        // A version never committed is forgotten with the working set: what is read next
        // comes from fjall, as after a restart.
        w.put_price(slot, offer(3, 175), &stored_as(ids[0], &offer(3, 175))).expect("writes");
        drop(w);
        state.forget_working_set();
        let mut w = state.writer();
        let slot = w.intern(ids[0]);
        assert_eq!(w.offer(slot).expect("reads"), Some(&offer(2, 150)));
    }

    /// Each batch that writes versions gets the next number; each version's `log` key
    /// starts with it and its value ends with the number of the departure's version
    /// before. A batch that writes none takes no number, one dropped unfinished keeps
    /// the number it took, and a reopened state goes on after the last one stored.
    #[test]
    fn versions_are_logged_in_batch_order_and_linked_to_the_one_before() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b, c, d) = ("P1:SHA:2026-12-01", "P1:SHA:2026-12-02", "P2:SHA:2026-12-01", "P1:SHA:2026-12-03");
        let batch = |state: &State, puts: &[(&str, u64)]| {
            let mut w = state.writer();
            for (id, version) in puts {
                let slot = w.intern(id);
                w.put_price(slot, offer(*version, 100), &stored_as(id, &offer(*version, 100))).expect("writes");
            }
            w.finish().commit(state).expect("commits");
        };
        {
            let state = State::open(dir.path()).expect("opens");
            batch(&state, &[(a, 1), (b, 1)]);
            batch(&state, &[(a, 2)]);
            batch(&state, &[]);
            batch(&state, &[(a, 3)]);
        }
        let state = State::open(dir.path()).expect("reopens");
        assert_eq!(state.next_log_at().expect("reads"), 4);
        {
            let mut w = state.writer();
            let slot = w.intern(a);
            w.put_price(slot, offer(4, 100), &stored_as(a, &offer(4, 100))).expect("writes");
        }
        batch(&state, &[(b, 2)]);
        // A product's versions in two runs of one batch go into one entry.
        batch(&state, &[(b, 3), (c, 1), (d, 1)]);
        let logged: Vec<(Vec<u8>, Vec<u8>)> = state
            .ks
            .log
            .iter()
            .map(|kv| kv.into_inner().map(|(k, v)| (k.to_vec(), v.to_vec())).expect("reads"))
            .collect();
        let entry = |at: u64, product: &str, versions: &[(&str, u64, u64)]| {
            let mut group = Vec::new();
            for (id, version, before) in versions {
                let stored = stored_as(id, &offer(*version, 100));
                super::super::push_logged(&mut group, product_of(id).1, *version, *before, &stored);
            }
            (super::super::log_group_key(at, product), group)
        };
        let g = |at: u64| at | GROUPED;
        let expected = [
            entry(1, "P1", &[(a, 1, 0), (b, 1, 0)]),
            entry(2, "P1", &[(a, 2, g(1))]),
            entry(3, "P1", &[(a, 3, g(2))]),
            entry(5, "P1", &[(b, 2, g(1))]),
            entry(6, "P1", &[(b, 3, g(5)), (d, 1, 0)]),
            entry(6, "P2", &[(c, 1, 0)]),
        ];
        assert_eq!(logged, expected);
        let history: Vec<u64> = state.history(b).expect("reads").iter().map(|p| p.version).collect();
        assert_eq!(history, [1, 2, 3]);
        let offers = state.product_offers("P1").expect("reads");
        assert_eq!((offers["SHA:2026-12-01"].version, offers["SHA:2026-12-01"].at), (3, g(3)));
        assert_eq!((offers["SHA:2026-12-02"].version, offers["SHA:2026-12-02"].at), (3, g(6)));
        // Read from the same entry as the one before.
        assert_eq!((offers["SHA:2026-12-03"].version, offers["SHA:2026-12-03"].at), (1, g(6)));
    }
}
