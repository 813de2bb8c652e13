//! The hotel rule's cases, shared by the native unit tests and the host's
//! wasm-equals-native conformance test.

use pricing_sdk::testing::{Case, Expect};
use serde_json::{Value, json};

fn night(room_night: i64, rooms: i64) -> Value {
    json!({"room_night": room_night, "rooms": rooms, "currency": "CNY"})
}

const N1: &str = "H88/2026-12-01";
const N2: &str = "H88/2026-12-02";
const N3: &str = "H88/2026-12-03";

/// Every clause of the rule, with the arithmetic in the names.
#[must_use]
pub fn cases() -> Vec<Case> {
    vec![
        Case::new("cheapest supplier per night: 66000/2 + 66000/2 + 60000/2 = 96000", "2026-12-01", 3)
            .resource(N1, vec![night(70_000, 5), night(66_000, 5)])
            .resource(N2, vec![night(66_000, 5), night(68_000, 5)])
            .resource(N3, vec![night(60_000, 1)])
            .expect(Expect::Price(96_000)),
        Case::new("odd room_night rounds up per person: ceil(66001 / 2) = 33001", "2026-12-01", 1)
            .resource(N1, vec![night(66_001, 1)])
            .expect(Expect::Price(33_001)),
        Case::new("rounded per night, then summed: ceil(3/2) + ceil(3/2) = 4, not ceil(6/2)", "2026-12-01", 2)
            .resource(N1, vec![night(3, 1)])
            .resource(N2, vec![night(3, 1)])
            .expect(Expect::Price(4)),
        Case::new("pax 2 needs ceil(2/2) = 1 room: rooms 1 is enough, 60000/2 = 30000", "2026-12-01", 1)
            .resource(N1, vec![night(60_000, 1)])
            .expect(Expect::Price(30_000)),
        Case::new("pax 2 needs 1 room: rooms 0 is one below, unavailable", "2026-12-01", 1)
            .resource(N1, vec![night(60_000, 0)])
            .expect(Expect::Unavailable),
        Case::new("pax 1 needs ceil(1/2) = 1 room: rooms 1, still ceil(60001/2) = 30001 per person", "2026-12-01", 1)
            .pax(1)
            .resource(N1, vec![night(60_001, 1)])
            .expect(Expect::Price(30_001)),
        Case::new("pax 1 needs 1 room: rooms 0 is one below, unavailable", "2026-12-01", 1)
            .pax(1)
            .resource(N1, vec![night(60_000, 0)])
            .expect(Expect::Unavailable),
        Case::new("pax 3 needs ceil(3/2) = 2 rooms: the 1-room 50000 is skipped, 60000/2 = 30000", "2026-12-01", 1)
            .pax(3)
            .resource(N1, vec![night(50_000, 1), night(60_000, 2)])
            .expect(Expect::Price(30_000)),
        Case::new("pax 3 needs 2 rooms: rooms 1 is one below, unavailable", "2026-12-01", 1)
            .pax(3)
            .resource(N1, vec![night(50_000, 1)])
            .expect(Expect::Unavailable),
        Case::new("pax 4 needs ceil(4/2) = 2 rooms: rooms 2 is enough, 80000/2 = 40000", "2026-12-01", 1)
            .pax(4)
            .resource(N1, vec![night(80_000, 2)])
            .expect(Expect::Price(40_000)),
        Case::new(
            "pax 5 needs ceil(5/2) = 3 rooms: rooms 3 is enough, 2 nights 40000/2 + 50000/2 = 45000",
            "2026-12-01",
            2,
        )
        .pax(5)
        .resource(N1, vec![night(30_000, 2), night(40_000, 3)])
        .resource(N2, vec![night(50_000, 4)])
        .expect(Expect::Price(45_000)),
        Case::new("pax 5 needs 3 rooms: rooms 2 is one below, unavailable", "2026-12-01", 1)
            .pax(5)
            .resource(N1, vec![night(30_000, 2)])
            .expect(Expect::Unavailable),
        Case::new("second night sold out: every supplier below 1 room, unavailable", "2026-12-01", 3)
            .resource(N1, vec![night(60_000, 5)])
            .resource(N2, vec![night(60_000, 0), night(70_000, 0)])
            .resource(N3, vec![night(60_000, 5)])
            .expect(Expect::Unavailable),
        Case::new("missing last night (no quote at all): unavailable", "2026-12-01", 3)
            .resource(N1, vec![night(60_000, 5)])
            .resource(N2, vec![night(60_000, 5)])
            .resource(N3, vec![])
            .expect(Expect::Unavailable),
        Case::new("missing first night: unavailable", "2026-12-01", 2)
            .resource(N1, vec![])
            .resource(N2, vec![night(60_000, 5)])
            .expect(Expect::Unavailable),
        Case::new("0 nights: no hotel, price 0", "2026-12-01", 0).expect(Expect::Price(0)),
        Case::new("a free night is a price: 0/2 + 1/2 rounded up = 1", "2026-12-01", 2)
            .resource(N1, vec![night(0, 1)])
            .resource(N2, vec![night(1, 1)])
            .expect(Expect::Price(1)),
        Case::new("markup 300bp rounds up: ceil(33001 * 1.03) = ceil(33991.03) = 33992", "2026-12-01", 1)
            .markup_bp(300)
            .resource(N1, vec![night(66_001, 1)])
            .expect(Expect::Price(33_992)),
        Case::new("markup applies to the sum: ceil((33001 + 33000) * 1.03) = ceil(67981.03) = 67982", "2026-12-01", 2)
            .markup_bp(300)
            .resource(N1, vec![night(66_001, 1)])
            .resource(N2, vec![night(66_000, 1)])
            .expect(Expect::Price(67_982)),
        Case::new("negative room_night is invalid input", "2026-12-01", 1)
            .resource(N1, vec![night(-1, 5)])
            .expect(Expect::Invalid),
        Case::new("negative rooms is invalid input", "2026-12-01", 1)
            .resource(N1, vec![night(60_000, -1)])
            .expect(Expect::Invalid),
        Case::new("missing room_night is invalid input", "2026-12-01", 1)
            .resource(N1, vec![json!({"rooms": 3})])
            .expect(Expect::Invalid),
        Case::new("fewer nights than the package has is a contract error", "2026-12-01", 3)
            .resource(N1, vec![night(60_000, 5)])
            .resource(N2, vec![night(60_000, 5)])
            .expect(Expect::Invalid),
    ]
}
