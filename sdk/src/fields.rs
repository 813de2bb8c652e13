//! Reading and validating fields of a quote's JSON `data`, with the error messages the
//! dead-letter output shows.

use serde_json::Value;

use crate::types::PriceError;

/// A required non-negative integer amount of money (minor units).
pub fn money(data: &Value, field: &str) -> Result<i64, PriceError> {
    match data.get(field) {
        None | Some(Value::Null) => Err(PriceError::invalid(format!("missing field `{field}`"))),
        Some(v) => match v.as_i64() {
            Some(n) if n >= 0 => Ok(n),
            Some(n) => Err(PriceError::invalid(format!("`{field}` is negative: {n}"))),
            None => Err(PriceError::invalid(format!("`{field}` must be an integer amount in minor units, got {v}"))),
        },
    }
}

/// A required non-negative count (seats, rooms, cabins).
pub fn count(data: &Value, field: &str) -> Result<u32, PriceError> {
    let n = money(data, field)?;
    u32::try_from(n).map_err(|_| PriceError::invalid(format!("`{field}` is too large: {n}")))
}

/// An optional field that must be a string when present.
pub fn opt_str<'a>(data: &'a Value, field: &str) -> Result<Option<&'a str>, PriceError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(PriceError::invalid(format!("`{field}` must be a string, got {v}"))),
    }
}

/// Splits a resource key into exactly `N` `/`-separated non-empty parts.
pub fn key_parts<'a, const N: usize>(key: &'a str, shape: &str) -> Result<[&'a str; N], PriceError> {
    let bad = || PriceError::invalid(format!("key {key:?} is not of the form {shape}"));
    let mut parts = key.split('/');
    let mut out = [""; N];
    for slot in &mut out {
        *slot = parts.next().filter(|p| !p.is_empty()).ok_or_else(bad)?;
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn money_and_counts() {
        let d = json!({"fare": 100, "neg": -1, "f": 1.5, "s": "x", "big": 5_000_000_000i64});
        assert_eq!(money(&d, "fare"), Ok(100));
        assert!(matches!(money(&d, "neg"), Err(PriceError::InvalidInput(m)) if m.contains("negative")));
        assert!(money(&d, "f").is_err());
        assert!(money(&d, "s").is_err());
        assert!(matches!(money(&d, "none"), Err(PriceError::InvalidInput(m)) if m.contains("missing")));
        assert!(count(&d, "big").is_err());
    }

    #[test]
    fn keys() {
        assert_eq!(key_parts::<3>("SHA/XMN/2026-12-01", "A/B/C"), Ok(["SHA", "XMN", "2026-12-01"]));
        assert!(key_parts::<3>("SHA/XMN", "A/B/C").is_err());
        assert!(key_parts::<2>("SHA//X", "A/B").is_err());
        assert!(key_parts::<2>("A/B/C", "A/B").is_err());
    }
}
