//! A model file's sha256 for the results' provenance, computed once and cached beside the file:
//! hashing a model of a few hundred megabytes on a small board takes seconds, and every run
//! records it.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};

/// The sidecar file holding `path`'s cached sha256.
pub fn sha256_cache_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

/// Cache entries for files whose folder cannot be written: (path, size, mtime, sha256).
static MEMORY_CACHE: Mutex<Vec<(PathBuf, u64, String, String)>> = Mutex::new(Vec::new());

fn stamp(path: &Path) -> io::Result<(u64, String)> {
    let meta = std::fs::metadata(path)?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| format!("{}.{:09}", d.as_secs(), d.subsec_nanos()))
        .unwrap_or_else(|| "unknown".into());
    Ok((meta.len(), mtime))
}

/// The sha256 of `path` in lower-case hex, computed once and cached beside the file as
/// `<file>.sha256`: the first line is `<hex>  <file name>` (the `sha256sum` format), the second
/// `size <bytes> mtime <seconds.nanoseconds>`; a file whose size or mtime changed is hashed again.
/// Where the folder is read-only, the cache lives in memory for the process.
pub fn sha256_cached(path: &Path) -> io::Result<String> {
    let (size, mtime) = stamp(path)?;
    let cache = sha256_cache_path(path);
    if let Ok(text) = std::fs::read_to_string(&cache)
        && let Some(hex) = parse_cache(&text, size, &mtime)
    {
        return Ok(hex);
    }
    if let Ok(mem) = MEMORY_CACHE.lock()
        && let Some((_, _, _, hex)) =
            mem.iter().find(|(p, s, m, _)| p == path && *s == size && *m == mtime)
    {
        return Ok(hex.clone());
    }
    let hex = sha256_file(path)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let text = format!("{hex}  {name}\nsize {size} mtime {mtime}\n");
    let written = File::create(&cache).and_then(|mut f| f.write_all(text.as_bytes()));
    if written.is_err() {
        let _ = std::fs::remove_file(&cache);
        if let Ok(mut mem) = MEMORY_CACHE.lock() {
            mem.push((path.to_path_buf(), size, mtime, hex.clone()));
        }
    }
    Ok(hex)
}

fn parse_cache(text: &str, size: u64, mtime: &str) -> Option<String> {
    let mut lines = text.lines();
    let hex = lines.next()?.split_whitespace().next()?;
    let mut stamp = lines.next()?.split_whitespace();
    let ok = stamp.next()? == "size"
        && stamp.next()?.parse::<u64>().ok()? == size
        && stamp.next()? == "mtime"
        && stamp.next()? == mtime;
    let valid =
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (ok && valid).then(|| hex.to_string())
}

/// The sha256 of a file's bytes in lower-case hex.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let f = dir.join("abc.bin");
        std::fs::write(&f, b"abc").unwrap();
        // FIPS 180-2 example: sha256("abc")
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_cached(&f).unwrap(), abc);
        let cached = std::fs::read_to_string(sha256_cache_path(&f)).unwrap();
        assert!(cached.starts_with(&format!("{abc}  abc.bin\nsize 3 mtime ")), "{cached}");
        // a changed file is hashed again (size differs)
        std::fs::write(&f, b"abcd").unwrap();
        assert_eq!(
            sha256_cached(&f).unwrap(),
            "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"
        );
    }
}
