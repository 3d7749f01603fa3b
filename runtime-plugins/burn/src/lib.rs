//! joulebench's burn runtime plugin: GGUF models (Llama/SmolLM2 and Gemma 3) run on burn tensors.
//!
//! Why a second runtime: joulebench compares engines on the same boards, and burn is a pure-Rust
//! one whose CPU backend (Flex) needs no C++ toolchain and whose GPU backends (CUDA, wgpu) come
//! from the same model code. burn has no GGUF import, so the plugin reads GGUF itself
//! (`joulebench-gguf`), dequantizes every weight to `f32` at load time, builds the tokenizer from
//! the file's own vocabulary with llama.cpp's algorithms (so that both runtimes score the same
//! tokens), and runs the transformer written out on burn tensors ([`model`]).
//!
//! It answers the same contract as the llama.cpp plugin, through the same adapter and boundary
//! rule (`joulebench-runtime-common`'s [`Engine`] and [`LanguageModel`]):
//!
//! - **multiple-choice scoring** ([`BurnModel::evaluate_tasks`]): every candidate is tokenized as
//!   one string, its continuation boundary found by lm-evaluation-harness's rule; a task's common
//!   token prefix runs once, its key/value cache is shared by all candidates, whose remaining
//!   tokens run as one batch; the output layer and the full log-softmax are computed only at the
//!   positions that are scored;
//! - **greedy generation** ([`BurnModel::generate_text`]) with a token limit and stop strings.
//!
//! Configuration (TOML, every key optional): `backend` (`flex`, the default; `cuda` or `wgpu`
//! when built with those features), `device` (the GPU index), `threads` (the CPU threads of the
//! plugin's own rayon pool), `context_size` (the most tokens a task or a generation may take,
//! 2048 by default).
#![deny(missing_docs)]

pub mod model;
pub mod tokenizer;

use std::path::Path;

use burn::tensor::Device;
use joulebench_abi::{
    AbiError, Counters, Evaluation, GenerateRequest, Generation, ModelInfo, ModelSpec, RuntimeInfo,
    ScoredTask, Task, TimedGeneration, TimedRequest,
};
use joulebench_gguf::Gguf;
use joulebench_runtime_common::generate::{generate, generate_timed};
use joulebench_runtime_common::softmax::row_stats;
use joulebench_runtime_common::{Engine, LanguageModel, RuntimePlugin, Stepper};
use rayon::prelude::*;
use serde::Deserialize;

pub use model::{Arch, Hparams, KvCache, Transformer};
pub use tokenizer::Tokenizer;

/// The context size used when neither the configuration nor the model's options give one.
pub const DEFAULT_CONTEXT_SIZE: u32 = 2048;

/// The plugin's configuration.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `flex` (CPU, default), `cuda` or `wgpu`.
    pub backend: Option<String>,
    /// The GPU index for `cuda` and `wgpu`.
    pub device: Option<usize>,
    /// CPU threads (the plugin's rayon pool); all available by default.
    pub threads: Option<u32>,
    /// The most tokens one task or one generation may take.
    pub context_size: Option<u32>,
}

/// Per-model options (`ModelSpec.options`), overriding the configuration.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelOptions {
    /// The most tokens one task or one generation may take.
    pub context_size: Option<u32>,
}

/// The backends this build can run on.
pub fn available_backends() -> Vec<&'static str> {
    let mut v = vec!["flex"];
    if cfg!(feature = "cuda") {
        v.push("cuda");
    }
    if cfg!(feature = "wgpu") {
        v.push("wgpu");
    }
    v
}

/// The burn runtime.
pub struct BurnRuntime {
    config: Config,
    backend: String,
    pool: std::sync::Arc<rayon::ThreadPool>,
    threads: usize,
}

impl std::fmt::Debug for BurnRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BurnRuntime").field("config", &self.config).finish()
    }
}

/// Builds the runtime from its configuration (TOML; see [`Config`]), wrapped for the host; it
/// dereferences to the [`BurnRuntime`].
pub fn new(config: &str) -> Result<RuntimePlugin<BurnRuntime>, AbiError> {
    let config: Config = toml::from_str(config)
        .map_err(|e| AbiError::config(format!("burn runtime config: {}", e.message())))?;
    let backend = config.backend.clone().unwrap_or_else(|| "flex".into());
    if !available_backends().contains(&backend.as_str()) {
        return Err(AbiError::config(format!(
            "burn runtime config: key `backend`: {backend:?} is not available in this build (available: {})",
            available_backends().join(", ")
        )));
    }
    let threads = match config.threads {
        Some(0) => {
            return Err(AbiError::config("burn runtime config: key `threads` must be at least 1"));
        }
        Some(n) => n as usize,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    if config.context_size == Some(0) {
        return Err(AbiError::config("burn runtime config: key `context_size` must be at least 1"));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("joulebench-burn-{i}"))
        .build()
        .map_err(|e| AbiError::backend(format!("starting {threads} threads: {e}")))?;
    Ok(RuntimePlugin::new(BurnRuntime {
        config,
        backend,
        pool: std::sync::Arc::new(pool),
        threads,
    }))
}

fn device_for(backend: &str, index: usize) -> Result<(Device, String), AbiError> {
    match backend {
        "flex" => Ok((Device::flex(), cpu_name())),
        #[cfg(feature = "cuda")]
        "cuda" => Ok((Device::cuda(index), format!("cuda:{index}"))),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok((
            Device::wgpu(burn::tensor::DeviceKind::DiscreteGpu(index)),
            format!("wgpu:discrete-gpu:{index}"),
        )),
        other => {
            let _ = index;
            Err(AbiError::config(format!(
                "burn runtime config: key `backend`: {other:?} is not available"
            )))
        }
    }
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

fn gguf_error(e: joulebench_gguf::GgufError) -> AbiError {
    match e.io_kind {
        Some(kind) => AbiError::io(e.path.display(), &std::io::Error::new(kind, e.message)),
        None => AbiError::data(e.to_string()),
    }
}

impl BurnRuntime {
    /// Loads the model `spec` names, returning the concrete type.
    pub fn load(&self, spec: &ModelSpec) -> Result<BurnModel, AbiError> {
        let options: ModelOptions = toml::from_str(spec.options.as_str()).map_err(|e| {
            AbiError::config(format!("options of model `{}`: {}", spec.id, e.message()))
        })?;
        let path = Path::new(spec.path.as_str());
        let (device, device_name) = device_for(&self.backend, self.config.device.unwrap_or(0))?;
        let pool = self.pool.clone();
        let g = Gguf::open(path).map_err(gguf_error)?;
        let tokenizer = Tokenizer::from_gguf(&g).map_err(AbiError::data)?;
        let transformer =
            pool.install(|| Transformer::load(&g, &device)).map_err(AbiError::data)?;
        if tokenizer.vocab_size() != transformer.hp.vocab {
            return Err(AbiError::data(format!(
                "{}: vocabulary and embedding sizes differ",
                path.display()
            )));
        }
        let context = options
            .context_size
            .or(self.config.context_size)
            .unwrap_or(DEFAULT_CONTEXT_SIZE)
            .min(transformer.hp.context_length as u32);
        let file_type = g.get("general.file_type").and_then(joulebench_gguf::Value::as_u64);
        let quantization = file_type
            .and_then(|t| joulebench_gguf::file_type_name(t as u32))
            .map_or_else(|| "unknown".to_string(), str::to_string);
        let name = g
            .get("general.name")
            .and_then(joulebench_gguf::Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| {
                path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
            });
        let info = ModelInfo {
            name: name.into(),
            path: spec.path.clone(),
            architecture: g.architecture().map_err(gguf_error)?.into(),
            parameters: g.parameter_count(),
            quantization: quantization.into(),
            file_size: g.file_size,
            sha256: joulebench_gguf::sha256_cached(path)
                .map_err(|e| AbiError::io(path.display(), &e))?
                .into(),
            context_size: context,
            backend: self.backend.clone().into(),
            device: device_name.into(),
            threads: self.threads as u32,
        };
        Ok(BurnModel { info, tokenizer, transformer, pool })
    }
}

impl Engine for BurnRuntime {
    type Model = BurnModel;

    fn info(&self) -> RuntimeInfo {
        RuntimeInfo {
            name: "burn".into(),
            engine_version: "burn 0.22.1".into(),
            backends: available_backends().into_iter().map(Into::into).collect(),
            backend: self.backend.clone().into(),
        }
    }

    fn load(&mut self, spec: &ModelSpec) -> Result<BurnModel, AbiError> {
        BurnRuntime::load(self, spec)
    }
}

/// A model loaded by the burn runtime.
pub struct BurnModel {
    info: ModelInfo,
    tokenizer: Tokenizer,
    transformer: Transformer,
    pool: std::sync::Arc<rayon::ThreadPool>,
}

/// Token ids as the transformer takes them.
fn ids(tokens: &[i32]) -> Vec<u32> {
    tokens.iter().map(|&t| t as u32).collect()
}

/// `log p(token)` and whether `token` is the first argmax of `row`.
fn score_row(row: &[f32], token: usize) -> (f32, bool) {
    let stats = row_stats(row);
    (stats.logprob(row, token), stats.is_greedy(row, token))
}

impl BurnModel {
    /// What the model is.
    pub fn model_info(&self) -> &ModelInfo {
        &self.info
    }

    /// Tokenizes `text` (see [`LanguageModel::tokenize`]).
    pub fn tokens(&self, text: &str, add_special: bool) -> Vec<i32> {
        self.tokenizer.encode(text, add_special).into_iter().map(|t| t as i32).collect()
    }

    /// Scores every candidate of every task (see [`LanguageModel::evaluate`]).
    pub fn evaluate_tasks(&mut self, tasks: &[Task]) -> Result<Evaluation, AbiError> {
        let pool = self.pool.clone();
        pool.install(|| {
            let mut scored = Vec::with_capacity(tasks.len());
            let mut counters = Counters::default();
            for task in tasks {
                let (s, n) = self.score_task(task)?;
                counters.prompt_tokens += n as u64;
                scored.push(s);
            }
            Ok(Evaluation { tasks: scored.into(), counters })
        })
    }

    fn score_task(&self, task: &Task) -> Result<(ScoredTask, usize), AbiError> {
        let prepared = self.prepare(task)?;
        let (c, cands) = (prepared.common_prefix, &prepared.candidates);
        let cells = prepared.cells();
        let longest = cands.iter().map(|k| k.tokens.len()).max().unwrap_or(0);
        if longest > self.info.context_size as usize {
            return Err(AbiError::unsupported(format!(
                "task `{}` needs {longest} tokens, more than the context size {}: raise `context_size`",
                task.id, self.info.context_size
            )));
        }
        let vocab = self.transformer.hp.vocab;
        let backend = |e: String| AbiError::backend(format!("task `{}`: {e}", task.id));
        // The prefix runs once; logits at its positions from the earliest first_scored - 1 on.
        let min_fs = cands.iter().map(|k| k.first_scored).min().unwrap_or(1);
        let (prefix_cache, prefix_logits, prefix_from) = if c > 0 {
            let from = (min_fs - 1).min(c - 1);
            let out: Vec<usize> = (from..c).collect();
            let (cache, logits) = self
                .transformer
                .forward(&[ids(&cands[0].tokens[..c])], None, &out)
                .map_err(backend)?;
            (Some(cache), logits, from)
        } else {
            (None, Vec::new(), 0)
        };
        // Each candidate's tokens after the prefix, except the last (whose logits nobody needs).
        let batch: Vec<usize> =
            (0..cands.len()).filter(|&k| cands[k].tokens.len() > c + 1).collect();
        let s_len = batch.iter().map(|&k| cands[k].tokens.len() - 1 - c).max().unwrap_or(0);
        let mut rows = Vec::with_capacity(batch.len());
        let mut out_rows = Vec::new();
        for (bi, &k) in batch.iter().enumerate() {
            let t = &cands[k].tokens;
            let mut row = ids(&t[c..t.len() - 1]);
            let real = row.len();
            row.resize(s_len, 0);
            rows.push(row);
            out_rows.extend((0..real).map(|s| bi * s_len + s));
        }
        let suffix_logits = if rows.is_empty() {
            Vec::new()
        } else {
            self.transformer.forward(&rows, prefix_cache.as_ref(), &out_rows).map_err(backend)?.1
        };
        let mut suffix_index = vec![usize::MAX; cands.len()];
        let mut offset = 0;
        for &k in &batch {
            suffix_index[k] = offset;
            offset += cands[k].tokens.len() - 1 - c;
        }
        // (candidate, token index) of every scored token, then all rows scored in parallel.
        let targets: Vec<(usize, usize)> = cands
            .iter()
            .enumerate()
            .flat_map(|(k, cand)| (cand.first_scored..cand.tokens.len()).map(move |t| (k, t)))
            .collect();
        let scores: Vec<(f32, bool)> = targets
            .par_iter()
            .map(|&(k, t)| {
                let p = t - 1;
                let row = if p < c {
                    let r = p - prefix_from;
                    &prefix_logits[r * vocab..(r + 1) * vocab]
                } else {
                    let r = suffix_index[k] + (p - c);
                    &suffix_logits[r * vocab..(r + 1) * vocab]
                };
                score_row(row, cands[k].tokens[t] as usize)
            })
            .collect();
        if scores.iter().any(|(lp, _)| lp.is_nan()) {
            return Err(backend("the model returned NaN logits".into()));
        }
        let mut scores = scores.into_iter();
        let mut candidates = Vec::with_capacity(cands.len());
        for cand in cands {
            let (logprobs, greedy): (Vec<f32>, Vec<bool>) =
                scores.by_ref().take(cand.scored_len()).unzip();
            candidates.push(cand.to_scored(logprobs, greedy));
        }
        Ok((ScoredTask { common_prefix: c as u32, candidates: candidates.into() }, cells))
    }

    /// Generates greedily (see [`LanguageModel::generate`]).
    pub fn generate_text(&mut self, request: &GenerateRequest) -> Result<Generation, AbiError> {
        let pool = self.pool.clone();
        pool.install(|| generate(&mut BurnSteps { model: self, cache: None }, request))
    }

    /// Generates greedily and times every token (see [`LanguageModel::generate_timed`]).
    pub fn generate_tokens(&mut self, request: &TimedRequest) -> Result<TimedGeneration, AbiError> {
        let pool = self.pool.clone();
        pool.install(|| generate_timed(&mut BurnSteps { model: self, cache: None }, request))
    }
}

/// A model and the KV cache of one generation: burn's steps for runtime-common's loop.
struct BurnSteps<'a> {
    model: &'a BurnModel,
    cache: Option<KvCache>,
}

impl Stepper for BurnSteps<'_> {
    fn tokenize(&self, text: &str) -> Result<Vec<i32>, AbiError> {
        Ok(self.model.tokens(text, true))
    }

    fn context_size(&self) -> usize {
        self.model.info.context_size as usize
    }

    fn clear(&mut self) -> Result<(), AbiError> {
        self.cache = None;
        Ok(())
    }

    fn feed(&mut self, tokens: &[i32], pos: usize, want: bool) -> Result<Option<i32>, AbiError> {
        let held = self.cache.as_ref().map_or(0, |c| c.len);
        if held != pos {
            return Err(AbiError::backend(format!(
                "generate: tokens fed at position {pos} but the cache holds {held}"
            )));
        }
        let (cache, logits) = self
            .model
            .transformer
            .forward(&[ids(tokens)], self.cache.as_ref(), &[tokens.len() - 1])
            .map_err(|e| AbiError::backend(format!("generate: {e}")))?;
        self.cache = Some(cache);
        Ok(want.then(|| argmax(&logits) as i32))
    }

    fn is_eog(&self, token: i32) -> bool {
        self.model.tokenizer.is_eog(token as u32)
    }

    fn piece(&self, token: i32, bytes: &mut Vec<u8>) {
        self.model.tokenizer.decode_bytes(token as u32, bytes);
    }
}

fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate() {
        if x > row[best] {
            best = i;
        }
    }
    best
}

impl LanguageModel for BurnModel {
    fn info(&self) -> ModelInfo {
        self.info.clone()
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

#[allow(missing_docs)]
mod export {
    use super::new;
    joulebench_abi::export_runtime_plugin!(new);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_checked() {
        assert!(new("").is_ok());
        assert!(new("threads = 1\ncontext_size = 512").is_ok());
        let e = new("colour = 1").unwrap_err();
        assert!(e.message.contains("unknown field `colour`"), "{}", e.message);
        let e = new("backend = \"tpu\"").unwrap_err();
        assert!(e.message.contains("\"tpu\" is not available"), "{}", e.message);
        assert!(new("threads = 0").is_err());
    }

    #[test]
    fn row_scores() {
        // log-softmax of [0, ln 3] is [ln 1/4, ln 3/4].
        let row = [0.0, 3f32.ln()];
        let (lp, g) = score_row(&row, 1);
        assert!((lp - 0.75f32.ln()).abs() < 1e-6);
        assert!(g);
        let (lp, g) = score_row(&row, 0);
        assert!((lp - 0.25f32.ln()).abs() < 1e-6);
        assert!(!g);
    }
}
