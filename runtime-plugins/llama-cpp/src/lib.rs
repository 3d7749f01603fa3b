//! joulebench's llama.cpp runtime plugin, through the `llama-cpp-2` bindings.
//!
//! It loads a GGUF model (checked first, so that a wrong file gets an error naming it), reports
//! what the model is (parameters, architecture, quantization, file size and sha256, backend and
//! device), and does the two kinds of work joulebench measures:
//!
//! - **multiple-choice scoring** ([`Model::evaluate`]): every candidate is tokenized as one
//!   string, its continuation boundary found by lm-evaluation-harness's rule, and the
//!   log-probability of every token after the candidates' common prefix computed from a full
//!   log-softmax. The common prefix is decoded once and shared by the task's sequence ids, and as
//!   many tasks as fit in the context go into one `llama_decode` call (llama.cpp's perplexity tool
//!   packs the same way, but is held to four sequences unless told otherwise);
//! - **greedy generation** ([`Model::generate`]) with a token limit and stop strings, timing the
//!   first token and the decode speed.
//!
//! Why a runtime computes and does not judge: the scoring conventions live once, in the host, so
//! that every runtime is scored the same way.
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
mod softmax;

use abi_stable::std_types::{RResult, RSlice, RStr, RVec};
use joulebench_abi::{
    AbiError, Evaluation, GenerateRequest, Generation, Model, Model_TO, ModelBox, ModelInfo,
    ModelSpec, Runtime, RuntimeInfo, Task, guard,
};

pub use config::{Backend, Config, DEFAULT_CONTEXT_SIZE, ModelOptions, Settings};
pub use file::{GgufHeader, check_gguf};
pub use llama::{LlamaCppModel, system_info};
pub use softmax::{RowStats, row_stats};

/// The version of the `llama-cpp-2` bindings this plugin is built against.
pub const BINDINGS_VERSION: &str = "llama-cpp-2 0.1.160";

/// The llama.cpp runtime.
#[derive(Debug)]
pub struct LlamaCppRuntime {
    config: Config,
}

/// Builds the runtime from its configuration (TOML; see [`Config`] for the keys).
pub fn new(config: &str) -> Result<LlamaCppRuntime, AbiError> {
    // Before any llama.cpp code runs: its kernels would die with SIGILL on a CPU without them.
    kernels::check_cpu()?;
    let config = config::parse_config(config)?;
    // Check the combination now, so that a bad configuration fails before any model is named.
    config::settings(&config, &ModelOptions::default())?;
    llama::set_verbose(config.verbose);
    Ok(LlamaCppRuntime { config })
}

impl LlamaCppRuntime {
    /// Loads the model `spec` names, as [`Runtime::load_model`] does, returning the concrete type.
    pub fn load(&self, spec: &ModelSpec) -> Result<LlamaCppModel, AbiError> {
        let options = config::parse_options(&spec.options, &spec.id)?;
        let settings = config::settings(&self.config, &options)?;
        LlamaCppModel::load(std::path::Path::new(spec.path.as_str()), &settings)
    }
}

impl Runtime for LlamaCppRuntime {
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

    fn load_model(&mut self, spec: &ModelSpec) -> RResult<ModelBox, AbiError> {
        guard(|| {
            let model = self.load(spec)?;
            Ok(Model_TO::from_value(model, abi_stable::sabi_trait::TD_Opaque))
        })
    }
}

impl Model for LlamaCppModel {
    fn info(&self) -> ModelInfo {
        self.model_info().clone()
    }

    fn tokenize(&self, text: RStr<'_>, add_special: bool) -> RResult<RVec<i32>, AbiError> {
        guard(|| Ok(self.tokens(text.as_str(), add_special).into()))
    }

    fn evaluate(&mut self, tasks: RSlice<'_, Task>) -> RResult<Evaluation, AbiError> {
        guard(|| self.evaluate_tasks(tasks.as_slice()))
    }

    fn generate(&mut self, request: &GenerateRequest) -> RResult<Generation, AbiError> {
        guard(|| self.generate_text(request))
    }
}

/// The plugin's root module, which the host loads.
#[allow(missing_docs)]
mod export {
    joulebench_abi::export_runtime_plugin!(super::new);
}
