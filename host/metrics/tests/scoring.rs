//! The scoring conventions on hand-built runtime answers. Every expected prediction is worked out
//! by hand in the comments from the rules of `docs/scoring-conventions.md#conventions`.

use joulebench_abi::{Candidate, Convention, ScoredCandidate, ScoredTask, Task, TaskShape};
use joulebench_metrics::score_task;

/// A candidate whose log-probabilities start at `first`; greedy flags all true unless given.
fn cand(tokens: &[i32], cont: u32, first: u32, logprobs: &[f32]) -> ScoredCandidate {
    ScoredCandidate {
        tokens: tokens.to_vec().into(),
        continuation_start: cont,
        first_scored: first,
        logprobs: logprobs.to_vec().into(),
        greedy: vec![true; logprobs.len()].into(),
    }
}

fn task(shape: TaskShape, gold: u32, texts: &[(&str, &str)]) -> Task {
    Task {
        id: "t7".into(),
        group: "".into(),
        gold,
        shape,
        candidates: texts
            .iter()
            .map(|(c, k)| Candidate { context: (*c).into(), continuation: (*k).into() })
            .collect::<Vec<_>>()
            .into(),
    }
}

/// HellaSwag-like: context of 3 tokens shared, continuations differ from token 3 on.
fn choice_task() -> (Task, ScoredTask) {
    let t = task(
        TaskShape::CHOICE,
        3,
        &[
            ("ctx", " ab cd"),               // 5 characters without the space
            ("ctx", " abc"),                 // 3
            ("ctx", " x"),                   // 1
            ("ctx", " long long long long"), // 19
        ],
    );
    let s = ScoredTask {
        common_prefix: 3,
        candidates: vec![
            cand(&[1, 10, 11, 20, 21], 3, 3, &[-1.0, -1.0]),
            cand(&[1, 10, 11, 30], 3, 3, &[-1.5]),
            cand(&[1, 10, 11, 40, 41, 42], 3, 3, &[-0.5, -0.5, -0.5]),
            cand(&[1, 10, 11, 50, 51], 3, 3, &[-3.0, -0.25]),
        ]
        .into(),
    };
    (t, s)
}

#[test]
fn lm_eval_acc_and_acc_norm() {
    let (t, s) = choice_task();
    let r = score_task(&t, &s, Convention::LM_EVAL).unwrap();
    // Sums: -2.0, -1.5, -1.5, -3.25. Candidates 1 and 2 tie: numpy's argmax takes the first, 1.
    assert_eq!(r.scores, vec![-2.0, -1.5, -1.5, -3.25]);
    assert_eq!(r.predicted, 1);
    assert!(!r.correct);
    // Per character: -2/5 = -0.4, -1.5/3 = -0.5, -1.5/1 = -1.5, -3.25/19 = -0.171: candidate 3.
    assert_eq!(r.predicted_norm, Some(3));
    assert_eq!(r.correct_norm, Some(true));
    assert_eq!(r.greedy, vec![true; 4]);
}

#[test]
fn llama_cpp_choice_mean_per_token() {
    let (t, s) = choice_task();
    let r = score_task(&t, &s, Convention::LLAMA_CPP).unwrap();
    // Means after the 3-token common prefix: -1.0, -1.5, -0.5, -1.625: candidate 2.
    assert_eq!(r.scores, vec![-1.0, -1.5, -0.5, -1.625]);
    assert_eq!(r.predicted, 2);
    assert!(!r.correct);
    assert_eq!(r.predicted_norm, None);
    assert_eq!(r.correct_norm, None);
}

#[test]
fn llama_cpp_choice_skips_shared_continuation_tokens() {
    // Context is 2 tokens; both endings start with token 5, so the common prefix is 3 and
    // first_scored is min(3, 2) = 2. llama.cpp scores from token 3 on:
    //   cand 0: -1.0 / 1 = -1.0; cand 1: (-1.1 * 3) / 3 = -1.1  -> 0.
    // Had the shared token been scored: -5/2 = -2.5 vs -7.3/4 = -1.825 -> 1.
    // lm-eval sums the whole continuation: -5.0 vs -7.3 -> 0.
    let t = task(TaskShape::CHOICE, 0, &[("c", " a b"), ("c", " a d d d")]);
    let s = ScoredTask {
        common_prefix: 3,
        candidates: vec![
            cand(&[1, 10, 5, 6], 2, 2, &[-4.0, -1.0]),
            cand(&[1, 10, 5, 7, 7, 7], 2, 2, &[-4.0, -1.1, -1.1, -1.1]),
        ]
        .into(),
    };
    let r = score_task(&t, &s, Convention::LLAMA_CPP).unwrap();
    assert_eq!(r.predicted, 0);
    assert!(r.correct);
    assert!((r.scores[1] - -1.1).abs() < 1e-6);
    let l = score_task(&t, &s, Convention::LM_EVAL).unwrap();
    assert_eq!(l.predicted, 0);
    assert!((l.scores[1] - -7.3).abs() < 1e-5);
}

#[test]
fn llama_cpp_choice_tie_goes_to_lowest_index() {
    let t = task(TaskShape::CHOICE, 1, &[("c", " a"), ("c", " b"), ("c", " c")]);
    let s = ScoredTask {
        common_prefix: 2,
        candidates: vec![
            cand(&[1, 9, 4], 2, 2, &[-2.0]),
            cand(&[1, 9, 5, 5], 2, 2, &[-1.0, -1.0]),
            cand(&[1, 9, 6], 2, 2, &[-1.0]),
        ]
        .into(),
    };
    let r = score_task(&t, &s, Convention::LLAMA_CPP).unwrap();
    assert_eq!(r.predicted, 1);
    assert!(r.correct);
}

/// Winogrande with a long remainder: "first" is 2 tokens, option 1 is 2 tokens (100, 101),
/// option 2 one token (200), the rest 4 tokens ending in the period 53.
fn winogrande_long() -> (Task, ScoredTask) {
    let t = task(
        TaskShape::PARTIAL,
        0,
        &[
            ("Sarah was better so Sarah Lee", " always got it."),
            ("Sarah was better so Maria", " always got it."),
        ],
    );
    let mut c0 =
        cand(&[1, 8, 100, 101, 50, 51, 52, 53], 4, 2, &[-5.0, -5.0, -1.0, -1.0, -1.0, -9.0]);
    // A non-greedy option token is outside the continuation: is_greedy stays true.
    c0.greedy = vec![false, false, true, true, true, true].into();
    let mut c1 = cand(&[1, 8, 200, 50, 51, 52, 53], 3, 2, &[-0.1, -1.5, -1.5, -1.5, -0.1]);
    c1.greedy = vec![true, true, false, true, true].into();
    (t, ScoredTask { common_prefix: 2, candidates: vec![c0, c1].into() })
}

#[test]
fn llama_cpp_winogrande_skips_option_and_last_token() {
    let (t, s) = winogrande_long();
    // L - c = 6 and 5, both > 3: skip the option tokens, start at n_base = 4 and 3; drop the
    // last token. Option 1: tokens 4..=6 -> -3/3 = -1.0. Option 2: tokens 3..=5 -> -4.5/3 = -1.5.
    // Option 1 wins. (With the option tokens: -13/5 vs -4.6/4 -> option 2; with the last token:
    // -12/4 vs -4.6/4 -> option 2.)
    let r = score_task(&t, &s, Convention::LLAMA_CPP).unwrap();
    assert_eq!(r.scores, vec![-1.0, -1.5]);
    assert_eq!(r.predicted, 0);
    assert!(r.correct);
    assert_eq!(r.predicted_norm, None);
    assert_eq!(r.greedy, vec![true, false]);
}

#[test]
fn lm_eval_winogrande_sums_the_shared_continuation() {
    let (t, s) = winogrande_long();
    // Continuation tokens only, period included: -1-1-1-9 = -12 vs -1.5*3-0.1 = -4.6 -> option 2.
    let r = score_task(&t, &s, Convention::LM_EVAL).unwrap();
    assert_eq!(r.predicted, 1);
    assert!(!r.correct);
    assert!((r.scores[0] - -12.0).abs() < 1e-9);
    assert!((r.scores[1] - -4.6).abs() < 1e-6);
    // lm-eval's Winogrande reports acc only.
    assert_eq!(r.predicted_norm, None);
    assert_eq!(r.correct_norm, None);
}

#[test]
fn llama_cpp_winogrande_short_remainder_scores_from_common_prefix() {
    // Option 1's sequence has only 3 tokens after the common prefix (2), so no skip: both start
    // at c = 2 and drop the last token. Option 1: tokens 2..=3 -> (-2 - 1)/2 = -1.5.
    // Option 2: tokens 2..=4 -> (-1 - 0.5 - 1.2)/3 = -0.9 -> option 2.
    // (Skipping wrongly from n_base 3 and 4 would give -1.0 vs -1.2 -> option 1.)
    let t = task(TaskShape::PARTIAL, 1, &[("a b X", " c."), ("a b Y Z", " c.")]);
    let s = ScoredTask {
        common_prefix: 2,
        candidates: vec![
            cand(&[1, 8, 100, 50, 53], 3, 2, &[-2.0, -1.0, -5.0]),
            cand(&[1, 8, 200, 201, 50, 53], 4, 2, &[-1.0, -0.5, -1.2, -5.0]),
        ]
        .into(),
    };
    let r = score_task(&t, &s, Convention::LLAMA_CPP).unwrap();
    assert_eq!(r.predicted, 1);
    assert!(r.correct);
    assert!((r.scores[0] - -1.5).abs() < 1e-9);
    assert!((r.scores[1] - -0.9).abs() < 1e-6);
}

#[test]
fn llama_cpp_winogrande_keeps_a_single_last_token_and_ties_to_option_2() {
    // Option 1 has one token after the prefix: L - b = 1, so nothing is dropped: -0.7.
    // Option 2 has two: the last is dropped: -0.9. Option 1 wins.
    let t = task(TaskShape::PARTIAL, 0, &[("a b", " X"), ("a b", " Y Z")]);
    let s = ScoredTask {
        common_prefix: 2,
        candidates: vec![
            cand(&[1, 8, 100], 2, 2, &[-0.7]),
            cand(&[1, 8, 200, 201], 2, 2, &[-0.9, -9.0]),
        ]
        .into(),
    };
    let r = score_task(&t, &s, Convention::LLAMA_CPP).unwrap();
    assert_eq!(r.scores, vec![f64::from(-0.7f32), f64::from(-0.9f32)]);
    assert_eq!(r.predicted, 0);

    // Equal scores: llama.cpp picks option 2 (`score_1 > score_2` fails).
    let s_tie = ScoredTask {
        common_prefix: 2,
        candidates: vec![
            cand(&[1, 8, 100], 2, 2, &[-0.5]),
            cand(&[1, 8, 200, 201], 2, 2, &[-0.5, -9.0]),
        ]
        .into(),
    };
    let r = score_task(&t, &s_tie, Convention::LLAMA_CPP).unwrap();
    assert_eq!(r.predicted, 1);
    assert!(!r.correct);
}

#[test]
fn answers_that_do_not_fit_the_task_are_errors() {
    let (t, mut s) = choice_task();
    s.candidates[2].logprobs.pop();
    let e = score_task(&t, &s, Convention::LM_EVAL).unwrap_err().to_string();
    assert_eq!(e, "task t7: candidate 2: 2 log-probabilities for the 3 tokens from first_scored 3");

    let (t, mut s) = choice_task();
    s.candidates.pop();
    let e = score_task(&t, &s, Convention::LLAMA_CPP).unwrap_err().to_string();
    assert_eq!(e, "task t7: 3 scored candidates for 4 candidates");

    let (mut t, s) = choice_task();
    t.gold = 4;
    let e = score_task(&t, &s, Convention::LM_EVAL).unwrap_err().to_string();
    assert_eq!(e, "task t7: gold index 4 for 4 candidates");

    let (t, mut s) = choice_task();
    s.candidates[0].logprobs[1] = f32::NAN;
    let e = score_task(&t, &s, Convention::LM_EVAL).unwrap_err().to_string();
    assert_eq!(e, "task t7: candidate 0: log-probability of token 4 is NaN");

    let (t, mut s) = choice_task();
    s.candidates[1].continuation_start = 9;
    let e = score_task(&t, &s, Convention::LM_EVAL).unwrap_err().to_string();
    assert_eq!(
        e,
        "task t7: candidate 1: continuation_start 9 is outside first_scored 3..=4 tokens"
    );

    // A candidate with nothing after the common prefix: llama.cpp would print nan.
    let t = task(TaskShape::CHOICE, 0, &[("c", " a"), ("c", " a b")]);
    let s = ScoredTask {
        common_prefix: 3,
        candidates: vec![cand(&[1, 9, 4], 2, 2, &[-1.0]), cand(&[1, 9, 4, 5], 2, 2, &[-1.0, -2.0])]
            .into(),
    };
    let e = score_task(&t, &s, Convention::LLAMA_CPP).unwrap_err().to_string();
    assert_eq!(e, "task t7: candidate 0: no tokens after the common prefix");
    // lm-eval scores the same answer without trouble: -1 vs -3.
    assert_eq!(score_task(&t, &s, Convention::LM_EVAL).unwrap().predicted, 0);
}

#[test]
fn counting_correct_answers() {
    let (t, s) = choice_task();
    let lm = score_task(&t, &s, Convention::LM_EVAL).unwrap(); // acc wrong, acc_norm right
    let ll = score_task(&t, &s, Convention::LLAMA_CPP).unwrap(); // wrong, no acc_norm
    let (wt, ws) = winogrande_long();
    let wl = score_task(&wt, &ws, Convention::LLAMA_CPP).unwrap(); // right, no acc_norm
    assert_eq!(joulebench_metrics::count_correct(&[lm.clone(), lm.clone()]), (0, Some(2)));
    assert_eq!(joulebench_metrics::count_correct(&[lm, ll, wl]), (1, None));
    assert_eq!(joulebench_metrics::count_correct(&[]), (0, Some(0)));
}

#[test]
fn unknown_shapes_and_conventions_are_refused_not_guessed() {
    let (mut t, s) = choice_task();
    t.shape = TaskShape(7);
    let e = score_task(&t, &s, Convention::LM_EVAL).unwrap_err();
    assert!(e.to_string().contains("unknown task shape 7"), "{e}");
    let (t, s) = choice_task();
    let e = score_task(&t, &s, Convention(9)).unwrap_err();
    assert!(e.to_string().contains("unknown scoring convention 9"), "{e}");
}
