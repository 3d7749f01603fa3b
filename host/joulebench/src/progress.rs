//! Progress of an experiment's evaluation: tasks done, running accuracy, tokens/s and power,
//! updated after each runtime call. On a terminal it is a bar; elsewhere (a log file, CI) plain
//! lines on stderr: one when the experiment starts, one at most every [`LINE_EVERY_S`] seconds
//! while it runs, and one when it ends.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use joulebench_metrics::AccuracyMetric;

/// Seconds between two plain progress lines.
pub const LINE_EVERY_S: f64 = 30.0;

/// How a run shows its progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProgressMode {
    /// Nothing.
    #[default]
    Off,
    /// A bar on a terminal.
    Bar,
    /// Plain lines on stderr, for output that is not a terminal.
    Lines,
}

/// One experiment's progress.
pub(crate) struct Progress {
    mode: ProgressMode,
    bar: ProgressBar,
    name: String,
    len: u64,
    headline: AccuracyMetric,
    estimated: bool,
    correct: u64,
    seen: u64,
    tokens: u64,
    last_line: Instant,
}

impl Progress {
    /// Progress over `len` tasks of experiment `name`; `estimated` says the power shown is an
    /// estimate.
    pub fn new(
        mode: ProgressMode,
        len: u64,
        name: &str,
        headline: AccuracyMetric,
        estimated: bool,
    ) -> Self {
        let bar =
            if mode == ProgressMode::Bar { ProgressBar::new(len) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{prefix:.bold} [{bar:30}] {pos}/{len} {msg} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(name.to_string());
        if mode == ProgressMode::Lines {
            eprintln!("{name}: evaluating {len} tasks");
        }
        Progress {
            mode,
            bar,
            name: name.into(),
            len,
            headline,
            estimated,
            correct: 0,
            seen: 0,
            tokens: 0,
            last_line: Instant::now(),
        }
    }

    /// Counts one scored task and its tokens.
    pub fn task(&mut self, correct: bool, correct_norm: Option<bool>, tokens: u64) {
        self.correct += u64::from(self.headline.pick(correct, correct_norm).1);
        self.seen += 1;
        self.tokens += tokens;
    }

    /// The figures so far, `elapsed_s` into the evaluation, at `watts`.
    fn status(&self, elapsed_s: f64, watts: Option<f64>) -> String {
        format!(
            "{} {:.1}% | {:.0} tok/s | {}",
            self.headline.as_str(),
            100.0 * self.correct as f64 / self.seen.max(1) as f64,
            self.tokens as f64 / elapsed_s.max(1e-9),
            match watts {
                Some(w) if self.estimated => format!("{w:.1} W (estimated)"),
                Some(w) => format!("{w:.1} W"),
                None => "power unavailable".into(),
            }
        )
    }

    /// Ends a runtime call of `tasks` tasks, `elapsed_s` into the evaluation, at `watts`.
    pub fn call_done(&mut self, tasks: u64, elapsed_s: f64, watts: Option<f64>) {
        match self.mode {
            ProgressMode::Off => {}
            ProgressMode::Bar => {
                self.bar.inc(tasks);
                self.bar.set_message(self.status(elapsed_s, watts));
            }
            ProgressMode::Lines => {
                if self.last_line.elapsed().as_secs_f64() >= LINE_EVERY_S {
                    self.last_line = Instant::now();
                    eprintln!(
                        "{}: {}/{} tasks, {:.0} s: {}",
                        self.name,
                        self.seen,
                        self.len,
                        elapsed_s,
                        self.status(elapsed_s, watts)
                    );
                }
            }
        }
    }

    /// Ends the evaluation, `elapsed_s` long, at a mean of `watts`.
    pub fn finish(&self, elapsed_s: f64, watts: Option<f64>) {
        self.bar.finish_and_clear();
        if self.mode == ProgressMode::Lines {
            eprintln!(
                "{}: evaluated {} tasks in {elapsed_s:.1} s: {}",
                self.name,
                self.seen,
                self.status(elapsed_s, watts)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_counts_the_headline_metric_and_marks_estimates() {
        let mut p = Progress::new(ProgressMode::Off, 4, "e", AccuracyMetric::AccNorm, true);
        p.task(true, Some(false), 100);
        p.task(false, Some(true), 150);
        p.task(false, Some(true), 50);
        p.task(false, None, 100);
        // acc_norm: 2 of 4 (the last task has none and falls back to acc, which is wrong).
        assert_eq!(p.status(2.0, Some(12.34)), "acc_norm 50.0% | 200 tok/s | 12.3 W (estimated)");
        p.estimated = false;
        assert_eq!(p.status(4.0, None), "acc_norm 50.0% | 100 tok/s | power unavailable");
    }
}
