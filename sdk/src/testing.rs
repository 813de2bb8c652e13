//! Native test support: describe a pricing case once, run it natively here and through
//! the wasm component in the host's conformance tests, and expect the same answer.

use serde_json::Value;

use crate::PricingRule;
use crate::date::Date;
use crate::driver;
use crate::types::{Departure, PriceError};
use crate::wire::{BatchBuilder, DepartureContext};

/// One resource of a case: its key and every supplier's quote data (empty: unknown).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseResource {
    /// The resource key, e.g. `SHA/XMN/2026-12-01`.
    pub key: String,
    /// Each supplier's `data` object, as the event carries it.
    pub quotes: Vec<Value>,
}

/// What a case must produce. In a cases file: `{"price": N}`, `"unavailable"` or
/// `"invalid"`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// This per-person amount (after markup, for components).
    Price(i64),
    /// [`PriceError::Unavailable`], any reason.
    Unavailable,
    /// [`PriceError::InvalidInput`] from a quote or the rule, any reason.
    Invalid,
}

impl Expect {
    /// Whether `outcome` is this: the same price, or the same class of refusal (any
    /// reason: implementations word them differently).
    #[must_use]
    pub fn accepts(&self, outcome: &Result<i64, PriceError>) -> bool {
        match (self, outcome) {
            (Expect::Price(want), Ok(got)) => want == got,
            (Expect::Unavailable, Err(PriceError::Unavailable(_)))
            | (Expect::Invalid, Err(PriceError::InvalidInput(_))) => true,
            _ => false,
        }
    }
}

/// A pricing case: one departure, its resources in dependency order, and the answer.
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct Case {
    /// What the case checks, shown on failure.
    pub name: String,
    /// The departure's pricing context.
    pub context: DepartureContext,
    /// The resources, in the order the rule's `dependencies` returns their keys.
    pub resources: Vec<CaseResource>,
    /// The expected outcome.
    pub expect: Expect,
}

impl Case {
    /// A case for a departure on `date` (`YYYY-MM-DD`) of `nights` nights, 2 adults,
    /// no markup, subtotal 0, no resources, expecting price 0.
    ///
    /// # Panics
    /// When `date` is not a date: cases are written by hand in tests.
    pub fn new(name: impl Into<String>, date: &str, nights: u32) -> Self {
        #[allow(clippy::expect_used)]
        let date = Date::parse(date).expect("case date");
        Case {
            name: name.into(),
            context: DepartureContext { date, nights, pax: 2, markup_bp: 0, subtotal: 0 },
            resources: Vec::new(),
            expect: Expect::Price(0),
        }
    }

    /// Travellers priced together.
    pub fn pax(mut self, pax: u32) -> Self {
        self.context.pax = pax;
        self
    }

    /// Markup of the binding, basis points.
    pub fn markup_bp(mut self, bp: i32) -> Self {
        self.context.markup_bp = bp;
        self
    }

    /// Running subtotal (adjustments).
    pub fn subtotal(mut self, subtotal: i64) -> Self {
        self.context.subtotal = subtotal;
        self
    }

    /// Adds the next resource with its supplier quotes.
    pub fn resource(mut self, key: &str, quotes: Vec<Value>) -> Self {
        self.resources.push(CaseResource { key: key.to_owned(), quotes });
        self
    }

    /// The expected outcome.
    pub fn expect(mut self, expect: Expect) -> Self {
        self.expect = expect;
        self
    }

    /// Whether `outcome` is what this case expects.
    #[must_use]
    pub fn accepts(&self, outcome: &Result<i64, PriceError>) -> bool {
        self.expect.accepts(outcome)
    }

    /// Runs the case with the given quote decoder and batch pricer. The host's tests
    /// pass the wasm component's; [`run_native`] passes the native driver.
    pub fn run_with(
        &self,
        mut decode: impl FnMut(&str, &str) -> Result<Vec<u8>, PriceError>,
        price: impl FnOnce(&[u8]) -> driver::BatchResult,
    ) -> Result<i64, PriceError> {
        let outcome = self
            .try_run_with(|key, data| Ok::<_, std::convert::Infallible>(decode(key, data)), |batch| Ok(price(batch)));
        match outcome {
            Ok(answer) => answer,
            Err(never) => match never {},
        }
    }

    /// [`Case::run_with`] for callers whose decoder and pricer can fail as a whole (a
    /// component that traps): the first such failure ends the case with `Err`.
    ///
    /// # Errors
    /// The decoder's or the pricer's own failure.
    pub fn try_run_with<E>(
        &self,
        mut decode: impl FnMut(&str, &str) -> Result<Result<Vec<u8>, PriceError>, E>,
        price: impl FnOnce(&[u8]) -> Result<driver::BatchResult, E>,
    ) -> Result<Result<i64, PriceError>, E> {
        let mut stored: Vec<Vec<Vec<u8>>> = Vec::new();
        for resource in &self.resources {
            let mut quotes = Vec::new();
            for q in &resource.quotes {
                match decode(&resource.key, &q.to_string())? {
                    Ok(quote) => quotes.push(quote),
                    Err(refused) => return Ok(Err(refused)),
                }
            }
            stored.push(quotes);
        }
        let mut batch = BatchBuilder::new();
        let refs: Vec<u32> = stored.iter().map(|qs| batch.add_resource(qs.iter().map(Vec::as_slice))).collect();
        batch.add_departure(&self.context, &refs);
        let result = price(batch.finish())?;
        Ok(match (result.errors.into_iter().next(), result.amounts.first()) {
            (Some((_, e)), _) => Err(e),
            (None, Some(&amount)) => Ok(amount),
            (None, None) => Err(PriceError::invalid("plugin returned no amount")),
        })
    }
}

/// Runs a case through the native driver: the same code the component runs.
pub fn run_native<R: PricingRule>(case: &Case) -> Result<i64, PriceError> {
    case.run_with(driver::decode_quote::<R>, driver::price_batch::<R>)
}

/// Runs every case natively and panics with all the failures listed.
///
/// # Panics
/// When any case's outcome differs from its expectation.
pub fn assert_cases<R: PricingRule>(cases: &[Case]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let outcome = run_native::<R>(case);
            (!case.accepts(&outcome)).then(|| format!("{}: expected {:?}, got {:?}", case.name, case.expect, outcome))
        })
        .collect();
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

/// The keys a rule's `dependencies` gives for a binding (JSON) and departure.
pub fn dependencies<R: PricingRule>(binding: &Value, departure: &Departure) -> Result<Vec<String>, PriceError> {
    driver::dependencies::<R>(&binding.to_string(), std::slice::from_ref(departure))
        .map(|mut all| all.pop().unwrap_or_default())
}

/// A departure for dependency tests.
///
/// # Panics
/// When `date` is not a date.
#[must_use]
pub fn departure(city: &str, destination: &str, date: &str, nights: u32, pax: u32) -> Departure {
    #[allow(clippy::expect_used)]
    let date = Date::parse(date).expect("departure date");
    Departure { city: city.to_owned(), destination: destination.to_owned(), date, nights, pax }
}
