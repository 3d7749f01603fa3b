//! What every root module says about its plugin, and the macros that export a root module.

use abi_stable::StableAbi;
use abi_stable::std_types::RStr;

/// The kind of a plugin library, as the host's manifest and error messages name it. Added in ABI
/// 0.1.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PluginKind {
    /// An inference runtime ([`crate::RuntimeMod`]).
    Runtime,
    /// A power meter ([`crate::MeterMod`]).
    Meter,
    /// A benchmark dataset ([`crate::DatasetMod`]).
    Dataset,
}

impl PluginKind {
    /// Every kind, in the order the manifest documents them.
    pub const ALL: [PluginKind; 3] = [PluginKind::Runtime, PluginKind::Meter, PluginKind::Dataset];

    /// The kind's name in manifests: `runtime`, `meter` or `dataset`.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Runtime => "runtime",
            PluginKind::Meter => "meter",
            PluginKind::Dataset => "dataset",
        }
    }

    /// The name the kind's root module is exported under (abi_stable's `RootModule::NAME`); the
    /// host reads it from a library's header to tell the kinds apart before checking layouts.
    pub fn root_module_name(self) -> &'static str {
        match self {
            PluginKind::Runtime => crate::runtime::ROOT_MODULE_NAME,
            PluginKind::Meter => crate::meter::ROOT_MODULE_NAME,
            PluginKind::Dataset => crate::dataset::ROOT_MODULE_NAME,
        }
    }

    /// The kind whose root module is exported under `name`, if any.
    pub fn from_root_module_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.root_module_name() == name)
    }
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a plugin is: the first field of every root module. Added in ABI 0.1.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct PluginInfo {
    /// The plugin's crate name.
    pub name: RStr<'static>,
    /// The plugin's own version (its crate version), shown by `joulebench plugins` and stored with
    /// every result.
    pub version: RStr<'static>,
    /// One line on what the plugin does.
    pub description: RStr<'static>,
}

/// The [`PluginInfo`] of the crate this macro is expanded in, from its Cargo metadata.
#[macro_export]
macro_rules! plugin_info {
    () => {
        $crate::PluginInfo {
            name: $crate::abi_stable::std_types::RStr::from_str(env!("CARGO_PKG_NAME")),
            version: $crate::abi_stable::std_types::RStr::from_str(env!("CARGO_PKG_VERSION")),
            description: $crate::abi_stable::std_types::RStr::from_str(env!(
                "CARGO_PKG_DESCRIPTION"
            )),
        }
    };
}

/// Exports a runtime plugin's root module. `$new` is a `fn(&str) -> Result<T, AbiError>` where
/// `T: Runtime`; it receives the plugin's configuration as TOML and runs inside [`crate::guard`].
#[macro_export]
macro_rules! export_runtime_plugin {
    ($new:path) => {
        /// The root module of this runtime plugin.
        #[$crate::abi_stable::export_root_module]
        pub fn joulebench_root_module() -> $crate::RuntimeModRef {
            use $crate::abi_stable::prefix_type::PrefixTypeTrait;
            extern "C" fn joulebench_new(
                config: $crate::abi_stable::std_types::RStr<'_>,
            ) -> $crate::abi_stable::std_types::RResult<$crate::RuntimeBox, $crate::AbiError> {
                $crate::guard(|| {
                    $new(config.as_str()).map(|plugin| {
                        $crate::Runtime_TO::from_value(
                            plugin,
                            $crate::abi_stable::sabi_trait::TD_Opaque,
                        )
                    })
                })
            }
            $crate::RuntimeMod { plugin: $crate::plugin_info!(), new: joulebench_new }
                .leak_into_prefix()
        }
    };
}

/// Exports a meter plugin's root module. `$new` is a `fn(&str) -> Result<T, AbiError>` where
/// `T: Meter`; it receives the plugin's configuration as TOML and runs inside [`crate::guard`].
#[macro_export]
macro_rules! export_meter_plugin {
    ($new:path) => {
        /// The root module of this meter plugin.
        #[$crate::abi_stable::export_root_module]
        pub fn joulebench_root_module() -> $crate::MeterModRef {
            use $crate::abi_stable::prefix_type::PrefixTypeTrait;
            extern "C" fn joulebench_new(
                config: $crate::abi_stable::std_types::RStr<'_>,
            ) -> $crate::abi_stable::std_types::RResult<$crate::MeterBox, $crate::AbiError> {
                $crate::guard(|| {
                    $new(config.as_str()).map(|plugin| {
                        $crate::Meter_TO::from_value(
                            plugin,
                            $crate::abi_stable::sabi_trait::TD_Opaque,
                        )
                    })
                })
            }
            $crate::MeterMod { plugin: $crate::plugin_info!(), new: joulebench_new }
                .leak_into_prefix()
        }
    };
}

/// Exports a dataset plugin's root module. `$new` is a `fn(&str) -> Result<T, AbiError>` where
/// `T: Dataset`; it receives the plugin's configuration as TOML and runs inside [`crate::guard`].
#[macro_export]
macro_rules! export_dataset_plugin {
    ($new:path) => {
        /// The root module of this dataset plugin.
        #[$crate::abi_stable::export_root_module]
        pub fn joulebench_root_module() -> $crate::DatasetModRef {
            use $crate::abi_stable::prefix_type::PrefixTypeTrait;
            extern "C" fn joulebench_new(
                config: $crate::abi_stable::std_types::RStr<'_>,
            ) -> $crate::abi_stable::std_types::RResult<$crate::DatasetBox, $crate::AbiError> {
                $crate::guard(|| {
                    $new(config.as_str()).map(|plugin| {
                        $crate::Dataset_TO::from_value(
                            plugin,
                            $crate::abi_stable::sabi_trait::TD_Opaque,
                        )
                    })
                })
            }
            $crate::DatasetMod { plugin: $crate::plugin_info!(), new: joulebench_new }
                .leak_into_prefix()
        }
    };
}
