//! The generic side of every plugin: turns the WIT calls into calls of one
//! [`PricingRule`] impl. The export macro calls these; the host's native benchmark
//! and the conformance tests call them directly, so native and wasm run the same code.

use crate::PricingRule;
use crate::date::Date;
use crate::money::apply_markup;
use crate::types::{Binding, Context, Departure, PriceError, Role};
use crate::wire::{Reader, WireError};

/// The answer to a pricing batch, in SDK types.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchResult {
    /// One amount per departure (0 where `errors` lists it).
    pub amounts: Vec<i64>,
    /// (position in the batch, error) for departures that could not be priced.
    pub errors: Vec<(u32, PriceError)>,
}

/// Validates a quote's JSON and returns its compact stored form.
pub fn decode_quote<R: PricingRule>(key: &str, data: &str) -> Result<Vec<u8>, PriceError> {
    let value: serde_json::Value =
        serde_json::from_str(data).map_err(|e| PriceError::invalid(format!("quote data is not JSON: {e}")))?;
    let quote = R::decode_quote(key, &value)?;
    postcard::to_allocvec(&quote).map_err(|e| PriceError::invalid(format!("quote does not encode: {e}")))
}

/// The resource keys each departure depends on, for one binding.
pub fn dependencies<R: PricingRule>(binding: &str, departures: &[Departure]) -> Result<Vec<Vec<String>>, PriceError> {
    let binding = Binding::parse(binding)?;
    departures.iter().map(|d| R::dependencies(&binding, d)).collect()
}

/// Builds an SDK [`Departure`] from the WIT fields, checking the date.
pub fn departure(
    city: String,
    destination: String,
    date: &str,
    nights: u32,
    pax: u32,
) -> Result<Departure, PriceError> {
    let date = Date::parse(date).map_err(|e| PriceError::invalid(e.to_string()))?;
    Ok(Departure { city, destination, date, nights, pax })
}

/// Prices a batch in the wire format. A malformed buffer yields no amounts and one
/// error saying why; the host treats a count mismatch as a broken plugin.
pub fn price_batch<R: PricingRule>(batch: &[u8]) -> BatchResult {
    price_batch_checked::<R>(batch).unwrap_or_else(|WireError(why)| BatchResult {
        amounts: Vec::new(),
        errors: vec![(0, PriceError::invalid(format!("malformed batch: {why}")))],
    })
}

fn price_batch_checked<R: PricingRule>(batch: &[u8]) -> Result<BatchResult, WireError> {
    let role = R::metadata().role;
    let (mut reader, n_resources, n_departures) = Reader::open(batch)?;
    // Counts come from the buffer: never let them size an allocation beyond what the
    // buffer could possibly hold.
    let bound = |n: u32| (n as usize).min(batch.len() / 4);

    // Each resource's quotes are decoded once per batch, however many departures use it,
    // into one flat vector: one allocation per batch instead of one per resource, which
    // matters most inside wasm where allocation is slower.
    let mut quotes: Vec<R::Quote> = Vec::with_capacity(bound(n_resources.saturating_mul(2)));
    let mut spans: Vec<Result<(u32, u32), String>> = Vec::with_capacity(bound(n_resources));
    for _ in 0..n_resources {
        let n_quotes = reader.resource()?;
        let start = quotes.len() as u32;
        let mut broken = None;
        for _ in 0..n_quotes {
            match postcard::from_bytes(reader.quote()?) {
                Ok(q) => quotes.push(q),
                Err(e) => broken = Some(format!("stored quote does not decode: {e}")),
            }
        }
        spans.push(broken.map_or(Ok((start, quotes.len() as u32)), Err));
    }

    let mut out = BatchResult { amounts: Vec::with_capacity(bound(n_departures)), errors: Vec::new() };
    let mut resources: Vec<&[R::Quote]> = Vec::with_capacity(8);
    for index in 0..n_departures {
        let (dep, n_refs) = reader.departure()?;
        resources.clear();
        let mut broken: Option<String> = None;
        for r in reader.references(n_refs)? {
            match spans.get(r as usize) {
                Some(Ok((start, end))) => resources.push(&quotes[*start as usize..*end as usize]),
                Some(Err(why)) => broken = Some(why.clone()),
                None => broken = Some(format!("resource index {r} out of range")),
            }
        }
        let ctx = Context {
            date: dep.date,
            nights: dep.nights,
            pax: dep.pax,
            subtotal: if role == Role::Adjustment { dep.subtotal } else { 0 },
        };
        let priced = match broken {
            Some(why) => Err(PriceError::InvalidInput(why)),
            None => R::price(&ctx, &resources),
        };
        match priced {
            Ok(amount) if role == Role::Component => out.amounts.push(apply_markup(amount, dep.markup_bp)),
            Ok(amount) => out.amounts.push(amount),
            Err(e) => {
                out.amounts.push(0);
                out.errors.push((index, e));
            }
        }
    }
    Ok(out)
}
