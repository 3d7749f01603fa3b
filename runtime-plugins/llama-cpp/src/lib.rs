//! joulebench's llama.cpp runtime plugin, through the `llama-cpp-2` bindings.
//!
//! It loads a GGUF model (checked first, so that a wrong file gets an error naming it), reports
//! what the model is (parameters, architecture, quantization, file size and sha256, backend and
//! device), and does the two kinds of work joulebench measures:
//!
//! - **multiple-choice scoring** ([`LanguageModel::evaluate`]): every candidate is tokenized as
//!   one string, its continuation boundary found by lm-evaluation-harness's rule, and the
//!   log-probability of every token after the candidates' common prefix computed from a full
//!   log-softmax. The common prefix is decoded once and shared by the task's sequence ids. On the
//!   CPU each task is decoded alone, as llama.cpp's perplexity tool does (attention reads every
//!   cell in the KV cache, so packing tasks together multiplies its cost); a GPU packs as many
//!   tasks as fit in the context into one `llama_decode` call;
//! - **greedy generation** ([`LanguageModel::generate`]) with a token limit and stop strings,
//!   timing the first token and the decode speed.
//!
//! Why a runtime computes and does not judge: the scoring conventions live once, in the host, so
//! that every runtime is scored the same way. The plugin is written against
//! `joulebench-runtime-common`'s [`Engine`] and [`LanguageModel`], whose adapter answers the host
//! behind panic guards and whose boundary rule tokenizes the candidates.
//!
//! The CPU kernels are chosen at build time ([`kernels`] says how, docs/boards.md says which each
//! board gets): on x86 never `GGML_NATIVE` (its AMX kernels die with SIGILL on some virtual
//! machines) but x86-64-v3 with AVX-512, VNNI and BF16 for llama.cpp; on aarch64 the board's
//! own CPU, or `GGML_CPU_ARM_ARCH` in a cross build. The runtime refuses to start on a CPU that
//! lacks one of them, and states the kernels it runs and the target triple in its
//! `engine_version`, which `joulebench plugins` prints and every result's provenance keeps. The
//! `cuda` feature builds llama.cpp's CUDA backend for NVIDIA GPUs and Jetson boards.
#![deny(missing_docs)]

mod config;
mod eval;
mod file;
mod generate;
pub mod kernels;
mod llama;
mod reference;

use joulebench_abi::{
    AbiError, Evaluation, GenerateRequest, Generation, ModelInfo, ModelSpec, RuntimeInfo, Task,
    TimedGeneration, TimedRequest,
};
use joulebench_runtime_common::{Engine, LanguageModel, RuntimePlugin};

pub use config::{Backend, Config, DEFAULT_CONTEXT_SIZE, ModelOptions, Settings};
pub use file::{GgufHeader, check_gguf};
pub use joulebench_runtime_common::softmax::{RowStats, row_stats};
pub use llama::{LlamaCppModel, system_info};

/// The version of the `llama-cpp-2` bindings this plugin is built against.
pub const BINDINGS_VERSION: &str = "llama-cpp-2 0.1.160";

/// The llama.cpp runtime.
#[derive(Debug)]
pub struct LlamaCppRuntime {
    config: Config,
}

/// Builds the runtime from its configuration (TOML; see [`Config`] for the keys), wrapped for the
/// host; it dereferences to the [`LlamaCppRuntime`].
pub fn new(config: &str) -> Result<RuntimePlugin<LlamaCppRuntime>, AbiError> {
    // Before any llama.cpp code runs: its kernels would die with SIGILL on a CPU without them.
    kernels::check_cpu()?;
    let config = config::parse_config(config)?;
    // Check the combination now, so that a bad configuration fails before any model is named.
    config::settings(&config, &ModelOptions::default())?;
    llama::set_verbose(config.verbose);
    Ok(RuntimePlugin::new(LlamaCppRuntime { config }))
}

impl LlamaCppRuntime {
    /// Loads the model `spec` names, as [`Engine::load`] does.
    pub fn load(&self, spec: &ModelSpec) -> Result<LlamaCppModel, AbiError> {
        let options = config::parse_options(&spec.options, &spec.id)?;
        let settings = config::settings(&self.config, &options)?;
        LlamaCppModel::load(std::path::Path::new(spec.path.as_str()), &settings)
    }
}

impl Engine for LlamaCppRuntime {
    type Model = LlamaCppModel;

    fn info(&self) -> RuntimeInfo {
        let backend = self.config.backend.clone().unwrap_or_else(|| "cpu".into());
        RuntimeInfo {
            name: "llama.cpp".into(),
            engine_version: format!("{BINDINGS_VERSION}; {}", kernels::describe(&system_info()))
                .into(),
            backends: config::available_backends().into_iter().map(Into::into).collect(),
            backend: backend.into(),
        }
    }

    fn load(&mut self, spec: &ModelSpec) -> Result<LlamaCppModel, AbiError> {
        LlamaCppRuntime::load(self, spec)
    }
}

impl LanguageModel for LlamaCppModel {
    fn info(&self) -> ModelInfo {
        self.model_info().clone()
    }

    fn tokenize(&self, text: &str, add_special: bool) -> Result<Vec<i32>, AbiError> {
        Ok(self.tokens(text, add_special))
    }

    fn evaluate(&mut self, tasks: &[Task]) -> Result<Evaluation, AbiError> {
        self.evaluate_tasks(tasks)
    }

    fn generate(&mut self, request: &GenerateRequest) -> Result<Generation, AbiError> {
        self.generate_text(request)
    }

    fn generate_timed(&mut self, request: &TimedRequest) -> Result<TimedGeneration, AbiError> {
        self.generate_tokens(request)
    }
}

/// The plugin's root module, which the host loads.
#[allow(missing_docs)]
mod export {
    joulebench_abi::export_runtime_plugin!(super::new);
}
