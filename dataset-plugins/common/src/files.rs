//! Finding and reading data files, and the checksum every plugin reports.

use std::path::{Path, PathBuf};

use joulebench_abi::AbiError;
use sha2::{Digest, Sha256};

/// The environment variable that names the folder holding the data sets.
pub const DATA_ENV: &str = "JOULEBENCH_DATA";

/// The folder `cargo xtask fetch-data` fills by default: `$XDG_CACHE_HOME/joulebench/data`, else
/// `~/.cache/joulebench/data`.
pub fn fetched_data_dir() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join("joulebench/data"))
}

/// Where a configured data `path` points: itself when absolute, else under the config's
/// `data_dir` when given, else under `$JOULEBENCH_DATA`, else under [`fetched_data_dir`] when
/// that folder exists.
pub fn resolve(path: &str, data_dir: Option<&str>) -> Result<PathBuf, AbiError> {
    let p = Path::new(path);
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    if let Some(dir) = data_dir {
        return Ok(Path::new(dir).join(p));
    }
    if let Some(dir) = std::env::var_os(DATA_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join(p));
    }
    match fetched_data_dir().filter(|d| d.is_dir()) {
        Some(dir) => Ok(dir.join(p)),
        None => Err(AbiError::config(format!(
            "data path {path:?} is relative, and neither `data_dir` in the config, nor the \
             environment variable {DATA_ENV}, nor the folder `cargo xtask fetch-data` fills ({}) \
             says where the data sets are",
            fetched_data_dir().map_or_else(|| "no home folder".into(), |d| d.display().to_string())
        ))),
    }
}

/// The bytes of `path`, or an error naming it.
pub fn read(path: &Path) -> Result<Vec<u8>, AbiError> {
    std::fs::read(path).map_err(|e| AbiError::io(path.display(), &e))
}

/// `bytes` as UTF-8, or an error naming `path` and the line of the first invalid byte.
pub fn utf8<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, AbiError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
        AbiError::data(format!("{}:{line}: the file is not valid utf-8", path.display()))
    })
}

/// The lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The checksum of the files a plugin read, given as (path relative to the data folder, sha256):
/// one file's own sha256, or, for several, the sha256 of their `sha256sum` listing
/// (`<sha256>  <path>\n` per file, sorted by path bytes), which
/// `(cd DIR && LC_ALL=C ls PATHS | xargs sha256sum) | sha256sum` reproduces.
pub fn checksum(files: &[(String, String)]) -> String {
    if let [(_, sum)] = files {
        return sum.clone();
    }
    let mut sorted: Vec<&(String, String)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let listing: String = sorted.iter().map(|(path, sum)| format!("{sum}  {path}\n")).collect();
    sha256_hex(listing.as_bytes())
}

/// The data folder for tests: `$JOULEBENCH_DATA`, else `../shared/datasets` beside the
/// workspace. Panics with a clear message when neither exists (tests must not skip silently).
pub fn test_data_root() -> PathBuf {
    let root = match std::env::var_os(DATA_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/datasets")),
    };
    assert!(
        root.is_dir(),
        "the real data sets are not at {} (set {DATA_ENV}, or run `cargo xtask fetch-data`)",
        root.display()
    );
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn checksum_of_several_files_is_the_sha256_of_their_listing() {
        // printf '%s  b\n%s  a\n' ... | sort -k2 | sha256sum, worked by hand through the listing.
        let files = vec![("b".to_string(), "22".to_string()), ("a".to_string(), "11".to_string())];
        assert_eq!(checksum(&files), sha256_hex(b"11  a\n22  b\n"));
        assert_eq!(checksum(&files[..1]), "22");
    }

    #[test]
    fn relative_paths_need_a_data_folder() {
        assert_eq!(resolve("/abs/x", None).unwrap(), PathBuf::from("/abs/x"));
        assert_eq!(resolve("x/y", Some("/d")).unwrap(), PathBuf::from("/d/x/y"));
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let e = utf8(Path::new("f.txt"), b"ok\nok\n\xff").unwrap_err();
        assert_eq!(e.message.as_str(), "f.txt:3: the file is not valid utf-8");
    }
}
