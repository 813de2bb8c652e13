//! Integer money helpers. All amounts are minor units (fen, cents); rounding is exact.

/// `ceil(a / b)` for `b > 0`, exact for negative `a` too.
#[must_use]
pub fn div_ceil(a: i128, b: i128) -> i128 {
    debug_assert!(b > 0);
    -((-a).div_euclid(b))
}

/// `floor(a / b)` for `b > 0`.
#[must_use]
pub fn div_floor(a: i128, b: i128) -> i128 {
    debug_assert!(b > 0);
    a.div_euclid(b)
}

/// A component with a markup in basis points: `ceil(amount * (10000 + markup_bp) / 10000)`.
#[must_use]
pub fn apply_markup(amount: i64, markup_bp: i32) -> i64 {
    if markup_bp == 0 {
        return amount;
    }
    let factor = 10_000 + i64::from(markup_bp);
    // i64 whenever the product fits (any real price): wasm has no 128-bit division, and
    // the i128 path costs a library call per departure there.
    match amount.checked_mul(factor) {
        Some(p) => -((-p).div_euclid(10_000)),
        None => saturate(div_ceil(i128::from(amount) * i128::from(factor), 10_000)),
    }
}

/// Rounds a total up to a whole currency unit (a multiple of 100 minor units).
#[must_use]
pub fn round_up_to_unit(amount: i64) -> i64 {
    saturate(div_ceil(i128::from(amount), 100) * 100)
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_rounds_up() {
        assert_eq!(apply_markup(143_000, 300), 147_290);
        assert_eq!(apply_markup(100_001, 300), 103_002); // 103001.03 -> 103002
        assert_eq!(apply_markup(100_000, 0), 100_000);
        assert_eq!(apply_markup(0, 500), 0);
        assert_eq!(apply_markup(10_001, -300), 9_701); // 9700.97 -> 9701
        assert_eq!(apply_markup(i64::MAX, 300), i64::MAX, "the i128 path saturates");
        let big = 4_000_000_000_000_000i64; // overflows i64 once multiplied by 10300
        assert_eq!(apply_markup(big, 300), 4_120_000_000_000_000);
    }

    #[test]
    fn unit_rounding_and_division() {
        assert_eq!(round_up_to_unit(355_901), 356_000);
        assert_eq!(round_up_to_unit(356_000), 356_000);
        assert_eq!(round_up_to_unit(0), 0);
        assert_eq!(div_ceil(-7, 2), -3);
        assert_eq!(div_floor(-7, 2), -4);
        assert_eq!(div_floor(7, 2), 3);
    }
}
