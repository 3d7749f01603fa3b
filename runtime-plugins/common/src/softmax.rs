//! A full, numerically stable log-softmax over a row of logits, fast enough to run on every
//! scored position: one pass for the maximum, one for the sum of `exp(x - max)` with an
//! exponential the compiler vectorizes, partial sums gathered in f64.

/// The normalizer of one row of logits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowStats {
    /// The largest logit.
    pub max: f32,
    /// `log(sum(exp(logits)))`, computed as `max + log(sum(exp(logits - max)))`.
    pub log_sum_exp: f64,
}

impl RowStats {
    /// The log-probability of `token` given the row it came from.
    pub fn logprob(&self, row: &[f32], token: usize) -> f32 {
        (f64::from(row[token]) - self.log_sum_exp) as f32
    }

    /// Whether `token` is the row's argmax (the first index holding the largest logit).
    pub fn is_greedy(&self, row: &[f32], token: usize) -> bool {
        row[token] == self.max && !row[..token].contains(&self.max)
    }
}

const LANES: usize = 16;
const BLOCK: usize = 1024;

/// Computes the maximum and the log-sum-exp of `row`.
pub fn row_stats(row: &[f32]) -> RowStats {
    let max = row_max(row);
    if !max.is_finite() {
        // all -inf, or a NaN / +inf somewhere: let the plain formula say what it says
        let sum: f64 = row.iter().map(|&x| (f64::from(x) - f64::from(max)).exp()).sum();
        return RowStats { max, log_sum_exp: f64::from(max) + sum.ln() };
    }
    let mut total = 0f64;
    for block in row.chunks(BLOCK) {
        total += f64::from(sum_exp_shifted(block, max));
    }
    RowStats { max, log_sum_exp: f64::from(max) + total.ln() }
}

fn row_max(row: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for j in 0..LANES {
            lanes[j] = if c[j] > lanes[j] { c[j] } else { lanes[j] };
        }
    }
    let mut m = f32::NEG_INFINITY;
    for &x in lanes.iter().chain(chunks.remainder()) {
        m = if x > m { x } else { m };
    }
    // NaN never wins a `>` comparison: report it so that the caller sees it
    if row.iter().any(|x| x.is_nan()) { f32::NAN } else { m }
}

fn sum_exp_shifted(block: &[f32], max: f32) -> f32 {
    let mut lanes = [0f32; LANES];
    let mut chunks = block.chunks_exact(LANES);
    for c in &mut chunks {
        for j in 0..LANES {
            lanes[j] += exp_nonpositive(c[j] - max);
        }
    }
    let mut s = 0f32;
    for &x in chunks.remainder() {
        s += exp_nonpositive(x - max);
    }
    lanes.iter().sum::<f32>() + s
}

/// `exp(x)` for `x <= 0` with a relative error of about 2e-7 (Cephes' `expf` polynomial and
/// range reduction), written without branches or calls so that it vectorizes.
#[inline(always)]
pub fn exp_nonpositive(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // adding 1.5 * 2^23 rounds to the nearest integer and leaves it in the low mantissa bits
    const ROUND: f32 = 12_582_912.0;
    let x = if x < -87.0 { -87.0 } else { x };
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    let k = t.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    e * f32::from_bits(((k + 127) as u32) << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_matches_std_exp() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x <= 0.0 {
            let got = f64::from(exp_nonpositive(x));
            let want = f64::from(x).exp();
            worst = worst.max((got - want).abs() / want);
            x += 0.0137;
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert!(exp_nonpositive(-1000.0) < 1e-37);
    }

    #[test]
    fn stats_of_a_small_row() {
        // logits (0, ln 2, ln 3): softmax (1/6, 2/6, 3/6), log-sum-exp = ln 6
        let row = [0.0f32, 2f32.ln(), 3f32.ln()];
        let s = row_stats(&row);
        assert!((s.log_sum_exp - 6f64.ln()).abs() < 1e-6);
        assert!((s.logprob(&row, 2) - 0.5f32.ln()).abs() < 1e-6);
        assert!(s.is_greedy(&row, 2) && !s.is_greedy(&row, 0));
        // ties: the first index is the argmax
        let tied = [1.0f32, 3.0, 3.0];
        let s = row_stats(&tied);
        assert!(s.is_greedy(&tied, 1) && !s.is_greedy(&tied, 2));
    }

    #[test]
    fn large_rows_sum_to_one() {
        let row: Vec<f32> =
            (0..49_157).map(|i| ((i * 7919) % 1000) as f32 * 0.031 - 11.0).collect();
        let s = row_stats(&row);
        let sum: f64 = row.iter().map(|&x| (f64::from(x) - s.log_sum_exp).exp()).sum();
        assert!((sum - 1.0).abs() < 1e-6, "sum {sum}");
    }
}
