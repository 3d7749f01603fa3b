//! The warm-up that lasts until power settles, instead of a fixed number of tasks.
//!
//! A board's draw keeps moving for a while after work starts: clocks ramp, fans spin up, the SoC
//! heats and its leakage grows. A fixed warm-up either wastes time on a machine that settles at
//! once or starts measuring too early on one that does not. With `warmup_stable` the runner
//! repeats the experiment's warm-up tasks and, after each call, asks [`settled`] whether the mean
//! total power of the last `window_s` seconds is within `within` (a share) of the mean of the
//! `window_s` before them. It stops when it is, or at `max_s`; a warm-up that never settled is
//! flagged with the two powers ([`WarmupOutcome::flag`]).
//!
//! ```toml
//! [[experiment]]
//! warmup_tasks = 8                                          # the tasks each pass repeats
//! warmup_stable = { within = 0.02, window_s = 10, max_s = 180 }
//! ```

use joulebench_sampler::Trace;
use serde::{Deserialize, Serialize};

/// `warmup_stable = { within, window_s, max_s }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StableSpec {
    /// The largest relative change between the two windows' mean powers that counts as settled
    /// (0.02 = 2 %).
    pub within: f64,
    /// Each window's length, seconds.
    pub window_s: f64,
    /// The longest the warm-up may last, seconds.
    pub max_s: f64,
}

impl StableSpec {
    /// Why the values cannot work, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        if !(self.within > 0.0 && self.within < 1.0) {
            return Err(format!("warmup_stable.within must be in (0, 1), not {}", self.within));
        }
        if !(self.window_s > 0.0 && self.window_s.is_finite()) {
            return Err(format!("warmup_stable.window_s must be > 0, not {}", self.window_s));
        }
        if !(self.max_s >= 2.0 * self.window_s && self.max_s.is_finite()) {
            return Err(format!(
                "warmup_stable.max_s must be at least two windows ({} s), not {}",
                2.0 * self.window_s,
                self.max_s
            ));
        }
        Ok(())
    }
}

/// The last two windows' mean powers at one check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Mean total power of the earlier window, W.
    pub earlier_w: f64,
    /// Mean total power of the later window (ending at the check), W.
    pub later_w: f64,
    /// Whether they are within the spec's share of each other.
    pub settled: bool,
}

/// Whether power has settled at `now`, for a warm-up that started at `t0` (seconds on the
/// trace's clock): `None` until two whole windows have passed, or when the meter has no total
/// power over them (no TOTAL rail, no samples).
pub fn settled(spec: &StableSpec, trace: &Trace, t0: f64, now: f64) -> Option<Check> {
    let w = spec.window_s;
    if now - t0 < 2.0 * w {
        return None;
    }
    let earlier_w = trace.mean_power(now - 2.0 * w, now - w)?;
    let later_w = trace.mean_power(now - w, now)?;
    let settled = (later_w - earlier_w).abs() <= spec.within * earlier_w.abs().max(1e-12);
    Some(Check { earlier_w, later_w, settled })
}

/// What a stability warm-up did; kept with the experiment's provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarmupOutcome {
    /// The spec it ran under.
    pub spec: StableSpec,
    /// How long it lasted, seconds.
    pub seconds: f64,
    /// Runtime calls it made.
    pub calls: u64,
    /// The last check, if two windows passed and the meter had power over them.
    pub last: Option<Check>,
}

impl WarmupOutcome {
    /// Whether power settled.
    pub fn settled(&self) -> bool {
        self.last.is_some_and(|c| c.settled)
    }

    /// The flag a reader must see when the warm-up ended without power settling.
    pub fn flag(&self) -> Option<String> {
        if self.settled() {
            return None;
        }
        Some(match self.last {
            Some(c) => format!(
                "warm-up not settled: mean power moved from {:.2} W to {:.2} W ({:+.1} %, more than {:.1} %) over its last two {} s windows, after {:.0} s",
                c.earlier_w,
                c.later_w,
                100.0 * (c.later_w - c.earlier_w) / c.earlier_w.abs().max(1e-12),
                100.0 * self.spec.within,
                self.spec.window_s,
                self.seconds
            ),
            None => format!(
                "warm-up not settled: no total power over two {} s windows in {:.0} s",
                self.spec.window_s, self.seconds
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use joulebench_abi::{MeterInfo, Quality, RailInfo, RailKind, RailRole};

    fn trace(power: impl Fn(f64) -> f64, seconds: f64) -> Trace {
        let meter = MeterInfo {
            name: "test".into(),
            boundary: "test".into(),
            rails: vec![RailInfo {
                name: "total".into(),
                kind: RailKind::POWER,
                role: RailRole::TOTAL,
                quality: Quality::MEASURED,
                description: "".into(),
            }]
            .into(),
            update_interval_s: 0.0,
        };
        let mut t = Trace::new(meter, 0.1);
        let mut s = 0.0;
        while s <= seconds {
            t.push(s, &[Some(power(s))]);
            s += 0.1;
        }
        t
    }

    const SPEC: StableSpec = StableSpec { within: 0.02, window_s: 5.0, max_s: 60.0 };

    #[test]
    fn a_decaying_draw_settles_once_its_windows_agree_and_not_before() {
        // 8 W falling to 5 W with a 3 s time constant: the windows ending at 10 s differ by
        // about 15 %, those ending at 20 s by under 1 %.
        let t = trace(|s| 5.0 + 3.0 * (-s / 3.0).exp(), 30.0);
        assert_eq!(settled(&SPEC, &t, 0.0, 9.9), None, "not two windows yet");
        let early = settled(&SPEC, &t, 0.0, 10.0).unwrap();
        assert!(!early.settled, "{early:?}");
        let late = settled(&SPEC, &t, 0.0, 20.0).unwrap();
        assert!(late.settled, "{late:?}");
        assert!((late.later_w - 5.0).abs() < 0.05, "{late:?}");
        let outcome = WarmupOutcome { spec: SPEC, seconds: 20.0, calls: 7, last: Some(late) };
        assert!(outcome.settled() && outcome.flag().is_none());
    }

    #[test]
    fn a_draw_that_keeps_climbing_is_flagged_with_both_powers() {
        // 1 % a second: two 5 s windows always differ by about 5 %.
        let t = trace(|s| 5.0 * (1.0 + 0.01 * s), 60.0);
        let c = settled(&SPEC, &t, 0.0, 60.0).unwrap();
        assert!(!c.settled);
        let flag =
            WarmupOutcome { spec: SPEC, seconds: 60.0, calls: 20, last: Some(c) }.flag().unwrap();
        assert!(flag.starts_with("warm-up not settled: mean power moved from 7.6"), "{flag}");
        assert!(flag.contains("more than 2.0 %") && flag.contains("after 60 s"), "{flag}");
        let none = WarmupOutcome { spec: SPEC, seconds: 3.0, calls: 1, last: None };
        assert!(none.flag().unwrap().contains("no total power"), "{:?}", none.flag());
    }

    #[test]
    fn specs_that_cannot_work_are_refused() {
        assert!(SPEC.check().is_ok());
        for bad in [
            StableSpec { within: 0.0, ..SPEC },
            StableSpec { within: 1.5, ..SPEC },
            StableSpec { window_s: 0.0, ..SPEC },
            StableSpec { max_s: 9.0, ..SPEC },
            StableSpec { max_s: f64::INFINITY, ..SPEC },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }
}
