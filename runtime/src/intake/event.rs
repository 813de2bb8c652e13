//! One input event: decoded, validated, or rejected with a precise reason.

use serde::Serialize;
use serde_json::{Map, Value};

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
#[derive(Clone, Debug, PartialEq)]
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
    /// Kind-specific payload (an object for upserts; `Null` for deletes without one).
    pub data: Value,
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

/// Decodes and validates one event record against the contract.
pub fn decode(text: &str, rules: &Rules<'_>) -> Result<Event, Rejection> {
    let value: Value = serde_json::from_str(text).map_err(|e| Rejection::NotJson(e.to_string()))?;
    let Value::Object(obj) = value else { return Err(Rejection::NotObject) };

    let id = string(&obj, "id")?;
    let kind = string(&obj, "kind")?;
    let key = string(&obj, "key")?;
    let op = match string(&obj, "op")?.as_str() {
        "upsert" => Op::Upsert,
        "delete" => Op::Delete,
        _ => return Err(Rejection::WrongType { field: "op", expected: "\"upsert\" or \"delete\"" }),
    };
    let seq = match obj.get("seq") {
        None | Some(Value::Null) => return Err(Rejection::MissingField("seq")),
        Some(v) => v.as_u64().ok_or(Rejection::WrongType { field: "seq", expected: "a non-negative integer" })?,
    };
    let ts = string(&obj, "ts")?;
    let ts_ms =
        parse_rfc3339_millis(&ts).ok_or(Rejection::WrongType { field: "ts", expected: "an RFC 3339 timestamp" })?;
    let supplier = match obj.get("supplier") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(Rejection::WrongType { field: "supplier", expected: "a string" }),
    };
    if kind != "product" && !(rules.known_kind)(&kind) {
        return Err(Rejection::UnknownKind(kind));
    }
    if supplier.is_empty() && rules.supplier_required.contains(&kind) {
        return Err(Rejection::MissingField("supplier"));
    }
    let data = match obj.get("data") {
        Some(v @ Value::Object(_)) => v.clone(),
        None | Some(Value::Null) if op == Op::Delete => Value::Null,
        None | Some(Value::Null) => return Err(Rejection::MissingField("data")),
        Some(_) => return Err(Rejection::WrongType { field: "data", expected: "an object" }),
    };
    if let Some(currency) = data.get("currency") {
        match currency.as_str() {
            Some(c) if c == rules.currency => {}
            Some(c) => return Err(Rejection::Currency { got: c.to_owned(), want: rules.currency.to_owned() }),
            None => return Err(Rejection::WrongType { field: "currency", expected: "a currency code string" }),
        }
    }
    if kind != "product" {
        // Resource data holds amounts and counts only; none may be negative. Plugins check
        // their own fields too, but this reason is uniform across kinds.
        if let Some((field, value)) = first_negative(&data, String::new()) {
            return Err(Rejection::Negative { field, value });
        }
    }
    Ok(Event { id, kind, key, supplier, op, seq, ts, ts_ms, data })
}

fn string(obj: &Map<String, Value>, field: &'static str) -> Result<String, Rejection> {
    match obj.get(field) {
        None | Some(Value::Null) => Err(Rejection::MissingField(field)),
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(_) => Err(Rejection::WrongType { field, expected: "a non-empty string" }),
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

    #[test]
    fn a_delete_needs_no_data() {
        let text = GOOD
            .replace(r#""op":"upsert""#, r#""op":"delete""#)
            .replace(r#","data":{"fare":128000,"taxes":15000,"seats":9,"currency":"CNY"}"#, "");
        assert_eq!(rules_decode(&text).expect("valid").data, Value::Null);
    }
}
