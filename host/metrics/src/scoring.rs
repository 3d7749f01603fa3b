//! The two scoring conventions, applied to what a runtime returns for one task.
//!
//! A runtime hands back, per candidate, its tokens and the log-probability of every token from
//! `first_scored` on (see [`ScoredCandidate`]); the conventions below decide which of those
//! tokens count and how they are combined. They live here, once, so that every runtime is scored
//! the same way.
//!
//! - [`Convention::LM_EVAL`] (lm-evaluation-harness, `docs/scoring-conventions.md#lm-eval-scores`): the
//!   log-likelihood of a candidate is the sum of the log-probabilities of its continuation
//!   tokens (`continuation_start..`). `acc` takes the first maximum (numpy's `argmax`);
//!   `acc_norm` divides each sum by the character length of the continuation without its leading
//!   delimiter space (`len(choice)` in Python) before the argmax. Winogrande's partial scoring
//!   ([`TaskShape::PARTIAL`]) reports `acc` only, as lm-eval does.
//! - [`Convention::LLAMA_CPP`] (llama.cpp's `llama-perplexity`,
//!   `docs/scoring-conventions.md#llama-cpp-scores`): for [`TaskShape::CHOICE`] (HellaSwag, multiple choice)
//!   the score is the mean log-probability of the tokens after the task's common prefix, argmax
//!   with ties to the lowest index. For [`TaskShape::PARTIAL`] (Winogrande) llama.cpp's
//!   Winogrande rules: the option's own tokens are skipped when both candidates have more than 3
//!   tokens after the common prefix, the last token is dropped when more than one would be
//!   scored, and a tie goes to option 2.
//!
//! llama.cpp's Winogrande code carries a `FIXME`: when the option tokens are not skipped, it reads
//! the first scored token of option 2 from the wrong logits row. That quirk is not replicated: the
//! runtime returns the log-probability of each token under its own (correct) logits row and never
//! the wrong row's, so the quirk cannot be rebuilt from the ABI's data, and a host that faked it
//! would make every runtime inherit a bug of one tool. Scores can therefore differ from
//! llama.cpp's in those (rare, short-remainder) Winogrande tasks.

use std::fmt;

use joulebench_abi::{Convention, ScoredCandidate, ScoredTask, Task, TaskShape};
use serde::{Deserialize, Serialize};

/// llama.cpp's `k_min_trailing_ctx`: option tokens are skipped only when both candidates have
/// more tokens than this after the common prefix.
const LLAMA_CPP_MIN_TRAILING: usize = 3;

/// The verdict on one task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskScore {
    /// The candidate the convention picks.
    pub predicted: u32,
    /// Whether it is the gold candidate.
    pub correct: bool,
    /// The candidate lm-eval's `acc_norm` picks; `None` where the convention and task shape
    /// define no normalized metric.
    pub predicted_norm: Option<u32>,
    /// Whether that one is gold.
    pub correct_norm: Option<bool>,
    /// The convention's score per candidate: lm-eval's summed log-likelihood, or llama.cpp's mean
    /// log-probability per scored token.
    pub scores: Vec<f64>,
    /// Per candidate, whether every continuation token was the model's greedy choice
    /// (lm-eval's `is_greedy`).
    pub greedy: Vec<bool>,
}

/// Why a task could not be scored: the runtime's answer does not fit the task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoreError {
    message: String,
}

impl ScoreError {
    fn new(task: &Task, message: impl fmt::Display) -> Self {
        Self { message: format!("task {}: {message}", task.id) }
    }
}

impl fmt::Display for ScoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScoreError {}

/// One candidate, checked: every index it states lies inside its tokens.
struct Checked<'a> {
    c: &'a ScoredCandidate,
    len: usize,
    first: usize,
    cont: usize,
}

impl Checked<'_> {
    /// The sum and count of log-probabilities of tokens `from..to`.
    fn sum(&self, from: usize, to: usize) -> (f64, usize) {
        let lp = &self.c.logprobs[from - self.first..to - self.first];
        (lp.iter().map(|&v| f64::from(v)).sum(), lp.len())
    }
}

fn check<'a>(
    task: &Task,
    k: usize,
    c: &'a ScoredCandidate,
    common: usize,
) -> Result<Checked<'a>, ScoreError> {
    let len = c.tokens.len();
    let first = c.first_scored as usize;
    let cont = c.continuation_start as usize;
    let fail = |m: String| Err(ScoreError::new(task, format!("candidate {k}: {m}")));
    if first > len {
        return fail(format!("first_scored {first} is past its {len} tokens"));
    }
    if c.logprobs.len() != len - first {
        return fail(format!(
            "{} log-probabilities for the {} tokens from first_scored {first}",
            c.logprobs.len(),
            len - first
        ));
    }
    if c.greedy.len() != c.logprobs.len() {
        return fail(format!(
            "{} greedy flags for {} log-probabilities",
            c.greedy.len(),
            c.logprobs.len()
        ));
    }
    if cont > len || cont < first {
        return fail(format!(
            "continuation_start {cont} is outside first_scored {first}..={len} tokens"
        ));
    }
    if common > len {
        return fail(format!("common prefix {common} is longer than its {len} tokens"));
    }
    if let Some(i) = c.logprobs.iter().position(|v| v.is_nan()) {
        return fail(format!("log-probability of token {} is NaN", first + i));
    }
    Ok(Checked { c, len, first, cont })
}

/// The first index of the largest value (numpy's `argmax`, and llama.cpp's strict `>` loop).
fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// The length lm-eval divides by for `acc_norm`: Python's `len(choice)`, the continuation's
/// characters (Unicode scalar values) without the one leading delimiter space it was sent with.
fn norm_length(continuation: &str) -> usize {
    continuation.strip_prefix(' ').unwrap_or(continuation).chars().count()
}

/// Scores one task by `convention`.
///
/// `scored` is the runtime's answer for `task` (same candidate count and order). Fails, naming
/// the task and candidate, when the answer does not fit the task or when the convention would
/// divide by zero scored tokens (where llama.cpp prints `nan`).
pub fn score_task(
    task: &Task,
    scored: &ScoredTask,
    convention: Convention,
) -> Result<TaskScore, ScoreError> {
    let n = task.candidates.len();
    if n == 0 {
        return Err(ScoreError::new(task, "no candidates"));
    }
    if task.shape != TaskShape::CHOICE && task.shape != TaskShape::PARTIAL {
        return Err(ScoreError::new(task, format!("unknown task shape {}", task.shape.0)));
    }
    if scored.candidates.len() != n {
        return Err(ScoreError::new(
            task,
            format!("{} scored candidates for {n} candidates", scored.candidates.len()),
        ));
    }
    if task.gold as usize >= n {
        return Err(ScoreError::new(task, format!("gold index {} for {n} candidates", task.gold)));
    }
    let common = scored.common_prefix as usize;
    let cands = scored
        .candidates
        .iter()
        .enumerate()
        .map(|(k, c)| check(task, k, c, common))
        .collect::<Result<Vec<_>, _>>()?;
    let greedy = cands.iter().map(|c| c.c.greedy[c.cont - c.first..].iter().all(|&g| g)).collect();
    let empty = |k: usize, what: &str| {
        Err(ScoreError::new(task, format!("candidate {k}: no tokens {what}")))
    };

    let (scores, predicted, predicted_norm) = match convention {
        Convention::LM_EVAL => {
            let mut sums = Vec::with_capacity(n);
            for (k, c) in cands.iter().enumerate() {
                if c.cont == c.len {
                    return empty(k, "in the continuation");
                }
                sums.push(c.sum(c.cont, c.len).0);
            }
            let norm = if task.shape == TaskShape::PARTIAL {
                None
            } else {
                let mut normed = Vec::with_capacity(n);
                for (k, (sum, cand)) in sums.iter().zip(task.candidates.iter()).enumerate() {
                    let chars = norm_length(&cand.continuation);
                    if chars == 0 {
                        return Err(ScoreError::new(
                            task,
                            format!("candidate {k}: empty continuation text"),
                        ));
                    }
                    normed.push(sum / chars as f64);
                }
                Some(argmax(&normed))
            };
            let p = argmax(&sums);
            (sums, p, norm)
        }
        Convention::LLAMA_CPP if task.shape == TaskShape::PARTIAL => {
            if n != 2 {
                return Err(ScoreError::new(
                    task,
                    format!("llama-cpp winogrande scoring needs 2 candidates, got {n}"),
                ));
            }
            let skip = cands.iter().all(|c| c.len - common > LLAMA_CPP_MIN_TRAILING);
            let mut means = Vec::with_capacity(2);
            for (k, c) in cands.iter().enumerate() {
                // With `skip`, start at n_base: the tokens of `first + option`, which is the
                // candidate's context, so its continuation_start.
                let begin = if skip { c.cont } else { common };
                if begin < c.first {
                    return Err(ScoreError::new(
                        task,
                        format!(
                            "candidate {k}: token {begin} has no log-probability (first_scored {})",
                            c.first
                        ),
                    ));
                }
                let drop_last = usize::from(c.len - begin > 1);
                let (sum, count) = c.sum(begin, c.len - drop_last);
                if count == 0 {
                    return empty(k, "to score after the option");
                }
                means.push(sum / count as f64);
            }
            let p = if means[0] > means[1] { 0 } else { 1 };
            (means, p, None)
        }
        Convention::LLAMA_CPP => {
            let mut means = Vec::with_capacity(n);
            for (k, c) in cands.iter().enumerate() {
                if common < c.first {
                    return Err(ScoreError::new(
                        task,
                        format!(
                            "candidate {k}: token {common} has no log-probability (first_scored {})",
                            c.first
                        ),
                    ));
                }
                let (sum, count) = c.sum(common, c.len);
                if count == 0 {
                    return empty(k, "after the common prefix");
                }
                means.push(sum / count as f64);
            }
            let p = argmax(&means);
            (means, p, None)
        }
        other => {
            return Err(ScoreError::new(task, format!("unknown scoring convention {}", other.0)));
        }
    };
    let gold = task.gold as usize;
    Ok(TaskScore {
        predicted: predicted as u32,
        correct: predicted == gold,
        predicted_norm: predicted_norm.map(|p| p as u32),
        correct_norm: predicted_norm.map(|p| p == gold),
        scores,
        greedy,
    })
}

/// The number of correct answers by `acc`, and by `acc_norm` where every task defines it
/// (`None` when any task has no normalized verdict).
pub fn count_correct(scores: &[TaskScore]) -> (u64, Option<u64>) {
    count_verdicts(scores.iter().map(|s| (s.correct, s.correct_norm)))
}

/// [`count_correct`] over `(acc, acc_norm)` verdicts however they are held (stored task records,
/// say).
pub fn count_verdicts(
    verdicts: impl IntoIterator<Item = (bool, Option<bool>)>,
) -> (u64, Option<u64>) {
    let (mut correct, mut norm) = (0u64, Some(0u64));
    for (acc, acc_norm) in verdicts {
        correct += u64::from(acc);
        norm = norm.zip(acc_norm).map(|(n, c)| n + u64::from(c));
    }
    (correct, norm)
}
