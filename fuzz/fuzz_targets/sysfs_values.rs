//! The text parsers of the meters' sysfs and procfs files: the first byte picks one (a sysfs
//! number, a 64-bit counter, `/proc/stat`, `/proc/meminfo`, a kernel CPU list), the rest is the
//! file's text.
#![no_main]

use std::path::Path;

use joulebench_meter_common::{parse_number, parse_u64};
use joulebench_meter_estimate::machine::parse_cpu_list;
use joulebench_meter_estimate::{parse_mem_total_gib, parse_stat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let path = Path::new("/sys/fuzz");
    match which % 5 {
        0 => {
            if let Ok(v) = parse_number(path, &text) {
                assert!(v.is_finite());
            }
        }
        1 => {
            let _ = parse_u64(path, &text);
        }
        2 => {
            if let Ok(t) = parse_stat(path, &text) {
                assert!(t.busy <= t.total);
            }
        }
        3 => {
            let _ = parse_mem_total_gib(path, &text);
        }
        _ => {
            let _ = parse_cpu_list(path, &text);
        }
    }
});
