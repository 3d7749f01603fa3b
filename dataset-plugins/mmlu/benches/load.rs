//! How long loading MMLU takes: the whole test split (57 files, 14042 questions), 0-shot and
//! 5-shot (which also reads the dev split and builds every subject's exemplar prefix).

use criterion::{Criterion, criterion_group, criterion_main};
use joulebench_abi::Dataset;
use joulebench_dataset_common::files::test_data_root;

fn load(c: &mut Criterion) {
    let root = test_data_root().display().to_string();
    let zero = format!("data_dir = {root:?}");
    let five = format!("data_dir = {root:?}\nshots = 5");
    let mut group = c.benchmark_group("mmlu");
    group.sample_size(20);
    group.bench_function("load test 0-shot", |b| {
        b.iter(|| joulebench_dataset_mmlu::new(&zero).map(|d| d.info().len).ok())
    });
    group.bench_function("load test 5-shot", |b| {
        b.iter(|| joulebench_dataset_mmlu::new(&five).map(|d| d.info().len).ok())
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
