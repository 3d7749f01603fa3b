//! The three tests a comparison uses, each returning the difference (candidate − baseline), its
//! 95 % interval and a two-sided p-value.
//!
//! - [`mcnemar`]: accuracy of two systems on the same tasks. Only the discordant tasks (right
//!   in one, wrong in the other) carry information; with `b` right only in the baseline and `c`
//!   right only in the candidate, the p-value is the exact binomial test of `c` out of `b + c`
//!   at ½ when `b + c` is below [`MCNEMAR_EXACT_BELOW`], else McNemar's χ² with continuity
//!   correction, (|b − c| − 1)² / (b + c) on one degree of freedom. The interval is the Wald
//!   interval of a paired difference of proportions: d = (c − b)/n,
//!   var = ((b + c)/n − d²)/n.
//! - [`welch`]: repeated runs of a time, energy or power figure: Welch's unequal-variance t-test,
//!   the Welch–Satterthwaite degrees of freedom, and the t-interval of the difference of means.
//! - [`bootstrap`]: a quantile (median, p95) of per-task latencies: the two samples resampled
//!   independently with a seeded generator, the percentile interval of the resampled
//!   differences, and a two-sided p-value from where zero falls among them.

use serde::{Deserialize, Serialize};
use statrs::distribution::{Binomial, ChiSquared, ContinuousCDF, DiscreteCDF, StudentsT};

use joulebench_metrics::stats::{Z_975, mean, percentile, sample_std};

/// Below this many discordant tasks McNemar's p-value is the exact binomial one (the χ²
/// approximation needs about 25; statsmodels and most texts use the same rule).
pub const MCNEMAR_EXACT_BELOW: u64 = 25;

/// A difference with its 95 % interval and p-value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// Candidate − baseline.
    pub difference: f64,
    /// The 95 % interval of the difference; `None` when it cannot be computed.
    pub ci95: Option<(f64, f64)>,
    /// The two-sided p-value; `None` when the test does not apply (no spread, say).
    pub p_value: Option<f64>,
    /// How the p-value was obtained, for the reader (`exact binomial, 7 discordant`).
    pub method: String,
}

/// McNemar's test on paired verdicts: `b` tasks right only in the baseline, `c` right only in
/// the candidate, `n` paired tasks in all. The difference is in fractions (0.025 = 2.5 points).
pub fn mcnemar(b: u64, c: u64, n: u64) -> Option<TestResult> {
    if n == 0 || b + c > n {
        return None;
    }
    let (bf, cf, nf) = (b as f64, c as f64, n as f64);
    let d = (cf - bf) / nf;
    let var = ((bf + cf) / nf - d * d) / nf;
    let half = Z_975 * var.max(0.0).sqrt();
    let discordant = b + c;
    let (p, method) = if discordant == 0 {
        (1.0, "no discordant tasks".to_string())
    } else if discordant < MCNEMAR_EXACT_BELOW {
        let binom = Binomial::new(0.5, discordant).ok()?;
        let tail = binom.cdf(b.min(c));
        ((2.0 * tail).min(1.0), format!("McNemar exact binomial, {discordant} discordant"))
    } else {
        let diff = (bf - cf).abs() - 1.0;
        let stat = diff.max(0.0).powi(2) / (bf + cf);
        let chi = ChiSquared::new(1.0).ok()?;
        (chi.sf(stat), format!("McNemar χ² (continuity-corrected), {discordant} discordant"))
    };
    Some(TestResult { difference: d, ci95: Some((d - half, d + half)), p_value: Some(p), method })
}

/// Welch's t-test of `candidate` against `baseline` (each at least two finite values).
pub fn welch(baseline: &[f64], candidate: &[f64]) -> Option<TestResult> {
    if baseline.len() < 2 || candidate.len() < 2 {
        return None;
    }
    let (mb, mc) = (mean(baseline)?, mean(candidate)?);
    let (sb, sc) = (sample_std(baseline)?, sample_std(candidate)?);
    let (nb, nc) = (baseline.len() as f64, candidate.len() as f64);
    let (vb, vc) = (sb * sb / nb, sc * sc / nc);
    let se = (vb + vc).sqrt();
    let d = mc - mb;
    if se == 0.0 || !se.is_finite() {
        return Some(TestResult {
            difference: d,
            ci95: None,
            p_value: None,
            method: "Welch t-test: no spread in either side".into(),
        });
    }
    let df = (vb + vc).powi(2) / (vb * vb / (nb - 1.0) + vc * vc / (nc - 1.0));
    let t = StudentsT::new(0.0, 1.0, df).ok()?;
    let p = 2.0 * t.sf((d / se).abs());
    let q = t.inverse_cdf(0.975);
    Some(TestResult {
        difference: d,
        ci95: Some((d - q * se, d + q * se)),
        p_value: Some(p.min(1.0)),
        method: format!("Welch t-test, df {df:.1}"),
    })
}

/// Resampling settings of [`bootstrap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bootstrap {
    /// Resamples drawn.
    pub resamples: u32,
    /// The generator's seed: the same seed gives the same interval.
    pub seed: u64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap { resamples: 4000, seed: 0x6a6f_756c_6562_6e63 }
    }
}

fn resampled_percentile(
    rng: &mut fastrand::Rng,
    values: &[f64],
    q: f64,
    buf: &mut Vec<f64>,
) -> f64 {
    buf.clear();
    buf.extend((0..values.len()).map(|_| values[rng.usize(..values.len())]));
    percentile(buf, q).unwrap_or(f64::NAN)
}

/// The bootstrap of the difference of the `q`-th percentiles (numpy's linear rule) of two
/// independent samples of per-task latencies.
pub fn bootstrap(
    baseline: &[f64],
    candidate: &[f64],
    q: f64,
    settings: Bootstrap,
) -> Option<TestResult> {
    if baseline.len() < 2 || candidate.len() < 2 || settings.resamples < 100 {
        return None;
    }
    let d = percentile(candidate, q)? - percentile(baseline, q)?;
    let mut rng = fastrand::Rng::with_seed(settings.seed);
    let mut buf = Vec::with_capacity(baseline.len().max(candidate.len()));
    let mut diffs: Vec<f64> = (0..settings.resamples)
        .map(|_| {
            let b = resampled_percentile(&mut rng, baseline, q, &mut buf);
            let c = resampled_percentile(&mut rng, candidate, q, &mut buf);
            c - b
        })
        .collect();
    diffs.sort_by(f64::total_cmp);
    let lo = percentile(&diffs, 2.5)?;
    let hi = percentile(&diffs, 97.5)?;
    let below = diffs.iter().filter(|&&x| x <= 0.0).count();
    let above = diffs.iter().filter(|&&x| x >= 0.0).count();
    let b = f64::from(settings.resamples);
    let p = (2.0 * (below.min(above) as f64 + 1.0) / (b + 1.0)).min(1.0);
    Some(TestResult {
        difference: d,
        ci95: Some((lo, hi)),
        p_value: Some(p),
        method: format!("bootstrap, {} resamples, seed {:#x}", settings.resamples, settings.seed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcnemar_of_nothing_discordant_is_one() {
        let r = mcnemar(0, 0, 10).unwrap();
        assert_eq!(r.p_value, Some(1.0));
        assert_eq!(r.difference, 0.0);
        assert_eq!(mcnemar(3, 3, 5), None);
        assert_eq!(mcnemar(0, 0, 0), None);
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() < tol
    }

    // The expected values below were computed with Python 3.11, scipy 1.17.1 and statsmodels:
    // `statsmodels.stats.contingency_tables.mcnemar(table, exact=True|False, correction=True)`,
    // `scipy.stats.binomtest(k, n, 0.5).pvalue`, and for the interval
    // d ± scipy.stats.norm.ppf(0.975) * sqrt(((b + c)/n - d²)/n).

    #[test]
    fn mcnemar_exact_matches_statsmodels() {
        // 40 tasks, 2 right only in the baseline, 9 only in the candidate: table [[20, 2], [9, 9]].
        let r = mcnemar(2, 9, 40).unwrap();
        assert!(close(r.p_value.unwrap(), 0.065_429_687_5, 1e-12), "{r:?}");
        assert!(close(r.difference, 0.175, 1e-12));
        let (lo, hi) = r.ci95.unwrap();
        assert!(close(lo, 0.021_804_332_689_6, 1e-9) && close(hi, 0.328_195_667_310_4, 1e-9));
        assert!(r.method.contains("exact"));
        // Symmetric: swapping the sides flips the difference, not the p-value.
        let s = mcnemar(9, 2, 40).unwrap();
        assert!(close(s.difference, -0.175, 1e-12) && s.p_value == r.p_value);
        // 5 against 7: binomtest(5, 12).pvalue.
        assert!(close(mcnemar(5, 7, 60).unwrap().p_value.unwrap(), 0.774_414_062_5, 1e-12));
    }

    #[test]
    fn mcnemar_chi_squared_matches_statsmodels() {
        // 200 tasks, 10 against 25 discordant: table [[100, 10], [25, 65]], χ² = 5.6.
        let r = mcnemar(10, 25, 200).unwrap();
        assert!(close(r.p_value.unwrap(), 0.017_960_477_526_078_79, 1e-9), "{r:?}");
        let (lo, hi) = r.ci95.unwrap();
        assert!(close(lo, 0.017_962_859_128_675, 1e-9) && close(hi, 0.132_037_140_871_321, 1e-9));
        assert!(r.method.contains("χ²"));
    }

    #[test]
    fn welch_matches_scipy() {
        // scipy.stats.ttest_ind(c, b, equal_var=False) and its .confidence_interval(0.95).
        let r = welch(&[10.2, 10.5, 9.9, 10.4], &[11.1, 11.6, 11.3]).unwrap();
        assert!(close(r.p_value.unwrap(), 0.003_504_903_960_452_933_5, 1e-9), "{r:?}");
        let (lo, hi) = r.ci95.unwrap();
        assert!(close(lo, 0.564_277_165_579_634_5, 1e-9) && close(hi, 1.602_389_501_087_033, 1e-9));
        assert!(r.method.contains("df 4.6"), "{}", r.method);
        let r = welch(&[10.0, 10.6, 9.8], &[10.1, 10.7, 10.2]).unwrap();
        assert!(close(r.p_value.unwrap(), 0.548_301_903_245_236_4, 1e-9), "{r:?}");
        let (lo, hi) = r.ci95.unwrap();
        assert!(
            close(lo, -0.664_873_055_677_407_4, 1e-9) && close(hi, 1.064_873_055_677_402_4, 1e-9)
        );
    }

    #[test]
    fn bootstrap_finds_a_known_shift_and_repeats_itself() {
        // 40 latencies from 0.100 to 0.139 s; the candidate is the same shifted by +20 ms, whose
        // median is exactly 20 ms higher.
        let base: Vec<f64> = (0..40).map(|i| 0.100 + 0.001 * f64::from(i)).collect();
        let slow: Vec<f64> = base.iter().map(|v| v + 0.020).collect();
        let r = bootstrap(&base, &slow, 50.0, Bootstrap::default()).unwrap();
        assert!(close(r.difference, 0.020, 1e-12));
        let (lo, hi) = r.ci95.unwrap();
        assert!(lo > 0.0 && lo < 0.020 && hi > 0.020, "{lo} {hi}");
        assert!(r.p_value.unwrap() < 0.01);
        assert_eq!(bootstrap(&base, &slow, 50.0, Bootstrap::default()), Some(r.clone()));
        let other = Bootstrap { seed: 7, ..Bootstrap::default() };
        // Another seed draws other resamples; the interval barely moves.
        let (lo2, hi2) = bootstrap(&base, &slow, 50.0, other).unwrap().ci95.unwrap();
        assert!(close(lo, lo2, 0.003) && close(hi, hi2, 0.003), "{lo2} {hi2}");
        // The same values in another order: no difference, zero inside the interval.
        let mut shuffled = base.clone();
        shuffled.reverse();
        let r = bootstrap(&base, &shuffled, 50.0, Bootstrap::default()).unwrap();
        let (lo, hi) = r.ci95.unwrap();
        assert!(lo < 0.0 && hi > 0.0 && r.p_value.unwrap() > 0.5, "{r:?}");
        assert_eq!(bootstrap(&[1.0], &base, 50.0, Bootstrap::default()), None);
    }

    #[test]
    fn welch_needs_two_values_a_side() {
        assert_eq!(welch(&[1.0], &[1.0, 2.0]), None);
        let flat = welch(&[1.0, 1.0], &[2.0, 2.0]).unwrap();
        assert_eq!(flat.p_value, None);
        assert_eq!(flat.difference, 1.0);
    }
}
