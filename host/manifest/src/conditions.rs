//! The manifest's condition keys: the `[conditions]` table (where a board's files and tools
//! are) and an experiment's `state`, `state_hz`, `cooldown`, `clock_share` and sweep axes
//! (`power_mode`, `jetson_clocks`, `governor`, `max_freq_khz`), checked as the manifest is read.
//! The host's `conditions` module applies them around each segment.

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use joulebench_conditions::sweep::Requested;
use joulebench_conditions::{Board, CooldownSpec};
use joulebench_measure::conditions::DEFAULT_CLOCK_SHARE;
use serde::Deserialize;
use toml::Spanned;

use crate::PluginEntry;

/// `[conditions]`: where the board's files and tools are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionsSettings {
    /// The folder every board path is read under (default `/`); relative to the manifest.
    pub root: Option<String>,
    /// The `PATH` board tools run with (default: inherited).
    pub path: Option<String>,
}

impl ConditionsSettings {
    /// The board as these settings place it, relative paths against `base`.
    pub fn board(&self, base: &Path) -> Board {
        Board {
            root: self.root.as_deref().map_or_else(|| PathBuf::from("/"), |r| base.join(r)),
            path: self.path.clone(),
        }
    }
}

/// An experiment's state meter, cooldown and throttling rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentConditions {
    /// The state meter's plugin id.
    pub state: Option<String>,
    /// Its sampling rate, Hz.
    pub state_hz: f64,
    /// The cooldown before each segment.
    pub cooldown: Option<CooldownSpec>,
    /// The share of its start under which a clock counts as fallen.
    pub clock_share: f64,
    /// The power settings it runs under (one point of the sweep axes).
    pub settings: Requested,
}

impl Default for ExperimentConditions {
    fn default() -> Self {
        Self {
            state: None,
            state_hz: 1.0,
            cooldown: None,
            clock_share: DEFAULT_CLOCK_SHARE,
            settings: Requested::default(),
        }
    }
}

/// `max_freq_khz = 1500000` or `[1500000, 2400000]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Frequencies {
    /// One value.
    One(u64),
    /// A list.
    Many(Vec<u64>),
}

impl Frequencies {
    /// The values.
    pub fn items(&self) -> Vec<u64> {
        match self {
            Frequencies::One(f) => vec![*f],
            Frequencies::Many(v) => v.clone(),
        }
    }
}

/// The points of an experiment's sweep axes (`power_mode`, `governor`, `max_freq_khz`, each one
/// value or a list; `jetson_clocks` a flag): their product, or one empty point.
pub fn sweep_axes(
    id: &str,
    power_mode: Option<(Range<usize>, Vec<String>)>,
    jetson_clocks: Option<bool>,
    governor: Option<(Range<usize>, Vec<String>)>,
    max_freq_khz: Option<(Range<usize>, Vec<u64>)>,
    at: &dyn Fn(Range<usize>) -> String,
) -> Result<Vec<Requested>> {
    fn axis<T: Clone + PartialEq + std::fmt::Debug>(
        id: &str,
        name: &str,
        v: Option<(Range<usize>, Vec<T>)>,
        at: &dyn Fn(Range<usize>) -> String,
    ) -> Result<Vec<Option<T>>> {
        let Some((span, items)) = v else { return Ok(vec![None]) };
        if items.is_empty() {
            bail!("{}: experiment {id:?}: {name} lists no value", at(span));
        }
        for (i, x) in items.iter().enumerate() {
            if items[..i].contains(x) {
                bail!("{}: experiment {id:?}: {name} lists {x:?} twice", at(span));
            }
        }
        Ok(items.into_iter().map(Some).collect())
    }
    let modes = axis(id, "power_mode", power_mode, at)?;
    let governors = axis(id, "governor", governor, at)?;
    let freqs = axis(id, "max_freq_khz", max_freq_khz, at)?;
    let mut out = Vec::new();
    for m in &modes {
        for g in &governors {
            for f in &freqs {
                out.push(Requested {
                    power_mode: m.clone(),
                    jetson_clocks,
                    governor: g.clone(),
                    max_freq_khz: *f,
                });
            }
        }
    }
    Ok(out)
}

impl ExperimentConditions {
    /// Checks an experiment entry's condition keys; errors name the place (`at`).
    pub fn check(
        id: &str,
        state: &Option<Spanned<String>>,
        state_hz: &Option<Spanned<f64>>,
        cooldown: &Option<Spanned<CooldownSpec>>,
        clock_share: &Option<Spanned<f64>>,
        plugins: &[PluginEntry],
        at: &dyn Fn(Range<usize>) -> String,
    ) -> Result<Self> {
        let mut out = Self::default();
        if let Some(s) = state {
            let name = s.get_ref();
            match plugins.iter().find(|p| &p.id == name) {
                Some(p) if p.kind == joulebench_abi::PluginKind::Meter => {}
                Some(p) => bail!(
                    "{}: experiment {id:?}: state {name:?} is a {} plugin, not a meter",
                    at(s.span()),
                    p.kind
                ),
                None => bail!(
                    "{}: experiment {id:?}: state names unknown meter id {name:?}",
                    at(s.span())
                ),
            }
            out.state = Some(name.clone());
        }
        if let Some(hz) = state_hz {
            let v = *hz.get_ref();
            if !(v > 0.0 && v <= 100.0) {
                bail!(
                    "{}: experiment {id:?}: state_hz must be in (0, 100], not {v}",
                    at(hz.span())
                );
            }
            out.state_hz = v;
        }
        if let Some(c) = cooldown {
            c.get_ref()
                .check()
                .map_err(|e| anyhow::anyhow!("{}: experiment {id:?}: {e}", at(c.span())))?;
            if out.state.is_none() {
                bail!(
                    "{}: experiment {id:?}: a cooldown waits on the state meter's temperatures: \
                     add state = \"<meter id>\" (a joulebench_meter_state plugin)",
                    at(c.span())
                );
            }
            out.cooldown = Some(*c.get_ref());
        }
        if let Some(s) = clock_share {
            let v = *s.get_ref();
            if !(v > 0.0 && v <= 1.0) {
                bail!(
                    "{}: experiment {id:?}: clock_share must be in (0, 1], not {v}",
                    at(s.span())
                );
            }
            out.clock_share = v;
        }
        Ok(out)
    }
}
