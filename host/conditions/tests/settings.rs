//! Power settings read from board trees and stand-in tools, and a cooldown that waits on a
//! temperature file that cools over time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use joulebench_conditions::settings::{governors, power_mode};
use joulebench_conditions::{Board, CooldownSpec, cool_down, read_settings};

fn boards(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../meter-plugins/state/tests/fixtures")
        .join(name)
}

/// A writable copy of the stand-in tools; returns the folder.
fn tools(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    copy(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bin"), &bin);
    bin
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

fn board(root: PathBuf, bin: Option<&Path>) -> Board {
    let path = match bin {
        Some(b) => format!("{}:/usr/bin:/bin", b.display()),
        None => "/nonexistent".into(),
    };
    Board { root, path: Some(path) }
}

fn get<'a>(s: &'a [joulebench_conditions::Setting], name: &str) -> &'a str {
    &s.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no {name}: {s:?}")).value
}

#[test]
fn an_orin_records_its_power_mode_clocks_and_governors() {
    let dir = tempfile::tempdir().unwrap();
    let bin = tools(dir.path());
    let s = read_settings(&board(boards("orin-nano-l4t36"), Some(&bin)));
    assert_eq!(get(&s, "power mode"), "15W (id 0)");
    assert_eq!(get(&s, "jetson_clocks"), "off");
    assert_eq!(
        get(&s, "cpufreq policy0"),
        "schedutil, 115200-1510400 kHz (hardware max 1510400 kHz)"
    );
    assert_eq!(get(&s, "gpu 17000000.gpu"), "nvhost_podgov, 306000000-624750000 Hz");
    assert_eq!(power_mode(&s), Some("15W (id 0)"));
    assert_eq!(governors(&s), "schedutil");
    // Another mode, clocks pinned: both show.
    std::fs::write(bin.join("state/mode"), "1\n").unwrap();
    std::fs::write(bin.join("state/pinned"), "1\n").unwrap();
    let s = read_settings(&board(boards("orin-nano-l4t36"), Some(&bin)));
    assert_eq!(get(&s, "power mode"), "7W (id 1)");
    assert!(get(&s, "jetson_clocks").starts_with("on"));
    let calls = std::fs::read_to_string(bin.join("calls.log")).unwrap();
    assert_eq!(calls, "nvpmodel -q\njetson_clocks --show\nnvpmodel -q\njetson_clocks --show\n");
}

#[test]
fn a_tool_that_needs_root_is_recorded_as_unreadable_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let bin = tools(dir.path());
    std::fs::write(bin.join("state/readonly"), "").unwrap();
    let s = read_settings(&board(boards("orin-nano-l4t35"), Some(&bin)));
    let jc = get(&s, "jetson_clocks");
    assert!(jc.starts_with("unreadable: `jetson_clocks --show` failed"), "{jc}");
    assert!(jc.contains("Run jetson_clocks as root") && jc.contains("sudo"), "{jc}");
    assert_eq!(get(&s, "gpu 17000000.ga10b"), "nvhost_podgov, 306000000-624750000 Hz");
}

#[test]
fn boards_without_the_tools_record_only_what_they_have() {
    let s = read_settings(&board(boards("nano-l4t32"), None));
    assert!(s.iter().all(|s| s.name != "power mode" && s.name != "jetson_clocks"));
    // Kernel 4.9 layout: per CPU.
    assert_eq!(get(&s, "cpufreq cpu3"), "schedutil, 102000-1479000 kHz (hardware max 1479000 kHz)");
    assert_eq!(get(&s, "gpu 57000000.gpu"), "nvhost_podgov, 76800000-921600000 Hz");
    let s = read_settings(&board(boards("pi5"), None));
    assert_eq!(governors(&s), "ondemand");
    let s = read_settings(&board(boards("x86"), None));
    assert_eq!(s.len(), 2);
    assert_eq!(
        get(&s, "cpufreq policy1"),
        "powersave, 800000-4600000 kHz (hardware max 4600000 kHz)"
    );
}

#[test]
fn the_cooldown_waits_on_a_zone_that_cools_over_time() {
    let dir = tempfile::tempdir().unwrap();
    let temp = dir.path().join("temp");
    std::fs::write(&temp, "68000\n").unwrap();
    let read = || -> Option<f64> {
        std::fs::read_to_string(&temp).ok()?.trim().parse::<f64>().ok().map(|m| m / 1000.0)
    };
    let spec = CooldownSpec { below_c: 50.0, max_s: 30.0, poll_s: 0.02 };
    let c = std::thread::scope(|s| {
        s.spawn(|| {
            // The board cools by 4 °C every 30 ms: 68, 64, ..., 48.
            for t in [64, 60, 56, 52, 48] {
                std::thread::sleep(Duration::from_millis(30));
                let tmp = dir.path().join("temp.tmp");
                std::fs::write(&tmp, format!("{}\n", t * 1000)).unwrap();
                std::fs::rename(&tmp, &temp).unwrap();
            }
        });
        cool_down(&spec, read, std::thread::sleep)
    });
    assert!(!c.gave_up, "{c:?}");
    assert!(c.temp_c.unwrap() < 50.0, "{c:?}");
    assert!(c.waited_s >= 0.1, "it waited for the board to cool: {c:?}");
    assert!(c.waited_s < 30.0);
}
