//! What joulebench's dataset plugins (MMLU, HellaSwag, Winogrande) share.
//!
//! - [`select`]: task selection: the first N, a seeded random sample, and llama.cpp's own
//!   procedures (`docs/scoring-conventions.md#task-selection`), which need `std::mt19937`
//!   ([`rng::Mt19937`]) and libstdc++'s `uniform_int_distribution`, so that a subset can be
//!   compared task for task with `llama-perplexity`.
//! - [`files`]: resolving a configured data path against `data_dir` or `$JOULEBENCH_DATA`, reading
//!   files with errors that name them, and the sha256 checksum each plugin reports.
//! - [`text`]: Python's `strip` and `capitalize`, which lm-evaluation-harness's prompts rely on.
//! - [`plugin`]: the ABI's `Dataset` for any [`Benchmark`], so that a plugin writes only how it
//!   loads its files and builds a task.
//! - [`parse_config`], [`task_index`] and the study's task counts.
#![deny(missing_docs)]

pub mod files;
pub mod plugin;
pub mod rng;
pub mod select;
pub mod text;

use joulebench_abi::{AbiError, Selection, SelectionRule};
use serde::de::DeserializeOwned;

pub use plugin::{Benchmark, DatasetPlugin, all_tasks};
pub use select::LlamaCppProcedure;

/// MMLU tasks in the study (arXiv 2511.11624; `docs/study.md#task-counts`).
pub const STUDY_TASKS_MMLU: u64 = 1000;
/// HellaSwag tasks in the study: llama.cpp's default `--hellaswag-tasks`.
pub const STUDY_TASKS_HELLASWAG: u64 = 400;
/// Winogrande tasks in the study.
pub const STUDY_TASKS_WINOGRANDE: u64 = 500;

/// The study's selection for a benchmark (`mmlu`, `hellaswag`, `winogrande`): its task count,
/// drawn by llama.cpp's procedure with llama.cpp's seed 1.
pub fn study_selection(benchmark: &str) -> Option<Selection> {
    let limit = match benchmark {
        "mmlu" => STUDY_TASKS_MMLU,
        "hellaswag" => STUDY_TASKS_HELLASWAG,
        "winogrande" => STUDY_TASKS_WINOGRANDE,
        _ => return None,
    };
    Some(Selection { rule: SelectionRule::LLAMA_CPP, limit, seed: 1 })
}

/// A plugin's TOML config, or an error naming the plugin, the problem and its line.
pub fn parse_config<T: DeserializeOwned>(plugin: &str, config: &str) -> Result<T, AbiError> {
    toml::from_str(config).map_err(|e| {
        let line = e.span().map(|s| 1 + config[..s.start.min(config.len())].matches('\n').count());
        let message = e.message().trim_end_matches('.').replace('\n', " ");
        match line {
            Some(line) => AbiError::config(format!("{plugin} config, line {line}: {message}")),
            None => AbiError::config(format!("{plugin} config: {message}")),
        }
    })
}

/// `index` as a position in a dataset of `len` tasks, or an error saying it is out of range.
pub fn task_index(index: u64, len: usize) -> Result<usize, AbiError> {
    usize::try_from(index).ok().filter(|&i| i < len).ok_or_else(|| {
        AbiError::config(format!(
            "task index {index} is out of range (the dataset has {len} tasks)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Cfg {
        path: Option<String>,
    }

    #[test]
    fn config_errors_name_the_plugin_and_line() {
        let e = parse_config::<Cfg>("mmlu", "path = \"x\"\nshotz = 5\n").unwrap_err();
        assert!(
            e.message.starts_with("mmlu config, line 2: unknown field `shotz`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn index_range_is_checked() {
        assert_eq!(task_index(3, 4).unwrap(), 3);
        let e = task_index(4, 4).unwrap_err();
        assert_eq!(e.message.as_str(), "task index 4 is out of range (the dataset has 4 tasks)");
    }

    #[test]
    fn study_counts() {
        assert_eq!(study_selection("hellaswag").unwrap().limit, 400);
        assert_eq!(study_selection("winogrande").unwrap().limit, 500);
        assert_eq!(study_selection("mmlu").unwrap().limit, 1000);
        assert_eq!(study_selection("mmlu").unwrap().seed, 1);
        assert!(study_selection("arc").is_none());
    }
}
