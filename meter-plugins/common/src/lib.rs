//! Helpers shared by joulebench's meter plugins.
//!
//! Every sysfs/procfs meter does the same few things: parse a TOML config strictly, find files
//! under a configurable root (so that tests can point it at a fixture tree), read integers from
//! them, and turn a failed read into an error that names the file and, when the kernel refused
//! access, says what the user can do about it. Keeping that here makes every plugin's messages
//! alike. [`testing`] holds the tools the plugins' tests use to build and mutate fixture trees.
//!
//! [`plugin`] holds the ABI's `Meter` for any [`Sensor`]: a plugin implements the plain trait and
//! wraps its value in [`MeterPlugin`], which answers the host with every call, `info()` included,
//! behind a panic guard.
#![deny(missing_docs)]

use std::io;
use std::path::{Path, PathBuf};

use joulebench_abi::abi_stable::std_types::ROption;
use joulebench_abi::{AbiError, ErrorCode, Quality, RailInfo, RailKind, RailRole, Reading};
use serde::de::DeserializeOwned;

pub mod plugin;
pub mod testing;

pub use plugin::{MeterPlugin, Sensor};

/// Parses a plugin's TOML configuration; an error names the plugin and carries toml's own
/// message (line, column and key).
pub fn parse_config<T: DeserializeOwned>(plugin: &str, config: &str) -> Result<T, AbiError> {
    toml::from_str(config)
        .map_err(|e| AbiError::config(format!("{plugin} config: {}", e.to_string().trim_end())))
}

/// `abs` (an absolute path such as `/sys/class/powercap`) placed under `root`.
pub fn under_root(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

/// Whether an I/O error is the `ENODATA` a disabled INA3221 hwmon channel returns.
pub fn is_no_data(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::ENODATA)
}

/// The error for a failed read of `path`; when the kernel refused access, `remedy` (what to run
/// to get access) is appended.
pub fn read_error(path: &Path, err: &io::Error, remedy: &str) -> AbiError {
    let e = AbiError::io(path.display(), err);
    if e.code == ErrorCode::PERMISSION_DENIED && !remedy.is_empty() {
        AbiError::new(e.code, format!("{}; {remedy}", e.message))
    } else {
        e
    }
}

/// The text of `path` with surrounding whitespace trimmed.
pub fn read_text(path: &Path, remedy: &str) -> Result<String, AbiError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| read_error(path, &e, remedy))
}

/// Parses the first whitespace-separated token of `text` (read from `path`) as a number, so that
/// `"5048\n"` and `"32760 ma\n"` both parse.
pub fn parse_number(path: &Path, text: &str) -> Result<f64, AbiError> {
    text.split_whitespace()
        .next()
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            AbiError::data(format!("{}: expected a number, found {text:?}", path.display()))
        })
}

/// Reads `path` and parses it with [`parse_number`].
pub fn read_number(path: &Path, remedy: &str) -> Result<f64, AbiError> {
    let text = std::fs::read_to_string(path).map_err(|e| read_error(path, &e, remedy))?;
    parse_number(path, &text)
}

/// Parses `text` (read from `path`) as an unsigned integer, surrounding whitespace allowed.
pub fn parse_u64(path: &Path, text: &str) -> Result<u64, AbiError> {
    text.trim().parse::<u64>().map_err(|_| {
        AbiError::data(format!("{}: expected an unsigned integer, found {text:?}", path.display()))
    })
}

/// Reads `path` as an unsigned integer (energy counters need all 64 bits).
pub fn read_u64(path: &Path, remedy: &str) -> Result<u64, AbiError> {
    let text = std::fs::read_to_string(path).map_err(|e| read_error(path, &e, remedy))?;
    parse_u64(path, &text)
}

/// The entries of `dir` whose names start with `prefix`, sorted by name; an unreadable or
/// missing `dir` gives none.
pub fn entries_with_prefix(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path())
        .collect();
    v.sort_by_key(|a| natural_key(a));
    v
}

/// A sort key that orders `hwmon2` before `hwmon10`: runs of digits compare as numbers.
fn natural_key(p: &Path) -> Vec<(String, u64)> {
    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut key = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for c in name.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if !digits.is_empty() {
                key.push((std::mem::take(&mut text), digits.parse().unwrap_or(u64::MAX)));
                digits.clear();
            }
            text.push(c);
        }
    }
    key.push((text, digits.parse().unwrap_or(0)));
    key
}

/// A [`RailInfo`].
pub fn rail(
    name: &str,
    kind: RailKind,
    role: RailRole,
    quality: Quality,
    description: impl Into<String>,
) -> RailInfo {
    RailInfo { name: name.into(), kind, role, quality, description: description.into().into() }
}

/// When no rail has the total role, puts a computed `sum` rail first and returns the names of
/// the rails it adds up (for the meter's boundary text); `None` when the board has a total rail.
/// A meter that adds the rail leads each reading with the sum ([`reading`]).
pub fn insert_sum_rail(rails: &mut Vec<RailInfo>) -> Option<Vec<String>> {
    if rails.iter().any(|r| r.role == RailRole::TOTAL) {
        return None;
    }
    let names: Vec<String> = rails.iter().map(|r| r.name.to_string()).collect();
    let description =
        format!("sum of {} computed by the meter (no total rail on this board)", names.join(" + "));
    rails.insert(0, rail("sum", RailKind::POWER, RailRole::TOTAL, Quality::MEASURED, description));
    Some(names)
}

/// Reads every rail with `read`: `None` where a read failed, so that one vanished rail is a gap
/// in that rail, not a lost reading. An error (the first failure, after `context`) only when no
/// rail could be read at all.
pub fn read_each<T>(
    items: impl IntoIterator<Item = T>,
    mut read: impl FnMut(T) -> Result<f64, AbiError>,
    context: &str,
) -> Result<Vec<Option<f64>>, AbiError> {
    let mut first_error = None;
    let values: Vec<Option<f64>> = items
        .into_iter()
        .map(|item| match read(item) {
            Ok(v) => Some(v),
            Err(e) => {
                first_error.get_or_insert(e);
                None
            }
        })
        .collect();
    match first_error {
        Some(e) if values.iter().all(Option::is_none) => Err(e.context(context)),
        _ => Ok(values),
    }
}

/// A [`Reading`] of `values`, led by their sum when the meter added a `sum` rail
/// ([`insert_sum_rail`]); the sum is missing whenever one of its parts is.
pub fn reading(values: Vec<Option<f64>>, with_sum: bool) -> Reading {
    let mut out: Vec<ROption<f64>> = Vec::with_capacity(values.len() + 1);
    if with_sum {
        out.push(values.iter().copied().sum::<Option<f64>>().into());
    }
    out.extend(values.into_iter().map(ROption::from));
    Reading { values: out.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(name: &str) -> RailInfo {
        rail(name, RailKind::POWER, RailRole::PART, Quality::MEASURED, "")
    }

    #[test]
    fn a_sum_rail_leads_only_where_no_total_rail_exists() {
        let mut rails = vec![part("CPU"), part("GPU")];
        assert_eq!(insert_sum_rail(&mut rails), Some(vec!["CPU".to_string(), "GPU".to_string()]));
        assert_eq!(rails[0].name.as_str(), "sum");
        assert_eq!(rails[0].role, RailRole::TOTAL);
        assert_eq!(
            rails[0].description.as_str(),
            "sum of CPU + GPU computed by the meter (no total rail on this board)"
        );
        let before = rails.len();
        assert_eq!(insert_sum_rail(&mut rails), None);
        assert_eq!(rails.len(), before);
    }

    #[test]
    fn failed_rails_are_gaps_until_every_rail_fails() {
        let read = |v: Option<f64>| v.ok_or_else(|| AbiError::data("gone"));
        let values = read_each([Some(1.5), None, Some(2.0)], read, "m").unwrap();
        assert_eq!(values, [Some(1.5), None, Some(2.0)]);
        let err = read_each([None, None], read, "m: no rail could be read").unwrap_err();
        assert_eq!(err.message.as_str(), "m: no rail could be read: gone");
        let r = reading(values, true);
        assert_eq!(r.values.len(), 4);
        assert_eq!(r.values[0], ROption::RNone, "a sum with a missing part is missing");
        let r = reading(vec![Some(1.0), Some(2.5)], true);
        assert_eq!(r.values[0], ROption::RSome(3.5));
        assert_eq!(reading(vec![Some(1.0)], false).values.len(), 1);
    }

    #[test]
    fn numbers_parse_with_or_without_a_unit_suffix() {
        let p = Path::new("/x");
        assert_eq!(parse_number(p, "5048\n").unwrap(), 5048.0);
        assert_eq!(parse_number(p, "32760 ma\n").unwrap(), 32760.0);
        let e = parse_number(p, "abc\n").unwrap_err();
        assert_eq!(e.code, ErrorCode::INVALID_DATA);
        assert_eq!(e.message.as_str(), "/x: expected a number, found \"abc\\n\"");
    }

    #[test]
    fn config_errors_name_the_plugin_and_the_key() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct C {
            root: Option<String>,
        }
        let e = parse_config::<C>("rapl", "rot = \"/\"").unwrap_err();
        assert_eq!(e.code, ErrorCode::INVALID_CONFIG);
        assert!(e.message.starts_with("rapl config: "), "{}", e.message);
        assert!(e.message.contains("rot"), "{}", e.message);
        assert!(e.message.contains("line 1"), "{}", e.message);
    }

    #[test]
    fn entries_sort_numerically() {
        let dir = std::env::temp_dir().join(format!("jb-common-{}", std::process::id()));
        for n in ["hwmon10", "hwmon2", "other"] {
            std::fs::create_dir_all(dir.join(n)).unwrap();
        }
        let names: Vec<String> = entries_with_prefix(&dir, "hwmon")
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["hwmon2", "hwmon10"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
