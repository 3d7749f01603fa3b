//! On a machine with an NVIDIA GPU: the energy counter grows across a sleep, power is plausible,
//! and the sampler's counter energy agrees with its integrated power. Ignored elsewhere; run it
//! with `cargo test -p joulebench-meter-nvml --test gpu -- --ignored`.

use std::time::Duration;

use abi_stable::sabi_trait::TD_Opaque;
use joulebench_abi::{Meter, Meter_TO, RailKind, RailRole};
use joulebench_meter_nvml::new;
use joulebench_sampler::{Clock, Sampler};

#[test]
#[ignore = "needs an NVIDIA GPU: run with --ignored on a machine that has one"]
fn energy_counter_grows_on_a_real_gpu() {
    let mut m = new("").expect("an NVIDIA GPU with its driver");
    let info = m.info();
    eprintln!("boundary: {}", info.boundary);
    for r in info.rails.iter() {
        eprintln!(
            "rail {} {} {} {}: {}",
            r.name,
            r.kind.unit(),
            r.role.as_str(),
            r.quality.as_str(),
            r.description
        );
    }
    assert_eq!(info.rails[0].name.as_str(), "gpu_energy");
    assert_eq!(info.rails[0].kind, RailKind::ENERGY);
    assert_eq!(info.rails[0].role, RailRole::TOTAL);
    let a = m.read().into_result().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let b = m.read().into_result().unwrap();
    let (e0, e1) = (a.values[0].into_option().unwrap(), b.values[0].into_option().unwrap());
    let p = b.values[1].into_option().unwrap();
    eprintln!("energy {e0} J -> {e1} J over ~1 s ({} J); power {p} W", e1 - e0);
    assert!(e1 > e0, "the energy counter must grow: {e0} -> {e1}");
    assert!(p > 1.0 && p < 2000.0, "implausible GPU power {p} W");

    let clock = Clock::new();
    let sampler = Sampler::start(Meter_TO::from_value(m, TD_Opaque), clock, 20.0);
    std::thread::sleep(Duration::from_secs(3));
    let (_m, trace) = sampler.stop();
    let t = trace.times();
    let w = trace.energy(t[0], t[t.len() - 1]);
    let counter = w.rails[0].energy.joules.unwrap();
    let integrated = w.rails[1].energy.joules.unwrap();
    eprintln!(
        "sampler: {} samples over {:.3} s; counter {counter:.3} J ({:.2} W), integrated power \
         {integrated:.3} J ({:.2} W)",
        t.len(),
        t[t.len() - 1] - t[0],
        counter / (t[t.len() - 1] - t[0]),
        integrated / (t[t.len() - 1] - t[0])
    );
    assert!(counter > 0.0);
    assert!((counter - integrated).abs() / counter < 0.25, "counter and power disagree by > 25 %");
}
