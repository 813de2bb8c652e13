//! Engine state in fjall: one database, one journal, a keyspace per concern. A
//! micro-batch reads through a [`Pending`] overlay of its own writes and commits them,
//! with the input position it consumed, as one atomic fjall batch.
//!
//! | keyspace | key | value |
//! |---|---|---|
//! | `quotes` | `kind\0key\0supplier` | [`QuoteRecord`] |
//! | `products` | product | [`ProductRecord`] |
//! | `index` | `kind\0key\0departure` | empty: departure depends on resource |
//! | `departures` | departure | [`DepartureRecord`] |
//! | `prices` | departure | current [`DeparturePrice`] (JSON) |
//! | `history` | `departure\0version(u64 BE)` | every [`DeparturePrice`] (JSON) |
//! | `from_prices` | product | current [`ProductPrice`] (JSON) |
//! | `meta` | `position/<source>` | input position consumed |

mod records;

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::path::Path;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
pub use records::{
    BoundComponent, ComponentAmount, DeparturePrice, DepartureRecord, ProductPrice, ProductRecord, QuoteRecord, Status,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A state failure: storage, or a stored value that no longer decodes.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// fjall failed.
    #[error("state storage: {0}")]
    Storage(#[from] fjall::Error),
    /// A stored value does not decode (written by an incompatible version?).
    #[error("stored {what} does not decode: {why}")]
    Corrupt {
        /// Which keyspace.
        what: &'static str,
        /// The decoder's message.
        why: String,
    },
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, StateError>;

/// The engine's state, open on a data folder.
pub struct State {
    db: Database,
    quotes: Keyspace,
    products: Keyspace,
    index: Keyspace,
    departures: Keyspace,
    prices: Keyspace,
    history: Keyspace,
    from_prices: Keyspace,
    meta: Keyspace,
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

fn json_get<T: DeserializeOwned>(ks: &Keyspace, key: &[u8], what: &'static str) -> Result<Option<T>> {
    ks.get(key)?.map(|v| from_json(&v, what)).transpose()
}

fn postcard_bytes<T: Serialize>(v: &T) -> Vec<u8> {
    // Serialising plain structs into a Vec cannot fail.
    postcard::to_allocvec(v).unwrap_or_default()
}

fn json_bytes<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// `a\0b\0`: the prefix of every key under (a, b).
#[must_use]
pub fn pair_prefix(a: &str, b: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + b.len() + 2);
    k.extend_from_slice(a.as_bytes());
    k.push(0);
    k.extend_from_slice(b.as_bytes());
    k.push(0);
    k
}

fn triple(a: &str, b: &str, c: &str) -> Vec<u8> {
    let mut k = pair_prefix(a, b);
    k.extend_from_slice(c.as_bytes());
    k
}

fn history_key(departure: &str, version: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(departure.len() + 9);
    k.extend_from_slice(departure.as_bytes());
    k.push(0);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

fn tail_str(key: &[u8], prefix_len: usize) -> String {
    String::from_utf8_lossy(&key[prefix_len..]).into_owned()
}

impl State {
    /// Opens (or creates) the state in `folder`.
    pub fn open(folder: &Path) -> Result<Self> {
        let db = Database::builder(folder).open()?;
        let ks = |name: &str| db.keyspace(name, KeyspaceCreateOptions::default);
        Ok(State {
            quotes: ks("quotes")?,
            products: ks("products")?,
            index: ks("index")?,
            departures: ks("departures")?,
            prices: ks("prices")?,
            history: ks("history")?,
            from_prices: ks("from_prices")?,
            meta: ks("meta")?,
            db,
        })
    }

    /// The stored input position of `source`, if any.
    pub fn position(&self, source: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.meta.get(format!("position/{source}"))?.map(|v| v.to_vec()))
    }

    /// The current price of a departure.
    pub fn price(&self, departure: &str) -> Result<Option<DeparturePrice>> {
        json_get(&self.prices, departure.as_bytes(), "price")
    }

    /// Every current departure price of a product, in key order (city, then date).
    pub fn product_departure_prices(&self, product: &str) -> Result<Vec<DeparturePrice>> {
        let prefix = format!("{product}:");
        let mut out = Vec::new();
        for kv in self.prices.prefix(prefix.as_bytes()) {
            let (_, v) = kv.into_inner()?;
            out.push(from_json(&v, "price")?);
        }
        Ok(out)
    }

    /// Every stored version of a departure's price, oldest first.
    pub fn history(&self, departure: &str) -> Result<Vec<DeparturePrice>> {
        let mut prefix = departure.as_bytes().to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        for kv in self.history.prefix(&prefix) {
            let (_, v) = kv.into_inner()?;
            out.push(from_json(&v, "history")?);
        }
        Ok(out)
    }

    /// A product's current starting prices.
    pub fn product_price(&self, product: &str) -> Result<Option<ProductPrice>> {
        json_get(&self.from_prices, product.as_bytes(), "product price")
    }

    /// Every current departure price, in key order.
    pub fn all_prices(&self) -> impl Iterator<Item = Result<DeparturePrice>> + '_ {
        self.prices.iter().map(|kv| {
            let (_, v) = kv.into_inner()?;
            from_json(&v, "price")
        })
    }

    /// Bytes on disk of the whole state.
    pub fn disk_space(&self) -> Result<u64> {
        Ok(self.db.disk_space()?)
    }
}

/// A micro-batch's writes, readable before they are committed. Later writes to the
/// same key replace earlier ones (coalescing).
#[derive(Default)]
pub struct Pending {
    quotes: BTreeMap<Vec<u8>, QuoteRecord>,
    products: HashMap<String, ProductRecord>,
    index: BTreeMap<Vec<u8>, bool>,
    departures: HashMap<String, Option<DepartureRecord>>,
    prices: BTreeMap<String, DeparturePrice>,
    history: Vec<(Vec<u8>, Vec<u8>)>,
    from_prices: HashMap<String, ProductPrice>,
    positions: BTreeMap<String, Vec<u8>>,
}

impl Pending {
    /// The quote of (kind, key, supplier), pending or stored.
    pub fn quote(&self, state: &State, kind: &str, key: &str, supplier: &str) -> Result<Option<QuoteRecord>> {
        let k = triple(kind, key, supplier);
        match self.quotes.get(&k) {
            Some(q) => Ok(Some(q.clone())),
            None => postcard_get(&state.quotes, &k, "quote"),
        }
    }

    /// Records a quote.
    pub fn put_quote(&mut self, kind: &str, key: &str, supplier: &str, quote: QuoteRecord) {
        self.quotes.insert(triple(kind, key, supplier), quote);
    }

    /// The compact forms of every live supplier quote of a resource, in supplier order.
    pub fn resource_quotes(&self, state: &State, kind: &str, key: &str) -> Result<Vec<Vec<u8>>> {
        let prefix = pair_prefix(kind, key);
        let mut by_supplier: BTreeMap<Vec<u8>, QuoteRecord> = BTreeMap::new();
        for kv in state.quotes.prefix(&prefix) {
            let (k, v) = kv.into_inner()?;
            let q: QuoteRecord = from_postcard(&v, "quote")?;
            by_supplier.insert(k.to_vec(), q);
        }
        for (k, q) in self.quotes.range::<Vec<u8>, _>((Bound::Included(&prefix), Bound::Unbounded)) {
            if !k.starts_with(&prefix) {
                break;
            }
            by_supplier.insert(k.clone(), q.clone());
        }
        Ok(by_supplier.into_values().filter(|q| !q.deleted).map(|q| q.compact).collect())
    }

    /// A product, pending or stored.
    pub fn product(&self, state: &State, id: &str) -> Result<Option<ProductRecord>> {
        match self.products.get(id) {
            Some(p) => Ok(Some(p.clone())),
            None => postcard_get(&state.products, id.as_bytes(), "product"),
        }
    }

    /// Records a product.
    pub fn put_product(&mut self, id: &str, record: ProductRecord) {
        self.products.insert(id.to_owned(), record);
    }

    /// The departures that depend on a resource, pending or stored.
    pub fn dependents(&self, state: &State, kind: &str, key: &str) -> Result<Vec<String>> {
        let prefix = pair_prefix(kind, key);
        let mut found: BTreeMap<String, bool> = BTreeMap::new();
        for kv in state.index.prefix(&prefix) {
            let k = kv.key()?;
            found.insert(tail_str(&k, prefix.len()), true);
        }
        for (k, present) in self.index.range::<Vec<u8>, _>((Bound::Included(&prefix), Bound::Unbounded)) {
            if !k.starts_with(&prefix) {
                break;
            }
            found.insert(tail_str(k, prefix.len()), *present);
        }
        Ok(found.into_iter().filter_map(|(d, present)| present.then_some(d)).collect())
    }

    /// Adds or removes "departure depends on (kind, key)".
    pub fn set_dependency(&mut self, kind: &str, key: &str, departure: &str, present: bool) {
        self.index.insert(triple(kind, key, departure), present);
    }

    /// A departure's definition, pending or stored.
    pub fn departure(&self, state: &State, id: &str) -> Result<Option<DepartureRecord>> {
        match self.departures.get(id) {
            Some(d) => Ok(d.clone()),
            None => postcard_get(&state.departures, id.as_bytes(), "departure"),
        }
    }

    /// Sets (or with `None` removes) a departure's definition.
    pub fn put_departure(&mut self, id: &str, record: Option<DepartureRecord>) {
        self.departures.insert(id.to_owned(), record);
    }

    /// A departure's current price, pending or stored.
    pub fn price(&self, state: &State, id: &str) -> Result<Option<DeparturePrice>> {
        match self.prices.get(id) {
            Some(p) => Ok(Some(p.clone())),
            None => state.price(id),
        }
    }

    /// Records a new price version (current and history).
    pub fn put_price(&mut self, price: DeparturePrice) {
        let key = price.key();
        self.history.push((history_key(&key, price.version), json_bytes(&price)));
        self.prices.insert(key, price);
    }

    /// Every current departure price of a product, pending or stored.
    pub fn product_departure_prices(&self, state: &State, product: &str) -> Result<Vec<DeparturePrice>> {
        let prefix = format!("{product}:");
        let mut all: BTreeMap<String, DeparturePrice> =
            state.product_departure_prices(product)?.into_iter().map(|p| (p.key(), p)).collect();
        for (k, p) in self.prices.range::<String, _>((Bound::Included(&prefix), Bound::Unbounded)) {
            if !k.starts_with(&prefix) {
                break;
            }
            all.insert(k.clone(), p.clone());
        }
        Ok(all.into_values().collect())
    }

    /// A product's starting prices, pending or stored.
    pub fn product_price(&self, state: &State, product: &str) -> Result<Option<ProductPrice>> {
        match self.from_prices.get(product) {
            Some(p) => Ok(Some(p.clone())),
            None => state.product_price(product),
        }
    }

    /// Records a product's starting prices.
    pub fn put_product_price(&mut self, price: ProductPrice) {
        self.from_prices.insert(price.product.clone(), price);
    }

    /// Records the input position consumed, committed with the state it produced.
    pub fn set_position(&mut self, source: &str, position: Vec<u8>) {
        self.positions.insert(source.to_owned(), position);
    }

    /// Writes everything as one atomic batch and hands the journal to the OS, so a
    /// killed process loses nothing committed.
    pub fn commit(self, state: &State) -> Result<()> {
        let mut b = state.db.batch();
        for (k, q) in self.quotes {
            b.insert(&state.quotes, k, postcard_bytes(&q));
        }
        for (k, p) in self.products {
            b.insert(&state.products, k, postcard_bytes(&p));
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
                Some(d) => b.insert(&state.departures, k, postcard_bytes(&d)),
                None => b.remove(&state.departures, k),
            }
        }
        for (k, p) in self.prices {
            b.insert(&state.prices, k, json_bytes(&p));
        }
        for (k, v) in self.history {
            b.insert(&state.history, k, v);
        }
        for (k, p) in self.from_prices {
            b.insert(&state.from_prices, k, json_bytes(&p));
        }
        for (source, pos) in self.positions {
            b.insert(&state.meta, format!("position/{source}"), pos);
        }
        b.commit()?;
        state.db.persist(PersistMode::Buffer)?;
        Ok(())
    }
}
