//! Reference flight rules (DOMAIN.md): outbound `CITY/DEST/D` plus return
//! `DEST/CITY/(D+nights)`; each leg is the cheapest supplier with `seats >= pax` of
//! `fare + taxes`; a leg with no such supplier makes the departure unavailable.

use pricing_sdk::fields::{count, key_parts, money};
use pricing_sdk::{Binding, Context, Date, Departure, Metadata, PriceError, PricingRule, Role, export_plugin};
use serde::{Deserialize, Serialize};

pub mod cases;

/// One supplier's fare for a route-date, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlightQuote {
    /// `fare + taxes`, per person.
    pub total: i64,
    /// Seats left at this fare.
    pub seats: u32,
}

/// The flight rules.
pub struct Flight;

impl PricingRule for Flight {
    type Quote = FlightQuote;

    fn metadata() -> Metadata {
        Metadata {
            kind: "flight",
            version: env!("CARGO_PKG_VERSION"),
            role: Role::Component,
            description: "round trip: cheapest supplier per leg with enough seats (fare + taxes)",
        }
    }

    fn decode_quote(key: &str, data: &serde_json::Value) -> Result<FlightQuote, PriceError> {
        let [_, _, date] = key_parts::<3>(key, "FROM/TO/YYYY-MM-DD")?;
        Date::parse(date).map_err(|e| PriceError::invalid(format!("flight key {key:?}: {e}")))?;
        let total = money(data, "fare")?
            .checked_add(money(data, "taxes")?)
            .ok_or_else(|| PriceError::invalid("fare + taxes overflows"))?;
        Ok(FlightQuote { total, seats: count(data, "seats")? })
    }

    fn dependencies(_binding: &Binding, d: &Departure) -> Result<Vec<String>, PriceError> {
        let back = d.date.add_days(d.nights as i32);
        Ok(vec![format!("{}/{}/{}", d.city, d.destination, d.date), format!("{}/{}/{}", d.destination, d.city, back)])
    }

    fn price(ctx: &Context, resources: &[&[FlightQuote]]) -> Result<i64, PriceError> {
        let [outbound, inbound] = resources else {
            return Err(PriceError::invalid(format!("flight expects 2 legs, got {}", resources.len())));
        };
        Ok(leg(outbound, ctx.pax, "outbound")? + leg(inbound, ctx.pax, "return")?)
    }
}

/// The cheapest fare of a leg with at least `pax` seats.
fn leg(quotes: &[FlightQuote], pax: u32, which: &str) -> Result<i64, PriceError> {
    quotes
        .iter()
        .filter(|q| q.seats >= pax)
        .map(|q| q.total)
        .min()
        .ok_or_else(|| PriceError::unavailable(format!("no {which} fare with {pax} seats")))
}

export_plugin!(Flight);

#[cfg(test)]
mod tests {
    use super::*;
    use pricing_sdk::testing::{assert_cases, departure, dependencies};
    use serde_json::json;

    #[test]
    fn every_case_holds() {
        assert_cases::<Flight>(&cases::cases());
    }

    #[test]
    fn depends_on_outbound_and_return_legs() {
        let d = departure("SHA", "XMN", "2026-12-30", 3, 2);
        let keys = dependencies::<Flight>(&json!({"kind": "flight", "markup_bp": 300}), &d);
        assert_eq!(keys, Ok(vec!["SHA/XMN/2026-12-30".to_owned(), "XMN/SHA/2027-01-02".to_owned()]));
    }

    #[test]
    fn rejects_bad_quotes() {
        let key = "SHA/XMN/2026-12-01";
        let ok = json!({"fare": 1, "taxes": 2, "seats": 3});
        assert_eq!(Flight::decode_quote(key, &ok), Ok(FlightQuote { total: 3, seats: 3 }));
        for bad in [
            json!({"fare": -1, "taxes": 2, "seats": 3}),
            json!({"fare": 1, "taxes": -2, "seats": 3}),
            json!({"fare": 1, "taxes": 2, "seats": -3}),
            json!({"taxes": 2, "seats": 3}),
            json!({"fare": "1", "taxes": 2, "seats": 3}),
        ] {
            assert!(matches!(Flight::decode_quote(key, &bad), Err(PriceError::InvalidInput(_))), "{bad}");
        }
        assert!(Flight::decode_quote("SHA/XMN", &ok).is_err());
        assert!(Flight::decode_quote("SHA/XMN/2026-13-01", &ok).is_err());
    }
}
