//! A recorded trace and the energy arithmetic over it.
//!
//! Values are stored per rail as `f64` with NaN for "not read", which keeps the integration
//! loops plain and fast; the public API speaks `Option<f64>`.

use joulebench_abi::{MeterInfo, Quality, RailInfo, RailKind, RailRole};
use joulebench_metrics::stats::percentile;

/// How many times the typical sampling interval an interval between two valid power samples may
/// last before it counts as a gap (and is not integrated).
pub const GAP_FACTOR: f64 = 2.0;

/// A failed read of the whole meter.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadError {
    /// When the read happened (seconds on the run's [`crate::Clock`]).
    pub t: f64,
    /// The meter's message.
    pub message: String,
}

/// The result of integrating one rail over one window: the arithmetic, before any labelling.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Integral {
    /// Energy over the covered part of the window, in joules.
    pub joules: f64,
    /// Seconds of the window covered by valid intervals.
    pub covered_s: f64,
    /// Stretches of the window not covered (missing values, failed reads, overlong intervals,
    /// counter resets, and the window's ends beyond the first or last sample).
    pub gaps: usize,
    /// The longest such stretch, in seconds.
    pub longest_gap_s: f64,
    /// Valid samples inside the window.
    pub samples: usize,
    /// Samples inside the window where this rail was missing (failed reads included). A power
    /// rail's gaps come from them; an energy counter is exact across them, so they do not reduce
    /// its coverage, but they are still counted here.
    pub missing: usize,
    /// Intervals over which an energy counter went backwards (left out of the sum).
    pub counter_resets: usize,
}

struct Coverage {
    cursor: f64,
    end: f64,
    acc: Integral,
}

impl Coverage {
    fn new(start: f64, end: f64) -> Self {
        Self { cursor: start, end, acc: Integral::default() }
    }

    fn covered(&mut self, lo: f64, hi: f64, joules: f64) {
        if lo > self.cursor {
            self.gap(lo - self.cursor);
        }
        self.acc.joules += joules;
        self.acc.covered_s += hi - lo;
        self.cursor = hi;
    }

    fn gap(&mut self, len: f64) {
        self.acc.gaps += 1;
        self.acc.longest_gap_s = self.acc.longest_gap_s.max(len);
    }

    fn finish(mut self) -> Integral {
        if self.end > self.cursor {
            self.gap(self.end - self.cursor);
        }
        self.acc
    }
}

/// The index of the first interval `[t[i], t[i+1]]` that can overlap a window starting at `a`.
fn first_interval(t: &[f64], a: f64) -> usize {
    t.partition_point(|&x| x <= a).saturating_sub(1)
}

/// Valid and missing samples with times in `[a, b]`.
fn count_samples(t: &[f64], v: &[f64], a: f64, b: f64) -> (usize, usize) {
    let lo = t.partition_point(|&x| x < a);
    let hi = t.partition_point(|&x| x <= b).max(lo);
    let valid = v[lo..hi].iter().filter(|x| !x.is_nan()).count();
    (valid, hi - lo - valid)
}

/// Trapezoidal integral of a power series (W, NaN = missing) over `[a, b]`, clipped exactly at
/// the window's edges by linear interpolation. An interval counts only when both its ends are
/// valid and it lasts at most `max_interval_s`; anything else is a gap, never bridged.
pub fn integrate_power(t: &[f64], p: &[f64], a: f64, b: f64, max_interval_s: f64) -> Integral {
    assert_eq!(t.len(), p.len(), "times and values differ in length");
    let mut cov = Coverage::new(a, b);
    if b > a && t.len() >= 2 {
        for i in first_interval(t, a)..t.len() - 1 {
            let (t0, t1) = (t[i], t[i + 1]);
            if t0 >= b {
                break;
            }
            let (p0, p1) = (p[i], p[i + 1]);
            if t1 <= a || p0.is_nan() || p1.is_nan() || t1 - t0 > max_interval_s || t1 <= t0 {
                continue;
            }
            let lo = t0.max(a);
            let hi = t1.min(b);
            let slope = (p1 - p0) / (t1 - t0);
            let plo = p0 + slope * (lo - t0);
            let phi = p0 + slope * (hi - t0);
            cov.covered(lo, hi, 0.5 * (plo + phi) * (hi - lo));
        }
    }
    let mut r = cov.finish();
    (r.samples, r.missing) = count_samples(t, p, a, b);
    r
}

/// Energy from a cumulative counter (J, NaN = missing) over `[a, b]`: the counter's difference,
/// interpolated linearly at the window's edges. A counter is exact across a missing sample, so
/// intervals between valid samples are never too long; an interval over which the counter goes
/// backwards is a reset, left out and counted.
pub fn integrate_counter(t: &[f64], e: &[f64], a: f64, b: f64) -> Integral {
    assert_eq!(t.len(), e.len(), "times and values differ in length");
    let mut cov = Coverage::new(a, b);
    let mut resets = 0;
    if b > a && !t.is_empty() {
        // Step from valid sample to valid sample.
        let mut prev: Option<usize> = None;
        let start = first_interval(t, a);
        // Walk back to the last valid sample at or before the start, so that a window edge
        // inside a run of missing samples is still bracketed.
        let mut s = start;
        while s > 0 && e[s].is_nan() {
            s -= 1;
        }
        for i in s..t.len() {
            if e[i].is_nan() {
                continue;
            }
            if let Some(j) = prev {
                let (t0, t1, e0, e1) = (t[j], t[i], e[j], e[i]);
                if t0 >= b {
                    break;
                }
                if t1 > a && t1 > t0 {
                    if e1 < e0 {
                        resets += 1;
                    } else {
                        let lo = t0.max(a);
                        let hi = t1.min(b);
                        let slope = (e1 - e0) / (t1 - t0);
                        cov.covered(lo, hi, slope * (hi - lo));
                    }
                }
            }
            prev = Some(i);
        }
    }
    let mut r = cov.finish();
    (r.samples, r.missing) = count_samples(t, e, a, b);
    r.counter_resets = resets;
    r
}

/// Energy of one rail (or the total) over one window, labelled.
#[derive(Clone, Debug, PartialEq)]
pub struct Energy {
    /// Joules over the covered part of the window; `None` when nothing of the window was
    /// covered (unavailable, never zero).
    pub joules: Option<f64>,
    /// The window's length in seconds.
    pub window_s: f64,
    /// Fraction of the window covered by valid samples (0 to 1).
    pub coverage: f64,
    /// Valid samples inside the window.
    pub samples: usize,
    /// Samples inside the window where the rail was missing (see [`Integral::missing`]).
    pub missing: usize,
    /// Uncovered stretches of the window.
    pub gaps: usize,
    /// The longest uncovered stretch, in seconds.
    pub longest_gap_s: f64,
    /// Intervals over which a counter went backwards.
    pub counter_resets: usize,
    /// Failed whole-meter reads inside the window.
    pub read_errors: usize,
    /// Measured or estimated, from the rail.
    pub quality: Quality,
}

impl Energy {
    /// Mean power over the covered part of the window, in watts.
    pub fn mean_power_w(&self) -> Option<f64> {
        let covered = self.coverage * self.window_s;
        self.joules.filter(|_| covered > 0.0).map(|j| j / covered)
    }
}

/// One rail's energy over a window.
#[derive(Clone, Debug, PartialEq)]
pub struct RailEnergy {
    /// The rail's name.
    pub name: String,
    /// Its role (total, part, gpu).
    pub role: RailRole,
    /// The energy figure.
    pub energy: Energy,
}

/// Every rail's energy over one window, and the total.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowEnergy {
    /// Window start (seconds on the run's clock).
    pub start: f64,
    /// Window end.
    pub end: f64,
    /// The meter's TOTAL rail; `None` when the meter has none (the host does not invent sums).
    pub total: Option<Energy>,
    /// Every rail, in the meter's order.
    pub rails: Vec<RailEnergy>,
}

/// Median idle power and its spread over a window.
#[derive(Clone, Debug, PartialEq)]
pub struct Baseline {
    /// Median total power, W.
    pub median_w: f64,
    /// First quartile, W.
    pub q1_w: f64,
    /// Third quartile, W.
    pub q3_w: f64,
    /// How many power values the median is taken over.
    pub samples: usize,
    /// Measured or estimated.
    pub quality: Quality,
}

/// Everything a sampler recorded: the meter's description, sample times, every rail's values
/// and every failed read.
#[derive(Clone, Debug)]
pub struct Trace {
    meter: MeterInfo,
    nominal_period_s: f64,
    times: Vec<f64>,
    columns: Vec<Vec<f64>>,
    errors: Vec<ReadError>,
    typical_interval_s: f64,
    max_interval_override: Option<f64>,
    missed_ticks: u64,
}

impl Trace {
    /// An empty trace for `meter`, sampled every `nominal_period_s` seconds.
    pub fn new(meter: MeterInfo, nominal_period_s: f64) -> Self {
        let columns = vec![Vec::new(); meter.rails.len()];
        Self {
            meter,
            nominal_period_s,
            times: Vec::new(),
            columns,
            errors: Vec::new(),
            typical_interval_s: 0.0,
            max_interval_override: None,
            missed_ticks: 0,
        }
    }

    /// Appends a sample taken at `t` (after the previous one); `values` has one entry per rail,
    /// `None` where the rail could not be read. Non-finite values count as missing.
    pub fn push(&mut self, t: f64, values: &[Option<f64>]) {
        self.times.push(t);
        for (i, col) in self.columns.iter_mut().enumerate() {
            let v = values.get(i).copied().flatten().filter(|v| v.is_finite());
            col.push(v.unwrap_or(f64::NAN));
        }
    }

    /// Records a failed read at `t`: every rail is missing there.
    pub fn push_error(&mut self, t: f64, message: impl Into<String>) {
        self.times.push(t);
        for col in &mut self.columns {
            col.push(f64::NAN);
        }
        self.errors.push(ReadError { t, message: message.into() });
    }

    pub(crate) fn add_missed_ticks(&mut self, n: u64) {
        self.missed_ticks += n;
    }

    /// Recomputes the typical (median) sampling interval; call after appending.
    pub fn refresh_stats(&mut self) {
        let mut dts: Vec<f64> = self.times.windows(2).map(|w| w[1] - w[0]).collect();
        if dts.is_empty() {
            return;
        }
        let mid = dts.len() / 2;
        let (_, m, _) = dts.select_nth_unstable_by(mid, f64::total_cmp);
        self.typical_interval_s = *m;
    }

    /// Overrides the longest interval between two valid power samples that still counts as
    /// covered (default: [`GAP_FACTOR`] x the larger of the nominal period and the median
    /// observed interval).
    pub fn set_max_interval(&mut self, seconds: f64) {
        self.max_interval_override = Some(seconds);
    }

    /// The longest interval between valid power samples that is integrated rather than counted
    /// as a gap.
    pub fn max_interval_s(&self) -> f64 {
        self.max_interval_override
            .unwrap_or(GAP_FACTOR * self.nominal_period_s.max(self.typical_interval_s))
    }

    /// The meter's description (rails, boundary).
    pub fn meter(&self) -> &MeterInfo {
        &self.meter
    }

    /// The rails, in column order.
    pub fn rails(&self) -> &[RailInfo] {
        &self.meter.rails
    }

    /// The configured sampling period in seconds.
    pub fn nominal_period_s(&self) -> f64 {
        self.nominal_period_s
    }

    /// The median observed interval between samples (0 before two samples exist).
    pub fn typical_interval_s(&self) -> f64 {
        self.typical_interval_s
    }

    /// Sample times, seconds on the run's clock.
    pub fn times(&self) -> &[f64] {
        &self.times
    }

    /// Rail `rail`'s value at sample `i`.
    pub fn value(&self, rail: usize, i: usize) -> Option<f64> {
        self.columns.get(rail)?.get(i).copied().filter(|v| !v.is_nan())
    }

    /// Rail `rail`'s values with NaN for missing ones.
    pub fn column(&self, rail: usize) -> &[f64] {
        &self.columns[rail]
    }

    /// Every failed read.
    pub fn errors(&self) -> &[ReadError] {
        &self.errors
    }

    /// Ticks the sampler skipped because a read overran its slot.
    pub fn missed_ticks(&self) -> u64 {
        self.missed_ticks
    }

    /// Number of samples (failed reads included).
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Gaps (missing values) of rail `rail` over the whole trace.
    pub fn missing(&self, rail: usize) -> usize {
        self.columns[rail].iter().filter(|v| v.is_nan()).count()
    }

    /// The index of the meter's TOTAL rail, if it has one.
    pub fn total_rail(&self) -> Option<usize> {
        self.meter.rails.iter().position(|r| r.role == RailRole::TOTAL)
    }

    /// The energy of rail `rail` over `[start, end]`.
    pub fn rail_energy(&self, rail: usize, start: f64, end: f64) -> Energy {
        let info = &self.meter.rails[rail];
        let col = &self.columns[rail];
        let r = match info.kind {
            RailKind::ENERGY => integrate_counter(&self.times, col, start, end),
            RailKind::POWER => integrate_power(&self.times, col, start, end, self.max_interval_s()),
            // A kind this host does not know: its values are never integrated as either.
            _ => integrate_power(&[], &[], start, end, self.max_interval_s()),
        };
        let window_s = (end - start).max(0.0);
        // No gap means the whole window is covered; the division would only add rounding.
        let coverage = match (window_s > 0.0, r.gaps) {
            (false, _) => 0.0,
            (true, 0) => 1.0,
            (true, _) => (r.covered_s / window_s).clamp(0.0, 1.0),
        };
        Energy {
            joules: (r.covered_s > 0.0).then_some(r.joules),
            window_s,
            coverage,
            samples: r.samples,
            missing: r.missing,
            gaps: r.gaps,
            longest_gap_s: r.longest_gap_s,
            counter_resets: r.counter_resets,
            read_errors: self.errors.iter().filter(|e| e.t >= start && e.t <= end).count(),
            quality: info.quality,
        }
    }

    /// Every rail's energy and the total over `[start, end]`.
    pub fn energy(&self, start: f64, end: f64) -> WindowEnergy {
        let rails: Vec<RailEnergy> = (0..self.meter.rails.len())
            .map(|i| RailEnergy {
                name: self.meter.rails[i].name.to_string(),
                role: self.meter.rails[i].role,
                energy: self.rail_energy(i, start, end),
            })
            .collect();
        let total = self.total_rail().map(|i| rails[i].energy.clone());
        WindowEnergy { start, end, total, rails }
    }

    /// Mean total power over `[start, end]`: total energy over the covered time. `None` without
    /// a TOTAL rail or coverage.
    pub fn mean_power(&self, start: f64, end: f64) -> Option<f64> {
        let i = self.total_rail()?;
        self.rail_energy(i, start, end).mean_power_w()
    }

    /// The idle baseline: the median total power over `[start, end]` with its quartiles. Power
    /// rails use the samples in the window; counter rails the mean power of each interval
    /// between valid samples inside it. `None` without a TOTAL rail or values.
    pub fn idle_baseline(&self, start: f64, end: f64) -> Option<Baseline> {
        let i = self.total_rail()?;
        let info = &self.meter.rails[i];
        if !info.kind.is_known() {
            return None;
        }
        let col = &self.columns[i];
        let lo = self.times.partition_point(|&x| x < start);
        let hi = self.times.partition_point(|&x| x <= end);
        let powers: Vec<f64> = if info.kind == RailKind::ENERGY {
            let valid: Vec<usize> = (lo..hi).filter(|&k| !col[k].is_nan()).collect();
            valid
                .windows(2)
                .filter_map(|w| {
                    let dt = self.times[w[1]] - self.times[w[0]];
                    let de = col[w[1]] - col[w[0]];
                    (dt > 0.0 && de >= 0.0).then(|| de / dt)
                })
                .collect()
        } else {
            col[lo..hi].iter().copied().filter(|v| !v.is_nan()).collect()
        };
        if powers.is_empty() {
            return None;
        }
        Some(Baseline {
            median_w: percentile(&powers, 50.0)?,
            q1_w: percentile(&powers, 25.0)?,
            q3_w: percentile(&powers, 75.0)?,
            samples: powers.len(),
            quality: info.quality,
        })
    }

    pub(crate) fn append_raw(&mut self, times: &[f64], flat: &[f64], errors: Vec<ReadError>) {
        let n = self.columns.len();
        self.times.extend_from_slice(times);
        for (r, col) in self.columns.iter_mut().enumerate() {
            col.extend((0..times.len()).map(|k| flat[k * n + r]));
        }
        self.errors.extend(errors);
    }
}
