//! Both runtimes on the same 100 HellaSwag validation tasks in one process, reporting tokens/s
//! (prompt tokens evaluated, each task's shared prefix counted once) for each.
//!
//! `cargo bench -p joulebench-runtime-burn --bench compare`; `BENCH_MODEL` picks the model file
//! (SmolLM2 by default). A single timed pass over all 100 tasks per runtime is printed first,
//! then criterion measures batches of 10 of those tasks (throughput in tokens).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use criterion::{Criterion, SamplingMode, Throughput};
use joulebench_abi::{ModelSpec, Task};

fn main() {
    let name = std::env::var("BENCH_MODEL").unwrap_or_else(|_| common::SMOLLM2.to_string());
    let spec = ModelSpec {
        id: name.clone().into(),
        path: common::model_path(&name).display().to_string().into(),
        options: "".into(),
    };
    let tasks: Vec<Task> = common::hellaswag(0, 100, 100);
    let mut llama = joulebench_runtime_llama_cpp::new("").unwrap().load(&spec).unwrap();
    let mut burn = joulebench_runtime_burn::new("").unwrap().load(&spec).unwrap();
    // warm-up
    llama.evaluate_tasks(&tasks[..2]).unwrap();
    burn.evaluate_tasks(&tasks[..2]).unwrap();

    let t = Instant::now();
    let tokens_llama = llama.evaluate_tasks(&tasks).unwrap().counters.prompt_tokens;
    let secs_llama = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let tokens_burn = burn.evaluate_tasks(&tasks).unwrap().counters.prompt_tokens;
    let secs_burn = t.elapsed().as_secs_f64();
    let rate_llama = tokens_llama as f64 / secs_llama;
    let rate_burn = tokens_burn as f64 / secs_burn;
    println!("{name}, 100 HellaSwag tasks ({tokens_llama} tokens):");
    println!("  llama.cpp: {secs_llama:8.2} s  {rate_llama:8.1} tokens/s");
    println!(
        "  burn:      {secs_burn:8.2} s  {rate_burn:8.1} tokens/s  ({:.2} x llama.cpp)",
        rate_burn / rate_llama
    );

    let mut c = Criterion::default().configure_from_args().sample_size(10);
    let mut group = c.benchmark_group(format!("hellaswag-10-tasks/{name}"));
    group.sampling_mode(SamplingMode::Flat);
    let chunks: Vec<&[Task]> = tasks.chunks(10).collect();
    let tokens: u64 = llama.evaluate_tasks(chunks[0]).unwrap().counters.prompt_tokens;
    group.throughput(Throughput::Elements(tokens));
    group.bench_function("llama.cpp", |b| b.iter(|| llama.evaluate_tasks(chunks[0]).unwrap()));
    group.bench_function("burn", |b| b.iter(|| burn.evaluate_tasks(chunks[0]).unwrap()));
    group.finish();
    c.final_summary();
}
