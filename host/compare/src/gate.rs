//! The regression gate: rules such as `energy_per_inference > +5%` or `accuracy < -1pt`, each
//! failing only where a cell's change is beyond its threshold *and* significant.
//!
//! A rule is `METRIC OP THRESHOLD`:
//! - `METRIC` is a row's name (`energy_per_inference_j`), or that name without its unit suffix
//!   (`energy_per_inference`, `accuracy`, `average_power`, `latency_p95`);
//! - `OP` is `>` (fail on an increase beyond the threshold) or `<` (a decrease below it);
//! - `THRESHOLD` is a signed number with `%` (relative to the baseline: `+5%`), `pt` (absolute,
//!   in the metric's unit: accuracy points, `-1pt`), or nothing (absolute, the same).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{CompareError, Comparison, Row, Test};

/// The unit suffixes a rule may leave off a metric's name.
const SUFFIXES: [&str; 7] = ["_pct", "_j", "_wh", "_s", "_w", "_js", "_per_s"];

/// Which side of the threshold fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// `>`: a change above the threshold fails.
    Above,
    /// `<`: a change below the threshold fails.
    Below,
}

/// What the threshold measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scale {
    /// Percent of the baseline's value.
    Percent,
    /// The metric's own unit (points for accuracy).
    Absolute,
}

/// One gate rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// The rule as written.
    pub text: String,
    /// The metric it names.
    pub metric: String,
    /// Which side fails.
    pub direction: Direction,
    /// The threshold.
    pub threshold: f64,
    /// In percent or absolute.
    pub scale: Scale,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Rule {
    type Err = CompareError;

    fn from_str(text: &str) -> Result<Rule, CompareError> {
        let bad = |why: &str| {
            CompareError::new(format!(
                "gate rule {text:?}: {why} (write it as METRIC > +5% or METRIC < -1pt)"
            ))
        };
        let (at, direction) = match (text.find('>'), text.find('<')) {
            (Some(i), None) => (i, Direction::Above),
            (None, Some(i)) => (i, Direction::Below),
            (Some(_), Some(_)) => return Err(bad("it has both > and <")),
            (None, None) => return Err(bad("it has no > or <")),
        };
        let metric = text[..at].trim();
        if metric.is_empty() || !metric.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(bad("the metric must be a name such as energy_per_inference"));
        }
        let mut value = text[at + 1..].trim().trim_start_matches('=').trim();
        let scale = if let Some(v) = value.strip_suffix('%') {
            value = v;
            Scale::Percent
        } else if let Some(v) = value.strip_suffix("pt").or_else(|| value.strip_suffix("pp")) {
            value = v;
            Scale::Absolute
        } else {
            Scale::Absolute
        };
        let threshold: f64 = value
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| bad(&format!("{:?} is not a number", value.trim())))?;
        Ok(Rule {
            text: text.trim().to_string(),
            metric: metric.to_string(),
            direction,
            threshold,
            scale,
        })
    }
}

impl Rule {
    /// Whether the rule names this row's metric.
    pub fn names(&self, metric: &str) -> bool {
        metric == self.metric
            || SUFFIXES.iter().any(|s| metric.strip_suffix(s) == Some(self.metric.as_str()))
    }

    /// The row's change on this rule's scale, if it has one.
    pub fn change(&self, row: &Row) -> Option<f64> {
        match self.scale {
            Scale::Percent => row.relative.map(|r| 100.0 * r),
            Scale::Absolute => row.difference,
        }
    }

    fn beyond(&self, change: f64) -> bool {
        match self.direction {
            Direction::Above => change > self.threshold,
            Direction::Below => change < self.threshold,
        }
    }
}

/// One rule checked on one cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateOutcome {
    /// The rule as written.
    pub rule: String,
    /// The cell (the axis values that tell it from the others: its dataset at least).
    pub cell: String,
    /// The metric.
    pub metric: String,
    /// The change on the rule's scale (percent or the metric's unit).
    pub change: Option<f64>,
    /// Whether it is beyond the threshold.
    pub beyond: bool,
    /// Whether it is significant.
    pub significant: bool,
    /// Whether a test could be applied at all.
    pub tested: bool,
    /// Whether the rule fails here: beyond and significant.
    pub failed: bool,
}

/// Checks every rule on every cell. A rule that names no metric of the comparison is an error
/// (a misspelt rule must not pass silently).
pub fn gate(comparison: &Comparison, rules: &[Rule]) -> Result<Vec<GateOutcome>, CompareError> {
    let mut out = vec![];
    for rule in rules {
        let mut found = false;
        for cell in &comparison.cells {
            for row in cell.rows.iter().filter(|r| rule.names(&r.metric)) {
                found = true;
                let change = rule.change(row);
                let beyond = change.is_some_and(|c| rule.beyond(c));
                out.push(GateOutcome {
                    rule: rule.text.clone(),
                    cell: crate::render::cell_title(comparison, cell),
                    metric: row.metric.clone(),
                    change,
                    beyond,
                    significant: row.significant,
                    tested: row.test != Test::None,
                    failed: beyond && row.significant,
                });
            }
        }
        if !found {
            let names: Vec<&str> = comparison
                .cells
                .first()
                .map(|c| c.rows.iter().map(|r| r.metric.as_str()).collect())
                .unwrap_or_default();
            return Err(CompareError::new(format!(
                "gate rule {:?}: no metric {:?} in the comparison; it has {}",
                rule.text,
                rule.metric,
                names.join(", ")
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_as_written_in_the_readme() {
        let r: Rule = "energy_per_inference > +5%".parse().unwrap();
        assert_eq!(r.direction, Direction::Above);
        assert_eq!((r.threshold, r.scale), (5.0, Scale::Percent));
        assert!(r.names("energy_per_inference_j"));
        assert!(!r.names("active_energy_per_inference_j"));
        let r: Rule = "accuracy < -1pt".parse().unwrap();
        assert_eq!((r.direction, r.threshold, r.scale), (Direction::Below, -1.0, Scale::Absolute));
        assert!(r.names("accuracy_pct"));
        let r: Rule = "latency_p95_s>0.01".parse().unwrap();
        assert_eq!((r.threshold, r.scale), (0.01, Scale::Absolute));
        for bad in ["energy +5%", "a > b", "x <> 1", " > 5%", "energy > 5%%"] {
            let e = bad.parse::<Rule>().unwrap_err().to_string();
            assert!(e.contains(bad.trim()) || e.contains("gate rule"), "{e}");
        }
    }
}
