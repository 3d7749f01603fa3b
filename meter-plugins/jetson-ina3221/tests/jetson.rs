//! The JetPack 4 INA3221 meter against fixture trees laid out like the boards' sysfs
//! (`docs/meters.md#jetson-ina3221`; the fixtures' origin is in `tests/fixtures/README.md`).

use std::path::{Path, PathBuf};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::RResult;
use joulebench_abi::{
    AbiError, ErrorCode, Meter, Meter_TO, MeterInfo, Quality, RailKind, RailRole, Reading,
};
use joulebench_meter_common::testing::{
    copy_tree, deny_read, without_file_privileges, write_atomic,
};
use joulebench_meter_jetson_ina3221::{CONTINUOUS_AVERAGING_S, JetsonIna3221, new};
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

const NANO_IIO: &str = "sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0";

#[test]
fn nano_fixture_reads_its_power_files() {
    let mut m = new(&config(&fixture("nano"))).unwrap();
    let info = m.info();
    let names: Vec<&str> = info.rails.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU"]);
    let roles: Vec<RailRole> = info.rails.iter().map(|r| r.role).collect();
    assert_eq!(roles, [RailRole::TOTAL, RailRole::GPU, RailRole::PART]);
    assert!(info.rails.iter().all(|r| r.kind == RailKind::POWER && r.quality == Quality::MEASURED));
    // the limit file's "32760 ma" is read despite its suffix
    assert!(info.rails[0].description.contains("critical current limit 32760 mA"));
    assert!(info.boundary.contains("POM_5V_IN"), "{}", info.boundary);
    assert!((info.update_interval_s - 0.4224).abs() < 1e-12);
    assert_eq!(info.update_interval_s, CONTINUOUS_AVERAGING_S);
    // in_power files: 2604, 201, 603 mW (2604 = 5048 * 516 / 1000 truncated)
    assert_eq!(values(m.read().unwrap()), [Some(2.604), Some(0.201), Some(0.603)]);
}

#[test]
fn without_power_files_the_meter_multiplies_volts_and_amps() {
    let (_dir, root) = writable("nano");
    std::fs::remove_file(root.join(NANO_IIO).join("in_power0_input")).unwrap();
    let mut m = new(&config(&root)).unwrap();
    assert!(m.info().rails[0].description.contains("in_voltage0_input (mV) x in_current0_input"));
    let v = values(m.read().unwrap());
    assert!((v[0].unwrap() - 5048.0 * 516.0 / 1e6).abs() < 1e-12);
}

#[test]
fn agx_xavier_has_no_total_so_the_meter_sums() {
    let mut m = new(&config(&fixture("agx-xavier"))).unwrap();
    let info = m.info();
    let names: Vec<&str> = info.rails.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["sum", "GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V"]);
    assert_eq!(info.rails[0].role, RailRole::TOTAL);
    assert_eq!(info.rails[1].role, RailRole::GPU);
    let v = values(m.read().unwrap());
    // tegrastats: GPU 1155 CPU 385 SOC 2504 CV 0 VDDRQ 192 SYS5V 2692 mW -> 6928 mW
    assert!((v[0].unwrap() - 6.928).abs() < 1e-12);
}

#[test]
fn a_missing_sensor_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let e = new(&config(dir.path())).err().unwrap();
    assert_eq!(e.code, ErrorCode::NOT_FOUND);
    assert!(e.message.contains(&format!("{}/sys/bus/i2c/drivers/ina3221x", dir.path().display())));
}

#[test]
fn permission_denied_says_what_to_do() {
    let (_dir, root) = writable("nano");
    let file = root.join(NANO_IIO).join("in_power0_input");
    deny_read(&file).unwrap();
    let e = without_file_privileges(|| new(&config(&root)).err()).unwrap();
    assert_eq!(e.code, ErrorCode::PERMISSION_DENIED);
    assert!(e.message.starts_with(&format!("{}: ", file.display())), "{}", e.message);
    assert!(e.message.contains("sudo chmod o+r"), "{}", e.message);
}

#[test]
fn a_rail_vanishing_mid_run_reads_as_missing() {
    let (_dir, root) = writable("nano");
    let mut m = new(&config(&root)).unwrap();
    std::fs::remove_file(root.join(NANO_IIO).join("in_power1_input")).unwrap();
    assert_eq!(values(m.read().unwrap()), [Some(2.604), None, Some(0.603)]);
    std::fs::remove_dir_all(root.join("sys")).unwrap();
    let e = m.read().into_result().unwrap_err();
    assert_eq!(e.code, ErrorCode::NOT_FOUND);
}

struct Driven {
    inner: JetsonIna3221,
    file: PathBuf,
    clock: Clock,
}

/// P(t) = 2.6 W + a ramp of 0.8 W/s + 0.5 W sin(2 pi t / 0.9), in mW.
fn power_mw(t: f64) -> f64 {
    2600.0 + 800.0 * t + 500.0 * (2.0 * std::f64::consts::PI * t / 0.9).sin()
}
fn energy_j(t: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI / 0.9;
    (2600.0 * t + 400.0 * t * t - 500.0 / w * (w * t).cos()) / 1000.0
}

impl Meter for Driven {
    fn info(&self) -> MeterInfo {
        self.inner.info()
    }
    fn read(&mut self) -> RResult<Reading, AbiError> {
        let mw = power_mw(self.clock.now()).round();
        write_atomic(&self.file, &format!("{mw}\n")).unwrap();
        self.inner.read()
    }
}

#[test]
fn sampled_energy_matches_the_analytic_curve() {
    let (_dir, root) = writable("nano");
    let clock = Clock::new();
    let file = root.join(NANO_IIO).join("in_power0_input");
    let meter = Driven { inner: new(&config(&root)).unwrap(), file, clock };
    let sampler = Sampler::start(Meter_TO::from_value(meter, TD_Opaque), clock, 200.0);
    std::thread::sleep(std::time::Duration::from_millis(1300));
    let (_meter, mut trace) = sampler.stop();
    trace.set_max_interval(0.3);
    let t = trace.times();
    let (a, b) = (t[0] + 0.05, t[t.len() - 1] - 0.05);
    let e = trace.energy(a, b).total.unwrap();
    assert_eq!(e.coverage, 1.0);
    let (got, want) = (e.joules.unwrap(), energy_j(b) - energy_j(a));
    assert!(((got - want) / want).abs() < 0.005, "{got} J vs analytic {want} J");
}
