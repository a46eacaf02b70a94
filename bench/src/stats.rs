//! Percentiles and summaries of latency samples (nanoseconds).

use serde::Serialize;

/// What the table and the JSON report of one latency figure.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub n: usize,
    pub p50_us: f64,
    pub p99_us: f64,
    pub min_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
}

/// The `p`-th percentile (0..=100) by the nearest-rank method; `None` for no samples.
pub fn percentile(sorted_ns: &[u64], p: f64) -> Option<u64> {
    if sorted_ns.is_empty() {
        return None;
    }
    let p = p.clamp(0.0, 100.0);
    // Nearest rank: the smallest value with at least p% of the samples at or below it.
    let rank = ((p / 100.0) * sorted_ns.len() as f64).ceil() as usize;
    Some(sorted_ns[rank.clamp(1, sorted_ns.len()) - 1])
}

impl Summary {
    pub fn of(samples_ns: &[u64]) -> Option<Summary> {
        let mut s = samples_ns.to_vec();
        s.sort_unstable();
        let us = |ns: u64| ns as f64 / 1000.0;
        let sum: u128 = s.iter().map(|&v| u128::from(v)).sum();
        Some(Summary {
            n: s.len(),
            p50_us: us(percentile(&s, 50.0)?),
            p99_us: us(percentile(&s, 99.0)?),
            min_us: us(*s.first()?),
            max_us: us(*s.last()?),
            mean_us: sum as f64 / s.len() as f64 / 1000.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn summary_sorts_and_converts_to_microseconds() {
        let s = Summary::of(&[3000, 1000, 2000, 4000]).expect("samples");
        assert_eq!(s.n, 4);
        assert_eq!(s.p50_us, 2.0);
        assert_eq!(s.p99_us, 4.0);
        assert_eq!(s.min_us, 1.0);
        assert_eq!(s.max_us, 4.0);
        assert_eq!(s.mean_us, 2.5);
        assert!(Summary::of(&[]).is_none());
    }
}
