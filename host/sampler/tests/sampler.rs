//! The sampler thread with a scripted meter: failed reads and wrong-sized readings are recorded
//! as gaps with their messages, batches arrive while it runs, and stop returns the meter.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult};
use joulebench_abi::{
    AbiError, Meter, Meter_TO, MeterInfo, Quality, RailInfo, RailKind, RailRole, Reading,
};
use joulebench_sampler::{Clock, Sampler};

/// Reads 8 W on its total and 2 W on a part; read number `fail_at` fails, read `short_at` returns
/// one value for two rails, and the part is missing on every fifth read.
struct Scripted {
    reads: Arc<AtomicUsize>,
    fail_at: usize,
    short_at: usize,
}

impl Meter for Scripted {
    fn info(&self) -> MeterInfo {
        let rail = |name: &str, role| RailInfo {
            name: name.into(),
            kind: RailKind::POWER,
            role,
            quality: Quality::MEASURED,
            description: "scripted".into(),
        };
        MeterInfo {
            name: "scripted".into(),
            boundary: "a test".into(),
            rails: vec![rail("total", RailRole::TOTAL), rail("part", RailRole::PART)].into(),
            update_interval_s: 0.0,
        }
    }

    fn read(&mut self) -> RResult<Reading, AbiError> {
        let n = self.reads.fetch_add(1, Ordering::SeqCst);
        if n == self.fail_at {
            return RResult::RErr(AbiError::backend("sensor hiccup"));
        }
        let part = if n % 5 == 4 { ROption::RNone } else { ROption::RSome(2.0) };
        let values = if n == self.short_at {
            vec![ROption::RSome(8.0)]
        } else {
            vec![ROption::RSome(8.0), part]
        };
        RResult::ROk(Reading { values: values.into() })
    }
}

#[test]
fn failures_and_missing_rails_are_recorded_not_bridged() {
    let reads = Arc::new(AtomicUsize::new(0));
    let meter = Scripted { reads: Arc::clone(&reads), fail_at: 3, short_at: 6 };
    let clock = Clock::new();
    let mut sampler = Sampler::start(Meter_TO::from_value(meter, TD_Opaque), clock, 200.0);
    // Wait (without a deadline on speed) until enough reads happened and a batch arrived.
    while sampler.trace().len() < 20 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (mut meter, mut trace) = sampler.stop();
    let n = reads.load(Ordering::SeqCst);
    assert_eq!(trace.len(), n, "every read is in the trace");
    // the meter comes back usable
    assert!(meter.read().into_result().is_ok());

    let msgs: Vec<&str> = trace.errors().iter().map(|e| e.message.as_str()).collect();
    assert_eq!(msgs, ["sensor hiccup", "meter returned 1 values for 2 rails"]);
    let times = trace.times().to_vec();
    assert!(times.windows(2).all(|w| w[1] > w[0]), "stamps increase");
    assert_eq!(trace.errors()[0].t, times[3]);
    assert_eq!(trace.value(0, 3), None);
    assert_eq!(trace.value(0, 6), None);
    assert_eq!(trace.value(1, 4), None);
    assert_eq!(trace.value(0, 4), Some(8.0));

    // Generous gap threshold so that scheduling jitter on a busy machine does not matter here.
    trace.set_max_interval(1.0);
    let w = trace.energy(times[0], times[n - 1]);
    let total = w.total.unwrap();
    assert_eq!(total.read_errors, 2);
    assert_eq!(total.gaps, 2, "reads 3 and 6 each open a gap");
    assert_eq!(total.missing, 2);
    assert_eq!(total.samples, n - 2);
    let covered = (times[n - 1] - times[0]) - (times[4] - times[2]) - (times[7] - times[5]);
    assert!((total.coverage * total.window_s - covered).abs() < 1e-9);
    assert!((total.joules.unwrap() - 8.0 * covered).abs() < 1e-9);
    assert_eq!(trace.missing(1), (0..n).filter(|i| i % 5 == 4 || *i == 3 || *i == 6).count());
}

#[test]
fn clock_copies_share_their_origin() {
    let clock = Clock::new();
    let other = clock;
    let a = clock.now();
    let b = other.now();
    assert!(b >= a && a >= 0.0);
    assert_eq!(clock.at(clock.origin()), 0.0);
    assert!(clock.at(clock.origin() - Duration::from_millis(5)) < 0.0);
}

/// A meter whose value changes every fourth read.
struct Stepping {
    reads: usize,
}

impl Meter for Stepping {
    fn info(&self) -> MeterInfo {
        MeterInfo {
            name: "stepping".into(),
            boundary: "a test".into(),
            rails: vec![RailInfo {
                name: "total".into(),
                kind: RailKind::POWER,
                role: RailRole::TOTAL,
                quality: Quality::MEASURED,
                description: "steps".into(),
            }]
            .into(),
            update_interval_s: 0.0,
        }
    }

    fn read(&mut self) -> RResult<Reading, AbiError> {
        self.reads += 1;
        std::thread::sleep(Duration::from_micros(200));
        RResult::ROk(Reading { values: vec![ROption::RSome((self.reads / 4) as f64)].into() })
    }
}

#[test]
fn probe_counts_value_changes_and_read_cost() {
    let mut meter = Meter_TO::from_value(Stepping { reads: 0 }, TD_Opaque);
    let p = joulebench_sampler::probe_update_period(&mut meter, Duration::from_secs(10), 41);
    assert_eq!(p.reads, 41);
    assert_eq!(p.failed, 0);
    // reads 1..=41 give 0,0,0,1,1,1,1,2,...,10: ten changes, four reads apart
    assert_eq!(p.changes, 10);
    assert!(p.read_cost_s >= 200e-6, "{}", p.read_cost_s);
    let period = p.update_period_s.unwrap();
    assert!(period >= 4.0 * 200e-6, "{period}");
    assert!(p.suggested_rate_hz(10.0) <= 10.0);
}
