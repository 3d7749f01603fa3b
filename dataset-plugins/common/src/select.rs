//! Which tasks an experiment runs: the first N, a seeded random sample, or llama.cpp's own
//! selection (`docs/scoring-conventions.md#task-selection`).

use joulebench_abi::{AbiError, Selection, SelectionRule};

use crate::rng::Mt19937;

/// Which of llama.cpp's two selection procedures a dataset follows under
/// [`SelectionRule::LLAMA_CPP`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LlamaCppProcedure {
    /// `--hellaswag`: draw from the remaining tasks and remove the drawn one, always shuffled.
    HellaSwag,
    /// `--winogrande` and `--multiple-choice`: all tasks in file order when the count is 0 or at
    /// least the number of tasks, otherwise float-scaled draws with swap-remove.
    MultipleChoice,
}

/// The first `n` of `len` tasks, in source order.
pub fn first(len: usize, n: usize) -> Vec<u64> {
    (0..n.min(len) as u64).collect()
}

/// A random sample of `n` of `len` tasks in draw order: a partial Fisher-Yates shuffle of
/// `0..len` driven by `std::mt19937(seed)`, where step `i` swaps position `i` with position
/// `i + d` and `d` is drawn from `0..len - i` as libstdc++'s `uniform_int_distribution` draws
/// ([`Mt19937::below`]). The sample is the first `n` positions. The same procedure in C++ gives
/// the same sample.
pub fn random_sample(len: u32, n: usize, seed: u32) -> Vec<u64> {
    let n = n.min(len as usize);
    let mut order: Vec<u32> = (0..len).collect();
    let mut rng = Mt19937::new(seed);
    for i in 0..n {
        let j = i + rng.below(len - i as u32) as usize;
        order.swap(i, j);
    }
    order[..n].iter().map(|&i| u64::from(i)).collect()
}

/// llama.cpp's HellaSwag selection (`docs/scoring-conventions.md#hellaswag-selection`): for each of
/// `min(n, len)` picks, draw a position in the list of remaining tasks with
/// `uniform_int_distribution` (libstdc++, GCC >= 11) from `std::mt19937(seed)`, take that task and
/// erase it from the list. Draw order.
pub fn llama_cpp_hellaswag(len: u32, n: usize, seed: u32) -> Vec<u64> {
    let n = n.min(len as usize);
    let mut remaining: Vec<u32> = (0..len).collect();
    let mut rng = Mt19937::new(seed);
    let mut picked = Vec::with_capacity(n);
    for _ in 0..n {
        let at = rng.below(remaining.len() as u32) as usize;
        picked.push(u64::from(remaining.remove(at)));
    }
    picked
}

/// llama.cpp's Winogrande and multiple-choice selection
/// (`docs/scoring-conventions.md#multiple-choice-selection`): when `n` is 0 or at least `len`, every task in
/// file order; otherwise, with `std::mt19937(seed)` and `aux = [0, len)`, each pick computes
/// `j = (int)(2^-32 * rng() * aux.size())` in single-precision float, takes `aux[j]`, and moves
/// `aux`'s last element into its place.
///
/// When the float product rounds up to `aux.size()` (possible only for draws within about 2^-24
/// of the engine's maximum) llama.cpp reads past its vector; this takes the last element instead.
pub fn llama_cpp_multiple_choice(len: u32, n: usize, seed: u32) -> Vec<u64> {
    if n == 0 || n >= len as usize {
        return (0..u64::from(len)).collect();
    }
    let mut rng = Mt19937::new(seed);
    let mut aux: Vec<u32> = (0..len).collect();
    let scale: f32 = 1.0 / (1.0 + u32::MAX as f32);
    let mut picked = Vec::with_capacity(n);
    for _ in 0..n {
        let j = (scale * rng.next_u32() as f32 * aux.len() as f32) as usize;
        let j = j.min(aux.len() - 1);
        picked.push(u64::from(aux.swap_remove(j)));
    }
    picked
}

/// The indices `selection` picks from a dataset of `len` tasks, `procedure` deciding what
/// [`SelectionRule::LLAMA_CPP`] means. A limit of 0 means all tasks; a limit above `len` is
/// clamped. Seeds are 32-bit, as `std::mt19937` takes them.
pub fn select(
    selection: &Selection,
    len: usize,
    procedure: LlamaCppProcedure,
) -> Result<Vec<u64>, AbiError> {
    let len32 = u32::try_from(len).map_err(|_| {
        AbiError::unsupported(format!("a dataset of {len} tasks is too large to select from"))
    })?;
    let n = if selection.limit == 0 {
        len
    } else {
        usize::try_from(selection.limit).unwrap_or(usize::MAX).min(len)
    };
    let seed = || {
        u32::try_from(selection.seed).map_err(|_| {
            AbiError::config(format!(
                "selection seed {} does not fit in 32 bits (mt19937 takes a 32-bit seed)",
                selection.seed
            ))
        })
    };
    match selection.rule {
        SelectionRule::FIRST => Ok(first(len, n)),
        SelectionRule::RANDOM => Ok(random_sample(len32, n, seed()?)),
        SelectionRule::LLAMA_CPP => Ok(match procedure {
            LlamaCppProcedure::HellaSwag => llama_cpp_hellaswag(len32, n, seed()?),
            LlamaCppProcedure::MultipleChoice => llama_cpp_multiple_choice(len32, n, seed()?),
        }),
        other => Err(AbiError::unsupported(format!("unknown selection rule {}", other.0))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values (docs/scoring-conventions.md#task-selection): llama.cpp's procedures run in C++ against
    // GCC 12's libstdc++.
    #[test]
    fn hellaswag_selection_matches_llama_cpp() {
        let picked = llama_cpp_hellaswag(10042, 400, 1);
        assert_eq!(picked.len(), 400);
        assert_eq!(&picked[..10], &[4187, 10013, 7233, 9363, 1, 1286, 3036, 10032, 1474, 2371]);
        let mut sorted = picked.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 400);
        assert!(sorted.iter().all(|&i| i < 10042));
    }

    #[test]
    fn multiple_choice_selection_matches_llama_cpp() {
        let picked = llama_cpp_multiple_choice(1267, 500, 1);
        assert_eq!(picked.len(), 500);
        assert_eq!(&picked[..10], &[528, 1262, 911, 1178, 0, 161, 381, 1258, 184, 296]);
        let picked = llama_cpp_multiple_choice(1548, 1000, 1);
        assert_eq!(&picked[..10], &[645, 1542, 1113, 1440, 0, 197, 466, 1539, 226, 363]);
        let mut sorted = picked.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 1000);
    }

    #[test]
    fn multiple_choice_selection_takes_everything_in_order_when_not_a_subset() {
        assert_eq!(llama_cpp_multiple_choice(5, 0, 1), vec![0, 1, 2, 3, 4]);
        assert_eq!(llama_cpp_multiple_choice(5, 5, 1), vec![0, 1, 2, 3, 4]);
        assert_eq!(llama_cpp_multiple_choice(5, 9, 1), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn hellaswag_selection_always_shuffles() {
        let all = llama_cpp_hellaswag(10, 10, 1);
        let mut sorted = all.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<u64>>());
        assert_ne!(all, sorted);
    }

    #[test]
    fn random_sample_is_a_seeded_partial_shuffle() {
        let a = random_sample(1000, 50, 7);
        assert_eq!(a, random_sample(1000, 50, 7));
        assert_ne!(a, random_sample(1000, 50, 8));
        let mut sorted = a.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 50);
        assert!(sorted.iter().all(|&i| i < 1000));
        // By hand from mt19937(1)'s first output 1791095845: step 0 draws
        // (1791095845 * 10) >> 32 = 4 (low word 0x2B93_8972 >= 10, no rejection), so index 4
        // comes first.
        assert_eq!(random_sample(10, 1, 1), vec![4]);
    }

    #[test]
    fn select_dispatches_and_clamps() {
        let sel = |rule, limit, seed| Selection { rule, limit, seed };
        assert_eq!(
            select(&sel(SelectionRule::FIRST, 3, 0), 10, LlamaCppProcedure::HellaSwag).unwrap(),
            vec![0, 1, 2]
        );
        assert_eq!(
            select(&sel(SelectionRule::FIRST, 0, 0), 4, LlamaCppProcedure::HellaSwag).unwrap(),
            vec![0, 1, 2, 3]
        );
        assert_eq!(
            select(&sel(SelectionRule::FIRST, 99, 0), 2, LlamaCppProcedure::HellaSwag).unwrap(),
            vec![0, 1]
        );
        let hs =
            select(&sel(SelectionRule::LLAMA_CPP, 400, 1), 10042, LlamaCppProcedure::HellaSwag)
                .unwrap();
        assert_eq!(hs[0], 4187);
        let wg =
            select(&sel(SelectionRule::LLAMA_CPP, 500, 1), 1267, LlamaCppProcedure::MultipleChoice)
                .unwrap();
        assert_eq!(wg[0], 528);
        let e = select(&sel(SelectionRule::RANDOM, 5, 1 << 40), 10, LlamaCppProcedure::HellaSwag)
            .unwrap_err();
        assert!(e.message.contains("seed 1099511627776"), "{}", e.message);
        let e = select(&sel(SelectionRule(9), 5, 1), 10, LlamaCppProcedure::HellaSwag).unwrap_err();
        assert!(e.message.contains("unknown selection rule 9"), "{}", e.message);
    }
}
