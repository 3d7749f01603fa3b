//! The Pi 5 PMIC meter against recorded `vcgencmd pmic_read_adc` replies
//! (`docs/meters.md#pi5-pmic`; the fixtures' origin is in `tests/fixtures/README.md`).

use std::path::{Path, PathBuf};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::RResult;
use joulebench_abi::{
    AbiError, ErrorCode, Meter, Meter_TO, MeterInfo, Quality, RailKind, RailRole, Reading,
};
use joulebench_meter_common::testing::write_atomic;
use joulebench_meter_pi5_pmic::{Pi5Pmic, new, pair, parse_reply};
use joulebench_sampler::{Clock, Sampler};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn cat(path: &Path) -> String {
    format!("command = [\"cat\", {:?}]", path.display().to_string())
}

fn values(r: Reading) -> Vec<Option<f64>> {
    r.values.iter().map(|v| v.into_option()).collect()
}

fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

#[test]
fn capture_a_sums_to_the_reference_7_24_w() {
    let mut m = new(&cat(&fixture("capture-a.txt"))).unwrap();
    let info = m.info();
    assert_eq!(info.rails.len(), 13);
    assert_eq!(info.rails[0].name.as_str(), "rails_sum");
    assert_eq!(info.rails[0].role, RailRole::TOTAL);
    assert!(info.rails.iter().all(|r| r.kind == RailKind::POWER && r.quality == Quality::MEASURED));
    let names: Vec<&str> = info.rails.iter().map(|r| r.name.as_str()).collect();
    assert!(!names.contains(&"EXT5V") && !names.contains(&"BATT"));
    let core = names.iter().position(|n| *n == "VDD_CORE").unwrap();
    assert!(info.rails[core].description.contains("current(7)"));
    assert!(info.rails[core].description.contains("volt(15)"));
    assert!(info.boundary.contains("not wall power"));
    let v = values(m.read().unwrap());
    // By hand from capture-a.txt (V x I per rail): sum of the 12 paired rails 7.2398 W, VDD_CORE
    // 5.3636 W, DDR_VDD2 + DDR_VDDQ 0.2892 W.
    assert!((v[0].unwrap() - 7.2398).abs() < 5e-5, "{:?}", v[0]);
    assert!((v[core].unwrap() - 5.3636).abs() < 5e-5);
    let ddr: f64 = ["DDR_VDD2", "DDR_VDDQ"]
        .iter()
        .map(|r| v[names.iter().position(|n| n == r).unwrap()].unwrap())
        .sum();
    assert!((ddr - 0.2892).abs() < 5e-5, "{ddr}");
}

#[test]
fn calibration_adds_an_estimated_wall_rail() {
    let config = format!(
        "{}\n[calibration]\nscale = 1.1451\noffset_w = 0.5879\nsource = \"jfikar/RPi5-power\"",
        cat(&fixture("capture-a.txt"))
    );
    let mut m = new(&config).unwrap();
    let info = m.info();
    assert_eq!(info.rails[1].name.as_str(), "wall_calibrated");
    assert_eq!(info.rails[1].quality, Quality::ESTIMATED);
    assert_eq!(info.rails[1].role, RailRole::PART);
    assert!(info.rails[1].description.contains("jfikar/RPi5-power"));
    assert_eq!(info.rails[0].quality, Quality::MEASURED);
    // with the jfikar correction: 1.1451 x 7.2398 + 0.5879 ≈ 8.878 W
    let v = values(m.read().unwrap());
    assert!((v[1].unwrap() - 8.878).abs() < 5e-4, "{:?}", v[1]);
}

#[test]
fn the_mailbox_form_parses_like_the_text_form() {
    let text = parse_reply(&read_fixture("capture-a.txt"), "t").unwrap();
    let nul = String::from_utf8(std::fs::read(fixture("capture-a-mailbox.bin")).unwrap()).unwrap();
    assert_eq!(parse_reply(&nul, "t").unwrap(), text);
    assert_eq!(text.len(), 26);
    assert_eq!(pair(&text).len(), 12);
}

#[test]
fn unpadded_capture_pairs_by_name_not_by_index() {
    // The idle board's partial reply (from a gist, padding lost): VDD_CORE pairs current(7) with
    // volt(15); DDR_VDDQ has no voltage line here, so it is not a rail.
    let ch = parse_reply(&read_fixture("capture-b-partial.txt"), "t").unwrap();
    let p = pair(&ch);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].0, "VDD_CORE");
    assert!((p[0].1 * p[0].2 - 0.92871990 * 0.72097620).abs() < 1e-15);
}

#[test]
fn a_single_voltage_channel_is_no_meter() {
    let e = new(&cat(&fixture("single-ext5v.txt"))).err().unwrap();
    assert_eq!(e.code, ErrorCode::NOT_FOUND);
    assert!(e.message.contains("no rail with both a current and a voltage"), "{}", e.message);
}

#[test]
fn a_firmware_error_reply_is_unsupported() {
    let e = new(&cat(&fixture("error-reply.txt"))).err().unwrap();
    assert_eq!(e.code, ErrorCode::UNSUPPORTED);
    assert!(e.message.contains("Command not registered"), "{}", e.message);
}

#[test]
fn garbage_names_the_line() {
    let path = fixture("garbage.txt");
    let e = new(&cat(&path)).err().unwrap();
    assert_eq!(e.code, ErrorCode::INVALID_DATA);
    assert_eq!(
        e.message.as_str(),
        format!("`cat {}` output line 2: not a PMIC channel: \"throttled=0x0\"", path.display())
    );
}

#[test]
fn a_missing_command_is_not_found() {
    let e = new("command = [\"/nonexistent/vcgencmd\", \"pmic_read_adc\"]").err().unwrap();
    assert_eq!(e.code, ErrorCode::NOT_FOUND);
    assert!(e.message.contains("/nonexistent/vcgencmd"), "{}", e.message);
}

#[test]
fn no_access_to_dev_vcio_says_to_join_the_video_group() {
    let script = fixture("vcgencmd-no-vcio.sh");
    let cmd = format!("command = [\"sh\", {:?}]", script.display().to_string());
    let e = new(&cmd).err().unwrap();
    assert_eq!(e.code, ErrorCode::PERMISSION_DENIED);
    assert!(e.message.contains("sudo usermod -aG video $USER"), "{}", e.message);
}

#[test]
fn a_hung_command_is_killed_after_its_timeout() {
    let e = new("command = [\"sleep\", \"30\"]\ntimeout_s = 0.2").err().unwrap();
    assert_eq!(e.code, ErrorCode::BACKEND);
    assert_eq!(e.message.as_str(), "`sleep 30` did not answer within 0.2 s; killed");
}

#[test]
fn bad_config_is_refused() {
    let e = new("comand = [\"x\"]").err().unwrap();
    assert_eq!(e.code, ErrorCode::INVALID_CONFIG);
    assert!(e.message.contains("comand"));
    let e = new("[calibration]\nscale = 1.0").err().unwrap();
    assert_eq!(e.code, ErrorCode::INVALID_CONFIG);
    assert!(e.message.contains("offset_w"), "{}", e.message);
}

#[test]
fn a_rail_vanishing_mid_run_reads_as_missing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("reply.txt");
    let capture = read_fixture("capture-a.txt");
    std::fs::write(&file, &capture).unwrap();
    let mut m = new(&cat(&file)).unwrap();
    let names: Vec<String> = m.info().rails.iter().map(|r| r.name.to_string()).collect();
    let core = names.iter().position(|n| n == "VDD_CORE").unwrap();
    let without: String =
        capture.lines().filter(|l| !l.contains("VDD_CORE_V")).map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, without).unwrap();
    let v = values(m.read().unwrap());
    assert_eq!(v[core], None);
    assert_eq!(v[0], None, "the sum needs every rail");
    assert!(v[1].is_some());
    std::fs::write(&file, "").unwrap();
    assert_eq!(m.read().into_result().unwrap_err().code, ErrorCode::INVALID_DATA);
}

struct Driven {
    inner: Pi5Pmic,
    file: PathBuf,
    capture: String,
    clock: Clock,
}

/// VDD_CORE current: 4 A + 2 A sin(2 pi t / 0.8) + 1 A/s ramp at 0.86173300 V.
const CORE_V: f64 = 0.86173300;
fn core_a(t: f64) -> f64 {
    4.0 + 2.0 * (2.0 * std::f64::consts::PI * t / 0.8).sin() + t
}
fn core_j(t: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI / 0.8;
    CORE_V * (4.0 * t - 2.0 / w * (w * t).cos() + 0.5 * t * t)
}

impl Meter for Driven {
    fn info(&self) -> MeterInfo {
        self.inner.info()
    }
    fn read(&mut self) -> RResult<Reading, AbiError> {
        let a = core_a(self.clock.now());
        let text = self.capture.replace("=6.22421000A", &format!("={a:.8}A"));
        write_atomic(&self.file, &text).unwrap();
        self.inner.read()
    }
}

#[test]
fn sampled_energy_matches_the_analytic_curve() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("reply.txt");
    let capture = read_fixture("capture-a.txt");
    std::fs::write(&file, &capture).unwrap();
    let inner = new(&cat(&file)).unwrap();
    let core = inner.info().rails.iter().position(|r| r.name.as_str() == "VDD_CORE").unwrap();
    let clock = Clock::new();
    let meter = Driven { inner, file, capture, clock };
    let sampler = Sampler::start(Meter_TO::from_value(meter, TD_Opaque), clock, 100.0);
    std::thread::sleep(std::time::Duration::from_millis(1300));
    let (_meter, mut trace) = sampler.stop();
    trace.set_max_interval(0.3);
    let t = trace.times();
    let (a, b) = (t[0] + 0.05, t[t.len() - 1] - 0.05);
    let w = trace.energy(a, b);
    let e = &w.rails[core].energy;
    assert_eq!(e.coverage, 1.0);
    let (got, want) = (e.joules.unwrap(), core_j(b) - core_j(a));
    assert!(((got - want) / want).abs() < 0.005, "{got} J vs analytic {want} J");
    // the total moves with VDD_CORE: the other 11 rails add 7.2398 - 5.3636 W.
    let total = w.total.unwrap().joules.unwrap();
    let others = (7.239818798 - 0.86173300 * 6.22421000) * (b - a);
    assert!(((total - want - others) / (want + others)).abs() < 0.005);
}
