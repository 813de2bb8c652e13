//! The SDK's domain types: what a plugin author reads and returns.

use std::fmt;

use crate::date::Date;

/// How a plugin's result enters the departure price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Prices a component (flight, hotel, ...). The host sums components; the SDK applies
    /// the binding's `markup_bp` to the amount the rule returns.
    Component,
    /// Adjusts the running subtotal (discounts). Returns a signed amount, usually <= 0.
    Adjustment,
}

/// What a plugin says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// The resource kind priced, e.g. `"flight"`: lowercase `[a-z][a-z0-9-]*`.
    pub kind: &'static str,
    /// Semantic version of the rules. `env!("CARGO_PKG_VERSION")` is the usual choice.
    pub version: &'static str,
    /// Component or adjustment.
    pub role: Role,
    /// One line for operators.
    pub description: &'static str,
}

/// Why a quote, a binding or a departure cannot be accepted or priced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PriceError {
    /// The departure cannot be sold now (no seats, no quote, ...).
    Unavailable(String),
    /// The input is malformed or breaks the rule's contract.
    InvalidInput(String),
}

impl PriceError {
    /// Shorthand for [`PriceError::Unavailable`].
    pub fn unavailable(reason: impl Into<String>) -> Self {
        PriceError::Unavailable(reason.into())
    }

    /// Shorthand for [`PriceError::InvalidInput`].
    pub fn invalid(reason: impl Into<String>) -> Self {
        PriceError::InvalidInput(reason.into())
    }
}

impl fmt::Display for PriceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PriceError::Unavailable(r) => write!(f, "unavailable: {r}"),
            PriceError::InvalidInput(r) => write!(f, "invalid input: {r}"),
        }
    }
}

impl std::error::Error for PriceError {}

/// A departure as its product defines it; given to [`crate::PricingRule::dependencies`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Departure {
    /// Departure city code, e.g. `SHA`.
    pub city: String,
    /// The product's destination code, e.g. `XMN`.
    pub destination: String,
    /// Departure date.
    pub date: Date,
    /// Nights of the package.
    pub nights: u32,
    /// Travellers priced together; prices are per person.
    pub pax: u32,
}

/// What [`crate::PricingRule::price`] knows about the departure it prices. No strings:
/// this is the per-departure hot path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    /// Departure date.
    pub date: Date,
    /// Nights of the package.
    pub nights: u32,
    /// Travellers priced together; prices are per person.
    pub pax: u32,
    /// For adjustments: the running subtotal (per person, minor units) they apply to.
    /// Always 0 for components.
    pub subtotal: i64,
}

/// One component binding of a product, e.g. `{"kind":"hotel","hotel":"H88","markup_bp":300}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding(serde_json::Map<String, serde_json::Value>);

impl Binding {
    /// Parses a binding from JSON text; it must be an object.
    pub fn parse(text: &str) -> Result<Self, PriceError> {
        match serde_json::from_str(text) {
            Ok(serde_json::Value::Object(map)) => Ok(Binding(map)),
            Ok(_) => Err(PriceError::invalid("binding is not a JSON object")),
            Err(e) => Err(PriceError::invalid(format!("binding is not JSON: {e}"))),
        }
    }

    /// Any field, as JSON.
    #[must_use]
    pub fn get(&self, field: &str) -> Option<&serde_json::Value> {
        self.0.get(field)
    }

    /// A required string field.
    pub fn str(&self, field: &str) -> Result<&str, PriceError> {
        match self.0.get(field) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s),
            Some(_) => Err(PriceError::invalid(format!("binding field `{field}` must be a non-empty string"))),
            None => Err(PriceError::invalid(format!("binding lacks field `{field}`"))),
        }
    }

    /// A required list of strings.
    pub fn str_list(&self, field: &str) -> Result<Vec<&str>, PriceError> {
        let bad = || PriceError::invalid(format!("binding field `{field}` must be a list of strings"));
        match self.0.get(field) {
            Some(serde_json::Value::Array(items)) => {
                items.iter().map(|v| v.as_str().filter(|s| !s.is_empty()).ok_or_else(bad)).collect()
            }
            Some(_) => Err(bad()),
            None => Err(PriceError::invalid(format!("binding lacks field `{field}`"))),
        }
    }
}

impl From<serde_json::Map<String, serde_json::Value>> for Binding {
    fn from(map: serde_json::Map<String, serde_json::Value>) -> Self {
        Binding(map)
    }
}
