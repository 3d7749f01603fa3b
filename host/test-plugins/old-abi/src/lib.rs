//! A runtime plugin built against an older ABI: its root module has the runtime kind's name but
//! the version 0.0.7, as if it had been compiled against joulebench-abi 0.0.7. The loader must
//! refuse it and print both versions.

use abi_stable::library::RootModule;
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::RStr;
use abi_stable::{StableAbi, declare_root_module_statics, export_root_module};

/// A stand-in for the old runtime root module.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = OldRuntimeModRef)))]
pub struct OldRuntimeMod {
    /// A field, so that the module is not empty.
    #[sabi(last_prefix_field)]
    pub name: RStr<'static>,
}

impl RootModule for OldRuntimeModRef {
    declare_root_module_statics! {OldRuntimeModRef}
    const BASE_NAME: &'static str = "joulebench_runtime";
    const NAME: &'static str = "joulebench runtime plugin";
    const VERSION_STRINGS: VersionStrings = VersionStrings { version: RStr::from_str("0.0.7") };
}

/// The exported root module.
#[export_root_module]
pub fn root() -> OldRuntimeModRef {
    OldRuntimeMod { name: RStr::from_str("old") }.leak_into_prefix()
}
