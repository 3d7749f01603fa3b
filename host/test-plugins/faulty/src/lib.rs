//! A runtime plugin for the host's fault tests that fails, stalls or hangs on demand.
//!
//! Its configuration says where and how each call misbehaves. A mode is `"error"` (return an
//! error), `"panic"`, `"sleep:S"` (take S seconds, then work) or `"hang"` (never return):
//!
//! - `constructor = MODE`: the constructor (`"sleep:S"` and `"hang"` stall it).
//! - `load_model = MODE`: [`Runtime::load_model`].
//! - `evaluate = MODE` from the `evaluate_from`-th call of [`Model::evaluate`] on (1 = the first;
//!   the default), so that a run stores some batches before the fault.
//! - `evaluate_ms = N`: every evaluate call takes N ms (a run long enough to be interrupted).
//!   The environment variable `JOULEBENCH_TEST_EVALUATE_MS` overrides it, so that a test can
//!   slow down one run of a manifest without changing the manifest (and so its experiments).
//!
//! Without faults it loads a model (the file is never read) that scores every candidate from its
//! text alone: the tokens `[1, 2, 3]`, with the same log-probability for the two continuation
//! tokens, a value derived from the task id and the continuation. Predictions thus vary from task
//! to task, the same way every time, so a resumed run can be compared task for task.

use std::time::Duration;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RSlice, RStr, RString, RVec};
use joulebench_abi::{
    AbiError, Counters, Evaluation, GenerateRequest, Generation, Model, Model_TO, ModelBox,
    ModelInfo, ModelSpec, Runtime, RuntimeInfo, ScoredCandidate, ScoredTask, Task, guard,
};
use serde::Deserialize;

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    constructor: Option<String>,
    #[serde(default)]
    load_model: Option<String>,
    #[serde(default)]
    evaluate: Option<String>,
    #[serde(default)]
    evaluate_from: Option<u64>,
    #[serde(default)]
    evaluate_ms: u64,
}

/// The faulty runtime.
pub struct Faulty {
    config: Config,
}

/// Its model.
pub struct FaultyModel {
    config: Config,
    calls: u64,
}

/// Misbehaves as `how` says at `place`; `Ok` when the call should go on and work.
fn fault(how: &str, place: &str) -> Result<(), AbiError> {
    if let Some(seconds) = how.strip_prefix("sleep:") {
        let s: f64 = seconds
            .parse()
            .map_err(|_| AbiError::config(format!("{place}: bad sleep {seconds:?}")))?;
        std::thread::sleep(Duration::from_secs_f64(s));
        return Ok(());
    }
    match how {
        "panic" => panic!("{place} was told to panic"),
        "error" => Err(AbiError::backend(format!("{place} was told to fail"))),
        "hang" => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
        other => Err(AbiError::config(format!("unknown failure mode {other:?}"))),
    }
}

fn new(config: &str) -> Result<Faulty, AbiError> {
    let config: Config = toml::from_str(config).map_err(|e| AbiError::config(e.to_string()))?;
    if let Some(how) = &config.constructor {
        fault(how, "constructor")?;
    }
    Ok(Faulty { config })
}

impl Runtime for Faulty {
    fn info(&self) -> RuntimeInfo {
        RuntimeInfo {
            name: "faulty".into(),
            engine_version: RString::new(),
            backends: vec!["cpu".into()].into(),
            backend: "cpu".into(),
        }
    }

    fn load_model(&mut self, _spec: &ModelSpec) -> RResult<ModelBox, AbiError> {
        guard(|| {
            if let Some(how) = &self.config.load_model {
                fault(how, "load_model")?;
            }
            let model = FaultyModel { config: self.config.clone(), calls: 0 };
            Ok(Model_TO::from_value(model, TD_Opaque))
        })
    }
}

/// A log-probability in [-10, -0.1] derived from the text (FNV-1a).
fn logprob(task: &str, continuation: &str) -> f32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in task.bytes().chain([0]).chain(continuation.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    -0.1 - (h % 100) as f32 / 10.0
}

impl Model for FaultyModel {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            name: "faulty".into(),
            path: RString::new(),
            architecture: "none".into(),
            parameters: 1_000_000,
            quantization: "none".into(),
            file_size: 0,
            sha256: RString::new(),
            context_size: 0,
            backend: "cpu".into(),
            device: "none".into(),
            threads: 1,
        }
    }

    fn tokenize(&self, text: RStr<'_>, _add_special: bool) -> RResult<RVec<i32>, AbiError> {
        RResult::ROk(text.as_str().bytes().map(i32::from).collect())
    }

    fn evaluate(&mut self, tasks: RSlice<'_, Task>) -> RResult<Evaluation, AbiError> {
        guard(|| {
            self.calls += 1;
            let ms = std::env::var("JOULEBENCH_TEST_EVALUATE_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(self.config.evaluate_ms);
            std::thread::sleep(Duration::from_millis(ms));
            if let Some(how) = &self.config.evaluate
                && self.calls >= self.config.evaluate_from.unwrap_or(1)
            {
                fault(how, &format!("evaluate call {}", self.calls))?;
            }
            let scored = tasks
                .iter()
                .map(|t| ScoredTask {
                    common_prefix: 1,
                    candidates: t
                        .candidates
                        .iter()
                        .map(|c| {
                            let lp = logprob(&t.id, &c.continuation);
                            ScoredCandidate {
                                tokens: vec![1, 2, 3].into(),
                                continuation_start: 1,
                                first_scored: 1,
                                logprobs: vec![lp, lp].into(),
                                greedy: vec![true, true].into(),
                            }
                        })
                        .collect(),
                })
                .collect();
            let prompt_tokens = 3 * tasks.len() as u64;
            Ok(Evaluation {
                tasks: scored,
                counters: Counters { prompt_tokens, generated_tokens: 0 },
            })
        })
    }

    fn generate(&mut self, _request: &GenerateRequest) -> RResult<Generation, AbiError> {
        RResult::RErr(AbiError::unsupported("the faulty runtime does not generate"))
    }
}

joulebench_abi::export_runtime_plugin!(new);
