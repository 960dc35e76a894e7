//! Log-linear latency histogram (fixed memory, < 1 % relative error).
//!
//! Values below 256 get one bucket each; above, every power-of-two range is
//! split into 128 equal buckets. Recording is a few integer instructions and
//! the whole histogram is ~58 KiB regardless of the number of samples.

const LINEAR: u64 = 256;
const SUB: u64 = 128;
const SUB_SHIFT: u32 = 7;
const BUCKETS: usize = LINEAR as usize + (64 - 8) * SUB as usize;

/// A histogram of u64 values (the generator records nanoseconds).
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn index(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= 8
    let sub = (v >> (e - SUB_SHIFT)) - SUB; // 0..128
    LINEAR as usize + (e as usize - 8) * SUB as usize + sub as usize
}

/// Midpoint of the values a bucket holds.
fn value_of(idx: usize) -> u64 {
    if (idx as u64) < LINEAR {
        return idx as u64;
    }
    let i = idx as u64 - LINEAR;
    let e = i / SUB + 8;
    let sub = i % SUB;
    let width = 1u64 << (e - u64::from(SUB_SHIFT));
    ((SUB + sub) << (e - u64::from(SUB_SHIFT))) + width / 2
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Records one value.
    #[inline]
    pub fn record(&mut self, v: u64) {
        self.counts[index(v)] += 1;
        self.total += 1;
        self.sum += u128::from(v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Exact mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// Largest recorded value (0 when empty).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Value at quantile `q` in [0, 1] (0 when empty), clamped to the
    /// recorded min/max.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        if rank == self.total {
            return self.max;
        }
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return value_of(i).clamp(self.min, self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_precise() {
        let mut last = 0;
        for v in (0..2_000_000u64)
            .step_by(97)
            .chain([u64::MAX / 2, u64::MAX])
        {
            let i = index(v);
            assert!(i >= last && i < BUCKETS);
            last = i;
            let m = value_of(i);
            let err = (m as f64 - v as f64).abs() / (v.max(1) as f64);
            assert!(err <= 1.0 / 128.0, "v={v} m={m}");
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::new();
        for v in 1..=100_000u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile(0.5) as f64;
        assert!((p50 - 50_000_000.0).abs() / 50_000_000.0 < 0.01);
        let p99 = h.quantile(0.99) as f64;
        assert!((p99 - 99_000_000.0).abs() / 99_000_000.0 < 0.01);
        assert_eq!(h.quantile(1.0), 100_000_000);
        assert!((h.mean() - 50_000_500.0).abs() < 1.0);
    }
}
