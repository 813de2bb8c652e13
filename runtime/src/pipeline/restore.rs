//! Price rollback: each departure gets back, as a new version, the price it had just
//! before a given rule version first priced it. Consumers only ever see versions grow;
//! the restored record keeps the earlier version's rules, so it says which rules made it.

use std::collections::BTreeMap;

use super::price::emit_price;
use super::{BatchOutput, Cause, Restore};
use crate::state::{DeparturePrice, Offer, PriceRef, StateError, Writer};

/// Restores `spec.departures` (those `spec.rules` never priced, or that had no price
/// before it, are left as they are) and adds their products to `touched`.
pub(crate) fn restore(
    writer: &mut Writer<'_>,
    out: &mut BatchOutput,
    spec: &Restore<'_>,
    cause: &Cause,
    priced_at: &str,
    touched: &mut BTreeMap<String, Cause>,
) -> Result<(), StateError> {
    for id in spec.departures {
        let history = writer.committed_history(id)?;
        let Some(target) = before_first(&history, spec.kind, spec.rules) else { continue };
        let restored = Offer::of(target.clone());
        let slot = writer.intern(id);
        let version = match writer.offer(slot)? {
            Some(cur) if cur.same_offer(&restored) => continue,
            Some(cur) => cur.version + 1,
            None => continue,
        };
        let offer = Offer { version, ..restored };
        let mut rules = Vec::new();
        let price =
            PriceRef { version, cause: &cause.id, event_ts: &cause.ts, priced_at, ..target.borrowed(&mut rules) };
        super::price::note_touched(touched, &target.product, cause);
        out.stats.restored += 1;
        let rule_set = writer.rule_set(price.rules)?;
        // `id` is the version's key: its history was read by it.
        let stored = emit_price(out, id, &price, rule_set, cause);
        writer.put_price(slot, offer, stored)?;
    }
    Ok(())
}

/// The version just before the first one `rules` priced for `kind`; `None` when it
/// never priced this departure or priced its first version.
fn before_first<'h>(history: &'h [DeparturePrice], kind: &str, rules: &str) -> Option<&'h DeparturePrice> {
    let first = history.iter().position(|p| p.rules.get(kind).is_some_and(|r| r == rules))?;
    first.checked_sub(1).map(|i| &history[i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Status;

    fn version(v: u64, flight: &str, price: i64) -> DeparturePrice {
        DeparturePrice {
            product: "P1".into(),
            city: "SHA".into(),
            date: "2026-12-01".into(),
            status: Status::Available,
            price: Some(price),
            reason: None,
            currency: "CNY".into(),
            components: Vec::new(),
            rules: [("flight".to_owned(), flight.to_owned())].into(),
            version: v,
            cause: format!("e{v}"),
            event_ts: String::new(),
            priced_at: String::new(),
        }
    }

    #[test]
    fn restores_the_version_before_the_first_one_the_rules_priced() {
        let h =
            [version(1, "a", 10), version(2, "a", 11), version(3, "b", 15), version(4, "b", 16), version(5, "a", 12)];
        assert_eq!(before_first(&h, "flight", "b").map(|p| p.version), Some(2));
        assert_eq!(before_first(&h, "flight", "a"), None, "priced from the first version: nothing before it");
        assert_eq!(before_first(&h, "flight", "c"), None, "never priced by it");
        assert_eq!(before_first(&h, "hotel", "b"), None, "another kind");
    }
}
