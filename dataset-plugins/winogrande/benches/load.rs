//! How long loading Winogrande takes: the release's dev.jsonl (1267 items), with and without
//! the separate labels file.

use criterion::{Criterion, criterion_group, criterion_main};
use joulebench_abi::Dataset;
use joulebench_dataset_common::files::test_data_root;

fn load(c: &mut Criterion) {
    let root = test_data_root().display().to_string();
    let plain = format!("data_dir = {root:?}");
    let labelled = format!("data_dir = {root:?}\nlabels = \"winogrande/dev-labels.lst\"");
    let mut group = c.benchmark_group("winogrande");
    group.bench_function("load dev.jsonl", |b| {
        b.iter(|| joulebench_dataset_winogrande::new(&plain).map(|d| d.info().len).ok())
    });
    group.bench_function("load dev.jsonl + dev-labels.lst", |b| {
        b.iter(|| joulebench_dataset_winogrande::new(&labelled).map(|d| d.info().len).ok())
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
