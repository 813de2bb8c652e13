//! The insurance rule's cases, shared by the native unit tests and the host's
//! wasm-equals-native conformance test.

use pricing_sdk::testing::{Case, Expect};
use serde_json::{Value, json};

/// A plan's price list from `(max_days, price)` pairs.
fn bands(bands: &[(i64, i64)]) -> Value {
    let bands: Vec<Value> =
        bands.iter().map(|&(max_days, price)| json!({"max_days": max_days, "price": price})).collect();
    json!({"bands": bands, "currency": "CNY"})
}

const PLAN: &str = "basic";
const STANDARD: &[(i64, i64)] = &[(3, 1_000), (7, 2_000), (15, 3_500)];

/// Every clause of the rule, with the arithmetic in the names.
#[must_use]
pub fn cases() -> Vec<Case> {
    vec![
        Case::new("3 nights = 4 days: first band with max_days >= 4 is 7 days, 2000", "2026-12-01", 3)
            .resource(PLAN, vec![bands(STANDARD)])
            .expect(Expect::Price(2_000)),
        Case::new("2 nights = 3 days: max_days 3 covers exactly, 1000", "2026-12-01", 2)
            .resource(PLAN, vec![bands(STANDARD)])
            .expect(Expect::Price(1_000)),
        Case::new("0 nights = 1 day: the first band, 1000", "2026-12-01", 0)
            .resource(PLAN, vec![bands(STANDARD)])
            .expect(Expect::Price(1_000)),
        Case::new("6 nights = 7 days: max_days 7 covers exactly, 2000", "2026-12-01", 6)
            .resource(PLAN, vec![bands(STANDARD)])
            .expect(Expect::Price(2_000)),
        Case::new("7 nights = 8 days: max_days 7 is one short, next band 15 days, 3500", "2026-12-01", 7)
            .resource(PLAN, vec![bands(STANDARD)])
            .expect(Expect::Price(3_500)),
        Case::new("14 nights = 15 days: the last band covers exactly, 3500", "2026-12-01", 14)
            .resource(PLAN, vec![bands(STANDARD)])
            .expect(Expect::Price(3_500)),
        Case::new("15 nights = 16 days: no band covers, unavailable", "2026-12-01", 15)
            .resource(PLAN, vec![bands(STANDARD)])
            .expect(Expect::Unavailable),
        Case::new("the first covering band wins, not the cheapest: 5 days -> 3000, not 2000", "2026-12-01", 4)
            .resource(PLAN, vec![bands(&[(5, 3_000), (10, 2_000)])])
            .expect(Expect::Price(3_000)),
        Case::new("a band with max_days 0 never covers: 1 day -> 1500", "2026-12-01", 0)
            .resource(PLAN, vec![bands(&[(0, 100), (1, 1_500)])])
            .expect(Expect::Price(1_500)),
        Case::new("cheapest supplier covering the trip: min(2000, 1800) = 1800", "2026-12-01", 3)
            .resource(PLAN, vec![bands(&[(7, 2_000)]), bands(&[(10, 1_800)])])
            .expect(Expect::Price(1_800)),
        Case::new("a cheaper supplier whose bands stop short is skipped: 6 days -> 2500", "2026-12-01", 5)
            .resource(PLAN, vec![bands(&[(5, 500)]), bands(&[(30, 2_500)])])
            .expect(Expect::Price(2_500)),
        Case::new("no supplier covers 9 days: unavailable", "2026-12-01", 8)
            .resource(PLAN, vec![bands(&[(5, 500)]), bands(&[(7, 700), (8, 800)])])
            .expect(Expect::Unavailable),
        Case::new("no quote for the plan: unavailable", "2026-12-01", 3)
            .resource(PLAN, vec![])
            .expect(Expect::Unavailable),
        Case::new("per person whatever pax: pax 5 still 2000", "2026-12-01", 3)
            .pax(5)
            .resource(PLAN, vec![bands(STANDARD)])
            .expect(Expect::Price(2_000)),
        Case::new("markup 500bp rounds up: ceil(2999 * 1.05) = ceil(3148.95) = 3149", "2026-12-01", 3)
            .markup_bp(500)
            .resource(PLAN, vec![bands(&[(7, 2_999)])])
            .expect(Expect::Price(3_149)),
        Case::new("markup 300bp on a whole result: 3000 * 1.03 = 3090", "2026-12-01", 3)
            .markup_bp(300)
            .resource(PLAN, vec![bands(&[(7, 3_000)])])
            .expect(Expect::Price(3_090)),
        Case::new("negative band price is invalid input", "2026-12-01", 3)
            .resource(PLAN, vec![bands(&[(7, -1)])])
            .expect(Expect::Invalid),
        Case::new("negative max_days is invalid input", "2026-12-01", 3)
            .resource(PLAN, vec![bands(&[(-1, 100), (7, 2_000)])])
            .expect(Expect::Invalid),
        Case::new("bands not strictly ascending (7 then 7) is invalid input", "2026-12-01", 3)
            .resource(PLAN, vec![bands(&[(7, 2_000), (7, 2_500)])])
            .expect(Expect::Invalid),
        Case::new("bands descending (15 then 7) is invalid input", "2026-12-01", 3)
            .resource(PLAN, vec![bands(&[(15, 3_500), (7, 2_000)])])
            .expect(Expect::Invalid),
        Case::new("empty bands is invalid input", "2026-12-01", 3)
            .resource(PLAN, vec![bands(&[])])
            .expect(Expect::Invalid),
        Case::new("missing bands is invalid input", "2026-12-01", 3)
            .resource(PLAN, vec![json!({"currency": "CNY"})])
            .expect(Expect::Invalid),
        Case::new("no resource at all is a contract error", "2026-12-01", 3).expect(Expect::Invalid),
    ]
}
