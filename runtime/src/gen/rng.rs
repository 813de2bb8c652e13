//! Randomness that never changes for a given seed: SplitMix64, and Zipf sampling whose
//! arithmetic uses only IEEE basic operations (no platform `powf`/`exp`/`ln`), so the
//! output is byte-identical on every platform and every Rust release.

use std::hash::{BuildHasherDefault, Hasher};

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser: a good 64-bit mixing function.
pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64: tiny, fast, and good enough for a workload generator.
#[derive(Clone, Debug)]
pub(super) struct Rng(u64);

impl Rng {
    /// A generator whose stream depends only on `seed` and the `parts` naming what it is
    /// for, so entities (a product, a route) get the same values whatever the order of
    /// generation.
    pub(super) fn derive(seed: u64, parts: &[u64]) -> Self {
        let mut h = mix(seed ^ 0x7261_7665_6C2D_6765);
        for &p in parts {
            h = mix(h.rotate_left(23) ^ mix(p.wrapping_add(GOLDEN)));
        }
        Rng(h)
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform index in `0..n`.
    pub(super) fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub(super) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi);
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// Uniform in `[0, 1)`, from 53 random bits.
    pub(super) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// True with probability `p`.
    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// An index drawn with the given integer weights (at least one non-zero).
    pub(super) fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        weights.len() - 1
    }

    /// `value` moved by a uniform step in `-bp..=bp` basis points, at least `floor`,
    /// rounded to a multiple of `grain`.
    pub(super) fn walk(&mut self, value: i64, bp: i64, floor: i64, grain: i64) -> i64 {
        let moved = value + value * self.range(-bp, bp) / 10_000;
        (moved / grain * grain).max(floor)
    }
}

/// Draws ranks `0..n` with probability proportional to `1 / (rank + 1)^s`.
#[derive(Clone, Debug)]
pub(super) struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// A Zipf distribution over `n >= 1` ranks with exponent `s` (0 is uniform).
    pub(super) fn new(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let cdf = (1..=n.max(1))
            .map(|k| {
                total += det_exp(-s * det_ln(k as f64));
                total
            })
            .collect();
        Zipf { cdf }
    }

    /// The number of ranks.
    pub(super) fn len(&self) -> usize {
        self.cdf.len()
    }

    pub(super) fn sample(&self, rng: &mut Rng) -> usize {
        let total = self.cdf[self.cdf.len() - 1];
        let x = rng.unit() * total;
        self.cdf.partition_point(|&c| c <= x).min(self.cdf.len() - 1)
    }
}

const LN_2: f64 = std::f64::consts::LN_2;

/// Natural logarithm of a positive, normal `x` with basic operations only.
pub(super) fn det_ln(x: f64) -> f64 {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mantissa = f64::from_bits((bits & ((1 << 52) - 1)) | (1023 << 52)); // in [1, 2)
    // ln(m) = 2 atanh(t), t = (m - 1) / (m + 1) in [0, 1/3).
    let t = (mantissa - 1.0) / (mantissa + 1.0);
    let t2 = t * t;
    let (mut term, mut sum) = (t, 0.0);
    for k in 0..24 {
        sum += term / f64::from(2 * k + 1);
        term *= t2;
    }
    2.0 * sum + exponent as f64 * LN_2
}

/// `e^x` with basic operations only, for `x` in about `-700..700`.
pub(super) fn det_exp(x: f64) -> f64 {
    let n = (x / LN_2 + 0.5).floor();
    let r = x - n * LN_2; // |r| <= ln 2 / 2
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 1..24 {
        term *= r / f64::from(k);
        sum += term;
    }
    let n = n.clamp(-1022.0, 1023.0) as i64;
    sum * f64::from_bits(((n + 1023) as u64) << 52)
}

/// A `Hasher` for keys that are already well-spread `u64`s (packed resource keys).
#[derive(Default)]
pub(super) struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = mix(self.0 ^ u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = mix(self.0 ^ n);
    }
}

/// A `HashMap` over packed `u64` keys with [`MixHasher`].
pub(super) type FastMap<V> = std::collections::HashMap<u64, V, BuildHasherDefault<MixHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn math_is_close_to_std() {
        for x in [0.001, 0.5, 1.0, 2.0, 3.0, 10.0, 12345.678, 1e6] {
            assert!((det_ln(x) - x.ln()).abs() < 1e-12 * x.ln().abs().max(1.0), "ln {x}");
        }
        for x in [-30.0, -2.5, -0.1, 0.0, 0.3, 1.0, 7.7, 40.0] {
            assert!((det_exp(x) - x.exp()).abs() <= 1e-13 * x.exp(), "exp {x}");
        }
    }

    #[test]
    fn zipf_prefers_low_ranks() {
        let zipf = Zipf::new(100, 1.1);
        let mut rng = Rng::derive(1, &[]);
        let mut counts = [0u32; 100];
        for _ in 0..20_000 {
            counts[zipf.sample(&mut rng)] += 1;
        }
        assert!(counts[0] > counts[1] && counts[1] > counts[10] && counts[10] > counts[90]);
    }
}
