//! The burn runtime against reference values recorded while the plugin was designed (an
//! independent numpy forward pass over the dequantized SmolLM2 GGUF, and the Python `tokenizers`
//! pipeline built from the same vocabulary).

mod common;

use common::{SMOLLM2, model_path};
use joulebench_abi::{Candidate, GenerateRequest, ModelSpec, Task, TaskShape};
use joulebench_runtime_burn::{BurnModel, Tokenizer, new};

fn load(name: &str) -> BurnModel {
    let rt = new("").unwrap();
    let spec = ModelSpec {
        id: name.into(),
        path: model_path(name).display().to_string().into(),
        options: "".into(),
    };
    rt.load(&spec).unwrap()
}

fn task(id: &str, context: &str, continuations: &[&str]) -> Task {
    Task {
        id: id.into(),
        group: "".into(),
        gold: 0,
        shape: TaskShape::CHOICE,
        candidates: continuations
            .iter()
            .map(|c| Candidate { context: context.into(), continuation: (*c).into() })
            .collect(),
    }
}

#[test]
fn smollm2_tokenizer_matches_the_reference() {
    let g = joulebench_gguf::Gguf::read_header(model_path(SMOLLM2)).unwrap();
    let tok = Tokenizer::from_gguf(&g).unwrap();
    let text = "The capital of France is Paris. The capital of Germany is Berlin. The capital of Italy is Rome.";
    let ids = tok.encode(text, true);
    assert_eq!(
        ids,
        [
            504, 3575, 282, 4649, 314, 7042, 30, 378, 3575, 282, 4521, 314, 11452, 30, 378, 3575,
            282, 7158, 314, 7268, 30
        ]
    );
    let pieces: Vec<&str> = tok
        .encode("In 2024, it's   12.5%", true)
        .iter()
        .map(|&i| tok.token_text(i).unwrap())
        .collect();
    assert_eq!(
        pieces,
        ["In", "Ġ", "2", "0", "2", "4", ",", "Ġit", "'s", "ĠĠĠ", "1", "2", ".", "5", "%"]
    );
    // Control-token text is plain text: `<|im_start|>` is id 1 only when parsed as special.
    assert!(!tok.encode("<|im_start|>", true).contains(&1));
}

#[test]
fn smollm2_logprobs_match_the_reference() {
    let mut m = load(SMOLLM2);
    let info = m.model_info().clone();
    assert_eq!(info.architecture.as_str(), "llama");
    assert_eq!(info.parameters, 134_515_008);
    assert_eq!(info.quantization.as_str(), "Q4_1");
    assert_eq!(info.file_size, 98_362_432);
    assert_eq!(info.backend.as_str(), "flex");

    let q = task(
        "capital",
        "Question: What is the capital of France?\nAnswer:",
        &[" Paris", " London", " Berlin"],
    );
    let sentence = "The capital of France is Paris. The capital of Germany is Berlin. The capital of Italy is Rome.";
    let s = task("sentence", "", &[sentence]);
    let eval = m.evaluate_tasks(&[q, s]).unwrap();
    let t = &eval.tasks[0];
    assert_eq!(t.common_prefix, 12);
    for (cand, want) in t.candidates.iter().zip([-4.5093f32, -8.2027, -10.7743]) {
        assert_eq!(cand.continuation_start, 12);
        assert_eq!(cand.first_scored, 12);
        assert_eq!(cand.logprobs.len(), 1);
        assert!((cand.logprobs[0] - want).abs() < 0.02, "{} vs {want}", cand.logprobs[0]);
    }
    let c = &eval.tasks[1].candidates[0];
    assert_eq!((c.continuation_start, c.first_scored, c.logprobs.len()), (0, 1, 20));
    let first8 = [-11.5393f32, -0.3376, -2.4387, -0.4509, -0.2581, -0.3801, -2.4357, -0.8561];
    for (got, want) in c.logprobs.iter().zip(first8) {
        assert!((got - want).abs() < 0.02, "{got} vs {want}");
    }
    let sum: f32 = c.logprobs.iter().sum();
    assert!((sum - -26.337).abs() < 0.1, "{sum}");
    // The shared prefix counted once: 12 + 3 candidates of 1 token, and 21.
    assert_eq!(eval.counters.prompt_tokens, 12 + 3 + 21);

    let g = m
        .generate_text(&GenerateRequest {
            prompt: "The capital of France is".into(),
            max_tokens: 8,
            stop: vec![".".into()].into(),
        })
        .unwrap();
    assert!(g.counters.generated_tokens >= 1 && g.counters.generated_tokens <= 8);
    assert!(["stop", "max_tokens", "eog"].contains(&g.finish.as_str()));
    assert!(!g.text.contains('.'));
}
