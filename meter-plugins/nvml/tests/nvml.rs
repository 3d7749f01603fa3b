//! NVML's unit conversions and its failure paths, which need no GPU.

use joulebench_abi::ErrorCode;
use joulebench_meter_nvml::{energy_j, init_error, new, power_w, reading, supported};
use nvml_wrapper::error::NvmlError;

#[test]
fn units_convert_from_millijoules_and_milliwatts() {
    assert_eq!(energy_j(123_456_789), 123_456.789);
    assert_eq!(energy_j(0), 0.0);
    assert_eq!(power_w(68_250), 68.25);
    assert_eq!(power_w(u32::MAX), 4_294_967.295);
}

#[test]
fn a_failed_query_is_a_gap_and_not_supported_means_no_rail() {
    assert_eq!(reading(Ok::<u64, NvmlError>(5_000), energy_j), Some(5.0));
    assert_eq!(reading(Err::<u64, NvmlError>(NvmlError::GpuLost), energy_j), None);
    // A pre-Volta GPU has no energy counter: no rail, not an error.
    assert!(!supported(&Err::<u64, NvmlError>(NvmlError::NotSupported), "energy").unwrap());
    assert!(supported(&Ok::<u32, NvmlError>(1), "power").unwrap());
    let e = supported(&Err::<u32, NvmlError>(NvmlError::NoPermission), "power").unwrap_err();
    assert_eq!(e.code, ErrorCode::PERMISSION_DENIED);
}

#[test]
fn init_errors_say_what_is_missing() {
    let e = init_error(&NvmlError::DriverNotLoaded, "libnvidia-ml.so");
    assert_eq!(e.code, ErrorCode::NOT_FOUND);
    assert!(e.message.contains("driver is not running"));
    let e = init_error(&NvmlError::NoPermission, "libnvidia-ml.so");
    assert_eq!(e.code, ErrorCode::PERMISSION_DENIED);
    assert!(e.message.contains("/dev/nvidia"));
}

#[test]
fn without_the_library_construction_fails_cleanly() {
    let e = new("library = \"/nonexistent/libnvidia-ml.so.1\"").err().unwrap();
    assert_eq!(e.code, ErrorCode::NOT_FOUND);
    assert!(
        e.message.starts_with("/nonexistent/libnvidia-ml.so.1 not found: no NVIDIA driver"),
        "{}",
        e.message
    );
}

#[test]
fn unknown_config_keys_are_refused() {
    let e = new("index = 1").err().unwrap();
    assert_eq!(e.code, ErrorCode::INVALID_CONFIG);
    assert!(e.message.contains("index"), "{}", e.message);
}
