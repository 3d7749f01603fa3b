//! Which tasks share a runtime call, and how a call's tokens are attributed to its tasks.

use joulebench_abi::ScoredTask;

/// Batches of positions at fixed boundaries of the selection, so a resumed run hands the runtime
/// exactly the batches an uninterrupted one would.
pub fn batches(len: usize, size: usize) -> Vec<std::ops::Range<usize>> {
    (0..len).step_by(size.max(1)).map(|s| s..(s + size.max(1)).min(len)).collect()
}

/// The tokens a scored task needed: its common prefix once plus every candidate's remainder.
pub fn token_need(task: &ScoredTask) -> u64 {
    let c = u64::from(task.common_prefix);
    c + task.candidates.iter().map(|k| (k.tokens.len() as u64).saturating_sub(c)).sum::<u64>()
}

/// Each task's share of a call's `total` tokens, in proportion to its [`token_need`]; the shares
/// add up to `total`, the rounding remainder going to the first task.
pub fn token_shares(needs: &[u64], total: u64) -> Vec<u64> {
    let sum: u64 = needs.iter().sum();
    let n = needs.len().max(1) as u64;
    let mut out: Vec<u64> = if sum == 0 {
        vec![total / n; needs.len()]
    } else {
        needs.iter().map(|k| total * k / sum).collect()
    };
    let rest = total - out.iter().sum::<u64>();
    if let Some(first) = out.first_mut() {
        *first += rest;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_sit_at_fixed_positions() {
        assert_eq!(batches(5, 2), vec![0..2, 2..4, 4..5]);
        assert_eq!(batches(3, 8), vec![0..3]);
        assert_eq!(batches(0, 4), Vec::<std::ops::Range<usize>>::new());
    }

    #[test]
    fn token_shares_add_up_and_follow_need() {
        assert_eq!(token_shares(&[10, 30], 40), vec![10, 30]);
        assert_eq!(token_shares(&[1, 1, 1], 10), vec![4, 3, 3]);
        assert_eq!(token_shares(&[0, 0], 5), vec![3, 2]);
        assert_eq!(token_shares(&[100, 200], 30).iter().sum::<u64>(), 30);
    }
}
