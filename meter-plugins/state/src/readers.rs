//! The sources of state rails: where each one is found, how it is read, and the parsers of the
//! Raspberry Pi's `vcgencmd` replies.

use std::path::{Path, PathBuf};
use std::time::Instant;

use joulebench_abi::{AbiError, RailKind, THROTTLE_BITS};
use joulebench_meter_common::{entries_with_prefix, read_number, read_text, under_root};

use crate::command::Runner;

/// Temperatures below this are an offline sensor's placeholder (Orin's -256 °C), not a reading.
pub const OFFLINE_BELOW_C: f64 = -40.0;

/// Where the GPU's devfreq node sits, by L4T release: Nano (L4T 32), Orin (L4T 35), Orin
/// (L4T 36, under `bus@0` or directly under `platform`).
pub const GPU_DEVFREQ: [&str; 4] = [
    "/sys/devices/57000000.gpu/devfreq/57000000.gpu",
    "/sys/devices/17000000.ga10b/devfreq/17000000.ga10b",
    "/sys/devices/platform/bus@0/17000000.gpu/devfreq/17000000.gpu",
    "/sys/devices/platform/17000000.gpu/devfreq/17000000.gpu",
];

/// Names of `/sys/class/devfreq` nodes that are a Tegra GPU.
const GPU_NAMES: [&str; 4] = [".gpu", ".ga10b", ".gv11b", ".gp10b"];

/// One state rail's source.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A thermal zone's `temp` (m°C), named by its `type`.
    ThermalZone {
        /// The zone's type (`cpu-thermal`, `GPU-therm`, ...).
        name: String,
        /// Its `temp` file.
        temp: PathBuf,
    },
    /// A hwmon `temp*_input` (m°C).
    Hwmon {
        /// `<hwmon name>/<label or tempN>`.
        name: String,
        /// The input file.
        input: PathBuf,
    },
    /// A cpufreq policy's (or CPU's) `scaling_cur_freq` (kHz).
    CpuFreq {
        /// `policy0`, `cpu3`, ...
        name: String,
        /// The file.
        cur: PathBuf,
    },
    /// A devfreq node's `cur_freq` (Hz).
    Devfreq {
        /// The node's name (`57000000.gpu`, `17000000.ga10b`).
        name: String,
        /// The file.
        cur: PathBuf,
    },
    /// A `vcgencmd` query.
    Vcgencmd {
        /// Which one.
        query: Query,
        /// The command line.
        args: Vec<String>,
    },
}

/// The vcgencmd queries the Pi readers make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// `measure_temp`: `temp=51.6'C`.
    Temp,
    /// `measure_clock arm`: `frequency(0)=2400028928`.
    ArmClock,
    /// `get_throttled`: `throttled=0x50005`.
    Throttled,
}

impl Source {
    /// The rail's name.
    pub fn name(&self) -> String {
        match self {
            Source::ThermalZone { name, .. } => format!("temp:{name}"),
            Source::Hwmon { name, .. } => format!("temp:hwmon:{name}"),
            Source::CpuFreq { name, .. } => format!("clock:cpu:{name}"),
            Source::Devfreq { name, .. } => format!("clock:gpu:{name}"),
            Source::Vcgencmd { query: Query::Temp, .. } => "temp:soc(vcgencmd)".into(),
            Source::Vcgencmd { query: Query::ArmClock, .. } => "clock:arm(vcgencmd)".into(),
            Source::Vcgencmd { query: Query::Throttled, .. } => "throttled".into(),
        }
    }

    /// The rail's kind.
    pub fn kind(&self) -> RailKind {
        match self {
            Source::ThermalZone { .. }
            | Source::Hwmon { .. }
            | Source::Vcgencmd { query: Query::Temp, .. } => RailKind::TEMPERATURE,
            Source::Vcgencmd { query: Query::Throttled, .. } => RailKind::FLAGS,
            _ => RailKind::FREQUENCY,
        }
    }

    /// Where the value comes from, for the rail's description.
    pub fn description(&self) -> String {
        match self {
            Source::ThermalZone { temp, .. } => format!("{} (m°C)", temp.display()),
            Source::Hwmon { input, .. } => format!("{} (m°C)", input.display()),
            Source::CpuFreq { cur, .. } => format!("{} (kHz)", cur.display()),
            Source::Devfreq { cur, .. } => format!("{} (Hz)", cur.display()),
            Source::Vcgencmd { query: Query::Throttled, args } => format!(
                "`{}`: bits {}; bit n+16: the same since boot",
                args.join(" "),
                THROTTLE_BITS.map(|(b, n)| format!("{b} {n}")).join(", ")
            ),
            Source::Vcgencmd { args, .. } => format!("`{}`", args.join(" ")),
        }
    }

    /// Reads the value in the rail's unit (°C, Hz or the flag bits).
    pub fn read(&self, runner: &mut Runner, now: Instant) -> Result<f64, AbiError> {
        match self {
            Source::ThermalZone { temp: p, .. } | Source::Hwmon { input: p, .. } => {
                let c = read_number(p, "")? / 1000.0;
                if c < OFFLINE_BELOW_C {
                    return Err(AbiError::data(format!(
                        "{}: {c} °C: the sensor is offline",
                        p.display()
                    )));
                }
                Ok(c)
            }
            Source::CpuFreq { cur, .. } => Ok(read_number(cur, "")? * 1000.0),
            Source::Devfreq { cur, .. } => read_number(cur, ""),
            Source::Vcgencmd { query, args } => {
                let reply = runner.run(args, now)?;
                let what = args.join(" ");
                match query {
                    Query::Temp => parse_temp(&reply, &what),
                    Query::ArmClock => parse_clock(&reply, &what),
                    Query::Throttled => parse_throttled(&reply, &what).map(f64::from),
                }
            }
        }
    }
}

/// The Raspberry Pi's vcgencmd sources.
pub fn vcgencmd_sources() -> Vec<Source> {
    let cmd = |q: Query, a: &[&str]| Source::Vcgencmd {
        query: q,
        args: std::iter::once("vcgencmd").chain(a.iter().copied()).map(String::from).collect(),
    };
    vec![
        cmd(Query::Temp, &["measure_temp"]),
        cmd(Query::ArmClock, &["measure_clock", "arm"]),
        cmd(Query::Throttled, &["get_throttled"]),
    ]
}

fn value_after<'a>(reply: &'a str, key: &str, what: &str) -> Result<&'a str, AbiError> {
    let line = reply.trim().trim_end_matches('\0');
    if line.contains("error_msg") {
        return Err(AbiError::unsupported(format!("`{what}` replied {line:?}")));
    }
    line.strip_prefix(key)
        .ok_or_else(|| AbiError::data(format!("`{what}`: expected `{key}...`, found {line:?}")))
}

/// Parses `temp=51.6'C` to °C.
pub fn parse_temp(reply: &str, what: &str) -> Result<f64, AbiError> {
    let v = value_after(reply, "temp=", what)?;
    v.trim_end_matches("'C")
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| AbiError::data(format!("`{what}`: not a temperature: {:?}", reply.trim())))
}

/// Parses `frequency(0)=2400028928` to Hz.
pub fn parse_clock(reply: &str, what: &str) -> Result<f64, AbiError> {
    let v = value_after(reply, "frequency(", what)?;
    v.split_once(")=")
        .and_then(|(_, hz)| hz.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .ok_or_else(|| AbiError::data(format!("`{what}`: not a clock: {:?}", reply.trim())))
}

/// Parses `throttled=0x50005` to its bits.
pub fn parse_throttled(reply: &str, what: &str) -> Result<u32, AbiError> {
    let v = value_after(reply, "throttled=", what)?;
    u32::from_str_radix(v.trim().trim_start_matches("0x"), 16)
        .map_err(|_| AbiError::data(format!("`{what}`: not a bit mask: {:?}", reply.trim())))
}

/// The conditions a `get_throttled` value names: `(now, since boot)`.
pub fn decode_throttled(bits: u32) -> (Vec<&'static str>, Vec<&'static str>) {
    let pick = |shift: u32| {
        THROTTLE_BITS
            .iter()
            .filter(|(b, _)| bits & (1 << (b + shift)) != 0)
            .map(|(_, n)| *n)
            .collect()
    };
    (pick(0), pick(16))
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Every sysfs source under `root`, in a stable order: thermal zones, hwmon temperatures, CPU
/// clocks, GPU clocks. Names in `ignore` (zone types, hwmon names) are left out; a zone whose
/// `type` or `temp` cannot be read is not a source.
pub fn discover(root: &Path, ignore: &[String]) -> Vec<Source> {
    let mut out = Vec::new();
    let virt = under_root(root, "/sys/devices/virtual/thermal");
    let zones_dir = if virt.is_dir() { virt } else { under_root(root, "/sys/class/thermal") };
    for zone in entries_with_prefix(&zones_dir, "thermal_zone") {
        let Ok(name) = read_text(&zone.join("type"), "") else { continue };
        let temp = zone.join("temp");
        if ignore.contains(&name) || !temp.exists() {
            continue;
        }
        out.push(Source::ThermalZone { name: unique(&out, name), temp });
    }
    for hwmon in entries_with_prefix(&under_root(root, "/sys/class/hwmon"), "hwmon") {
        let chip = read_text(&hwmon.join("name"), "").unwrap_or_else(|_| file_name(&hwmon));
        if ignore.contains(&chip) {
            continue;
        }
        for input in entries_with_prefix(&hwmon, "temp") {
            let f = file_name(&input);
            let Some(n) = f.strip_prefix("temp").and_then(|r| r.strip_suffix("_input")) else {
                continue;
            };
            let label = read_text(&hwmon.join(format!("temp{n}_label")), "")
                .unwrap_or_else(|_| format!("temp{n}"));
            out.push(Source::Hwmon { name: unique(&out, format!("{chip}/{label}")), input });
        }
    }
    let cpufreq = under_root(root, "/sys/devices/system/cpu/cpufreq");
    let policies = entries_with_prefix(&cpufreq, "policy");
    if policies.is_empty() {
        for cpu in entries_with_prefix(&under_root(root, "/sys/devices/system/cpu"), "cpu") {
            let cur = cpu.join("cpufreq/scaling_cur_freq");
            let name = file_name(&cpu);
            if name[3..].chars().all(|c| c.is_ascii_digit()) && cur.exists() {
                out.push(Source::CpuFreq { name, cur });
            }
        }
    } else {
        for p in policies {
            let cur = p.join("scaling_cur_freq");
            if cur.exists() {
                out.push(Source::CpuFreq { name: file_name(&p), cur });
            }
        }
    }
    let mut gpus: Vec<PathBuf> = GPU_DEVFREQ.iter().map(|p| under_root(root, p)).collect();
    gpus.extend(
        entries_with_prefix(&under_root(root, "/sys/class/devfreq"), "")
            .into_iter()
            .filter(|p| GPU_NAMES.iter().any(|g| file_name(p).ends_with(g))),
    );
    for node in gpus {
        let cur = node.join("cur_freq");
        let name = file_name(&node);
        let seen = out.iter().any(|s| matches!(s, Source::Devfreq { name: n, .. } if *n == name));
        if cur.exists() && !seen {
            out.push(Source::Devfreq { name, cur });
        }
    }
    out
}

/// `name`, or `name#2`, `name#3`, ... when a source already has it.
fn unique(sources: &[Source], name: String) -> String {
    let taken = |n: &str| {
        sources.iter().any(|s| match s {
            Source::ThermalZone { name, .. } | Source::Hwmon { name, .. } => name == n,
            _ => false,
        })
    };
    if !taken(&name) {
        return name;
    }
    (2..).map(|i| format!("{name}#{i}")).find(|n| !taken(n)).unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vcgencmd_replies_parse() {
        assert_eq!(parse_temp("temp=51.6'C\n", "t").unwrap(), 51.6);
        assert_eq!(parse_clock("frequency(0)=2400028928\n", "c").unwrap(), 2400028928.0);
        assert_eq!(parse_throttled("throttled=0x50005\n", "g").unwrap(), 0x50005);
        assert_eq!(parse_throttled("throttled=0x0\n", "g").unwrap(), 0);
        let e = parse_temp("error=1 error_msg=\"Command not registered\"", "t").unwrap_err();
        assert_eq!(e.code, joulebench_abi::ErrorCode::UNSUPPORTED);
        let e = parse_throttled("throttled=zz\n", "vcgencmd get_throttled").unwrap_err();
        assert!(e.message.contains("vcgencmd get_throttled"), "{}", e.message);
        assert!(parse_clock("frequency(0)=\n", "c").is_err());
    }

    #[test]
    fn every_throttle_bit_decodes_now_and_since_boot() {
        let (now, since) = decode_throttled(0x5_0005);
        assert_eq!(now, ["under-voltage", "throttled"]);
        assert_eq!(since, ["under-voltage", "throttled"]);
        let (now, since) = decode_throttled(0xF_000F);
        assert_eq!(
            now,
            ["under-voltage", "arm frequency capped", "throttled", "soft temperature limit"]
        );
        assert_eq!(now, since);
        let (now, since) = decode_throttled(0x8_0000);
        assert!(now.is_empty());
        assert_eq!(since, ["soft temperature limit"]);
        assert_eq!(decode_throttled(0), (vec![], vec![]));
    }
}
