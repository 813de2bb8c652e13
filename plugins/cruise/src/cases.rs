//! The cruise rule's cases, shared by the native unit tests and the host's
//! wasm-equals-native conformance test.

use pricing_sdk::testing::{Case, Expect};
use serde_json::{Value, json};

fn cabin(per_person: i64, port_fees: i64, cabins: i64) -> Value {
    json!({"per_person": per_person, "port_fees": port_fees, "cabins": cabins, "currency": "CNY"})
}

const SAILING: &str = "SPECTRUM/2026-12-01/BALCONY";

/// Every clause of the rule, with the arithmetic in the names.
#[must_use]
pub fn cases() -> Vec<Case> {
    vec![
        Case::new("per_person + port_fees: 500000 + 30000 = 530000", "2026-12-01", 5)
            .resource(SAILING, vec![cabin(500_000, 30_000, 4)])
            .expect(Expect::Price(530_000)),
        Case::new("cheapest supplier: min(520000+30000, 500000+30000) = 530000", "2026-12-01", 5)
            .resource(SAILING, vec![cabin(520_000, 30_000, 4), cabin(500_000, 30_000, 4)])
            .expect(Expect::Price(530_000)),
        Case::new(
            "cheapest by per_person + port_fees, not per_person alone: 480000+60000 > 500000+30000",
            "2026-12-01",
            5,
        )
        .resource(SAILING, vec![cabin(480_000, 60_000, 4), cabin(500_000, 30_000, 4)])
        .expect(Expect::Price(530_000)),
        Case::new("cabins 1 is enough (at the threshold): 400000 + 0", "2026-12-01", 5)
            .resource(SAILING, vec![cabin(400_000, 0, 1)])
            .expect(Expect::Price(400_000)),
        Case::new("a cheaper supplier with cabins 0 is skipped: 510000 + 20000 = 530000", "2026-12-01", 5)
            .resource(SAILING, vec![cabin(300_000, 20_000, 0), cabin(510_000, 20_000, 1)])
            .expect(Expect::Price(530_000)),
        Case::new("every supplier at cabins 0 (one below): unavailable", "2026-12-01", 5)
            .resource(SAILING, vec![cabin(300_000, 20_000, 0), cabin(510_000, 20_000, 0)])
            .expect(Expect::Unavailable),
        Case::new("no quote for the sailing: unavailable", "2026-12-01", 5)
            .resource(SAILING, vec![])
            .expect(Expect::Unavailable),
        Case::new("one cabin serves any pax: pax 3, cabins 1, 200000 + 10000", "2026-12-01", 5)
            .pax(3)
            .resource(SAILING, vec![cabin(200_000, 10_000, 1)])
            .expect(Expect::Price(210_000)),
        Case::new("pax 1: per person 200000 + 10000", "2026-12-01", 5)
            .pax(1)
            .resource(SAILING, vec![cabin(200_000, 10_000, 1)])
            .expect(Expect::Price(210_000)),
        Case::new("markup 300bp rounds up: ceil(530001 * 1.03) = ceil(545901.03) = 545902", "2026-12-01", 5)
            .markup_bp(300)
            .resource(SAILING, vec![cabin(500_001, 30_000, 2)])
            .expect(Expect::Price(545_902)),
        Case::new("negative per_person is invalid input", "2026-12-01", 5)
            .resource(SAILING, vec![cabin(-1, 30_000, 2)])
            .expect(Expect::Invalid),
        Case::new("negative port_fees is invalid input", "2026-12-01", 5)
            .resource(SAILING, vec![cabin(500_000, -30_000, 2)])
            .expect(Expect::Invalid),
        Case::new("negative cabins is invalid input", "2026-12-01", 5)
            .resource(SAILING, vec![cabin(500_000, 30_000, -1)])
            .expect(Expect::Invalid),
        Case::new("missing port_fees is invalid input", "2026-12-01", 5)
            .resource(SAILING, vec![json!({"per_person": 500_000, "cabins": 2})])
            .expect(Expect::Invalid),
        Case::new("two sailings is a contract error", "2026-12-01", 5)
            .resource(SAILING, vec![cabin(500_000, 30_000, 2)])
            .resource(SAILING, vec![cabin(500_000, 30_000, 2)])
            .expect(Expect::Invalid),
    ]
}
