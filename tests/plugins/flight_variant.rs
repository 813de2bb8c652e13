// Shared by the flight variants the hot-reload tests deploy: the reference flight rules
// (kind `flight`, the same stored quote format, so a variant can replace the reference
// version over the same state and be rolled back) with one twist per variant, applied
// to the amount of every departure that has both legs.

macro_rules! flight_variant {
    ($ty:ident, $version:literal, $description:literal, |$ctx:ident, $amount:ident| $twist:expr) => {
        use pricing_sdk::fields::{count, key_parts, money};
        use pricing_sdk::{Binding, Context, Date, Departure, Metadata, PriceError, PricingRule, Role};

        /// The reference flight quote, field for field: stored quotes stay readable by
        /// every version of the kind.
        #[derive(serde::Serialize, serde::Deserialize)]
        pub struct FlightQuote {
            total: i64,
            seats: u32,
        }

        /// A flight rule variant for the hot-reload tests.
        pub struct $ty;

        impl PricingRule for $ty {
            type Quote = FlightQuote;

            fn metadata() -> Metadata {
                Metadata { kind: "flight", version: $version, role: Role::Component, description: $description }
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
                Ok(vec![
                    format!("{}/{}/{}", d.city, d.destination, d.date),
                    format!("{}/{}/{}", d.destination, d.city, back),
                ])
            }

            fn price($ctx: &Context, resources: &[&[FlightQuote]]) -> Result<i64, PriceError> {
                let [outbound, inbound] = resources else {
                    return Err(PriceError::invalid(format!("flight expects 2 legs, got {}", resources.len())));
                };
                let leg = |quotes: &[FlightQuote], which: &str| {
                    quotes
                        .iter()
                        .filter(|q| q.seats >= $ctx.pax)
                        .map(|q| q.total)
                        .min()
                        .ok_or_else(|| PriceError::unavailable(format!("no {which} fare with {} seats", $ctx.pax)))
                };
                let $amount = leg(outbound, "outbound")? + leg(inbound, "return")?;
                Ok($twist)
            }
        }

        pricing_sdk::export_plugin!($ty);
    };
}
