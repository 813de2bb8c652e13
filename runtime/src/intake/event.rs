//! One input event: decoded, validated, or rejected with a precise reason.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use super::time::parse_rfc3339_millis;

/// Where an input record came from; dead-letter records carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Origin {
    /// A line of an NDJSON file (1-based).
    File {
        /// The file.
        path: String,
        /// The line number, from 1.
        line: u64,
    },
    /// A Kafka record.
    Kafka {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The record's offset.
        offset: i64,
    },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{path}:{line}"),
            Origin::Kafka { topic, partition, offset } => write!(f, "{topic}/{partition}@{offset}"),
        }
    }
}

/// What an event does to its (kind, key, supplier).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Insert or replace the quote (or product, or rule).
    Upsert,
    /// Remove it; its seq stays stored so older events stay stale.
    Delete,
}

/// A decoded, validated event.
#[derive(Clone, Debug)]
pub struct Event {
    /// Unique id, echoed as the cause of the prices it changes.
    pub id: String,
    /// `product` or a resource kind served by a plugin.
    pub kind: String,
    /// Resource or product key.
    pub key: String,
    /// Who quotes it; empty when the kind has no suppliers.
    pub supplier: String,
    /// Upsert or delete.
    pub op: Op,
    /// Grows per (kind, key, supplier).
    pub seq: u64,
    /// The supplier's change time, as given.
    pub ts: String,
    /// `ts` in milliseconds since the epoch.
    pub ts_ms: i64,
    /// Kind-specific payload as its JSON text (an object for upserts; `null` for
    /// deletes without one), handed to plugins as it came.
    pub data: Box<RawValue>,
}

/// Why an event was not applied. Each becomes a dead-letter record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The record is not JSON.
    #[error("not valid JSON: {0}")]
    NotJson(String),
    /// JSON, but not an object.
    #[error("not a JSON object")]
    NotObject,
    /// A required field is absent.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A field has the wrong type or form.
    #[error("field `{field}` must be {expected}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// No loaded plugin prices this kind.
    #[error("unknown kind {0:?}: no plugin prices it")]
    UnknownKind(String),
    /// A money amount or count below zero.
    #[error("negative amount in `{field}`: {value}")]
    Negative {
        /// Path of the field inside `data`.
        field: String,
        /// The value.
        value: i64,
    },
    /// Not the deployment's pricing currency.
    #[error("currency {got:?} is not the pricing currency {want:?} (no conversion)")]
    Currency {
        /// The event's currency.
        got: String,
        /// The deployment's.
        want: String,
    },
    /// A product definition that cannot be used.
    #[error("invalid product: {0}")]
    Product(String),
    /// The kind's plugin refused the data.
    #[error("rejected by plugin {plugin}: {reason}")]
    Plugin {
        /// `kind@version+hash`.
        plugin: String,
        /// The plugin's reason.
        reason: String,
    },
    /// The kind's plugin failed (trap, timeout, memory) while reading the event.
    #[error("plugin failure: {0}")]
    PluginFailure(String),
}

impl Rejection {
    /// A stable short name of the reason class, for counters and the `reason_class` of
    /// dead-letter records.
    #[must_use]
    pub fn class(&self) -> &'static str {
        match self {
            Rejection::NotJson(_) | Rejection::NotObject => "not_json",
            Rejection::MissingField(_) => "missing_field",
            Rejection::WrongType { .. } => "wrong_type",
            Rejection::UnknownKind(_) => "unknown_kind",
            Rejection::Negative { .. } => "negative_amount",
            Rejection::Currency { .. } => "currency_mismatch",
            Rejection::Product(_) => "invalid_product",
            Rejection::Plugin { .. } => "plugin_rejected",
            Rejection::PluginFailure(_) => "plugin_failure",
        }
    }
}

/// What decoding needs to know about the deployment.
pub struct Rules<'a> {
    /// Whether a plugin prices this kind.
    pub known_kind: &'a dyn Fn(&str) -> bool,
    /// Kinds whose events must name a supplier.
    pub supplier_required: &'a [String],
    /// The pricing currency.
    pub currency: &'a str,
}

/// An event record's fields, each kept as its JSON text until it is checked: each
/// field's problem has its own reason, and `data` is handed on as text. Parsing the
/// record into a `Value` instead, then printing `data` back for the plugin, was a tenth
/// of the pricing thread at large batches.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    kind: Option<&'a RawValue>,
    #[serde(borrow)]
    key: Option<&'a RawValue>,
    #[serde(borrow)]
    supplier: Option<&'a RawValue>,
    #[serde(borrow)]
    op: Option<&'a RawValue>,
    #[serde(borrow)]
    seq: Option<&'a RawValue>,
    #[serde(borrow)]
    ts: Option<&'a RawValue>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

/// Decodes and validates one event record against the contract.
pub fn decode(text: &str, rules: &Rules<'_>) -> Result<Event, Rejection> {
    // A JSON array would be taken field by field, in order: only an object is an event.
    let fields: Fields<'_> = match serde_json::from_str(text) {
        Ok(fields) if text.trim_start().starts_with('{') => fields,
        Ok(_) => return Err(Rejection::NotObject),
        Err(e) => {
            return Err(match serde_json::from_str::<Value>(text) {
                Ok(v) if !v.is_object() => Rejection::NotObject,
                // An object the fields could not be taken from (a field given twice).
                _ => Rejection::NotJson(e.to_string()),
            });
        }
    };

    let id = string(fields.id, "id")?;
    let kind = string(fields.kind, "kind")?;
    let key = string(fields.key, "key")?;
    let op = match string(fields.op, "op")?.as_str() {
        "upsert" => Op::Upsert,
        "delete" => Op::Delete,
        _ => return Err(Rejection::WrongType { field: "op", expected: "\"upsert\" or \"delete\"" }),
    };
    let seq = match fields.seq {
        None => return Err(Rejection::MissingField("seq")),
        Some(v) => serde_json::from_str::<u64>(v.get())
            .map_err(|_| Rejection::WrongType { field: "seq", expected: "a non-negative integer" })?,
    };
    let ts = string(fields.ts, "ts")?;
    let ts_ms =
        parse_rfc3339_millis(&ts).ok_or(Rejection::WrongType { field: "ts", expected: "an RFC 3339 timestamp" })?;
    let supplier = match fields.supplier {
        None => String::new(),
        Some(v) => serde_json::from_str::<String>(v.get())
            .map_err(|_| Rejection::WrongType { field: "supplier", expected: "a string" })?,
    };
    if kind != "product" && !(rules.known_kind)(&kind) {
        return Err(Rejection::UnknownKind(kind));
    }
    if supplier.is_empty() && rules.supplier_required.contains(&kind) {
        return Err(Rejection::MissingField("supplier"));
    }
    let data = match fields.data {
        Some(v) if v.get().starts_with('{') => v,
        None if op == Op::Delete => RawValue::NULL,
        None => return Err(Rejection::MissingField("data")),
        Some(_) => return Err(Rejection::WrongType { field: "data", expected: "an object" }),
    };
    check_data(data, rules.currency, kind != "product")?;
    Ok(Event { id, kind, key, supplier, op, seq, ts, ts_ms, data: data.to_owned() })
}

/// A field that must be a non-empty string.
fn string(raw: Option<&RawValue>, field: &'static str) -> Result<String, Rejection> {
    let raw = raw.ok_or(Rejection::MissingField(field))?;
    match serde_json::from_str::<String>(raw.get()) {
        Ok(s) if !s.is_empty() => Ok(s),
        _ => Err(Rejection::WrongType { field, expected: "a non-empty string" }),
    }
}

/// Checks `data` (an object, or `null`): its `currency`, if it has one, must be the
/// pricing currency; and a resource's amounts and counts (`negatives_refused`) may not
/// be negative. Plugins check their own fields too, but this reason is uniform across
/// kinds. One pass over the text, keeping nothing but the currency's place.
fn check_data(data: &RawValue, currency: &str, negatives_refused: bool) -> Result<(), Rejection> {
    let mut scan = Scan::default();
    serde_json::Deserializer::from_str(data.get())
        .deserialize_any(Top(&mut scan))
        .map_err(|e| Rejection::NotJson(e.to_string()))?;
    if let Some(got) = scan.currency {
        let text = got.get();
        // Nearly always the currency itself, without escapes: compared in place.
        let plain = text.len() == currency.len() + 2 && text.starts_with('"') && &text[1..text.len() - 1] == currency;
        if !plain {
            match serde_json::from_str::<String>(text) {
                Ok(c) if c == currency => {}
                Ok(c) => return Err(Rejection::Currency { got: c, want: currency.to_owned() }),
                Err(_) => return Err(Rejection::WrongType { field: "currency", expected: "a currency code string" }),
            }
        }
    }
    if negatives_refused && scan.negative {
        // Rare: parsed again to name the first negative field (in key order).
        let value: Value = serde_json::from_str(data.get()).map_err(|e| Rejection::NotJson(e.to_string()))?;
        if let Some((field, value)) = first_negative(&value, String::new()) {
            return Err(Rejection::Negative { field, value });
        }
    }
    Ok(())
}

/// What [`check_data`]'s pass found.
#[derive(Default)]
struct Scan<'a> {
    /// The last top-level `currency` value.
    currency: Option<&'a RawValue>,
    /// Whether any integer is negative.
    negative: bool,
}

/// Visits `data` itself: notes its top-level `currency` and walks every other value.
struct Top<'s, 'a>(&'s mut Scan<'a>);

impl<'de, 's> Visitor<'de> for Top<'s, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object or null")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(is_currency) = map.next_key_seed(IsCurrency)? {
            if is_currency {
                self.0.currency = Some(map.next_value()?);
            } else {
                map.next_value_seed(Walk(&mut self.0.negative))?;
            }
        }
        Ok(())
    }
}

/// Reads a key as whether it is `currency`, without keeping it.
struct IsCurrency;

impl<'de> DeserializeSeed<'de> for IsCurrency {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for IsCurrency {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, key: &str) -> Result<bool, E> {
        Ok(key == "currency")
    }
}

/// Walks any value, setting the flag on a negative integer.
struct Walk<'s>(&'s mut bool);

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        *self.0 |= v < 0;
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Walk(&mut *self.0))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(Walk(&mut *self.0))?;
        }
        Ok(())
    }
}

fn first_negative(v: &Value, path: String) -> Option<(String, i64)> {
    match v {
        Value::Number(n) => n.as_i64().filter(|x| *x < 0).map(|x| (path, x)),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, v)| first_negative(v, if path.is_empty() { k.clone() } else { format!("{path}.{k}") })),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| first_negative(v, format!("{path}[{i}]"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_decode(text: &str) -> Result<Event, Rejection> {
        let known = |k: &str| ["flight", "hotel"].contains(&k);
        let required = vec!["hotel".to_owned()];
        decode(text, &Rules { known_kind: &known, supplier_required: &required, currency: "CNY" })
    }

    const GOOD: &str = r#"{"id":"e-1","kind":"flight","key":"SHA/XMN/2026-12-01","supplier":"MU","op":"upsert","seq":42,"ts":"2026-11-22T10:00:00Z","data":{"fare":128000,"taxes":15000,"seats":9,"currency":"CNY"}}"#;

    #[test]
    fn decodes_the_contract_example() {
        let e = rules_decode(GOOD).expect("valid");
        assert_eq!((e.kind.as_str(), e.supplier.as_str(), e.seq, e.op), ("flight", "MU", 42, Op::Upsert));
    }

    #[test]
    fn each_bad_input_has_its_reason() {
        let cases: &[(&str, &str)] = &[
            (r#"{"id":"e-1","kind":"flight""#, "not_json"),
            (r#"[1,2]"#, "not_json"),
            (&GOOD.replace(r#""seq":42,"#, ""), "missing_field"),
            (&GOOD.replace(r#""seq":42"#, r#""seq":"42""#), "wrong_type"),
            (&GOOD.replace(r#""seq":42"#, r#""seq":-1"#), "wrong_type"),
            (&GOOD.replace("2026-11-22T10:00:00Z", "yesterday"), "wrong_type"),
            (&GOOD.replace(r#""op":"upsert""#, r#""op":"merge""#), "wrong_type"),
            (&GOOD.replace(r#""kind":"flight""#, r#""kind":"spaceship""#), "unknown_kind"),
            (&GOOD.replace("128000", "-100"), "negative_amount"),
            (&GOOD.replace("CNY", "USD"), "currency_mismatch"),
            (
                &GOOD.replace(r#""kind":"flight""#, r#""kind":"hotel""#).replace(r#""supplier":"MU","#, ""),
                "missing_field",
            ),
            (&GOOD.replace(r#","data":{"fare":128000,"taxes":15000,"seats":9,"currency":"CNY"}"#, ""), "missing_field"),
        ];
        for (text, class) in cases {
            let err = rules_decode(text).expect_err(text);
            assert_eq!(err.class(), *class, "{text}: {err}");
        }
    }

    /// Each field is taken from its own text: what the old whole-record parse accepted
    /// or refused, this does too, with the same reasons.
    #[test]
    fn fields_are_checked_from_their_own_text() {
        let data = r#"{"fare":128000,"taxes":15000,"seats":9,"currency":"CNY"}"#;
        let with_data = |d: &str| GOOD.replace(data, d);
        // Accepted: escapes, nulls where optional, whitespace, data passed on as written.
        let e = rules_decode(&GOOD.replace(r#""CNY""#, r#""\u0043NY""#)).expect("an escaped currency is the currency");
        assert_eq!(e.data.get(), r#"{"fare":128000,"taxes":15000,"seats":9,"currency":"\u0043NY"}"#);
        let e = rules_decode(&GOOD.replace(r#""supplier":"MU""#, r#""supplier":null"#)).expect("no supplier");
        assert_eq!(e.supplier, "");
        let e = rules_decode(&with_data(r#"{ "fare": 1.5, "legs": [ {"x": -0.5} ], "note": "-3" }"#))
            .expect("no negative integer");
        assert_eq!(e.data.get(), r#"{ "fare": 1.5, "legs": [ {"x": -0.5} ], "note": "-3" }"#);
        assert_eq!(rules_decode(&format!("  {GOOD}  ")).expect("whitespace").seq, 42);

        let refused: &[(&str, &str)] = &[
            (
                r#"["e-1","flight","SHA/XMN/2026-12-01","MU","upsert",42,"2026-11-22T10:00:00Z",{}]"#,
                "not a JSON object",
            ),
            (&GOOD.replace(r#""seq":42"#, r#""seq":42,"seq":43"#), "not valid JSON: duplicate field `seq`"),
            (&GOOD.replace(r#""id":"e-1""#, r#""id":null"#), "missing field `id`"),
            (&GOOD.replace(r#""id":"e-1""#, r#""id":"""#), "field `id` must be a non-empty string"),
            (&GOOD.replace(r#""key":"SHA/XMN/2026-12-01""#, r#""key":7"#), "field `key` must be a non-empty string"),
            (&GOOD.replace(r#""seq":42"#, r#""seq":4.2e1"#), "field `seq` must be a non-negative integer"),
            (&GOOD.replace(r#""supplier":"MU""#, r#""supplier":["MU"]"#), "field `supplier` must be a string"),
            (&with_data(r#"[1]"#), "field `data` must be an object"),
            (&with_data(r#"{"currency":9}"#), "field `currency` must be a currency code string"),
            (
                &with_data(r#"{"currency":"USD","fare":-1}"#),
                "currency \"USD\" is not the pricing currency \"CNY\" (no conversion)",
            ),
            (&with_data(r#"{"b":{"c":[0,-7]},"a":[{"d":-2}]}"#), "negative amount in `a[0].d`: -2"),
            (&with_data(r#"{"legs":[{"fare":5},{"fare":-9}]}"#), "negative amount in `legs[1].fare`: -9"),
        ];
        for (text, reason) in refused {
            let err = rules_decode(text).expect_err(text);
            let said = err.to_string();
            assert!(said.starts_with(reason), "{text}: {said}");
        }
    }

    #[test]
    fn a_delete_needs_no_data() {
        let text = GOOD
            .replace(r#""op":"upsert""#, r#""op":"delete""#)
            .replace(r#","data":{"fare":128000,"taxes":15000,"seats":9,"currency":"CNY"}"#, "");
        assert_eq!(rules_decode(&text).expect("valid").data.get(), "null");
    }
}
