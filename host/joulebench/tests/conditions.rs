//! Conditions end to end: the state meter sampled beside the power meter on a Pi 5 fixture tree
//! with a stand-in vcgencmd, a cooldown that waits for the board to cool, and a run that
//! throttles part-way and is flagged.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use joulebench::manifest::Manifest;
use joulebench::runner::{RunOptions, run};
use joulebench::store::Store;

use crate::util::{built, data_dir};

fn state_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../meter-plugins/state/tests/fixtures")
}

fn copy(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy(&e.path(), &dst.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
}

fn reply(bin: &Path, query: &str, text: &str) {
    let tmp = bin.join("replies/.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, bin.join("replies").join(query)).unwrap();
}

fn calls(bin: &Path, query: &str) -> usize {
    std::fs::read_to_string(bin.join("calls.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| *l == query)
        .count()
}

/// Whether the experiment in the results store `path` has begun its evaluation.
fn evaluating(path: &Path) -> bool {
    if !path.exists() {
        return false;
    }
    let Ok(store) = Store::open(path) else { return false };
    let rows = store.unfinished("pi", 0).unwrap_or_default();
    rows.iter()
        .any(|r| store.phases(r.id).unwrap_or_default().iter().any(|p| p.name == "evaluation"))
}

/// One Winogrande experiment of 16 tasks on the scripted runtime (4 calls of 1.08 s), the test
/// meter for power and the state meter on the Pi 5 tree with the stand-in vcgencmd in `bin`.
fn manifest(dir: &Path, bin: &Path, cooldown: &str) -> Manifest {
    let model = dir.join("model.bin");
    std::fs::write(&model, b"not read by the scripted runtime").unwrap();
    let text = format!(
        r#"
[settings]
results = "{results}"
idle_s = 0

[conditions]
root = "{root}"
path = "{bin}:/usr/bin:/bin"

[[plugin]]
id = "scripted"
kind = "runtime"
library = "{scripted}"
config = {{ call_ms = 1000, task_ms = 20 }}

[[plugin]]
id = "winogrande"
kind = "dataset"
library = "{winogrande}"
config = {{ data_dir = "{data}" }}

[[plugin]]
id = "meter"
kind = "meter"
library = "{meter}"

[[plugin]]
id = "state"
kind = "meter"
library = "{state}"
config = {{ root = "{root}", path = "{bin}:/usr/bin:/bin", command_every_s = 0 }}

[[model]]
id = "m"
path = "{model}"

[[experiment]]
id = "pi"
runtime = "scripted"
model = "m"
dataset = "winogrande"
meter = "meter"
state = "state"
state_hz = 20
{cooldown}
limit = 16
batch_tasks = 4
warmup_tasks = 0
latency_tasks = 0
"#,
        results = dir.join("r.sqlite").display(),
        root = state_fixtures().join("pi5").display(),
        bin = bin.display(),
        scripted = built("joulebench_test_scripted").display(),
        winogrande = built("joulebench_dataset_winogrande").display(),
        meter = built("joulebench_test_versioned_meter").display(),
        state = built("joulebench_meter_state").display(),
        data = data_dir().display(),
        model = model.display(),
    );
    Manifest::parse(&dir.join("m.toml"), text).unwrap()
}

#[test]
fn a_board_that_throttles_mid_run_is_flagged_after_cooling_down_first() {
    let _one_at_a_time = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    copy(&state_fixtures().join("bin"), &bin);
    // Hot from a previous run: 71 °C until the cooldown has read it twice.
    reply(&bin, "measure_temp", "temp=71.0'C\n");
    let m = manifest(dir.path(), &bin, "cooldown = { below_c = 60, max_s = 20, poll_s = 0.05 }");
    let summary = std::thread::scope(|s| {
        s.spawn(|| {
            let deadline = Instant::now() + Duration::from_secs(20);
            // One call when the meter is built, then the cooldown's readings.
            while calls(&bin, "measure_temp") < 3 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            reply(&bin, "measure_temp", "temp=55.2'C\n");
            // Part-way through the evaluation the firmware caps the clock and throttles.
            let results = dir.path().join("r.sqlite");
            while !evaluating(&results) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            // Halfway through its 4.3 s: samples on both sides even when reads are slow.
            std::thread::sleep(Duration::from_millis(2000));
            reply(&bin, "measure_temp", "temp=82.4'C\n");
            reply(&bin, "measure_clock arm", "frequency(0)=1500000000\n");
            reply(&bin, "get_throttled", "throttled=0xe000e\n");
        });
        let outcome = run(&m, &RunOptions::default()).unwrap();
        assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
        outcome.finished[0].clone()
    });
    let c = summary.conditions.as_ref().expect("conditions recorded");
    let cooldown = c.cooldown.as_ref().unwrap();
    assert!(!cooldown.gave_up, "{cooldown:?}");
    assert_eq!(cooldown.temp_c, Some(55.2));
    assert!(cooldown.waited_s >= 0.05, "{cooldown:?}");
    assert!(c.throttled, "{c:?}");
    assert_eq!(c.max_temp_c, Some(82.4));
    assert_eq!(c.start_temp_c, Some(55.2));
    assert_eq!((c.flags_start, c.flags_end), (Some(0), Some(0xe000e)));
    let share = c.throttled_fraction.unwrap();
    assert!(share > 0.05 && share < 0.95, "throttled for part of the window: {share}");
    let arm = c.clocks.iter().find(|k| k.rail == "clock:arm(vcgencmd)").unwrap();
    assert_eq!((arm.start_hz, arm.min_hz), (Some(2400028928.0), Some(1.5e9)));
    assert!(c.settings.iter().any(|(n, v)| n == "cpufreq policy0" && v.starts_with("ondemand")));
    let flag = summary.flags.iter().find(|f| f.starts_with("throttled: ")).expect("flagged");
    assert!(flag.contains("arm frequency capped, throttled, soft temperature limit"), "{flag}");
    // The state samples are stored on the segment's clock, inside and around the evaluation.
    let store = Store::open(&dir.path().join("r.sqlite")).unwrap();
    let (id, _, _) = store.summaries().unwrap().remove(0);
    let eval = store.phases(id).unwrap().into_iter().find(|p| p.name == "evaluation").unwrap();
    let samples = store.state_samples(id, eval.segment).unwrap();
    let inside = samples.iter().filter(|s| s.t_s >= eval.t0_s && s.t_s <= eval.t1_s).count();
    assert!(inside >= 2, "{inside} state samples in {:.2} s", eval.t1_s - eval.t0_s);
    assert_eq!(samples[0].values.len(), 6);
    // The report marks the run and lists its conditions.
    let input = joulebench::report::report_input(&store).unwrap();
    let md = joulebench_report::render_markdown(&input);
    assert!(md.contains("‡ = the board throttled during the run"), "{md}");
    let row = md.lines().find(|l| l.starts_with("| pi‡ |")).unwrap_or_else(|| panic!("{md}"));
    assert!(row.contains("| ondemand | 82.4 |"), "{row}");
}

#[test]
fn a_cooldown_that_gives_up_flags_the_experiment_and_a_cool_run_is_clean() {
    let _one_at_a_time = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    copy(&state_fixtures().join("bin"), &bin);
    reply(&bin, "measure_temp", "temp=71.0'C\n");
    let m = manifest(dir.path(), &bin, "cooldown = { below_c = 60, max_s = 0.3, poll_s = 0.05 }");
    let outcome = run(&m, &RunOptions::default()).unwrap();
    let s = &outcome.finished[0];
    let c = s.conditions.as_ref().unwrap();
    assert!(c.cooldown.as_ref().unwrap().gave_up);
    assert!(!c.throttled, "{:?}", c.reasons);
    assert_eq!(
        s.flags
            .iter()
            .filter(|f| f.starts_with("not cooled: the board was still at 71.0 °C"))
            .count(),
        1,
        "{:?}",
        s.flags
    );
    assert!(s.flags.iter().all(|f| !f.starts_with("throttled")));
}
