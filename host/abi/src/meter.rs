//! Power meters: describe their rails and read them.
//!
//! A meter reads; the host times and integrates. The host's sampler calls [`Meter::read`] on its
//! own thread at the configured rate, stamps each reading with its clock, and computes energy
//! from instantaneous power (trapezoidal) or from cumulative energy counters (differences).

use abi_stable::std_types::{RBox, ROption, RResult, RStr, RString, RVec};
use abi_stable::{
    StableAbi, declare_root_module_statics, library::RootModule, package_version_strings,
    sabi_trait,
};

use crate::{AbiError, PluginInfo};

pub(crate) const ROOT_MODULE_NAME: &str = "joulebench meter plugin";

/// The root module of a meter plugin. Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = MeterModRef)))]
pub struct MeterMod {
    /// Who the plugin is.
    pub plugin: PluginInfo,
    /// Builds the meter from its configuration (the manifest's `config` table as TOML). A meter
    /// whose sensor is missing or unreadable refuses here, saying what to do.
    #[sabi(last_prefix_field)]
    pub new: extern "C" fn(config: RStr<'_>) -> RResult<MeterBox, AbiError>,
}

impl RootModule for MeterModRef {
    declare_root_module_statics! {MeterModRef}
    const BASE_NAME: &'static str = "joulebench_meter";
    const NAME: &'static str = ROOT_MODULE_NAME;
    const VERSION_STRINGS: abi_stable::sabi_types::VersionStrings = package_version_strings!();
}

/// A meter as the host holds it.
pub type MeterBox = Meter_TO<'static, RBox<()>>;

/// What a rail's values are. Added in ABI 0.1.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RailKind(pub u8);

impl RailKind {
    /// Instantaneous power in watts.
    pub const POWER: Self = Self(0);
    /// A cumulative energy counter in joules that never decreases (the plugin unwraps hardware
    /// wraparound).
    pub const ENERGY: Self = Self(1);
    /// A temperature in degrees Celsius (a thermal zone, a hwmon sensor, the SoC). A state rail:
    /// recorded beside power, never integrated. Added in ABI 0.1.1.
    pub const TEMPERATURE: Self = Self(2);
    /// A clock frequency in hertz (a CPU policy, the GPU). A state rail. Added in ABI 0.1.1.
    pub const FREQUENCY: Self = Self(3);
    /// Throttle flags: a bit set carried exactly in the value (an integer below 2^32), laid out
    /// as the Raspberry Pi firmware's `get_throttled` ([`THROTTLE_BITS`]): bits 0-15 are
    /// conditions active now (any set means the board is throttled, capped or short of power),
    /// bits 16-31 the same conditions seen since boot. Other boards map their conditions onto
    /// these bits. A state rail. Added in ABI 0.1.1.
    pub const FLAGS: Self = Self(4);

    /// The unit of the rail's values: `W`, `J`, `°C`, `Hz` or `flags`; `?` for a kind this host
    /// does not know, whose values it never integrates.
    pub fn unit(self) -> &'static str {
        match self {
            Self::POWER => "W",
            Self::ENERGY => "J",
            Self::TEMPERATURE => "°C",
            Self::FREQUENCY => "Hz",
            Self::FLAGS => "flags",
            _ => "?",
        }
    }

    /// Whether this is a power or energy kind this host integrates (`POWER` or `ENERGY`).
    pub fn is_known(self) -> bool {
        matches!(self, Self::POWER | Self::ENERGY)
    }

    /// Whether this is a state kind (`TEMPERATURE`, `FREQUENCY`, `FLAGS`): conditions recorded
    /// beside power on the same clock, never integrated. Hosts older than ABI 0.1.1 see an
    /// unknown kind and leave such a rail alone.
    pub fn is_state(self) -> bool {
        matches!(self, Self::TEMPERATURE | Self::FREQUENCY | Self::FLAGS)
    }
}

/// The bits of a [`RailKind::FLAGS`] value that are active now, with their meaning; bit `n + 16`
/// is the same condition "has occurred since boot". Added in ABI 0.1.1.
pub const THROTTLE_BITS: [(u32, &str); 4] = [
    (0, "under-voltage"),
    (1, "arm frequency capped"),
    (2, "throttled"),
    (3, "soft temperature limit"),
];

/// Where a rail sits in the meter's boundary. Added in ABI 0.1.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RailRole(pub u8);

impl RailRole {
    /// The meter's total for the whole boundary; energy figures use it. A meter has at most one.
    pub const TOTAL: Self = Self(0);
    /// A part of the total (CPU, GPU, SOC, DRAM, ...).
    pub const PART: Self = Self(1);
    /// A part that carries the GPU, named so in reports.
    pub const GPU: Self = Self(2);

    /// A short name: `total`, `part` or `gpu`; `unknown` for a code this host does not know.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TOTAL => "total",
            Self::PART => "part",
            Self::GPU => "gpu",
            _ => "unknown",
        }
    }
}

/// Whether values come from a sensor or a model. Added in ABI 0.1.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quality(pub u8);

impl Quality {
    /// Read from a sensor.
    pub const MEASURED: Self = Self(0);
    /// Computed from a model (utilisation x TDP, say); every figure built on it is marked so.
    pub const ESTIMATED: Self = Self(1);

    /// `measured` or `estimated`; `unknown` for a code this host does not know, which is never
    /// taken as measured.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MEASURED => "measured",
            Self::ESTIMATED => "estimated",
            _ => "unknown",
        }
    }
}

/// One rail of a meter. Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct RailInfo {
    /// The rail's name as the hardware labels it (`VDD_IN`, `package-0`, `VDD_CORE`, ...).
    pub name: RString,
    /// Power or energy counter.
    pub kind: RailKind,
    /// Total or part.
    pub role: RailRole,
    /// Measured or estimated.
    pub quality: Quality,
    /// What the rail feeds, where it is read from.
    pub description: RString,
}

/// What a meter measures. Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct MeterInfo {
    /// The meter's name.
    pub name: RString,
    /// The measurement boundary: what the total covers and what it cannot see (the supply's
    /// losses, peripherals, ...).
    pub boundary: RString,
    /// The rails, in the order of [`Reading::values`].
    pub rails: RVec<RailInfo>,
    /// How often the sensor itself updates, in seconds (0 when unknown); sampling faster than
    /// this sees repeated values.
    pub update_interval_s: f64,
}

/// One reading of every rail. Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct Reading {
    /// One value per rail in [`MeterInfo::rails`] order, in the rail's unit; `RNone` where the
    /// rail could not be read this time (the host counts it as a gap, never as zero).
    pub values: RVec<ROption<f64>>,
}

/// A power meter. Added in ABI 0.1.
#[sabi_trait]
pub trait Meter: Send {
    /// What this meter measures.
    fn info(&self) -> MeterInfo;

    /// Reads every rail once. An error means no rail could be read; the host counts it.
    #[sabi(last_prefix_field)]
    fn read(&mut self) -> RResult<Reading, AbiError>;
}
