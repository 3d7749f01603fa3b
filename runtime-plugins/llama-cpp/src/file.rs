//! Checks on a model file before llama.cpp sees it, and its sha256, cached beside it.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};

use joulebench_abi::AbiError;

/// What the header check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GgufHeader {
    /// The GGUF version.
    pub version: u32,
    /// Number of tensors.
    pub tensor_count: u64,
    /// Number of metadata pairs.
    pub metadata_count: u64,
    /// The file's size in bytes.
    pub file_size: u64,
}

/// Checks that `path` is a readable GGUF file (magic, version, plausible counts), so that a wrong
/// file gets a clear error naming it instead of whatever llama.cpp makes of it.
pub fn check_gguf(path: &Path) -> Result<GgufHeader, AbiError> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| AbiError::io(&shown, &e))?;
    if meta.is_dir() {
        return Err(AbiError::data(format!("{shown}: is a folder, not a GGUF model file")));
    }
    let mut file = File::open(path).map_err(|e| AbiError::io(&shown, &e))?;
    let mut head = [0u8; 24];
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(AbiError::io(&shown, &e)),
        }
    }
    if got < 4 || &head[..4] != b"GGUF" {
        let start: String = head[..got.min(4)]
            .iter()
            .map(|b| if b.is_ascii_graphic() { char::from(*b) } else { '.' })
            .collect();
        return Err(AbiError::data(format!(
            "{shown}: not a GGUF model file (it starts with `{start}` where a GGUF file has the magic `GGUF`)"
        )));
    }
    if got < head.len() {
        return Err(AbiError::data(format!(
            "{shown}: truncated GGUF file ({got} bytes, shorter than the 24-byte header)"
        )));
    }
    let u32_at = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    let u64_at = |i: usize| u64::from(u32_at(i)) | (u64::from(u32_at(i + 4)) << 32);
    let version = u32_at(4);
    if !(2..=3).contains(&version) {
        return Err(AbiError::data(format!(
            "{shown}: unsupported GGUF version {version} (llama.cpp reads versions 2 and 3)"
        )));
    }
    let (tensor_count, metadata_count) = (u64_at(8), u64_at(16));
    // Every tensor info and metadata pair takes at least 8 bytes of header.
    if tensor_count == 0 || (tensor_count + metadata_count).saturating_mul(8) > meta.len() {
        return Err(AbiError::data(format!(
            "{shown}: corrupt or truncated GGUF header ({tensor_count} tensors and {metadata_count} metadata pairs in a file of {} bytes)",
            meta.len()
        )));
    }
    Ok(GgufHeader { version, tensor_count, metadata_count, file_size: meta.len() })
}

/// The sidecar file holding `path`'s cached sha256.
pub fn sha256_cache_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

/// Cache entries for files whose folder cannot be written: (path, size, mtime, sha256).
static MEMORY_CACHE: Mutex<Vec<(PathBuf, u64, String, String)>> = Mutex::new(Vec::new());

fn stamp(path: &Path) -> Result<(u64, String), AbiError> {
    let meta = std::fs::metadata(path).map_err(|e| AbiError::io(path.display(), &e))?;
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
pub fn sha256_cached(path: &Path) -> Result<String, AbiError> {
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
pub fn sha256_file(path: &Path) -> Result<String, AbiError> {
    let mut file = File::open(path).map_err(|e| AbiError::io(path.display(), &e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(AbiError::io(path.display(), &e)),
        }
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir()
            .join(format!("joulebench-llama-file-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn sha256_of_known_bytes() {
        let dir = temp_dir("sha");
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
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn header_checks_name_the_file() {
        let dir = temp_dir("hdr");
        let f = dir.join("model.gguf");
        std::fs::write(&f, b"PK\x03\x04 not a gguf at all, a zip").unwrap();
        let e = check_gguf(&f).unwrap_err();
        assert!(
            e.message.contains("model.gguf") && e.message.contains("not a GGUF"),
            "{}",
            e.message
        );
        std::fs::write(&f, b"GGUF\x03\x00").unwrap();
        let e = check_gguf(&f).unwrap_err();
        assert!(e.message.contains("truncated"), "{}", e.message);
        let missing = dir.join("missing.gguf");
        let e = check_gguf(&missing).unwrap_err();
        assert_eq!(e.code, joulebench_abi::ErrorCode::NOT_FOUND);
        assert!(e.message.contains("missing.gguf"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
