//! Reference cruise rules (DOMAIN.md): a binding's `ship` and `cabin` name one resource
//! `SHIP/D/CABIN`, the sailing on the departure date D; it costs, per person,
//! `per_person + port_fees` of the cheapest supplier with at least one cabin left
//! (`cabins >= 1`); no such supplier, or no quote at all, makes the departure unavailable.

use pricing_sdk::fields::{count, key_parts, money};
use pricing_sdk::{Binding, Context, Date, Departure, Metadata, PriceError, PricingRule, Role, export_plugin};
use serde::{Deserialize, Serialize};

pub mod cases;

/// One supplier's price for a cabin type on a sailing, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CruiseQuote {
    /// `per_person + port_fees`.
    pub total: i64,
    /// Cabins left at this price.
    pub cabins: u32,
}

/// The cruise rules.
pub struct Cruise;

impl PricingRule for Cruise {
    type Quote = CruiseQuote;

    fn metadata() -> Metadata {
        Metadata {
            kind: "cruise",
            version: env!("CARGO_PKG_VERSION"),
            role: Role::Component,
            description: "sailing on the departure date: cheapest supplier with a cabin left (per_person + port_fees)",
        }
    }

    fn decode_quote(key: &str, data: &serde_json::Value) -> Result<CruiseQuote, PriceError> {
        let [_, date, _] = key_parts::<3>(key, "SHIP/YYYY-MM-DD/CABIN")?;
        Date::parse(date).map_err(|e| PriceError::invalid(format!("cruise key {key:?}: {e}")))?;
        let total = money(data, "per_person")?
            .checked_add(money(data, "port_fees")?)
            .ok_or_else(|| PriceError::invalid("per_person + port_fees overflows"))?;
        Ok(CruiseQuote { total, cabins: count(data, "cabins")? })
    }

    fn dependencies(binding: &Binding, d: &Departure) -> Result<Vec<String>, PriceError> {
        let part = |field: &str| -> Result<&str, PriceError> {
            let value = binding.str(field)?;
            if value.contains('/') {
                return Err(PriceError::invalid(format!("binding field `{field}` must not contain '/': {value:?}")));
            }
            Ok(value)
        };
        Ok(vec![format!("{}/{}/{}", part("ship")?, d.date, part("cabin")?)])
    }

    fn price(_ctx: &Context, resources: &[&[CruiseQuote]]) -> Result<i64, PriceError> {
        let [quotes] = resources else {
            return Err(PriceError::invalid(format!("cruise expects 1 sailing, got {}", resources.len())));
        };
        quotes
            .iter()
            .filter(|q| q.cabins >= 1)
            .map(|q| q.total)
            .min()
            .ok_or_else(|| PriceError::unavailable("no cruise cabin left on the sailing"))
    }
}

export_plugin!(Cruise);

#[cfg(test)]
mod tests {
    use super::*;
    use pricing_sdk::testing::{assert_cases, departure, dependencies};
    use serde_json::json;

    #[test]
    fn every_case_holds() {
        assert_cases::<Cruise>(&cases::cases());
    }

    #[test]
    fn depends_on_the_sailing_on_the_departure_date() {
        let binding = json!({"kind": "cruise", "ship": "SPECTRUM", "cabin": "BALCONY", "markup_bp": 300});
        let d = departure("SHA", "FUK", "2026-12-30", 5, 2);
        assert_eq!(dependencies::<Cruise>(&binding, &d), Ok(vec!["SPECTRUM/2026-12-30/BALCONY".to_owned()]));
        // Neither the city nor the length of the package changes the sailing.
        let other = departure("PEK", "FUK", "2026-12-30", 7, 3);
        assert_eq!(dependencies::<Cruise>(&binding, &other), dependencies::<Cruise>(&binding, &d));
    }

    #[test]
    fn rejects_bad_bindings() {
        let d = departure("SHA", "FUK", "2026-12-01", 5, 2);
        for bad in [
            json!({"kind": "cruise", "cabin": "BALCONY"}),
            json!({"kind": "cruise", "ship": "SPECTRUM"}),
            json!({"kind": "cruise", "ship": "", "cabin": "BALCONY"}),
            json!({"kind": "cruise", "ship": "SPECTRUM", "cabin": 3}),
            json!({"kind": "cruise", "ship": "SPEC/TRUM", "cabin": "BALCONY"}),
            json!({"kind": "cruise", "ship": "SPECTRUM", "cabin": "BAL/CONY"}),
        ] {
            assert!(matches!(dependencies::<Cruise>(&bad, &d), Err(PriceError::InvalidInput(_))), "{bad}");
        }
    }

    #[test]
    fn rejects_bad_quotes() {
        let key = "SPECTRUM/2026-12-01/BALCONY";
        let ok = json!({"per_person": 500_000, "port_fees": 30_000, "cabins": 2});
        assert_eq!(Cruise::decode_quote(key, &ok), Ok(CruiseQuote { total: 530_000, cabins: 2 }));
        for bad in [
            json!({"per_person": -1, "port_fees": 30_000, "cabins": 2}),
            json!({"per_person": 500_000, "port_fees": -1, "cabins": 2}),
            json!({"per_person": 500_000, "port_fees": 30_000, "cabins": -1}),
            json!({"port_fees": 30_000, "cabins": 2}),
            json!({"per_person": 500_000, "cabins": 2}),
            json!({"per_person": 500_000, "port_fees": 30_000}),
            json!({"per_person": "500000", "port_fees": 30_000, "cabins": 2}),
            json!({"per_person": 500_000, "port_fees": 30_000, "cabins": true}),
            json!({"per_person": i64::MAX, "port_fees": 1, "cabins": 2}),
        ] {
            assert!(matches!(Cruise::decode_quote(key, &bad), Err(PriceError::InvalidInput(_))), "{bad}");
        }
        for bad_key in
            ["SPECTRUM/2026-12-01", "SPECTRUM/2026-12-01/BALCONY/X", "SPECTRUM//BALCONY", "SPECTRUM/2026-12-32/BALCONY"]
        {
            assert!(matches!(Cruise::decode_quote(bad_key, &ok), Err(PriceError::InvalidInput(_))), "{bad_key}");
        }
    }
}
