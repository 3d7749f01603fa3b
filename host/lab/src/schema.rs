//! The PostgreSQL schema and its versioned migrations.
//!
//! The results tables are the SQLite store's, column for column (the host's tests compare the
//! two), with PostgreSQL's types: `BIGINT` for `INTEGER`, `DOUBLE PRECISION` for `REAL`,
//! `BIGSERIAL` for row ids. Samples, which SQLite keeps without a key, get a unique index on
//! (experiment, segment, time) so that a batch written again after a lost connection is not
//! stored twice. The lab's own tables hold submitted manifests and the queue of
//! (experiment, repeat) units the agents claim.
//!
//! Version numbers follow the SQLite store's schema version. A database migrated by a newer
//! joulebench is refused with both versions named; an older one is migrated forward, one
//! version at a time, each in its own transaction, under an advisory lock so that agents starting
//! together do not race.

use anyhow::{Context, Result, bail};
use postgres::Client;

/// The newest schema version this joulebench knows.
pub const LATEST: i64 = 1;

/// Every migration, oldest first: (version it brings the database to, SQL).
const MIGRATIONS: &[(i64, &str)] = &[(1, V1)];

const V1: &str = "
CREATE TABLE runs(
    id BIGSERIAL PRIMARY KEY,
    started_utc TEXT NOT NULL,
    manifest_path TEXT NOT NULL,
    manifest_text TEXT NOT NULL,
    provenance TEXT NOT NULL
);
CREATE TABLE experiments(
    id BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    repeat BIGINT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    spec TEXT NOT NULL,
    selection TEXT NOT NULL,
    provenance TEXT NOT NULL,
    created_utc TEXT NOT NULL,
    finished_utc TEXT
);
CREATE TABLE segments(
    experiment_id BIGINT NOT NULL REFERENCES experiments(id),
    segment BIGINT NOT NULL,
    run_id BIGINT NOT NULL REFERENCES runs(id),
    clock_origin_unix_s DOUBLE PRECISION NOT NULL,
    PRIMARY KEY(experiment_id, segment)
);
CREATE TABLE phases(
    experiment_id BIGINT NOT NULL REFERENCES experiments(id),
    segment BIGINT NOT NULL,
    name TEXT NOT NULL,
    t0_s DOUBLE PRECISION NOT NULL,
    t1_s DOUBLE PRECISION NOT NULL,
    energy TEXT NOT NULL,
    PRIMARY KEY(experiment_id, segment, name)
);
CREATE TABLE tasks(
    experiment_id BIGINT NOT NULL REFERENCES experiments(id),
    position BIGINT NOT NULL,
    task_id TEXT NOT NULL,
    grp TEXT NOT NULL,
    gold BIGINT NOT NULL,
    predicted BIGINT NOT NULL,
    correct BIGINT NOT NULL,
    predicted_norm BIGINT,
    correct_norm BIGINT,
    prompt_tokens BIGINT NOT NULL,
    segment BIGINT NOT NULL,
    batch BIGINT NOT NULL,
    t_start_s DOUBLE PRECISION NOT NULL,
    t_end_s DOUBLE PRECISION NOT NULL,
    latency_s DOUBLE PRECISION NOT NULL,
    scores TEXT NOT NULL,
    PRIMARY KEY(experiment_id, position)
);
CREATE TABLE samples(
    experiment_id BIGINT NOT NULL REFERENCES experiments(id),
    segment BIGINT NOT NULL,
    t_s DOUBLE PRECISION NOT NULL,
    vals TEXT NOT NULL,
    UNIQUE(experiment_id, segment, t_s)
);
CREATE TABLE latencies(
    experiment_id BIGINT NOT NULL REFERENCES experiments(id),
    position BIGINT NOT NULL,
    segment BIGINT NOT NULL,
    t_start_s DOUBLE PRECISION NOT NULL,
    t_end_s DOUBLE PRECISION NOT NULL,
    PRIMARY KEY(experiment_id, position)
);
CREATE TABLE baselines(
    run_id BIGINT NOT NULL REFERENCES runs(id),
    meter TEXT NOT NULL,
    position TEXT NOT NULL,
    baseline TEXT NOT NULL,
    PRIMARY KEY(run_id, meter, position)
);
CREATE TABLE metrics(
    experiment_id BIGINT PRIMARY KEY REFERENCES experiments(id),
    metrics TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE state_segments(
    experiment_id BIGINT NOT NULL REFERENCES experiments(id),
    segment BIGINT NOT NULL,
    start TEXT NOT NULL,
    PRIMARY KEY(experiment_id, segment)
);
CREATE TABLE state_samples(
    experiment_id BIGINT NOT NULL REFERENCES experiments(id),
    segment BIGINT NOT NULL,
    t_s DOUBLE PRECISION NOT NULL,
    vals TEXT NOT NULL,
    UNIQUE(experiment_id, segment, t_s)
);
CREATE TABLE generation_requests(
    experiment_id BIGINT NOT NULL REFERENCES experiments(id),
    segment BIGINT NOT NULL,
    label TEXT NOT NULL,
    position BIGINT NOT NULL,
    repetition BIGINT NOT NULL,
    finish TEXT NOT NULL,
    text TEXT NOT NULL,
    correct BIGINT,
    timing TEXT NOT NULL,
    figures TEXT NOT NULL,
    PRIMARY KEY(experiment_id, segment, label, position, repetition)
);
CREATE TABLE generation_summaries(
    experiment_id BIGINT PRIMARY KEY REFERENCES experiments(id),
    kind TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE lab_submissions(
    id BIGSERIAL PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    manifest_path TEXT NOT NULL,
    manifest_text TEXT NOT NULL,
    submitted_utc TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE lab_units(
    id BIGSERIAL PRIMARY KEY,
    submission_id BIGINT NOT NULL REFERENCES lab_submissions(id),
    experiment TEXT NOT NULL,
    repeat BIGINT NOT NULL,
    board TEXT,
    state TEXT NOT NULL DEFAULT 'queued',
    agent TEXT,
    agent_board TEXT,
    token TEXT,
    lease_s DOUBLE PRECISION,
    heartbeat TIMESTAMPTZ,
    claimed TIMESTAMPTZ,
    finished TIMESTAMPTZ,
    attempts BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    UNIQUE(submission_id, experiment, repeat)
);
CREATE INDEX lab_units_by_state ON lab_units(state, board);
";

/// Brings the database to [`LATEST`], or refuses one a newer joulebench migrated. `shown` names
/// the database in messages.
pub fn migrate(client: &mut Client, shown: &str) -> Result<()> {
    let mut tx = client.transaction()?;
    // Any fixed number: agents starting together wait here for each other.
    tx.execute("SELECT pg_advisory_xact_lock(7270614101)", &[])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS joulebench_schema(
            version BIGINT PRIMARY KEY,
            applied TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )?;
    let version: i64 =
        tx.query_one("SELECT COALESCE(MAX(version), 0) FROM joulebench_schema", &[])?.get(0);
    if version > LATEST {
        bail!(
            "the results database {shown} has schema version {version}, from a newer joulebench; \
             this joulebench knows versions up to {LATEST}: upgrade joulebench"
        );
    }
    for (to, sql) in MIGRATIONS.iter().filter(|(to, _)| *to > version) {
        tx.batch_execute(sql)
            .with_context(|| format!("{shown}: cannot migrate the schema to version {to}"))?;
        tx.execute("INSERT INTO joulebench_schema(version) VALUES($1)", &[to])?;
    }
    tx.commit()?;
    Ok(())
}
