//! The discount rule's cases, shared by the native unit tests and the host's
//! wasm-equals-native conformance test.

use pricing_sdk::testing::{Case, Expect};
use serde_json::{Value, json};

fn percent(value_bp: i64) -> Value {
    json!({"type": "percent", "value_bp": value_bp, "currency": "CNY"})
}

fn percent_capped(value_bp: i64, cap: i64) -> Value {
    json!({"type": "percent", "value_bp": value_bp, "cap": cap, "currency": "CNY"})
}

fn fixed(value: i64) -> Value {
    json!({"type": "fixed", "value": value, "currency": "CNY"})
}

fn fixed_over(value: i64, min_subtotal: i64) -> Value {
    json!({"type": "fixed", "value": value, "min_subtotal": min_subtotal, "currency": "CNY"})
}

/// `rule` restricted to departures from `from` to `to` (inclusive; `None`: unbounded).
fn window(mut rule: Value, from: Option<&str>, to: Option<&str>) -> Value {
    if let Some(from) = from {
        rule["from"] = json!(from);
    }
    if let Some(to) = to {
        rule["to"] = json!(to);
    }
    rule
}

const DATE: &str = "2026-12-01";

/// Every clause of the rule, with the arithmetic in the names.
#[must_use]
pub fn cases() -> Vec<Case> {
    vec![
        // Percent: floor, cap.
        Case::new("percent 500bp floors: floor(356789 * 0.05) = floor(17839.45) = 17839", DATE, 3)
            .subtotal(356_789)
            .resource("EB5", vec![percent(500)])
            .expect(Expect::Price(-17_839)),
        Case::new("percent floors to nothing: floor(9999 * 1 / 10000) = 0", DATE, 3)
            .subtotal(9_999)
            .resource("EB", vec![percent(1)])
            .expect(Expect::Price(0)),
        Case::new("percent 1bp at exactly 10000: floor(10000 * 1 / 10000) = 1", DATE, 3)
            .subtotal(10_000)
            .resource("EB", vec![percent(1)])
            .expect(Expect::Price(-1)),
        Case::new("percent 0bp takes nothing", DATE, 3)
            .subtotal(500_000)
            .resource("EB", vec![percent(0)])
            .expect(Expect::Price(0)),
        Case::new("percent capped: min(500000 * 0.10 = 50000, cap 30000) = 30000", DATE, 3)
            .subtotal(500_000)
            .resource("EB10", vec![percent_capped(1_000, 30_000)])
            .expect(Expect::Price(-30_000)),
        Case::new("percent exactly at the cap: 300000 * 0.10 = 30000 = cap", DATE, 3)
            .subtotal(300_000)
            .resource("EB10", vec![percent_capped(1_000, 30_000)])
            .expect(Expect::Price(-30_000)),
        Case::new("percent one below the cap: floor(299999 * 0.10) = 29999 < 30000", DATE, 3)
            .subtotal(299_999)
            .resource("EB10", vec![percent_capped(1_000, 30_000)])
            .expect(Expect::Price(-29_999)),
        Case::new("percent with cap 0 takes nothing", DATE, 3)
            .subtotal(300_000)
            .resource("EB10", vec![percent_capped(1_000, 0)])
            .expect(Expect::Price(0)),
        Case::new("percent with cap null is uncapped: 500000 * 0.10 = 50000", DATE, 3)
            .subtotal(500_000)
            .resource("EB10", vec![json!({"type": "percent", "value_bp": 1000, "cap": null})])
            .expect(Expect::Price(-50_000)),
        Case::new("percent 10000bp takes everything: 356789 -> 0", DATE, 3)
            .subtotal(356_789)
            .resource("FREE", vec![percent(10_000)])
            .expect(Expect::Price(-356_789)),
        Case::new("percent in i128: floor(9000000000000000000 * 9999 / 10000) = 8999100000000000000", DATE, 3)
            .subtotal(9_000_000_000_000_000_000)
            .resource("EB", vec![percent(9_999)])
            .expect(Expect::Price(-8_999_100_000_000_000_000)),
        // Fixed: threshold.
        Case::new("fixed at the threshold: 200000 >= 200000 takes 20000", DATE, 3)
            .subtotal(200_000)
            .resource("FULL200", vec![fixed_over(20_000, 200_000)])
            .expect(Expect::Price(-20_000)),
        Case::new("fixed one below the threshold: 199999 < 200000 takes nothing", DATE, 3)
            .subtotal(199_999)
            .resource("FULL200", vec![fixed_over(20_000, 200_000)])
            .expect(Expect::Price(0)),
        Case::new("fixed without min_subtotal (default 0) always applies: 1000", DATE, 3)
            .subtotal(1_000)
            .resource("OFF", vec![fixed(1_000)])
            .expect(Expect::Price(-1_000)),
        Case::new("fixed larger than the subtotal stops at zero: min(5000, 3000) = 3000", DATE, 3)
            .subtotal(3_000)
            .resource("OFF", vec![fixed(5_000)])
            .expect(Expect::Price(-3_000)),
        // Order and the running subtotal.
        Case::new("percent then fixed: 100000 - 10000 = 90000, - 20000 = 70000, total -30000", DATE, 3)
            .subtotal(100_000)
            .resource("EB10", vec![percent(1_000)])
            .resource("OFF", vec![fixed(20_000)])
            .expect(Expect::Price(-30_000)),
        Case::new("fixed then percent: 100000 - 20000 = 80000, - 8000 = 72000, total -28000", DATE, 3)
            .subtotal(100_000)
            .resource("OFF", vec![fixed(20_000)])
            .resource("EB10", vec![percent(1_000)])
            .expect(Expect::Price(-28_000)),
        Case::new("threshold checks the running subtotal: 210000 - 21000 = 189000 < 200000, fixed skipped", DATE, 3)
            .subtotal(210_000)
            .resource("EB10", vec![percent(1_000)])
            .resource("FULL200", vec![fixed_over(20_000, 200_000)])
            .expect(Expect::Price(-21_000)),
        Case::new("same rules, threshold first: 210000 - 20000 = 190000, - 19000 = 171000, total -39000", DATE, 3)
            .subtotal(210_000)
            .resource("FULL200", vec![fixed_over(20_000, 200_000)])
            .resource("EB10", vec![percent(1_000)])
            .expect(Expect::Price(-39_000)),
        Case::new("floor at zero across rules: 100000 - 60000 = 40000, then min(60000, 40000), total -100000", DATE, 3)
            .subtotal(100_000)
            .resource("A", vec![fixed(60_000)])
            .resource("B", vec![fixed(60_000)])
            .expect(Expect::Price(-100_000)),
        Case::new("after zero nothing more is taken: 5000 - 5000 = 0, percent of 0 = 0", DATE, 3)
            .subtotal(5_000)
            .resource("A", vec![fixed(5_000)])
            .resource("B", vec![percent(5_000)])
            .resource("C", vec![fixed_over(0, 0)])
            .expect(Expect::Price(-5_000)),
        Case::new("fixed with min_subtotal 0 at running 0 takes min(100, 0) = 0", DATE, 3)
            .subtotal(0)
            .resource("A", vec![fixed(100)])
            .expect(Expect::Price(0)),
        // Missing rules, several quotes, no rules.
        Case::new("a missing rule takes nothing, the next still applies: 100000 * 0.05 = 5000", DATE, 3)
            .subtotal(100_000)
            .resource("GONE", vec![])
            .resource("EB5", vec![percent(500)])
            .expect(Expect::Price(-5_000)),
        Case::new("every rule missing: 0", DATE, 3)
            .subtotal(100_000)
            .resource("GONE", vec![])
            .resource("ALSO_GONE", vec![])
            .expect(Expect::Price(0)),
        Case::new("no rules bound: 0", DATE, 3).subtotal(100_000).expect(Expect::Price(0)),
        Case::new("several quotes for one rule: the first is used, 100000 * 0.10 = 10000", DATE, 3)
            .subtotal(100_000)
            .resource("EB", vec![percent(1_000), percent(5_000)])
            .expect(Expect::Price(-10_000)),
        // Departure-date windows (departure 2026-12-01).
        Case::new("inside the window 2026-11-15..2026-12-15: 100000 * 0.10 = 10000", DATE, 3)
            .subtotal(100_000)
            .resource("EB", vec![window(percent(1_000), Some("2026-11-15"), Some("2026-12-15"))])
            .expect(Expect::Price(-10_000)),
        Case::new("on from (2026-12-01..2026-12-31) is inside: 10000", DATE, 3)
            .subtotal(100_000)
            .resource("EB", vec![window(percent(1_000), Some("2026-12-01"), Some("2026-12-31"))])
            .expect(Expect::Price(-10_000)),
        Case::new("on to (2026-11-01..2026-12-01) is inside: 10000", DATE, 3)
            .subtotal(100_000)
            .resource("EB", vec![window(percent(1_000), Some("2026-11-01"), Some("2026-12-01"))])
            .expect(Expect::Price(-10_000)),
        Case::new("one-day window from = to = departure: 10000", DATE, 3)
            .subtotal(100_000)
            .resource("EB", vec![window(percent(1_000), Some(DATE), Some(DATE))])
            .expect(Expect::Price(-10_000)),
        Case::new("before from (window from 2026-12-02): takes nothing", DATE, 3)
            .subtotal(100_000)
            .resource("EB", vec![window(percent(1_000), Some("2026-12-02"), Some("2026-12-31"))])
            .expect(Expect::Price(0)),
        Case::new("after to (window to 2026-11-30): takes nothing", DATE, 3)
            .subtotal(100_000)
            .resource("EB", vec![window(percent(1_000), Some("2026-11-01"), Some("2026-11-30"))])
            .expect(Expect::Price(0)),
        Case::new("from only, on it: 10000", DATE, 3)
            .subtotal(100_000)
            .resource("EB", vec![window(percent(1_000), Some(DATE), None)])
            .expect(Expect::Price(-10_000)),
        Case::new("from only, departure the day before: nothing", "2026-11-30", 3)
            .subtotal(100_000)
            .resource("EB", vec![window(percent(1_000), Some(DATE), None)])
            .expect(Expect::Price(0)),
        Case::new("to only, on it: 10000", DATE, 3)
            .subtotal(100_000)
            .resource("EB", vec![window(percent(1_000), None, Some(DATE))])
            .expect(Expect::Price(-10_000)),
        Case::new("to only, departure the day after: nothing", "2026-12-02", 3)
            .subtotal(100_000)
            .resource("EB", vec![window(percent(1_000), None, Some(DATE))])
            .expect(Expect::Price(0)),
        Case::new("window decides per rule: out-of-window fixed skipped, percent 100000 * 0.05 = 5000", DATE, 3)
            .subtotal(100_000)
            .resource("XMAS", vec![window(fixed(20_000), Some("2026-12-20"), Some("2026-12-26"))])
            .resource("EB5", vec![percent(500)])
            .expect(Expect::Price(-5_000)),
        // No markup for adjustments; pax does not matter.
        Case::new("markup does not apply to an adjustment: fixed 1001 stays -1001", DATE, 3)
            .markup_bp(300)
            .subtotal(100_000)
            .resource("OFF", vec![fixed(1_001)])
            .expect(Expect::Price(-1_001)),
        Case::new("per person whatever pax: pax 5, 100000 * 0.10 = 10000", DATE, 3)
            .pax(5)
            .subtotal(100_000)
            .resource("EB10", vec![percent(1_000)])
            .expect(Expect::Price(-10_000)),
        // Invalid rules.
        Case::new("value_bp 10001 is invalid input", DATE, 3)
            .subtotal(100_000)
            .resource("EB", vec![percent(10_001)])
            .expect(Expect::Invalid),
        Case::new("negative value_bp is invalid input", DATE, 3)
            .subtotal(100_000)
            .resource("EB", vec![percent(-1)])
            .expect(Expect::Invalid),
        Case::new("negative cap is invalid input", DATE, 3)
            .subtotal(100_000)
            .resource("EB", vec![percent_capped(1_000, -1)])
            .expect(Expect::Invalid),
        Case::new("negative fixed value is invalid input", DATE, 3)
            .subtotal(100_000)
            .resource("OFF", vec![fixed(-1_000)])
            .expect(Expect::Invalid),
        Case::new("negative min_subtotal is invalid input", DATE, 3)
            .subtotal(100_000)
            .resource("OFF", vec![fixed_over(1_000, -1)])
            .expect(Expect::Invalid),
        Case::new("unknown type is invalid input", DATE, 3)
            .subtotal(100_000)
            .resource("BOGO", vec![json!({"type": "bogo", "value": 1000})])
            .expect(Expect::Invalid),
        Case::new("missing type is invalid input", DATE, 3)
            .subtotal(100_000)
            .resource("OFF", vec![json!({"value": 1000})])
            .expect(Expect::Invalid),
        Case::new("from after to is invalid input", DATE, 3)
            .subtotal(100_000)
            .resource("EB", vec![window(percent(1_000), Some("2026-12-02"), Some("2026-12-01"))])
            .expect(Expect::Invalid),
        Case::new("a from that is not a date is invalid input", DATE, 3)
            .subtotal(100_000)
            .resource("EB", vec![window(percent(1_000), Some("2026-02-30"), None)])
            .expect(Expect::Invalid),
    ]
}
