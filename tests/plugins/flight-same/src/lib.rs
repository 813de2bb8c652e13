//! The reference flight rules as a new release (1.0.1) that prices exactly the same: a
//! swap to it measures what a swap itself costs, with no price changing.

include!("../../flight_variant.rs");

flight_variant!(FlightSame, "1.0.1", "round trip: the reference rules, released again", |_ctx, amount| amount);
