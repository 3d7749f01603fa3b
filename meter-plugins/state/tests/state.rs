//! The state meter against fixture trees laid out as the boards lay out their sysfs, and a
//! stand-in vcgencmd that replays a Pi 5's replies (`tests/fixtures/README.md`).

use std::path::{Path, PathBuf};

use joulebench_abi::{ErrorCode, Meter, RailKind, RailRole};
use joulebench_meter_common::testing::{copy_tree, write_atomic};
use joulebench_meter_state::{Board, detect, new};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn config(root: &Path, extra: &str) -> String {
    format!("root = {:?}\n{extra}", root.display().to_string())
}

/// Rail name -> value of one reading.
fn read(name: &str, extra: &str) -> Vec<(String, RailKind, Option<f64>)> {
    let mut m = new(&config(&fixture(name), extra)).unwrap();
    let info = m.info();
    assert!(info.rails.iter().all(|r| r.role == RailRole::PART && r.kind.is_state()));
    let values = m.read().unwrap().values;
    info.rails
        .iter()
        .zip(values.iter())
        .map(|(r, v)| (r.name.to_string(), r.kind, v.into_option()))
        .collect()
}

fn value(rails: &[(String, RailKind, Option<f64>)], name: &str) -> Option<f64> {
    rails.iter().find(|r| r.0 == name).unwrap_or_else(|| panic!("no rail {name}: {rails:?}")).2
}

/// A writable copy of the fake vcgencmd; returns its folder.
fn fake_vcgencmd(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    copy_tree(&fixture("bin"), &bin).unwrap();
    bin
}

/// The `path` setting that finds the fake first, then the system's tools the script uses.
fn path_with(bin: &Path) -> String {
    format!("path = \"{}:/usr/bin:/bin\"", bin.display())
}

#[test]
fn boards_are_told_apart_by_their_device_tree_and_release_file() {
    assert_eq!(detect(&fixture("pi5")), Board::Pi5);
    assert_eq!(detect(&fixture("nano-l4t32")), Board::Jetson);
    assert_eq!(detect(&fixture("orin-nano-l4t35")), Board::Jetson);
    assert_eq!(detect(&fixture("orin-nano-l4t36")), Board::Jetson);
    assert_eq!(detect(&fixture("x86")), Board::Linux);
}

#[test]
fn jetson_nano_l4t32_zones_cpus_and_gpu() {
    let r = read("nano-l4t32", "");
    let names: Vec<&str> = r.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "temp:AO-therm",
            "temp:CPU-therm",
            "temp:GPU-therm",
            "temp:PLL-therm",
            "temp:thermal-fan-est",
            "clock:cpu:cpu0",
            "clock:cpu:cpu1",
            "clock:cpu:cpu2",
            "clock:cpu:cpu3",
            "clock:gpu:57000000.gpu",
        ],
        "PMIC-Die (a fixed 100 °C) is left out by default"
    );
    assert_eq!(value(&r, "temp:CPU-therm"), Some(31.0));
    assert_eq!(value(&r, "clock:cpu:cpu2"), Some(1_479_000_000.0));
    assert_eq!(value(&r, "clock:gpu:57000000.gpu"), Some(76_800_000.0));
    // Asked for, the PMIC zone is there with its fixed reading.
    let all = read("nano-l4t32", "ignore = []");
    assert_eq!(value(&all, "temp:PMIC-Die"), Some(100.0));
}

#[test]
fn orin_gpu_is_found_where_each_l4t_release_puts_it() {
    let r35 = read("orin-nano-l4t35", "");
    assert_eq!(value(&r35, "clock:gpu:17000000.ga10b"), Some(306_000_000.0));
    let r36 = read("orin-nano-l4t36", "");
    assert_eq!(value(&r36, "clock:gpu:17000000.gpu"), Some(306_000_000.0));
    // The tegrastats line recorded on the L4T 36 board: cpu@50.125C gpu@50.562C tj@50.562C,
    // CPU at 1344 MHz on both clusters.
    assert_eq!(value(&r36, "temp:cpu-thermal"), Some(50.125));
    assert_eq!(value(&r36, "temp:gpu-thermal"), Some(50.562));
    assert_eq!(value(&r36, "temp:tj-thermal"), Some(50.562));
    assert_eq!(value(&r36, "clock:cpu:policy0"), Some(1_344_000_000.0));
    assert_eq!(value(&r36, "clock:cpu:policy4"), Some(1_344_000_000.0));
    // The offline cv zones (-256 °C) are gaps, never a temperature.
    assert_eq!(value(&r36, "temp:cv0-thermal"), None);
    assert_eq!(value(&r35, "temp:cv2-thermal"), None);
}

#[test]
fn a_jetson_without_its_gpu_node_is_refused_with_the_places_looked_at() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("orin-nano-l4t36"), dir.path()).unwrap();
    std::fs::remove_dir_all(dir.path().join("sys/devices/platform")).unwrap();
    let e = new(&config(dir.path(), "")).unwrap_err();
    assert_eq!(e.code, ErrorCode::UNSUPPORTED);
    assert!(e.message.contains("17000000.ga10b") && e.message.contains("board = \"linux\""));
    // As plain Linux it reads the rest.
    assert!(new(&config(dir.path(), "board = \"linux\"")).is_ok());
}

#[test]
fn any_linux_reads_zones_hwmon_labels_and_policies() {
    let r = read("x86", "");
    assert_eq!(value(&r, "temp:x86_pkg_temp"), Some(44.0));
    assert_eq!(value(&r, "temp:hwmon:coretemp/Package id 0"), Some(44.0));
    assert_eq!(value(&r, "temp:hwmon:coretemp/Core 1"), Some(43.0));
    assert_eq!(value(&r, "clock:cpu:policy1"), Some(2_900_000_000.0));
    assert!(r.iter().all(|r| !r.0.contains("gpu")));
}

#[test]
fn pi5_reads_vcgencmd_beside_sysfs_and_decodes_throttling() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_vcgencmd(dir.path());
    let extra = format!("{}\ncommand_every_s = 0", path_with(&bin));
    let mut m = new(&config(&fixture("pi5"), &extra)).unwrap();
    let info = m.info();
    let names: Vec<&str> = info.rails.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "temp:cpu-thermal",
            "temp:hwmon:cpu_thermal/temp1",
            "clock:cpu:policy0",
            "temp:soc(vcgencmd)",
            "clock:arm(vcgencmd)",
            "throttled"
        ]
    );
    assert_eq!(info.rails[5].kind, RailKind::FLAGS);
    assert!(info.rails[5].description.contains("2 throttled"));
    let v: Vec<Option<f64>> = m.read().unwrap().values.iter().map(|v| v.into_option()).collect();
    assert_eq!(
        v,
        [Some(51.15), Some(51.15), Some(2.4e9), Some(51.6), Some(2400028928.0), Some(0.0)]
    );

    // The board heats up and the firmware throttles: soft limit and throttling now and since boot.
    write_atomic(&bin.join("replies/measure_temp"), "temp=82.3'C\n").unwrap();
    write_atomic(&bin.join("replies/measure_clock arm"), "frequency(0)=1500000000\n").unwrap();
    write_atomic(&bin.join("replies/get_throttled"), "throttled=0xe000e\n").unwrap();
    let v: Vec<Option<f64>> = m.read().unwrap().values.iter().map(|v| v.into_option()).collect();
    assert_eq!(&v[3..], [Some(82.3), Some(1.5e9), Some(f64::from(0xe000e_u32))]);
    let bits = v[5].unwrap() as u32;
    assert_eq!(
        joulebench_meter_state::readers::decode_throttled(bits).0,
        ["arm frequency capped", "throttled", "soft temperature limit"]
    );

    let calls = std::fs::read_to_string(bin.join("calls.log")).unwrap();
    // Once each when the meter was built (to refuse a Pi without vcgencmd), then per read.
    assert_eq!(calls.lines().filter(|l| *l == "get_throttled").count(), 3, "{calls}");
    assert_eq!(calls.lines().filter(|l| *l == "measure_clock arm").count(), 3, "{calls}");
}

#[test]
fn commands_run_at_most_once_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_vcgencmd(dir.path());
    let extra = format!("{}\ncommand_every_s = 3600", path_with(&bin));
    let mut m = new(&config(&fixture("pi5"), &extra)).unwrap();
    for _ in 0..5 {
        m.read().unwrap();
    }
    let calls = std::fs::read_to_string(bin.join("calls.log")).unwrap();
    assert_eq!(calls.lines().count(), 3, "one call per query, all from the first: {calls}");
}

#[test]
fn a_pi_without_a_working_vcgencmd_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_vcgencmd(dir.path());
    std::fs::remove_file(bin.join("replies/get_throttled")).unwrap();
    let extra = path_with(&bin);
    let e = new(&config(&fixture("pi5"), &extra)).unwrap_err();
    assert!(e.message.contains("vcgencmd get_throttled"), "{}", e.message);
    assert!(e.message.contains("Command not registered"), "{}", e.message);
    assert!(e.message.contains("board = \"linux\""), "{}", e.message);
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let extra = format!("path = {:?}", empty.display().to_string());
    let e = new(&config(&fixture("pi5"), &extra)).unwrap_err();
    assert_eq!(e.code, ErrorCode::NOT_FOUND, "{}", e.message);
    let sysfs_only = new(&config(&fixture("pi5"), &format!("{extra}\nboard = \"linux\""))).unwrap();
    assert_eq!(sysfs_only.info().rails.len(), 3);
}

#[test]
fn a_vanished_sensor_is_a_gap_and_bad_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("x86"), dir.path()).unwrap();
    let mut m = new(&config(dir.path(), "")).unwrap();
    std::fs::remove_file(dir.path().join("sys/devices/virtual/thermal/thermal_zone0/temp"))
        .unwrap();
    let v = m.read().unwrap().values;
    assert_eq!(v[0].into_option(), None);
    assert_eq!(v[1].into_option(), Some(44.0));
    let e = new("bord = \"pi5\"").unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_CONFIG);
    assert!(e.message.contains("bord"), "{}", e.message);
    let e = new(&config(dir.path().join("nothing").as_path(), "")).unwrap_err();
    assert!(e.message.contains("no thermal zone"), "{}", e.message);
}
