//! HellaSwag (Zellers et al., ACL 2019) as a joulebench dataset plugin.
//!
//! Reads the validation set in either of its two public forms and hands out one task per item,
//! in file order (task `i` is the file's `i`-th item, its id `"i"`, its group the activity
//! label):
//! - the original `hellaswag_val.jsonl` (`rowanz/hellaswag`: `activity_label`, `ctx_a`, `ctx_b`,
//!   `ctx`, `endings`, `label`, other fields ignored), or
//! - llama.cpp's 6-line text file `hellaswag_val_full.txt` (`klosax/hellaswag_text_data`: the
//!   context line `activity_label: ctx`, the gold label, four endings), used as it is.
//!
//! Candidates, by convention (`docs/scoring-conventions.md#hellaswag`); every candidate has the shared
//! context and the continuation `" " + ending`:
//! - `llama-cpp`: exactly what llama.cpp's `--hellaswag` tokenizes, `context + " " + ending`. From
//!   the text file these are its lines; from the jsonl they are built as the text file's
//!   extractor built them (its tag clean-up of `activity_label`, `ctx` and every ending).
//! - `lm-eval`: lm-evaluation-harness's `hellaswag`. From the jsonl, exactly its `preprocess` of
//!   `activity_label + ": " + ctx_a + " " + ctx_b.capitalize()` and of every ending. The text file
//!   has lost the split between `ctx_a` and `ctx_b`, so there the context is lm-eval's
//!   `preprocess` of the context line as it stands, and endings likewise: the result differs
//!   from lm-evaluation-harness only where `ctx_b` starts with a lower-case letter (it is not
//!   capitalised) and where the extractor's clean-up and lm-eval's differ (lm-eval's removal of
//!   every `[...]` still runs on top of it).
//!
//! Configuration (TOML): `path` (default `"hellaswag/hellaswag_val_full.txt"`, relative to
//! `data_dir` or `$JOULEBENCH_DATA`), `data_dir`, `format` (`"auto"`, `"jsonl"` or
//! `"llama-cpp"`; auto picks by extension, then by whether the file starts with `{`). The whole
//! file is read and checked when the plugin is built; the checksum is its sha256.
#![deny(missing_docs)]

use std::path::Path;

use joulebench_abi::{AbiError, Candidate, Convention, DatasetInfo, Task, TaskShape};
pub use joulebench_dataset_common::DatasetPlugin;
use joulebench_dataset_common::text::{py_capitalize, py_strip};
use joulebench_dataset_common::{self as common, Benchmark, LlamaCppProcedure, files};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_path")]
    path: String,
    #[serde(default)]
    data_dir: Option<String>,
    #[serde(default = "default_format")]
    format: String,
}

fn default_path() -> String {
    "hellaswag/hellaswag_val_full.txt".into()
}

fn default_format() -> String {
    "auto".into()
}

/// The two file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The original jsonl.
    Jsonl,
    /// llama.cpp's 6-line text file.
    LlamaCpp,
}

enum Item {
    /// From the jsonl: the original fields.
    Original { activity: String, ctx_a: String, ctx_b: String, ctx: String, endings: [String; 4] },
    /// From the text file: the context line and the four ending lines.
    Text { context: String, endings: [String; 4] },
}

/// The HellaSwag dataset, loaded.
pub struct HellaSwag {
    items: Vec<(Item, u8)>,
    format: Format,
    source: String,
    checksum: String,
}

/// Builds the dataset from its TOML config.
pub fn new(config: &str) -> Result<DatasetPlugin<HellaSwag>, AbiError> {
    let config: Config = common::parse_config("hellaswag", config)?;
    let format = match config.format.as_str() {
        "jsonl" => Some(Format::Jsonl),
        "llama-cpp" => Some(Format::LlamaCpp),
        "auto" => None,
        other => {
            return Err(AbiError::config(format!(
                "hellaswag config: format {other:?} is not one of \"auto\", \"jsonl\", \
                 \"llama-cpp\""
            )));
        }
    };
    let path = files::resolve(&config.path, config.data_dir.as_deref())?;
    HellaSwag::load(&path, format).map(DatasetPlugin)
}

/// lm-evaluation-harness's `preprocess`: strip, `" [title]"` to `". "`, remove every `[...]`
/// (shortest match, not across a line break), then one pass of double space to single space.
pub fn lm_eval_preprocess(text: &str) -> String {
    let text = py_strip(text).replace(" [title]", ". ");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(['\n', ']']) {
            Some(close) if after.as_bytes()[close] == b']' => rest = &after[close + 1..],
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace("  ", " ")
}

/// The clean-up of `klosax/hellaswag_text_data`'s extractor, which made llama.cpp's text file
/// (`docs/scoring-conventions.md#hellaswag`): delete `[header]`, `[step]`, `[substeps]`; `" [title]"` to
/// `". "`; delete `"[title] "` and `"[title]."`; one pass of double space to single space; drop
/// one leading and one trailing space.
pub fn llama_cpp_preprocess(text: &str) -> String {
    let mut s = text.replace("[header]", "").replace("[step]", "").replace("[substeps]", "");
    s = s.replace(" [title]", ". ").replace("[title] ", "").replace("[title].", "");
    s = s.replace("  ", " ");
    let s = s.strip_prefix(' ').unwrap_or(&s);
    s.strip_suffix(' ').unwrap_or(s).to_string()
}

fn detect(path: &Path, text: &str) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl" | "json") => Format::Jsonl,
        Some("txt") => Format::LlamaCpp,
        _ if text.trim_start().starts_with('{') => Format::Jsonl,
        _ => Format::LlamaCpp,
    }
}

fn parse_text(path: &Path, text: &str) -> Result<Vec<(Item, u8)>, AbiError> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let lines: Vec<&str> = if body.is_empty() { Vec::new() } else { body.split('\n').collect() };
    if lines.is_empty() {
        return Err(AbiError::data(format!("{}: the file holds no items", path.display())));
    }
    if lines.len() % 6 != 0 {
        let start = lines.len() / 6 * 6 + 1;
        return Err(AbiError::data(format!(
            "{}:{start}: incomplete item: {} lines, not a multiple of 6 (context, label, four \
             endings)",
            path.display(),
            lines.len()
        )));
    }
    let mut items = Vec::with_capacity(lines.len() / 6);
    for (i, chunk) in lines.chunks_exact(6).enumerate() {
        let label_line = i * 6 + 2;
        let label = match chunk[1] {
            "0" => 0,
            "1" => 1,
            "2" => 2,
            "3" => 3,
            other => {
                return Err(AbiError::data(format!(
                    "{}:{label_line}: label {other:?} is not 0, 1, 2 or 3",
                    path.display()
                )));
            }
        };
        let endings = [chunk[2], chunk[3], chunk[4], chunk[5]].map(str::to_string);
        items.push((Item::Text { context: chunk[0].to_string(), endings }, label));
    }
    Ok(items)
}

#[derive(Deserialize)]
struct JsonItem {
    activity_label: String,
    ctx_a: String,
    ctx_b: String,
    #[serde(default)]
    ctx: Option<String>,
    endings: Vec<String>,
    #[serde(default)]
    label: Option<serde_json::Value>,
}

/// A serde_json message without its " at line 1 column N" (each line is parsed on its own).
fn json_error(path: &Path, line: usize, e: &serde_json::Error) -> AbiError {
    let message = e.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message).to_string();
    AbiError::data(format!("{}:{line}:{}: invalid json: {message}", path.display(), e.column()))
}

fn parse_jsonl(path: &Path, text: &str) -> Result<Vec<(Item, u8)>, AbiError> {
    let mut items = Vec::new();
    for (n, raw) in text.split('\n').enumerate() {
        let line = n + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let item: JsonItem = serde_json::from_str(raw).map_err(|e| json_error(path, line, &e))?;
        let Ok(endings) = <[String; 4]>::try_from(item.endings) else {
            return Err(AbiError::data(format!(
                "{}:{line}: `endings` must hold 4 endings",
                path.display()
            )));
        };
        let label = match &item.label {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.parse::<u64>().ok(),
            None => {
                return Err(AbiError::data(format!(
                    "{}:{line}: no `label` (the test split is unlabelled)",
                    path.display()
                )));
            }
            Some(_) => None,
        };
        let Some(label) = label.filter(|&l| l < 4) else {
            return Err(AbiError::data(format!(
                "{}:{line}: label {} is not 0, 1, 2 or 3",
                path.display(),
                item.label.map(|v| v.to_string()).unwrap_or_default()
            )));
        };
        let ctx = item.ctx.unwrap_or_else(|| format!("{} {}", item.ctx_a, item.ctx_b));
        items.push((
            Item::Original {
                activity: item.activity_label,
                ctx_a: item.ctx_a,
                ctx_b: item.ctx_b,
                ctx,
                endings,
            },
            label as u8,
        ));
    }
    if items.is_empty() {
        return Err(AbiError::data(format!("{}: the file holds no items", path.display())));
    }
    Ok(items)
}

/// Reads `bytes` as if they were the file `path` (its extension picks the format, as `format =
/// "auto"` does) and builds every task under both conventions. The fuzz target's entry point:
/// whatever a data file holds, this returns tasks or an error naming the file and line.
pub fn parse_tasks(path: &Path, bytes: &[u8]) -> Result<Vec<Task>, AbiError> {
    common::all_tasks(&HellaSwag::from_bytes(path, bytes, None)?)
}

impl HellaSwag {
    fn load(path: &Path, format: Option<Format>) -> Result<Self, AbiError> {
        Self::from_bytes(path, &files::read(path)?, format)
    }

    fn from_bytes(path: &Path, bytes: &[u8], format: Option<Format>) -> Result<Self, AbiError> {
        let checksum = files::sha256_hex(bytes);
        let text = files::utf8(path, bytes)?;
        let format = format.unwrap_or_else(|| detect(path, text));
        let items = match format {
            Format::Jsonl => parse_jsonl(path, text)?,
            Format::LlamaCpp => parse_text(path, text)?,
        };
        let kind = match format {
            Format::Jsonl => "hellaswag jsonl",
            Format::LlamaCpp => "llama.cpp hellaswag text",
        };
        Ok(Self { items, format, source: format!("{} ({kind})", path.display()), checksum })
    }

    /// The format that was read.
    pub fn format(&self) -> Format {
        self.format
    }
}

/// The activity label of a text-file context line: what precedes its first `": "`.
fn activity_of(context: &str) -> &str {
    context.split_once(": ").map_or("", |(activity, _)| activity)
}

impl Benchmark for HellaSwag {
    const PROCEDURE: LlamaCppProcedure = LlamaCppProcedure::HellaSwag;

    fn info(&self) -> DatasetInfo {
        DatasetInfo {
            name: "hellaswag".into(),
            split: "validation".into(),
            len: self.items.len() as u64,
            metric: "acc_norm".into(),
            source: self.source.as_str().into(),
            checksum: self.checksum.as_str().into(),
        }
    }

    fn task_count(&self) -> usize {
        self.items.len()
    }

    fn task(&self, index: u64, convention: Convention) -> Result<Task, AbiError> {
        let i = common::task_index(index, self.items.len())?;
        let (item, label) = &self.items[i];
        let (context, endings, group): (String, Vec<String>, &str) = match (item, convention) {
            (Item::Text { context, endings }, Convention::LLAMA_CPP) => {
                (context.clone(), endings.to_vec(), activity_of(context))
            }
            (Item::Text { context, endings }, Convention::LM_EVAL) => (
                lm_eval_preprocess(context),
                endings.iter().map(|e| lm_eval_preprocess(e)).collect(),
                activity_of(context),
            ),
            (Item::Original { activity, ctx, endings, .. }, Convention::LLAMA_CPP) => (
                format!("{}: {}", llama_cpp_preprocess(activity), llama_cpp_preprocess(ctx)),
                endings.iter().map(|e| llama_cpp_preprocess(e)).collect(),
                activity.as_str(),
            ),
            (Item::Original { activity, ctx_a, ctx_b, endings, .. }, Convention::LM_EVAL) => (
                lm_eval_preprocess(&format!("{activity}: {ctx_a} {}", py_capitalize(ctx_b))),
                endings.iter().map(|e| lm_eval_preprocess(e)).collect(),
                activity.as_str(),
            ),
            (_, other) => {
                return Err(AbiError::unsupported(format!(
                    "hellaswag: unknown scoring convention {}",
                    other.0
                )));
            }
        };
        let candidates: Vec<Candidate> = endings
            .iter()
            .map(|e| Candidate {
                context: context.as_str().into(),
                continuation: format!(" {e}").into(),
            })
            .collect();
        Ok(Task {
            id: i.to_string().into(),
            group: group.into(),
            gold: u32::from(*label),
            shape: TaskShape::CHOICE,
            candidates: candidates.into(),
        })
    }
}

/// The exported root module (in a module of its own: the macro's items carry no docs).
mod export {
    joulebench_abi::export_dataset_plugin!(super::new);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lm_eval_preprocess_matches_its_regex() {
        assert_eq!(lm_eval_preprocess(" a [title] b [step] c "), "a. b c");
        assert_eq!(lm_eval_preprocess("x [a [b] y"), "x y");
        assert_eq!(lm_eval_preprocess("tap \" [\" button"), "tap \" [\" button");
        assert_eq!(lm_eval_preprocess("a [b\nc] d"), "a [b\nc] d");
        assert_eq!(lm_eval_preprocess("a   b"), "a  b");
    }

    #[test]
    fn llama_cpp_preprocess_matches_the_extractor() {
        assert_eq!(
            llama_cpp_preprocess("[header] How to x [title] Do y. [step] Then z."),
            "How to x. Do y. Then z."
        );
        assert_eq!(llama_cpp_preprocess("[title] Start [substeps] end "), "Start end");
        assert_eq!(llama_cpp_preprocess("keep [citation]"), "keep [citation]");
    }
}
