//! Hostile procfs and sysfs text (inputs of the `sysfs_values` and `sysfs_trees` fuzz targets):
//! each gives an error naming the file, never a panic, a wrapped counter or a runaway probe.

use std::path::Path;

use joulebench_abi::ErrorCode;
use joulebench_meter_common::testing::{copy_tree, write_atomic};
use joulebench_meter_estimate::machine::{MAX_CPUS, parse_cpu_list};
use joulebench_meter_estimate::{parse_stat, probe};

#[test]
fn tick_counters_that_add_up_beyond_64_bits_are_refused() {
    let p = Path::new("/proc/stat");
    let text = "cpu 18446744073709551615 1 0 0 0 0 0 0\n";
    let e = parse_stat(p, text).unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_DATA);
    assert_eq!(
        e.message.as_str(),
        "/proc/stat:1: the tick counters of \"cpu 18446744073709551615 1 0 0 0 0 0 0\" add up \
         beyond 64 bits"
    );
    let t = parse_stat(p, "cpu 18446744073709551614 1 0 0 0 0 0 0\n").unwrap();
    assert_eq!((t.busy, t.total), (u64::MAX, u64::MAX));
}

#[test]
fn a_cpu_list_beyond_what_linux_numbers_is_refused() {
    let p = Path::new("/sys/devices/system/cpu/online");
    let e = parse_cpu_list(p, "0-4294967295\n").unwrap_err();
    assert_eq!(
        e.message.as_str(),
        "/sys/devices/system/cpu/online: CPU 4294967295 in \"0-4294967295\" is beyond the 8192 \
         CPUs Linux numbers"
    );
    assert_eq!(parse_cpu_list(p, &format!("0-{}", MAX_CPUS - 1)).unwrap().len(), 8192);
    assert!(parse_cpu_list(p, &format!("{MAX_CPUS}")).is_err());
}

#[test]
fn a_probe_of_a_tree_whose_online_list_names_billions_of_cpus_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pi5");
    copy_tree(&fixture, dir.path()).unwrap();
    let online = dir.path().join("sys/devices/system/cpu/online");
    write_atomic(&online, "0-3000000000\n").unwrap();
    let e = probe(dir.path()).unwrap_err();
    assert!(
        e.message.starts_with(&format!("{}: CPU 3000000000", online.display())),
        "{}",
        e.message
    );
}
