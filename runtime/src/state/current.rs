//! The `current` keyspace: where each departure's current price version is, one entry
//! per product. A micro-batch re-prices hundreds of thousands of departures, and fjall's
//! cost is mostly per entry (a journal item, a memtable insert among long, shared key
//! prefixes, then flushing and compacting a keyspace overwritten in random order). Listed
//! by product, a batch writes one entry per product it re-priced instead of one per
//! departure. The working set keeps each product's value encoded, and a new version
//! overwrites its departure's place in it (see `Writer::put_price_swap`), so writing it
//! is a copy.
//!
//! A value is [`TAG`], then for each departure with a price, in the order they were
//! first priced: the length of its `CITY:DATE` (one byte, or 255 and then four bytes BE),
//! the bytes, then its place: the version (u64 BE) and the `at` of the batch whose `log`
//! entry holds it (u64 BE, as [`super::Offer::at`]). An `at` of 0 says the version was
//! stored before `current` existed: its `prices` value says where.

use super::{Result, StateError};

/// The first byte of every value: the form it is in.
pub(super) const TAG: u8 = 1;

/// Bytes of a place: the version, then `at`.
const PLACE: usize = 16;

/// A length this long or more is written in the four bytes after it.
const LONG: u8 = u8::MAX;

/// The key of `product`'s entry: `PRODUCT:`, the prefix of its departures' ids, so that
/// entries sort among `prices` keys (written before `current`) as their departures do.
#[must_use]
pub(super) fn key(product: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(product.len() + 1);
    k.extend_from_slice(product.as_bytes());
    k.push(b':');
    k
}

/// An empty product value.
#[must_use]
pub(super) fn empty() -> Vec<u8> {
    vec![TAG]
}

/// Appends `city_date` at (`version`, `at`) to a product value; returns where its
/// place is, for [`set`].
pub(super) fn push(value: &mut Vec<u8>, city_date: &str, version: u64, at: u64) -> usize {
    let len = city_date.len();
    match u8::try_from(len) {
        Ok(short) if short < LONG => value.push(short),
        // Ids come from products' cities and dates: never this long in practice, and
        // still stored if they are.
        _ => {
            value.push(LONG);
            value.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
        }
    }
    value.extend_from_slice(city_date.as_bytes());
    let place = value.len();
    value.extend_from_slice(&[0; PLACE]);
    set(value, place, version, at);
    place
}

/// Moves the departure whose place [`push`] returned as `place` to (`version`, `at`).
pub(super) fn set(value: &mut [u8], place: usize, version: u64, at: u64) {
    value[place..place + 8].copy_from_slice(&version.to_be_bytes());
    value[place + 8..place + PLACE].copy_from_slice(&at.to_be_bytes());
}

/// Every departure of a product value, as (`CITY:DATE`, version, `at`), in stored order.
pub(super) fn entries(value: &[u8]) -> Result<Vec<(&str, u64, u64)>> {
    let corrupt = |why: &str| StateError::Corrupt { what: "current", why: why.to_owned() };
    let Some((&TAG, mut rest)) = value.split_first() else {
        return Err(corrupt("a value of an unknown form"));
    };
    let mut out = Vec::new();
    while let Some((&first, after)) = rest.split_first() {
        let (len, after) = if first == LONG {
            let (len, after) = after.split_first_chunk::<4>().ok_or_else(|| corrupt("cut short"))?;
            (u32::from_be_bytes(*len) as usize, after)
        } else {
            (usize::from(first), after)
        };
        let (name, after) = after.split_at_checked(len).ok_or_else(|| corrupt("cut short"))?;
        let name = std::str::from_utf8(name).map_err(|_| corrupt("a departure name that is not UTF-8"))?;
        let (place, after) = after.split_first_chunk::<PLACE>().ok_or_else(|| corrupt("cut short"))?;
        let (version, at) = place.split_at(8);
        let word = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap_or_default());
        out.push((name, word(version), word(at)));
        rest = after;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_written_and_moved_read_back_in_order() {
        let mut value = empty();
        let long = "X".repeat(300);
        let a = push(&mut value, "SHA:2026-12-01", 1, 7);
        let b = push(&mut value, &long, 2, 0);
        push(&mut value, "", 3, 9);
        set(&mut value, a, 4, 8 | super::super::GROUPED);
        let read = entries(&value).expect("reads");
        assert_eq!(read, [("SHA:2026-12-01", 4, 8 | super::super::GROUPED), (long.as_str(), 2, 0), ("", 3, 9)]);
        set(&mut value, b, 5, 10);
        assert_eq!(entries(&value).expect("reads")[1], (long.as_str(), 5, 10));
    }

    #[test]
    fn a_cut_or_unknown_value_is_corrupt_not_a_panic() {
        let mut value = empty();
        push(&mut value, "SHA:2026-12-01", 1, 7);
        for cut in 2..value.len() {
            assert!(entries(&value[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(entries(&value[..1]).expect("only the tag").len(), 0);
        assert!(matches!(entries(&[]), Err(StateError::Corrupt { what: "current", .. })));
        assert!(matches!(entries(&[2]), Err(StateError::Corrupt { what: "current", .. })));
    }
}
