//! A run killed with SIGKILL at several points and resumed ends with the same results, task for
//! task, as a run that was never interrupted.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use joulebench::store::{Store, TaskRecord};

use crate::util::smollm2_manifest;

const ESTIMATE: &str = "[[plugin]]\nid = \"meter\"\nkind = \"meter\"\nlibrary = \"joulebench_meter_estimate\"\nconfig = {}\n";
const TASKS: u32 = 10;

fn write_manifest(dir: &Path, name: &str) -> std::path::PathBuf {
    crate::util::built("joulebench_meter_estimate");
    let results = dir.join(format!("{name}.sqlite"));
    let text = smollm2_manifest(
        &results,
        ESTIMATE,
        TASKS,
        "idle_s = 0.2",
        // No one-at-a-time latency pass: the kills land in the batched evaluation, which is what
        // resumes; the pass would double the model's work for nothing checked here.
        "warmup_tasks = 1\nbatch_tasks = 2\nlatency_tasks = 0",
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn joulebench(manifest: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_joulebench"));
    cmd.args(["run", "--quiet"]).arg(manifest).stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

fn stored(results: &Path) -> u64 {
    if !results.exists() {
        return 0;
    }
    Store::open(results).and_then(|s| s.task_count()).unwrap_or(0)
}

/// Every task of every experiment, by experiment name and position.
fn results(path: &Path) -> Vec<(String, Vec<TaskRecord>)> {
    let store = Store::open(path).unwrap();
    store
        .summaries()
        .unwrap()
        .into_iter()
        .map(|(id, name, _)| (name, store.tasks(id).unwrap()))
        .collect()
}

#[test]
fn a_killed_run_resumes_to_the_uninterrupted_result() {
    let _one_at_a_time = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let straight = write_manifest(dir.path(), "straight");
    assert!(joulebench(&straight).status().unwrap().success());
    let expected = results(&dir.path().join("straight.sqlite"));
    assert_eq!(expected.len(), 3);

    let killed = write_manifest(dir.path(), "killed");
    let db = dir.path().join("killed.sqlite");
    // Kill during start-up (idle or model load), then each time a few more tasks are stored.
    let mut kills = 0;
    for until in [0u64, 3, 9, 14, 21] {
        let mut child = joulebench(&killed).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if stored(&db) >= until || Instant::now() > deadline {
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills >= 3, "the run finished before it could be killed often enough ({kills} kills)");
    assert!(joulebench(&killed).status().unwrap().success());
    let got = results(&db);
    assert_eq!(got.len(), expected.len());
    for ((name, tasks), (_, want)) in got.iter().zip(&expected) {
        assert_eq!(tasks.len(), TASKS as usize, "{name}");
        for (t, w) in tasks.iter().zip(want) {
            assert_eq!(
                (t.position, &t.task_id, t.gold, t.predicted, t.correct, t.predicted_norm),
                (w.position, &w.task_id, w.gold, w.predicted, w.correct, w.predicted_norm),
                "{name}"
            );
            for (a, b) in t.scores.iter().zip(&w.scores) {
                assert!((a - b).abs() < 1e-4, "{name} task {}: {a} vs {b}", t.task_id);
            }
        }
    }
    // The resumed experiments ran in more than one segment.
    let segments: std::collections::BTreeSet<u32> =
        got.iter().flat_map(|(_, t)| t.iter().map(|r| r.segment)).collect();
    assert!(segments.len() > 1, "{segments:?}");
}
