//! The progress bar of an experiment's evaluation: tasks done, running accuracy, tokens/s and
//! power, updated after each runtime call.

use indicatif::{ProgressBar, ProgressStyle};
use joulebench_metrics::AccuracyMetric;

/// One experiment's bar; hidden when progress is off.
pub(crate) struct Progress {
    bar: ProgressBar,
    headline: AccuracyMetric,
    estimated: bool,
    correct: u64,
    seen: u64,
    tokens: u64,
}

impl Progress {
    /// A bar over `len` tasks, named `name`; `estimated` says the power shown is an estimate.
    pub fn new(
        enabled: bool,
        len: u64,
        name: &str,
        headline: AccuracyMetric,
        estimated: bool,
    ) -> Self {
        let bar = if enabled { ProgressBar::new(len) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{prefix:.bold} [{bar:30}] {pos}/{len} {msg} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(name.to_string());
        Progress { bar, headline, estimated, correct: 0, seen: 0, tokens: 0 }
    }

    /// Counts one scored task and its tokens.
    pub fn task(&mut self, correct: bool, correct_norm: Option<bool>, tokens: u64) {
        self.correct += u64::from(self.headline.pick(correct, correct_norm).1);
        self.seen += 1;
        self.tokens += tokens;
    }

    /// Ends a runtime call of `tasks` tasks, `elapsed_s` into the evaluation, at `watts`.
    pub fn call_done(&self, tasks: u64, elapsed_s: f64, watts: Option<f64>) {
        self.bar.inc(tasks);
        self.bar.set_message(format!(
            "{} {:.1}% | {:.0} tok/s | {}",
            self.headline.as_str(),
            100.0 * self.correct as f64 / self.seen.max(1) as f64,
            self.tokens as f64 / elapsed_s.max(1e-9),
            match watts {
                Some(w) if self.estimated => format!("{w:.1} W (estimated)"),
                Some(w) => format!("{w:.1} W"),
                None => "power unavailable".into(),
            }
        ));
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
