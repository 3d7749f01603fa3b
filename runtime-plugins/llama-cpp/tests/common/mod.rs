//! Shared helpers: the real model, the real data, and tasks of each benchmark shape.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use joulebench_abi::{Candidate, ModelSpec, Task, TaskShape};
use joulebench_runtime_llama_cpp::{LlamaCppModel, new};

/// Tests that run the model take turns: the machine has few cores.
static MODEL_LOCK: Mutex<()> = Mutex::new(());

pub fn model_lock() -> MutexGuard<'static, ()> {
    MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn models_dir() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(d) = var("JOULEBENCH_MODELS") {
        return d;
    }
    if let Some(d) = var("XDG_CACHE_HOME") {
        return d.join("joulebench/models");
    }
    var("HOME").expect("HOME is not set").join(".cache/joulebench/models")
}

/// The default model; fails with the command that fetches it when it is absent.
pub fn smollm2_path() -> PathBuf {
    let p = models_dir().join("SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(p.is_file(), "{} is missing: run `cargo xtask fetch-models`", p.display());
    p
}

pub fn data_dir() -> PathBuf {
    let dir = match std::env::var_os("JOULEBENCH_DATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/datasets")),
    };
    assert!(
        dir.is_dir(),
        "benchmark data not found at {}: set JOULEBENCH_DATA to the datasets folder",
        dir.display()
    );
    dir
}

pub fn load(config: &str) -> LlamaCppModel {
    let runtime = new(config).expect("runtime config");
    let spec = ModelSpec {
        id: "smollm2".into(),
        path: smollm2_path().to_string_lossy().into_owned().into(),
        options: "".into(),
    };
    runtime.load(&spec).expect("load SmolLM2")
}

fn task(id: String, shape: TaskShape, gold: u32, cands: Vec<(String, String)>) -> Task {
    Task {
        id: id.into(),
        group: "".into(),
        gold,
        shape,
        candidates: cands
            .into_iter()
            .map(|(context, continuation)| Candidate {
                context: context.into(),
                continuation: continuation.into(),
            })
            .collect(),
    }
}

/// HellaSwag tasks from llama.cpp's 6-line file: context, gold, four endings (scored as
/// `" " + ending`).
pub fn hellaswag(skip: usize, n: usize) -> Vec<Task> {
    let path = data_dir().join("hellaswag/hellaswag_val_full.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    (skip..skip + n)
        .map(|i| {
            let l = &lines[i * 6..i * 6 + 6];
            let cands = l[2..6].iter().map(|e| (l[0].to_string(), format!(" {e}"))).collect();
            task(format!("hellaswag-{i}"), TaskShape::CHOICE, l[1].parse().unwrap(), cands)
        })
        .collect()
}

fn json_field(line: &str, key: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v[key].as_str().unwrap().to_string()
}

/// Winogrande tasks in lm-evaluation-harness's partial form: contexts `sentence[:_] + option`,
/// shared continuation `" " + sentence[_+1:].strip()`.
pub fn winogrande(skip: usize, n: usize) -> Vec<Task> {
    let path = data_dir().join("winogrande/dev.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(skip)
        .take(n)
        .map(|line| {
            let sentence = json_field(line, "sentence");
            let idx = sentence.find('_').unwrap();
            let rest = format!(" {}", sentence[idx + 1..].trim());
            let cands = ["option1", "option2"]
                .iter()
                .map(|o| (format!("{}{}", &sentence[..idx], json_field(line, o)), rest.clone()))
                .collect();
            let gold = json_field(line, "answer").parse::<u32>().unwrap() - 1;
            task(json_field(line, "qID"), TaskShape::PARTIAL, gold, cands)
        })
        .collect()
}

/// MMLU 0-shot tasks (lm-evaluation-harness's prompt, continuations " A".." D") from the rows of
/// a test file that hold no quoted field.
pub fn mmlu(subject: &str, n: usize) -> Vec<Task> {
    let path = data_dir().join(format!("mmlu/test/{subject}_test.csv"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let title = subject.replace('_', " ");
    text.lines()
        .filter(|l| !l.contains('"') && l.split(',').count() == 6)
        .take(n)
        .enumerate()
        .map(|(i, l)| {
            let f: Vec<&str> = l.trim_end_matches('\r').split(',').collect();
            let prompt = format!(
                "The following are multiple choice questions (with answers) about {title}.\n\n{}\nA. {}\nB. {}\nC. {}\nD. {}\nAnswer:",
                f[0].trim(),
                f[1],
                f[2],
                f[3],
                f[4]
            );
            let gold = (f[5].as_bytes()[0] - b'A') as u32;
            let cands = [" A", " B", " C", " D"].iter().map(|c| (prompt.clone(), c.to_string())).collect();
            task(format!("{subject}-{i}"), TaskShape::CHOICE, gold, cands)
        })
        .collect()
}

/// Tasks of the three shapes, interleaved.
pub fn mixed_tasks() -> Vec<Task> {
    let mut hs = hellaswag(0, 4).into_iter();
    let mut wg = winogrande(0, 4).into_iter();
    let mut mm = mmlu("high_school_geography", 3).into_iter();
    let mut out = Vec::new();
    loop {
        let before = out.len();
        out.extend(hs.next());
        out.extend(wg.next());
        out.extend(mm.next());
        if out.len() == before {
            return out;
        }
    }
}
