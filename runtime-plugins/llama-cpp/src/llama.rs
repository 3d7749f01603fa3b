//! The llama.cpp side: the process-wide backend, its log, and a loaded model with its context.

use std::collections::VecDeque;
use std::ffi::{CStr, c_char, c_void};
use std::io::Write;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::{LlamaBackendDeviceType, list_llama_ggml_backend_devices};

use joulebench_abi::{AbiError, ModelInfo};

use crate::config::{Backend, Settings};
use crate::file;

static BACKEND: OnceLock<LlamaBackend> = OnceLock::new();
static VERBOSE: AtomicBool = AtomicBool::new(false);
/// The last warnings and errors llama.cpp logged, for error messages.
static RECENT: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());

/// Lets llama.cpp's log through to stderr (`verbose = true`) or keeps it quiet.
pub fn set_verbose(verbose: bool) {
    VERBOSE.store(verbose, Ordering::Relaxed);
}

unsafe extern "C" fn log_callback(
    level: llama_cpp_sys_2::ggml_log_level,
    text: *const c_char,
    _user: *mut c_void,
) {
    if text.is_null() {
        return;
    }
    // SAFETY: llama.cpp passes a NUL-terminated string that lives for the call.
    let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    if VERBOSE.load(Ordering::Relaxed) {
        let _ = std::io::stderr().write_all(text.as_bytes());
    }
    let Ok(mut recent) = RECENT.lock() else { return };
    if level == llama_cpp_sys_2::GGML_LOG_LEVEL_CONT {
        if let Some(last) = recent.back_mut() {
            last.push_str(&text);
        }
    } else if level == llama_cpp_sys_2::GGML_LOG_LEVEL_ERROR
        || level == llama_cpp_sys_2::GGML_LOG_LEVEL_WARN
    {
        if recent.len() == 16 {
            recent.pop_front();
        }
        recent.push_back(text.into_owned());
    }
}

fn take_recent_log() -> String {
    let lines: Vec<String> = RECENT
        .lock()
        .map(|mut r| r.drain(..).map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect())
        .unwrap_or_default();
    lines.join("; ")
}

/// The llama.cpp backend, initialized once for the process (the plugin is its own library, so
/// this is its own copy of the bindings' state).
pub(crate) fn backend() -> &'static LlamaBackend {
    BACKEND.get_or_init(|| {
        // SAFETY: the callback is a plain function that never unwinds.
        unsafe { llama_cpp_sys_2::llama_log_set(Some(log_callback), std::ptr::null_mut()) };
        match LlamaBackend::init() {
            Ok(b) => b,
            // Only another copy of the bindings in this process initializing first gets here;
            // the backend is then up, and our handle must never free it.
            Err(_) => {
                let b = LlamaBackend {};
                std::mem::forget(LlamaBackend {});
                b
            }
        }
    })
}

/// llama.cpp's system info line (the CPU features its kernels were built with, such as
/// `AVX2 = 1`).
pub fn system_info() -> String {
    backend();
    // SAFETY: returns a pointer to a static NUL-terminated buffer.
    let p = unsafe { llama_cpp_sys_2::llama_print_system_info() };
    if p.is_null() {
        return String::new();
    }
    // SAFETY: as above.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// A loaded model and the context that runs it.
pub struct LlamaCppModel {
    // Declared before `model`: the context must be freed first.
    pub(crate) ctx: LlamaContext<'static>,
    pub(crate) model: LlamaModel,
    pub(crate) info: ModelInfo,
    pub(crate) settings: Settings,
    pub(crate) n_vocab: usize,
}

impl std::fmt::Debug for LlamaCppModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlamaCppModel").field("info", &self.info).finish_non_exhaustive()
    }
}

impl LlamaCppModel {
    /// Loads the GGUF file at `path` with `settings`.
    pub fn load(path: &Path, settings: &Settings) -> Result<Self, AbiError> {
        let shown = path.display().to_string();
        let header = file::check_gguf(path)?;
        let backend = backend();
        let _ = take_recent_log();

        let mut model_params = LlamaModelParams::default();
        if settings.backend == Backend::Cuda {
            model_params = model_params.with_n_gpu_layers(settings.gpu_layers);
        } else {
            model_params = model_params.with_n_gpu_layers(0);
        }
        let model = LlamaModel::load_from_file(backend, path, &model_params).map_err(|e| {
            let log = take_recent_log();
            let why = if log.is_empty() { e.to_string() } else { log };
            AbiError::data(format!("{shown}: llama.cpp could not load the model: {why}"))
        })?;

        let threads = settings.threads as i32;
        let mut ctx_params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(settings.context_size))
            .with_n_batch(settings.batch_size)
            .with_n_ubatch(settings.context_ubatch())
            .with_n_seq_max(settings.max_sequences)
            .with_kv_unified(true)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        if settings.backend == Backend::Cpu {
            ctx_params = ctx_params.with_offload_kqv(false).with_op_offload(false);
        }
        let ctx = model.new_context(backend, ctx_params).map_err(|e| {
            let log = take_recent_log();
            let why = if log.is_empty() { e.to_string() } else { log };
            AbiError::backend(format!("{shown}: llama.cpp could not create a context: {why}"))
        })?;
        // SAFETY: the context only borrows the model in its type (a PhantomData); the model is
        // kept beside it in the same struct and freed after it (field order).
        let ctx: LlamaContext<'static> = unsafe { std::mem::transmute(ctx) };

        let meta = |key: &str| model.meta_val_str(key).ok().filter(|v| !v.is_empty());
        let name = meta("general.name").unwrap_or_else(|| {
            path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
        });
        let architecture = meta("general.architecture").unwrap_or_else(|| "unknown".into());
        let quantization = match meta("general.file_type").and_then(|v| v.parse::<u32>().ok()) {
            Some(ftype) => joulebench_gguf::file_type_name(ftype)
                .map(str::to_string)
                .unwrap_or_else(|| format!("file type {ftype}")),
            None => "unknown".to_string(),
        };
        let sha256 = joulebench_gguf::sha256_cached(path).map_err(|e| AbiError::io(&shown, &e))?;
        let device = device_name(settings.backend);
        let n_vocab = usize::try_from(model.n_vocab()).unwrap_or(0);
        let info = ModelInfo {
            name: name.into(),
            path: shown.clone().into(),
            architecture: architecture.into(),
            parameters: model.n_params(),
            quantization: quantization.into(),
            file_size: header.file_size,
            sha256: sha256.into(),
            context_size: ctx.n_ctx(),
            backend: settings.backend.as_str().into(),
            device: device.into(),
            threads: settings.threads,
        };
        Ok(Self { ctx, model, info, settings: settings.clone(), n_vocab })
    }

    /// What the model is.
    pub fn model_info(&self) -> &ModelInfo {
        &self.info
    }

    /// The settings the model was loaded with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Tokenizes `text`; with `add_special`, BOS is added as the vocabulary says. Special-token
    /// text inside `text` is never parsed as special.
    pub fn tokens(&self, text: &str, add_special: bool) -> Vec<i32> {
        self.model
            .vocab()
            .tokenize(text.as_bytes(), add_special, false)
            .into_iter()
            .map(|t| t.0)
            .collect()
    }

    /// The vocabulary size (the length of a logits row).
    pub fn n_vocab(&self) -> usize {
        self.n_vocab
    }
}

fn device_name(backend: Backend) -> String {
    let wanted = match backend {
        Backend::Cpu => &[LlamaBackendDeviceType::Cpu][..],
        Backend::Cuda => &[LlamaBackendDeviceType::Gpu, LlamaBackendDeviceType::IntegratedGpu][..],
    };
    let devices = list_llama_ggml_backend_devices();
    devices
        .iter()
        .find(|d| wanted.contains(&d.device_type))
        .map(|d| {
            if d.description.is_empty() { d.name.clone() } else { d.description.trim().to_string() }
        })
        .unwrap_or_else(|| "unknown".into())
}

pub(crate) fn decode_error(e: llama_cpp_2::DecodeError, tokens: usize, n_ctx: u32) -> AbiError {
    let log = take_recent_log();
    let log = if log.is_empty() { String::new() } else { format!(" ({log})") };
    AbiError::backend(format!(
        "llama_decode failed on {tokens} tokens (context size {n_ctx}): {e}{log}"
    ))
}
