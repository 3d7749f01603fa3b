//! An experiment's identity: a resume after a plugin was rebuilt with a bumped version, or after
//! the model file was swapped, is refused with the changed part named, and never mixes two
//! systems in one result; `--fresh` starts the experiment again.

use std::path::{Path, PathBuf};

use joulebench::manifest::Manifest;
use joulebench::runner::{RunOptions, run};
use joulebench::store::Store;

use crate::util::{built, data_dir};

/// One Winogrande experiment of 4 tasks in batches of 2, on SmolLM2 at `model`, measured by the
/// versioned test meter found in `meter_dir`.
fn manifest(dir: &Path, meter_dir: &Path, model: &Path) -> Manifest {
    let lib = |name: &str| built(name).display().to_string();
    let text = format!(
        r#"
[settings]
results = "{results}"
idle_s = 0
plugin_dir = "{meter_dir}"

[[plugin]]
id = "llama"
kind = "runtime"
library = "{llama}"
config = {{ threads = 1, context_size = 2048 }}

[[plugin]]
id = "winogrande"
kind = "dataset"
library = "{winogrande}"
config = {{ data_dir = "{data}" }}

[[plugin]]
id = "meter"
kind = "meter"
library = "joulebench_test_versioned_meter"

[[model]]
id = "smollm2"
path = "{model}"

[[experiment]]
id = "identity"
runtime = "llama"
model = "smollm2"
dataset = "winogrande"
meter = "meter"
limit = 4
batch_tasks = 2
warmup_tasks = 0
"#,
        results = dir.join("results.sqlite").display(),
        meter_dir = meter_dir.display(),
        llama = lib("joulebench_runtime_llama_cpp"),
        winogrande = lib("joulebench_dataset_winogrande"),
        data = data_dir().display(),
        model = model.display(),
    );
    Manifest::parse(&dir.join("plugins.toml"), text).expect("the test manifest parses")
}

/// A folder holding one build of the versioned meter under the name the manifest uses.
fn meter_build(dir: &Path, folder: &str, built_as: &str) -> PathBuf {
    let to = dir.join(folder);
    std::fs::create_dir_all(&to).unwrap();
    std::fs::copy(built(built_as), to.join("libjoulebench_test_versioned_meter.so")).unwrap();
    to
}

fn interrupted() -> RunOptions {
    RunOptions { max_batches: Some(1), ..RunOptions::default() }
}

fn task_count(dir: &Path) -> Vec<(String, usize)> {
    let store = Store::open(&dir.join("results.sqlite")).unwrap();
    store
        .summaries()
        .unwrap()
        .into_iter()
        .map(|(id, name, _)| (name, store.tasks(id).unwrap().len()))
        .collect()
}

#[test]
fn a_resume_after_a_plugin_rebuild_with_a_bumped_version_is_refused() {
    let _one_at_a_time = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let v1 = meter_build(dir.path(), "v1", "joulebench_test_versioned_meter");
    let v2 = meter_build(dir.path(), "v2", "joulebench_test_versioned_meter_v2");
    let model = crate::util::smollm2();

    let first = run(&manifest(dir.path(), &v1, &model), &interrupted()).unwrap();
    assert_eq!(first.failed.len(), 1, "the first run stops after one batch");

    let rebuilt = manifest(dir.path(), &v2, &model);
    let refused = run(&rebuilt, &RunOptions::default()).unwrap();
    let (_, error) = &refused.failed[0];
    assert!(error.contains("holds 2 tasks measured on another system"), "{error}");
    assert!(
        error.contains("the meter plugin changed: joulebench-test-versioned-meter 1.0.0 (build ")
            && error.contains("-> joulebench-test-versioned-meter 2.0.0 (build "),
        "{error}"
    );
    assert!(error.contains("joulebench run --fresh"), "{error}");
    assert!(task_count(dir.path()).is_empty(), "nothing finished, nothing mixed");

    // The old build again: the experiment resumes where it stopped.
    let resumed = run(&manifest(dir.path(), &v1, &model), &RunOptions::default()).unwrap();
    assert!(resumed.failed.is_empty(), "{:?}", resumed.failed);
    assert_eq!(task_count(dir.path()), [("identity".to_string(), 4)]);
}

#[test]
fn a_resume_after_the_model_file_was_swapped_is_refused_and_fresh_starts_again() {
    let _one_at_a_time = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let meters = meter_build(dir.path(), "v1", "joulebench_test_versioned_meter");
    let model = dir.path().join("model.gguf");
    std::fs::copy(crate::util::smollm2(), &model).unwrap();
    let m = manifest(dir.path(), &meters, &model);

    let first = run(&m, &interrupted()).unwrap();
    assert_eq!(first.failed.len(), 1, "the first run stops after one batch");

    // Another file at the same path: the same model with one byte of padding appended, which
    // llama.cpp still loads but which is not the file the first tasks were measured with.
    let mut bytes = std::fs::read(crate::util::smollm2()).unwrap();
    bytes.push(0);
    std::fs::write(&model, bytes).unwrap();
    let refused = run(&m, &RunOptions::default()).unwrap();
    let (_, error) = &refused.failed[0];
    assert!(error.contains("the model file changed: sha256 "), "{error}");
    assert!(!error.contains("plugin changed"), "{error}");

    let fresh = run(&m, &RunOptions { fresh: true, ..RunOptions::default() }).unwrap();
    assert!(fresh.failed.is_empty(), "{:?}", fresh.failed);
    // Only the fresh experiment is reported: four tasks, all measured on the new file.
    assert_eq!(task_count(dir.path()), [("identity".to_string(), 4)]);
    let store = Store::open(&dir.path().join("results.sqlite")).unwrap();
    let (id, _, _) = store.summaries().unwrap().remove(0);
    assert!(store.tasks(id).unwrap().iter().all(|t| t.segment == 0), "one segment, no mixing");
}
