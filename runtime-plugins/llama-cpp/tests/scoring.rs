//! Scoring on the real SmolLM2 model: the packed, prefix-shared path against a plain one, true
//! log-probabilities, lm-evaluation-harness's boundaries, and reference values.

mod common;

use common::{load, mixed_tasks, model_lock};
use joulebench_abi::{Candidate, Task, TaskShape};
use joulebench_runtime_llama_cpp::{LlamaCppModel, row_stats};

/// Log-probabilities of `tokens[from..]` computed in f64 from rows of logits, independently of
/// the plugin's log-softmax.
fn f64_logprobs(rows: &[Vec<f32>], tokens: &[i32], from: usize) -> Vec<(f64, bool)> {
    (from..tokens.len())
        .map(|t| {
            let row = &rows[t - 1];
            let max = row.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(f64::from(x)));
            let sum: f64 = row.iter().map(|&x| (f64::from(x) - max).exp()).sum();
            let target = tokens[t] as usize;
            let argmax =
                row.iter().enumerate().fold(0, |b, (i, &x)| if x > row[b] { i } else { b });
            (f64::from(row[target]) - max - sum.ln(), argmax == target)
        })
        .collect()
}

fn check_against_plain(model: &mut LlamaCppModel, tasks: &[Task], what: &str) {
    let eval = model.evaluate_tasks(tasks).expect("evaluate");
    assert_eq!(eval.tasks.len(), tasks.len());
    let mut decoded_alone = 0u64;
    let mut compared = 0;
    let mut greedy_diffs = 0;
    for (task, scored) in tasks.iter().zip(eval.tasks.iter()) {
        assert_eq!(scored.candidates.len(), task.candidates.len());
        let seqs: Vec<Vec<i32>> = scored.candidates.iter().map(|c| c.tokens.to_vec()).collect();
        let common = (0..seqs[0].len())
            .take_while(|&i| seqs.iter().all(|s| s.len() > i && s[i] == seqs[0][i]))
            .count();
        assert_eq!(scored.common_prefix as usize, common, "{}", task.id);
        decoded_alone += seqs.iter().map(|s| s.len() as u64).sum::<u64>();
        for (cand, sc) in task.candidates.iter().zip(scored.candidates.iter()) {
            // lm-evaluation-harness's rule, worked out here from the strings
            let ctx = cand.context.trim_end();
            let ws = &cand.context[ctx.len()..];
            let whole = model.tokens(&format!("{ctx}{ws}{}", cand.continuation), true);
            assert_eq!(sc.tokens.as_slice(), whole.as_slice(), "{}", task.id);
            let n_ctx = model.tokens(ctx, true).len();
            assert_eq!(sc.continuation_start as usize, n_ctx, "{}", task.id);
            let first = common.min(n_ctx).max(1);
            assert_eq!(sc.first_scored as usize, first, "{}", task.id);
            assert_eq!(sc.logprobs.len(), whole.len() - first, "{}", task.id);

            let rows = model.plain_logits(&whole, false).expect("plain decode");
            let plain = f64_logprobs(&rows, &whole, first);
            for (i, (lp, greedy)) in plain.iter().enumerate() {
                let got = f64::from(sc.logprobs[i]);
                assert!(
                    (got - lp).abs() < 1e-3,
                    "{what}: task {} token {}: packed {got} vs plain {lp}",
                    task.id,
                    first + i
                );
                if sc.greedy[i] != *greedy {
                    greedy_diffs += 1;
                }
                compared += 1;
            }
        }
    }
    assert!(compared > 150, "{what}: only {compared} tokens compared");
    // a flag may only flip on a near-tie of the two best logits
    assert!(greedy_diffs <= 1, "{what}: {greedy_diffs} greedy flags differ of {compared}");
    // the shared prefixes were decoded once: fewer tokens than every candidate alone
    assert!(eval.counters.prompt_tokens < decoded_alone, "{what}");
    assert_eq!(eval.counters.generated_tokens, 0);
}

#[test]
fn packed_scoring_matches_each_candidate_alone() {
    let _turn = model_lock();
    let tasks = mixed_tasks();
    assert!(tasks.iter().any(|t| t.shape == TaskShape::PARTIAL));
    let mut model = load("threads = 2");
    check_against_plain(&mut model, &tasks, "one group");
    // a small context splits the tasks into several groups, a small batch splits each group
    // into several llama_decode calls
    let mut model = load("threads = 2\ncontext_size = 256\nbatch_size = 96\nubatch_size = 32");
    check_against_plain(&mut model, &tasks, "many groups");
}

#[test]
fn token_by_token_equals_one_call() {
    let _turn = model_lock();
    let mut model = load("threads = 2");
    let tokens =
        model.tokens("The capital of France is Paris. The capital of Germany is Berlin.", true);
    let all = model.plain_logits(&tokens, false).unwrap();
    let one = model.plain_logits(&tokens, true).unwrap();
    let a = f64_logprobs(&all, &tokens, 1);
    let b = f64_logprobs(&one, &tokens, 1);
    for (x, y) in a.iter().zip(&b) {
        assert!((x.0 - y.0).abs() < 1e-3, "{} vs {}", x.0, y.0);
    }
}

#[test]
fn logprobs_are_normalized_over_the_vocabulary() {
    let _turn = model_lock();
    let mut model = load("threads = 2");
    let tokens = model.tokens("Question: What is the capital of France?\nAnswer: Paris", true);
    let rows = model.plain_logits(&tokens, false).unwrap();
    assert_eq!(rows[0].len(), 49152);
    for row in [&rows[3], &rows[tokens.len() - 2]] {
        let stats = row_stats(row);
        // exp(logprob) over the whole vocabulary, summed in f64
        let total: f64 = (0..row.len()).map(|v| f64::from(stats.logprob(row, v)).exp()).sum();
        assert!((total - 1.0).abs() < 1e-4, "sum of probabilities {total}");
        let independent: f64 = row.iter().map(|&x| (f64::from(x) - stats.log_sum_exp).exp()).sum();
        assert!((independent - 1.0).abs() < 1e-5, "sum {independent}");
    }
    // and the packed path gives those log-probabilities
    let task = Task {
        id: "paris".into(),
        group: "".into(),
        gold: 0,
        shape: TaskShape::CHOICE,
        candidates: vec![Candidate {
            context: "Question: What is the capital of France?\nAnswer:".into(),
            continuation: " Paris".into(),
        }]
        .into(),
    };
    let eval = model.evaluate_tasks(&[task]).unwrap();
    let c = &eval.tasks[0].candidates[0];
    let last = tokens.len() - 1;
    assert_eq!(c.first_scored as usize, last);
    let want = f64_logprobs(&rows, &tokens, last)[0].0;
    assert!((f64::from(c.logprobs[0]) - want).abs() < 1e-3);
}

fn task(id: &str, context: &str, conts: &[&str]) -> Task {
    Task {
        id: id.into(),
        group: "".into(),
        gold: 0,
        shape: TaskShape::CHOICE,
        candidates: conts
            .iter()
            .map(|c| Candidate { context: context.into(), continuation: (*c).into() })
            .collect(),
    }
}

/// Reference values from an independent numpy f32 forward pass over the dequantized GGUF
/// (computed while the burn runtime was designed; tokens without BOS, as the file's
/// `add_bos_token = false` says). llama.cpp quantizes activations to 8 bits for its Q4_1
/// dot products and keeps K, V (and, in its attention kernel, Q) in f16, which moves single
/// log-probabilities of this model by up to about 0.2; sums and rankings agree more closely.
#[test]
fn matches_an_independent_forward_pass() {
    let _turn = model_lock();
    let mut model = load("threads = 2");
    let text = "The capital of France is Paris. The capital of Germany is Berlin. The capital of Italy is Rome.";
    let ids = [
        504, 3575, 282, 4649, 314, 7042, 30, 378, 3575, 282, 4521, 314, 11452, 30, 378, 3575, 282,
        7158, 314, 7268, 30,
    ];
    assert_eq!(model.tokens(text, true), ids, "no BOS: the GGUF says add_bos_token = false");
    // score the whole sentence as one candidate whose continuation starts after the first token
    let eval = model.evaluate_tasks(&[task("sentence", "The", &[&text[3..]])]).unwrap();
    let c = &eval.tasks[0].candidates[0];
    assert_eq!(c.first_scored, 1);
    let sum: f64 = c.logprobs.iter().map(|&x| f64::from(x)).sum();
    assert!((sum - -26.337).abs() < 0.3, "sum {sum}");
    let first8 = [-11.5393, -0.3376, -2.4387, -0.4509, -0.2581, -0.3801, -2.4357, -0.8561];
    for (got, want) in c.logprobs.iter().zip(first8) {
        assert!((f64::from(*got) - want).abs() < 0.15, "{got} vs {want}");
    }

    let context = "Question: What is the capital of France?\nAnswer:";
    let eval = model
        .evaluate_tasks(&[task("capital", context, &[" Paris", " London", " Berlin"])])
        .unwrap();
    let scored = &eval.tasks[0];
    assert_eq!(scored.common_prefix, 12);
    for (c, want) in scored.candidates.iter().zip([-4.5093, -8.2027, -10.7743]) {
        assert_eq!(c.continuation_start, 12);
        assert_eq!(c.logprobs.len(), 1);
        assert!((f64::from(c.logprobs[0]) - want).abs() < 0.25, "{} vs {want}", c.logprobs[0]);
    }
    let lp: Vec<f32> = scored.candidates.iter().map(|c| c.logprobs[0]).collect();
    assert!(lp[0] > lp[1] && lp[1] > lp[2], "{lp:?}");
    // 12 prefix tokens once, then one token per candidate
    assert_eq!(eval.counters.prompt_tokens, 15);
}

#[test]
fn trailing_context_whitespace_moves_to_the_continuation() {
    let _turn = model_lock();
    let mut model = load("threads = 2");
    // "Answer: " + "Paris" must score like "Answer:" + " Paris"
    let a = model
        .evaluate_tasks(&[task(
            "a",
            "Question: What is the capital of France?\nAnswer: ",
            &["Paris"],
        )])
        .unwrap();
    let b = model
        .evaluate_tasks(&[task(
            "b",
            "Question: What is the capital of France?\nAnswer:",
            &[" Paris"],
        )])
        .unwrap();
    let (a, b) = (&a.tasks[0].candidates[0], &b.tasks[0].candidates[0]);
    assert_eq!(a.tokens, b.tokens);
    assert_eq!(a.continuation_start, b.continuation_start);
    assert!((a.logprobs[0] - b.logprobs[0]).abs() < 1e-3);
}

#[test]
fn special_token_text_is_not_parsed() {
    let _turn = model_lock();
    let model = load("threads = 1");
    // id 1 is <|im_start|> in SmolLM2's vocabulary (a control token of the GGUF's vocabulary)
    let t = model.tokens("<|im_start|>", true);
    assert!(t.len() > 1 && !t.contains(&1), "{t:?}");
}
