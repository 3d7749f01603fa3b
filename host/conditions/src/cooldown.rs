//! The cooldown between experiments: wait until the hottest temperature is below a threshold,
//! or give up after a while and say so.
//!
//! Hotter silicon leaks more, so back-to-back experiments measure the later ones warm. With
//! `cooldown = { below_c = 50, max_s = 300 }` the runner reads the state meter every `poll_s`
//! seconds before an experiment starts and begins once the hottest reading is below `below_c`.
//! After `max_s` it starts anyway and the experiment carries a flag with the temperature it
//! started at. A meter that reads no temperature waits nothing and says so.

use std::time::{Duration, Instant};

use joulebench_measure::conditions::Cooldown;
use serde::Deserialize;

/// `cooldown = { below_c = 50, max_s = 300, poll_s = 5 }`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CooldownSpec {
    /// Start once the hottest temperature is below this, °C.
    pub below_c: f64,
    /// Give up after this many seconds (default 300).
    #[serde(default = "default_max_s")]
    pub max_s: f64,
    /// Seconds between readings (default 5).
    #[serde(default = "default_poll_s")]
    pub poll_s: f64,
}

fn default_max_s() -> f64 {
    300.0
}

fn default_poll_s() -> f64 {
    5.0
}

impl CooldownSpec {
    /// Checks the numbers; the error says which one is wrong.
    pub fn check(&self) -> Result<(), String> {
        if !self.below_c.is_finite() {
            return Err(format!(
                "cooldown below_c must be a temperature in °C, not {}",
                self.below_c
            ));
        }
        if !(self.max_s >= 0.0 && self.max_s.is_finite()) {
            return Err(format!(
                "cooldown max_s must be a number of seconds >= 0, not {}",
                self.max_s
            ));
        }
        if !(self.poll_s > 0.0 && self.poll_s.is_finite()) {
            return Err(format!(
                "cooldown poll_s must be a positive number of seconds, not {}",
                self.poll_s
            ));
        }
        Ok(())
    }
}

/// Waits as `spec` says, reading the hottest temperature with `hottest` (`None` when no
/// temperature could be read) and sleeping with `sleep`.
pub fn cool_down(
    spec: &CooldownSpec,
    mut hottest: impl FnMut() -> Option<f64>,
    mut sleep: impl FnMut(Duration),
) -> Cooldown {
    let start = Instant::now();
    let mut last = None;
    loop {
        let t = hottest();
        last = t.or(last);
        let waited = start.elapsed().as_secs_f64();
        let done =
            |gave_up| Cooldown { waited_s: waited, temp_c: last, below_c: spec.below_c, gave_up };
        match t {
            Some(t) if t < spec.below_c => return done(false),
            None if last.is_none() && waited > 0.0 => return done(true),
            _ if waited >= spec.max_s => return done(true),
            _ => {}
        }
        let left = (spec.max_s - waited).max(0.0);
        sleep(Duration::from_secs_f64(spec.poll_s.min(left).max(0.001)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_waits_until_the_temperature_falls_below_the_threshold() {
        let mut temps = [62.0, 57.5, 53.0, 49.9, 45.0].into_iter();
        let mut sleeps = 0;
        let spec = CooldownSpec { below_c: 50.0, max_s: 60.0, poll_s: 0.001 };
        let c = cool_down(&spec, || temps.next(), |_| sleeps += 1);
        assert!(!c.gave_up);
        assert_eq!(c.temp_c, Some(49.9));
        assert_eq!(sleeps, 3);
    }

    #[test]
    fn it_gives_up_after_max_s_and_reports_the_last_temperature() {
        let spec = CooldownSpec { below_c: 50.0, max_s: 0.05, poll_s: 0.01 };
        let c = cool_down(&spec, || Some(71.0), std::thread::sleep);
        assert!(c.gave_up);
        assert_eq!(c.temp_c, Some(71.0));
        assert!(c.waited_s >= 0.05, "{}", c.waited_s);
        // A meter without temperatures cannot be waited on: it gives up at once.
        let c = cool_down(&spec, || None, std::thread::sleep);
        assert!(c.gave_up && c.temp_c.is_none());
        assert!(c.waited_s < 0.05);
    }

    #[test]
    fn bad_numbers_are_named() {
        let bad = CooldownSpec { below_c: 50.0, max_s: -1.0, poll_s: 5.0 };
        assert!(bad.check().unwrap_err().contains("max_s"));
        let bad = CooldownSpec { below_c: 50.0, max_s: 1.0, poll_s: 0.0 };
        assert!(bad.check().unwrap_err().contains("poll_s"));
    }
}
