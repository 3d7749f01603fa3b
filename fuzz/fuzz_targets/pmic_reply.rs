//! The Raspberry Pi 5 meter's reading of `vcgencmd pmic_read_adc` output, then its pairing of
//! currents and voltages by rail.
#![no_main]

use joulebench_meter_pi5_pmic::{pair, parse_reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(channels) = parse_reply(&text, "vcgencmd pmic_read_adc") {
        assert!(!channels.is_empty());
        for (_, amps, volts) in pair(&channels) {
            assert!(amps.is_finite() && volts.is_finite());
        }
    }
});
