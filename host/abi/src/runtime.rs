//! Inference runtimes: load a model, then score multiple-choice tasks and generate text with it.
//!
//! A runtime computes; it does not judge. For each candidate of a task it returns the tokens and
//! the log-probability of every token from the first one any scoring convention needs, and the
//! host applies the conventions (lm-evaluation-harness, llama.cpp) once for every runtime.

use abi_stable::std_types::{RBox, RResult, RSlice, RStr, RString, RVec};
use abi_stable::{
    StableAbi, declare_root_module_statics, library::RootModule, package_version_strings,
    sabi_trait,
};

use crate::{AbiError, PluginInfo, Task};

pub(crate) const ROOT_MODULE_NAME: &str = "joulebench runtime plugin";

/// The root module of a runtime plugin. Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = RuntimeModRef)))]
pub struct RuntimeMod {
    /// Who the plugin is.
    pub plugin: PluginInfo,
    /// Builds the runtime from its configuration (the manifest's `config` table as TOML).
    #[sabi(last_prefix_field)]
    pub new: extern "C" fn(config: RStr<'_>) -> RResult<RuntimeBox, AbiError>,
}

impl RootModule for RuntimeModRef {
    declare_root_module_statics! {RuntimeModRef}
    const BASE_NAME: &'static str = "joulebench_runtime";
    const NAME: &'static str = ROOT_MODULE_NAME;
    const VERSION_STRINGS: abi_stable::sabi_types::VersionStrings = package_version_strings!();
}

/// A runtime as the host holds it.
pub type RuntimeBox = Runtime_TO<'static, RBox<()>>;
/// A loaded model as the host holds it.
pub type ModelBox = Model_TO<'static, RBox<()>>;

/// What a runtime offers. Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct RuntimeInfo {
    /// The runtime's name (`llama.cpp`, `burn`).
    pub name: RString,
    /// The engine's own version where it has one (a llama.cpp build number, a crate version).
    pub engine_version: RString,
    /// The backends this build can run on (`cpu`, `cuda`, ...).
    pub backends: RVec<RString>,
    /// The backend the plugin's configuration selected.
    pub backend: RString,
}

/// Which model to load and how: the experiment's model entry. Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct ModelSpec {
    /// The model's id in the manifest.
    pub id: RString,
    /// The model file, already resolved to an absolute path by the host.
    pub path: RString,
    /// Per-model settings that override the runtime's configuration (context size, say), as a
    /// TOML table; empty when there are none. The runtime refuses keys it does not know.
    pub options: RString,
}

/// What a loaded model is, for the report and the results' provenance. Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct ModelInfo {
    /// The model's name (from its metadata, else its file name).
    pub name: RString,
    /// The model file's path.
    pub path: RString,
    /// The architecture (`llama`, `gemma3`, ...).
    pub architecture: RString,
    /// The parameter count.
    pub parameters: u64,
    /// The quantization or file type (`Q4_1`, `Q4_K_M`, ...).
    pub quantization: RString,
    /// The file's size in bytes.
    pub file_size: u64,
    /// The file's sha256, lower-case hex.
    pub sha256: RString,
    /// The context size the model was loaded with, in tokens.
    pub context_size: u32,
    /// The backend running the model (`cpu`, `cuda`, ...).
    pub backend: RString,
    /// The device (a CPU's model name, a GPU's name).
    pub device: RString,
    /// CPU threads used.
    pub threads: u32,
}

/// Work done by a call, counted by the runtime. Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Tokens run through the model as prompt (each shared prefix counted once).
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub generated_tokens: u64,
}

impl std::ops::Add for Counters {
    type Output = Counters;

    fn add(self, other: Counters) -> Counters {
        Counters {
            prompt_tokens: self.prompt_tokens + other.prompt_tokens,
            generated_tokens: self.generated_tokens + other.generated_tokens,
        }
    }
}

impl std::ops::AddAssign for Counters {
    fn add_assign(&mut self, other: Counters) {
        *self = *self + other;
    }
}

/// One candidate of a task, as the runtime scored it. Added in ABI 0.1.
///
/// `tokens` is the tokenization of `context + continuation` as one string (special tokens such
/// as BOS added as the model's vocabulary says; special-token text inside the data never parsed
/// as special). `continuation_start` is the index of the first continuation token, found by
/// lm-evaluation-harness's rule: whitespace at the end of the context is moved to the start of
/// the continuation, and the continuation's tokens are those of the whole string past the
/// context's token count. `logprobs[i]` is `log p(tokens[first_scored + i] | tokens[..first_scored + i])`
/// from a full log-softmax, and `greedy[i]` says whether that token was the argmax.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct ScoredCandidate {
    /// All tokens of context and continuation.
    pub tokens: RVec<i32>,
    /// Index in `tokens` of the first continuation token.
    pub continuation_start: u32,
    /// Index in `tokens` of the first token with a log-probability: the smaller of the task's
    /// common prefix length and `continuation_start`, and at least 1.
    pub first_scored: u32,
    /// Log-probability of each token from `first_scored` to the end.
    pub logprobs: RVec<f32>,
    /// Whether each of those tokens was the model's greedy choice.
    pub greedy: RVec<bool>,
}

/// The scores of one task's candidates, in the task's candidate order. Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct ScoredTask {
    /// Number of leading tokens all candidates share.
    pub common_prefix: u32,
    /// One entry per candidate.
    pub candidates: RVec<ScoredCandidate>,
}

/// The result of [`Model::evaluate`]. Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// One entry per task, in the order given.
    pub tasks: RVec<ScoredTask>,
    /// Work done by the call.
    pub counters: Counters,
}

/// A greedy generation request. Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct GenerateRequest {
    /// The prompt, used as it is (no chat template applied).
    pub prompt: RString,
    /// The most tokens to generate.
    pub max_tokens: u32,
    /// Generation stops once the text ends with one of these (the stop string is kept out of
    /// the returned text).
    pub stop: RVec<RString>,
}

/// The result of [`Model::generate`]. Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct Generation {
    /// The generated text.
    pub text: RString,
    /// Why generation ended: `max_tokens`, `stop`, or `eog` (the model's end of generation).
    pub finish: RString,
    /// Seconds from the call to the first generated token (prompt processing included).
    pub time_to_first_token_s: f64,
    /// Generated tokens per second after the first one.
    pub decode_tokens_per_s: f64,
    /// Work done by the call.
    pub counters: Counters,
}

/// A generation request that [`Model::generate_timed`] answers with the time of every token.
/// Added in ABI 0.1.2.
///
/// Its prompt is either text (tokenized with special tokens, as [`Model::generate`] does) or
/// token ids used as they are, so that llama-bench's shapes (a prompt of exactly `pp` tokens
/// after `d` tokens already in context) can be asked for on any runtime.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Default)]
pub struct TimedRequest {
    /// The prompt as text; used when `prompt_tokens` is empty.
    pub prompt: RString,
    /// The prompt as token ids, used as they are (nothing added).
    pub prompt_tokens: RVec<i32>,
    /// Tokens put into the context before the prompt, not timed (llama-bench's depth `d`). They
    /// are used as they are: a leading BOS, if wanted, is the first of them.
    pub depth_tokens: RVec<i32>,
    /// The most tokens to generate, the first one (chosen from the prompt's logits) included.
    pub max_tokens: u32,
    /// Keep generating past the model's end-of-generation token until `max_tokens`
    /// (llama-bench's generation test does not stop either).
    pub ignore_eog: bool,
    /// Generation stops once the text ends with one of these (kept out of the returned text).
    pub stop: RVec<RString>,
}

/// The result of [`Model::generate_timed`]. Added in ABI 0.1.2.
///
/// Times are seconds since the runtime began handling the call, on the process's monotonic
/// clock; the host adds the time it made the call to put them on its own clock.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct TimedGeneration {
    /// The generation as [`Model::generate`] reports it (its TTFT counts from `prefill_start_s`).
    pub generation: Generation,
    /// Prompt tokens decoded in the timed prefill (the depth tokens are not among them).
    pub prompt_tokens: u32,
    /// When the prompt's decoding began (after the depth tokens were in the context).
    pub prefill_start_s: f64,
    /// When each token was chosen, in order; the first marks the end of the prefill, each later
    /// one the end of one decode step. An end-of-generation token that ended the call is
    /// included (it was computed) although it is not in the text.
    pub token_times_s: RVec<f64>,
}

/// An inference runtime. Added in ABI 0.1.
#[sabi_trait]
pub trait Runtime: Send {
    /// What this runtime offers.
    fn info(&self) -> RuntimeInfo;

    /// Loads a model. The runtime refuses, with an error naming the file, a model it cannot read.
    #[sabi(last_prefix_field)]
    fn load_model(&mut self, spec: &ModelSpec) -> RResult<ModelBox, AbiError>;
}

/// A model loaded by a [`Runtime`]. Dropping it frees it. Added in ABI 0.1.
#[sabi_trait]
pub trait Model: Send {
    /// What the model is.
    fn info(&self) -> ModelInfo;

    /// Tokenizes `text`; with `add_special`, special tokens (BOS) are added as the vocabulary
    /// says. Special-token text inside `text` is never parsed as special.
    fn tokenize(&self, text: RStr<'_>, add_special: bool) -> RResult<RVec<i32>, AbiError>;

    /// Scores every candidate of every task (see [`ScoredCandidate`]).
    fn evaluate(&mut self, tasks: RSlice<'_, Task>) -> RResult<Evaluation, AbiError>;

    /// Generates greedily.
    #[sabi(last_prefix_field)]
    fn generate(&mut self, request: &GenerateRequest) -> RResult<Generation, AbiError>;

    /// Generates greedily and reports when every token was chosen (see [`TimedGeneration`]).
    /// Added in ABI 0.1.2: a plugin built against an earlier ABI lacks it, and the call answers
    /// with [`crate::ErrorCode::UNSUPPORTED`].
    fn generate_timed(&mut self, request: &TimedRequest) -> RResult<TimedGeneration, AbiError> {
        let _ = request;
        RResult::RErr(AbiError::unsupported(
            "this runtime plugin was built before joulebench-abi 0.1.2 and cannot report token \
             times: rebuild it to run generation experiments",
        ))
    }
}
