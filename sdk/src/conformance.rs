//! The conformance cases file: what any implementation of a kind's rules, in any
//! language, must answer. The files for the reference kinds are generated from the Rust
//! reference plugins' own cases; `pricing conform` runs a component against one.
//!
//! A file is JSON:
//! ```json
//! {"kind": "insurance", "source": "...",
//!  "cases": [{"name": "...", "date": "2026-12-01", "nights": 3, "pax": 2,
//!             "markup_bp": 0, "subtotal": 0,
//!             "resources": [{"key": "basic", "quotes": [{"bands": [...]}]}],
//!             "expect": {"price": 2000}}],
//!  "dependencies": [{"name": "...", "binding": {"kind": "insurance", "plan": "basic"},
//!                    "departure": {"city": "SHA", "destination": "XMN",
//!                                  "date": "2026-12-30", "nights": 3, "pax": 2},
//!                    "expect": {"keys": ["basic"]}}]}
//! ```
//! `expect` of a pricing case is `{"price": N}` (per person, after markup), or
//! `"unavailable"` or `"invalid"` (any reason); of a dependency case `{"keys": [...]}` or
//! `"invalid"`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::date::{Date, DateError};
use crate::testing::{Case, CaseResource, Expect};
use crate::types::{Departure, PriceError};
use crate::wire::DepartureContext;

/// A kind's conformance cases.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// The kind the cases are for; a plugin of another kind fails the whole file.
    pub kind: String,
    /// Where the cases come from (the reference plugin and version), for readers.
    #[serde(default)]
    pub source: String,
    /// Pricing cases: one departure each.
    pub cases: Vec<PriceCase>,
    /// Which resource keys a binding and departure depend on.
    #[serde(default)]
    pub dependencies: Vec<DependencyCase>,
}

/// One departure priced with its resources, and the expected answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceCase {
    /// What the case checks, shown on failure.
    pub name: String,
    /// Departure date, `YYYY-MM-DD`.
    pub date: String,
    /// Nights of the package.
    pub nights: u32,
    /// Travellers priced together.
    pub pax: u32,
    /// Markup of the binding, basis points (components).
    #[serde(default)]
    pub markup_bp: i32,
    /// Running subtotal (adjustments).
    #[serde(default)]
    pub subtotal: i64,
    /// The resources in the order the rule's dependencies give their keys.
    pub resources: Vec<CaseResource>,
    /// The expected outcome.
    pub expect: Expect,
}

impl PriceCase {
    /// The case in the form the SDK's test runner takes.
    ///
    /// # Errors
    /// When `date` is not a date.
    pub fn to_case(&self) -> Result<Case, DateError> {
        Ok(Case {
            name: self.name.clone(),
            context: DepartureContext {
                date: Date::parse(&self.date)?,
                nights: self.nights,
                pax: self.pax,
                markup_bp: self.markup_bp,
                subtotal: self.subtotal,
            },
            resources: self.resources.clone(),
            expect: self.expect.clone(),
        })
    }
}

impl From<&Case> for PriceCase {
    fn from(case: &Case) -> Self {
        PriceCase {
            name: case.name.clone(),
            date: case.context.date.to_string(),
            nights: case.context.nights,
            pax: case.context.pax,
            markup_bp: case.context.markup_bp,
            subtotal: case.context.subtotal,
            resources: case.resources.clone(),
            expect: case.expect.clone(),
        }
    }
}

/// A departure as a dependency case gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseDeparture {
    /// Departure city code.
    pub city: String,
    /// The product's destination code.
    pub destination: String,
    /// Departure date, `YYYY-MM-DD`.
    pub date: String,
    /// Nights of the package.
    pub nights: u32,
    /// Travellers priced together.
    pub pax: u32,
}

impl CaseDeparture {
    /// The SDK departure.
    ///
    /// # Errors
    /// When `date` is not a date.
    pub fn to_departure(&self) -> Result<Departure, DateError> {
        Ok(Departure {
            city: self.city.clone(),
            destination: self.destination.clone(),
            date: Date::parse(&self.date)?,
            nights: self.nights,
            pax: self.pax,
        })
    }
}

impl From<&Departure> for CaseDeparture {
    fn from(d: &Departure) -> Self {
        CaseDeparture {
            city: d.city.clone(),
            destination: d.destination.clone(),
            date: d.date.to_string(),
            nights: d.nights,
            pax: d.pax,
        }
    }
}

/// What a dependency case expects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectKeys {
    /// Exactly these keys, in this order.
    Keys(Vec<String>),
    /// The binding is refused as invalid input, any reason.
    Invalid,
}

impl ExpectKeys {
    /// What a rule's answer means as an expectation.
    #[must_use]
    pub fn from_outcome(outcome: &Result<Vec<String>, PriceError>) -> Self {
        match outcome {
            Ok(keys) => ExpectKeys::Keys(keys.clone()),
            Err(_) => ExpectKeys::Invalid,
        }
    }

    /// Whether `outcome` is what this expects. An unavailable answer is never right:
    /// dependencies do not depend on quotes.
    #[must_use]
    pub fn accepts(&self, outcome: &Result<Vec<String>, PriceError>) -> bool {
        match (self, outcome) {
            (ExpectKeys::Keys(want), Ok(got)) => want == got,
            (ExpectKeys::Invalid, Err(PriceError::InvalidInput(_))) => true,
            _ => false,
        }
    }
}

/// A product binding and a departure, and the keys the departure depends on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DependencyCase {
    /// What the case checks, shown on failure.
    pub name: String,
    /// The product's component binding, as the product event carries it.
    pub binding: Value,
    /// The departure.
    pub departure: CaseDeparture,
    /// The expected keys, or a refusal.
    pub expect: ExpectKeys,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_case_survives_the_file_form() {
        let case = Case::new("two quotes", "2028-02-29", 3)
            .pax(3)
            .markup_bp(250)
            .resource("basic", vec![json!({"bands": [{"max_days": 7, "price": 100}]})])
            .expect(Expect::Price(103));
        let file_form = PriceCase::from(&case);
        let text = serde_json::to_string(&file_form).expect("serialises");
        assert!(text.contains(r#""date":"2028-02-29""#) && text.contains(r#""expect":{"price":103}"#), "{text}");
        let back: PriceCase = serde_json::from_str(&text).expect("parses");
        assert_eq!(back.to_case().expect("date"), case);
    }

    #[test]
    fn expectations_read_as_documented() {
        let e: Expect = serde_json::from_value(json!("unavailable")).expect("unavailable");
        assert_eq!(e, Expect::Unavailable);
        let k: ExpectKeys = serde_json::from_value(json!({"keys": ["A/B"]})).expect("keys");
        assert!(k.accepts(&Ok(vec!["A/B".into()])));
        assert!(!k.accepts(&Err(PriceError::invalid("no"))));
        assert!(ExpectKeys::Invalid.accepts(&Err(PriceError::invalid("no"))));
        assert!(!ExpectKeys::Invalid.accepts(&Err(PriceError::unavailable("no"))));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let bad = json!({"kind": "x", "cases": [], "extra": 1});
        assert!(serde_json::from_value::<CaseFile>(bad).is_err());
    }
}
