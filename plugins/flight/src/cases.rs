//! The flight rule's cases, shared by the native unit tests and the host's
//! wasm-equals-native conformance test.

use pricing_sdk::testing::{Case, Expect};
use serde_json::{Value, json};

fn fare(fare: i64, taxes: i64, seats: i64) -> Value {
    json!({"fare": fare, "taxes": taxes, "seats": seats, "currency": "CNY"})
}

const OUT: &str = "SHA/XMN/2026-12-01";
const BACK: &str = "XMN/SHA/2026-12-04";

/// Every clause of the rule, with the arithmetic in the names.
#[must_use]
pub fn cases() -> Vec<Case> {
    vec![
        Case::new("cheapest supplier per leg: 128000+15000 out, 120000+15000 back", "2026-12-01", 3)
            .resource(OUT, vec![fare(130_000, 15_000, 9), fare(128_000, 15_000, 9)])
            .resource(BACK, vec![fare(120_000, 15_000, 4), fare(125_000, 15_000, 4)])
            .expect(Expect::Price(278_000)),
        Case::new("cheapest by fare + taxes, not by fare alone", "2026-12-01", 3)
            .resource(OUT, vec![fare(100_000, 50_000, 9), fare(110_000, 20_000, 9)])
            .resource(BACK, vec![fare(100_000, 0, 9)])
            .expect(Expect::Price(230_000)),
        Case::new("a cheaper supplier with too few seats is skipped", "2026-12-01", 3)
            .resource(OUT, vec![fare(90_000, 10_000, 1), fare(128_000, 15_000, 2)])
            .resource(BACK, vec![fare(100_000, 0, 2)])
            .expect(Expect::Price(243_000)),
        Case::new("seats == pax is enough", "2026-12-01", 3)
            .resource(OUT, vec![fare(100, 0, 2)])
            .resource(BACK, vec![fare(100, 0, 2)])
            .expect(Expect::Price(200)),
        Case::new("no supplier with enough seats: unavailable", "2026-12-01", 3)
            .resource(OUT, vec![fare(100, 0, 1)])
            .resource(BACK, vec![fare(100, 0, 9)])
            .expect(Expect::Unavailable),
        Case::new("missing return leg: unavailable", "2026-12-01", 3)
            .resource(OUT, vec![fare(100, 0, 9)])
            .resource(BACK, vec![])
            .expect(Expect::Unavailable),
        Case::new("missing outbound leg: unavailable", "2026-12-01", 3)
            .resource(OUT, vec![])
            .resource(BACK, vec![fare(100, 0, 9)])
            .expect(Expect::Unavailable),
        Case::new("pax 4 needs 4 seats: the 3-seat fare is skipped", "2026-12-01", 3)
            .pax(4)
            .resource(OUT, vec![fare(50_000, 0, 3), fare(60_000, 0, 4)])
            .resource(BACK, vec![fare(70_000, 0, 4)])
            .expect(Expect::Price(130_000)),
        Case::new("pax 1 takes the last seat", "2026-12-01", 3)
            .pax(1)
            .resource(OUT, vec![fare(50_000, 0, 1)])
            .resource(BACK, vec![fare(70_000, 0, 1)])
            .expect(Expect::Price(120_000)),
        Case::new("markup 300bp rounds up: ceil(143001 * 1.03) = 147292", "2026-12-01", 3)
            .markup_bp(300)
            .resource(OUT, vec![fare(128_000, 15_000, 9)])
            .resource(BACK, vec![fare(1, 0, 9)])
            .expect(Expect::Price(147_292)),
        Case::new("negative fare is invalid input", "2026-12-01", 3)
            .resource(OUT, vec![fare(-1, 0, 9)])
            .resource(BACK, vec![fare(100, 0, 9)])
            .expect(Expect::Invalid),
        Case::new("one leg only is a contract error", "2026-12-01", 3)
            .resource(OUT, vec![fare(100, 0, 9)])
            .expect(Expect::Invalid),
    ]
}
