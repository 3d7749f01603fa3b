//! The host's meter sampler and energy arithmetic.
//!
//! A meter plugin only reads; this crate owns timing and integration, as the design's
//! measurement rules ask:
//!
//! - [`Clock`] is the one monotonic clock of a run. The runner stamps phase and task boundaries
//!   with it and the sampler stamps every reading with it, so windows and samples line up.
//! - [`Sampler::start`] reads a meter on its own thread at a configured rate, stamps each reading
//!   at the midpoint of the read call, and hands readings over in batches (every
//!   [`BATCH_SAMPLES`] samples or [`BATCH_INTERVAL`], whichever comes first), so the runner's
//!   thread never waits on a sensor.
//! - [`Trace`] holds the result and answers energy over any window: trapezoidal integration of
//!   power rails and differences of energy counters, both clipped exactly at the window's edges by
//!   interpolation; per-rail figures; an idle baseline (median power). Missing values and failed
//!   reads are kept as such, counted and reported with every figure ([`Energy`]); they are never
//!   bridged silently, and a window with no coverage is unavailable, not zero.
//! - [`probe_update_period`] reads a meter back to back before sampling starts and reports the
//!   read cost and how often the values change, so the runner can choose and record a rate.
#![deny(missing_docs)]

mod trace;

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use joulebench_abi::{MeterBox, MeterInfo};
use joulebench_metrics::stats::median;

pub use trace::{
    Baseline, Energy, GAP_FACTOR, Integral, RailEnergy, ReadError, Trace, WindowEnergy,
    integrate_counter, integrate_power,
};

/// The run's monotonic clock: seconds since one origin. Copies share the origin.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
}

impl Clock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        Self { origin: Instant::now() }
    }

    /// A clock with the given origin.
    pub fn with_origin(origin: Instant) -> Self {
        Self { origin }
    }

    /// The origin.
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// Seconds since the origin.
    pub fn now(&self) -> f64 {
        self.at(Instant::now())
    }

    /// `instant` in seconds since the origin (negative before it).
    pub fn at(&self, instant: Instant) -> f64 {
        match instant.checked_duration_since(self.origin) {
            Some(d) => d.as_secs_f64(),
            None => -(self.origin - instant).as_secs_f64(),
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// The sampler hands readings over at least this often.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(100);
/// ... or after this many readings.
pub const BATCH_SAMPLES: usize = 256;

#[derive(Default)]
struct Batch {
    times: Vec<f64>,
    /// Row-major: `rails` values per sample, NaN where missing.
    values: Vec<f64>,
    errors: Vec<ReadError>,
    missed_ticks: u64,
}

/// The sampler thread's fate: it ends (and hands the meter back) or the host gives up on it
/// (and the thread leaks the meter), whichever happens first.
const RUNNING: u8 = 0;
const ENDED: u8 = 1;
const ABANDONED: u8 = 2;

struct Shared {
    stop: AtomicBool,
    pending: Mutex<Batch>,
    fate: AtomicU8,
}

/// A meter being read on its own thread.
pub struct Sampler {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Option<MeterBox>>>,
    trace: Trace,
    clock: Clock,
}

impl Sampler {
    /// Starts reading `meter` every `1 / rate_hz` seconds on a new thread, stamping readings with
    /// `clock`. Ticks are scheduled on an absolute grid; when a read overruns its slot the
    /// missed ticks are skipped (and counted), not caught up in a burst.
    ///
    /// # Panics
    /// When `rate_hz` is not a positive finite number (a manifest check's job).
    pub fn start(meter: MeterBox, clock: Clock, rate_hz: f64) -> Sampler {
        let info = meter.info();
        Sampler::start_described(meter, info, clock, rate_hz)
    }

    /// [`Sampler::start`] for a meter whose `info()` the caller already has (the host asks for
    /// it under a deadline).
    ///
    /// # Panics
    /// When `rate_hz` is not a positive finite number (a manifest check's job).
    pub fn start_described(
        mut meter: MeterBox,
        info: MeterInfo,
        clock: Clock,
        rate_hz: f64,
    ) -> Sampler {
        assert!(rate_hz.is_finite() && rate_hz > 0.0, "sampling rate must be positive: {rate_hz}");
        let rails = info.rails.len();
        let period = Duration::from_secs_f64(1.0 / rate_hz);
        let trace = Trace::new(info, period.as_secs_f64());
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            pending: Mutex::new(Batch::default()),
            fate: AtomicU8::new(RUNNING),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("joulebench-sampler".into())
            .spawn(move || {
                run(&mut meter, &thread_shared, clock, period, rails);
                let ended = thread_shared.fate.compare_exchange(
                    RUNNING,
                    ENDED,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                );
                if ended.is_ok() {
                    Some(meter)
                } else {
                    // Abandoned by the host: the meter is never touched again, not even dropped.
                    std::mem::forget(meter);
                    None
                }
            })
            .expect("spawning the sampler thread");
        Sampler { shared, thread: Some(thread), trace, clock }
    }

    /// The clock the sampler stamps with.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Takes the batches handed over so far into the trace and returns it. Readings still in the
    /// sampler thread's current batch (at most [`BATCH_INTERVAL`] old) arrive on a later call.
    pub fn trace(&mut self) -> &Trace {
        self.drain();
        &self.trace
    }

    fn drain(&mut self) {
        let batch = {
            let mut pending = self.shared.pending.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut *pending)
        };
        if !batch.times.is_empty() || !batch.errors.is_empty() {
            self.trace.append_raw(&batch.times, &batch.values, batch.errors);
            self.trace.refresh_stats();
        }
        self.trace.add_missed_ticks(batch.missed_ticks);
    }

    /// Stops the thread after its current read and returns the meter and everything recorded.
    pub fn stop(mut self) -> (MeterBox, Trace) {
        let meter = self.join().expect("the sampler thread is joined only here");
        let trace = self.take_trace();
        (meter, trace)
    }

    /// [`Sampler::stop`], waiting at most `limit` for the read in progress. A meter whose read
    /// has not returned by then is abandoned with its thread (never touched again, not even
    /// dropped): the result has no meter, and the trace ends with a read error that says since
    /// when the meter has not answered. The samples it lacks are gaps in the record.
    pub fn stop_within(mut self, limit: Duration) -> (Option<MeterBox>, Trace) {
        let Some(thread) = self.thread.take() else { return (None, self.take_trace()) };
        self.shared.stop.store(true, Ordering::SeqCst);
        thread.thread().unpark();
        let until = Instant::now() + limit;
        while !thread.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(2));
        }
        let gave_up = self.shared.fate.compare_exchange(
            RUNNING,
            ABANDONED,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
        if gave_up.is_ok() {
            self.drain();
            let since = self.trace.times().last().copied().unwrap_or(0.0);
            let message = format!(
                "the meter stopped answering: a read did not return within {} s of the end of \
                 sampling; no samples after t = {since:.3} s; the meter was abandoned",
                limit.as_secs_f64()
            );
            self.trace.append_raw(&[], &[], vec![ReadError { t: self.clock.now(), message }]);
            // Dropping the handle detaches the thread.
            drop(thread);
            return (None, self.take_trace());
        }
        let meter = match thread.join() {
            Ok(meter) => meter,
            Err(p) => std::panic::resume_unwind(p),
        };
        (meter, self.take_trace())
    }

    fn take_trace(&mut self) -> Trace {
        self.drain();
        let empty = Trace::new(self.trace.meter().clone(), 0.0);
        std::mem::replace(&mut self.trace, empty)
    }

    fn join(&mut self) -> Option<MeterBox> {
        let thread = self.thread.take()?;
        self.shared.stop.store(true, Ordering::SeqCst);
        thread.thread().unpark();
        match thread.join() {
            Ok(meter) => meter,
            Err(p) => std::panic::resume_unwind(p),
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.shared.stop.store(true, Ordering::SeqCst);
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

fn run(meter: &mut MeterBox, shared: &Shared, clock: Clock, period: Duration, rails: usize) {
    let mut local = Batch::default();
    let mut last_flush = Instant::now();
    let start = Instant::now();
    let mut tick: u32 = 0;
    let flush = |local: &mut Batch| {
        let mut pending = shared.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.times.append(&mut local.times);
        pending.values.append(&mut local.values);
        pending.errors.append(&mut local.errors);
        pending.missed_ticks += std::mem::take(&mut local.missed_ticks);
    };
    while !shared.stop.load(Ordering::SeqCst) {
        let t0 = clock.now();
        let reading = meter.read().into_result();
        let t = 0.5 * (t0 + clock.now());
        match reading {
            Ok(r) if r.values.len() == rails => {
                local.times.push(t);
                local.values.extend(r.values.iter().map(|v| match v.into_option() {
                    Some(x) if x.is_finite() => x,
                    _ => f64::NAN,
                }));
            }
            Ok(r) => {
                local.times.push(t);
                local.values.extend(std::iter::repeat_n(f64::NAN, rails));
                local.errors.push(ReadError {
                    t,
                    message: format!("meter returned {} values for {rails} rails", r.values.len()),
                });
            }
            Err(e) => {
                local.times.push(t);
                local.values.extend(std::iter::repeat_n(f64::NAN, rails));
                local.errors.push(ReadError { t, message: e.message.to_string() });
            }
        }
        if local.times.len() >= BATCH_SAMPLES || last_flush.elapsed() >= BATCH_INTERVAL {
            flush(&mut local);
            last_flush = Instant::now();
        }
        tick = tick.saturating_add(1);
        let mut next = start + period * tick;
        let now = Instant::now();
        if next <= now {
            let behind = (now - next).as_secs_f64() / period.as_secs_f64();
            let skip = behind.floor() as u32 + 1;
            local.missed_ticks += u64::from(skip);
            tick = tick.saturating_add(skip);
            next = start + period * tick;
        }
        loop {
            if shared.stop.load(Ordering::SeqCst) {
                break;
            }
            let now = Instant::now();
            if now >= next {
                break;
            }
            std::thread::park_timeout(next - now);
        }
    }
    flush(&mut local);
}

/// What back-to-back reads show about a meter: how long a read takes and how often the sensor's
/// values change (`docs/meters.md#sampling-rates`: poll at half the update period, no faster).
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateProbe {
    /// Reads made.
    pub reads: usize,
    /// Reads that failed.
    pub failed: usize,
    /// Median duration of one read, seconds.
    pub read_cost_s: f64,
    /// Times any rail's value changed between consecutive successful reads.
    pub changes: usize,
    /// Median interval between changes, seconds; `None` with fewer than two changes.
    pub update_period_s: Option<f64>,
}

impl UpdateProbe {
    /// The sampling rate the probe suggests: twice the update rate, capped by the read cost (at
    /// most half of each period spent reading) and by `max_hz`.
    pub fn suggested_rate_hz(&self, max_hz: f64) -> f64 {
        let mut hz = max_hz;
        if let Some(p) = self.update_period_s.filter(|p| *p > 0.0) {
            hz = hz.min(2.0 / p);
        }
        if self.read_cost_s > 0.0 {
            hz = hz.min(0.5 / self.read_cost_s);
        }
        hz
    }
}

/// Reads `meter` back to back for about `budget` (at most `max_reads` reads) and reports the read
/// cost and the interval between value changes. Run it before sampling starts.
pub fn probe_update_period(
    meter: &mut MeterBox,
    budget: Duration,
    max_reads: usize,
) -> UpdateProbe {
    let start = Instant::now();
    let mut costs = Vec::new();
    let mut change_times = Vec::new();
    let mut failed = 0;
    let mut last: Option<Vec<Option<f64>>> = None;
    while costs.len() < max_reads && start.elapsed() < budget {
        let t0 = Instant::now();
        let r = meter.read().into_result();
        let t1 = Instant::now();
        costs.push((t1 - t0).as_secs_f64());
        let Ok(r) = r else {
            failed += 1;
            continue;
        };
        let values: Vec<Option<f64>> = r.values.iter().map(|v| v.into_option()).collect();
        if let Some(prev) = &last
            && *prev != values
        {
            change_times.push((t0 - start).as_secs_f64() + 0.5 * (t1 - t0).as_secs_f64());
        }
        last = Some(values);
    }
    let intervals: Vec<f64> = change_times.windows(2).map(|w| w[1] - w[0]).collect();
    UpdateProbe {
        reads: costs.len(),
        failed,
        read_cost_s: median(&costs).unwrap_or(0.0),
        changes: change_times.len(),
        update_period_s: median(&intervals),
    }
}
