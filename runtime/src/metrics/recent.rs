//! The recent past the operations console charts: events, departures, dead letters and
//! freshness in 5-second buckets over the last 15 minutes, and the latest dead-letter
//! records. Prometheus keeps the long history; this is what a page opened during an
//! incident shows at once, with no Prometheus server behind it.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

use crate::pipeline::DeadLetter;

/// Seconds per bucket.
pub const BUCKET_SECONDS: i64 = 5;
/// Buckets kept: 15 minutes.
const BUCKETS: usize = 180;
/// Dead-letter records kept.
const DEAD_LETTERS: usize = 100;
/// Freshness bins per doubling: a quantile is exact to within 2^(1/4), about 19 %.
const BINS_PER_DOUBLING: f64 = 4.0;
/// Bins: the last one holds everything from 2^(127/4) ms (about 45 days) up.
const BINS: usize = 128;

/// One bucket's counts.
struct Bucket {
    /// Its start, in seconds since the epoch (a multiple of [`BUCKET_SECONDS`]).
    start: i64,
    events: u64,
    dead_letters: u64,
    departures: u64,
    /// Freshness samples by log-scale bin (bin 0: under 1 ms).
    freshness: Box<[u32; BINS]>,
}

impl Bucket {
    fn new(start: i64) -> Self {
        Bucket { start, events: 0, dead_letters: 0, departures: 0, freshness: Box::new([0; BINS]) }
    }

    /// The `q` quantile of the freshness samples, in ms (the upper edge of its bin).
    fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total: u64 = self.freshness.iter().map(|&n| u64::from(n)).sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bin, &n) in self.freshness.iter().enumerate() {
            seen += u64::from(n);
            if seen >= rank {
                return Some(bin_upper_ms(bin));
            }
        }
        Some(bin_upper_ms(BINS - 1))
    }
}

fn bin_of(ms: i64) -> usize {
    if ms < 1 {
        return 0;
    }
    let bin = 1 + ((ms as f64).log2() * BINS_PER_DOUBLING).floor() as usize;
    bin.min(BINS - 1)
}

fn bin_upper_ms(bin: usize) -> f64 {
    if bin == 0 { 1.0 } else { 2f64.powf(bin as f64 / BINS_PER_DOUBLING) }
}

/// One point of the timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    /// The bucket's start, seconds since the epoch.
    pub t: i64,
    /// Input events per second over the bucket.
    pub events_per_second: f64,
    /// Departures priced per second over the bucket.
    pub departures_per_second: f64,
    /// Dead letters written in the bucket.
    pub dead_letters: u64,
    /// Median event-to-price time of the records written in the bucket (ms).
    pub freshness_p50_ms: Option<f64>,
    /// Its 99th percentile (ms).
    pub freshness_p99_ms: Option<f64>,
}

/// The last 15 minutes, one point per bucket, oldest first (buckets with no batch
/// included, at zero).
#[derive(Clone, Debug, Serialize)]
pub struct Timeline {
    /// Seconds per point.
    pub bucket_seconds: i64,
    /// The points.
    pub points: Vec<Point>,
}

#[derive(Default)]
struct Inner {
    buckets: VecDeque<Bucket>,
    dead_letters: VecDeque<DeadLetter>,
}

/// The recent activity of one engine; updated once per batch.
#[derive(Default)]
pub struct Recent(Mutex<Inner>);

/// What one batch adds.
pub struct BatchFigures<'a> {
    /// When its outputs were flushed (ms since the epoch).
    pub now_ms: i64,
    /// Input events read.
    pub events: u64,
    /// Departures priced.
    pub departures: u64,
    /// Its dead letters.
    pub dead_letters: &'a [DeadLetter],
    /// The event times behind its departure records (ms since the epoch).
    pub caused_at_ms: &'a [i64],
}

impl Recent {
    /// Adds one batch.
    pub fn observe(&self, batch: &BatchFigures<'_>) {
        let start = batch.now_ms.div_euclid(1000).div_euclid(BUCKET_SECONDS) * BUCKET_SECONDS;
        let mut inner = self.lock();
        if inner.buckets.back().is_none_or(|b| b.start < start) {
            inner.buckets.push_back(Bucket::new(start));
            while inner.buckets.len() > BUCKETS {
                inner.buckets.pop_front();
            }
        }
        // A clock stepped back lands in the newest bucket rather than reordering them.
        if let Some(bucket) = inner.buckets.back_mut() {
            bucket.events += batch.events;
            bucket.departures += batch.departures;
            bucket.dead_letters += batch.dead_letters.len() as u64;
            for ts in batch.caused_at_ms {
                let bin = bin_of((batch.now_ms - ts).max(0));
                bucket.freshness[bin] = bucket.freshness[bin].saturating_add(1);
            }
        }
        // Only the batch's last 100 can stay: a batch of bad input is not copied whole.
        let skip = batch.dead_letters.len().saturating_sub(DEAD_LETTERS);
        for d in &batch.dead_letters[skip..] {
            if inner.dead_letters.len() == DEAD_LETTERS {
                inner.dead_letters.pop_front();
            }
            inner.dead_letters.push_back(d.clone());
        }
    }

    /// The last 15 minutes up to `now_ms`.
    #[must_use]
    pub fn timeline(&self, now_ms: i64) -> Timeline {
        let last = now_ms.div_euclid(1000).div_euclid(BUCKET_SECONDS) * BUCKET_SECONDS;
        let first = last - (BUCKETS as i64 - 1) * BUCKET_SECONDS;
        let inner = self.lock();
        let mut stored = inner.buckets.iter().filter(|b| b.start >= first).peekable();
        let mut points = Vec::with_capacity(BUCKETS);
        let per_second = |n: u64| n as f64 / BUCKET_SECONDS as f64;
        for t in (first..=last).step_by(BUCKET_SECONDS as usize) {
            let point = match stored.peek() {
                Some(b) if b.start == t => {
                    let b = stored.next().expect("peeked");
                    Point {
                        t,
                        events_per_second: per_second(b.events),
                        departures_per_second: per_second(b.departures),
                        dead_letters: b.dead_letters,
                        freshness_p50_ms: b.quantile_ms(0.5),
                        freshness_p99_ms: b.quantile_ms(0.99),
                    }
                }
                _ => Point {
                    t,
                    events_per_second: 0.0,
                    departures_per_second: 0.0,
                    dead_letters: 0,
                    freshness_p50_ms: None,
                    freshness_p99_ms: None,
                },
            };
            points.push(point);
        }
        Timeline { bucket_seconds: BUCKET_SECONDS, points }
    }

    /// The latest dead letters (at most 100), newest first.
    #[must_use]
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.lock().dead_letters.iter().rev().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Each update is a few additions that cannot panic half-way.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(now_ms: i64, events: u64, caused_at_ms: &[i64]) -> BatchFigures<'_> {
        BatchFigures { now_ms, events, departures: caused_at_ms.len() as u64, dead_letters: &[], caused_at_ms }
    }

    #[test]
    fn buckets_fill_gaps_and_give_quantiles() {
        let recent = Recent::default();
        let t0 = 1_700_000_000_000; // a multiple of 5 s
        // 100 records: 98 at 10 ms, 2 at 1000 ms.
        let mut caused = vec![t0 - 10; 98];
        caused.extend([t0 - 1000, t0 - 1000]);
        recent.observe(&batch(t0, 50, &caused));
        recent.observe(&batch(t0 + 1000, 25, &[]));
        recent.observe(&batch(t0 + 10_000, 5, &[t0 + 10_000]));
        let line = recent.timeline(t0 + 10_000);
        assert_eq!(line.points.len(), BUCKETS);
        let n = line.points.len();
        let (a, gap, c) = (&line.points[n - 3], &line.points[n - 2], &line.points[n - 1]);
        assert_eq!(a.t, t0 / 1000);
        assert_eq!(a.events_per_second, 15.0);
        assert_eq!(a.departures_per_second, 20.0);
        // 10 ms falls in the bin (2^13/4, 2^14/4] ms = (9.5, 11.3]; 1000 ms in (861, 1024].
        let p50 = a.freshness_p50_ms.expect("samples");
        assert!((9.5..=11.4).contains(&p50), "{p50}");
        let p99 = a.freshness_p99_ms.expect("samples");
        assert!((861.0..=1024.0).contains(&p99), "{p99}");
        assert_eq!((gap.events_per_second, gap.freshness_p50_ms), (0.0, None));
        assert_eq!(c.events_per_second, 1.0);
        assert_eq!(c.freshness_p50_ms, Some(1.0));
    }

    #[test]
    fn old_buckets_roll_off() {
        let recent = Recent::default();
        let t0 = 1_700_000_000_000;
        for i in 0..(BUCKETS as i64 + 20) {
            recent.observe(&batch(t0 + i * 5000, 1, &[]));
        }
        let now = t0 + (BUCKETS as i64 + 19) * 5000;
        let line = recent.timeline(now);
        assert!(line.points.iter().all(|p| p.events_per_second == 0.2));
        assert_eq!(recent.lock().buckets.len(), BUCKETS);
    }

    fn letters(file: &str, lines: std::ops::RangeInclusive<u64>) -> Vec<DeadLetter> {
        lines
            .map(|line| DeadLetter {
                reason: "not JSON".into(),
                reason_class: "not_json",
                origin: crate::intake::Origin::File { path: file.into(), line },
                event: serde_json::Value::String("x".into()),
            })
            .collect()
    }

    #[test]
    fn the_latest_hundred_dead_letters_are_kept_newest_first() {
        let recent = Recent::default();
        let (first, second) = (letters("a", 1..=250), letters("b", 1..=3));
        for batch in [&first, &second] {
            recent.observe(&BatchFigures {
                now_ms: 1_700_000_000_000,
                events: batch.len() as u64,
                departures: 0,
                dead_letters: batch,
                caused_at_ms: &[],
            });
        }
        let kept = recent.dead_letters();
        let expected: Vec<DeadLetter> =
            second.iter().rev().chain(first.iter().rev()).take(DEAD_LETTERS).cloned().collect();
        assert_eq!(kept, expected);
        assert_eq!(recent.timeline(1_700_000_000_000).points.last().map(|p| p.dead_letters), Some(253));
    }
}
