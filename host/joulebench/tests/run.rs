//! A real manifest end to end: SmolLM2 through llama.cpp on a few tasks of each benchmark, with
//! an Orin Nano hwmon fixture tree whose VDD_IN follows a known power curve. The stored records
//! and the energy must match what the curve says.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use joulebench::manifest::Manifest;
use joulebench::runner::{RunOptions, run};
use joulebench::store::Store;

use crate::util::smollm2_manifest;

/// The power curve on VDD_IN, in watts, at a Unix time in seconds.
fn power(unix_s: f64) -> f64 {
    6.0 + 2.0 * (2.0 * std::f64::consts::PI * unix_s / 1.7).sin()
}

/// Its integral from `a` to `b` (Unix seconds), worked out by hand.
fn energy(a: f64, b: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI / 1.7;
    6.0 * (b - a) - 2.0 / w * ((w * b).cos() - (w * a).cos())
}

const HWMON: &str = "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1";

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Keeps VDD_IN at 5000 mV and serves its current as power(now) / 5 V at the moment of every
/// read: `curr1_input` is a FIFO, and each time the meter opens it, this thread writes the
/// current of that instant. The values the meter sees follow the curve exactly, however busy the
/// machine is.
fn drive(root: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let dir = root.join(HWMON);
    write_atomically(&dir.join("in1_input"), "5000\n");
    let fifo = dir.join("curr1_input");
    std::fs::remove_file(&fifo).unwrap();
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success(), "mkfifo");
    std::thread::spawn(move || {
        loop {
            // Blocks until a reader opens the other end.
            let mut f = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
            let milliamps = (power(now) / 5.0 * 1000.0).round() as i64;
            // A reader that went away is not an error.
            let _ = writeln!(f, "{milliamps}");
        }
    })
}

/// Stops the FIFO writer: sets the flag, then opens the FIFO once so its pending open returns.
fn stop_driving(root: &Path, stop: &AtomicBool, writer: std::thread::JoinHandle<()>) {
    stop.store(true, Ordering::SeqCst);
    let _ = std::fs::read_to_string(root.join(HWMON).join("curr1_input"));
    writer.join().unwrap();
}

#[test]
fn a_real_manifest_stores_every_task_and_the_energy_of_the_known_curve() {
    let _one_at_a_time = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../meter-plugins/orin-rails/tests/fixtures/orin-nano");
    let root = dir.path().join("orin");
    copy_tree(&fixture, &root);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = drive(root.clone(), Arc::clone(&stop));
    let results = dir.path().join("results.sqlite");
    let meter = format!(
        "[[plugin]]\nid = \"meter\"\nkind = \"meter\"\nlibrary = \"joulebench_meter_orin_rails\"\nconfig = {{ root = \"{}\" }}\n",
        root.display()
    );
    crate::util::built("joulebench_meter_orin_rails");
    let text = smollm2_manifest(
        &results,
        &meter,
        6,
        "idle_s = 0.5",
        "warmup_tasks = 1\nsample_hz = 50\nbatch_tasks = 2",
    );
    let manifest = Manifest::parse(&dir.path().join("plugins.toml"), text).unwrap();
    let outcome = run(&manifest, &RunOptions::default()).unwrap();
    stop_driving(&root, &stop, writer);
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    assert_eq!(outcome.finished.len(), 3);
    assert_eq!(outcome.notes.len(), 1, "one meter, one pair of baselines");
    assert!(outcome.notes[0].contains("before the run"), "{}", outcome.notes[0]);

    let store = Store::open(&results).unwrap();
    let summaries = store.summaries().unwrap();
    assert_eq!(summaries.len(), 3);
    for ((id, name, _), summary) in summaries.iter().zip(&outcome.finished) {
        let tasks = store.tasks(*id).unwrap();
        assert_eq!(tasks.len(), 6, "{name}");
        let positions: Vec<u64> = tasks.iter().map(|t| t.position).collect();
        assert_eq!(positions, [0, 1, 2, 3, 4, 5]);
        let phases = store.phases(*id).unwrap();
        let names: Vec<&str> = phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["load", "warm-up", "evaluation", "latency"], "{name}");
        let eval = &phases[2];
        for t in &tasks {
            assert!(
                t.t_start_s >= eval.t0_s && t.t_end_s <= eval.t1_s + 1e-9,
                "{name}: task outside the window"
            );
            assert!(t.predicted < 4 && t.latency_s > 0.0 && t.prompt_tokens > 0);
            assert_eq!(t.correct, t.predicted == t.gold);
        }
        // The first two tasks share a batch: the same call window, half of it each.
        assert_eq!((tasks[0].t_start_s, tasks[0].t_end_s), (tasks[1].t_start_s, tasks[1].t_end_s));
        assert!((tasks[0].latency_s * 2.0 - (tasks[0].t_end_s - tasks[0].t_start_s)).abs() < 1e-12);

        // The evaluation's energy against the curve: the window is [evaluation start, last
        // task end] on the segment's clock, whose origin the store keeps in Unix seconds.
        let origin = store.clock_origin(*id, 0).unwrap();
        let end = tasks.iter().map(|t| t.t_end_s).fold(f64::MIN, f64::max);
        let expected = energy(origin + eval.t0_s, origin + end);
        let got = summary.metrics.total_energy_j.expect("measured energy");
        // A stretch the meter could not sample (a busy machine delays its reads) is
        // extrapolated at the covered mean power, and flagged. The curve stays within 4-8 W, so
        // such a stretch errs by at most 4 W of its length against at least 4 W of the window's:
        // at most its own share of the window.
        let coverage = summary.coverage.expect("coverage");
        assert!(coverage > 0.9, "{name}: samples cover {coverage} of the evaluation");
        assert!(
            (got - expected).abs() / expected < 0.005 + (1.0 - coverage),
            "{name}: {got} J measured, {expected} J from the curve, coverage {:?}, flags {:?}",
            summary.coverage,
            summary.flags
        );
        assert_eq!(summary.metrics.energy_quality.as_str(), "measured");
        // Accuracy is each benchmark's own metric: acc_norm for HellaSwag, acc for the others;
        // acc is kept beside it.
        let m = &summary.metrics;
        let count = |f: fn(&joulebench::store::TaskRecord) -> bool| {
            100.0 * tasks.iter().filter(|t| f(t)).count() as f64 / tasks.len() as f64
        };
        assert_eq!(m.acc_pct, Some(count(|t| t.correct)), "{name}");
        if summary.labels.dataset == "hellaswag" {
            assert_eq!(m.accuracy_metric.as_str(), "acc_norm", "{name}");
            assert_eq!(Some(m.accuracy_pct), m.acc_norm_pct, "{name}");
            assert_eq!(m.accuracy_pct, count(|t| t.correct_norm == Some(true)), "{name}");
        } else {
            assert_eq!(m.accuracy_metric.as_str(), "acc", "{name}");
            assert_eq!(m.accuracy_pct, count(|t| t.correct), "{name}");
        }
        // On a busy machine some reads overrun their slot: the gaps are counted, the rest of
        // the window extrapolated, and the summary says so.
        let coverage = summary.coverage.unwrap();
        assert!(coverage > 0.8, "{coverage}");
        if coverage < 0.999 {
            assert!(
                summary.flags.iter().any(|f| f.contains("extrapolated")),
                "{:?}",
                summary.flags
            );
        }
        // One idle baseline for the run, before its first experiment, on the same curve (which
        // swings between 4 and 8 W), used by every experiment and flagged as short.
        let before = store.baseline(1, "meter", "before").unwrap().expect("a baseline");
        let idle_w = summary.metrics.idle_power_w.expect("idle baseline");
        assert_eq!(Some(idle_w), before.median_w);
        assert!(idle_w > 4.0 && idle_w < 8.0 && before.seconds >= 0.5, "{idle_w}");
        assert!(summary.flags.iter().any(|f| f.starts_with("short idle")), "{:?}", summary.flags);
        // Per-rail energy: VDD_IN is the total, so its rail figure is the same energy.
        let vdd_in = summary.metrics.rails.iter().find(|r| r.name == "VDD_IN").unwrap();
        assert!((vdd_in.energy_j.unwrap() - got).abs() < 1e-9);
    }
}
