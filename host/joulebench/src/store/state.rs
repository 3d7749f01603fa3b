//! The store's part for board state: each segment's state rails, the power settings and the
//! cooldown recorded at its start, and the state samples, on the segment's clock. Added beside
//! the original schema (`CREATE TABLE IF NOT EXISTS`), so older results files gain the tables
//! when opened and keep their schema version.

use anyhow::{Context, Result};
use joulebench_conditions::Setting;
use joulebench_measure::conditions::Cooldown;
use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::{SampleRecord, Store};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS state_segments(
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    segment INTEGER NOT NULL,
    start TEXT NOT NULL,
    PRIMARY KEY(experiment_id, segment)
);
CREATE TABLE IF NOT EXISTS state_samples(
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    segment INTEGER NOT NULL,
    t_s REAL NOT NULL,
    vals TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS state_samples_by_experiment ON state_samples(experiment_id, segment, t_s);
";

/// What a segment recorded about the board before it started measuring.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateStart {
    /// The state meter's manifest id, when one was sampled.
    pub meter: Option<String>,
    /// Its rails: name and kind code (the ABI's `RailKind`), in sample order.
    pub rails: Vec<(String, u8)>,
    /// The power settings read at the start.
    pub settings: Vec<Setting>,
    /// The cooldown before the segment, if one ran.
    pub cooldown: Option<Cooldown>,
}

impl Store {
    /// Records what segment `segment` of `experiment` found at its start.
    pub fn store_state_start(
        &self,
        experiment: i64,
        segment: u32,
        start: &StateStart,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO state_segments(experiment_id, segment, start) VALUES(?1, ?2, ?3)",
            params![experiment, segment, serde_json::to_string(start)?],
        )?;
        Ok(())
    }

    /// Every segment's start record of `experiment`, by segment.
    pub fn state_starts(&self, experiment: i64) -> Result<Vec<(u32, StateStart)>> {
        let mut stmt = self.conn.prepare(
            "SELECT segment, start FROM state_segments WHERE experiment_id = ?1 ORDER BY segment",
        )?;
        let rows = stmt.query_map(params![experiment], |r| {
            Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (segment, start) = row?;
            let start = serde_json::from_str(&start).with_context(|| {
                format!("experiment {experiment}: segment {segment}'s state record is corrupt")
            })?;
            out.push((segment, start));
        }
        Ok(out)
    }

    /// Stores state samples of a segment.
    pub fn store_state_samples(
        &mut self,
        experiment: i64,
        segment: u32,
        samples: &[SampleRecord],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO state_samples(experiment_id, segment, t_s, vals) VALUES(?1, ?2, ?3, ?4)",
            )?;
            for s in samples {
                ins.execute(params![
                    experiment,
                    segment,
                    s.t_s,
                    serde_json::to_string(&s.values)?
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The state samples of one segment, by time.
    pub fn state_samples(&self, experiment: i64, segment: u32) -> Result<Vec<SampleRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT t_s, vals FROM state_samples WHERE experiment_id = ?1 AND segment = ?2 ORDER BY t_s",
        )?;
        let rows = stmt.query_map(params![experiment, segment], |r| {
            Ok((r.get::<_, f64>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (t_s, vals) = row?;
            let values = serde_json::from_str(&vals).with_context(|| {
                format!("experiment {experiment}: a stored state sample is corrupt")
            })?;
            out.push(SampleRecord { t_s, values });
        }
        Ok(out)
    }
}
