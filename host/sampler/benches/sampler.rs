//! The sampler's own cost.
//!
//! - `sampler_cpu`: a synthetic meter shaped like the Orin Nano's INA3221 (three rails, a voltage
//!   and a current file each: six small sysfs-style file reads and parses per sample, in a
//!   temporary folder) sampled at 10, 100 and 1000 Hz on the sampler's thread for a fixed wall
//!   window; the process's CPU time (getrusage) over the window is reported as a percentage of
//!   one core. Criterion cannot plan iterations around a quantity other than the routine's wall
//!   time, so this part measures directly and prints; the goal is under 1 % of one core at
//!   100 Hz.
//! - `meter_read`: one read of that meter (what every sample costs the sampler thread).
//! - `integrate`: energy over a 1,000,000-sample trace (power rail: trapezoid; counter rail:
//!   differences), i.e. the integration cost per million samples.
//!
//! The meter is synthetic so that the host's crates depend on no meter plugin.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RSome};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use joulebench_abi::{
    AbiError, Meter, Meter_TO, MeterBox, MeterInfo, Quality, RailInfo, RailKind, RailRole, Reading,
};
use joulebench_sampler::{Clock, Sampler, Trace};

/// Three rails, each power = voltage (mV) x current (mA) read from two files.
struct SysfsLike {
    _dir: tempfile::TempDir,
    files: Vec<(PathBuf, PathBuf)>,
}

impl SysfsLike {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let files = (1..=3)
            .map(|i| {
                let v = dir.path().join(format!("in{i}_input"));
                let c = dir.path().join(format!("curr{i}_input"));
                std::fs::write(&v, "5072\n").expect("write");
                std::fs::write(&c, "1184\n").expect("write");
                (v, c)
            })
            .collect();
        SysfsLike { _dir: dir, files }
    }
}

fn read_milli(path: &PathBuf) -> Option<f64> {
    std::fs::read_to_string(path).ok()?.trim().parse::<f64>().ok().map(|v| v / 1000.0)
}

impl Meter for SysfsLike {
    fn info(&self) -> MeterInfo {
        let rail = |i: usize| RailInfo {
            name: format!("rail{i}").into(),
            kind: RailKind::POWER,
            role: if i == 1 { RailRole::TOTAL } else { RailRole::PART },
            quality: Quality::MEASURED,
            description: "synthetic".into(),
        };
        MeterInfo {
            name: "synthetic sysfs".into(),
            boundary: "none".into(),
            rails: (1..=3).map(rail).collect(),
            update_interval_s: 0.0,
        }
    }

    fn read(&mut self) -> RResult<Reading, AbiError> {
        let values = self
            .files
            .iter()
            .map(|(v, c)| match (read_milli(v), read_milli(c)) {
                (Some(v), Some(c)) => RSome(v * c),
                _ => abi_stable::std_types::RNone,
            })
            .collect();
        RResult::ROk(Reading { values })
    }
}

fn meter() -> MeterBox {
    Meter_TO::from_value(SysfsLike::new(), TD_Opaque)
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage failed");
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn sampler_cpu(_c: &mut Criterion) {
    let window = Duration::from_secs(
        std::env::var("JOULEBENCH_BENCH_WINDOW_S").ok().and_then(|s| s.parse().ok()).unwrap_or(5),
    );
    for rate in [10.0, 100.0, 1000.0] {
        let clock = Clock::new();
        let c0 = cpu_time();
        let w0 = clock.now();
        let sampler = Sampler::start(meter(), clock, rate);
        std::thread::sleep(window);
        let (_meter, trace) = sampler.stop();
        let wall = clock.now() - w0;
        let cpu = (cpu_time() - c0).as_secs_f64();
        println!(
            "sampler_cpu/{rate}Hz: {:.3} % of one core ({cpu:.4} s CPU over {wall:.2} s wall, {} \
             samples = {:.1} Hz achieved, {} missed ticks, {} read errors, {:.1} µs CPU per sample)",
            100.0 * cpu / wall,
            trace.len(),
            trace.len() as f64 / wall,
            trace.missed_ticks(),
            trace.errors().len(),
            1e6 * cpu / trace.len().max(1) as f64,
        );
    }
}

fn meter_read(c: &mut Criterion) {
    let mut m = meter();
    c.bench_function("meter_read/sysfs-like", |b| b.iter(|| black_box(m.read())));
}

fn synthetic(n: usize, kind: RailKind) -> Trace {
    let info = MeterInfo {
        name: "synthetic".into(),
        boundary: "none".into(),
        rails: vec![RailInfo {
            name: "total".into(),
            kind,
            role: RailRole::TOTAL,
            quality: Quality::MEASURED,
            description: "synthetic".into(),
        }]
        .into(),
        update_interval_s: 0.0,
    };
    let mut trace = Trace::new(info, 0.01);
    let mut e = 0.0;
    for i in 0..n {
        let t = i as f64 * 0.01;
        let p = 5.0 + (t * 0.7).sin();
        e += p * 0.01;
        trace.push(t, &[Some(if kind == RailKind::ENERGY { e } else { p })]);
    }
    trace.refresh_stats();
    trace
}

fn integrate(c: &mut Criterion) {
    const N: usize = 1_000_000;
    let mut g = c.benchmark_group("integrate_per_million_samples");
    g.throughput(Throughput::Elements(N as u64));
    let end = (N - 1) as f64 * 0.01;
    let power = synthetic(N, RailKind::POWER);
    g.bench_function("power_trapezoid", |b| {
        b.iter(|| black_box(power.rail_energy(0, black_box(0.005), black_box(end - 0.005))))
    });
    let counter = synthetic(N, RailKind::ENERGY);
    g.bench_function("counter_difference", |b| {
        b.iter(|| black_box(counter.rail_energy(0, black_box(0.005), black_box(end - 0.005))))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = sampler_cpu, meter_read, integrate
}
criterion_main!(benches);
