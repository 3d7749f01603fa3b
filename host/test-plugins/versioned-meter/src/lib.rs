//! A meter for the host's experiment-identity tests: 5 W, measured, on one total rail. Its
//! plugin name is fixed and its version is the version of the crate it is built as, so the two
//! builds (`joulebench-test-versioned-meter` 1.0.0 and `-v2` 2.0.0) are one plugin before and
//! after a rebuild with a bumped version.

use abi_stable::export_root_module;
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RStr, RVec};
use joulebench_abi::{
    AbiError, Meter, Meter_TO, MeterBox, MeterInfo, MeterMod, MeterModRef, PluginInfo, Quality,
    RailInfo, RailKind, RailRole, Reading, guard,
};

/// The constant meter.
pub struct Constant;

impl Meter for Constant {
    fn info(&self) -> MeterInfo {
        MeterInfo {
            name: "versioned test meter".into(),
            boundary: "nothing: a constant for tests".into(),
            rails: vec![RailInfo {
                name: "total".into(),
                kind: RailKind::POWER,
                role: RailRole::TOTAL,
                quality: Quality::MEASURED,
                description: "5 W, always".into(),
            }]
            .into(),
            update_interval_s: 0.0,
        }
    }

    fn read(&mut self) -> RResult<Reading, AbiError> {
        RResult::ROk(Reading { values: RVec::from(vec![abi_stable::std_types::RSome(5.0)]) })
    }
}

extern "C" fn new(_config: RStr<'_>) -> RResult<MeterBox, AbiError> {
    guard(|| Ok(Meter_TO::from_value(Constant, TD_Opaque)))
}

/// The root module: the plugin name stays the same in both builds, the version does not.
#[export_root_module]
pub fn joulebench_root_module() -> MeterModRef {
    let plugin = PluginInfo {
        name: RStr::from_str("joulebench-test-versioned-meter"),
        version: RStr::from_str(env!("CARGO_PKG_VERSION")),
        description: RStr::from_str(env!("CARGO_PKG_DESCRIPTION")),
    };
    MeterMod { plugin, new }.leak_into_prefix()
}
