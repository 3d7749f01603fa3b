//! The Orin meter against fixture trees laid out like the boards' sysfs
//! (`docs/meters.md#orin-rails`; the fixtures' origin is in `tests/fixtures/README.md`).

use std::path::{Path, PathBuf};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult};
use joulebench_abi::{
    AbiError, ErrorCode, Meter, Meter_TO, MeterInfo, Quality, RailKind, RailRole, Reading,
};
use joulebench_meter_common::testing::{
    copy_tree, deny_read, without_file_privileges, write_atomic,
};
use joulebench_meter_orin_rails::{OrinRails, new};
use joulebench_sampler::{Clock, Sampler};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn writable(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture(name), dir.path()).unwrap();
    let root = dir.path().to_path_buf();
    (dir, root)
}

fn config(root: &Path) -> String {
    format!("root = {:?}", root.display().to_string())
}

fn values(r: Reading) -> Vec<Option<f64>> {
    r.values.iter().map(|v| v.into_option()).collect()
}

const NANO_HWMON: &str = "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1";

#[test]
fn orin_nano_capture_parses_to_the_jtop_powers() {
    let mut m = new(&config(&fixture("orin-nano"))).unwrap();
    let info = m.info();
    let names: Vec<&str> = info.rails.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"]);
    let roles: Vec<RailRole> = info.rails.iter().map(|r| r.role).collect();
    assert_eq!(roles, [RailRole::TOTAL, RailRole::GPU, RailRole::PART]);
    assert!(info.rails.iter().all(|r| r.kind == RailKind::POWER && r.quality == Quality::MEASURED));
    assert!(info.boundary.contains("VDD_IN"), "{}", info.boundary);
    assert!(info.boundary.contains("excludes the carrier board"));
    // update_interval 7 ms x samples 1
    assert!((info.update_interval_s - 0.007).abs() < 1e-12);
    let v = values(m.read().unwrap());
    // jtop's dump: 5133, 1064, 1540 mW (integer-truncated V x I); exact products below.
    let expected = [4936.0 * 1040.0 / 1e6, 4928.0 * 216.0 / 1e6, 4936.0 * 312.0 / 1e6];
    for (got, (want, jtop_mw)) in v.iter().zip(expected.iter().zip([5133.0, 1064.0, 1540.0])) {
        let got = got.unwrap();
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        assert_eq!((got * 1000.0).floor(), jtop_mw);
    }
}

#[test]
fn agx_orin_has_no_total_rail_so_the_meter_sums_and_skips_nc() {
    let mut m = new(&config(&fixture("agx-orin"))).unwrap();
    let info = m.info();
    let names: Vec<&str> = info.rails.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["sum", "VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "VDDQ_VDD2_1V8AO"]);
    assert_eq!(info.rails[0].role, RailRole::TOTAL);
    assert_eq!(info.rails[1].role, RailRole::GPU);
    assert!(info.rails[1].description.contains("carries the GPU"));
    assert!(info.boundary.contains("no VDD_IN total rail"), "{}", info.boundary);
    let v = values(m.read().unwrap());
    // by hand: 2392.32 + 797.44 + 3522.312 + 299.04 = 7011.112 mW
    assert!((v[0].unwrap() - 7.011112).abs() < 1e-9, "{:?}", v[0]);
    assert!((v[1].unwrap() - 2.39232).abs() < 1e-12);
    assert!((v[4].unwrap() - 0.29904).abs() < 1e-12);
}

#[test]
fn a_missing_sensor_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let e = new(&config(dir.path())).err().unwrap();
    assert_eq!(e.code, ErrorCode::NOT_FOUND);
    assert!(e.message.contains(&format!("{}/sys/bus/i2c/drivers/ina3221", dir.path().display())));
    assert!(e.message.contains("does not exist"), "{}", e.message);
}

#[test]
fn unknown_config_keys_are_refused() {
    let e = new("rooot = \"/\"").err().unwrap();
    assert_eq!(e.code, ErrorCode::INVALID_CONFIG);
    assert!(e.message.contains("rooot"), "{}", e.message);
}

#[test]
fn permission_denied_says_what_to_do() {
    let (_dir, root) = writable("orin-nano");
    let file = root.join(NANO_HWMON).join("curr1_input");
    deny_read(&file).unwrap();
    let e = without_file_privileges(|| new(&config(&root)).err()).unwrap();
    assert_eq!(e.code, ErrorCode::PERMISSION_DENIED);
    assert!(e.message.starts_with(&format!("{}: ", file.display())), "{}", e.message);
    assert!(e.message.contains("sudo chmod a+r"), "{}", e.message);
}

#[test]
fn a_disabled_channel_is_skipped() {
    let (_dir, root) = writable("orin-nano");
    write_atomic(&root.join(NANO_HWMON).join("in3_enable"), "0\n").unwrap();
    let m = new(&config(&root)).unwrap();
    let names: Vec<String> = m.info().rails.iter().map(|r| r.name.to_string()).collect();
    assert_eq!(names, ["VDD_IN", "VDD_CPU_GPU_CV"]);
}

#[test]
fn a_rail_vanishing_mid_run_reads_as_missing_and_all_gone_is_an_error() {
    let (_dir, root) = writable("agx-orin");
    let mut m = new(&config(&root)).unwrap();
    assert!(values(m.read().unwrap()).iter().all(Option::is_some));
    let hw41 = root.join("sys/bus/i2c/drivers/ina3221/1-0041/hwmon/hwmon9");
    std::fs::remove_file(hw41.join("curr2_input")).unwrap();
    let v = values(m.read().unwrap());
    // the DRAM rail is missing, and so is the sum over it; the others are still read.
    assert_eq!(v[4], None);
    assert_eq!(v[0], None);
    assert!((v[1].unwrap() - 2.39232).abs() < 1e-12);
    std::fs::remove_dir_all(root.join("sys/bus/i2c/drivers/ina3221")).unwrap();
    let e = m.read().into_result().unwrap_err();
    assert_eq!(e.code, ErrorCode::NOT_FOUND);
    assert!(e.message.contains("no rail could be read"), "{}", e.message);
}

/// The Orin meter with its fixture files rewritten to P(t) just before every read.
struct Driven {
    inner: OrinRails,
    dir: PathBuf,
    clock: Clock,
}

const V_MV: f64 = 5000.0;
fn current_ma(t: f64) -> f64 {
    1000.0 + 400.0 * (2.0 * std::f64::consts::PI * t / 0.8).sin() + 150.0 * t
}
fn energy_j(t: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI / 0.8;
    V_MV / 1e6 * (1000.0 * t - 400.0 / w * (w * t).cos() + 75.0 * t * t)
}

impl Meter for Driven {
    fn info(&self) -> MeterInfo {
        self.inner.info()
    }
    fn read(&mut self) -> RResult<Reading, AbiError> {
        let ma = current_ma(self.clock.now()).round();
        write_atomic(&self.dir.join("curr1_input"), &format!("{ma}\n")).unwrap();
        self.inner.read()
    }
}

#[test]
fn sampled_energy_matches_the_analytic_curve() {
    let (_dir, root) = writable("orin-nano");
    let dir = root.join(NANO_HWMON);
    write_atomic(&dir.join("in1_input"), &format!("{V_MV}\n")).unwrap();
    let clock = Clock::new();
    let meter = Driven { inner: new(&config(&root)).unwrap(), dir, clock };
    let sampler = Sampler::start(Meter_TO::from_value(meter, TD_Opaque), clock, 200.0);
    std::thread::sleep(std::time::Duration::from_millis(1300));
    let (_meter, mut trace) = sampler.stop();
    // A busy test machine may stall the thread; this test is about the arithmetic, so allow it.
    trace.set_max_interval(0.3);
    let t = trace.times();
    let (a, b) = (t[0] + 0.05, t[t.len() - 1] - 0.05);
    let e = trace.energy(a, b).total.unwrap();
    assert_eq!(e.coverage, 1.0);
    assert_eq!(e.read_errors, 0);
    let got = e.joules.unwrap();
    let want = energy_j(b) - energy_j(a);
    assert!(((got - want) / want).abs() < 0.005, "{got} J vs analytic {want} J");
    // The other rails held still: 1.064448 W x window.
    let gpu = trace.energy(a, b).rails[1].energy.joules.unwrap();
    assert!((gpu - 1.064448 * (b - a)).abs() < 1e-9);
}

#[test]
fn export_builds_a_meter_box() {
    // The constructor the cdylib exports, through the ABI's trait object.
    let m = new(&config(&fixture("orin-nano"))).unwrap();
    let mut b = Meter_TO::from_value(m, TD_Opaque);
    let r = b.read().into_result().unwrap();
    assert_eq!(r.values.len(), 3);
    assert!(matches!(r.values[0], ROption::RSome(_)));
}
