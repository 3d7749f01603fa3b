//! Scoring speed on HellaSwag-shaped tasks against llama.cpp's raw prompt processing.
//!
//! `evaluate` scores real HellaSwag tasks (llama.cpp's 6-line file, four endings each) through
//! the packed, prefix-shared path, log-softmax included. `raw_decode` runs `llama_decode` on the
//! same number of tokens (the tasks' own tokens, one sequence of 512 at a time, as llama-bench's
//! pp512 does, logits for the last token only). Criterion reports both in tokens/s; a summary
//! line gives tasks/s and the ratio.
//!
//! `cargo bench -p joulebench-runtime-llama-cpp --bench evaluate` (env `BENCH_TASKS`, default 48;
//! `BENCH_THREADS`, default all cores; `BENCH_CONFIG`, more runtime config as TOML;
//! `BENCH_QUICK=1` skips criterion and prints the summary only).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use joulebench_abi::{Candidate, ModelSpec, Task, TaskShape};
use joulebench_runtime_llama_cpp::{LlamaCppModel, new};

fn path_from_env(var: &str, fallback: PathBuf) -> PathBuf {
    std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or(fallback)
}

fn model_path() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let cache = path_from_env("XDG_CACHE_HOME", home.join(".cache")).join("joulebench/models");
    let p = path_from_env("JOULEBENCH_MODELS", cache).join("SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(p.is_file(), "{} is missing: run `cargo xtask fetch-models`", p.display());
    p
}

fn hellaswag(n: usize) -> Vec<Task> {
    let data = path_from_env(
        "JOULEBENCH_DATA",
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/datasets")),
    );
    let path = data.join("hellaswag/hellaswag_val_full.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    (0..n)
        .map(|i| {
            let l = &lines[i * 6..i * 6 + 6];
            Task {
                id: format!("hellaswag-{i}").into(),
                group: "".into(),
                gold: l[1].parse().unwrap(),
                shape: TaskShape::CHOICE,
                candidates: l[2..6]
                    .iter()
                    .map(|e| Candidate {
                        context: l[0].into(),
                        continuation: format!(" {e}").into(),
                    })
                    .collect(),
            }
        })
        .collect()
}

fn load() -> LlamaCppModel {
    let threads = std::env::var("BENCH_THREADS").ok().and_then(|t| t.parse::<u32>().ok());
    let mut config = threads.map(|t| format!("threads = {t}\n")).unwrap_or_default();
    config += &std::env::var("BENCH_CONFIG").unwrap_or_default();
    let runtime = new(&config).expect("config");
    let spec = ModelSpec {
        id: "smollm2".into(),
        path: model_path().to_string_lossy().into_owned().into(),
        options: "".into(),
    };
    runtime.load(&spec).expect("load")
}

fn main() {
    let n_tasks = std::env::var("BENCH_TASKS").ok().and_then(|t| t.parse().ok()).unwrap_or(48);
    let tasks = hellaswag(n_tasks);
    let mut model = load();
    let warm = model.evaluate_tasks(&tasks).expect("evaluate");
    let tokens = warm.counters.prompt_tokens;
    // the raw path decodes the very tokens the evaluation decoded (prefix once, then endings)
    let mut raw_tokens: Vec<i32> = Vec::new();
    for t in warm.tasks.iter() {
        let c = t.common_prefix as usize;
        raw_tokens.extend_from_slice(&t.candidates[0].tokens[..c]);
        for cand in t.candidates.iter() {
            raw_tokens.extend_from_slice(&cand.tokens[c..]);
        }
    }
    assert_eq!(raw_tokens.len() as u64, tokens);
    model.raw_decode(&raw_tokens, 512).expect("raw decode");
    eprintln!(
        "{n_tasks} HellaSwag tasks, {tokens} tokens decoded, {} threads, {} context",
        model.model_info().threads,
        model.model_info().context_size
    );

    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20))
        .configure_from_args();
    if !quick {
        let mut group = c.benchmark_group("hellaswag");
        group.throughput(Throughput::Elements(tokens));
        group.bench_function("evaluate", |b| b.iter(|| model.evaluate_tasks(&tasks).unwrap()));
        group.bench_function("raw_decode", |b| {
            b.iter(|| model.raw_decode(&raw_tokens, 512).unwrap())
        });
        group.finish();
    }

    // one summary, measured back to back
    let reps = 3;
    let (mut eval_s, mut raw_s) = (0.0, 0.0);
    for _ in 0..reps {
        let t = Instant::now();
        model.evaluate_tasks(&tasks).unwrap();
        eval_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        model.raw_decode(&raw_tokens, 512).unwrap();
        raw_s += t.elapsed().as_secs_f64();
    }
    let (eval_s, raw_s) = (eval_s / reps as f64, raw_s / reps as f64);
    println!(
        "summary: evaluate {:.2} tasks/s, {:.0} tokens/s; raw llama_decode {:.0} tokens/s; evaluate/raw = {:.1} %",
        n_tasks as f64 / eval_s,
        tokens as f64 / eval_s,
        tokens as f64 / raw_s,
        100.0 * raw_s / eval_s
    );
    c.final_summary();
}
