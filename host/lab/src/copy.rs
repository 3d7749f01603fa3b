//! Copies experiments, with everything stored about them, between a SQLite results file and
//! PostgreSQL, either way: `export` and `import`, the agents' upload of what they measure, the
//! download an agent starts a resumed experiment from, and the snapshot a report reads.
//!
//! Row ids differ between databases: an experiment is matched by its key, and runs get new ids
//! in the destination, remembered by the [`Copier`] so that later copies reuse them. Copying
//! from SQLite can be incremental: the copier remembers the highest SQLite rowid it copied of
//! each table and experiment, and copies only what came after it. Rows already in PostgreSQL
//! are never stored twice: tasks, latencies and samples are kept as first written, while what
//! the store replaces in place (phases, segments, metrics, baselines, state starts) is updated.
//!
//! The column lists come from the SQLite side (`PRAGMA table_info`), the one schema both share.

use std::collections::HashMap;

use anyhow::{Context, Result, bail};

/// One value of one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer (booleans too).
    Int(i64),
    /// A float.
    Real(f64),
    /// Text.
    Text(String),
}

impl Value {
    fn int(&self) -> Result<i64> {
        match self {
            Value::Int(i) => Ok(*i),
            other => bail!("expected an integer, found {other:?}"),
        }
    }

    fn text(&self) -> Result<&str> {
        match self {
            Value::Text(t) => Ok(t),
            other => bail!("expected text, found {other:?}"),
        }
    }
}

/// A database the copier reads and writes: SQL with `$1`-style parameters.
pub trait Db {
    /// Every row `sql` returns.
    fn rows(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>>;
    /// Runs a statement; the number of rows it changed.
    fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64>;
    /// Runs statements without parameters (BEGIN, COMMIT).
    fn batch(&mut self, sql: &str) -> Result<()>;
    /// Whether this is PostgreSQL (which has conflict keys on samples, and no rowid).
    fn is_postgres(&self) -> bool;
}

impl Db for rusqlite::Connection {
    fn rows(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>> {
        let mut stmt = self.prepare_cached(&sql.replace('$', "?"))?;
        let n = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                use rusqlite::types::ValueRef;
                values.push(match row.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Real(v) => Value::Real(v),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(_) => bail!("unexpected blob in column {i} of: {sql}"),
                });
            }
            out.push(values);
        }
        Ok(out)
    }

    fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let mut stmt = self.prepare_cached(&sql.replace('$', "?"))?;
        Ok(stmt.execute(rusqlite::params_from_iter(params))? as u64)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.execute_batch(sql)?)
    }

    fn is_postgres(&self) -> bool {
        false
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
        }))
    }
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
    {
        use postgres::types::Type;
        match (self, ty) {
            (Value::Null, _) => Ok(postgres::types::IsNull::Yes),
            (Value::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Int(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Value::Int(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT8) => f.to_sql(ty, out),
            (Value::Text(t), _) => t.as_str().to_sql(ty, out),
            (v, ty) => Err(format!("cannot store {v:?} in a {ty} column").into()),
        }
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        use postgres::types::Type;
        [Type::INT8, Type::INT4, Type::FLOAT8, Type::BOOL, Type::TEXT, Type::VARCHAR].contains(ty)
    }

    postgres::types::to_sql_checked!();
}

/// A PostgreSQL connection with its prepared statements.
pub struct Pg {
    /// The connection.
    pub client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
}

impl Pg {
    /// Wraps a connection.
    pub fn new(client: postgres::Client) -> Pg {
        Pg { client, statements: HashMap::new() }
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

fn pg_params(params: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn postgres::types::ToSql + Sync)).collect()
}

impl Db for Pg {
    fn rows(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>> {
        use postgres::types::Type;
        let stmt = self.statement(sql)?;
        let rows = self.client.query(&stmt, &pg_params(params))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = Vec::with_capacity(row.len());
            for (i, col) in row.columns().iter().enumerate() {
                let v = match *col.type_() {
                    Type::INT8 => row.get::<_, Option<i64>>(i).map(Value::Int),
                    Type::INT4 => row.get::<_, Option<i32>>(i).map(|v| Value::Int(v.into())),
                    Type::BOOL => row.get::<_, Option<bool>>(i).map(|v| Value::Int(v.into())),
                    Type::FLOAT8 => row.get::<_, Option<f64>>(i).map(Value::Real),
                    Type::TEXT | Type::VARCHAR | Type::NAME => {
                        row.get::<_, Option<String>>(i).map(Value::Text)
                    }
                    ref other => bail!(
                        "column {} has type {other}, which the copy does not know",
                        col.name()
                    ),
                };
                values.push(v.unwrap_or(Value::Null));
            }
            out.push(values);
        }
        Ok(out)
    }

    fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let stmt = self.statement(sql)?;
        Ok(self.client.execute(&stmt, &pg_params(params))?)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.client.batch_execute(sql)?)
    }

    fn is_postgres(&self) -> bool {
        true
    }
}

/// A table that belongs to an experiment, with the key PostgreSQL resolves conflicts on and
/// whether a conflicting row replaces the stored one (the SQLite store replaces these rows in
/// place) or is dropped (rows written once).
struct Child {
    name: &'static str,
    key: &'static [&'static str],
    replace: bool,
}

const CHILDREN: &[Child] = &[
    Child { name: "segments", key: &["experiment_id", "segment"], replace: true },
    Child { name: "phases", key: &["experiment_id", "segment", "name"], replace: true },
    Child { name: "tasks", key: &["experiment_id", "position"], replace: false },
    Child { name: "samples", key: &["experiment_id", "segment", "t_s"], replace: false },
    Child { name: "latencies", key: &["experiment_id", "position"], replace: false },
    Child { name: "metrics", key: &["experiment_id"], replace: true },
    Child { name: "state_segments", key: &["experiment_id", "segment"], replace: true },
    Child { name: "state_samples", key: &["experiment_id", "segment", "t_s"], replace: false },
    Child {
        name: "generation_requests",
        key: &["experiment_id", "segment", "label", "position", "repetition"],
        replace: true,
    },
    Child { name: "generation_summaries", key: &["experiment_id"], replace: true },
];

/// The experiment columns a copy updates when the experiment is already in the destination.
const EXPERIMENT_STATE: &[&str] = &["status", "error", "provenance", "finished_utc"];

/// What to do when the destination already holds an experiment with the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse the copy (an import must not duplicate an experiment).
    Refuse,
    /// Bring it up to date (an agent's repeated uploads).
    Update,
}

/// Each table's columns, read from a SQLite results file.
#[derive(Debug, Clone)]
pub struct Columns(HashMap<String, Vec<String>>);

impl Columns {
    /// Reads the columns of every table a copy touches from `sqlite`.
    pub fn of(sqlite: &rusqlite::Connection) -> Result<Columns> {
        let mut out = HashMap::new();
        let tables =
            ["runs", "experiments", "baselines"].into_iter().chain(CHILDREN.iter().map(|c| c.name));
        for table in tables {
            let mut stmt = sqlite.prepare(&format!("PRAGMA table_info({table})"))?;
            let cols: Vec<String> =
                stmt.query_map([], |r| r.get(1))?.collect::<rusqlite::Result<_>>()?;
            if cols.is_empty() {
                bail!("the results file has no table {table}: not a joulebench results file");
            }
            out.insert(table.to_string(), cols);
        }
        Ok(Columns(out))
    }

    fn get(&self, table: &str) -> &[String] {
        self.0.get(table).map_or(&[], Vec::as_slice)
    }

    /// `table`'s columns without `id`.
    fn data(&self, table: &str) -> Vec<&str> {
        self.get(table).iter().map(String::as_str).filter(|c| *c != "id").collect()
    }
}

fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Copies experiments from one database to another and remembers what it copied.
#[derive(Debug, Default)]
pub struct Copier {
    /// Source run id to destination run id.
    runs: HashMap<i64, i64>,
    /// (table, source experiment id) to the highest source rowid copied (SQLite sources).
    marks: HashMap<(&'static str, i64), i64>,
}

impl Copier {
    /// A copier that has copied nothing.
    pub fn new() -> Copier {
        Copier::default()
    }

    /// Learns the runs `down` copied, the other way round: after a download, an upload of the
    /// same experiments maps the downloaded runs back to the ones they came from instead of
    /// storing them again.
    pub fn learn_inverse(&mut self, down: &Copier) {
        self.runs.extend(down.runs.iter().map(|(from, to)| (*to, *from)));
    }

    /// Counts every row of experiment `id` now in the SQLite `src` as copied: used after
    /// downloading an experiment into a fresh file, so that uploads send only what is new.
    pub fn mark_copied(&mut self, src: &mut rusqlite::Connection, id: i64) -> Result<()> {
        for child in CHILDREN {
            let max = src.rows(
                &format!(
                    "SELECT COALESCE(MAX(rowid), 0) FROM {} WHERE experiment_id = $1",
                    child.name
                ),
                &[Value::Int(id)],
            )?;
            self.marks.insert((child.name, id), max[0][0].int()?);
        }
        Ok(())
    }

    /// Copies experiment `src_id` of `src` (everything stored about it not copied before) into
    /// `dst`, in one transaction of `dst`; returns its id in `dst`. `cols` are the shared
    /// columns; `existing` says what happens when `dst` already has the experiment's key.
    pub fn copy_experiment(
        &mut self,
        src: &mut dyn Db,
        dst: &mut dyn Db,
        cols: &Columns,
        src_id: i64,
        existing: Existing,
    ) -> Result<i64> {
        dst.batch("BEGIN")?;
        match self.copy_in_transaction(src, dst, cols, src_id, existing) {
            Ok((id, marks)) => {
                dst.batch("COMMIT")?;
                self.marks.extend(marks);
                Ok(id)
            }
            Err(e) => {
                let _ = dst.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn copy_in_transaction(
        &mut self,
        src: &mut dyn Db,
        dst: &mut dyn Db,
        cols: &Columns,
        src_id: i64,
        existing: Existing,
    ) -> Result<(i64, Vec<((&'static str, i64), i64)>)> {
        let exp_cols = cols.data("experiments");
        let row = src
            .rows(
                &format!("SELECT {} FROM experiments WHERE id = $1", exp_cols.join(", ")),
                &[Value::Int(src_id)],
            )?
            .pop()
            .with_context(|| format!("no experiment {src_id} to copy"))?;
        let at = |name: &str| exp_cols.iter().position(|c| *c == name).context("missing column");
        let key = row[at("key")?].text()?.to_string();
        let name = row[at("name")?].text()?.to_string();
        let found =
            dst.rows("SELECT id FROM experiments WHERE key = $1", &[Value::Text(key.clone())])?;
        let dst_id = match (found.first(), existing) {
            (Some(_), Existing::Refuse) => bail!(
                "experiment {name} (key {key}) is already in the destination: copying it again \
                 would store it twice"
            ),
            (Some(r), Existing::Update) => {
                let id = r[0].int()?;
                let sets: Vec<String> = EXPERIMENT_STATE
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{c} = ${}", i + 2))
                    .collect();
                let mut params = vec![Value::Int(id)];
                for c in EXPERIMENT_STATE {
                    params.push(row[at(c)?].clone());
                }
                dst.exec(
                    &format!("UPDATE experiments SET {} WHERE id = $1", sets.join(", ")),
                    &params,
                )?;
                id
            }
            (None, _) => dst.rows(
                &format!(
                    "INSERT INTO experiments({}) VALUES({}) RETURNING id",
                    exp_cols.join(", "),
                    placeholders(exp_cols.len())
                ),
                &row,
            )?[0][0]
                .int()?,
        };

        // The runs its segments belong to, and their idle baselines.
        let runs = src.rows(
            "SELECT DISTINCT run_id FROM segments WHERE experiment_id = $1",
            &[Value::Int(src_id)],
        )?;
        let run_cols = cols.data("runs");
        let mut new_runs = Vec::new();
        for r in runs {
            let run = r[0].int()?;
            if self.runs.contains_key(&run) {
                continue;
            }
            let values = src
                .rows(
                    &format!("SELECT {} FROM runs WHERE id = $1", run_cols.join(", ")),
                    &[Value::Int(run)],
                )?
                .pop()
                .with_context(|| {
                    format!("segment of experiment {name} names a missing run {run}")
                })?;
            // A run this copy stored before, in a transaction whose commit was acknowledged
            // by a connection that then broke, is found again rather than stored twice.
            let same: Vec<String> =
                run_cols.iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 1)).collect();
            let found = dst.rows(
                &format!("SELECT id FROM runs WHERE {} ORDER BY id LIMIT 1", same.join(" AND ")),
                &values,
            )?;
            let id = match found.first() {
                Some(r) => r[0].int()?,
                None => dst.rows(
                    &format!(
                        "INSERT INTO runs({}) VALUES({}) RETURNING id",
                        run_cols.join(", "),
                        placeholders(run_cols.len())
                    ),
                    &values,
                )?[0][0]
                    .int()?,
            };
            new_runs.push((run, id));
        }
        // Until the transaction commits, the new runs are known to this copy only.
        let mut run_map = self.runs.clone();
        run_map.extend(new_runs.iter().copied());
        let base_cols = cols.data("baselines");
        for (&src_run, &dst_run) in &run_map {
            let rows = src.rows(
                &format!("SELECT {} FROM baselines WHERE run_id = $1", base_cols.join(", ")),
                &[Value::Int(src_run)],
            )?;
            for mut values in rows {
                values[0] = Value::Int(dst_run);
                insert(
                    dst,
                    "baselines",
                    &base_cols,
                    &["run_id", "meter", "position"],
                    true,
                    &values,
                )?;
            }
        }

        let mut marks = Vec::new();
        for child in CHILDREN {
            let child_cols = cols.data(child.name);
            // Rows the store replaces in place may keep their rowid (a table keyed by its
            // INTEGER PRIMARY KEY does): they are few, and copied whole every time.
            let mark = if child.replace {
                0
            } else {
                self.marks.get(&(child.name, src_id)).copied().unwrap_or(0)
            };
            let rows = if src.is_postgres() {
                src.rows(
                    &format!(
                        "SELECT 0, {} FROM {} WHERE experiment_id = $1 ORDER BY {}",
                        child_cols.join(", "),
                        child.name,
                        child.key.join(", ")
                    ),
                    &[Value::Int(src_id)],
                )?
            } else {
                src.rows(
                    &format!(
                        "SELECT rowid, {} FROM {} WHERE experiment_id = $1 AND rowid > $2 ORDER BY rowid",
                        child_cols.join(", "),
                        child.name
                    ),
                    &[Value::Int(src_id), Value::Int(mark)],
                )?
            };
            let mut highest = mark;
            for mut values in rows {
                highest = highest.max(values[0].int()?);
                values.remove(0);
                for (i, c) in child_cols.iter().enumerate() {
                    match *c {
                        "experiment_id" => values[i] = Value::Int(dst_id),
                        "run_id" => {
                            let run = values[i].int()?;
                            let mapped = run_map.get(&run).with_context(|| {
                                format!("experiment {name}: run {run} was not copied")
                            })?;
                            values[i] = Value::Int(*mapped);
                        }
                        _ => {}
                    }
                }
                insert(dst, child.name, &child_cols, child.key, child.replace, &values)?;
            }
            if !src.is_postgres() {
                marks.push(((child.name, src_id), highest));
            }
        }
        self.runs.extend(new_runs);
        Ok((dst_id, marks))
    }
}

fn insert(
    dst: &mut dyn Db,
    table: &str,
    cols: &[&str],
    key: &[&str],
    replace: bool,
    values: &[Value],
) -> Result<()> {
    let mut sql =
        format!("INSERT INTO {table}({}) VALUES({})", cols.join(", "), placeholders(cols.len()));
    if dst.is_postgres() {
        let rest: Vec<String> = cols
            .iter()
            .filter(|c| !key.contains(c))
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .collect();
        if replace && !rest.is_empty() {
            sql += &format!(" ON CONFLICT ({}) DO UPDATE SET {}", key.join(", "), rest.join(", "));
        } else {
            sql += &format!(" ON CONFLICT ({}) DO NOTHING", key.join(", "));
        }
    } else if replace {
        sql = sql.replacen("INSERT", "INSERT OR REPLACE", 1);
    }
    dst.exec(&sql, values).with_context(|| format!("cannot copy a row of {table}"))?;
    Ok(())
}

/// The ids of every experiment in `db` (all statuses), oldest first.
pub fn experiment_ids(db: &mut dyn Db) -> Result<Vec<(i64, String, i64)>> {
    db.rows("SELECT id, name, repeat FROM experiments ORDER BY id", &[])?
        .into_iter()
        .map(|r| Ok((r[0].int()?, r[1].text()?.to_string(), r[2].int()?)))
        .collect()
}
