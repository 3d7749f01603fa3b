//! A runtime plugin with known delays, for the host's timing tests: every `evaluate` call
//! sleeps `call_ms` plus `task_ms` for each task it is given, then scores each candidate as the
//! tokens `[1, 2, 3]` with log-probability -1 for the two continuation tokens (so every task
//! predicts its first candidate). The model file is never read.

use std::time::Duration;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RSlice, RStr, RString, RVec};
use joulebench_abi::{
    AbiError, Counters, Evaluation, GenerateRequest, Generation, Model, Model_TO, ModelBox,
    ModelInfo, ModelSpec, Runtime, RuntimeInfo, ScoredCandidate, ScoredTask, Task, guard,
};
use serde::Deserialize;

#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct Config {
    call_ms: u64,
    task_ms: u64,
}

/// The scripted runtime.
pub struct Scripted(Config);

/// Its model.
pub struct ScriptedModel(Config);

fn new(config: &str) -> Result<Scripted, AbiError> {
    toml::from_str(config).map(Scripted).map_err(|e| AbiError::config(e.to_string()))
}

impl Runtime for Scripted {
    fn info(&self) -> RuntimeInfo {
        RuntimeInfo {
            name: "scripted".into(),
            engine_version: RString::new(),
            backends: vec!["cpu".into()].into(),
            backend: "cpu".into(),
        }
    }

    fn load_model(&mut self, _spec: &ModelSpec) -> RResult<ModelBox, AbiError> {
        guard(|| Ok(Model_TO::from_value(ScriptedModel(self.0), TD_Opaque)))
    }
}

impl Model for ScriptedModel {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            name: "scripted".into(),
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
            let ms = self.0.call_ms + self.0.task_ms * tasks.len() as u64;
            std::thread::sleep(Duration::from_millis(ms));
            let scored = tasks
                .iter()
                .map(|t| ScoredTask {
                    common_prefix: 1,
                    candidates: t
                        .candidates
                        .iter()
                        .map(|_| ScoredCandidate {
                            tokens: vec![1, 2, 3].into(),
                            continuation_start: 1,
                            first_scored: 1,
                            logprobs: vec![-1.0, -1.0].into(),
                            greedy: vec![true, true].into(),
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
        RResult::RErr(AbiError::unsupported("the scripted runtime does not generate"))
    }
}

joulebench_abi::export_runtime_plugin!(new);
