//! Raspberry Pi 5 PMIC rails, read with `vcgencmd pmic_read_adc`.
//!
//! The Pi 5's PMIC reports, per output rail, a current channel (`<RAIL>_A current(i)=…A`) and a
//! voltage channel (`<RAIL>_V volt(j)=…V`); the two channels of one rail have different indices,
//! so they are paired by the rail's name, never by index or position. Power per rail is V x I;
//! the total is the sum over the rails that have both (12 on current firmware; `EXT5V` and `BATT`
//! are voltage-only). The reply may come newline- or NUL-separated, with or without the
//! 12-character left padding.
//!
//! The sum is an internal-rail proxy: it misses everything fed from the 5 V input directly (USB
//! devices, HATs, NVMe, the fan) and the PMIC's conversion losses. An optional linear calibration
//! (`[calibration] scale, offset_w`, e.g. jfikar's USB-C meter fit 1.1451 x + 0.5879) adds a
//! separate `wall_calibrated` rail, marked estimated; the measured rail sum stays the total.
//!
//! Each read runs the command (about 23 ms of firmware time), so do not sample faster than
//! 10 Hz. The command is configurable so that tests can point it at recorded replies.
#![warn(missing_docs)]
#![allow(non_local_definitions)]

use std::collections::HashMap;
use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use abi_stable::std_types::ROption;
use joulebench_abi::{AbiError, ErrorCode, MeterInfo, Quality, RailKind, RailRole, Reading};
use joulebench_meter_common::{MeterPlugin, Sensor, parse_config, rail};
use serde::Deserialize;

/// A linear fit from the PMIC rail sum to power measured at the wall.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// Slope: wall W per PMIC W.
    pub scale: f64,
    /// Intercept in W.
    pub offset_w: f64,
    /// Where the fit comes from (board, meter, date), shown in the rail's description.
    #[serde(default)]
    pub source: Option<String>,
}

/// The meter's configuration.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The command and its arguments (default `["vcgencmd", "pmic_read_adc"]`).
    pub command: Vec<String>,
    /// An optional calibration to wall power.
    pub calibration: Option<Calibration>,
    /// Seconds a command may take before it is killed and the read fails (default 2).
    pub timeout_s: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            command: vec!["vcgencmd".into(), "pmic_read_adc".into()],
            calibration: None,
            timeout_s: 2.0,
        }
    }
}

/// Current or voltage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// A `_A` / `current(i)` line, in A.
    Current,
    /// A `_V` / `volt(i)` line, in V.
    Voltage,
}

/// One parsed ADC channel.
#[derive(Clone, Debug, PartialEq)]
pub struct Channel {
    /// The rail: the channel's name without its `_A` / `_V` suffix.
    pub rail: String,
    /// Current or voltage.
    pub quantity: Quantity,
    /// The ADC channel index.
    pub index: u32,
    /// The value in A or V.
    pub value: f64,
}

fn parse_line(line: &str) -> Option<Channel> {
    let (name, rest) = line.split_once(' ')?;
    let (rail, suffix) = name.rsplit_once('_')?;
    let (kind, rest) = rest.trim().split_once('(')?;
    let (index, rest) = rest.split_once(")=")?;
    let (quantity, unit) = match (suffix, kind) {
        ("A", "current") => (Quantity::Current, 'A'),
        ("V", "volt") => (Quantity::Voltage, 'V'),
        _ => return None,
    };
    let value: f64 = rest.strip_suffix(unit)?.parse().ok().filter(|v: &f64| v.is_finite())?;
    Some(Channel { rail: rail.to_string(), quantity, index: index.parse().ok()?, value })
}

/// Parses a `pmic_read_adc` reply (newline- or NUL-separated, padded or not). `what` names the
/// source in errors (the command line). A firmware error reply (`error_msg`) is
/// [`ErrorCode::UNSUPPORTED`]; a line that is not a channel is [`ErrorCode::INVALID_DATA`] with
/// its line number.
pub fn parse_reply(text: &str, what: &str) -> Result<Vec<Channel>, AbiError> {
    if text.contains("error_msg") {
        return Err(AbiError::unsupported(format!(
            "`{what}` replied {:?}: this firmware has no PMIC ADC command (it needs a Raspberry \
             Pi 5 with current firmware: `sudo rpi-eeprom-update -a`, then reboot)",
            text.trim()
        )));
    }
    let mut out = Vec::new();
    for (n, line) in text.split(['\n', '\0']).enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let ch = parse_line(line).ok_or_else(|| {
            AbiError::data(format!("`{what}` output line {}: not a PMIC channel: {line:?}", n + 1))
        })?;
        out.push(ch);
    }
    if out.is_empty() {
        return Err(AbiError::data(format!("`{what}` printed no PMIC channel")));
    }
    Ok(out)
}

/// Pairs current and voltage by rail name: `(rail, amps, volts)` for every rail that has both,
/// in the order of the current lines.
pub fn pair(channels: &[Channel]) -> Vec<(String, f64, f64)> {
    let volts: HashMap<&str, f64> = channels
        .iter()
        .filter(|c| c.quantity == Quantity::Voltage)
        .map(|c| (c.rail.as_str(), c.value))
        .collect();
    channels
        .iter()
        .filter(|c| c.quantity == Quantity::Current)
        .filter_map(|c| volts.get(c.rail.as_str()).map(|v| (c.rail.clone(), c.value, *v)))
        .collect()
}

fn describe(rail: &str) -> &'static str {
    match rail {
        "VDD_CORE" => "SoC core: the CPU cores, the VideoCore GPU and the rest of the BCM2712",
        "DDR_VDD2" | "DDR_VDDQ" => "DRAM",
        "3V7_WL_SW" => "wireless module supply",
        "HDMI" => "HDMI 5 V",
        "0V8_AON" => "always-on domain",
        "3V3_DAC" | "3V3_ADC" => "analogue supply",
        _ => "PMIC output rail",
    }
}

/// The Pi 5 PMIC meter itself; the host holds it as [`Pi5Pmic`].
pub struct Pi5PmicSensor {
    info: MeterInfo,
    command: Vec<String>,
    timeout: Duration,
    rails: Vec<String>,
    calibration: Option<Calibration>,
}

/// The meter as the host holds it: [`Pi5PmicSensor`] behind [`MeterPlugin`]'s panic guards.
pub type Pi5Pmic = MeterPlugin<Pi5PmicSensor>;

/// Builds the meter from its TOML configuration; runs the command once to learn the rails.
pub fn new(config: &str) -> Result<Pi5Pmic, AbiError> {
    let config: Config = parse_config("pi5-pmic", config)?;
    Pi5PmicSensor::open(config).map(MeterPlugin::new)
}

const VIDEO_GROUP: &str = "/dev/vcio is root:video 0660: add the user to the video group \
    (`sudo usermod -aG video $USER`, then log in again) or run as root";

impl Pi5PmicSensor {
    /// Runs the command once and sets up the rails it reports.
    pub fn open(config: Config) -> Result<Pi5PmicSensor, AbiError> {
        if config.command.is_empty() {
            return Err(AbiError::config("pi5-pmic config: `command` is empty"));
        }
        if let Some(c) = &config.calibration
            && !(c.scale.is_finite() && c.offset_w.is_finite() && c.scale > 0.0)
        {
            return Err(AbiError::config(format!(
                "pi5-pmic config: calibration needs a positive finite `scale` and a finite \
                 `offset_w`, got scale = {}, offset_w = {}",
                c.scale, c.offset_w
            )));
        }
        if !(config.timeout_s.is_finite() && config.timeout_s > 0.0) {
            return Err(AbiError::config(format!(
                "pi5-pmic config: `timeout_s` must be a positive number of seconds, got {}",
                config.timeout_s
            )));
        }
        let timeout = Duration::from_secs_f64(config.timeout_s);
        let what = config.command.join(" ");
        let channels = run(&config.command, timeout)?;
        let pairs = pair(&channels);
        if pairs.is_empty() {
            return Err(AbiError::new(
                ErrorCode::NOT_FOUND,
                format!(
                    "`{what}` reported no rail with both a current and a voltage channel (a \
                     single-channel command such as `pmic_read_adc EXT5V_V`?)"
                ),
            ));
        }
        let mut rails = vec![rail(
            "rails_sum",
            RailKind::POWER,
            RailRole::TOTAL,
            Quality::MEASURED,
            format!(
                "sum of V x I over the {} PMIC rails with both channels; excludes voltage-only \
                 channels (EXT5V, BATT)",
                pairs.len()
            ),
        )];
        if let Some(c) = &config.calibration {
            rails.push(rail(
                "wall_calibrated",
                RailKind::POWER,
                RailRole::PART,
                Quality::ESTIMATED,
                format!(
                    "wall power estimated from rails_sum by the configured linear fit {} x + {} \
                     W{}; a model, not a measurement",
                    c.scale,
                    c.offset_w,
                    c.source.as_ref().map(|s| format!(" ({s})")).unwrap_or_default()
                ),
            ));
        }
        let index_of = |r: &str, q: Quantity| {
            channels.iter().find(|c| c.rail == r && c.quantity == q).map(|c| c.index).unwrap_or(0)
        };
        for (name, _, _) in &pairs {
            rails.push(rail(
                name,
                RailKind::POWER,
                RailRole::PART,
                Quality::MEASURED,
                format!(
                    "{}; {name}_A current({}) x {name}_V volt({}) from `{what}`",
                    describe(name),
                    index_of(name, Quantity::Current),
                    index_of(name, Quantity::Voltage)
                ),
            ));
        }
        Ok(Pi5PmicSensor {
            info: MeterInfo {
                name: "pi5-pmic".into(),
                boundary: "Raspberry Pi 5 PMIC output rails (SoC core, DRAM, IO, HDMI, \
                           wireless), summed: excludes everything fed from the 5 V input \
                           directly (USB devices, HATs, NVMe/PCIe, the fan, GPIO 5 V pins), the \
                           PMIC's conversion losses and the supply's losses; an internal-rail \
                           proxy, not wall power"
                    .into(),
                rails: rails.into(),
                update_interval_s: 0.0,
            },
            command: config.command,
            timeout,
            rails: pairs.into_iter().map(|(n, _, _)| n).collect(),
            calibration: config.calibration,
        })
    }
}

/// Runs `command` like [`Command::output`], but kills it after `timeout`, so that a hung
/// vcgencmd cannot stall the sampler (and the run's end) forever.
fn output(command: &[String], timeout: Duration) -> std::io::Result<Output> {
    let mut child = Command::new(&command[0])
        .args(&command[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    std::thread::scope(|s| {
        let stdout = s.spawn(move || {
            let mut buf = Vec::new();
            out.as_mut().map(|o| o.read_to_end(&mut buf));
            buf
        });
        let stderr = s.spawn(move || {
            let mut buf = Vec::new();
            err.as_mut().map(|e| e.read_to_end(&mut buf));
            buf
        });
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("did not answer within {} s", timeout.as_secs_f64()),
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        Ok(Output {
            status,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        })
    })
}

/// Runs the command and parses its reply.
fn run(command: &[String], timeout: Duration) -> Result<Vec<Channel>, AbiError> {
    let what = command.join(" ");
    let out = output(command, timeout).map_err(|e| {
        if e.kind() == std::io::ErrorKind::TimedOut {
            return AbiError::backend(format!("`{what}` {e}; killed"));
        }
        let code = match e.kind() {
            std::io::ErrorKind::NotFound => ErrorCode::NOT_FOUND,
            std::io::ErrorKind::PermissionDenied => ErrorCode::PERMISSION_DENIED,
            _ => ErrorCode::IO,
        };
        AbiError::new(
            code,
            format!(
                "cannot run `{what}`: {e} (the pi5-pmic meter needs a Raspberry Pi 5 with \
                 vcgencmd on PATH, from the raspi-utils package)"
            ),
        )
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let said = format!("{} {}", stdout.trim(), stderr.trim());
        let lower = said.to_ascii_lowercase();
        if lower.contains("/dev/vcio")
            || lower.contains("permission denied")
            || lower.contains("vchi")
        {
            return Err(AbiError::new(
                ErrorCode::PERMISSION_DENIED,
                format!("`{what}` failed ({}): {}; {VIDEO_GROUP}", out.status, said.trim()),
            ));
        }
        if said.contains("error_msg") {
            return parse_reply(&said, &what);
        }
        return Err(AbiError::backend(format!(
            "`{what}` failed ({}): {}",
            out.status,
            said.trim()
        )));
    }
    parse_reply(&stdout, &what)
}

impl Sensor for Pi5PmicSensor {
    fn info(&self) -> MeterInfo {
        self.info.clone()
    }

    fn read(&mut self) -> Result<Reading, AbiError> {
        let channels = run(&self.command, self.timeout)?;
        let found: HashMap<String, f64> =
            pair(&channels).into_iter().map(|(r, a, v)| (r, a * v)).collect();
        let per_rail: Vec<Option<f64>> = self.rails.iter().map(|r| found.get(r).copied()).collect();
        let total: Option<f64> = per_rail.iter().copied().sum();
        let mut values: Vec<ROption<f64>> = vec![total.into()];
        if let Some(c) = &self.calibration {
            values.push(total.map(|t| c.scale * t + c.offset_w).into());
        }
        values.extend(per_rail.into_iter().map(ROption::from));
        Ok(Reading { values: values.into() })
    }
}

#[allow(missing_docs)]
mod export {
    use super::new;
    joulebench_abi::export_meter_plugin!(new);
}
