//! The results store's guards: one `joulebench run` at a time per store, a store that can be
//! written before anything is measured, and the write failures that stop a run.
//!
//! A run holds an advisory lock (`flock`) on a file beside the store (`results.sqlite.lock`)
//! holding its pid. A second run on the same store is refused with "in use by pid N"; the
//! kernel drops the lock when the holder exits however it exits (a SIGKILL included), so a
//! stale file never blocks a later run. Readers do not take the lock: `joulebench report` reads
//! the store while a run writes it (SQLite's write-ahead log lets them).
//!
//! A store the run cannot write (a read-only file, folder or file system) is refused before any
//! plugin is loaded, naming the path. A write that fails in the middle of a run (the disk is
//! full, the card failed) stops the run with the store's path: the experiments after it would
//! fail the same way, and everything stored before stays readable (every batch is one SQLite
//! transaction).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The lock a run holds on its store until it is dropped.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
}

/// The lock file of the store at `db`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    db.with_file_name(name)
}

/// Checks that the store at `db` can be written and takes its run lock.
pub fn acquire(db: &Path) -> Result<RunLock> {
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the results folder {}", dir.display()))?;
    }
    // The store and its journal files must be writable: refuse now rather than after the idle
    // baseline and the model load.
    let wal = |suffix: &str| {
        let mut p = db.as_os_str().to_os_string();
        p.push(suffix);
        PathBuf::from(p)
    };
    for (file, what) in
        [(db.to_path_buf(), ""), (wal("-wal"), "its journal "), (wal("-shm"), "its journal index ")]
    {
        if file.exists() {
            OpenOptions::new().append(true).open(&file).with_context(|| {
                let which = if what.is_empty() {
                    String::new()
                } else {
                    format!(": {what}{}", file.display())
                };
                format!("the results store {} cannot be written{which}", db.display())
            })?;
        }
    }
    let path = lock_path(db);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| {
            format!(
                "the results store {} cannot be written: cannot create its lock file {}",
                db.display(),
                path.display()
            )
        })?;
    // SAFETY: flock on a file descriptor this function owns.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    if !locked {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(err).with_context(|| format!("cannot lock {}", path.display()));
        }
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        let holder = match text.trim().parse::<u32>() {
            Ok(pid) => format!("pid {pid}"),
            Err(_) => "another process".into(),
        };
        bail!(
            "the results store {} is in use by {holder} (another `joulebench run`; its lock is {}). \
             Wait for it to finish or stop it; `joulebench report` works meanwhile.",
            db.display(),
            path.display()
        );
    }
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .and_then(|()| file.flush())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(RunLock { file, path })
}

impl RunLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // The file stays (removing it would race with a run opening it); its pid goes. Closing
        // the descriptor releases the lock.
        let _ = self.file.set_len(0);
    }
}

/// Whether `e` is a failed write to the store (a full disk, a read-only or failing device),
/// which stops the whole run rather than one experiment.
pub fn is_store_write_failure(e: &anyhow::Error) -> bool {
    use rusqlite::ErrorCode as C;
    e.chain().any(|cause| match cause.downcast_ref::<rusqlite::Error>() {
        Some(rusqlite::Error::SqliteFailure(f, _)) => matches!(
            f.code,
            C::DiskFull | C::SystemIoFailure | C::ReadOnly | C::CannotOpen | C::PermissionDenied
        ),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_and_the_lock_outlives_no_holder() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("r.sqlite");
        let first = acquire(&db).unwrap();
        assert_eq!(first.path(), dir.path().join("r.sqlite.lock"));
        let text = std::fs::read_to_string(first.path()).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());
        // flock locks belong to open files, so a second open in this process conflicts too.
        let e = acquire(&db).unwrap_err().to_string();
        assert!(e.contains(&format!("is in use by pid {}", std::process::id())), "{e}");
        assert!(e.contains(&db.display().to_string()), "{e}");
        drop(first);
        let again = acquire(&db).unwrap();
        drop(again);
    }

    #[test]
    fn a_full_disk_is_a_store_write_failure_and_a_constraint_is_not() {
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            Some("database or disk is full".into()),
        );
        let e = anyhow::Error::from(full).context("storing a batch");
        assert!(is_store_write_failure(&e));
        let dup = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
            None,
        );
        assert!(!is_store_write_failure(&anyhow::Error::from(dup)));
    }
}
