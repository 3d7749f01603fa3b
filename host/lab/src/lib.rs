//! The lab: many boards sharing one PostgreSQL database of experiments and results.
//!
//! - [`connect`]: the database's URL, completed from the environment and `.pgpass`, and TLS
//!   through rustls; messages show the URL without its password.
//! - [`schema`]: the PostgreSQL schema (the SQLite store's tables, plus the queue) and its
//!   versioned migrations.
//! - [`queue`]: submitted manifests and the (experiment, repeat) units agents claim, heartbeat
//!   and finish.
//! - [`copy`]: experiments copied between SQLite files and PostgreSQL (export, import, an
//!   agent's uploads and downloads, report snapshots).
//!
//! The host (`joulebench submit | agent | status | export | import`) runs experiments with its
//! ordinary runner into a local SQLite file and uploads them with [`copy`]; this crate knows
//! nothing of plugins or measurement.

pub mod connect;
pub mod copy;
pub mod queue;
pub mod schema;

pub use connect::{Target, is_postgres};

/// Connects to `url` and brings its schema up to date.
pub fn open(url: &str) -> anyhow::Result<(Target, postgres::Client)> {
    let target = Target::parse(url)?;
    let mut client = target.connect()?;
    schema::migrate(&mut client, &target.to_string())?;
    Ok((target, client))
}
