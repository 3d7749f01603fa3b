//! The power settings an experiment runs under, read at its start.
//!
//! | setting | where from |
//! |---|---|
//! | `power mode` | `nvpmodel -q` (Jetson): `NAME (id N)` |
//! | `jetson_clocks` | `jetson_clocks --show` (Jetson): `on` when every online CPU's and the GPU's minimum clock equals its maximum, else `off` |
//! | `cpufreq <policy>` | `/sys/devices/system/cpu/cpufreq/policy*/` (or `cpu*/cpufreq/`): governor and limits in kHz |
//! | `cpufreq boost` | `/sys/devices/system/cpu/cpufreq/boost`, where the kernel has it |
//! | `gpu <node>` | the GPU's devfreq node: governor and limits in Hz |
//!
//! A tool that is not on the `PATH` is not a setting (the board has none); one that fails is
//! recorded with its error, never silently left out.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Board;
use crate::command::{CommandError, run};

/// One recorded setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    /// What it is (`power mode`, `cpufreq policy0`, ...).
    pub name: String,
    /// Its value in words.
    pub value: String,
}

/// The GPU devfreq nodes, by L4T release (the same places the state meter reads).
pub const GPU_DEVFREQ: [&str; 4] = [
    "/sys/devices/57000000.gpu/devfreq/57000000.gpu",
    "/sys/devices/17000000.ga10b/devfreq/17000000.ga10b",
    "/sys/devices/platform/bus@0/17000000.gpu/devfreq/17000000.gpu",
    "/sys/devices/platform/17000000.gpu/devfreq/17000000.gpu",
];

/// `nvpmodel -q`: the mode's name and id. L4T 32 prints `NV Fan Mode:...` first; every release
/// prints `NV Power Mode: NAME` and the id on the next line.
pub fn parse_nvpmodel_query(text: &str) -> Option<(String, Option<u32>)> {
    let mut lines = text.lines().map(str::trim).skip_while(|l| !l.starts_with("NV Power Mode:"));
    let name = lines.next()?.trim_start_matches("NV Power Mode:").trim().to_string();
    let id = lines.find(|l| !l.is_empty()).and_then(|l| l.parse().ok());
    (!name.is_empty()).then_some((name, id))
}

/// What `jetson_clocks --show` says about the clocks' limits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClocksShow {
    /// Per online CPU: governor, minimum and maximum (kHz).
    pub cpus: Vec<(String, u64, u64)>,
    /// The GPU's minimum and maximum (Hz).
    pub gpu: Option<(u64, u64)>,
    /// The power mode it names, if any.
    pub power_mode: Option<String>,
}

impl ClocksShow {
    /// Whether the clocks are pinned at their maximum (`jetson_clocks` applied).
    pub fn pinned(&self) -> bool {
        !self.cpus.is_empty()
            && self.cpus.iter().all(|(_, min, max)| min == max)
            && self.gpu.is_none_or(|(min, max)| min == max)
    }
}

fn field(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace().find_map(|w| w.strip_prefix(key)).and_then(|v| v.parse().ok())
}

/// Parses `jetson_clocks --show` (L4T 32 through 36 print the same fields).
pub fn parse_jetson_clocks_show(text: &str) -> ClocksShow {
    let mut out = ClocksShow::default();
    for line in text.lines().map(str::trim) {
        if line.starts_with("cpu") && line.contains("MinFreq=") {
            if line.contains("Online=0") {
                continue;
            }
            let governor = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("Governor=").or_else(|| w.strip_prefix("Gonvernor=")))
                .unwrap_or("")
                .to_string();
            if let (Some(min), Some(max)) = (field(line, "MinFreq="), field(line, "MaxFreq=")) {
                out.cpus.push((governor, min, max));
            }
        } else if line.starts_with("GPU ") {
            out.gpu = field(line, "MinFreq=").zip(field(line, "MaxFreq="));
        } else if let Some(mode) = line.strip_prefix("NV Power Mode:") {
            out.power_mode = Some(mode.trim().to_string());
        }
    }
    out
}

fn text(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

fn entries(dir: &Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut v: Vec<_> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.strip_prefix(prefix)
                    .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
            })
        })
        .collect();
    v.sort_by_key(|p| {
        let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        n[prefix.len()..].parse::<u64>().unwrap_or(u64::MAX)
    });
    v
}

/// The cpufreq policies (or, on kernels without policy folders, the CPUs): name and folder.
pub fn cpufreq_dirs(board: &Board) -> Vec<(String, std::path::PathBuf)> {
    let name =
        |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let policies = entries(&board.file("/sys/devices/system/cpu/cpufreq"), "policy");
    if !policies.is_empty() {
        return policies.into_iter().map(|p| (name(&p), p)).collect();
    }
    entries(&board.file("/sys/devices/system/cpu"), "cpu")
        .into_iter()
        .map(|p| (name(&p), p.join("cpufreq")))
        .filter(|(_, p)| p.is_dir())
        .collect()
}

/// Every setting of the board, in the table's order.
pub fn read_settings(board: &Board) -> Vec<Setting> {
    let mut out = Vec::new();
    let mut push = |name: String, value: String| out.push(Setting { name, value });
    match run(&["nvpmodel", "-q"], board.path.as_deref()) {
        Ok(reply) => match parse_nvpmodel_query(&reply) {
            Some((name, Some(id))) => push("power mode".into(), format!("{name} (id {id})")),
            Some((name, None)) => push("power mode".into(), name),
            None => push(
                "power mode".into(),
                format!("unreadable: `nvpmodel -q` replied {:?}", reply.trim()),
            ),
        },
        Err(CommandError::NotFound(_)) => {}
        Err(e) => push("power mode".into(), format!("unreadable: {e}")),
    }
    match run(&["jetson_clocks", "--show"], board.path.as_deref()) {
        Ok(reply) => {
            let show = parse_jetson_clocks_show(&reply);
            let state = if show.cpus.is_empty() {
                format!("unreadable: `jetson_clocks --show` listed no CPU: {:?}", reply.trim())
            } else if show.pinned() {
                "on (clocks pinned at the mode's maximum)".into()
            } else {
                "off".into()
            };
            push("jetson_clocks".into(), state);
        }
        Err(CommandError::NotFound(_)) => {}
        Err(e) => push("jetson_clocks".into(), format!("unreadable: {e} (it needs root: sudo)")),
    }
    for (name, dir) in cpufreq_dirs(board) {
        let Some(governor) = text(&dir.join("scaling_governor")) else { continue };
        let limits =
            match (text(&dir.join("scaling_min_freq")), text(&dir.join("scaling_max_freq"))) {
                (Some(min), Some(max)) => format!(", {min}-{max} kHz"),
                _ => String::new(),
            };
        let hardware = text(&dir.join("cpuinfo_max_freq"))
            .map(|m| format!(" (hardware max {m} kHz)"))
            .unwrap_or_default();
        push(format!("cpufreq {name}"), format!("{governor}{limits}{hardware}"));
    }
    if let Some(boost) = text(&board.file("/sys/devices/system/cpu/cpufreq/boost")) {
        push("cpufreq boost".into(), boost);
    }
    for node in GPU_DEVFREQ {
        let dir = board.file(node);
        let Some(governor) = text(&dir.join("governor")) else { continue };
        let limits = match (text(&dir.join("min_freq")), text(&dir.join("max_freq"))) {
            (Some(min), Some(max)) => format!(", {min}-{max} Hz"),
            _ => String::new(),
        };
        let name = node.rsplit('/').next().unwrap_or(node);
        push(format!("gpu {name}"), format!("{governor}{limits}"));
    }
    out
}

/// The governors in `settings`, each once, in order (`schedutil`, or `ondemand, performance`).
pub fn governors(settings: &[Setting]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for s in settings.iter().filter(|s| s.name.starts_with("cpufreq ") && s.name != "cpufreq boost")
    {
        let g = s.value.split(',').next().unwrap_or("").trim();
        if !g.is_empty() && !seen.contains(&g) {
            seen.push(g);
        }
    }
    seen.join(", ")
}

/// The power mode in `settings`, if one was read.
pub fn power_mode(settings: &[Setting]) -> Option<&str> {
    settings.iter().find(|s| s.name == "power mode").map(|s| s.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvpmodel_replies_of_each_release_parse() {
        assert_eq!(
            parse_nvpmodel_query("NV Fan Mode:quiet\nNV Power Mode: MAXN\n0\n"),
            Some(("MAXN".into(), Some(0)))
        );
        assert_eq!(parse_nvpmodel_query("NV Power Mode: 15W\n0\n"), Some(("15W".into(), Some(0))));
        assert_eq!(
            parse_nvpmodel_query("NV Power Mode: MAXN_SUPER\n2\n"),
            Some(("MAXN_SUPER".into(), Some(2)))
        );
        assert_eq!(parse_nvpmodel_query("garbage\n"), None);
    }

    #[test]
    fn jetson_clocks_show_tells_pinned_from_dvfs() {
        let dvfs = "SOC family:tegra234  Machine:NVIDIA Jetson Orin Nano Developer Kit\n\
            Online CPUs: 0-5\n\
            cpu0: Online=1 Governor=schedutil MinFreq=729600 MaxFreq=1510400 CurrentFreq=1510400 IdleStates: WFI=1 cpuidle=1\n\
            cpu5: Online=1 Governor=schedutil MinFreq=729600 MaxFreq=1510400 CurrentFreq=729600 IdleStates: WFI=1 cpuidle=1\n\
            GPU MinFreq=306000000 MaxFreq=624750000 CurrentFreq=306000000\n\
            EMC MinFreq=204000000 MaxFreq=2133000000 CurrentFreq=2133000000 FreqOverride=0\n\
            NV Power Mode: 15W\n";
        let s = parse_jetson_clocks_show(dvfs);
        assert_eq!(s.cpus.len(), 2);
        assert_eq!(s.gpu, Some((306000000, 624750000)));
        assert_eq!(s.power_mode.as_deref(), Some("15W"));
        assert!(!s.pinned());
        let pinned = dvfs
            .replace("MinFreq=729600", "MinFreq=1510400")
            .replace("MinFreq=306000000", "MinFreq=624750000");
        assert!(parse_jetson_clocks_show(&pinned).pinned());
        // The old script's spelling, and an offline CPU that does not count.
        let old = "cpu0: Gonvernor=interactive MinFreq=1734000 MaxFreq=1734000 CurrentFreq=1734000\n\
            cpu1: Online=0 Governor=schedutil MinFreq=102000 MaxFreq=1479000 CurrentFreq=102000\n\
            GPU MinFreq=998400000 MaxFreq=998400000 CurrentFreq=998400000\n";
        let s = parse_jetson_clocks_show(old);
        assert_eq!(s.cpus, [("interactive".to_string(), 1734000, 1734000)]);
        assert!(s.pinned());
    }
}
