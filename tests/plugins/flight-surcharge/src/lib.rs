//! The reference flight rules plus a flat surcharge per person: a new release with a
//! known difference, for the shadow report and price rollback tests.

include!("../../flight_variant.rs");

/// Added to every departure's flight amount, per person (50.00).
pub const SURCHARGE: i64 = 5_000;

flight_variant!(FlightSurcharge, "2.0.0", "round trip plus a 50.00 surcharge", |_ctx, amount| amount + SURCHARGE);
