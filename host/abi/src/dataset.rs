//! Benchmark datasets: describe themselves and hand out tasks by index.
//!
//! A [`Task`] is one question with its candidate answers, each a context and a continuation, with
//! any few-shot prompt already built. HellaSwag and MMLU candidates share one context; in
//! Winogrande's partial scoring the contexts differ (the option is filled in) and the continuation
//! is shared. The runtime finds the common token prefix itself, so one shape serves all three.

use abi_stable::std_types::{RBox, RResult, RSlice, RStr, RString, RVec};
use abi_stable::{
    StableAbi, declare_root_module_statics, library::RootModule, package_version_strings,
    sabi_trait,
};

use crate::{AbiError, PluginInfo};

pub(crate) const ROOT_MODULE_NAME: &str = "joulebench dataset plugin";

/// The root module of a dataset plugin. Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = DatasetModRef)))]
pub struct DatasetMod {
    /// Who the plugin is.
    pub plugin: PluginInfo,
    /// Builds the dataset from its configuration (the manifest's `config` table as TOML).
    #[sabi(last_prefix_field)]
    pub new: extern "C" fn(config: RStr<'_>) -> RResult<DatasetBox, AbiError>,
}

impl RootModule for DatasetModRef {
    declare_root_module_statics! {DatasetModRef}
    const BASE_NAME: &'static str = "joulebench_dataset";
    const NAME: &'static str = ROOT_MODULE_NAME;
    const VERSION_STRINGS: abi_stable::sabi_types::VersionStrings = package_version_strings!();
}

/// A dataset as the host holds it.
pub type DatasetBox = Dataset_TO<'static, RBox<()>>;

/// One candidate answer: the text the model is conditioned on and the text it is scored on.
/// Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The conditioning text, few-shot prompt included.
    pub context: RString,
    /// The scored text.
    pub continuation: RString,
}

/// How a task's candidates relate, which decides how the `llama-cpp` convention scores them.
/// Added in ABI 0.1.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskShape(pub u8);

impl TaskShape {
    /// Candidates share the context and differ in the continuation (HellaSwag, MMLU).
    pub const CHOICE: Self = Self(0);
    /// Candidates differ in the context and share the continuation (Winogrande's partial
    /// scoring).
    pub const PARTIAL: Self = Self(1);
}

/// One multiple-choice question. Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// A stable id within the dataset (its index in the source, or the source's own id).
    pub id: RString,
    /// A group for per-group results (the MMLU subject, the HellaSwag activity), or empty.
    pub group: RString,
    /// Index of the correct candidate.
    pub gold: u32,
    /// How the candidates relate.
    pub shape: TaskShape,
    /// The candidates, in the source's order.
    pub candidates: RVec<Candidate>,
}

/// How candidates are built where lm-evaluation-harness and llama.cpp's perplexity tool differ.
/// Added in ABI 0.1.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Convention(pub u8);

impl Convention {
    /// lm-evaluation-harness's requests.
    pub const LM_EVAL: Self = Self(0);
    /// llama.cpp's `llama-perplexity` tool.
    pub const LLAMA_CPP: Self = Self(1);

    /// The convention's name in manifests: `lm-eval` or `llama-cpp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LM_EVAL => "lm-eval",
            Self::LLAMA_CPP => "llama-cpp",
            _ => "unknown",
        }
    }

    /// The convention named `name` in a manifest.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "lm-eval" => Some(Self::LM_EVAL),
            "llama-cpp" => Some(Self::LLAMA_CPP),
            _ => None,
        }
    }
}

/// Which tasks an experiment uses. Added in ABI 0.1.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SelectionRule(pub u8);

impl SelectionRule {
    /// The first `limit` tasks in source order.
    pub const FIRST: Self = Self(0);
    /// A random sample of `limit` tasks drawn with `seed`, in draw order.
    pub const RANDOM: Self = Self(1);
    /// llama.cpp's perplexity tool's own selection with its seed (1 there), so that the same
    /// tasks can be compared with that tool.
    pub const LLAMA_CPP: Self = Self(2);

    /// The rule's name in manifests: `first`, `random` or `llama-cpp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FIRST => "first",
            Self::RANDOM => "random",
            Self::LLAMA_CPP => "llama-cpp",
            _ => "unknown",
        }
    }

    /// The rule named `name` in a manifest.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "first" => Some(Self::FIRST),
            "random" => Some(Self::RANDOM),
            "llama-cpp" => Some(Self::LLAMA_CPP),
            _ => None,
        }
    }
}

/// A selection request. Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selection {
    /// The rule.
    pub rule: SelectionRule,
    /// How many tasks; 0 means all of them.
    pub limit: u64,
    /// The seed for `RANDOM` and `LLAMA_CPP` (llama.cpp uses 1).
    pub seed: u64,
}

/// What a dataset is. Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct DatasetInfo {
    /// The benchmark's name (`mmlu`, `hellaswag`, `winogrande`).
    pub name: RString,
    /// The split read (`test`, `validation`, `dev`).
    pub split: RString,
    /// Number of tasks.
    pub len: u64,
    /// The metric the benchmark reports by convention (`acc`, `acc_norm`).
    pub metric: RString,
    /// What was read (files or folder) and in which format.
    pub source: RString,
    /// A sha256 over the bytes read, for the results' provenance.
    pub checksum: RString,
}

/// A benchmark dataset. Added in ABI 0.1.
#[sabi_trait]
pub trait Dataset: Send {
    /// What this dataset is.
    fn info(&self) -> DatasetInfo;

    /// The indices of the tasks a selection picks, in the order they are to be run.
    fn select(&self, selection: &Selection) -> RResult<RVec<u64>, AbiError>;

    /// The tasks at `indices`, built by `convention`.
    #[sabi(last_prefix_field)]
    fn tasks(
        &self,
        indices: RSlice<'_, u64>,
        convention: Convention,
    ) -> RResult<RVec<Task>, AbiError>;
}
