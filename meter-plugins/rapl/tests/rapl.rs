//! The RAPL meter against powercap trees laid out as on real machines (`docs/meters.md#rapl`; the
//! fixtures' origin is in `tests/fixtures/README.md`).

use std::path::{Path, PathBuf};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::RResult;
use joulebench_abi::{
    AbiError, ErrorCode, Meter, Meter_TO, MeterInfo, RailKind, RailRole, Reading,
};
use joulebench_meter_common::testing::{
    copy_tree, deny_read, without_file_privileges, write_atomic,
};
use joulebench_meter_rapl::{Rapl, new};
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

fn zone(root: &Path, id: &str) -> PathBuf {
    root.join("sys/class/powercap").join(id)
}

#[test]
fn dual_socket_capture_sums_the_packages() {
    let mut m = new(&config(&fixture("server"))).unwrap();
    let info = m.info();
    let names: Vec<&str> = info.rails.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["packages", "package-0", "dram", "package-1"]);
    let roles: Vec<RailRole> = info.rails.iter().map(|r| r.role).collect();
    assert_eq!(roles, [RailRole::TOTAL, RailRole::PART, RailRole::PART, RailRole::PART]);
    assert!(info.rails.iter().all(|r| r.kind == RailKind::ENERGY));
    assert!(info.boundary.contains("DRAM is a separate rail"), "{}", info.boundary);
    let v = values(m.read().unwrap());
    // The CodeCarbon capture: package-0 23712361659 µJ, package-1 22464335801 µJ.
    assert_eq!(v[1], Some(23_712.361_659));
    assert_eq!(v[3], Some(22_464.335_801));
    assert!((v[0].unwrap() - 46_176.697_46).abs() < 1e-6);
}

#[test]
fn client_part_names_zones_by_their_name_files() {
    let m = new(&config(&fixture("client"))).unwrap();
    let info = m.info();
    let names: Vec<&str> = info.rails.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["package-0", "core", "uncore", "psys"]);
    assert_eq!(info.rails[0].role, RailRole::TOTAL);
    assert!(info.rails[1..].iter().all(|r| r.role == RailRole::PART));
    assert!(info.rails[3].description.contains("never added"));
    assert!(info.boundary.starts_with("RAPL package-0"), "{}", info.boundary);
}

#[test]
fn wraparound_is_unwrapped_with_max_energy_range() {
    let (_dir, root) = writable("client");
    let mut m = new(&config(&root)).unwrap();
    let before = values(m.read().unwrap())[0].unwrap();
    assert_eq!(before, 262_143.0);
    write_atomic(&zone(&root, "intel-rapl:0").join("energy_uj"), "1000000\n").unwrap();
    let after = values(m.read().unwrap())[0].unwrap();
    // 262143328850 - 262143000000 + 1000000 = 1328850 µJ
    assert!((after - before - 1.328_850).abs() < 1e-9, "{}", after - before);
}

#[test]
fn permission_denied_names_the_cve_and_the_remedy() {
    let (_dir, root) = writable("client");
    let file = zone(&root, "intel-rapl:0").join("energy_uj");
    deny_read(&file).unwrap();
    let e = without_file_privileges(|| new(&config(&root)).err()).unwrap();
    assert_eq!(e.code, ErrorCode::PERMISSION_DENIED);
    assert!(e.message.starts_with(&format!("{}: ", file.display())), "{}", e.message);
    assert!(e.message.contains("CVE-2020-8694"));
    assert!(e.message.contains("sudo chmod -R a+r /sys/class/powercap/intel-rapl*"));
}

#[test]
fn a_machine_without_rapl_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let e = new(&config(dir.path())).err().unwrap();
    assert_eq!(e.code, ErrorCode::NOT_FOUND);
    assert!(e.message.contains(&format!("{}/sys/class/powercap", dir.path().display())));
}

#[test]
fn a_vanishing_zone_reads_as_missing() {
    let (_dir, root) = writable("server");
    let mut m = new(&config(&root)).unwrap();
    std::fs::remove_file(zone(&root, "intel-rapl:1").join("energy_uj")).unwrap();
    let v = values(m.read().unwrap());
    assert_eq!(v[3], None);
    assert_eq!(v[0], None, "the packages' sum needs every package");
    assert_eq!(v[1], Some(23_712.361_659));
    std::fs::remove_dir_all(root.join("sys/class/powercap")).unwrap();
    let e = m.read().into_result().unwrap_err();
    assert_eq!(e.code, ErrorCode::NOT_FOUND);
}

/// RAPL with package-0's counter rewritten before every read to follow E(t), wrapping at a small
/// range so the run wraps several times.
struct Driven {
    inner: Rapl,
    file: PathBuf,
    clock: Clock,
}

const RANGE_UJ: u64 = 10_000_000;
fn energy_uj(t: f64) -> f64 {
    // P(t) = 30 + 10 sin(2 pi t / 0.7) W
    let w = 2.0 * std::f64::consts::PI / 0.7;
    1e6 * (30.0 * t + 10.0 / w * (1.0 - (w * t).cos()))
}

impl Meter for Driven {
    fn info(&self) -> MeterInfo {
        self.inner.info()
    }
    fn read(&mut self) -> RResult<Reading, AbiError> {
        let raw = energy_uj(self.clock.now()).round() as u64 % RANGE_UJ;
        write_atomic(&self.file, &format!("{raw}\n")).unwrap();
        self.inner.read()
    }
}

#[test]
fn sampled_counter_energy_matches_the_analytic_curve_across_wraps() {
    let (_dir, root) = writable("client");
    let z = zone(&root, "intel-rapl:0");
    write_atomic(&z.join("max_energy_range_uj"), &format!("{RANGE_UJ}\n")).unwrap();
    write_atomic(&z.join("energy_uj"), "0\n").unwrap();
    let clock = Clock::new();
    let meter = Driven { inner: new(&config(&root)).unwrap(), file: z.join("energy_uj"), clock };
    let sampler = Sampler::start(Meter_TO::from_value(meter, TD_Opaque), clock, 100.0);
    std::thread::sleep(std::time::Duration::from_millis(1300));
    let (_meter, trace) = sampler.stop();
    let t = trace.times();
    let (a, b) = (t[0] + 0.05, t[t.len() - 1] - 0.05);
    let e = trace.energy(a, b).total.unwrap();
    assert_eq!(e.coverage, 1.0);
    assert_eq!(e.counter_resets, 0);
    let want = (energy_uj(b) - energy_uj(a)) / 1e6;
    assert!(want > 2.0 * RANGE_UJ as f64 / 1e6, "the run must wrap: {want} J");
    let got = e.joules.unwrap();
    // A missed or doubled wrap is off by 10 J of about 40 J. What remains is the skew between
    // the moment the stand-in counter is written and the sampler's timestamp of that read: tens
    // of microseconds on a quiet machine, but up to ~10 ms under load, which moves the window's
    // edges by up to 30 W x 10 ms each (about 1.5 %).
    assert!(((got - want) / want).abs() < 0.02, "{got} J vs analytic {want} J");
}
