//! The warm-up that lasts until power settles (`warmup_stable`), end to end: the Pi 5 PMIC meter
//! reads a stand-in `vcgencmd` that replays a recorded reply with every current scaled by a
//! factor of the time since its first call. A draw that falls towards a steady value ends the
//! warm-up once two windows agree; one that keeps climbing runs to `max_s` and flags the
//! experiment with both powers.

use std::path::{Path, PathBuf};

use joulebench::manifest::Manifest;
use joulebench::runner::{RunOptions, run};
use joulebench::store::Store;
use joulebench_measure::Provenance;

use crate::util::{built, data_dir};

/// A stand-in for `vcgencmd pmic_read_adc` in `dir`: the recorded reply, currents times
/// `factor` (an awk expression of `s`, the seconds since the first call).
fn pmic(dir: &Path, factor: &str) -> PathBuf {
    let capture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../meter-plugins/pi5-pmic/tests/fixtures/capture-a.txt");
    let script = dir.join("vcgencmd");
    let start = dir.join("start");
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
now=$(date +%s.%N)
[ -f "{start}" ] || echo "$now" > "{start}"
awk -v now="$now" -v t0="$(cat "{start}")" '
  BEGIN {{ s = now - t0; f = {factor} }}
  /current\(/ {{ split($0, a, "="); v = substr(a[2], 1, length(a[2]) - 1); printf "%s=%.8fA\n", a[1], v * f; next }}
  {{ print }}' "{capture}"
"#,
            start = start.display(),
            capture = capture.display(),
        ),
    )
    .unwrap();
    std::process::Command::new("chmod").arg("+x").arg(&script).status().unwrap();
    script
}

fn manifest(dir: &Path, script: &Path, stable: &str) -> Manifest {
    let model = dir.join("model.bin");
    std::fs::write(&model, b"not read by the scripted runtime").unwrap();
    let text = format!(
        r#"
[settings]
results = "r.sqlite"
idle_s = 0

[[plugin]]
id = "scripted"
kind = "runtime"
library = "{scripted}"
config = {{ call_ms = 100, task_ms = 5 }}

[[plugin]]
id = "winogrande"
kind = "dataset"
library = "{winogrande}"
config = {{ data_dir = "{data}" }}

[[plugin]]
id = "pmic"
kind = "meter"
library = "{pmic}"
config = {{ command = ["{script}"] }}

[[model]]
id = "m"
path = "{model}"

[[experiment]]
id = "w"
runtime = "scripted"
model = "m"
dataset = "winogrande"
meter = "pmic"
limit = 4
batch_tasks = 2
warmup_tasks = 2
warmup_stable = {stable}
latency_tasks = 0
sample_hz = 10
"#,
        scripted = built("joulebench_test_scripted").display(),
        winogrande = built("joulebench_dataset_winogrande").display(),
        pmic = built("joulebench_meter_pi5_pmic").display(),
        script = script.display(),
        data = data_dir().display(),
        model = model.display(),
    );
    let path = dir.join("m.toml");
    std::fs::write(&path, &text).unwrap();
    Manifest::parse(&path, text).unwrap()
}

/// The finished experiment's warm-up outcome, its warm-up phase's length and its flags.
fn outcome(dir: &Path) -> (joulebench_measure::warmup::WarmupOutcome, f64, Vec<String>) {
    let store = Store::open(&dir.join("r.sqlite")).unwrap();
    let (id, _, summary) = store.summaries().unwrap().into_iter().next().unwrap();
    let provenance = Provenance::from_json(&store.provenance(id).unwrap()).unwrap();
    let warm = store.phases(id).unwrap().into_iter().find(|p| p.name == "warm-up").unwrap();
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    let flags = summary["flags"].as_array().unwrap();
    let flags = flags.iter().map(|f| f.as_str().unwrap().to_string()).collect();
    (provenance.warmup.unwrap(), warm.t1_s - warm.t0_s, flags)
}

#[test]
fn a_falling_draw_ends_the_warm_up_once_it_settles() {
    let dir = tempfile::tempdir().unwrap();
    // 1.6 times the recorded draw, falling to it with a 1 s time constant: two 1 s windows
    // agree within 2 % from about 4.4 s on.
    let script = pmic(dir.path(), "1 + 0.6 * exp(-s)");
    let m = manifest(dir.path(), &script, "{ within = 0.02, window_s = 1, max_s = 30 }");
    let done = run(&m, &RunOptions::default()).unwrap();
    assert!(done.failed.is_empty(), "{:?}", done.failed);
    let (w, phase_s, flags) = outcome(dir.path());
    eprintln!("settled warm-up: {w:?}, phase {phase_s:.2} s");
    let last = w.last.unwrap();
    assert!(last.settled, "{w:?}");
    assert!((last.later_w - last.earlier_w).abs() <= 0.02 * last.earlier_w, "{w:?}");
    // Not before the draw has settled, and long before max_s.
    assert!(w.seconds >= 3.0 && w.seconds < 15.0, "{w:?}");
    assert!(w.calls >= 10, "one call is about 0.11 s: {w:?}");
    assert!((phase_s - w.seconds).abs() < 0.5, "phase {phase_s} s, warm-up {w:?}");
    assert!(!flags.iter().any(|f| f.starts_with("warm-up")), "{flags:?}");
}

#[test]
fn a_draw_that_keeps_climbing_runs_to_max_s_and_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    // 10 % more every second: two 1 s windows always differ by about 10 %.
    let script = pmic(dir.path(), "1 + 0.1 * s");
    let m = manifest(dir.path(), &script, "{ within = 0.02, window_s = 1, max_s = 3 }");
    let done = run(&m, &RunOptions::default()).unwrap();
    assert!(done.failed.is_empty(), "{:?}", done.failed);
    let (w, _, flags) = outcome(dir.path());
    eprintln!("unsettled warm-up: {w:?}, flags {flags:?}");
    assert!(!w.settled() && w.seconds >= 3.0 && w.seconds < 4.0, "{w:?}");
    let last = w.last.unwrap();
    assert!(last.later_w > 1.05 * last.earlier_w, "{w:?}");
    let flag = flags.iter().find(|f| f.starts_with("warm-up not settled")).expect("flagged");
    assert!(flag.contains("more than 2.0 %") && flag.contains("1 s windows"), "{flag}");
}

#[test]
fn a_stable_warm_up_needs_warm_up_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let script = pmic(dir.path(), "1");
    let text = std::fs::read_to_string(
        manifest(dir.path(), &script, "{ within = 0.02, window_s = 1, max_s = 3 }").path,
    )
    .unwrap()
    .replace("warmup_tasks = 2", "warmup_tasks = 0");
    let err = Manifest::parse(&dir.path().join("m.toml"), text).unwrap_err().to_string();
    assert!(err.contains("m.toml:") && err.contains("set warmup_tasks to at least 1"), "{err}");
}
