//! The latency pass on a runtime with known delays: a one-task latency is the time one task
//! takes alone in its own call, not a batch's time divided by its tasks.

use joulebench::manifest::Manifest;
use joulebench::runner::{RunOptions, run};

use crate::util::{built, data_dir};

/// A manifest of one Winogrande experiment of 8 tasks on the scripted runtime in `dir`.
fn scripted_manifest(dir: &std::path::Path) -> String {
    let model = dir.join("model.bin");
    std::fs::write(&model, b"not read by the scripted runtime").unwrap();
    // Each call: 40 ms + 10 ms per task. Batches of 4: 80 ms for 4 tasks (20 ms each, T/N);
    // alone: 50 ms per task.
    format!(
        r#"
[settings]
results = "{results}"
idle_s = 0

[[plugin]]
id = "scripted"
kind = "runtime"
library = "{scripted}"
config = {{ call_ms = 40, task_ms = 10 }}

[[plugin]]
id = "winogrande"
kind = "dataset"
library = "{winogrande}"
config = {{ data_dir = "{data}" }}

[[plugin]]
id = "meter"
kind = "meter"
library = "{meter}"

[[model]]
id = "m"
path = "{model}"

[[experiment]]
id = "latency"
runtime = "scripted"
model = "m"
dataset = "winogrande"
meter = "meter"
limit = 8
batch_tasks = 4
warmup_tasks = 0
latency_tasks = 6
"#,
        results = dir.join("r.sqlite").display(),
        scripted = built("joulebench_test_scripted").display(),
        winogrande = built("joulebench_dataset_winogrande").display(),
        meter = built("joulebench_test_versioned_meter").display(),
        data = data_dir().display(),
        model = model.display(),
    )
}

#[test]
fn one_task_latency_is_measured_alone_and_t_over_n_stays_the_batched_figure() {
    // Not beside a test running the real model, whose threads would stretch the sleeps.
    let _one_at_a_time = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let manifest =
        Manifest::parse(&dir.path().join("m.toml"), scripted_manifest(dir.path())).unwrap();
    let outcome = run(&manifest, &RunOptions::default()).unwrap();
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    let m = &outcome.finished[0].metrics;
    // Sleeps are lower bounds; a busy machine adds a little.
    let t_over_n = m.latency_s_per_inference;
    assert!((0.020..0.040).contains(&t_over_n), "T/N {t_over_n}");
    for (name, p) in [("p50", m.latency_p50_s), ("p95", m.latency_p95_s), ("p99", m.latency_p99_s)]
    {
        let p = p.unwrap_or_else(|| panic!("{name} missing"));
        assert!((0.050..0.090).contains(&p), "{name} {p}");
    }
    // The latency pass is a phase of its own, outside the evaluation's time and energy.
    assert!((m.eval_time_s - 0.160).abs() < 0.05, "{}", m.eval_time_s);
    let store = joulebench::store::Store::open(&dir.path().join("r.sqlite")).unwrap();
    let (id, _, _) = store.summaries().unwrap().remove(0);
    assert_eq!(store.latencies(id).unwrap().len(), 6);
    let names: Vec<String> = store.phases(id).unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["load", "evaluation", "latency"]);
}

#[test]
fn without_a_terminal_progress_is_plain_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    std::fs::write(&path, scripted_manifest(dir.path())).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_joulebench"))
        .arg("run")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("latency")).collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert_eq!(lines[0], "latency: starting (8 of 8 tasks to run)");
    assert_eq!(lines[1], "latency: evaluating 8 tasks");
    // The end line carries the figures so far; the test meter reads a constant 5 W.
    assert!(lines[2].starts_with("latency: evaluated 8 tasks in "), "{}", lines[2]);
    assert!(lines[2].ends_with("5.0 W"), "{}", lines[2]);
}
