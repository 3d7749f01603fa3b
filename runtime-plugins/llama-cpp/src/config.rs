//! The plugin's configuration and a model's per-model options.

use serde::Deserialize;

use joulebench_abi::AbiError;

/// The context size used when neither the configuration nor the model's options give one.
pub const DEFAULT_CONTEXT_SIZE: u32 = 2048;

/// The runtime's configuration: the manifest's `config` table for this plugin.
///
/// Every key is optional:
///
/// | key | default | meaning |
/// |---|---|---|
/// | `threads` | available parallelism | CPU threads for prompt processing and generation |
/// | `context_size` | 2048 | tokens the KV cache holds; a decode group of tasks must fit in it |
/// | `batch_size` | `context_size` | tokens per `llama_decode` call (a packed group of tasks is one call when it fits) |
/// | `ubatch_size` | 63 | tokens per compute step when scoring; kept under 64 (see below) |
/// | `prefill_ubatch_size` | 512 | tokens per compute step when a generation's prompt is processed (llama.cpp's own default) |
/// | `max_sequences` | 256 | sequence ids per packed group (llama.cpp's limit is 256; at most `batch_size`) |
/// | `pack_tasks` | 1 for `cpu`, 256 for `cuda` | tasks decoded together in one group (see below) |
/// | `gpu_layers` | 0 for `cpu`, all for `cuda` | layers offloaded to the GPU (needs the `cuda` build) |
/// | `backend` | `cpu` | `cpu` or `cuda` |
/// | `seed` | 0 | recorded for sampling; greedy decoding does not use it |
/// | `verbose` | false | let llama.cpp log to stderr |
///
/// Why `ubatch_size` is small: llama.cpp's CPU flash attention takes a tiled f32 kernel for
/// steps of 64 query rows or more and a row-by-row kernel with f16 accumulation below that. The
/// two differ by up to 0.2 in a log-probability on SmolLM2-135M, so a score would depend on how
/// many tokens happened to share its step (its task's other candidates, and other tasks when
/// packed), and would no longer equal the candidate's score decoded alone: steps of 512 were 6 %
/// faster on 200 HellaSwag tasks (11 % on 400) and moved acc_norm from 42.00 % to 41.00 % (on
/// 400, from 42.75 % to 43.00 %); neither kernel is closer to an exact f32 forward pass. Below 64 every scored row takes the
/// row-by-row kernel, the same one plain token-by-token decoding takes; 63, the largest such
/// step, is 6.5 % faster on HellaSwag than 48 with bit-identical scores. A generation's prompt
/// is not scored, so it takes llama.cpp's default steps of 512, a fifth to a third faster on a
/// 512-token prompt than steps of 48; the context is made for the larger of the two and scoring
/// splits its calls itself.
///
/// Why one task per group on the CPU: every query row's attention reads every cell the group
/// put in the KV cache (other tasks' cells are masked, not skipped), so packing eight HellaSwag
/// tasks made attention cost per token about five times that of one task alone. llama.cpp's
/// own HellaSwag scorer decodes one task at a time for the same reason. A GPU, which needs large
/// steps to be busy, packs. A candidate's scores do not depend on the packing either way.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// CPU threads.
    pub threads: Option<u32>,
    /// KV cache size in tokens.
    pub context_size: Option<u32>,
    /// Tokens per decode call.
    pub batch_size: Option<u32>,
    /// Tokens per compute step when scoring.
    pub ubatch_size: Option<u32>,
    /// Tokens per compute step when a generation's prompt is processed.
    pub prefill_ubatch_size: Option<u32>,
    /// Sequence ids per packed group.
    pub max_sequences: Option<u32>,
    /// Tasks per decode group.
    pub pack_tasks: Option<u32>,
    /// Layers offloaded to the GPU.
    pub gpu_layers: Option<u32>,
    /// `cpu` or `cuda`.
    pub backend: Option<String>,
    /// Seed for sampling.
    pub seed: Option<u32>,
    /// Let llama.cpp log to stderr.
    #[serde(default)]
    pub verbose: bool,
}

/// Per-model options (`ModelSpec.options`): they override the runtime's configuration.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelOptions {
    /// CPU threads.
    pub threads: Option<u32>,
    /// KV cache size in tokens.
    pub context_size: Option<u32>,
    /// Tokens per decode call.
    pub batch_size: Option<u32>,
    /// Tokens per compute step when scoring.
    pub ubatch_size: Option<u32>,
    /// Tokens per compute step when a generation's prompt is processed.
    pub prefill_ubatch_size: Option<u32>,
    /// Layers offloaded to the GPU.
    pub gpu_layers: Option<u32>,
}

/// Which compute backend runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// llama.cpp's CPU backend.
    Cpu,
    /// llama.cpp's CUDA backend (builds with the `cuda` feature).
    Cuda,
}

impl Backend {
    /// The backend's name in configurations and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Cuda => "cuda",
        }
    }
}

/// The backends this build can run.
pub fn available_backends() -> Vec<&'static str> {
    if cfg!(feature = "cuda") { vec!["cpu", "cuda"] } else { vec!["cpu"] }
}

/// Everything a model load needs, with defaults filled in and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// CPU threads.
    pub threads: u32,
    /// KV cache size in tokens.
    pub context_size: u32,
    /// Tokens per decode call.
    pub batch_size: u32,
    /// Tokens per compute step when scoring.
    pub ubatch_size: u32,
    /// Tokens per compute step when a generation's prompt is processed.
    pub prefill_ubatch_size: u32,
    /// Sequence ids per packed group.
    pub max_sequences: u32,
    /// Tasks per decode group.
    pub pack_tasks: u32,
    /// Layers offloaded to the GPU.
    pub gpu_layers: u32,
    /// The backend.
    pub backend: Backend,
    /// Seed for sampling.
    pub seed: u32,
    /// Let llama.cpp log to stderr.
    pub verbose: bool,
}

impl Settings {
    /// The context's largest compute step: scoring's and a prefill's, whichever is larger
    /// (scoring splits its own calls into steps of `ubatch_size`).
    pub fn context_ubatch(&self) -> u32 {
        self.ubatch_size.max(self.prefill_ubatch_size)
    }
}

/// Parses the runtime's configuration.
pub fn parse_config(text: &str) -> Result<Config, AbiError> {
    toml::from_str(text)
        .map_err(|e| AbiError::config(format!("llama-cpp runtime config: {}", toml_message(&e))))
}

/// Parses a model's options; `model` names the model in messages.
pub fn parse_options(text: &str, model: &str) -> Result<ModelOptions, AbiError> {
    toml::from_str(text)
        .map_err(|e| AbiError::config(format!("options of model `{model}`: {}", toml_message(&e))))
}

fn toml_message(e: &toml::de::Error) -> String {
    e.message().trim_end_matches('.').to_string()
        + &e.span().map(|s| format!(" (at byte {})", s.start)).unwrap_or_default()
}

/// Combines the configuration and a model's options into checked settings.
pub fn settings(config: &Config, options: &ModelOptions) -> Result<Settings, AbiError> {
    let backend = match config.backend.as_deref().unwrap_or("cpu") {
        "cpu" => Backend::Cpu,
        "cuda" => Backend::Cuda,
        other => {
            return Err(AbiError::config(format!(
                "llama-cpp runtime config: key `backend`: unknown backend `{other}` (expected `cpu` or `cuda`)"
            )));
        }
    };
    if backend == Backend::Cuda && !cfg!(feature = "cuda") {
        return Err(AbiError::unsupported(
            "llama-cpp runtime config: key `backend`: `cuda` needs the plugin built with the `cuda` feature (`cargo xtask build-plugins --features cuda`)",
        ));
    }
    let threads = options.threads.or(config.threads).unwrap_or_else(|| {
        std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1)
    });
    let context_size = options.context_size.or(config.context_size).unwrap_or(DEFAULT_CONTEXT_SIZE);
    let batch_size = options.batch_size.or(config.batch_size).unwrap_or(context_size);
    let ubatch_size = options.ubatch_size.or(config.ubatch_size).unwrap_or(63).min(batch_size);
    let prefill_ubatch_size =
        options.prefill_ubatch_size.or(config.prefill_ubatch_size).unwrap_or(512).min(batch_size);
    let max_sequences = config.max_sequences.unwrap_or(256);
    let pack_tasks = config.pack_tasks.unwrap_or(if backend == Backend::Cuda { 256 } else { 1 });
    let default_layers = if backend == Backend::Cuda { u32::MAX } else { 0 };
    let gpu_layers = options.gpu_layers.or(config.gpu_layers).unwrap_or(default_layers);
    let checks: [(&str, u32, u32, u32); 7] = [
        ("threads", threads, 1, 1024),
        ("context_size", context_size, 8, 1 << 20),
        ("batch_size", batch_size, 1, 1 << 20),
        ("ubatch_size", ubatch_size, 1, 1 << 20),
        ("prefill_ubatch_size", prefill_ubatch_size, 1, 1 << 20),
        ("max_sequences", max_sequences, 1, 256),
        ("pack_tasks", pack_tasks, 1, 256),
    ];
    for (key, value, lo, hi) in checks {
        if !(lo..=hi).contains(&value) {
            return Err(AbiError::config(format!(
                "llama-cpp runtime config: key `{key}`: {value} is outside {lo}..={hi}"
            )));
        }
    }
    if gpu_layers > 0 && backend == Backend::Cpu {
        let why = if cfg!(feature = "cuda") {
            "set `backend = \"cuda\"` to offload layers"
        } else {
            "offloading needs the plugin built with the `cuda` feature and `backend = \"cuda\"`"
        };
        return Err(AbiError::config(format!(
            "llama-cpp runtime config: key `gpu_layers`: {gpu_layers} layers requested on the cpu backend; {why}"
        )));
    }
    Ok(Settings {
        threads,
        context_size,
        batch_size: batch_size.min(context_size),
        ubatch_size,
        prefill_ubatch_size: prefill_ubatch_size.min(context_size),
        // llama.cpp reserves one output row per sequence and aborts when that exceeds the batch
        max_sequences: max_sequences.min(batch_size.min(context_size)),
        pack_tasks,
        gpu_layers,
        backend,
        seed: config.seed.unwrap_or(0),
        verbose: config.verbose,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_in() {
        let c = parse_config("").unwrap();
        let s = settings(&c, &ModelOptions::default()).unwrap();
        assert_eq!(s.context_size, 2048);
        assert_eq!(s.batch_size, 2048);
        assert_eq!(s.ubatch_size, 63);
        assert_eq!(s.prefill_ubatch_size, 512);
        assert_eq!(s.context_ubatch(), 512);
        assert_eq!(s.gpu_layers, 0);
        assert_eq!(s.backend, Backend::Cpu);
        assert!(s.threads >= 1);
    }

    #[test]
    fn options_override_config() {
        let c =
            parse_config("threads = 2\ncontext_size = 1024\nbatch_size = 256\nseed = 7").unwrap();
        let o = parse_options("context_size = 512", "m").unwrap();
        let s = settings(&c, &o).unwrap();
        assert_eq!((s.threads, s.context_size, s.batch_size, s.seed), (2, 512, 256, 7));
        // the batch never exceeds the context, nor a step the batch
        let o = parse_options("context_size = 128", "m").unwrap();
        let s = settings(&c, &o).unwrap();
        assert_eq!((s.batch_size, s.ubatch_size, s.prefill_ubatch_size), (128, 63, 128));
        assert_eq!(s.context_ubatch(), 128);
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let e = parse_config("context = 5").unwrap_err();
        assert_eq!(e.code, joulebench_abi::ErrorCode::INVALID_CONFIG);
        assert!(e.message.contains("context"), "{}", e.message);
        let e = parse_options("seed = 1", "smol").unwrap_err();
        assert!(e.message.contains("smol") && e.message.contains("seed"), "{}", e.message);
    }

    #[test]
    fn bad_values_are_refused() {
        let c = parse_config("backend = \"metal\"").unwrap();
        let e = settings(&c, &ModelOptions::default()).unwrap_err();
        assert!(e.message.contains("metal"), "{}", e.message);
        let c = parse_config("threads = 0").unwrap();
        assert!(settings(&c, &ModelOptions::default()).unwrap_err().message.contains("threads"));
        let c = parse_config("gpu_layers = 10").unwrap();
        let e = settings(&c, &ModelOptions::default()).unwrap_err();
        assert!(e.message.contains("gpu_layers"), "{}", e.message);
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_needs_the_feature() {
        let c = parse_config("backend = \"cuda\"").unwrap();
        let e = settings(&c, &ModelOptions::default()).unwrap_err();
        assert!(e.message.contains("cuda` feature"), "{}", e.message);
    }
}
