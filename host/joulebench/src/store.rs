//! The results store: one SQLite file holding runs, experiments, per-task records, meter samples,
//! phases, metrics and provenance.
//!
//! Every batch of task records is written in one transaction together with the meter samples
//! drained at the same time, so a run killed at any moment loses at most the batch in flight
//! (which the next run evaluates again) and never stores a task twice (the task's position in the
//! experiment's selection is part of the primary key). An experiment is identified by its
//! manifest id, its repeat number and a hash of everything that decides its results; running the
//! same manifest again finds unfinished experiments by that key and continues them.

use std::path::Path;

use anyhow::{Context, Result};
use joulebench_measure::Summary;
pub use joulebench_measure::records::{
    IdleBaseline, LatencyRecord, PhaseRecord, SampleRecord, TaskRecord,
};
use rusqlite::{Connection, OptionalExtension, params};

mod generation;
mod state;
pub use generation::GenerationRecord;
pub use state::StateStart;

/// Bumped when the schema changes; an older file is refused with a message.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs(
    id INTEGER PRIMARY KEY,
    started_utc TEXT NOT NULL,
    manifest_path TEXT NOT NULL,
    manifest_text TEXT NOT NULL,
    provenance TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS experiments(
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    spec TEXT NOT NULL,
    selection TEXT NOT NULL,
    provenance TEXT NOT NULL,
    created_utc TEXT NOT NULL,
    finished_utc TEXT
);
CREATE TABLE IF NOT EXISTS segments(
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    segment INTEGER NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    clock_origin_unix_s REAL NOT NULL,
    PRIMARY KEY(experiment_id, segment)
);
CREATE TABLE IF NOT EXISTS phases(
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    segment INTEGER NOT NULL,
    name TEXT NOT NULL,
    t0_s REAL NOT NULL,
    t1_s REAL NOT NULL,
    energy TEXT NOT NULL,
    PRIMARY KEY(experiment_id, segment, name)
);
CREATE TABLE IF NOT EXISTS tasks(
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    position INTEGER NOT NULL,
    task_id TEXT NOT NULL,
    grp TEXT NOT NULL,
    gold INTEGER NOT NULL,
    predicted INTEGER NOT NULL,
    correct INTEGER NOT NULL,
    predicted_norm INTEGER,
    correct_norm INTEGER,
    prompt_tokens INTEGER NOT NULL,
    segment INTEGER NOT NULL,
    batch INTEGER NOT NULL,
    t_start_s REAL NOT NULL,
    t_end_s REAL NOT NULL,
    latency_s REAL NOT NULL,
    scores TEXT NOT NULL,
    PRIMARY KEY(experiment_id, position)
);
CREATE TABLE IF NOT EXISTS samples(
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    segment INTEGER NOT NULL,
    t_s REAL NOT NULL,
    vals TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_by_experiment ON samples(experiment_id, segment, t_s);
CREATE TABLE IF NOT EXISTS latencies(
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    position INTEGER NOT NULL,
    segment INTEGER NOT NULL,
    t_start_s REAL NOT NULL,
    t_end_s REAL NOT NULL,
    PRIMARY KEY(experiment_id, position)
);
CREATE TABLE IF NOT EXISTS baselines(
    run_id INTEGER NOT NULL REFERENCES runs(id),
    meter TEXT NOT NULL,
    position TEXT NOT NULL,
    baseline TEXT NOT NULL,
    PRIMARY KEY(run_id, meter, position)
);
CREATE TABLE IF NOT EXISTS metrics(
    experiment_id INTEGER PRIMARY KEY REFERENCES experiments(id),
    metrics TEXT NOT NULL,
    summary TEXT NOT NULL
);
";

/// An open results store.
pub struct Store {
    conn: Connection,
    /// The temporary copy a PostgreSQL database is read through, removed with the store.
    _snapshot: Option<tempfile::TempDir>,
}

/// An unfinished experiment, as a resume looks at it.
#[derive(Debug, Clone)]
pub struct UnfinishedRow {
    /// Row id.
    pub id: i64,
    /// What it was started with (JSON the runner defines).
    pub spec: String,
    /// Tasks stored so far.
    pub tasks: u64,
}

/// An experiment row as the runner needs it.
#[derive(Debug, Clone)]
pub struct ExperimentRow {
    /// Row id.
    pub id: i64,
    /// `running`, `done`, `failed` or `interrupted`.
    pub status: String,
    /// The task indices chosen when the experiment started, in run order.
    pub selection: Vec<u64>,
}

/// Now as RFC 3339 UTC.
pub fn now_utc() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    rfc3339(d.as_secs())
}

fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    /// A `postgres://` URL opens a copy of that database for reading (see [`crate::lab`]).
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(url) = path.to_str().filter(|p| crate::lab::is_postgres(p)) {
            let (dir, file) = crate::lab::snapshot(url)?;
            let mut store = Store::open(&file)?;
            store._snapshot = Some(dir);
            return Ok(store);
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the results folder {}", dir.display()))?;
        }
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open the results store {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )
        .with_context(|| format!("{} is not a usable SQLite database", path.display()))?;
        conn.execute_batch(SCHEMA)
            .and_then(|()| conn.execute_batch(state::SCHEMA))
            .and_then(|()| conn.execute_batch(generation::SCHEMA))
            .with_context(|| format!("cannot create the schema in {}", path.display()))?;
        let version: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get(0))
            .optional()?;
        match version {
            None => {
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES('schema_version', ?1)",
                    params![SCHEMA_VERSION.to_string()],
                )?;
            }
            Some(v) if v == SCHEMA_VERSION.to_string() => {}
            Some(v) => anyhow::bail!(
                "{}: results schema version {v}, this joulebench writes version {SCHEMA_VERSION}; use another results file",
                path.display()
            ),
        }
        Ok(Store { conn, _snapshot: None })
    }

    /// Records a run (one invocation of `joulebench run`).
    pub fn begin_run(
        &self,
        manifest_path: &str,
        manifest_text: &str,
        provenance: &str,
    ) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO runs(started_utc, manifest_path, manifest_text, provenance) VALUES(?1, ?2, ?3, ?4)",
            params![now_utc(), manifest_path, manifest_text, provenance],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The experiment with `key`, if stored.
    pub fn experiment(&self, key: &str) -> Result<Option<ExperimentRow>> {
        let row = self
            .conn
            .query_row(
                "SELECT id, status, selection FROM experiments WHERE key = ?1",
                params![key],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)),
            )
            .optional()?;
        row.map(|(id, status, selection)| {
            let selection = serde_json::from_str(&selection)
                .with_context(|| format!("experiment {key}: stored selection is corrupt"))?;
            Ok(ExperimentRow { id, status, selection })
        })
        .transpose()
    }

    /// Creates an experiment row.
    pub fn create_experiment(
        &self,
        key: &str,
        name: &str,
        repeat: u32,
        spec: &str,
        selection: &[u64],
        provenance: &str,
    ) -> Result<ExperimentRow> {
        self.conn.execute(
            "INSERT INTO experiments(key, name, repeat, status, spec, selection, provenance, created_utc)
             VALUES(?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7)",
            params![key, name, repeat, spec, serde_json::to_string(selection)?, provenance, now_utc()],
        )?;
        Ok(ExperimentRow {
            id: self.conn.last_insert_rowid(),
            status: "running".into(),
            selection: selection.to_vec(),
        })
    }

    /// Replaces an experiment's provenance (the latest segment's view of plugins and machine).
    pub fn set_provenance(&self, experiment: i64, provenance: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE experiments SET provenance = ?2 WHERE id = ?1",
            params![experiment, provenance],
        )?;
        Ok(())
    }

    /// An experiment's provenance JSON.
    pub fn provenance(&self, experiment: i64) -> Result<String> {
        Ok(self.conn.query_row(
            "SELECT provenance FROM experiments WHERE id = ?1",
            params![experiment],
            |r| r.get(0),
        )?)
    }

    /// Starts a new segment (one process's share of an experiment) and returns its number.
    pub fn begin_segment(
        &self,
        experiment: i64,
        run: i64,
        clock_origin_unix_s: f64,
    ) -> Result<u32> {
        let next: u32 = self.conn.query_row(
            "SELECT COALESCE(MAX(segment) + 1, 0) FROM segments WHERE experiment_id = ?1",
            params![experiment],
            |r| r.get(0),
        )?;
        self.conn.execute(
            "INSERT INTO segments(experiment_id, segment, run_id, clock_origin_unix_s) VALUES(?1, ?2, ?3, ?4)",
            params![experiment, next, run, clock_origin_unix_s],
        )?;
        Ok(next)
    }

    /// The Unix time of a segment's clock origin.
    pub fn clock_origin(&self, experiment: i64, segment: u32) -> Result<f64> {
        Ok(self.conn.query_row(
            "SELECT clock_origin_unix_s FROM segments WHERE experiment_id = ?1 AND segment = ?2",
            params![experiment, segment],
            |r| r.get(0),
        )?)
    }

    /// How many task records the store holds, over all experiments.
    pub fn task_count(&self) -> Result<u64> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM tasks", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Positions of the tasks already stored for an experiment.
    pub fn done_positions(&self, experiment: i64) -> Result<std::collections::HashSet<u64>> {
        let mut stmt = self.conn.prepare("SELECT position FROM tasks WHERE experiment_id = ?1")?;
        let rows = stmt.query_map(params![experiment], |r| r.get::<_, i64>(0))?;
        rows.map(|r| Ok(r? as u64)).collect()
    }

    /// Stores a batch of task records and the samples drained with it, atomically.
    pub fn store_batch(
        &mut self,
        experiment: i64,
        segment: u32,
        tasks: &[TaskRecord],
        samples: &[SampleRecord],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO tasks(experiment_id, position, task_id, grp, gold, predicted, correct,
                   predicted_norm, correct_norm, prompt_tokens, segment, batch, t_start_s, t_end_s,
                   latency_s, scores)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?;
            for t in tasks {
                ins.execute(params![
                    experiment,
                    t.position as i64,
                    t.task_id,
                    t.group,
                    t.gold,
                    t.predicted,
                    t.correct,
                    t.predicted_norm,
                    t.correct_norm,
                    t.prompt_tokens as i64,
                    t.segment,
                    t.batch as i64,
                    t.t_start_s,
                    t.t_end_s,
                    t.latency_s,
                    serde_json::to_string(&t.scores)?,
                ])?;
            }
            insert_samples(&tx, experiment, segment, samples)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Stores samples alone (the idle, load and warm-up phases have no task records).
    pub fn store_samples(
        &mut self,
        experiment: i64,
        segment: u32,
        samples: &[SampleRecord],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        insert_samples(&tx, experiment, segment, samples)?;
        tx.commit()?;
        Ok(())
    }

    /// Stores a whole latency pass and the samples read during it, in one transaction (a pass
    /// cut short stores nothing and runs again).
    pub fn store_latencies(
        &mut self,
        experiment: i64,
        segment: u32,
        latencies: &[LatencyRecord],
        samples: &[SampleRecord],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO latencies(experiment_id, position, segment, t_start_s, t_end_s)
                 VALUES(?1, ?2, ?3, ?4, ?5)",
            )?;
            for l in latencies {
                ins.execute(params![
                    experiment,
                    l.position as i64,
                    l.segment,
                    l.t_start_s,
                    l.t_end_s
                ])?;
            }
        }
        insert_samples(&tx, experiment, segment, samples)?;
        tx.commit()?;
        Ok(())
    }

    /// The latency pass of an experiment, by position.
    pub fn latencies(&self, experiment: i64) -> Result<Vec<LatencyRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT position, segment, t_start_s, t_end_s FROM latencies WHERE experiment_id = ?1
             ORDER BY position",
        )?;
        let rows = stmt.query_map(params![experiment], |r| {
            Ok(LatencyRecord {
                position: r.get::<_, i64>(0)? as u64,
                segment: r.get(1)?,
                t_start_s: r.get(2)?,
                t_end_s: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stores a run's idle baseline of one meter.
    pub fn store_baseline(&self, run: i64, baseline: &IdleBaseline) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO baselines(run_id, meter, position, baseline) VALUES(?1, ?2, ?3, ?4)",
            params![run, baseline.meter, baseline.when, serde_json::to_string(baseline)?],
        )?;
        Ok(())
    }

    /// A run's idle baseline of `meter`, taken `when` (`before` or `after`).
    pub fn baseline(&self, run: i64, meter: &str, when: &str) -> Result<Option<IdleBaseline>> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT baseline FROM baselines WHERE run_id = ?1 AND meter = ?2 AND position = ?3",
                params![run, meter, when],
                |r| r.get(0),
            )
            .optional()?;
        text.map(|t| serde_json::from_str(&t).context("a stored idle baseline is corrupt"))
            .transpose()
    }

    /// Stores (or replaces) a phase.
    pub fn store_phase(&self, experiment: i64, phase: &PhaseRecord) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO phases(experiment_id, segment, name, t0_s, t1_s, energy)
             VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
            params![experiment, phase.segment, phase.name, phase.t0_s, phase.t1_s, phase.energy],
        )?;
        Ok(())
    }

    /// Every phase of an experiment, by segment and start.
    pub fn phases(&self, experiment: i64) -> Result<Vec<PhaseRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT segment, name, t0_s, t1_s, energy FROM phases WHERE experiment_id = ?1 ORDER BY segment, t0_s",
        )?;
        let rows = stmt.query_map(params![experiment], |r| {
            Ok(PhaseRecord {
                segment: r.get(0)?,
                name: r.get(1)?,
                t0_s: r.get(2)?,
                t1_s: r.get(3)?,
                energy: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every task record of an experiment, by position.
    pub fn tasks(&self, experiment: i64) -> Result<Vec<TaskRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT position, task_id, grp, gold, predicted, correct, predicted_norm, correct_norm,
                    prompt_tokens, segment, batch, t_start_s, t_end_s, latency_s, scores
             FROM tasks WHERE experiment_id = ?1 ORDER BY position",
        )?;
        let rows = stmt.query_map(params![experiment], |r| {
            let scores: String = r.get(14)?;
            Ok(TaskRecord {
                position: r.get::<_, i64>(0)? as u64,
                task_id: r.get(1)?,
                group: r.get(2)?,
                gold: r.get(3)?,
                predicted: r.get(4)?,
                correct: r.get(5)?,
                predicted_norm: r.get(6)?,
                correct_norm: r.get(7)?,
                prompt_tokens: r.get::<_, i64>(8)? as u64,
                segment: r.get(9)?,
                batch: r.get::<_, i64>(10)? as u64,
                t_start_s: r.get(11)?,
                t_end_s: r.get(12)?,
                latency_s: r.get(13)?,
                scores: serde_json::from_str(&scores).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The samples of one segment of an experiment, by time.
    pub fn samples(&self, experiment: i64, segment: u32) -> Result<Vec<SampleRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT t_s, vals FROM samples WHERE experiment_id = ?1 AND segment = ?2 ORDER BY t_s",
        )?;
        let rows = stmt.query_map(params![experiment, segment], |r| {
            Ok((r.get::<_, f64>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (t_s, vals) = row?;
            let values = serde_json::from_str(&vals)
                .with_context(|| format!("experiment {experiment}: a stored sample is corrupt"))?;
            out.push(SampleRecord { t_s, values });
        }
        Ok(out)
    }

    /// Marks an experiment finished with its metrics and a summary (both JSON).
    pub fn finish(&self, experiment: i64, metrics: &str, summary: &str) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO metrics(experiment_id, metrics, summary) VALUES(?1, ?2, ?3)",
            params![experiment, metrics, summary],
        )?;
        self.conn.execute(
            "UPDATE experiments SET status = 'done', error = NULL, finished_utc = ?2 WHERE id = ?1",
            params![experiment, now_utc()],
        )?;
        Ok(())
    }

    /// Records a failure (the experiment stays resumable).
    pub fn fail(&self, experiment: i64, error: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE experiments SET status = 'failed', error = ?2 WHERE id = ?1",
            params![experiment, error],
        )?;
        Ok(())
    }

    /// Records that a stop signal ended the experiment's segment (it stays resumable).
    pub fn interrupt(&self, experiment: i64, note: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE experiments SET status = 'interrupted', error = ?2 WHERE id = ?1",
            params![experiment, note],
        )?;
        Ok(())
    }

    /// The unfinished experiments (running, failed or interrupted) with this manifest id and
    /// repeat.
    pub fn unfinished(&self, name: &str, repeat: u32) -> Result<Vec<UnfinishedRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT e.id, e.spec, (SELECT COUNT(*) FROM tasks t WHERE t.experiment_id = e.id)
             FROM experiments e WHERE e.name = ?1 AND e.repeat = ?2 AND e.status IN ('running', 'failed', 'interrupted')
             ORDER BY e.id",
        )?;
        let rows = stmt.query_map(params![name, repeat], |r| {
            Ok(UnfinishedRow { id: r.get(0)?, spec: r.get(1)?, tasks: r.get::<_, i64>(2)? as u64 })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Sets an unfinished experiment aside: it is never resumed or reported, and its tasks stay.
    pub fn set_aside(&self, experiment: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE experiments SET status = 'set-aside' WHERE id = ?1",
            params![experiment],
        )?;
        Ok(())
    }

    /// A finished experiment's summary.
    pub fn summary(&self, experiment: i64) -> Result<Option<Summary>> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT summary FROM metrics WHERE experiment_id = ?1",
                params![experiment],
                |r| r.get(0),
            )
            .optional()?;
        text.map(|t| {
            serde_json::from_str(&t)
                .with_context(|| format!("experiment {experiment}: stored summary is corrupt"))
        })
        .transpose()
    }

    /// The runs (invocations of `joulebench run`) that measured part of an experiment.
    pub fn experiment_runs(&self, experiment: i64) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT run_id FROM segments WHERE experiment_id = ?1 ORDER BY run_id",
        )?;
        let rows = stmt.query_map(params![experiment], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every finished experiment's summary JSON, in creation order.
    pub fn summaries(&self) -> Result<Vec<(i64, String, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT e.id, e.name, m.summary FROM experiments e JOIN metrics m ON m.experiment_id = e.id
             WHERE e.status = 'done' ORDER BY e.id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

fn insert_samples(
    tx: &rusqlite::Transaction<'_>,
    experiment: i64,
    segment: u32,
    samples: &[SampleRecord],
) -> Result<()> {
    let mut ins = tx.prepare_cached(
        "INSERT INTO samples(experiment_id, segment, t_s, vals) VALUES(?1, ?2, ?3, ?4)",
    )?;
    for s in samples {
        ins.execute(params![experiment, segment, s.t_s, serde_json::to_string(&s.values)?])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(position: u64) -> TaskRecord {
        TaskRecord {
            position,
            task_id: format!("t{position}"),
            group: "g".into(),
            gold: 1,
            predicted: 1,
            correct: true,
            predicted_norm: None,
            correct_norm: None,
            prompt_tokens: 10,
            segment: 0,
            batch: position,
            t_start_s: 1.0,
            t_end_s: 2.0,
            latency_s: 1.0,
            scores: vec![-1.0, -0.5],
        }
    }

    #[test]
    fn rfc3339_matches_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        // 2026-11-26 16:23:50 UTC, worked out from 20783 days since the epoch.
        assert_eq!(rfc3339(20_783 * 86_400 + 16 * 3600 + 23 * 60 + 50), "2026-11-26T16:23:50Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn a_task_is_never_stored_twice_and_a_failed_batch_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("r.sqlite")).unwrap();
        let e = store.create_experiment("k", "n", 0, "{}", &[5, 3, 9], "{}").unwrap();
        store.store_batch(e.id, 0, &[record(0)], &[]).unwrap();
        let sample = SampleRecord { t_s: 1.5, values: vec![Some(2.0), None] };
        // The second batch repeats position 0: the whole batch, samples included, is refused.
        assert!(
            store
                .store_batch(e.id, 0, &[record(1), record(0)], std::slice::from_ref(&sample))
                .is_err()
        );
        assert_eq!(store.done_positions(e.id).unwrap().len(), 1);
        assert!(store.samples(e.id, 0).unwrap().is_empty());
        store.store_batch(e.id, 0, &[record(1)], std::slice::from_ref(&sample)).unwrap();
        assert_eq!(store.tasks(e.id).unwrap(), vec![record(0), record(1)]);
        assert_eq!(store.samples(e.id, 0).unwrap(), vec![sample]);
        let again = Store::open(&dir.path().join("r.sqlite")).unwrap();
        assert_eq!(again.experiment("k").unwrap().unwrap().selection, vec![5, 3, 9]);
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.sqlite");
        std::fs::write(
            &path,
            "this is not a database, it is long enough to have a header\n".repeat(10),
        )
        .unwrap();
        let e = Store::open(&path).err().unwrap();
        assert!(format!("{e:#}").contains("bad.sqlite"), "{e:#}");
    }
}
