//! Reference hotel rules (DOMAIN.md): a package of `nights` nights from the departure date D
//! depends on the one-night resources `HOTEL/(D+i)` for i in 0..nights; each night is priced
//! by the cheapest supplier with `rooms >= ceil(pax/2)` (two travellers share a room), per
//! person `ceil(room_night / 2)`; the nights are summed, 0 nights cost 0, and a night with no
//! such supplier (or no quote at all) makes the departure unavailable.

use pricing_sdk::fields::{count, key_parts, money};
use pricing_sdk::{Binding, Context, Date, Departure, Metadata, PriceError, PricingRule, Role, export_plugin};
use serde::{Deserialize, Serialize};

pub mod cases;

/// One supplier's price for one hotel night, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HotelQuote {
    /// `ceil(room_night / 2)`: the room shared by two, per person.
    pub per_person: i64,
    /// Rooms left at this price.
    pub rooms: u32,
}

/// The hotel rules.
pub struct Hotel;

impl PricingRule for Hotel {
    type Quote = HotelQuote;

    fn metadata() -> Metadata {
        Metadata {
            kind: "hotel",
            version: env!("CARGO_PKG_VERSION"),
            role: Role::Component,
            description: "per night: cheapest supplier with ceil(pax/2) rooms, ceil(room_night / 2) per person",
        }
    }

    fn decode_quote(key: &str, data: &serde_json::Value) -> Result<HotelQuote, PriceError> {
        let [_, date] = key_parts::<2>(key, "HOTEL/YYYY-MM-DD")?;
        Date::parse(date).map_err(|e| PriceError::invalid(format!("hotel key {key:?}: {e}")))?;
        let room_night = money(data, "room_night")?;
        Ok(HotelQuote { per_person: room_night / 2 + room_night % 2, rooms: count(data, "rooms")? })
    }

    fn dependencies(binding: &Binding, d: &Departure) -> Result<Vec<String>, PriceError> {
        let hotel = binding.str("hotel")?;
        if hotel.contains('/') {
            return Err(PriceError::invalid(format!("binding field `hotel` must not contain '/': {hotel:?}")));
        }
        let nights =
            i32::try_from(d.nights).map_err(|_| PriceError::invalid(format!("too many nights: {}", d.nights)))?;
        Ok((0..nights).map(|i| format!("{hotel}/{}", d.date.add_days(i))).collect())
    }

    fn price(ctx: &Context, resources: &[&[HotelQuote]]) -> Result<i64, PriceError> {
        if resources.len() != ctx.nights as usize {
            return Err(PriceError::invalid(format!("hotel expects {} nights, got {}", ctx.nights, resources.len())));
        }
        let rooms = ctx.pax.div_ceil(2);
        let mut total: i64 = 0;
        for (i, quotes) in resources.iter().enumerate() {
            let night = quotes.iter().filter(|q| q.rooms >= rooms).map(|q| q.per_person).min().ok_or_else(|| {
                let date = ctx.date.add_days(i as i32);
                PriceError::unavailable(format!("night {i} ({date}): no hotel quote with {rooms} room(s)"))
            })?;
            total = total.checked_add(night).ok_or_else(|| PriceError::invalid("hotel total overflows"))?;
        }
        Ok(total)
    }
}

export_plugin!(Hotel);

#[cfg(test)]
mod tests {
    use super::*;
    use pricing_sdk::testing::{assert_cases, departure, dependencies};
    use serde_json::json;

    #[test]
    fn every_case_holds() {
        assert_cases::<Hotel>(&cases::cases());
    }

    #[test]
    fn depends_on_each_night_from_departure() {
        let d = departure("SHA", "XMN", "2026-12-30", 3, 2);
        let keys = dependencies::<Hotel>(&json!({"kind": "hotel", "hotel": "H88", "markup_bp": 300}), &d);
        assert_eq!(
            keys,
            Ok(vec!["H88/2026-12-30".to_owned(), "H88/2026-12-31".to_owned(), "H88/2027-01-01".to_owned()])
        );
    }

    #[test]
    fn zero_nights_depend_on_nothing() {
        let d = departure("SHA", "XMN", "2026-12-30", 0, 2);
        assert_eq!(dependencies::<Hotel>(&json!({"kind": "hotel", "hotel": "H88"}), &d), Ok(vec![]));
    }

    #[test]
    fn departure_city_does_not_matter() {
        let binding = json!({"kind": "hotel", "hotel": "H88"});
        let sha = dependencies::<Hotel>(&binding, &departure("SHA", "XMN", "2026-12-01", 2, 2));
        let pek = dependencies::<Hotel>(&binding, &departure("PEK", "XMN", "2026-12-01", 2, 3));
        assert_eq!(sha, pek);
    }

    #[test]
    fn rejects_bad_bindings() {
        let d = departure("SHA", "XMN", "2026-12-01", 3, 2);
        for bad in [
            json!({"kind": "hotel"}),
            json!({"kind": "hotel", "hotel": ""}),
            json!({"kind": "hotel", "hotel": 88}),
            json!({"kind": "hotel", "hotel": "H/88"}),
        ] {
            assert!(matches!(dependencies::<Hotel>(&bad, &d), Err(PriceError::InvalidInput(_))), "{bad}");
        }
    }

    #[test]
    fn rejects_bad_quotes() {
        let key = "H88/2026-12-01";
        let ok = json!({"room_night": 66_001, "rooms": 3});
        assert_eq!(Hotel::decode_quote(key, &ok), Ok(HotelQuote { per_person: 33_001, rooms: 3 }));
        for bad in [
            json!({"room_night": -1, "rooms": 3}),
            json!({"room_night": 100, "rooms": -3}),
            json!({"rooms": 3}),
            json!({"room_night": 100}),
            json!({"room_night": "100", "rooms": 3}),
            json!({"room_night": 100.5, "rooms": 3}),
            json!({"room_night": 100, "rooms": "3"}),
            json!({"room_night": 100, "rooms": 5_000_000_000i64}),
        ] {
            assert!(matches!(Hotel::decode_quote(key, &bad), Err(PriceError::InvalidInput(_))), "{bad}");
        }
        for bad_key in ["H88", "H88/2026-12-01/X", "/2026-12-01", "H88/2026-02-30", "H88/20261201"] {
            assert!(matches!(Hotel::decode_quote(bad_key, &ok), Err(PriceError::InvalidInput(_))), "{bad_key}");
        }
    }

    #[test]
    fn unavailable_reason_names_the_night() {
        let case = cases::cases().into_iter().find(|c| c.name.starts_with("second night sold out")).expect("case");
        let outcome = pricing_sdk::testing::run_native::<Hotel>(&case);
        assert!(
            matches!(&outcome, Err(PriceError::Unavailable(r)) if r.contains("night 1") && r.contains("2026-12-02"))
        );
    }
}
