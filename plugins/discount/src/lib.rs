//! Reference discount rules (DOMAIN.md): an adjustment. A binding's `rules` lists rule keys,
//! applied in that order to a running amount that starts at the departure's subtotal; a
//! `percent` rule takes `floor(running * value_bp / 10000)`, at most its `cap` when it has
//! one; a `fixed` rule takes `value` when `running >= min_subtotal` (default 0); a rule with
//! no quote, or whose inclusive `from`/`to` window does not contain the departure date, takes
//! nothing; no take ever exceeds what is left, so the total never goes below 0. The result is
//! `running - subtotal` (zero or negative), added to the price as is (no markup).

use pricing_sdk::fields::{count, key_parts, money, opt_str};
use pricing_sdk::money::div_floor;
use pricing_sdk::{Binding, Context, Date, Departure, Metadata, PriceError, PricingRule, Role, export_plugin};
use serde::{Deserialize, Serialize};

pub mod cases;

/// What a rule takes from the running subtotal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Take {
    /// `floor(running * value_bp / 10000)`, at most `cap`.
    Percent {
        /// Basis points, 0..=10000.
        value_bp: u32,
        /// Most it takes; `None`: no cap.
        cap: Option<i64>,
    },
    /// `value` when `running >= min_subtotal`.
    Fixed {
        /// The amount taken.
        value: i64,
        /// The least running subtotal it applies to.
        min_subtotal: i64,
    },
}

/// One discount rule, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountQuote {
    /// What it takes.
    pub take: Take,
    /// First departure date it applies to (days since 1970-01-01), if bounded.
    pub from: Option<i32>,
    /// Last departure date it applies to (days since 1970-01-01), if bounded.
    pub to: Option<i32>,
}

impl DiscountQuote {
    /// Whether a departure on `date` is inside the rule's window.
    fn applies_on(&self, date: Date) -> bool {
        let day = date.days();
        self.from.is_none_or(|from| day >= from) && self.to.is_none_or(|to| day <= to)
    }

    /// What the rule takes from `running`: never negative, never more than `running`.
    fn take(&self, running: i64) -> i64 {
        let wanted: i128 = match self.take {
            Take::Percent { value_bp, cap } => {
                let off = div_floor(i128::from(running) * i128::from(value_bp), 10_000);
                cap.map_or(off, |cap| off.min(i128::from(cap)))
            }
            Take::Fixed { value, min_subtotal } if running >= min_subtotal => i128::from(value),
            Take::Fixed { .. } => 0,
        };
        let most = running.max(0);
        i64::try_from(wanted.clamp(0, i128::from(most))).unwrap_or(most)
    }
}

/// The discount rules.
pub struct Discount;

impl PricingRule for Discount {
    type Quote = DiscountQuote;

    fn metadata() -> Metadata {
        Metadata {
            kind: "discount",
            version: env!("CARGO_PKG_VERSION"),
            role: Role::Adjustment,
            description: "percent (floor, capped) and fixed (threshold) rules in order on the running subtotal, never below 0",
        }
    }

    fn decode_quote(key: &str, data: &serde_json::Value) -> Result<DiscountQuote, PriceError> {
        key_parts::<1>(key, "RULE")?;
        let take = match data.get("type") {
            None | Some(serde_json::Value::Null) => return Err(PriceError::invalid("missing field `type`")),
            Some(serde_json::Value::String(t)) if t == "percent" => {
                let value_bp = count(data, "value_bp")?;
                if value_bp > 10_000 {
                    return Err(PriceError::invalid(format!("`value_bp` must be at most 10000, got {value_bp}")));
                }
                Take::Percent { value_bp, cap: opt_money(data, "cap")? }
            }
            Some(serde_json::Value::String(t)) if t == "fixed" => Take::Fixed {
                value: money(data, "value")?,
                min_subtotal: opt_money(data, "min_subtotal")?.unwrap_or(0),
            },
            Some(t) => {
                return Err(PriceError::invalid(format!("unknown discount `type` {t}: expected percent or fixed")));
            }
        };
        let from = opt_date(data, "from")?;
        let to = opt_date(data, "to")?;
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(PriceError::invalid(format!("`from` {from} is after `to` {to}")));
        }
        Ok(DiscountQuote { take, from: from.map(Date::days), to: to.map(Date::days) })
    }

    fn dependencies(binding: &Binding, _d: &Departure) -> Result<Vec<String>, PriceError> {
        let rules = binding.str_list("rules")?;
        if let Some(bad) = rules.iter().find(|r| r.contains('/')) {
            return Err(PriceError::invalid(format!("binding field `rules`: rule key must not contain '/': {bad:?}")));
        }
        Ok(rules.into_iter().map(str::to_owned).collect())
    }

    fn price(ctx: &Context, resources: &[&[DiscountQuote]]) -> Result<i64, PriceError> {
        let mut running = ctx.subtotal;
        for rule in resources.iter().filter_map(|quotes| quotes.first()) {
            if rule.applies_on(ctx.date) {
                running -= rule.take(running);
            }
        }
        Ok(running - ctx.subtotal)
    }
}

/// An optional non-negative amount: absent or `null` is `None`.
fn opt_money(data: &serde_json::Value, field: &str) -> Result<Option<i64>, PriceError> {
    match data.get(field) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(_) => money(data, field).map(Some),
    }
}

/// An optional `YYYY-MM-DD` date.
fn opt_date(data: &serde_json::Value, field: &str) -> Result<Option<Date>, PriceError> {
    opt_str(data, field)?
        .map(|s| Date::parse(s).map_err(|e| PriceError::invalid(format!("`{field}`: {e}"))))
        .transpose()
}

export_plugin!(Discount);

#[cfg(test)]
mod tests {
    use super::*;
    use pricing_sdk::testing::{assert_cases, departure, dependencies};
    use serde_json::json;

    #[test]
    fn every_case_holds() {
        assert_cases::<Discount>(&cases::cases());
    }

    #[test]
    fn is_an_adjustment() {
        assert_eq!(Discount::metadata().role, Role::Adjustment);
    }

    #[test]
    fn depends_on_the_rules_in_binding_order() {
        let binding = json!({"kind": "discount", "rules": ["FULL200", "EB30", "VIP"]});
        let d = departure("SHA", "XMN", "2026-12-01", 3, 2);
        let keys = dependencies::<Discount>(&binding, &d);
        assert_eq!(keys, Ok(vec!["FULL200".to_owned(), "EB30".to_owned(), "VIP".to_owned()]));
        let none = dependencies::<Discount>(&json!({"kind": "discount", "rules": []}), &d);
        assert_eq!(none, Ok(vec![]));
    }

    #[test]
    fn rejects_bad_bindings() {
        let d = departure("SHA", "XMN", "2026-12-01", 3, 2);
        for bad in [
            json!({"kind": "discount"}),
            json!({"kind": "discount", "rules": "EB30"}),
            json!({"kind": "discount", "rules": ["EB30", 7]}),
            json!({"kind": "discount", "rules": ["EB30", ""]}),
            json!({"kind": "discount", "rules": ["EB/30"]}),
        ] {
            assert!(matches!(dependencies::<Discount>(&bad, &d), Err(PriceError::InvalidInput(_))), "{bad}");
        }
    }

    #[test]
    fn decodes_rules() {
        let day = |s: &str| Date::parse(s).expect("date").days();
        assert_eq!(
            Discount::decode_quote("EB30", &json!({"type": "percent", "value_bp": 500})),
            Ok(DiscountQuote { take: Take::Percent { value_bp: 500, cap: None }, from: None, to: None })
        );
        assert_eq!(
            Discount::decode_quote("EB30", &json!({"type": "percent", "value_bp": 10000, "cap": null})),
            Ok(DiscountQuote { take: Take::Percent { value_bp: 10_000, cap: None }, from: None, to: None })
        );
        assert_eq!(
            Discount::decode_quote(
                "FULL200",
                &json!({"type": "fixed", "value": 20000, "from": "2026-12-01", "to": "2026-12-01"})
            ),
            Ok(DiscountQuote {
                take: Take::Fixed { value: 20_000, min_subtotal: 0 },
                from: Some(day("2026-12-01")),
                to: Some(day("2026-12-01")),
            })
        );
    }

    #[test]
    fn rejects_bad_quotes() {
        for bad in [
            json!({}),
            json!({"type": null, "value": 1}),
            json!({"type": 1, "value": 1}),
            json!({"type": "PERCENT", "value_bp": 1}),
            json!({"type": "bogo", "value": 1}),
            json!({"type": "percent"}),
            json!({"type": "percent", "value_bp": -1}),
            json!({"type": "percent", "value_bp": 10001}),
            json!({"type": "percent", "value_bp": "500"}),
            json!({"type": "percent", "value_bp": 5.5}),
            json!({"type": "percent", "value_bp": 500, "cap": -1}),
            json!({"type": "percent", "value_bp": 500, "cap": "100"}),
            json!({"type": "fixed"}),
            json!({"type": "fixed", "value": -1}),
            json!({"type": "fixed", "value": "100"}),
            json!({"type": "fixed", "value": 100, "min_subtotal": -1}),
            json!({"type": "fixed", "value": 100, "min_subtotal": 1.5}),
            json!({"type": "fixed", "value": 100, "from": "2026-13-01"}),
            json!({"type": "fixed", "value": 100, "to": "2026/12/01"}),
            json!({"type": "fixed", "value": 100, "from": 20261201}),
            json!({"type": "fixed", "value": 100, "from": "2026-12-02", "to": "2026-12-01"}),
        ] {
            assert!(matches!(Discount::decode_quote("EB30", &bad), Err(PriceError::InvalidInput(_))), "{bad}");
        }
        let ok = json!({"type": "fixed", "value": 100});
        for bad_key in ["", "EB/30", "/EB30"] {
            assert!(matches!(Discount::decode_quote(bad_key, &ok), Err(PriceError::InvalidInput(_))), "{bad_key:?}");
        }
    }

    #[test]
    fn take_never_exceeds_what_is_left() {
        let fixed = DiscountQuote { take: Take::Fixed { value: 500, min_subtotal: 0 }, from: None, to: None };
        assert_eq!(fixed.take(300), 300);
        assert_eq!(fixed.take(0), 0);
        assert_eq!(fixed.take(-100), 0);
        let all = DiscountQuote { take: Take::Percent { value_bp: 10_000, cap: None }, from: None, to: None };
        assert_eq!(all.take(i64::MAX), i64::MAX);
        assert_eq!(all.take(-100), 0);
    }
}
