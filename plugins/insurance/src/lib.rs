//! Reference insurance rules (DOMAIN.md): a binding's `plan` is one resource `PLAN`, quoted
//! as a non-empty list of `bands` `{max_days, price}` strictly ascending by `max_days`; a trip
//! of `nights` nights lasts `nights + 1` days and costs, per person, the price of the first
//! band with `max_days >= nights + 1`; when several suppliers quote the plan the cheapest
//! covering price wins, and no quote or no covering band makes the departure unavailable.

use pricing_sdk::fields::{count, key_parts, money};
use pricing_sdk::{Binding, Context, Departure, Metadata, PriceError, PricingRule, Role, export_plugin};
use serde::{Deserialize, Serialize};

pub mod cases;

/// One duration band of a plan: trips of up to `max_days` days cost `price` per person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Band {
    /// Longest trip covered, in days.
    pub max_days: u32,
    /// Per-person price.
    pub price: i64,
}

/// One supplier's price list for a plan, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsuranceQuote {
    /// Non-empty, strictly ascending by `max_days`.
    pub bands: Vec<Band>,
}

impl InsuranceQuote {
    /// The price of the first band covering a trip of `days` days.
    fn covering(&self, days: u64) -> Option<i64> {
        self.bands.iter().find(|b| u64::from(b.max_days) >= days).map(|b| b.price)
    }
}

/// The insurance rules.
pub struct Insurance;

impl PricingRule for Insurance {
    type Quote = InsuranceQuote;

    fn metadata() -> Metadata {
        Metadata {
            kind: "insurance",
            version: env!("CARGO_PKG_VERSION"),
            role: Role::Component,
            description: "first band with max_days >= nights + 1; cheapest supplier covering the trip",
        }
    }

    fn decode_quote(key: &str, data: &serde_json::Value) -> Result<InsuranceQuote, PriceError> {
        key_parts::<1>(key, "PLAN")?;
        let items = match data.get("bands") {
            None | Some(serde_json::Value::Null) => return Err(PriceError::invalid("missing field `bands`")),
            Some(serde_json::Value::Array(items)) => items,
            Some(v) => return Err(PriceError::invalid(format!("`bands` must be a list, got {v}"))),
        };
        if items.is_empty() {
            return Err(PriceError::invalid("`bands` is empty"));
        }
        let mut bands: Vec<Band> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if !item.is_object() {
                return Err(PriceError::invalid(format!("band {i} must be an object, got {item}")));
            }
            let band = Band {
                max_days: count(item, "max_days").map_err(|e| in_band(i, e))?,
                price: money(item, "price").map_err(|e| in_band(i, e))?,
            };
            if let Some(prev) = bands.last().filter(|p| p.max_days >= band.max_days) {
                return Err(PriceError::invalid(format!(
                    "`bands` must be strictly ascending by max_days: band {i} has {} after {}",
                    band.max_days, prev.max_days
                )));
            }
            bands.push(band);
        }
        Ok(InsuranceQuote { bands })
    }

    fn dependencies(binding: &Binding, _d: &Departure) -> Result<Vec<String>, PriceError> {
        let plan = binding.str("plan")?;
        if plan.contains('/') {
            return Err(PriceError::invalid(format!("binding field `plan` must not contain '/': {plan:?}")));
        }
        Ok(vec![plan.to_owned()])
    }

    fn price(ctx: &Context, resources: &[&[InsuranceQuote]]) -> Result<i64, PriceError> {
        let [quotes] = resources else {
            return Err(PriceError::invalid(format!("insurance expects 1 plan, got {}", resources.len())));
        };
        if quotes.is_empty() {
            return Err(PriceError::unavailable("no quote for the insurance plan"));
        }
        let days = u64::from(ctx.nights) + 1;
        quotes
            .iter()
            .filter_map(|q| q.covering(days))
            .min()
            .ok_or_else(|| PriceError::unavailable(format!("no insurance band covers {days} days")))
    }
}

/// Prefixes a band field's error with the band's position.
fn in_band(i: usize, e: PriceError) -> PriceError {
    match e {
        PriceError::InvalidInput(why) => PriceError::invalid(format!("band {i}: {why}")),
        other => other,
    }
}

export_plugin!(Insurance);

#[cfg(test)]
mod tests {
    use super::*;
    use pricing_sdk::testing::{assert_cases, departure, dependencies};
    use serde_json::json;

    #[test]
    fn every_case_holds() {
        assert_cases::<Insurance>(&cases::cases());
    }

    #[test]
    fn depends_on_the_plan_only() {
        let binding = json!({"kind": "insurance", "plan": "basic", "markup_bp": 300});
        let sha = dependencies::<Insurance>(&binding, &departure("SHA", "XMN", "2026-12-30", 3, 2));
        let pek = dependencies::<Insurance>(&binding, &departure("PEK", "XMN", "2027-03-01", 7, 4));
        assert_eq!(sha, Ok(vec!["basic".to_owned()]));
        assert_eq!(sha, pek);
    }

    #[test]
    fn rejects_bad_bindings() {
        let d = departure("SHA", "XMN", "2026-12-01", 3, 2);
        for bad in [
            json!({"kind": "insurance"}),
            json!({"kind": "insurance", "plan": ""}),
            json!({"kind": "insurance", "plan": ["basic"]}),
            json!({"kind": "insurance", "plan": "basic/plus"}),
        ] {
            assert!(matches!(dependencies::<Insurance>(&bad, &d), Err(PriceError::InvalidInput(_))), "{bad}");
        }
    }

    #[test]
    fn rejects_bad_quotes() {
        let ok = json!({"bands": [{"max_days": 0, "price": 0}, {"max_days": 7, "price": 3000}]});
        assert_eq!(
            Insurance::decode_quote("basic", &ok),
            Ok(InsuranceQuote { bands: vec![Band { max_days: 0, price: 0 }, Band { max_days: 7, price: 3000 }] })
        );
        for bad in [
            json!({}),
            json!({"bands": null}),
            json!({"bands": []}),
            json!({"bands": {"max_days": 7, "price": 3000}}),
            json!({"bands": "7:3000"}),
            json!({"bands": [7, 3000]}),
            json!({"bands": [{"max_days": 7, "price": -1}]}),
            json!({"bands": [{"max_days": -7, "price": 3000}]}),
            json!({"bands": [{"price": 3000}]}),
            json!({"bands": [{"max_days": 7}]}),
            json!({"bands": [{"max_days": "7", "price": 3000}]}),
            json!({"bands": [{"max_days": 7, "price": 30.5}]}),
            json!({"bands": [{"max_days": 7, "price": 3000}, {"max_days": 7, "price": 4000}]}),
            json!({"bands": [{"max_days": 15, "price": 5000}, {"max_days": 7, "price": 3000}]}),
        ] {
            assert!(matches!(Insurance::decode_quote("basic", &bad), Err(PriceError::InvalidInput(_))), "{bad}");
        }
        for bad_key in ["", "basic/plus", "/basic", "basic/"] {
            assert!(matches!(Insurance::decode_quote(bad_key, &ok), Err(PriceError::InvalidInput(_))), "{bad_key:?}");
        }
    }

    #[test]
    fn band_errors_name_the_band() {
        let bad = json!({"bands": [{"max_days": 3, "price": 1}, {"max_days": 7, "price": -1}]});
        assert!(
            matches!(Insurance::decode_quote("basic", &bad), Err(PriceError::InvalidInput(r)) if r.starts_with("band 1"))
        );
    }
}
