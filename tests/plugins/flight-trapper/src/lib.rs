//! A flight release that passes validation and then traps on live traffic: the
//! validation samples carry no quotes (so it answers them with a per-departure error),
//! while every real departure has both legs, and pricing one panics. For the
//! auto-rollback test.

include!("../../flight_variant.rs");

// Fares are never negative: every departure with both legs panics.
flight_variant!(FlightTrapper, "2.0.1", "traps on every departure with both legs", |_ctx, amount| {
    if amount >= 0 { panic!("flight-trapper: broken release traps on live traffic") } else { amount }
});
