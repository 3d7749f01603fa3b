//! Winogrande (Sakaguchi et al., AAAI 2020) as a joulebench dataset plugin.
//!
//! Reads the dev set (the `winogrande_xl` validation split, 1267 items) in either of its public
//! forms and hands out one task per item in file order (task `i` is the file's `i`-th item; its
//! id is the item's `qID`, or the CSV's index field):
//! - the original `dev.jsonl` (`qID`, `sentence` with one `_` blank, `option1`, `option2`,
//!   `answer` `"1"` or `"2"`), with the answers inline or in a separate labels file (one `1` or
//!   `2` per line, such as the release's `dev-labels.lst`), or
//! - llama.cpp's CSV (`index,sentence,choice1,choice2,answer`), split as llama.cpp splits it
//!   (the first four commas outside double quotes; a quoted sentence loses its outer quotes and
//!   nothing else is unescaped). A header line is skipped, as llama.cpp skips it; unlike
//!   llama.cpp, which skips malformed rows silently, any other malformed row is an error, and the
//!   final row is read whether or not the file ends with a newline
//!   (`docs/scoring-conventions.md#from-llama-perplexity`).
//!
//! Candidates use partial scoring in both conventions (shape `PARTIAL`: the option is filled
//! into the context and the text after the blank is the shared continuation), split at the
//! first `_`:
//! - `lm-eval` (`docs/scoring-conventions.md#winogrande`): context `sentence[:idx] + option`, continuation
//!   `" " + sentence[idx+1:].strip()`.
//! - `llama-cpp` (`docs/scoring-conventions.md#winogrande`): context `first + choice` and continuation
//!   `second`, the text before and after the blank as they stand, so that context + continuation
//!   is exactly the string llama.cpp tokenizes.
//!
//! Configuration (TOML): `path` (default `"winogrande/dev.jsonl"`, relative to `data_dir` or
//! `$JOULEBENCH_DATA`), `data_dir`, `labels` (a labels file; by default the jsonl's sibling
//! `<stem>-labels.lst` is read when the jsonl has no answers; when both are there they must
//! agree), `format` (`"auto"`, `"jsonl"` or `"llama-cpp"`; auto picks by extension, then by
//! whether the file starts with `{`). Everything is read and checked when the plugin is built.
//! The checksum is the data file's sha256, or with a labels file the sha256 of the two files'
//! `sha256sum` listing (by file name).
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use joulebench_abi::{AbiError, Candidate, Convention, DatasetInfo, Task, TaskShape};
pub use joulebench_dataset_common::DatasetPlugin;
use joulebench_dataset_common::text::py_strip;
use joulebench_dataset_common::{self as common, Benchmark, LlamaCppProcedure, files};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_path")]
    path: String,
    #[serde(default)]
    data_dir: Option<String>,
    #[serde(default)]
    labels: Option<String>,
    #[serde(default = "default_format")]
    format: String,
}

fn default_path() -> String {
    "winogrande/dev.jsonl".into()
}

fn default_format() -> String {
    "auto".into()
}

/// The two file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The original jsonl (with or without a labels file).
    Jsonl,
    /// llama.cpp's CSV.
    LlamaCpp,
}

struct Item {
    id: String,
    sentence: String,
    /// Byte offset of the first `_`.
    blank: usize,
    options: [String; 2],
    /// 1 or 2; 0 while a jsonl item waits for its label.
    answer: u8,
    line: usize,
}

/// The Winogrande dataset, loaded.
pub struct Winogrande {
    items: Vec<Item>,
    format: Format,
    source: String,
    checksum: String,
}

/// Builds the dataset from its TOML config.
pub fn new(config: &str) -> Result<DatasetPlugin<Winogrande>, AbiError> {
    let config: Config = common::parse_config("winogrande", config)?;
    let format = match config.format.as_str() {
        "jsonl" => Some(Format::Jsonl),
        "llama-cpp" => Some(Format::LlamaCpp),
        "auto" => None,
        other => {
            return Err(AbiError::config(format!(
                "winogrande config: format {other:?} is not one of \"auto\", \"jsonl\", \
                 \"llama-cpp\""
            )));
        }
    };
    let path = files::resolve(&config.path, config.data_dir.as_deref())?;
    let labels = config
        .labels
        .as_deref()
        .map(|l| files::resolve(l, config.data_dir.as_deref()))
        .transpose()?;
    Winogrande::load(&path, labels.as_deref(), format).map(DatasetPlugin)
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into())
}

fn blank_of(path: &Path, line: usize, sentence: &str) -> Result<usize, AbiError> {
    sentence.find('_').ok_or_else(|| {
        AbiError::data(format!("{}:{line}: the sentence has no \"_\" blank", path.display()))
    })
}

fn parse_answer(path: &Path, line: usize, answer: &str) -> Result<u8, AbiError> {
    match answer.trim() {
        "1" => Ok(1),
        "2" => Ok(2),
        _ => Err(AbiError::data(format!(
            "{}:{line}: answer {answer:?} is not 1 or 2",
            path.display()
        ))),
    }
}

#[derive(Deserialize)]
struct JsonItem {
    #[serde(rename = "qID", default)]
    qid: Option<String>,
    sentence: String,
    option1: String,
    option2: String,
    #[serde(default)]
    answer: Option<serde_json::Value>,
}

fn json_error(path: &Path, line: usize, e: &serde_json::Error) -> AbiError {
    let message = e.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message).to_string();
    AbiError::data(format!("{}:{line}:{}: invalid json: {message}", path.display(), e.column()))
}

fn parse_jsonl(path: &Path, text: &str) -> Result<Vec<Item>, AbiError> {
    let mut items = Vec::new();
    for (n, raw) in text.split('\n').enumerate() {
        let line = n + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let item: JsonItem = serde_json::from_str(raw).map_err(|e| json_error(path, line, &e))?;
        let answer = match &item.answer {
            None => 0,
            Some(serde_json::Value::String(s)) if s.is_empty() => 0,
            Some(serde_json::Value::String(s)) => parse_answer(path, line, s)?,
            Some(other) => parse_answer(path, line, &other.to_string())?,
        };
        let blank = blank_of(path, line, &item.sentence)?;
        items.push(Item {
            id: item.qid.unwrap_or_else(|| items.len().to_string()),
            blank,
            sentence: item.sentence,
            options: [item.option1, item.option2],
            answer,
            line,
        });
    }
    Ok(items)
}

/// One line of llama.cpp's CSV: the positions of its first four commas outside double quotes.
fn csv_commas(line: &str) -> Vec<usize> {
    let mut commas = Vec::with_capacity(4);
    let mut quoted = false;
    for (i, b) in line.bytes().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                commas.push(i);
                if commas.len() == 4 {
                    break;
                }
            }
            _ => {}
        }
    }
    commas
}

fn parse_csv(path: &Path, text: &str) -> Result<Vec<Item>, AbiError> {
    let mut items = Vec::new();
    for (n, raw) in text.split('\n').enumerate() {
        let line = n + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let commas = csv_commas(raw);
        let [c0, c1, c2, c3] = commas[..] else {
            return Err(AbiError::data(format!(
                "{}:{line}: expected 5 fields (index, sentence, choice1, choice2, answer), found \
                 {}",
                path.display(),
                commas.len() + 1
            )));
        };
        let answer_field = &raw[c3 + 1..];
        if line == 1 && answer_field.trim().parse::<i64>().is_err() {
            continue; // a header
        }
        let field = &raw[c0 + 1..c1];
        let sentence = match field.strip_prefix('"') {
            Some(inner) => inner.strip_suffix('"').ok_or_else(|| {
                AbiError::data(format!(
                    "{}:{line}: a quoted sentence does not end with its closing quote",
                    path.display()
                ))
            })?,
            None => field,
        };
        let blank = blank_of(path, line, sentence)?;
        let answer = parse_answer(path, line, answer_field)?;
        let index = &raw[..c0];
        items.push(Item {
            id: if index.is_empty() { items.len().to_string() } else { index.to_string() },
            sentence: sentence.to_string(),
            blank,
            options: [raw[c1 + 1..c2].to_string(), raw[c2 + 1..c3].to_string()],
            answer,
            line,
        });
    }
    Ok(items)
}

fn apply_labels(
    items: &mut [Item],
    data: &Path,
    labels_path: &Path,
    text: &str,
) -> Result<(), AbiError> {
    let labels: Vec<(usize, &str)> = text
        .split('\n')
        .enumerate()
        .map(|(n, l)| (n + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    if labels.len() != items.len() {
        return Err(AbiError::data(format!(
            "{}: {} labels for {} items in {}",
            labels_path.display(),
            labels.len(),
            items.len(),
            data.display()
        )));
    }
    for (item, (line, label)) in items.iter_mut().zip(labels) {
        let label = parse_answer(labels_path, line, label)?;
        if item.answer != 0 && item.answer != label {
            return Err(AbiError::data(format!(
                "{}:{line}: label {label} disagrees with answer {} at {}:{}",
                labels_path.display(),
                item.answer,
                data.display(),
                item.line
            )));
        }
        item.answer = label;
    }
    Ok(())
}

/// The labels file the release puts beside `dev.jsonl`: `dev-labels.lst`.
fn sibling_labels(path: &Path) -> PathBuf {
    let stem = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}-labels.lst"))
}

fn detect(path: &Path, text: &str) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl" | "json") => Format::Jsonl,
        Some("csv") => Format::LlamaCpp,
        _ if text.trim_start().starts_with('{') => Format::Jsonl,
        _ => Format::LlamaCpp,
    }
}

/// Reads `bytes` as if they were the file `path` (its extension picks the format, as `format =
/// "auto"` does), with `labels` as its labels file when given, and builds every task under both
/// conventions. The fuzz target's entry point: whatever the files hold, this returns tasks or
/// an error naming the file and line.
pub fn parse_tasks(
    path: &Path,
    bytes: &[u8],
    labels: Option<&[u8]>,
) -> Result<Vec<Task>, AbiError> {
    let (format, mut items) = parse_items(path, bytes, None)?;
    let labels_path = sibling_labels(path);
    match (labels, items.iter().find(|i| i.answer == 0)) {
        (Some(l), _) => {
            apply_labels(&mut items, path, &labels_path, files::utf8(&labels_path, l)?)?
        }
        (None, Some(item)) => {
            return Err(AbiError::data(format!(
                "{}:{}: no answer, and no labels file",
                path.display(),
                item.line
            )));
        }
        (None, None) => {}
    }
    let data = Winogrande { items, format, source: String::new(), checksum: String::new() };
    common::all_tasks(&data)
}

/// The items of a data file's `bytes` (from `path`), in `format` or the one its name says.
fn parse_items(
    path: &Path,
    bytes: &[u8],
    format: Option<Format>,
) -> Result<(Format, Vec<Item>), AbiError> {
    let text = files::utf8(path, bytes)?;
    let format = format.unwrap_or_else(|| detect(path, text));
    let items = match format {
        Format::Jsonl => parse_jsonl(path, text)?,
        Format::LlamaCpp => parse_csv(path, text)?,
    };
    if items.is_empty() {
        return Err(AbiError::data(format!("{}: the file holds no items", path.display())));
    }
    Ok((format, items))
}

impl Winogrande {
    fn load(path: &Path, labels: Option<&Path>, format: Option<Format>) -> Result<Self, AbiError> {
        let bytes = files::read(path)?;
        let mut sums = vec![(file_name(path), files::sha256_hex(&bytes))];
        let (format, mut items) = parse_items(path, &bytes, format)?;
        let unlabelled = items.iter().find(|i| i.answer == 0).map(|i| i.line);
        let labels_path = match (labels, unlabelled) {
            (Some(l), _) => Some(l.to_path_buf()),
            (None, Some(line)) => {
                let sibling = sibling_labels(path);
                if !sibling.exists() {
                    return Err(AbiError::data(format!(
                        "{}:{line}: no answer, and no labels file (looked for {})",
                        path.display(),
                        sibling.display()
                    )));
                }
                Some(sibling)
            }
            (None, None) => None,
        };
        if let Some(labels_path) = &labels_path {
            let bytes = files::read(labels_path)?;
            sums.push((file_name(labels_path), files::sha256_hex(&bytes)));
            apply_labels(&mut items, path, labels_path, files::utf8(labels_path, &bytes)?)?;
        }
        let kind = match format {
            Format::Jsonl => "winogrande jsonl",
            Format::LlamaCpp => "llama.cpp winogrande csv",
        };
        let source = match &labels_path {
            Some(l) => format!("{} ({kind}), labels {}", path.display(), l.display()),
            None => format!("{} ({kind})", path.display()),
        };
        Ok(Self { items, format, source, checksum: files::checksum(&sums) })
    }

    /// The format that was read.
    pub fn format(&self) -> Format {
        self.format
    }
}

impl Benchmark for Winogrande {
    const PROCEDURE: LlamaCppProcedure = LlamaCppProcedure::MultipleChoice;

    fn info(&self) -> DatasetInfo {
        DatasetInfo {
            name: "winogrande".into(),
            split: "validation".into(),
            len: self.items.len() as u64,
            metric: "acc".into(),
            source: self.source.as_str().into(),
            checksum: self.checksum.as_str().into(),
        }
    }

    fn task_count(&self) -> usize {
        self.items.len()
    }

    fn task(&self, index: u64, convention: Convention) -> Result<Task, AbiError> {
        let item = &self.items[common::task_index(index, self.items.len())?];
        let first = &item.sentence[..item.blank];
        let second = &item.sentence[item.blank + 1..];
        let continuation = match convention {
            Convention::LM_EVAL => format!(" {}", py_strip(second)),
            Convention::LLAMA_CPP => second.to_string(),
            other => {
                return Err(AbiError::unsupported(format!(
                    "winogrande: unknown scoring convention {}",
                    other.0
                )));
            }
        };
        let candidates: Vec<Candidate> = item
            .options
            .iter()
            .map(|option| Candidate {
                context: format!("{first}{option}").into(),
                continuation: continuation.as_str().into(),
            })
            .collect();
        Ok(Task {
            id: item.id.as_str().into(),
            group: "".into(),
            gold: u32::from(item.answer - 1),
            shape: TaskShape::PARTIAL,
            candidates: candidates.into(),
        })
    }
}

/// The exported root module (in a module of its own: the macro's items carry no docs).
mod export {
    joulebench_abi::export_dataset_plugin!(super::new);
}
