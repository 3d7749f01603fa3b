//! Power settings as experiment axes, on an Orin Nano tree (L4T 36) with stand-in nvpmodel and
//! jetson_clocks that log every call: applied, read back, restored at the end, by a signal
//! handler's hook, and from the note a killed run leaves.

use std::path::{Path, PathBuf};

use joulebench_conditions::Board;
use joulebench_conditions::sweep::{
    Knobs, Requested, SettingsGuard, mode_id, plan, restore_active, restore_note, snapshot, target,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
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

/// A writable Orin Nano: its sysfs tree with nvpmodel.conf, and the stand-in tools.
struct Orin {
    _dir: tempfile::TempDir,
    board: Board,
    bin: PathBuf,
    note: PathBuf,
}

/// The guards of one process are restored together by a signal handler's hook: these tests take
/// turns so that one test's hook does not restore another's board.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn orin() -> Orin {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    copy(&fixtures().join("../../../../meter-plugins/state/tests/fixtures/orin-nano-l4t36"), &root);
    std::fs::copy(fixtures().join("nvpmodel.conf"), root.join("etc/nvpmodel.conf")).unwrap();
    let bin = dir.path().join("bin");
    copy(&fixtures().join("bin"), &bin);
    let board = Board { root, path: Some(format!("{}:/usr/bin:/bin", bin.display())) };
    let note = dir.path().join("results/joulebench-settings.json");
    Orin { _dir: dir, board, bin, note }
}

impl Orin {
    fn mode(&self) -> String {
        std::fs::read_to_string(self.bin.join("state/mode")).unwrap().trim().to_string()
    }
    fn pinned(&self) -> String {
        std::fs::read_to_string(self.bin.join("state/pinned")).unwrap().trim().to_string()
    }
    fn cpufreq(&self, policy: &str, file: &str) -> String {
        let p = self.board.file(&format!("/sys/devices/system/cpu/cpufreq/{policy}/{file}"));
        std::fs::read_to_string(p).unwrap().trim().to_string()
    }
    /// The calls that change something (queries left out).
    fn changes(&self) -> Vec<String> {
        std::fs::read_to_string(self.bin.join("calls.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.ends_with(" -q") && !l.ends_with(" --show"))
            .map(String::from)
            .collect()
    }
}

const ALL: Knobs = Knobs { power_mode: true, jetson_clocks: true, governor: true, max_freq: true };

fn req(mode: Option<&str>, pin: Option<bool>, gov: Option<&str>, max: Option<u64>) -> Requested {
    Requested {
        power_mode: mode.map(String::from),
        jetson_clocks: pin,
        governor: gov.map(String::from),
        max_freq_khz: max,
    }
}

#[test]
fn each_mode_is_applied_verified_and_the_original_restored() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let o = orin();
    let mut guard = SettingsGuard::begin(o.board.clone(), ALL, o.note.clone()).unwrap();
    assert!(o.note.exists(), "the note is written before any change");
    for (mode, id) in [("7W", "1"), ("15W", "0"), ("1", "1")] {
        let changes = guard.apply(&req(Some(mode), None, None, None)).unwrap();
        assert_eq!(o.mode(), id, "{mode}");
        assert!(changes.len() <= 1, "{changes:?}");
    }
    // Pinned clocks, the performance governor and a lower maximum, all read back.
    let c =
        guard.apply(&req(Some("7W"), Some(true), Some("performance"), Some(1_190_400))).unwrap();
    let what: Vec<&str> = c.iter().map(|c| c.what.as_str()).collect();
    assert_eq!(
        what,
        [
            "jetson_clocks",
            "policy0 governor",
            "policy4 governor",
            "policy0 max clock",
            "policy4 max clock"
        ]
    );
    assert_eq!(
        c[1].to_string(),
        format!(
            "policy0 governor: schedutil -> performance ({})",
            o.board.file("/sys/devices/system/cpu/cpufreq/policy0/scaling_governor").display()
        )
    );
    assert_eq!(
        (o.pinned().as_str(), o.cpufreq("policy4", "scaling_governor").as_str()),
        ("1", "performance")
    );
    assert_eq!(o.cpufreq("policy0", "scaling_max_freq"), "1190400");
    // An experiment that asks for nothing runs as the board was found.
    guard.apply(&Requested::default()).unwrap();
    assert_eq!((o.mode().as_str(), o.pinned().as_str()), ("0", "0"));
    assert_eq!(o.cpufreq("policy0", "scaling_governor"), "schedutil");
    assert_eq!(o.cpufreq("policy0", "scaling_max_freq"), "1510400");
    guard.apply(&req(Some("7W"), Some(true), None, None)).unwrap();
    let restored = guard.restore().unwrap();
    assert_eq!(restored.len(), 2, "{restored:?}");
    assert_eq!((o.mode().as_str(), o.pinned().as_str()), ("0", "0"));
    assert!(!o.note.exists(), "the note goes once the board is restored");
    assert_eq!(
        o.changes(),
        [
            "jetson_clocks --store",
            "nvpmodel -m 1",
            "nvpmodel -m 0",
            "nvpmodel -m 1",
            "jetson_clocks ",
            "nvpmodel -m 0",
            "jetson_clocks --restore",
            "nvpmodel -m 1",
            "jetson_clocks ",
            "nvpmodel -m 0",
            "jetson_clocks --restore",
        ]
    );
}

#[test]
fn an_error_path_restores_through_the_guard_s_drop() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let o = orin();
    {
        let mut guard = SettingsGuard::begin(o.board.clone(), ALL, o.note.clone()).unwrap();
        guard.apply(&req(Some("7W"), None, Some("powersave"), None)).unwrap();
        assert_eq!(o.mode(), "1");
        // An experiment fails: the guard goes out of scope unrestored.
    }
    assert_eq!(o.mode(), "0");
    assert_eq!(o.cpufreq("policy0", "scaling_governor"), "schedutil");
    assert!(!o.note.exists());
}

#[test]
fn a_signal_handler_restores_every_active_guard_once() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let o = orin();
    let mut guard = SettingsGuard::begin(o.board.clone(), ALL, o.note.clone()).unwrap();
    guard.apply(&req(Some("7W"), Some(true), None, Some(960_000))).unwrap();
    // What a Ctrl-C or SIGTERM handler calls.
    let (changes, errors) = restore_active();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(changes.iter().any(|c| c.how == "nvpmodel -m 0"), "{changes:?}");
    assert_eq!((o.mode().as_str(), o.pinned().as_str()), ("0", "0"));
    assert_eq!(o.cpufreq("policy4", "scaling_max_freq"), "1510400");
    assert!(!o.note.exists());
    let before = o.changes().len();
    assert_eq!(guard.restore().unwrap(), []);
    drop(guard);
    assert_eq!(o.changes().len(), before, "nothing is restored twice");
}

#[test]
fn a_killed_run_leaves_a_note_that_the_next_run_restores_first() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let o = orin();
    let mut guard = SettingsGuard::begin(o.board.clone(), ALL, o.note.clone()).unwrap();
    guard.apply(&req(Some("7W"), Some(true), Some("performance"), None)).unwrap();
    // SIGKILL: no destructor, no handler.
    std::mem::forget(guard);
    let note = std::fs::read_to_string(&o.note).unwrap();
    assert!(note.contains("\"power_mode\": 0"), "{note}");
    let changes = restore_note(&o.note).unwrap();
    let what: Vec<&str> = changes.iter().map(|c| c.what.as_str()).collect();
    assert_eq!(what, ["power mode", "jetson_clocks", "policy0 governor", "policy4 governor"]);
    assert_eq!((o.mode().as_str(), o.pinned().as_str()), ("0", "0"));
    assert_eq!(o.cpufreq("policy0", "scaling_governor"), "schedutil");
    assert!(!o.note.exists());
    assert_eq!(restore_note(&o.note).unwrap(), [], "no note, nothing to do");
    let _ = restore_active();
}

#[test]
fn settings_that_need_root_name_the_command_or_file_and_the_fix() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let o = orin();
    std::fs::write(o.bin.join("state/readonly"), "").unwrap();
    let e = SettingsGuard::begin(o.board.clone(), ALL, o.note.clone()).err().unwrap();
    assert!(e.contains("jetson_clocks --show") && e.contains("sudo"), "{e}");
    assert!(!o.note.exists(), "nothing changed, no note");
    let knobs = Knobs { power_mode: true, ..Knobs::default() };
    let mut guard = SettingsGuard::begin(o.board.clone(), knobs, o.note.clone()).unwrap();
    let e = guard.apply(&req(Some("7W"), None, None, None)).unwrap_err();
    assert!(e.starts_with("`nvpmodel -m 1` failed"), "{e}");
    assert!(e.contains("Permission denied") && e.contains("run joulebench as root (sudo)"), "{e}");
    std::fs::remove_file(o.bin.join("state/readonly")).unwrap();
    drop(guard);
    // A sysfs file the user may not write.
    let gov = o.board.file("/sys/devices/system/cpu/cpufreq/policy0/scaling_governor");
    joulebench_meter_common::testing::deny_read(&gov).unwrap();
    let knobs = Knobs { governor: true, ..Knobs::default() };
    let e = joulebench_meter_common::testing::without_file_privileges(|| {
        let board = o.board.clone();
        let mut guard = SettingsGuard::begin(board, knobs, o.note.clone())?;
        let r = guard.apply(&req(None, None, Some("performance"), None));
        std::mem::forget(guard);
        r.map(|_| ())
    })
    .unwrap_err();
    assert!(e.contains(&gov.display().to_string()) && e.contains("sudo"), "{e}");
    let _ = restore_active();
}

#[test]
fn names_resolve_through_nvpmodel_conf_and_a_dry_run_plans_without_changing() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let o = orin();
    assert_eq!(mode_id(&o.board, "7W"), Ok(1));
    assert_eq!(mode_id(&o.board, "0"), Ok(0));
    let e = mode_id(&o.board, "MAXN").unwrap_err();
    assert!(e.contains("15W (id 0), 7W (id 1)"), "{e}");
    let now = snapshot(&o.board, ALL).unwrap();
    let t = target(&o.board, &now, &req(Some("7W"), None, Some("performance"), None)).unwrap();
    let p: Vec<String> = plan(&o.board, &now, &t)
        .iter()
        .map(|c| format!("{}: {} -> {}", c.what, c.from, c.to))
        .collect();
    assert_eq!(
        p,
        [
            "power mode: 15W (id 0) -> 7W (id 1)",
            "policy0 governor: schedutil -> performance",
            "policy4 governor: schedutil -> performance"
        ]
    );
    assert_eq!(o.changes(), Vec::<String>::new(), "planning changes nothing");
    let e = target(&o.board, &now, &req(None, None, Some("turbo"), None)).unwrap_err();
    assert!(e.contains("not available on policy0") && e.contains("schedutil"), "{e}");
    let e = target(&o.board, &now, &req(None, None, None, Some(3_000_000))).unwrap_err();
    assert!(e.contains("outside policy0's range 115200-1510400 kHz"), "{e}");
}
