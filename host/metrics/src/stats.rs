//! Descriptive statistics for per-task latencies and repeated runs.
//!
//! Every function returns `None` for an input it cannot summarise (empty, too short, or holding a
//! value that is not finite) instead of a number that would look measured.

use serde::{Deserialize, Serialize};

fn finite(values: &[f64]) -> bool {
    values.iter().all(|v| v.is_finite())
}

/// The arithmetic mean.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() || !finite(values) {
        return None;
    }
    Some(values.iter().sum::<f64>() / values.len() as f64)
}

/// The sample standard deviation (n − 1 in the denominator); needs two values.
pub fn sample_std(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = mean(values)?;
    let ss: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    Some((ss / (values.len() - 1) as f64).sqrt())
}

/// The `q`-th percentile (`q` in 0..=100) by linear interpolation between the closest ranks,
/// numpy's default (`method="linear"`): with the values sorted, rank `h = (n − 1)·q/100`, and the
/// result is `x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋])`.
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() || !finite(values) || !(0.0..=100.0).contains(&q) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let h = (sorted.len() - 1) as f64 * q / 100.0;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// The median (the 50th percentile, so the mean of the two middle values for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    percentile(values, 50.0)
}

/// The two-sided 97.5 % quantile of Student's t distribution with `df` degrees of freedom, from a
/// table (exact to 4 decimals for df ≤ 30; above that the entry for the next smaller tabulated
/// df, 40, 60 or 120, which errs on the wide side; 1.96 from df 1000 on).
pub fn t_975(df: u64) -> Option<f64> {
    const TABLE: [f64; 30] = [
        12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281, 2.2010,
        2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739,
        2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
    ];
    match df {
        0 => None,
        1..=30 => Some(TABLE[df as usize - 1]),
        31..=39 => Some(TABLE[29]),
        40..=59 => Some(2.0211),
        60..=119 => Some(2.0003),
        120..=999 => Some(1.9799),
        _ => Some(1.9600),
    }
}

/// The two-sided 97.5 % quantile of the standard normal distribution (z for 95 % intervals).
pub const Z_975: f64 = 1.959_963_984_540_054;

/// The 95 % Wilson score interval of a proportion `k` of `n`, as fractions: unlike the normal
/// approximation (p ± z·stderr) it stays inside [0, 1] and is not empty at 0 or n. With
/// p = k/n and z = [`Z_975`]: centre (p + z²/2n) / (1 + z²/n), half-width
/// z·√(p(1−p)/n + z²/4n²) / (1 + z²/n). `None` for n = 0 or k > n.
pub fn wilson_95(k: u64, n: u64) -> Option<(f64, f64)> {
    if n == 0 || k > n {
        return None;
    }
    let (nf, p, z2) = (n as f64, k as f64 / n as f64, Z_975 * Z_975);
    let denom = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denom;
    let half = Z_975 * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denom;
    // At 0 and n the bound is exactly 0 or 1; the formula only gets there up to rounding.
    let lo = if k == 0 { 0.0 } else { centre - half };
    let hi = if k == n { 1.0 } else { centre + half };
    Some((lo, hi))
}

/// Mean, spread and a 95 % confidence interval of repeated measurements of one quantity
/// (`docs/metrics.md#repeats`: mean, SD, median and a t-interval).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of values.
    pub n: u64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation; `None` for a single value.
    pub std: Option<f64>,
    /// Median.
    pub median: f64,
    /// Lower end of the 95 % t-interval of the mean; `None` for a single value.
    pub ci95_low: Option<f64>,
    /// Upper end of the 95 % t-interval of the mean; `None` for a single value.
    pub ci95_high: Option<f64>,
}

/// Summarises repeated measurements: mean ± t(0.975, n−1)·s/√n.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    let mean = mean(values)?;
    let median = median(values)?;
    let std = sample_std(values);
    let half = match (std, t_975(values.len() as u64 - 1)) {
        (Some(s), Some(t)) => Some(t * s / (values.len() as f64).sqrt()),
        _ => None,
    };
    Some(Summary {
        n: values.len() as u64,
        mean,
        std,
        median,
        ci95_low: half.map(|h| mean - h),
        ci95_high: half.map(|h| mean + h),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_is_boundary_safe_and_matches_hand_worked_values() {
        // k = 0 of 10: the interval is [0, (z²/n) / (1 + z²/n)] = [0, 0.384146 / 1.384146].
        let (lo, hi) = wilson_95(0, 10).unwrap();
        assert_eq!(lo, 0.0);
        assert!((hi - 0.277_533).abs() < 1e-6, "{hi}");
        // k = n mirrors it.
        let (lo, hi) = wilson_95(10, 10).unwrap();
        assert!((lo - 0.722_467).abs() < 1e-6 && hi == 1.0, "{lo} {hi}");
        // 50 of 100: centre 0.5, half-width 1.959964 * sqrt(0.0025 + 0.000096) / 1.038415 = 0.096168.
        let (lo, hi) = wilson_95(50, 100).unwrap();
        assert!((lo - 0.403_832).abs() < 1e-6 && (hi - 0.596_168).abs() < 1e-6, "{lo} {hi}");
        assert_eq!(wilson_95(0, 0), None);
        assert_eq!(wilson_95(3, 2), None);
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn percentiles_follow_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4], 50) = 2.5; 95 -> h = 2.85 -> 3 + 0.85 = 3.85;
        // 25 -> h = 0.75 -> 1.75.
        let v = [4.0, 1.0, 3.0, 2.0];
        assert!(close(median(&v).unwrap(), 2.5));
        assert!(close(percentile(&v, 95.0).unwrap(), 3.85));
        assert!(close(percentile(&v, 25.0).unwrap(), 1.75));
        assert!(close(percentile(&v, 0.0).unwrap(), 1.0));
        assert!(close(percentile(&v, 100.0).unwrap(), 4.0));
        assert!(close(percentile(&[7.0], 95.0).unwrap(), 7.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&v, 101.0), None);
        assert_eq!(percentile(&[1.0, f64::NAN], 50.0), None);
    }

    #[test]
    fn summary_of_five_repeats() {
        // 10, 12, 11, 13, 14: mean 12, s = sqrt(10/4) = 1.5811, t(4) = 2.7764,
        // half width = 2.7764 * 1.5811 / sqrt(5) = 1.9632.
        let s = summarize(&[10.0, 12.0, 11.0, 13.0, 14.0]).unwrap();
        assert_eq!(s.n, 5);
        assert!(close(s.mean, 12.0));
        assert!(close(s.median, 12.0));
        assert!((s.std.unwrap() - 1.581_138_8).abs() < 1e-6);
        assert!((s.ci95_low.unwrap() - (12.0 - 1.963_2)).abs() < 1e-3);
        assert!((s.ci95_high.unwrap() - (12.0 + 1.963_2)).abs() < 1e-3);
        let one = summarize(&[3.0]).unwrap();
        assert_eq!(one.std, None);
        assert_eq!(one.ci95_low, None);
        assert_eq!(summarize(&[]), None);
    }

    #[test]
    fn t_table_edges() {
        assert_eq!(t_975(0), None);
        assert_eq!(t_975(1), Some(12.7062));
        assert_eq!(t_975(30), Some(2.0423));
        assert_eq!(t_975(45), Some(2.0211));
        assert_eq!(t_975(5000), Some(1.96));
    }
}
