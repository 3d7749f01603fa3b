//! Files that are whole or absent: `fetch-models` and `fetch-data` write each file under a
//! temporary name that carries the writer's pid, flush it to the disk, verify it, and only then
//! rename it to its real name (and flush the folder). A download or copy killed at any point
//! leaves at most a hidden temporary, never a file under the real name that looks complete; the
//! next run removes the temporaries of writers that are gone and starts that file again.
//!
//! Tests stop a copy midway with `JOULEBENCH_FETCH_STALL=1`: the writer prints
//! `stalled: <temporary>` on stderr once part of a file (its first MiB, at most half of it) is
//! on the disk, and waits to be killed.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use crate::DynError;

/// The environment variable of the test hook that stalls a copy halfway.
pub const STALL: &str = "JOULEBENCH_FETCH_STALL";

/// Copies `from` (of `len` bytes, for the stall hook) into `to`, then flushes `to` to the disk.
pub fn copy(from: &mut impl Read, len: u64, to: &Path) -> Result<(), DynError> {
    let err = |e: std::io::Error| format!("{}: {e}", to.display());
    let mut out = File::create(to).map_err(err)?;
    let stall = std::env::var_os(STALL).is_some_and(|v| v == "1");
    let mut buf = vec![0u8; 1 << 20];
    let mut written = 0u64;
    loop {
        let n = from.read(&mut buf).map_err(|e| format!("reading for {}: {e}", to.display()))?;
        if n == 0 {
            break;
        }
        // With the hook, the first write stops at half the file at most, so that it stops midway.
        let take = if stall && written == 0 { n.min((len / 2).max(1) as usize) } else { n };
        out.write_all(&buf[..take]).map_err(err)?;
        written += take as u64;
        if stall && written < len {
            out.sync_all().map_err(err)?;
            eprintln!("stalled: {}", to.display());
            std::thread::sleep(std::time::Duration::from_secs(600));
            return Err(format!("{STALL} is set: stopped writing {}", to.display()).into());
        }
        if take < n {
            out.write_all(&buf[take..n]).map_err(err)?;
            written += (n - take) as u64;
        }
    }
    out.sync_all().map_err(err)?;
    Ok(())
}

/// Writes `bytes` into `to` with [`copy`].
pub fn write(to: &Path, bytes: &[u8]) -> Result<(), DynError> {
    copy(&mut &bytes[..], bytes.len() as u64, to)
}

/// Flushes a file another program wrote.
pub fn sync(path: &Path) -> Result<(), DynError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()).into())
}

/// Renames the verified temporary `partial` to `dest` and flushes the folder, so that the new
/// name survives a power cut.
pub fn commit(partial: &Path, dest: &Path) -> Result<(), DynError> {
    std::fs::rename(partial, dest)
        .map_err(|e| format!("cannot move {} to {}: {e}", partial.display(), dest.display()))?;
    if let Some(dir) = dest.parent() {
        // Folders cannot be opened for syncing everywhere; the rename itself is done.
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Whether process `pid` still runs.
pub fn alive(pid: u32) -> bool {
    if Path::new("/proc/self").exists() {
        return Path::new("/proc").join(pid.to_string()).exists();
    }
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Removes the entries of `dir` named `<prefix><pid>` whose writer `pid` is gone (files or
/// folders that a killed run left), and returns how many it removed.
pub fn remove_stale(dir: &Path, prefix: &str) -> usize {
    let mut removed = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(prefix).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || alive(pid) {
            continue;
        }
        let path = e.path();
        let gone = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        if gone.is_ok() {
            eprintln!("removed {}, left by an interrupted run (pid {pid})", path.display());
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_entries_of_dead_writers_go_and_live_ones_stay() {
        let dir = std::env::temp_dir().join(format!("joulebench-partial-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A pid above the kernel's limit (2^22) never runs.
        let dead = dir.join(".x.partial-4194305");
        let live = dir.join(format!(".x.partial-{}", std::process::id()));
        let other = dir.join(".x.partial-notapid");
        for p in [&dead, &live, &other] {
            std::fs::write(p, "half").unwrap();
        }
        std::fs::create_dir_all(dir.join(".fetch-m-4194305/sub")).unwrap();
        assert_eq!(remove_stale(&dir, ".x.partial-"), 1);
        assert_eq!(remove_stale(&dir, ".fetch-m-"), 1);
        assert!(!dead.exists() && live.exists() && other.exists());
        assert!(!dir.join(".fetch-m-4194305").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn copies_are_whole() {
        let dir = std::env::temp_dir().join(format!("joulebench-copy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bytes: Vec<u8> = (0..3_000_000u32).map(|i| i as u8).collect();
        write(&dir.join("a"), &bytes).unwrap();
        commit(&dir.join("a"), &dir.join("b")).unwrap();
        assert_eq!(std::fs::read(dir.join("b")).unwrap(), bytes);
        assert!(!dir.join("a").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
