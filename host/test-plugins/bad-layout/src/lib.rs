//! A runtime plugin that claims the host's ABI version but whose root module has another
//! layout (its constructor takes a number, not a config string), as a plugin built from an
//! edited copy of the contract would. The loader must refuse it with abi_stable's verdict in one
//! line.

use abi_stable::library::RootModule;
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::RStr;
use abi_stable::{StableAbi, export_root_module};
use joulebench_abi::PluginInfo;

/// A root module that differs from `RuntimeMod` in its constructor's signature.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = EditedRuntimeModRef)))]
pub struct EditedRuntimeMod {
    /// Who the plugin is.
    pub plugin: PluginInfo,
    /// A constructor of the wrong type.
    #[sabi(last_prefix_field)]
    pub new: extern "C" fn(u64) -> u64,
}

impl RootModule for EditedRuntimeModRef {
    abi_stable::declare_root_module_statics! {EditedRuntimeModRef}
    const BASE_NAME: &'static str = "joulebench_runtime";
    const NAME: &'static str = "joulebench runtime plugin";
    const VERSION_STRINGS: VersionStrings =
        VersionStrings { version: RStr::from_str(joulebench_abi::ABI_VERSION) };
}

extern "C" fn new(x: u64) -> u64 {
    x
}

/// The exported root module.
#[export_root_module]
pub fn root() -> EditedRuntimeModRef {
    EditedRuntimeMod { plugin: joulebench_abi::plugin_info!(), new }.leak_into_prefix()
}
