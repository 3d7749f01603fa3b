//! MMLU (Hendrycks et al., ICLR 2021) as a joulebench dataset plugin.
//!
//! Reads the original release's CSV folders (`test/`, `dev/`, `val/` under the configured path,
//! one `<subject>_<split>.csv` per subject, no header, six fields: question, A, B, C, D, answer
//! letter) and hands out one task per question. Subjects are ordered by name and questions by
//! file order; task `i` of the dataset is the `i`-th question of that order, its id is
//! `<subject>/<row>` and its group the subject.
//!
//! Candidates, by convention (`docs/scoring-conventions.md#mmlu`):
//! - `lm-eval`: lm-evaluation-harness's `mmlu` prompt: the subject header, `shots` exemplars (the
//!   first ones of the subject's dev file, each ending in `Answer: <letter>` and a blank line),
//!   then the question with its lettered choices and `Answer:`; the continuations are `" A"` ..
//!   `" D"`. When the evaluated split is `dev` itself, a question is never its own exemplar:
//!   as lm-evaluation-harness does, the first `shots + 1` dev questions are taken, the question
//!   itself dropped, and the first `shots` kept.
//! - `llama-cpp`: llama.cpp's `--multiple-choice` candidates, `question + " " + answer_k`: the
//!   context is the question as the file holds it and the continuation `" "` plus the answer's
//!   text (no header, no letters). This is the layout llama.cpp's multiple-choice mode and the
//!   published converters use; the exact text inside ikawrakow's `mmlu-*.bin` files was not
//!   verified (`docs/scoring-conventions.md#from-llama-perplexity`). llama.cpp's mode is 0-shot only, so
//!   it refuses `shots > 0`.
//!
//! Configuration (TOML): `path` (the folder holding `test/`, `dev/`, `val/`; default `"mmlu"`,
//! relative to `data_dir` or `$JOULEBENCH_DATA`), `data_dir`, `split` (`"test"`, `"dev"` or
//! `"val"`; default `"test"`), `shots` (0 to 5; default 0) and `subjects` (a list of subject
//! names; default all). Everything is read and checked when the plugin is built.
//!
//! The checksum is the sha256 of the `sha256sum` listing of every CSV read, with paths relative
//! to `path` (such as `test/anatomy_test.csv`), or that file's own sha256 when only one was read.
#![deny(missing_docs)]

mod csv;

use std::path::{Path, PathBuf};

use joulebench_abi::{AbiError, Candidate, Convention, DatasetInfo, Task, TaskShape};
pub use joulebench_dataset_common::DatasetPlugin;
use joulebench_dataset_common::{
    self as common, Benchmark, LlamaCppProcedure, files, text::py_strip,
};
use serde::Deserialize;

const LETTERS: [&str; 4] = ["A", "B", "C", "D"];
/// The most exemplars lm-evaluation-harness's MMLU takes (the dev split has five per subject).
pub const MAX_SHOTS: u32 = 5;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_path")]
    path: String,
    #[serde(default)]
    data_dir: Option<String>,
    #[serde(default = "default_split")]
    split: String,
    #[serde(default)]
    shots: u32,
    #[serde(default)]
    subjects: Option<Vec<String>>,
}

fn default_path() -> String {
    "mmlu".into()
}

fn default_split() -> String {
    "test".into()
}

#[derive(PartialEq)]
struct Question {
    question: String,
    choices: [String; 4],
    answer: u8,
}

struct Subject {
    name: String,
    questions: Vec<Question>,
    /// Header and exemplars, when they do not depend on the question (split other than dev).
    prefix: Option<String>,
}

/// The MMLU dataset, loaded.
pub struct Mmlu {
    split: String,
    shots: usize,
    subjects: Vec<Subject>,
    /// (subject, row) of every task, in dataset order.
    order: Vec<(u32, u32)>,
    source: String,
    checksum: String,
}

/// Builds the dataset from its TOML config.
pub fn new(config: &str) -> Result<DatasetPlugin<Mmlu>, AbiError> {
    let config: Config = common::parse_config("mmlu", config)?;
    Mmlu::load(&config).map(DatasetPlugin)
}

fn split_name(split: &str) -> &str {
    if split == "val" { "validation" } else { split }
}

fn list_subjects(dir: &Path, split: &str) -> Result<Vec<String>, AbiError> {
    let suffix = format!("_{split}.csv");
    let entries = std::fs::read_dir(dir).map_err(|e| AbiError::io(dir.display(), &e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| AbiError::io(dir.display(), &e))?;
        if let Some(name) = entry.file_name().to_str()
            && let Some(subject) = name.strip_suffix(&suffix)
        {
            names.push(subject.to_string());
        }
    }
    names.sort_unstable();
    if names.is_empty() {
        return Err(AbiError::new(
            joulebench_abi::ErrorCode::NOT_FOUND,
            format!("{}: no *{suffix} files", dir.display()),
        ));
    }
    Ok(names)
}

fn read_questions(
    root: &Path,
    rel: &str,
    sums: &mut Vec<(String, String)>,
) -> Result<Vec<Question>, AbiError> {
    let path: PathBuf = root.join(rel);
    let bytes = files::read(&path)?;
    sums.push((rel.to_string(), files::sha256_hex(&bytes)));
    parse_questions(&path, &bytes)
}

/// The questions of one subject file's `bytes` (from `path`, named in errors).
fn parse_questions(path: &Path, bytes: &[u8]) -> Result<Vec<Question>, AbiError> {
    let text = files::utf8(path, bytes)?;
    let mut questions = Vec::new();
    for record in csv::parse(path, text)? {
        let line = record.line;
        let found = record.fields.len();
        let Ok([question, a, b, c, d, answer]) = <[String; 6]>::try_from(record.fields) else {
            return Err(AbiError::data(format!(
                "{}:{line}: expected 6 fields (question, A, B, C, D, answer), found {found}",
                path.display()
            )));
        };
        let Some(answer_index) = LETTERS.iter().position(|l| *l == answer) else {
            return Err(AbiError::data(format!(
                "{}:{line}: answer {answer:?} is not one of A, B, C, D",
                path.display()
            )));
        };
        questions.push(Question { question, choices: [a, b, c, d], answer: answer_index as u8 });
    }
    Ok(questions)
}

/// Reads `bytes` as if they were the subject file `path` (such as `test/anatomy_test.csv`) and
/// builds every task under both conventions, with `shots` exemplars (at most [`MAX_SHOTS`])
/// taken from the first questions of the same file. The fuzz target's entry point: whatever a
/// CSV holds, this returns tasks or an error naming the file and line.
pub fn parse_tasks(path: &Path, bytes: &[u8], shots: usize) -> Result<Vec<Task>, AbiError> {
    let questions = parse_questions(path, bytes)?;
    let shots = shots.min(MAX_SHOTS as usize);
    if questions.len() < shots {
        return Err(AbiError::data(format!(
            "{}: {shots} exemplars for {shots}-shot prompts, found {}",
            path.display(),
            questions.len()
        )));
    }
    let stem = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let name = stem.rsplit_once('_').map_or(stem.as_str(), |(n, _)| n).to_string();
    let prefix = Some(prompt_prefix(&name, questions.iter(), shots));
    let order = (0..questions.len() as u32).map(|q| (0, q)).collect();
    let data = Mmlu {
        split: "test".into(),
        shots,
        subjects: vec![Subject { name, questions, prefix }],
        order,
        source: String::new(),
        checksum: String::new(),
    };
    common::all_tasks(&data)
}

/// lm-evaluation-harness's `doc_to_text` for MMLU.
fn question_text(q: &Question, out: &mut String) {
    out.push_str(py_strip(&q.question));
    for (letter, choice) in LETTERS.iter().zip(&q.choices) {
        out.push('\n');
        out.push_str(letter);
        out.push_str(". ");
        out.push_str(choice);
    }
    out.push_str("\nAnswer:");
}

fn header(subject: &str) -> String {
    format!(
        "The following are multiple choice questions (with answers) about {}.\n\n",
        subject.replace('_', " ")
    )
}

fn prompt_prefix<'a>(
    subject: &str,
    exemplars: impl Iterator<Item = &'a Question>,
    shots: usize,
) -> String {
    let mut out = header(subject);
    for q in exemplars.take(shots) {
        question_text(q, &mut out);
        out.push(' ');
        out.push_str(LETTERS[q.answer as usize]);
        out.push_str("\n\n");
    }
    out
}

impl Mmlu {
    fn load(config: &Config) -> Result<Self, AbiError> {
        let split = config.split.as_str();
        if !matches!(split, "test" | "dev" | "val") {
            return Err(AbiError::config(format!(
                "mmlu config: split {split:?} is not one of \"test\", \"dev\", \"val\""
            )));
        }
        if config.shots > MAX_SHOTS {
            return Err(AbiError::config(format!(
                "mmlu config: shots = {} is more than {MAX_SHOTS} (the dev split has five \
                 exemplars per subject)",
                config.shots
            )));
        }
        let shots = config.shots as usize;
        let root = files::resolve(&config.path, config.data_dir.as_deref())?;
        let split_dir = root.join(split);
        let mut names = list_subjects(&split_dir, split)?;
        if let Some(wanted) = &config.subjects {
            for name in wanted {
                if names.binary_search(name).is_err() {
                    return Err(AbiError::config(format!(
                        "mmlu config: unknown subject {name:?} (the subjects are the names of \
                         the *_{split}.csv files in {})",
                        split_dir.display()
                    )));
                }
            }
            names.retain(|n| wanted.contains(n));
        }
        let mut sums = Vec::new();
        let mut subjects = Vec::with_capacity(names.len());
        let mut order = Vec::new();
        for (s, name) in names.into_iter().enumerate() {
            let questions =
                read_questions(&root, &format!("{split}/{name}_{split}.csv"), &mut sums)?;
            // On the dev split the questions themselves are the exemplars.
            let dev = if shots == 0 || split == "dev" {
                Vec::new()
            } else {
                let rel = format!("dev/{name}_dev.csv");
                let dev = read_questions(&root, &rel, &mut sums)?;
                if dev.len() < shots {
                    return Err(AbiError::data(format!(
                        "{}: {} exemplars for {shots}-shot prompts, found {}",
                        root.join(&rel).display(),
                        shots,
                        dev.len()
                    )));
                }
                dev
            };
            let prefix = (split != "dev").then(|| prompt_prefix(&name, dev.iter(), shots));
            order.extend((0..questions.len() as u32).map(|q| (s as u32, q)));
            subjects.push(Subject { name, questions, prefix });
        }
        let source = format!(
            "{} ({} subjects, mmlu csv){}",
            split_dir.display(),
            subjects.len(),
            if shots > 0 && split != "dev" {
                format!(", {shots}-shot exemplars from {}", root.join("dev").display())
            } else {
                String::new()
            }
        );
        Ok(Self {
            split: split.to_string(),
            shots,
            subjects,
            order,
            source,
            checksum: files::checksum(&sums),
        })
    }
}

impl Benchmark for Mmlu {
    const PROCEDURE: LlamaCppProcedure = LlamaCppProcedure::MultipleChoice;

    fn info(&self) -> DatasetInfo {
        DatasetInfo {
            name: "mmlu".into(),
            split: split_name(&self.split).into(),
            len: self.order.len() as u64,
            metric: "acc".into(),
            source: self.source.as_str().into(),
            checksum: self.checksum.as_str().into(),
        }
    }

    fn task_count(&self) -> usize {
        self.order.len()
    }

    fn task(&self, index: u64, convention: Convention) -> Result<Task, AbiError> {
        let (s, q) = self.order[common::task_index(index, self.order.len())?];
        let subject = &self.subjects[s as usize];
        let question = &subject.questions[q as usize];
        let candidates: Vec<Candidate> = match convention {
            Convention::LM_EVAL => {
                let mut context = match &subject.prefix {
                    Some(prefix) => prefix.clone(),
                    None => {
                        let others = subject
                            .questions
                            .iter()
                            .take(self.shots + 1)
                            .filter(|other| *other != question);
                        prompt_prefix(&subject.name, others, self.shots)
                    }
                };
                question_text(question, &mut context);
                LETTERS
                    .iter()
                    .map(|l| Candidate {
                        context: context.as_str().into(),
                        continuation: format!(" {l}").into(),
                    })
                    .collect()
            }
            Convention::LLAMA_CPP => {
                if self.shots > 0 {
                    return Err(AbiError::unsupported(
                        "mmlu: llama.cpp's multiple-choice mode is 0-shot only; set shots = 0 \
                         for the llama-cpp convention",
                    ));
                }
                question
                    .choices
                    .iter()
                    .map(|choice| Candidate {
                        context: question.question.as_str().into(),
                        continuation: format!(" {choice}").into(),
                    })
                    .collect()
            }
            other => {
                return Err(AbiError::unsupported(format!(
                    "mmlu: unknown scoring convention {}",
                    other.0
                )));
            }
        };
        Ok(Task {
            id: format!("{}/{q}", subject.name).into(),
            group: subject.name.as_str().into(),
            gold: u32::from(question.answer),
            shape: TaskShape::CHOICE,
            candidates: candidates.into(),
        })
    }
}

/// The exported root module (in a module of its own: the macro's items carry no docs).
mod export {
    joulebench_abi::export_dataset_plugin!(super::new);
}
