//! The estimating meter on a recorded /proc of a 2-CPU x86 development box.

use std::path::{Path, PathBuf};

use abi_stable::sabi_trait::TD_Opaque;
use joulebench_abi::{ErrorCode, Meter, Meter_TO, Quality, RailKind, RailRole, Reading};
use joulebench_meter_common::testing::{copy_tree, write_atomic};
use joulebench_meter_estimate::{Arch, LoadModel, new, ram_power_w};
use joulebench_sampler::{Clock, Sampler};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/x86-devbox")
}

fn writable() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture(), dir.path()).unwrap();
    let root = dir.path().to_path_buf();
    (dir, root)
}

fn config(root: &Path, extra: &str) -> String {
    format!("root = {:?}\narch = \"x86\"\n{extra}", root.display().to_string())
}

fn values(r: Reading) -> Vec<f64> {
    r.values.iter().map(|v| v.into_option().unwrap()).collect()
}

/// The recorded aggregate line: `cpu  258015 0 17233 180981 466 0 124 191 0 0`.
const BUSY: u64 = 258015 + 17233 + 124 + 191;
const TOTAL: u64 = BUSY + 180981 + 466;

fn stat_line(user: u64, system: u64, idle: u64) -> String {
    let text = std::fs::read_to_string(fixture().join("proc/stat")).unwrap();
    let line = format!("cpu  {user} 0 {system} {idle} 466 0 124 191 0 0");
    text.lines()
        .map(|l| if l.starts_with("cpu ") { line.clone() } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn every_rail_is_estimated_and_the_boundary_says_so() {
    let m = new(&config(&fixture(), "")).unwrap();
    let info = m.info();
    let names: Vec<&str> = info.rails.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["total", "cpu", "ram"]);
    assert_eq!(info.rails[0].role, RailRole::TOTAL);
    assert!(
        info.rails.iter().all(|r| r.quality == Quality::ESTIMATED && r.kind == RailKind::POWER)
    );
    assert!(info.boundary.starts_with("an estimate, not a measurement"), "{}", info.boundary);
    let cpu = info.rails[1].description.as_str();
    assert!(cpu.starts_with("CPU power estimated from /proc/stat utilisation. CPU: "), "{cpu}");
    assert!(cpu.contains("1.48 W at load 0, 7 W at load 1"), "{cpu}");
}

#[test]
fn first_read_uses_the_load_since_boot_and_the_dimm_model() {
    let mut m = new(&config(&fixture(), "")).unwrap();
    let v = values(m.read().unwrap());
    let load = BUSY as f64 / TOTAL as f64; // 0.60297
    // this VM's two vCPUs at 0.74 W idle and 3.5 W at full load each (tests/machines.rs)
    let cpu = 1.48 + (7.0 - 1.48) * load.powi(3);
    // MemTotal 24684084 kB = 23.5 GiB -> 4 DIMMs x 5 W on x86
    assert!((v[1] - cpu).abs() < 1e-9, "{} vs {cpu}", v[1]);
    assert_eq!(v[2], 20.0);
    assert!(m.info().rails[2].description.contains("DIMM model for 23.5 GiB on x86"));
    assert!((v[0] - cpu - 20.0).abs() < 1e-9);
}

#[test]
fn each_read_uses_the_delta_since_the_previous_one() {
    let (_dir, root) = writable();
    let stat = root.join("proc/stat");
    // CodeCarbon's 85 W default, so that the numbers are CodeCarbon's own
    let mut m = new(&config(&root, "tdp_w = 85")).unwrap();
    // +300 user, +100 system, +100 idle: 400 busy of 500 ticks = 80 %.
    write_atomic(&stat, &stat_line(258015 + 300, 17233 + 100, 180981 + 100)).unwrap();
    let v = values(m.read().unwrap());
    // 85 x (0.1 + 0.9 x 0.512) = 47.668 W
    assert!((v[1] - 47.668).abs() < 1e-9, "{}", v[1]);
    assert!((v[0] - 67.668).abs() < 1e-9);
    // Then 50 busy of 1000 ticks = 5 %: 85 x (0.1 + 0.9 x 0.000125) = 8.5095625 W.
    write_atomic(&stat, &stat_line(258015 + 350, 17233 + 100, 180981 + 1050)).unwrap();
    let v = values(m.read().unwrap());
    assert!((v[1] - 8.509_562_5).abs() < 1e-9, "{}", v[1]);
    // Fewer than 10 ticks per CPU later the estimate holds still.
    write_atomic(&stat, &stat_line(258015 + 360, 17233 + 100, 180981 + 1050)).unwrap();
    assert!((values(m.read().unwrap())[1] - 8.509_562_5).abs() < 1e-9);
}

#[test]
fn linear_and_constant_models_and_a_configured_tdp() {
    let (_dir, root) = writable();
    let stat = root.join("proc/stat");
    let mut m =
        new(&config(&root, "model = \"linear\"\ntdp_w = 15\nsockets = 2\nram_w = 3")).unwrap();
    write_atomic(&stat, &stat_line(258015 + 300, 17233 + 100, 180981 + 100)).unwrap();
    // 2 packages of 2 logical CPUs (sysfs) with 2 online: half of 2 x 15 W = 15 W at full
    // load; 15 W x 0.8 = 12 W, RAM forced to 3 W
    assert_eq!(values(m.read().unwrap()), [15.0, 12.0, 3.0]);
    let mut c = new(&config(&fixture(), "model = \"constant\"\ntdp_w = 85")).unwrap();
    assert_eq!(values(c.read().unwrap())[1], 42.5);
    assert_eq!(LoadModel::Linear.power(100.0, 0.02), 10.0);
}

#[test]
fn ram_model_matches_codecarbons_examples() {
    // CodeCarbon's documented examples (docs/meters.md#estimate): 8 GB laptop ≈ 10 W,
    // 32 GB ≈ 20 W, 128 GB server ≈ 40 W (4 x 5 + 4 x 4.5 = 38 W); ARM boards with ≤ 16 GB get
    // 2 x 1.5 = 3 W.
    assert_eq!(ram_power_w(8.0, Arch::X86), 10.0);
    assert_eq!(ram_power_w(32.0, Arch::X86), 20.0);
    assert_eq!(ram_power_w(128.0, Arch::X86), 38.0);
    assert_eq!(ram_power_w(8.0, Arch::Arm), 3.0);
    assert_eq!(ram_power_w(1.0, Arch::X86), 10.0);
    // 512 GB: 8 DIMMs of 64 GB -> 38 W; 4 TB: 32 DIMMs of 128 GB -> 20 + 18 + 32 + 56 = 126 W
    assert_eq!(ram_power_w(512.0, Arch::X86), 38.0);
    assert!((ram_power_w(4096.0, Arch::X86) - 126.0).abs() < 1e-9);
}

#[test]
fn missing_proc_and_bad_config_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = new(&config(dir.path(), "")).err().unwrap();
    assert_eq!(e.code, ErrorCode::NOT_FOUND);
    assert!(e.message.contains(&format!("{}/proc/stat", dir.path().display())), "{}", e.message);
    let e = new(&config(&fixture(), "tdp_w = -3")).err().unwrap();
    assert_eq!(e.code, ErrorCode::INVALID_CONFIG);
    let e = new(&config(&fixture(), "model = \"quadratic\"")).err().unwrap();
    assert!(e.message.contains("quadratic"), "{}", e.message);
    let e = new(&config(&fixture(), "cpu_shares = 1")).err().unwrap();
    assert!(e.message.contains("cpu_shares"), "{}", e.message);
}

#[test]
fn a_malformed_stat_names_the_line() {
    let (_dir, root) = writable();
    let stat = root.join("proc/stat");
    let mut m = new(&config(&root, "")).unwrap();
    write_atomic(&stat, "cpu  1 2 x 4 5 6 7 8\n").unwrap();
    let e = m.read().into_result().unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_DATA);
    assert!(e.message.contains("proc/stat:1: non-numeric field"), "{}", e.message);
}

#[test]
fn the_sampler_marks_estimated_energy() {
    let clock = Clock::new();
    let m = new(&config(&fixture(), "")).unwrap();
    let s = Sampler::start(Meter_TO::from_value(m, TD_Opaque), clock, 50.0);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (_m, trace) = s.stop();
    let t = trace.times();
    let e = trace.energy(t[0], t[t.len() - 1]).total.unwrap();
    assert_eq!(e.quality, Quality::ESTIMATED);
    assert!(e.joules.unwrap() > 0.0);
}
