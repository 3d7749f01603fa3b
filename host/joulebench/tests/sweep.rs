//! Power modes as an experiment axis, end to end, on an Orin Nano tree (L4T 36) with stand-in
//! nvpmodel and jetson_clocks that log their calls: each mode applied, read back, recorded with
//! its experiment and restored at the end; a dry run that changes nothing; a run stopped with
//! Ctrl-C (a real SIGINT to the real binary) that restores the board before it exits; and a run
//! killed with SIGKILL whose note the next run restores first.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use joulebench::manifest::Manifest;
use joulebench::runner::{RunOptions, run};

use crate::util::{built, data_dir};

fn here(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
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

struct Board {
    dir: tempfile::TempDir,
    root: PathBuf,
    bin: PathBuf,
}

impl Board {
    fn new() -> Board {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        copy(&here("../../meter-plugins/state/tests/fixtures/orin-nano-l4t36"), &root);
        std::fs::copy(
            here("../conditions/tests/fixtures/nvpmodel.conf"),
            root.join("etc/nvpmodel.conf"),
        )
        .unwrap();
        let bin = dir.path().join("bin");
        copy(&here("../conditions/tests/fixtures/bin"), &bin);
        Board { dir, root, bin }
    }

    fn mode(&self) -> String {
        std::fs::read_to_string(self.bin.join("state/mode")).unwrap().trim().to_string()
    }

    fn governor(&self, policy: &str) -> String {
        let p = self.root.join(format!("sys/devices/system/cpu/cpufreq/{policy}/scaling_governor"));
        std::fs::read_to_string(p).unwrap().trim().to_string()
    }

    fn changes(&self) -> Vec<String> {
        std::fs::read_to_string(self.bin.join("calls.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                l.contains(" -m ") || (l.starts_with("jetson_clocks") && !l.ends_with("--show"))
            })
            .map(String::from)
            .collect()
    }

    fn note(&self) -> PathBuf {
        self.dir.path().join("r.sqlite.settings-note.json")
    }

    /// Two experiments, 7W then 15W, both with the performance governor, on the scripted
    /// runtime whose calls take `call_ms` (8 tasks in 2 calls each).
    fn manifest(&self, call_ms: u64) -> PathBuf {
        let model = self.dir.path().join("model.bin");
        std::fs::write(&model, b"not read by the scripted runtime").unwrap();
        let text = format!(
            r#"
[settings]
results = "r.sqlite"
idle_s = 0

[conditions]
root = "{root}"
path = "{bin}:/usr/bin:/bin"

[[plugin]]
id = "scripted"
kind = "runtime"
library = "{scripted}"
config = {{ call_ms = {call_ms}, task_ms = 5 }}

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
config = {{ board = "jetson", root = "{root}" }}

[[model]]
id = "m"
path = "{model}"

[[experiment]]
id = "orin"
runtime = "scripted"
model = "m"
dataset = "winogrande"
meter = "meter"
state = "state"
state_hz = 10
power_mode = ["7W", "15W"]
governor = "performance"
limit = 8
batch_tasks = 4
warmup_tasks = 0
latency_tasks = 0
"#,
            root = self.root.display(),
            bin = self.bin.display(),
            scripted = built("joulebench_test_scripted").display(),
            winogrande = built("joulebench_dataset_winogrande").display(),
            meter = built("joulebench_test_versioned_meter").display(),
            state = built("joulebench_meter_state").display(),
            data = data_dir().display(),
            model = model.display(),
        );
        let path = self.dir.path().join("m.toml");
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn setting<'a>(s: &'a joulebench_measure::Summary, name: &str) -> &'a str {
    let c = s.conditions.as_ref().unwrap();
    &c.settings.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name}: {c:?}")).1
}

#[test]
fn each_power_mode_is_applied_recorded_and_the_board_restored() {
    let _one_at_a_time = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let b = Board::new();
    let m = Manifest::load(&b.manifest(10)).unwrap();
    let ids: Vec<&str> = m.experiments.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["orin/7W/performance", "orin/15W/performance"]);

    // A dry run says what would change and changes nothing.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_joulebench"))
        .args(["run", "--dry-run"])
        .arg(&m.path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let policy =
        |p: &str| b.root.join(format!("sys/devices/system/cpu/cpufreq/{p}/scaling_governor"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "orin/7W/performance: power mode: 15W (id 0) -> 7W (id 1) (nvpmodel -m 1); \
             policy0 governor: schedutil -> performance ({}); \
             policy4 governor: schedutil -> performance ({})\n\
             orin/15W/performance: power mode: 7W (id 1) -> 15W (id 0) (nvpmodel -m 0)\n\
             at the end, restore: policy0 governor: performance -> schedutil ({}); \
             policy4 governor: performance -> schedutil ({})\n",
            policy("policy0").display(),
            policy("policy4").display(),
            policy("policy0").display(),
            policy("policy4").display()
        )
    );
    assert!(b.changes().is_empty(), "{:?}", b.changes());
    assert!(!b.note().exists());

    let outcome = run(&m, &RunOptions::default()).unwrap();
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    let [w7, w15] = &outcome.finished[..] else { panic!("{:?}", outcome.finished.len()) };
    assert_eq!(setting(w7, "requested"), "7W/performance");
    assert_eq!(setting(w7, "power mode"), "7W (id 1)");
    assert!(setting(w7, "cpufreq policy4").starts_with("performance, "));
    assert_eq!(setting(w15, "power mode"), "15W (id 0)");
    assert!(setting(w15, "cpufreq policy0").starts_with("performance, "));
    assert_eq!(b.changes(), ["nvpmodel -m 1", "nvpmodel -m 0"]);
    // Restored: the mode the board had, its governors, and no note left.
    assert_eq!((b.mode().as_str(), b.governor("policy0").as_str()), ("0", "schedutil"));
    assert_eq!(b.governor("policy4"), "schedutil");
    assert!(!b.note().exists());
    assert!(
        outcome
            .notes
            .iter()
            .any(|n| n.starts_with("restored the board's settings: policy0 governor")),
        "{:?}",
        outcome.notes
    );
    // The report shows each experiment's mode.
    let store = joulebench::store::Store::open(&m.results_path()).unwrap();
    let md = joulebench_report::render_markdown(&joulebench::report::report_input(&store).unwrap());
    assert!(md.contains("| orin/7W/performance | 7W (id 1) | performance |"), "{md}");
    // The plots: one point per mode, and each run's temperatures and clocks.
    let input = joulebench::report::report_input(&store).unwrap();
    let c = input.experiments[0].conditions.as_ref().unwrap();
    assert_eq!(c.mode.as_deref(), Some("7W/performance"));
    let trace = c.trace.as_ref().unwrap();
    assert!(trace.temperatures.iter().any(|s| s.name == "temp:tj-thermal" && !s.points.is_empty()));
    assert!(trace.clocks.iter().any(|s| s.name == "clock:gpu:17000000.gpu"));
    let plots = b.dir.path().join("plots");
    let files = joulebench_report::render_plots(&input, &plots).unwrap();
    assert!(files.contains(&plots.join("power_modes.svg")), "{files:?}");
    assert!(files.contains(&plots.join("conditions_trace_1_orin-7w-performance.svg")), "{files:?}");
}

#[test]
fn a_run_killed_with_sigkill_leaves_a_note_that_the_next_run_restores_first() {
    let _one_at_a_time = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let b = Board::new();
    // Slow calls (0.5 s each), so that the kill lands inside the first experiment.
    let path = b.manifest(500);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_joulebench"))
        .args(["run", "--quiet"])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(b.mode() == "1" && b.governor("policy4") == "performance") {
        assert!(Instant::now() < deadline, "the run never applied 7W: {:?}", b.changes());
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it was killed");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(b.note().exists(), "the killed run's note is left");
    assert_eq!((b.mode().as_str(), b.governor("policy0").as_str()), ("1", "performance"));

    let m = Manifest::load(&path).unwrap();
    let outcome = run(&m, &RunOptions::default()).unwrap();
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    let first = &outcome.notes[0];
    assert!(first.starts_with("a killed run had left the board's settings changed"), "{first}");
    assert!(first.contains("power mode: 7W (id 1) -> 15W (id 0) (nvpmodel -m 0)"), "{first}");
    assert!(first.contains("policy0 governor: performance -> schedutil"), "{first}");
    assert_eq!(b.changes(), ["nvpmodel -m 1", "nvpmodel -m 0", "nvpmodel -m 1", "nvpmodel -m 0"]);
    assert_eq!((b.mode().as_str(), b.governor("policy4").as_str()), ("0", "schedutil"));
    assert!(!b.note().exists());
    assert_eq!(outcome.finished.len(), 2);
}

#[test]
fn a_run_stopped_with_sigint_restores_the_board_before_it_exits() {
    let _one_at_a_time = crate::util::REAL_MODEL.lock().unwrap_or_else(|p| p.into_inner());
    let b = Board::new();
    let path = b.manifest(500);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_joulebench"))
        .args(["run", "--quiet"])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(b.mode() == "1" && b.governor("policy4") == "performance") {
        assert!(Instant::now() < deadline, "the run never applied 7W: {:?}", b.changes());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(b.note().exists(), "a run with changed settings keeps a note until it restores them");
    // SAFETY: sending a signal to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted by SIGINT"), "{err}");
    // 7W was applied and 15W (the board's mode before the run) put back; 15W never ran.
    assert_eq!(b.changes(), ["nvpmodel -m 1", "nvpmodel -m 0"]);
    for policy in ["policy0", "policy4"] {
        assert_eq!(b.governor(policy), "schedutil", "{policy}");
    }
    assert_eq!(b.mode(), "0");
    assert!(!b.note().exists(), "the restore clears the note: {err}");
    let db = rusqlite::Connection::open(b.dir.path().join("r.sqlite")).unwrap();
    let states: Vec<String> = db
        .prepare("SELECT status FROM experiments ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(states, ["interrupted"], "one experiment, interrupted: {err}");
}
