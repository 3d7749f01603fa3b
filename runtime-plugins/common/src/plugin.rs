//! The ABI's [`Runtime`] and [`Model`] for any [`Engine`] and [`LanguageModel`]: runtimes differ
//! in how they load and run a model, not in how they answer the host.
//!
//! Every call the host makes runs inside a panic guard, because a panic that unwinds into the
//! host through the ABI's `extern "C"` functions aborts it. Methods that return a result turn a
//! panic into an error with [`ErrorCode::PANICKED`](joulebench_abi::ErrorCode::PANICKED). The
//! infallible `info()` methods cannot say "error", so a panic there returns an info value marked
//! by its name, `<plugin panicked: MESSAGE>` (see `joulebench_abi::panicked_name`), with every other field
//! empty or zero; the panic's message has also gone to stderr through the panic hook. Dropping a
//! runtime or a model is a call into the plugin too: a panic while dropping is caught and the
//! rest of the value is dropped as unwinding does.

use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::panic::{AssertUnwindSafe, catch_unwind};

use joulebench_abi::abi_stable::sabi_trait::TD_Opaque;
use joulebench_abi::abi_stable::std_types::{RResult, RSlice, RStr, RVec};
use joulebench_abi::{
    AbiError, Evaluation, GenerateRequest, Generation, Model, Model_TO, ModelBox, ModelInfo,
    ModelSpec, Runtime, RuntimeInfo, Task, TimedGeneration, TimedRequest, guard, guard_infallible,
    panicked_name,
};

use crate::boundary::{PreparedTask, prepare_task};

/// An inference engine: what a runtime plugin writes itself.
pub trait Engine: Send + 'static {
    /// The models it loads.
    type Model: LanguageModel;
    /// What this runtime offers.
    fn info(&self) -> RuntimeInfo;
    /// Loads a model; a model it cannot read is refused with an error naming the file.
    fn load(&mut self, spec: &ModelSpec) -> Result<Self::Model, AbiError>;
}

/// A loaded model: what a runtime plugin writes itself. See [`Model`] for what each method
/// promises.
pub trait LanguageModel: Send + 'static {
    /// What the model is.
    fn info(&self) -> ModelInfo;
    /// Tokenizes `text`, adding special tokens (BOS) as the vocabulary says when `add_special`;
    /// special-token text inside `text` is never parsed as special.
    fn tokenize(&self, text: &str, add_special: bool) -> Result<Vec<i32>, AbiError>;
    /// Scores every candidate of every task.
    fn evaluate(&mut self, tasks: &[Task]) -> Result<Evaluation, AbiError>;
    /// Generates greedily.
    fn generate(&mut self, request: &GenerateRequest) -> Result<Generation, AbiError>;
    /// Generates greedily and reports when every token was chosen (ABI 0.1.2). A runtime
    /// without it answers "unsupported".
    fn generate_timed(&mut self, request: &TimedRequest) -> Result<TimedGeneration, AbiError> {
        let _ = request;
        Err(AbiError::unsupported("this runtime does not report token times"))
    }

    /// A task's candidates tokenized with [`tokenize`](Self::tokenize), with their boundaries
    /// found by lm-evaluation-harness's rule ([`prepare_task`]).
    fn prepare(&self, task: &Task) -> Result<PreparedTask, AbiError> {
        prepare_task(task, |text, add_special| self.tokenize(text, add_special))
    }
}

/// Drops `value`, catching a panic from its destructor.
fn drop_guarded<T>(value: &mut ManuallyDrop<T>) {
    // SAFETY: only called from `Drop::drop` of the wrapper that owns `value`, which is never
    // used again.
    let _ = catch_unwind(AssertUnwindSafe(|| unsafe { ManuallyDrop::drop(value) }));
}

/// An [`Engine`] as the host sees it: [`Runtime`] behind panic guards. It dereferences to the
/// engine, so that in-process callers (tests, benchmarks) reach the engine's own methods.
pub struct RuntimePlugin<R>(ManuallyDrop<R>);

impl<R> RuntimePlugin<R> {
    /// Wraps `engine`.
    pub fn new(engine: R) -> Self {
        Self(ManuallyDrop::new(engine))
    }
}

impl<R: Engine> Runtime for RuntimePlugin<R> {
    fn info(&self) -> RuntimeInfo {
        guard_infallible(
            || self.0.info(),
            |e| RuntimeInfo {
                name: panicked_name(&e).into(),
                engine_version: "".into(),
                backends: RVec::new(),
                backend: "".into(),
            },
        )
    }

    fn load_model(&mut self, spec: &ModelSpec) -> RResult<ModelBox, AbiError> {
        guard(|| {
            let model = self.0.load(spec)?;
            Ok(Model_TO::from_value(ModelPlugin::new(model), TD_Opaque))
        })
    }
}

/// A [`LanguageModel`] as the host sees it: [`Model`] behind panic guards. It dereferences to
/// the model.
pub struct ModelPlugin<M>(ManuallyDrop<M>);

impl<M> ModelPlugin<M> {
    /// Wraps `model`.
    pub fn new(model: M) -> Self {
        Self(ManuallyDrop::new(model))
    }
}

impl<M: LanguageModel> Model for ModelPlugin<M> {
    fn info(&self) -> ModelInfo {
        guard_infallible(
            || self.0.info(),
            |e| ModelInfo {
                name: panicked_name(&e).into(),
                path: "".into(),
                architecture: "".into(),
                parameters: 0,
                quantization: "".into(),
                file_size: 0,
                sha256: "".into(),
                context_size: 0,
                backend: "".into(),
                device: "".into(),
                threads: 0,
            },
        )
    }

    fn tokenize(&self, text: RStr<'_>, add_special: bool) -> RResult<RVec<i32>, AbiError> {
        guard(|| self.0.tokenize(text.as_str(), add_special).map(RVec::from))
    }

    fn evaluate(&mut self, tasks: RSlice<'_, Task>) -> RResult<Evaluation, AbiError> {
        guard(|| self.0.evaluate(tasks.as_slice()))
    }

    fn generate(&mut self, request: &GenerateRequest) -> RResult<Generation, AbiError> {
        guard(|| self.0.generate(request))
    }

    fn generate_timed(&mut self, request: &TimedRequest) -> RResult<TimedGeneration, AbiError> {
        guard(|| self.0.generate_timed(request))
    }
}

macro_rules! wrapper_impls {
    ($wrapper:ident) => {
        impl<T> Deref for $wrapper<T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.0
            }
        }

        impl<T> DerefMut for $wrapper<T> {
            fn deref_mut(&mut self) -> &mut T {
                &mut self.0
            }
        }

        impl<T> Drop for $wrapper<T> {
            fn drop(&mut self) {
                drop_guarded(&mut self.0);
            }
        }

        impl<T: std::fmt::Debug> std::fmt::Debug for $wrapper<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

wrapper_impls!(RuntimePlugin);
wrapper_impls!(ModelPlugin);

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use joulebench_abi::{Counters, ErrorCode, Runtime_TO};

    use super::*;

    /// An engine and model that panic wherever their `panics` flag says, and count drops.
    #[derive(Clone, Default)]
    struct Faults {
        panics: bool,
        drops: Arc<AtomicUsize>,
    }

    struct Toy(Faults);
    struct ToyModel(Faults);

    impl Drop for ToyModel {
        fn drop(&mut self) {
            self.0.drops.fetch_add(1, Ordering::SeqCst);
            if self.0.panics {
                panic!("dropping the model");
            }
        }
    }

    fn model_info(name: &str) -> ModelInfo {
        ModelInfo {
            name: name.into(),
            path: "/m.gguf".into(),
            architecture: "llama".into(),
            parameters: 1,
            quantization: "Q4_1".into(),
            file_size: 2,
            sha256: "ab".into(),
            context_size: 8,
            backend: "cpu".into(),
            device: "toy".into(),
            threads: 1,
        }
    }

    impl Engine for Toy {
        type Model = ToyModel;

        fn info(&self) -> RuntimeInfo {
            if self.0.panics {
                panic!("runtime info");
            }
            RuntimeInfo {
                name: "toy".into(),
                engine_version: "1".into(),
                backends: vec!["cpu".into()].into(),
                backend: "cpu".into(),
            }
        }

        fn load(&mut self, spec: &ModelSpec) -> Result<ToyModel, AbiError> {
            match spec.id.as_str() {
                "panic" => panic!("loading {}", spec.path),
                "missing" => Err(AbiError::config(format!("{}: no such model", spec.path))),
                _ => Ok(ToyModel(self.0.clone())),
            }
        }
    }

    impl LanguageModel for ToyModel {
        fn info(&self) -> ModelInfo {
            if self.0.panics {
                panic!("model info");
            }
            model_info("toy")
        }

        fn tokenize(&self, text: &str, _: bool) -> Result<Vec<i32>, AbiError> {
            if self.0.panics {
                panic!("tokenizing {text:?}");
            }
            Ok(text.bytes().map(i32::from).collect())
        }

        fn evaluate(&mut self, tasks: &[Task]) -> Result<Evaluation, AbiError> {
            if self.0.panics {
                panic!("evaluating {} tasks", tasks.len());
            }
            Ok(Evaluation { tasks: RVec::new(), counters: Counters::default() })
        }

        fn generate(&mut self, _: &GenerateRequest) -> Result<Generation, AbiError> {
            Err(AbiError::unsupported("the toy does not generate"))
        }
    }

    fn spec(id: &str) -> ModelSpec {
        ModelSpec { id: id.into(), path: "/models/toy.gguf".into(), options: "".into() }
    }

    fn request() -> GenerateRequest {
        GenerateRequest { prompt: "hi".into(), max_tokens: 1, stop: RVec::new() }
    }

    #[test]
    fn calls_pass_through_the_adapter() {
        let faults = Faults::default();
        let mut rt = Runtime_TO::from_value(RuntimePlugin::new(Toy(faults.clone())), TD_Opaque);
        assert_eq!(rt.info().name.as_str(), "toy");
        let e = rt.load_model(&spec("missing")).into_result().err().unwrap();
        assert_eq!(e.code, ErrorCode::INVALID_CONFIG);
        assert_eq!(e.message.as_str(), "/models/toy.gguf: no such model");
        let mut model = rt.load_model(&spec("ok")).into_result().unwrap();
        assert_eq!(model.info(), model_info("toy"));
        assert_eq!(model.tokenize("ab".into(), true).into_result().unwrap().as_slice(), [97, 98]);
        assert!(model.evaluate(RSlice::from_slice(&[])).into_result().is_ok());
        let e = model.generate(&request()).into_result().unwrap_err();
        assert_eq!(e.code, ErrorCode::UNSUPPORTED);
        drop(model);
        assert_eq!(faults.drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn panics_become_errors_and_marked_infos() {
        let faults = Faults { panics: true, ..Faults::default() };
        let mut rt = Runtime_TO::from_value(RuntimePlugin::new(Toy(faults.clone())), TD_Opaque);
        let info = rt.info();
        assert_eq!(info.name.as_str(), "<plugin panicked: runtime info>");
        assert!(info.backends.is_empty() && info.backend.is_empty());

        let e = rt.load_model(&spec("panic")).into_result().err().unwrap();
        assert_eq!(e.code, ErrorCode::PANICKED);
        assert_eq!(e.message.as_str(), "plugin panicked: loading /models/toy.gguf");

        let mut model = rt.load_model(&spec("ok")).into_result().unwrap();
        let info = model.info();
        assert_eq!(info.name.as_str(), "<plugin panicked: model info>");
        assert_eq!((info.parameters, info.file_size, info.context_size), (0, 0, 0));
        assert!(info.sha256.is_empty() && info.path.is_empty());
        let e = model.tokenize("ab".into(), true).into_result().unwrap_err();
        assert_eq!(e.message.as_str(), "plugin panicked: tokenizing \"ab\"");
        let e = model.evaluate(RSlice::from_slice(&[])).into_result().unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (ErrorCode::PANICKED, "plugin panicked: evaluating 0 tasks")
        );
        // a panicking destructor is caught too; the process is still here to count it
        drop(model);
        assert_eq!(faults.drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_default_prepare_uses_the_models_tokenizer() {
        let model = ToyModel(Faults::default());
        let task = Task {
            id: "t".into(),
            group: "".into(),
            gold: 0,
            shape: joulebench_abi::TaskShape::CHOICE,
            candidates: vec![joulebench_abi::Candidate {
                context: "ab ".into(),
                continuation: "c".into(),
            }]
            .into(),
        };
        let p = model.prepare(&task).unwrap();
        assert_eq!(p.candidates[0].tokens, [97, 98, 32, 99]);
        assert_eq!((p.candidates[0].continuation_start, p.candidates[0].first_scored), (2, 2));
    }

    #[test]
    fn the_wrappers_reach_the_inner_values() {
        let mut rt = RuntimePlugin::new(Toy(Faults::default()));
        assert_eq!(Engine::info(&*rt).name.as_str(), "toy");
        let model = ModelPlugin::new(rt.load(&spec("ok")).unwrap());
        assert_eq!(LanguageModel::tokenize(&*model, "a", false).unwrap(), [97]);
    }
}
