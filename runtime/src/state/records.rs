//! What the state keyspaces hold.

use std::collections::BTreeMap;
use std::sync::Arc;

use pricing_sdk::Date;
use serde::{Deserialize, Serialize};

use super::json;
use crate::intake::ProductDef;

/// One supplier's quote for a resource, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteRecord {
    /// The seq of the last event applied; later events must be above it.
    pub seq: u64,
    /// Deleted quotes keep their seq so older events stay stale.
    pub deleted: bool,
    /// The plugin's compact form of the quote (empty when deleted).
    pub compact: Vec<u8>,
}

/// A product, as stored: its last seq and its definition (`None` once deleted).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRecord {
    /// The seq of the last product event applied.
    pub seq: u64,
    /// The definition; `None` after a delete.
    pub def: Option<ProductDef>,
}

/// A component of a departure with the resource keys its plugin said it depends on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundComponent {
    /// The resource kind (shared with the amounts priced for it).
    pub kind: Arc<str>,
    /// Markup in basis points.
    pub markup_bp: i32,
    /// Resource keys, in the order the plugin prices them.
    pub keys: Vec<Arc<str>>,
}

/// Everything needed to price one departure, written when its product is indexed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepartureRecord {
    /// Product key.
    pub product: String,
    /// Departure city.
    pub city: String,
    /// Departure date.
    pub date: Date,
    /// Nights.
    pub nights: u32,
    /// Travellers priced together.
    pub pax: u32,
    /// Components in the product's order.
    pub components: Vec<BoundComponent>,
}

impl DepartureRecord {
    /// Whether a component of `kind` prices from the resource `key`.
    #[must_use]
    pub fn depends_on(&self, kind: &str, key: &str) -> bool {
        self.components.iter().any(|c| &*c.kind == kind && c.keys.iter().any(|k| &**k == key))
    }
}

/// Sellability of a departure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Has a price.
    Available,
    /// Cannot be sold now; `reason` says why.
    Unavailable,
    /// The product no longer sells it.
    Retired,
}

impl Status {
    /// Its JSON, quotes included, as serde writes it.
    const fn json(self) -> &'static [u8] {
        match self {
            Status::Available => b"\"available\"",
            Status::Unavailable => b"\"unavailable\"",
            Status::Retired => b"\"retired\"",
        }
    }
}

/// One component's share of a departure price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentAmount {
    /// The kind.
    pub kind: Arc<str>,
    /// Per person, minor units; negative for discounts.
    pub amount: i64,
}

/// A departure price: the record emitted on `departure-prices` and stored as current
/// price and in history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeparturePrice {
    /// Product key.
    pub product: String,
    /// Departure city.
    pub city: String,
    /// Departure date, `YYYY-MM-DD`.
    pub date: String,
    /// Available, unavailable or retired.
    pub status: Status,
    /// Per-person price when available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<i64>,
    /// Why it is unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The pricing currency.
    pub currency: String,
    /// Per-component amounts, in the product's order.
    pub components: Vec<ComponentAmount>,
    /// Kind → `kind@version+hash` of the rules used.
    pub rules: BTreeMap<String, String>,
    /// Grows by one on each change of this departure.
    pub version: u64,
    /// Id of the event that caused this version.
    pub cause: String,
    /// That event's `ts`.
    pub event_ts: String,
    /// When the engine priced it (RFC 3339, UTC).
    pub priced_at: String,
}

/// The first stored form of a [`DeparturePrice`], which data folders written before
/// [`Compact`] hold: its fields in order, in postcard.
type StoredPrice = (
    String,
    String,
    String,
    Status,
    Option<i64>,
    Option<String>,
    String,
    Vec<ComponentAmount>,
    BTreeMap<String, String>,
    u64,
    String,
    String,
    String,
);

/// The tag that starts a [`Compact`] history value. A [`StoredPrice`] starts with the
/// length of a non-empty product key, never 0: both read back.
const COMPACT_TAG: u8 = 0;

/// The stored form of a [`DeparturePrice`] in history: postcard of its fields after
/// [`COMPACT_TAG`], without the three its key already holds (product, city, date) and
/// with its rules as a rule-set id (see `state/rules.rs`). About half the bytes of a
/// [`StoredPrice`]: every byte of a version is written to the journal, the memtable and
/// a blob file. Fields: status, price, reason, currency, components, rule set, version,
/// cause, event time, priced time. Read borrowing its strings from the bytes: decoding
/// allocates only the components' list.
type Compact<'a> =
    (Status, Option<i64>, Option<&'a str>, &'a str, Vec<ComponentRef<'a>>, u32, u64, &'a str, &'a str, &'a str);

/// A component amount of a [`Compact`] value, borrowed from its bytes.
#[derive(Deserialize)]
struct ComponentRef<'a> {
    kind: &'a str,
    amount: i64,
}

/// Decodes a history value in the [`Compact`] form; `None` when it is in the other.
fn compact(bytes: &[u8]) -> Option<Result<Compact<'_>, postcard::Error>> {
    match bytes.split_first() {
        Some((&COMPACT_TAG, rest)) => Some(postcard::from_bytes(rest)),
        _ => None,
    }
}

/// A history value, in either stored form.
pub(super) enum Stored {
    /// Whole (written before [`Compact`]).
    Whole(DeparturePrice),
    /// Compact: `price` lacks product, city, date and rules, which the caller fills in
    /// from the key and rule set `rule_set`.
    Compact {
        /// The fields the value holds.
        price: DeparturePrice,
        /// The id of its rules.
        rule_set: u32,
    },
}

impl Stored {
    /// Decodes a history value.
    pub(super) fn decode(bytes: &[u8]) -> Result<Self, postcard::Error> {
        let Some(compact) = compact(bytes) else {
            return DeparturePrice::from_stored(bytes).map(Stored::Whole);
        };
        let (status, price, reason, currency, components, rule_set, version, cause, event_ts, priced_at) = compact?;
        let price = DeparturePrice {
            product: String::new(),
            city: String::new(),
            date: String::new(),
            status,
            price,
            reason: reason.map(str::to_owned),
            currency: currency.to_owned(),
            components: components.iter().map(|c| ComponentAmount { kind: c.kind.into(), amount: c.amount }).collect(),
            rules: BTreeMap::new(),
            version,
            cause: cause.to_owned(),
            event_ts: event_ts.to_owned(),
            priced_at: priced_at.to_owned(),
        };
        Ok(Stored::Compact { price, rule_set })
    }
}

/// Appends the JSON of departure `key`'s (`PRODUCT:CITY:DATE`) version stored as
/// `stored` (compact: [`PriceRef::write_stored`]), given `rules_json`, the JSON of each
/// rule set by id: the same bytes as [`PriceRef::write_json`] of the version. Lets the
/// pipeline keep a batch's records in their stored form and a sink render them on
/// another thread. Fails, writing nothing, on bytes that are not a compact value, an
/// unknown rule set or a key without its three parts.
pub fn write_stored_json<'r>(
    key: &str,
    stored: &[u8],
    rules_json: impl FnOnce(u32) -> Option<&'r [u8]>,
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    let invalid = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("record of {key}: {why}"));
    let (product, city, date) = super::departure_parts(key).ok_or_else(|| invalid("not a departure key".into()))?;
    let compact = compact(stored).ok_or_else(|| invalid("not a compact stored version".into()))?;
    let (status, price, reason, currency, components, rule_set, version, cause, event_ts, priced_at) =
        compact.map_err(|e| invalid(e.to_string()))?;
    let rules = rules_json(rule_set).ok_or_else(|| invalid(format!("rule set {rule_set} unknown")))?;
    let price = PriceRef {
        product,
        city,
        date,
        status,
        price,
        reason,
        currency,
        components: &[],
        rules: &[],
        version,
        cause,
        event_ts,
        priced_at,
    };
    price.write_json_with(components.iter().map(|c| (c.kind, c.amount)), rules, out);
    Ok(())
}

/// The JSON of a rule set given as sorted (kind, rules) pairs, each kind once: that of
/// the `BTreeMap` of them.
#[must_use]
pub fn rules_json(rules: &[(&str, &str)]) -> Vec<u8> {
    // Serialising string pairs as a map cannot fail.
    serde_json::to_vec(&Map(rules)).unwrap_or_default()
}

/// A departure price record made of borrowed parts: what the pipeline writes, without
/// the dozen strings and the map an owned [`DeparturePrice`] would allocate (and drop)
/// for every version. Its JSON is exactly that of the owned record with the same fields.
pub struct PriceRef<'a> {
    /// Product key.
    pub product: &'a str,
    /// Departure city.
    pub city: &'a str,
    /// Departure date, `YYYY-MM-DD`.
    pub date: &'a str,
    /// Sellability.
    pub status: Status,
    /// Per-person price when available.
    pub price: Option<i64>,
    /// Why it is unavailable.
    pub reason: Option<&'a str>,
    /// The pricing currency.
    pub currency: &'a str,
    /// Per-component amounts, in the product's order.
    pub components: &'a [ComponentAmount],
    /// Kind → rules, sorted by kind, each kind once: written as a map.
    pub rules: &'a [(&'a str, &'a str)],
    /// Version.
    pub version: u64,
    /// Id of the event that caused this version.
    pub cause: &'a str,
    /// That event's `ts`.
    pub event_ts: &'a str,
    /// When the engine priced it.
    pub priced_at: &'a str,
}

impl PriceRef<'_> {
    /// Appends the history value to `out` (see [`Compact`]), naming the record's rules by
    /// `rule_set`: a caller encoding many records reuses one buffer instead of growing a
    /// new one from empty for each.
    pub fn write_stored(&self, rule_set: u32, out: &mut Vec<u8>) {
        out.push(COMPACT_TAG);
        let fields = (
            self.status,
            self.price,
            self.reason,
            self.currency,
            self.components,
            rule_set,
            self.version,
            self.cause,
            self.event_ts,
            self.priced_at,
        );
        // Serialising strings and integers into a Vec cannot fail.
        if let Ok(extended) = postcard::to_extend(&fields, std::mem::take(out)) {
            *out = extended;
        }
    }

    /// The record in the first stored form ([`StoredPrice`]), as data folders written
    /// before [`Compact`] hold it.
    #[cfg(test)]
    pub(crate) fn to_whole_stored(&self) -> Vec<u8> {
        let fields = (
            self.product,
            self.city,
            self.date,
            self.status,
            self.price,
            self.reason,
            self.currency,
            self.components,
            Map(self.rules),
            self.version,
            self.cause,
            self.event_ts,
            self.priced_at,
        );
        postcard::to_allocvec(&fields).unwrap_or_default()
    }

    /// The JSON record, as emitted.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_json(&rules_json(self.rules), &mut out);
        out
    }

    /// Appends the JSON record to `out`, given its rules' JSON (`rules_json(self.rules)`,
    /// which the writer keeps per rule set): the bytes serde_json writes for the owned
    /// [`DeparturePrice`] with the same fields, written without serde (see `json.rs`).
    pub fn write_json(&self, rules_json: &[u8], out: &mut Vec<u8>) {
        self.write_json_with(self.components.iter().map(|c| (&*c.kind, c.amount)), rules_json, out);
    }

    /// [`PriceRef::write_json`] with the components given apart (`self.components` is
    /// not read).
    fn write_json_with<'c>(
        &self,
        components: impl Iterator<Item = (&'c str, i64)>,
        rules_json: &[u8],
        out: &mut Vec<u8>,
    ) {
        json::string_member(out, b"{\"product\":", self.product);
        json::string_member(out, b",\"city\":", self.city);
        json::string_member(out, b",\"date\":", self.date);
        out.extend_from_slice(b",\"status\":");
        out.extend_from_slice(self.status.json());
        if let Some(price) = self.price {
            json::int_member(out, b",\"price\":", price);
        }
        if let Some(reason) = self.reason {
            json::string_member(out, b",\"reason\":", reason);
        }
        json::string_member(out, b",\"currency\":", self.currency);
        out.extend_from_slice(b",\"components\":[");
        for (i, (kind, amount)) in components.enumerate() {
            json::string_member(out, if i == 0 { b"{\"kind\":" } else { b",{\"kind\":" }, kind);
            json::int_member(out, b",\"amount\":", amount);
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"rules\":");
        out.extend_from_slice(rules_json);
        json::int_member(out, b",\"version\":", self.version);
        json::string_member(out, b",\"cause\":", self.cause);
        json::string_member(out, b",\"event_ts\":", self.event_ts);
        json::string_member(out, b",\"priced_at\":", self.priced_at);
        out.push(b'}');
    }

    /// `PRODUCT:CITY:DATE`.
    #[must_use]
    pub fn key(&self) -> String {
        format!("{}:{}:{}", self.product, self.city, self.date)
    }
}

/// Sorted pairs serialised as a map, as a `BTreeMap` of them would be.
struct Map<'a>(&'a [(&'a str, &'a str)]);

impl Serialize for Map<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl DeparturePrice {
    /// The record as borrowed parts; `rules` is filled with its rules and borrowed.
    #[must_use]
    pub fn borrowed<'a>(&'a self, rules: &'a mut Vec<(&'a str, &'a str)>) -> PriceRef<'a> {
        rules.extend(self.rules.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        PriceRef {
            product: &self.product,
            city: &self.city,
            date: &self.date,
            status: self.status,
            price: self.price,
            reason: self.reason.as_deref(),
            currency: &self.currency,
            components: &self.components,
            rules,
            version: self.version,
            cause: &self.cause,
            event_ts: &self.event_ts,
            priced_at: &self.priced_at,
        }
    }

    /// Decodes the first stored form ([`StoredPrice`]).
    pub fn from_stored(bytes: &[u8]) -> Result<Self, postcard::Error> {
        let (
            product,
            city,
            date,
            status,
            price,
            reason,
            currency,
            components,
            rules,
            version,
            cause,
            event_ts,
            priced_at,
        ): StoredPrice = postcard::from_bytes(bytes)?;
        Ok(DeparturePrice {
            product,
            city,
            date,
            status,
            price,
            reason,
            currency,
            components,
            rules,
            version,
            cause,
            event_ts,
            priced_at,
        })
    }

    /// `PRODUCT:CITY:DATE`.
    #[must_use]
    pub fn key(&self) -> String {
        format!("{}:{}:{}", self.product, self.city, self.date)
    }
}

/// A product's starting prices: the record emitted on `product-prices`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductPrice {
    /// Product key.
    pub product: String,
    /// The cheapest available departure's price; `None` when none is available.
    pub from_price: Option<i64>,
    /// Its city.
    pub city: Option<String>,
    /// Its date.
    pub date: Option<String>,
    /// Cheapest available price per departure city.
    pub per_city: BTreeMap<String, i64>,
    /// Available departures counted.
    pub available: u64,
    /// The pricing currency.
    pub currency: String,
    /// Grows by one on each change.
    pub version: u64,
    /// Id of the event that caused this version.
    pub cause: String,
    /// That event's `ts`.
    pub event_ts: String,
    /// When the engine computed it.
    pub priced_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(reason: Option<&str>) -> DeparturePrice {
        DeparturePrice {
            product: "P1".into(),
            city: "SHA".into(),
            date: "2026-12-01".into(),
            status: if reason.is_some() { Status::Unavailable } else { Status::Available },
            price: reason.is_none().then_some(356_000),
            reason: reason.map(str::to_owned),
            currency: "CNY".into(),
            components: vec![
                ComponentAmount { kind: "flight".into(), amount: 290_000 },
                ComponentAmount { kind: "discount".into(), amount: -3_000 },
            ],
            rules: [("flight", "flight@1.0.0+1a2b3c4d"), ("discount", "discount@2.0.0+99")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            version: 7,
            cause: "e-1".into(),
            event_ts: "2026-11-22T10:00:00Z".into(),
            priced_at: "2026-11-22T10:00:00.004Z".into(),
        }
    }

    /// Consumers read the borrowed form's JSON, and tests write the first stored form
    /// from it as old data folders hold it: both must be the owned record's, byte for byte.
    #[test]
    fn the_borrowed_form_writes_the_owned_records_json_and_stored_bytes() {
        // The JSON is written by hand: strings to escape, no price, no components and
        // no rules must come out as serde writes them too.
        let retired = DeparturePrice {
            status: Status::Retired,
            price: None,
            components: Vec::new(),
            rules: BTreeMap::new(),
            cause: "e-\u{1}\"2\"\\".into(),
            ..price(None)
        };
        for p in [price(None), price(Some("hotel: \"no\" rooms\n€")), retired] {
            let mut rules = Vec::new();
            let r = p.borrowed(&mut rules);
            assert_eq!(String::from_utf8(r.to_json()).expect("utf-8"), serde_json::to_string(&p).expect("json"));
            let owned: StoredPrice = (
                p.product.clone(),
                p.city.clone(),
                p.date.clone(),
                p.status,
                p.price,
                p.reason.clone(),
                p.currency.clone(),
                p.components.clone(),
                p.rules.clone(),
                p.version,
                p.cause.clone(),
                p.event_ts.clone(),
                p.priced_at.clone(),
            );
            assert_eq!(r.to_whole_stored(), postcard::to_allocvec(&owned).expect("postcard"));
            assert_eq!(DeparturePrice::from_stored(&r.to_whole_stored()).expect("decodes"), p);
            assert_eq!(r.key(), p.key());
        }
    }

    /// A compact history value holds every field but those of the key and the rules,
    /// which it names by id; a value in the first form still decodes whole.
    #[test]
    fn history_values_decode_in_both_stored_forms() {
        for p in [price(None), price(Some("hotel: no rooms"))] {
            let mut rules = Vec::new();
            let r = p.borrowed(&mut rules);
            let mut compact = Vec::new();
            r.write_stored(41, &mut compact);
            let whole = r.to_whole_stored();
            assert!(compact.len() * 3 < whole.len() * 2, "{} bytes against {}", compact.len(), whole.len());
            let Ok(Stored::Compact { price: read, rule_set }) = Stored::decode(&compact) else {
                panic!("a compact value decodes as compact")
            };
            assert_eq!(rule_set, 41);
            let filled = DeparturePrice {
                product: p.product.clone(),
                city: p.city.clone(),
                date: p.date.clone(),
                rules: p.rules.clone(),
                ..read
            };
            assert_eq!(filled, p);
            assert!(matches!(Stored::decode(&whole), Ok(Stored::Whole(w)) if w == p));
        }
        let rules = [("discount", "discount@2.0.0+99"), ("flight", "flight@1.0.0+1a2b3c4d")];
        assert_eq!(rules_json(&rules), serde_json::to_vec(&price(None).rules).expect("json"));
    }
}
