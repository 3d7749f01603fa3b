//! lm-evaluation-harness's tokenization rule for multiple-choice scoring.
//!
//! A candidate is tokenized as one string, `context + continuation`, never as two token lists
//! glued together, because a tokenizer merges across the seam (`"Answer:" + " Paris"` gives the
//! token `" Paris"`). Where the continuation starts is then found from the context alone:
//! whitespace at the end of the context is moved to the start of the continuation (so that
//! `"Answer: " + "Paris"` scores like `"Answer:" + " Paris"`), and the continuation's tokens are
//! those of the whole string past the trimmed context's token count. A runtime decodes the
//! task's common token prefix once for all candidates, so the first token that gets a
//! log-probability is the earlier of that prefix's end and the continuation's start; token 0 has
//! nothing before it to be predicted from, so it is never scored.

use joulebench_abi::{AbiError, ScoredCandidate, Task};

/// One candidate, tokenized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedCandidate {
    /// Context and continuation tokenized together.
    pub tokens: Vec<i32>,
    /// Index of the first continuation token: the trimmed context's token count, at most
    /// `tokens.len()`.
    pub continuation_start: usize,
    /// Index of the first token that gets a log-probability: the smaller of the task's common
    /// prefix and `continuation_start`, and at least 1.
    pub first_scored: usize,
}

impl PreparedCandidate {
    /// How many tokens get a log-probability: those from `first_scored` to the end.
    pub fn scored_len(&self) -> usize {
        self.tokens.len().saturating_sub(self.first_scored)
    }

    /// The candidate as the ABI returns it, with the log-probability and greedy flag of each
    /// token from `first_scored` on.
    pub fn to_scored(&self, logprobs: Vec<f32>, greedy: Vec<bool>) -> ScoredCandidate {
        ScoredCandidate {
            tokens: self.tokens.clone().into(),
            continuation_start: self.continuation_start as u32,
            first_scored: self.first_scored as u32,
            logprobs: logprobs.into(),
            greedy: greedy.into(),
        }
    }
}

/// One task, tokenized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedTask {
    /// Leading tokens all candidates share.
    pub common_prefix: usize,
    /// The candidates in the task's order.
    pub candidates: Vec<PreparedCandidate>,
}

impl PreparedTask {
    /// Cache cells (token positions) the task takes: the common prefix once, then every
    /// candidate's rest.
    pub fn cells(&self) -> usize {
        self.common_prefix
            + self.candidates.iter().map(|c| c.tokens.len() - self.common_prefix).sum::<usize>()
    }
}

/// Splits trailing whitespace off a context, as lm-evaluation-harness does before moving it to
/// the continuation: returns (the context without it, the whitespace).
pub fn split_trailing_whitespace(context: &str) -> (&str, &str) {
    let trimmed = context.trim_end();
    (trimmed, &context[trimmed.len()..])
}

/// The length of the longest common prefix of all sequences (0 for none).
pub fn common_prefix(seqs: &[&[i32]]) -> usize {
    let Some(first) = seqs.first() else { return 0 };
    let mut n = first.len();
    for s in &seqs[1..] {
        n = n.min(first.iter().zip(s.iter()).take_while(|(a, b)| a == b).count());
    }
    n
}

/// Tokenizes a task's candidates with `tokenize(text, add_special)` and finds their boundaries
/// (see the module docs). Special tokens (BOS) are added to every string, the trimmed context's
/// included, so that both counts start from the same place. A context shared by several
/// candidates is tokenized once. A task without candidates is an error naming it.
pub fn prepare_task(
    task: &Task,
    mut tokenize: impl FnMut(&str, bool) -> Result<Vec<i32>, AbiError>,
) -> Result<PreparedTask, AbiError> {
    let mut context_lengths: Vec<(&str, usize)> = Vec::new();
    let mut candidates = Vec::with_capacity(task.candidates.len());
    for c in task.candidates.iter() {
        let (context, ws) = split_trailing_whitespace(c.context.as_str());
        let n_context = match context_lengths.iter().find(|(s, _)| *s == context) {
            Some((_, n)) => *n,
            None => {
                let n = tokenize(context, true)?.len();
                context_lengths.push((context, n));
                n
            }
        };
        let mut whole = String::with_capacity(c.context.len() + c.continuation.len());
        whole.push_str(context);
        whole.push_str(ws);
        whole.push_str(c.continuation.as_str());
        let tokens = tokenize(&whole, true)?;
        let continuation_start = n_context.min(tokens.len());
        candidates.push(PreparedCandidate { tokens, continuation_start, first_scored: 0 });
    }
    if candidates.is_empty() {
        return Err(AbiError::data(format!("task `{}` has no candidates", task.id)));
    }
    let seqs: Vec<&[i32]> = candidates.iter().map(|c| c.tokens.as_slice()).collect();
    let common = common_prefix(&seqs);
    for c in &mut candidates {
        c.first_scored = common.min(c.continuation_start).max(1);
    }
    Ok(PreparedTask { common_prefix: common, candidates })
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use joulebench_abi::{Candidate, ErrorCode, TaskShape};

    use super::*;

    /// A toy tokenizer whose tokens can be worked out by hand: a token is a run of whitespace
    /// followed by a run of anything else (as GPT-2-style vocabularies carry a word's leading
    /// space), whitespace at the very end is a token of its own, and `add_special` puts `<s>`
    /// first. Ids are handed out in order of first appearance, and every call is counted.
    #[derive(Default)]
    struct Toy {
        vocab: RefCell<Vec<String>>,
        calls: RefCell<Vec<(String, bool)>>,
        bos: bool,
    }

    impl Toy {
        fn with_bos() -> Self {
            Toy { bos: true, ..Toy::default() }
        }

        fn id(&self, piece: &str) -> i32 {
            let mut vocab = self.vocab.borrow_mut();
            let at = vocab.iter().position(|p| p == piece).unwrap_or_else(|| {
                vocab.push(piece.to_string());
                vocab.len() - 1
            });
            at as i32
        }

        fn tokenize(&self, text: &str, add_special: bool) -> Result<Vec<i32>, AbiError> {
            self.calls.borrow_mut().push((text.to_string(), add_special));
            let mut ids = Vec::new();
            if add_special && self.bos {
                ids.push(self.id("<s>"));
            }
            let mut piece = String::new();
            let mut in_word = false;
            for ch in text.chars() {
                if ch.is_whitespace() && in_word {
                    ids.push(self.id(&piece));
                    piece.clear();
                    in_word = false;
                }
                in_word |= !ch.is_whitespace();
                piece.push(ch);
            }
            if !piece.is_empty() {
                ids.push(self.id(&piece));
            }
            Ok(ids)
        }

        fn pieces(&self, ids: &[i32]) -> Vec<String> {
            ids.iter().map(|&i| self.vocab.borrow()[i as usize].clone()).collect()
        }

        fn prepare(&self, task: &Task) -> PreparedTask {
            prepare_task(task, |text, special| self.tokenize(text, special)).unwrap()
        }
    }

    fn task(shape: TaskShape, candidates: &[(&str, &str)]) -> Task {
        Task {
            id: "t".into(),
            group: "".into(),
            gold: 0,
            shape,
            candidates: candidates
                .iter()
                .map(|(context, continuation)| Candidate {
                    context: (*context).into(),
                    continuation: (*continuation).into(),
                })
                .collect(),
        }
    }

    /// (pieces, continuation_start, first_scored) of every candidate.
    fn summary(toy: &Toy, p: &PreparedTask) -> Vec<(Vec<String>, usize, usize)> {
        p.candidates
            .iter()
            .map(|c| (toy.pieces(&c.tokens), c.continuation_start, c.first_scored))
            .collect()
    }

    fn strings(pieces: &[&str]) -> Vec<String> {
        pieces.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_toy_tokenizer_works_as_described() {
        let toy = Toy::with_bos();
        let ids = toy.tokenize("Q: capital?\nA: ", true).unwrap();
        assert_eq!(toy.pieces(&ids), ["<s>", "Q:", " capital?", "\nA:", " "]);
        assert_eq!(toy.tokenize("", false).unwrap(), Vec::<i32>::new());
    }

    #[test]
    fn trailing_whitespace_splits_off() {
        assert_eq!(split_trailing_whitespace("Answer: "), ("Answer:", " "));
        assert_eq!(split_trailing_whitespace("a b\n\n"), ("a b", "\n\n"));
        assert_eq!(split_trailing_whitespace("ab"), ("ab", ""));
        assert_eq!(split_trailing_whitespace("   "), ("", "   "));
        assert_eq!(split_trailing_whitespace(""), ("", ""));
    }

    #[test]
    fn common_prefix_of_sequences() {
        assert_eq!(common_prefix(&[&[1, 2, 3], &[1, 2, 4], &[1, 2]]), 2);
        assert_eq!(common_prefix(&[&[1, 2, 3]]), 3);
        assert_eq!(common_prefix(&[&[5], &[1, 2]]), 0);
        assert_eq!(common_prefix(&[]), 0);
    }

    #[test]
    fn trailing_context_whitespace_moves_to_the_continuation() {
        let toy = Toy::with_bos();
        // "Q: capital?\nA: " tokenized alone ends in a lone " " token, so counting its tokens
        // would put the boundary after " Paris"'s start; trimmed, it has 4 tokens (BOS included).
        let moved = toy.prepare(&task(TaskShape::CHOICE, &[("Q: capital?\nA: ", "Paris")]));
        let want = strings(&["<s>", "Q:", " capital?", "\nA:", " Paris"]);
        // one candidate: the whole sequence is its own common prefix, min(5, 4) = 4
        assert_eq!(summary(&toy, &moved), [(want, 4, 4)]);
        assert_eq!(moved.common_prefix, 5);
        assert_eq!(moved.candidates[0].scored_len(), 1);
        // the same text split the other way round gives the same answer
        let plain = toy.prepare(&task(TaskShape::CHOICE, &[("Q: capital?\nA:", " Paris")]));
        assert_eq!(plain, moved);
        // the context was counted without its whitespace, and every string got BOS
        let calls = toy.calls.borrow();
        assert_eq!(calls[0], ("Q: capital?\nA:".to_string(), true));
        assert_eq!(calls[1], ("Q: capital?\nA: Paris".to_string(), true));
    }

    #[test]
    fn a_shared_context_is_the_common_prefix_and_is_tokenized_once() {
        let toy = Toy::with_bos();
        let t = task(
            TaskShape::CHOICE,
            &[("A man", " runs"), ("A man", " sits down"), ("A man", " sits up")],
        );
        let p = toy.prepare(&t);
        assert_eq!(p.common_prefix, 3);
        assert_eq!(
            summary(&toy, &p),
            [
                (strings(&["<s>", "A", " man", " runs"]), 3, 3),
                (strings(&["<s>", "A", " man", " sits", " down"]), 3, 3),
                (strings(&["<s>", "A", " man", " sits", " up"]), 3, 3),
            ]
        );
        // the context once, then each whole string
        assert_eq!(toy.calls.borrow().len(), 1 + 3);
        // cells: the 3 prefix tokens once, then 1 + 2 + 2
        assert_eq!(p.cells(), 3 + 5);
    }

    #[test]
    fn continuations_sharing_tokens_still_score_from_the_continuation() {
        let toy = Toy::with_bos();
        let t = task(TaskShape::CHOICE, &[("A man", " sits down"), ("A man", " sits up")]);
        let p = toy.prepare(&t);
        // the candidates share " sits" too, but scoring starts at the continuation: min(4, 3)
        assert_eq!(p.common_prefix, 4);
        assert!(p.candidates.iter().all(|c| (c.continuation_start, c.first_scored) == (3, 3)));
        assert!(p.candidates.iter().all(|c| c.scored_len() == 2));
    }

    #[test]
    fn different_contexts_score_from_where_they_differ() {
        // Winogrande's partial scoring: the option fills the context, the continuation is shared
        let toy = Toy::with_bos();
        let t = task(
            TaskShape::PARTIAL,
            &[
                ("Sam thanked Kim because Sam", " was kind."),
                ("Sam thanked Kim because old Kim", " was kind."),
            ],
        );
        let p = toy.prepare(&t);
        assert_eq!(p.common_prefix, 5);
        assert_eq!(
            summary(&toy, &p),
            [
                (
                    strings(&[
                        "<s>", "Sam", " thanked", " Kim", " because", " Sam", " was", " kind."
                    ]),
                    6,
                    5
                ),
                (
                    strings(&[
                        "<s>", "Sam", " thanked", " Kim", " because", " old", " Kim", " was",
                        " kind."
                    ]),
                    7,
                    5
                ),
            ]
        );
        // each context counted once, each whole string once
        assert_eq!(toy.calls.borrow().len(), 4);
        assert_eq!(p.cells(), 5 + 3 + 4);
    }

    #[test]
    fn without_bos_the_first_token_is_never_scored() {
        // a tokenizer that adds nothing: an empty context has 0 tokens, yet token 0 has no
        // log-probability, so scoring starts at 1
        let toy = Toy::default();
        let p = toy.prepare(&task(TaskShape::CHOICE, &[("", "The capital is Paris.")]));
        assert_eq!(summary(&toy, &p), [(strings(&["The", " capital", " is", " Paris."]), 0, 1)]);
        assert_eq!(p.candidates[0].scored_len(), 3);
        // no common prefix at all: still 1
        let p = toy.prepare(&task(TaskShape::CHOICE, &[("", "Yes"), ("", "No")]));
        assert_eq!(p.common_prefix, 0);
        assert!(p.candidates.iter().all(|c| (c.continuation_start, c.first_scored) == (0, 1)));
        assert!(p.candidates.iter().all(|c| c.scored_len() == 0));
    }

    #[test]
    fn bos_counts_in_both_the_context_and_the_whole_string() {
        let with = Toy::with_bos();
        let without = Toy::default();
        let t = task(TaskShape::CHOICE, &[("Answer:", " Paris"), ("Answer:", " Rome")]);
        let (a, b) = (with.prepare(&t), without.prepare(&t));
        assert_eq!((a.common_prefix, b.common_prefix), (2, 1));
        assert_eq!(a.candidates[0].tokens.len(), 3);
        assert_eq!(b.candidates[0].tokens.len(), 2);
        assert_eq!((a.candidates[0].continuation_start, a.candidates[0].first_scored), (2, 2));
        assert_eq!((b.candidates[0].continuation_start, b.candidates[0].first_scored), (1, 1));
    }

    #[test]
    fn an_empty_continuation_starts_at_the_end() {
        let toy = Toy::with_bos();
        let p = toy.prepare(&task(TaskShape::CHOICE, &[("Answer:", "")]));
        assert_eq!(summary(&toy, &p), [(strings(&["<s>", "Answer:"]), 2, 2)]);
        assert_eq!(p.candidates[0].scored_len(), 0);
        // an empty continuation after trailing whitespace is that whitespace
        let p = toy.prepare(&task(TaskShape::CHOICE, &[("Answer: ", "")]));
        assert_eq!(summary(&toy, &p), [(strings(&["<s>", "Answer:", " "]), 2, 2)]);
    }

    #[test]
    fn the_boundary_is_capped_at_the_sequence_length() {
        // a merge across the seam can leave the whole string with fewer tokens than its context:
        // here "abc" is [ab, c] but "abcd" is one token
        let tokenize = |text: &str, _: bool| -> Result<Vec<i32>, AbiError> {
            Ok(match text {
                "abcd" => vec![100],
                "abc" => vec![101, 3],
                other => other.chars().map(|c| c as i32).collect(),
            })
        };
        let p = prepare_task(&task(TaskShape::CHOICE, &[("abc", "d")]), tokenize).unwrap();
        let c = &p.candidates[0];
        assert_eq!((c.tokens.as_slice(), c.continuation_start, c.first_scored), (&[100][..], 1, 1));
        assert_eq!(c.scored_len(), 0);
    }

    #[test]
    fn errors_name_the_task_or_pass_through() {
        let toy = Toy::with_bos();
        let e = prepare_task(&task(TaskShape::CHOICE, &[]), |t, s| toy.tokenize(t, s));
        let e = e.unwrap_err();
        assert_eq!(e.code, ErrorCode::INVALID_DATA);
        assert_eq!(e.message.as_str(), "task `t` has no candidates");
        let failing = |_: &str, _: bool| -> Result<Vec<i32>, AbiError> {
            Err(AbiError::backend("tokenizer broke"))
        };
        let e = prepare_task(&task(TaskShape::CHOICE, &[("a", " b")]), failing).unwrap_err();
        assert_eq!(e.message.as_str(), "tokenizer broke");
    }

    #[test]
    fn scored_candidates_carry_the_boundaries() {
        let toy = Toy::with_bos();
        let p = toy.prepare(&task(TaskShape::CHOICE, &[("Answer:", " Paris")]));
        let s = p.candidates[0].to_scored(vec![-0.5], vec![true]);
        assert_eq!(s.tokens.as_slice(), p.candidates[0].tokens.as_slice());
        assert_eq!((s.continuation_start, s.first_scored), (2, 2));
        assert_eq!((s.logprobs.as_slice(), s.greedy.as_slice()), (&[-0.5f32][..], &[true][..]));
    }
}
