//! How long loading HellaSwag takes: llama.cpp's text file, all 10042 items (7.8 MB), and
//! building all of them as tasks.

use criterion::{Criterion, criterion_group, criterion_main};
use joulebench_abi::{Convention, Dataset};
use joulebench_dataset_common::files::test_data_root;

fn load(c: &mut Criterion) {
    let config = format!("data_dir = {:?}", test_data_root().display().to_string());
    let mut group = c.benchmark_group("hellaswag");
    group.sample_size(20);
    group.bench_function("load validation (text file)", |b| {
        b.iter(|| joulebench_dataset_hellaswag::new(&config).map(|d| d.info().len).ok())
    });
    let d = joulebench_dataset_hellaswag::new(&config).ok();
    if let Some(d) = d {
        let all: Vec<u64> = (0..d.info().len).collect();
        group.bench_function("build all tasks (lm-eval)", |b| {
            b.iter(|| {
                d.tasks(all.as_slice().into(), Convention::LM_EVAL).into_result().map(|t| t.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
