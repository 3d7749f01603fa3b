//! The conditions an experiment ran under, from its state samples: how hot the board was, what
//! its clocks did, whether it throttled, and the power settings recorded with it.
//!
//! State rails (`TEMPERATURE`, `FREQUENCY`, `FLAGS`) are sampled on the segment's clock beside
//! the power rails. Over each segment's evaluation window this module takes, sample by sample,
//! the hottest temperature; each clock's value at the start, its mean and its lowest; and the
//! throttle flags. Each sample holds until the next one (a step function), so fractions are
//! shares of the window's time, not of the sample count.
//!
//! An experiment is **throttled** when, in any segment,
//! - a throttle flag is active now (bits 0-15) at some point after the window's first sample
//!   without being active at that first sample, or a since-boot bit (16-31) is set at the end
//!   that was clear at the start (the flags *rose*); or
//! - a clock spends at least [`CLOCK_LOW_MIN_FRACTION`] of the window under `clock_share` (by
//!   default [`DEFAULT_CLOCK_SHARE`]) of its value at the window's start.
//!
//! A throttled experiment carries a flag that starts with `throttled:` and says why.

use joulebench_abi::{RailInfo, RailKind, THROTTLE_BITS};
use serde::{Deserialize, Serialize};

use crate::records::SampleRecord;

/// The share of its starting value under which a clock counts as fallen (0.9: 10 % lower).
pub const DEFAULT_CLOCK_SHARE: f64 = 0.9;
/// The share of the window a clock must spend fallen before the experiment is flagged, so that
/// one DVFS dip does not flag a run.
pub const CLOCK_LOW_MIN_FRACTION: f64 = 0.1;
/// The bits of a flags value that are conditions active now.
pub const NOW_BITS: u32 = 0xFFFF;

/// One clock over the evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockFigures {
    /// The rail's name (`clock:cpu:policy0`, `clock:gpu:17000000.ga10b`).
    pub rail: String,
    /// At the first sample of the (first) window, Hz.
    pub start_hz: Option<f64>,
    /// Time-weighted mean, Hz.
    pub mean_hz: Option<f64>,
    /// Lowest, Hz.
    pub min_hz: Option<f64>,
    /// Share of the evaluation it spent under `clock_share` of its start.
    pub low_fraction: f64,
}

/// The conditions of one experiment's evaluation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conditions {
    /// The hottest temperature any state rail read, °C.
    pub max_temp_c: Option<f64>,
    /// The time-weighted mean of the hottest temperature at each sample, °C.
    pub mean_temp_c: Option<f64>,
    /// The hottest temperature at the first sample, °C.
    pub start_temp_c: Option<f64>,
    /// The hottest temperature at the last sample, °C.
    pub end_temp_c: Option<f64>,
    /// Every clock rail.
    pub clocks: Vec<ClockFigures>,
    /// The throttle flags at the first and last sample (bits as the ABI lays them out).
    pub flags_start: Option<u32>,
    /// See `flags_start`.
    pub flags_end: Option<u32>,
    /// Share of the evaluation with a throttle condition active now (`None` without a flags
    /// rail).
    pub throttled_fraction: Option<f64>,
    /// Share of the evaluation with the frequency capped: the "capped" flag, or, without a flags
    /// rail, any clock under `clock_share` of its start.
    pub capped_fraction: Option<f64>,
    /// Whether the experiment throttled (see the module's rule).
    pub throttled: bool,
    /// Why, in words.
    pub reasons: Vec<String>,
    /// The power settings recorded at the start (power mode, governors, jetson_clocks), as
    /// `(name, value)`; filled in by the runner.
    #[serde(default)]
    pub settings: Vec<(String, String)>,
    /// Seconds the cooldown before this experiment waited, and whether it gave up.
    #[serde(default)]
    pub cooldown: Option<Cooldown>,
}

/// What the cooldown before an experiment did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cooldown {
    /// Seconds waited.
    pub waited_s: f64,
    /// The hottest temperature when it stopped waiting, °C.
    pub temp_c: Option<f64>,
    /// The threshold, °C.
    pub below_c: f64,
    /// Whether it gave up at `max_s` with the board still hotter than `below_c`.
    pub gave_up: bool,
}

impl Conditions {
    /// The flags a reader must see with the numbers: `throttled: ...`, and a cooldown that
    /// gave up.
    pub fn flags(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.throttled {
            out.push(format!("throttled: {}", self.reasons.join("; ")));
        }
        if let Some(c) = self.cooldown.as_ref().filter(|c| c.gave_up) {
            out.push(format!(
                "not cooled: the board was still at {} after waiting {:.0} s for it to fall below {} °C",
                c.temp_c.map_or("an unknown temperature".into(), |t| format!("{t:.1} °C")),
                c.waited_s,
                c.below_c
            ));
        }
        out
    }
}

/// Names of the conditions set in `bits` (bits 0-15 by their meaning, others by number).
pub fn describe_bits(bits: u32) -> String {
    let mut names: Vec<String> = Vec::new();
    for b in 0..16 {
        if bits & (1 << b) != 0 {
            names.push(match THROTTLE_BITS.iter().find(|(n, _)| *n == b) {
                Some((_, name)) => (*name).to_string(),
                None => format!("bit {b}"),
            });
        }
    }
    names.join(", ")
}

/// One segment's evaluation window and its state samples.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    /// Start, seconds on the segment's clock.
    pub t0_s: f64,
    /// End.
    pub t1_s: f64,
    /// The segment's state samples (all of them; those outside the window are skipped, except
    /// the last one before it, which gives the value at the window's start).
    pub samples: &'a [SampleRecord],
}

/// Per sample inside a window: its value and the time it holds for.
fn steps<'a>(w: &Window<'a>) -> Vec<(&'a SampleRecord, f64)> {
    let first = w.samples.iter().rposition(|s| s.t_s <= w.t0_s).unwrap_or(0);
    let inside: Vec<&SampleRecord> =
        w.samples[first..].iter().take_while(|s| s.t_s <= w.t1_s).collect();
    inside
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let from = s.t_s.max(w.t0_s);
            let to = inside.get(i + 1).map_or(w.t1_s, |n| n.t_s.min(w.t1_s));
            (*s, (to - from).max(0.0))
        })
        .collect()
}

/// The conditions over `windows` (one per segment, in order) of samples laid out as `rails`.
pub fn summarize_conditions(
    rails: &[RailInfo],
    windows: &[Window<'_>],
    clock_share: f64,
) -> Conditions {
    let of = |k: RailKind| -> Vec<usize> {
        rails.iter().enumerate().filter(|(_, r)| r.kind == k).map(|(i, _)| i).collect()
    };
    let (temps, clocks, flags) =
        (of(RailKind::TEMPERATURE), of(RailKind::FREQUENCY), of(RailKind::FLAGS));
    let mut out = Conditions::default();
    let mut total_s = 0.0;
    let (mut temp_sum, mut temp_s) = (0.0, 0.0);
    let (mut thr_s, mut cap_s, mut any_low_s) = (0.0, 0.0, 0.0);
    let mut clock_acc: Vec<(f64, f64, Option<f64>, f64)> =
        vec![(0.0, 0.0, None, 0.0); clocks.len()];
    let mut clock_start: Vec<Option<f64>> = vec![None; clocks.len()];
    let hottest = |s: &SampleRecord| -> Option<f64> {
        temps.iter().filter_map(|&i| s.values.get(i).copied().flatten()).reduce(f64::max)
    };
    let flag_bits = |s: &SampleRecord| -> Option<u32> {
        let vals: Vec<u32> = flags
            .iter()
            .filter_map(|&i| s.values.get(i).copied().flatten())
            .map(|v| v as u32)
            .collect();
        (!vals.is_empty()).then(|| vals.into_iter().fold(0, |a, b| a | b))
    };
    for w in windows {
        let steps = steps(w);
        let Some((first, _)) = steps.first() else { continue };
        let window_s = w.t1_s - w.t0_s;
        if window_s <= 0.0 {
            continue;
        }
        total_s += window_s;
        // This segment's starting values: clocks and flags are judged against them.
        let start_clocks: Vec<Option<f64>> =
            clocks.iter().map(|&i| first.values.get(i).copied().flatten()).collect();
        for (c, s) in clock_start.iter_mut().zip(&start_clocks) {
            c.get_or_insert_with(|| s.unwrap_or(f64::NAN));
        }
        let start_flags = flag_bits(first);
        let mut rose_now = 0u32;
        if out.start_temp_c.is_none() {
            out.start_temp_c = hottest(first);
            out.flags_start = start_flags;
        }
        let mut seg_low = vec![0.0; clocks.len()];
        for (s, dt) in &steps {
            if let Some(t) = hottest(s) {
                out.max_temp_c = Some(out.max_temp_c.map_or(t, |m: f64| m.max(t)));
                temp_sum += t * dt;
                temp_s += dt;
            }
            let mut any_low = false;
            for (k, &i) in clocks.iter().enumerate() {
                let Some(v) = s.values.get(i).copied().flatten() else { continue };
                let acc = &mut clock_acc[k];
                acc.0 += v * dt;
                acc.1 += dt;
                acc.2 = Some(acc.2.map_or(v, |m: f64| m.min(v)));
                if start_clocks[k].is_some_and(|st| v < clock_share * st) {
                    seg_low[k] += dt;
                    acc.3 += dt;
                    any_low = true;
                }
            }
            if any_low {
                any_low_s += dt;
            }
            if let Some(bits) = flag_bits(s) {
                if bits & NOW_BITS != 0 {
                    thr_s += dt;
                }
                if bits & 0b10 != 0 {
                    cap_s += dt;
                }
                rose_now |= bits & NOW_BITS & !start_flags.unwrap_or(0);
            }
            out.end_temp_c = hottest(s).or(out.end_temp_c);
            out.flags_end = flag_bits(s).or(out.flags_end);
        }
        let end_flags = steps.last().and_then(|(s, _)| flag_bits(s));
        let rose_sticky = end_flags.unwrap_or(0) & !NOW_BITS & !start_flags.unwrap_or(0);
        if rose_now != 0 {
            out.reasons
                .push(format!("throttle flags rose during the run ({})", describe_bits(rose_now)));
        }
        if rose_sticky != 0 {
            out.reasons.push(format!(
                "since-boot throttle flags rose ({})",
                describe_bits(rose_sticky >> 16)
            ));
        }
        for (k, &i) in clocks.iter().enumerate() {
            let share = seg_low[k] / window_s;
            if share >= CLOCK_LOW_MIN_FRACTION
                && let Some(st) = start_clocks[k]
            {
                out.reasons.push(format!(
                    "{} spent {:.0}% of the run under {:.0}% of its starting {:.0} MHz",
                    rails[i].name,
                    100.0 * share,
                    100.0 * clock_share,
                    st / 1e6
                ));
            }
        }
    }
    out.throttled = !out.reasons.is_empty();
    out.mean_temp_c = (temp_s > 0.0).then(|| temp_sum / temp_s);
    if total_s > 0.0 {
        if !flags.is_empty() {
            out.throttled_fraction = Some(thr_s / total_s);
            out.capped_fraction = Some(cap_s / total_s);
        } else if !clocks.is_empty() {
            out.capped_fraction = Some(any_low_s / total_s);
        }
    }
    out.clocks = clocks
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let (sum, s, min, low) = clock_acc[k];
            ClockFigures {
                rail: rails[i].name.to_string(),
                start_hz: clock_start[k].filter(|v| v.is_finite()),
                mean_hz: (s > 0.0).then(|| sum / s),
                min_hz: min,
                low_fraction: if total_s > 0.0 { low / total_s } else { 0.0 },
            }
        })
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use joulebench_abi::{Quality, RailRole};

    use super::*;

    fn rail(name: &str, kind: RailKind) -> RailInfo {
        RailInfo {
            name: name.into(),
            kind,
            role: RailRole::PART,
            quality: Quality::MEASURED,
            description: "".into(),
        }
    }

    fn pi_rails() -> Vec<RailInfo> {
        vec![
            rail("temp:cpu-thermal", RailKind::TEMPERATURE),
            rail("temp:soc(vcgencmd)", RailKind::TEMPERATURE),
            rail("clock:arm(vcgencmd)", RailKind::FREQUENCY),
            rail("throttled", RailKind::FLAGS),
        ]
    }

    fn s(t: f64, v: &[Option<f64>]) -> SampleRecord {
        SampleRecord { t_s: t, values: v.to_vec() }
    }

    #[test]
    fn a_cool_steady_run_is_not_throttled() {
        let samples: Vec<SampleRecord> = (0..=10)
            .map(|i| {
                s(i as f64, &[Some(50.0), Some(51.0 + i as f64 * 0.1), Some(2.4e9), Some(0.0)])
            })
            .collect();
        let c = summarize_conditions(
            &pi_rails(),
            &[Window { t0_s: 0.0, t1_s: 10.0, samples: &samples }],
            0.9,
        );
        assert!(!c.throttled, "{:?}", c.reasons);
        assert_eq!(c.max_temp_c, Some(52.0));
        assert_eq!(c.start_temp_c, Some(51.0));
        // Step function: 51.0 for 1 s, 51.1 for 1 s, ..., 51.9 for 1 s.
        assert!((c.mean_temp_c.unwrap() - 51.45).abs() < 1e-9, "{:?}", c.mean_temp_c);
        assert_eq!(c.throttled_fraction, Some(0.0));
        assert_eq!(c.clocks[0].start_hz, Some(2.4e9));
        assert_eq!(c.clocks[0].low_fraction, 0.0);
        assert!(c.flags().is_empty());
    }

    #[test]
    fn flags_that_rise_mid_run_flag_the_experiment_with_the_share_of_time() {
        // Throttled and capped from t = 6 of a 0..10 window (0x6 now; 0x60000 since boot).
        let samples: Vec<SampleRecord> = (0..=10)
            .map(|i| {
                let hot = i >= 6;
                let flags = if hot { 0x6_0006 } else { 0 } as f64;
                let clock = if hot { 1.5e9 } else { 2.4e9 };
                s(i as f64, &[Some(70.0 + i as f64), None, Some(clock), Some(flags)])
            })
            .collect();
        let c = summarize_conditions(
            &pi_rails(),
            &[Window { t0_s: 0.0, t1_s: 10.0, samples: &samples }],
            0.9,
        );
        assert!(c.throttled);
        assert!((c.throttled_fraction.unwrap() - 0.4).abs() < 1e-9);
        assert!((c.capped_fraction.unwrap() - 0.4).abs() < 1e-9);
        assert_eq!((c.flags_start, c.flags_end), (Some(0), Some(0x6_0006)));
        assert_eq!(c.clocks[0].min_hz, Some(1.5e9));
        assert!((c.clocks[0].low_fraction - 0.4).abs() < 1e-9);
        let flags = c.flags();
        assert_eq!(flags.len(), 1);
        assert!(
            flags[0].starts_with(
                "throttled: throttle flags rose during the run (arm frequency capped, throttled)"
            ),
            "{}",
            flags[0]
        );
        assert!(
            flags[0].contains("since-boot throttle flags rose (arm frequency capped, throttled)")
        );
        assert!(
            flags[0].contains(
                "clock:arm(vcgencmd) spent 40% of the run under 90% of its starting 2400 MHz"
            ),
            "{}",
            flags[0]
        );
    }

    #[test]
    fn flags_already_set_at_the_start_do_not_count_as_rising_and_short_dips_do_not_flag() {
        let samples: Vec<SampleRecord> = (0..=20)
            .map(|i| {
                let clock = if i == 7 { 1.0e9 } else { 2.4e9 };
                s(i as f64, &[Some(60.0), None, Some(clock), Some(f64::from(0x5_0005_u32))])
            })
            .collect();
        let c = summarize_conditions(
            &pi_rails(),
            &[Window { t0_s: 0.0, t1_s: 20.0, samples: &samples }],
            0.9,
        );
        assert!(!c.throttled, "{:?}", c.reasons);
        assert_eq!(c.throttled_fraction, Some(1.0), "still active, and reported as such");
        assert!((c.clocks[0].low_fraction - 0.05).abs() < 1e-9);
    }

    #[test]
    fn without_flags_a_fallen_clock_flags_and_windows_clip_samples() {
        let rails = vec![
            rail("temp:cpu-thermal", RailKind::TEMPERATURE),
            rail("clock:cpu:policy0", RailKind::FREQUENCY),
            rail("clock:gpu:17000000.ga10b", RailKind::FREQUENCY),
        ];
        // Samples every 0.5 s from -2 to 12; the window is 0..10; the CPU drops to 60 % at 5.
        let samples: Vec<SampleRecord> = (-4..=24)
            .map(|i| {
                let t = i as f64 * 0.5;
                let cpu = if t >= 5.0 { 0.6 * 1.5104e9 } else { 1.5104e9 };
                s(t, &[Some(if t > 10.0 { 99.0 } else { 48.0 }), Some(cpu), Some(3.06e8)])
            })
            .collect();
        let c = summarize_conditions(
            &rails,
            &[Window { t0_s: 0.0, t1_s: 10.0, samples: &samples }],
            0.9,
        );
        assert_eq!(c.max_temp_c, Some(48.0), "samples after the window are not in it");
        assert!(c.throttled);
        assert_eq!(c.throttled_fraction, None);
        assert!((c.capped_fraction.unwrap() - 0.5).abs() < 1e-9);
        assert_eq!(c.reasons.len(), 1, "{:?}", c.reasons);
        assert!(c.reasons[0].starts_with("clock:cpu:policy0 spent 50%"));
        assert_eq!(c.clocks[1].mean_hz, Some(3.06e8));
        // A lower share (50 %) does not see a fall to 60 % at all.
        let c = summarize_conditions(
            &rails,
            &[Window { t0_s: 0.0, t1_s: 10.0, samples: &samples }],
            0.5,
        );
        assert!(!c.throttled);
    }

    #[test]
    fn segments_add_up_by_time_and_a_cooldown_that_gave_up_is_flagged() {
        let rails = vec![rail("temp:x", RailKind::TEMPERATURE)];
        let a = vec![s(0.0, &[Some(40.0)]), s(10.0, &[Some(40.0)])];
        let b = vec![s(0.0, &[Some(60.0)]), s(30.0, &[Some(60.0)])];
        let mut c = summarize_conditions(
            &rails,
            &[
                Window { t0_s: 0.0, t1_s: 10.0, samples: &a },
                Window { t0_s: 0.0, t1_s: 30.0, samples: &b },
            ],
            0.9,
        );
        assert_eq!(c.mean_temp_c, Some(55.0));
        assert_eq!((c.start_temp_c, c.end_temp_c), (Some(40.0), Some(60.0)));
        c.cooldown =
            Some(Cooldown { waited_s: 300.0, temp_c: Some(63.5), below_c: 50.0, gave_up: true });
        assert_eq!(
            c.flags(),
            [
                "not cooled: the board was still at 63.5 °C after waiting 300 s for it to fall below 50 °C"
            ]
        );
        let none = summarize_conditions(&rails, &[], 0.9);
        assert_eq!(none, Conditions::default());
    }
}
