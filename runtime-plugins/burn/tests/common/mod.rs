//! Real benchmark tasks and model paths for the integration tests and the benchmark.
#![allow(dead_code)]

use std::path::PathBuf;

use joulebench_abi::{Candidate, Task, TaskShape};

/// The data folder: `$JOULEBENCH_DATA`, else `shared/datasets` beside the workspace.
pub fn data_dir() -> PathBuf {
    let dir = match std::env::var_os("JOULEBENCH_DATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/datasets")),
    };
    assert!(dir.is_dir(), "no benchmark data at {}: set JOULEBENCH_DATA", dir.display());
    dir
}

/// The models folder, as `cargo xtask fetch-models` fills it.
pub fn models_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("JOULEBENCH_MODELS") {
        return d.into();
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("joulebench/models");
    }
    PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/joulebench/models")
}

/// A model file, or a failure telling how to fetch it.
pub fn model_path(name: &str) -> PathBuf {
    let p = models_dir().join(name);
    assert!(p.exists(), "{} is missing: run `cargo xtask fetch-models`", p.display());
    p
}

/// SmolLM2's file name.
pub const SMOLLM2: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// Gemma 3's file name.
pub const GEMMA3: &str = "gemma-3-270m-q4_k_m.gguf";

fn read(rel: &str) -> String {
    let p = data_dir().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `n` HellaSwag validation tasks, every `step`-th record from `first` (6-line records:
/// context, gold label, 4 endings; a candidate is `context + " " + ending`).
pub fn hellaswag(first: usize, step: usize, n: usize) -> Vec<Task> {
    let text = read("hellaswag/hellaswag_val_full.txt");
    let lines: Vec<&str> = text.lines().collect();
    let records = lines.len() / 6;
    (0..n)
        .map(|i| first + i * step)
        .take_while(|&r| r < records)
        .map(|r| {
            let rec = &lines[r * 6..r * 6 + 6];
            Task {
                id: r.to_string().into(),
                group: "".into(),
                gold: rec[1].trim().parse().unwrap(),
                shape: TaskShape::CHOICE,
                candidates: rec[2..6]
                    .iter()
                    .map(|e| Candidate {
                        context: rec[0].into(),
                        continuation: format!(" {e}").into(),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// `n` Winogrande dev tasks, every `step`-th, with lm-evaluation-harness's partial scoring.
pub fn winogrande(step: usize, n: usize) -> Vec<Task> {
    let text = read("winogrande/dev.jsonl");
    text.lines()
        .step_by(step)
        .take(n)
        .enumerate()
        .map(|(i, line)| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let s = v["sentence"].as_str().unwrap();
            let idx = s.find('_').unwrap();
            let rest = s[idx + 1..].trim();
            let options = [v["option1"].as_str().unwrap(), v["option2"].as_str().unwrap()];
            Task {
                id: i.to_string().into(),
                group: "".into(),
                gold: v["answer"].as_str().unwrap().parse::<u32>().unwrap() - 1,
                shape: TaskShape::PARTIAL,
                candidates: options
                    .iter()
                    .map(|o| Candidate {
                        context: format!("{}{o}", &s[..idx]).into(),
                        continuation: format!(" {rest}").into(),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// RFC 4180 records (quoted fields with doubled quotes and newlines).
fn csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            c => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// `n` MMLU test tasks, every `step`-th over the subjects in name order, 0-shot prompt.
pub fn mmlu(step: usize, n: usize) -> Vec<Task> {
    let dir = data_dir().join("mmlu/test");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut all = Vec::new();
    for f in files {
        let subject = f
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches("_test.csv")
            .replace('_', " ");
        for r in csv(&std::fs::read_to_string(&f).unwrap()) {
            all.push((subject.clone(), r));
        }
    }
    all.iter()
        .step_by(step)
        .take(n)
        .enumerate()
        .map(|(i, (subject, r))| {
            let prompt = format!(
                "The following are multiple choice questions (with answers) about {subject}.\n\n{}\nA. {}\nB. {}\nC. {}\nD. {}\nAnswer:",
                r[0].trim(),
                r[1],
                r[2],
                r[3],
                r[4]
            );
            Task {
                id: i.to_string().into(),
                group: subject.clone().into(),
                gold: u32::from(r[5].as_bytes()[0] - b'A'),
                shape: TaskShape::CHOICE,
                candidates: ["A", "B", "C", "D"]
                    .iter()
                    .map(|l| Candidate { context: prompt.clone().into(), continuation: format!(" {l}").into() })
                    .collect(),
            }
        })
        .collect()
}
