//! The store's part for generation experiments and `joulebench exec`: every request with its
//! token times and figures, and each experiment's generation summary. Added beside the original
//! schema (`CREATE TABLE IF NOT EXISTS`): an older results file gains the tables when opened and
//! keeps its schema version, so the change migrates every existing store in place.

use anyhow::{Context, Result};
use joulebench_measure::generation::{RequestFigures, RequestTiming};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::{Store, now_utc};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS generation_requests(
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    segment INTEGER NOT NULL,
    label TEXT NOT NULL,
    position INTEGER NOT NULL,
    repetition INTEGER NOT NULL,
    finish TEXT NOT NULL,
    text TEXT NOT NULL,
    correct INTEGER,
    timing TEXT NOT NULL,
    figures TEXT NOT NULL,
    PRIMARY KEY(experiment_id, segment, label, position, repetition)
);
CREATE TABLE IF NOT EXISTS generation_summaries(
    experiment_id INTEGER PRIMARY KEY REFERENCES experiments(id),
    kind TEXT NOT NULL,
    summary TEXT NOT NULL
);
";

/// One measured request as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationRecord {
    /// The segment it ran in.
    pub segment: u32,
    /// The shape's label, or the dataset's name.
    pub label: String,
    /// The prompt's position in the dataset's selection (0 for shapes).
    pub position: u64,
    /// Which repetition.
    pub repetition: u32,
    /// Why it ended (`max_tokens`, `stop`, `eog`).
    pub finish: String,
    /// The generated text.
    pub text: String,
    /// For dataset prompts: whether the answer starts with the gold continuation.
    pub correct: Option<bool>,
    /// Its token times on the segment's clock.
    pub timing: RequestTiming,
    /// Its figures.
    pub figures: RequestFigures,
}

impl Store {
    /// Stores a segment's requests in one transaction.
    pub fn store_generation(
        &mut self,
        experiment: i64,
        records: &[GenerationRecord],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        for r in records {
            tx.execute(
                "INSERT OR REPLACE INTO generation_requests(experiment_id, segment, label, position,
                 repetition, finish, text, correct, timing, figures)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    experiment,
                    r.segment,
                    r.label,
                    r.position as i64,
                    r.repetition,
                    r.finish,
                    r.text,
                    r.correct,
                    serde_json::to_string(&r.timing)?,
                    serde_json::to_string(&r.figures)?,
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// An experiment's stored requests, in the order they ran.
    pub fn generation_requests(&self, experiment: i64) -> Result<Vec<GenerationRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT segment, label, position, repetition, finish, text, correct, timing, figures
             FROM generation_requests WHERE experiment_id = ?1 ORDER BY segment, rowid",
        )?;
        let rows = stmt.query_map(params![experiment], |r| {
            Ok((
                r.get::<_, u32>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, u32>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, Option<bool>>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (segment, label, position, repetition, finish, text, correct, timing, figures) =
                row?;
            let corrupt = || format!("experiment {experiment}: a stored request is corrupt");
            out.push(GenerationRecord {
                segment,
                label,
                position: position as u64,
                repetition,
                finish,
                text,
                correct,
                timing: serde_json::from_str(&timing).with_context(corrupt)?,
                figures: serde_json::from_str(&figures).with_context(corrupt)?,
            });
        }
        Ok(out)
    }

    /// Marks a generation (or `exec`) experiment finished with its summary; `kind` is
    /// `generate` or `exec`.
    pub fn finish_generation(&self, experiment: i64, kind: &str, summary: &str) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO generation_summaries(experiment_id, kind, summary) VALUES(?1, ?2, ?3)",
            params![experiment, kind, summary],
        )?;
        self.conn.execute(
            "UPDATE experiments SET status = 'done', error = NULL, finished_utc = ?2 WHERE id = ?1",
            params![experiment, now_utc()],
        )?;
        Ok(())
    }

    /// A finished generation experiment's summary JSON.
    pub fn generation_summary(&self, experiment: i64) -> Result<Option<String>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row(
                "SELECT summary FROM generation_summaries WHERE experiment_id = ?1",
                params![experiment],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Every finished generation or `exec` summary of `kind`: experiment id, name and JSON.
    pub fn generation_summaries(&self, kind: &str) -> Result<Vec<(i64, String, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT e.id, e.name, g.summary FROM experiments e
             JOIN generation_summaries g ON g.experiment_id = e.id
             WHERE e.status = 'done' AND g.kind = ?1 ORDER BY e.id",
        )?;
        let rows = stmt.query_map(params![kind], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
