//! Finds, checks and loads plugin libraries, then constructs plugins from their configs.
//!
//! Each library file is opened once and never unloaded (abi_stable cannot unload). Loading goes
//! through `lib_header_from_path` + `init_root_module` rather than `RootModule::load_from_*`,
//! which caches one library per root-module type and would hand every later plugin of a kind the
//! first library loaded. Before the layout check the loader reads the root module's name and
//! version from the library header, so that a plugin of another kind or another ABI version gets
//! a one-line message instead of abi_stable's layout report (which goes to the debug log).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use abi_stable::library::{LibHeader, LibraryError, RootModule, lib_header_from_path};
use abi_stable::std_types::RStr;
use joulebench_abi::{
    ABI_VERSION, AbiError, DatasetBox, DatasetModRef, ErrorCode, MeterBox, MeterModRef, PluginInfo,
    PluginKind, RuntimeBox, RuntimeModRef,
};

use crate::deadline::Deadlines;
use crate::manifest::{Manifest, PluginEntry};

/// Why a plugin was refused. Its `Display` is the one-line message users see.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadError {
    /// The plugin's id.
    pub id: String,
    /// The library path.
    pub path: PathBuf,
    /// What went wrong.
    pub reason: Reason,
}

/// The refusals the loader knows.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// No file at the path.
    Missing,
    /// The file is not a shared library, or has no joulebench root module.
    NotAPlugin(String),
    /// The library holds a plugin of another kind.
    WrongKind {
        /// What the manifest asked for.
        expected: PluginKind,
        /// What the library is.
        found: PluginKind,
    },
    /// The library was built against another ABI version.
    AbiVersion {
        /// The plugin's ABI version.
        plugin: String,
        /// The host's ABI version.
        host: String,
    },
    /// The layouts differ although the versions match (the full report is in the debug log).
    Layout(String),
    /// The constructor returned an error.
    Constructor(AbiError),
    /// The constructor panicked (caught by the plugin's guard).
    Panicked(AbiError),
    /// The constructor did not return within its deadline (see [`crate::deadline`]).
    Deadline(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "plugin {:?} ({}): ", self.id, self.path.display())?;
        match &self.reason {
            Reason::Missing => write!(f, "file not found (run `cargo xtask build-plugins`?)"),
            Reason::NotAPlugin(why) => write!(f, "not a joulebench plugin: {why}"),
            Reason::WrongKind { expected, found } => {
                write!(f, "is a {found} plugin, but the manifest declares it a {expected} plugin")
            }
            Reason::AbiVersion { plugin, host } => write!(
                f,
                "ABI version mismatch: the plugin was built against joulebench-abi {plugin}, this host uses {host} (rebuild the plugin)"
            ),
            Reason::Layout(last) => write!(
                f,
                "ABI layout mismatch: {last} (rebuild the plugin; the full report is in the debug log, RUST_LOG=debug)"
            ),
            Reason::Constructor(e) => {
                write!(f, "constructor returned an error ({}): {}", e.code.name(), e.message)
            }
            Reason::Panicked(e) => write!(f, "constructor panicked: {}", e.message),
            Reason::Deadline(e) => write!(f, "constructor: {e}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// A library's root module, of the kind it declares.
#[derive(Clone, Copy)]
enum RootModuleRef {
    Runtime(RuntimeModRef),
    Meter(MeterModRef),
    Dataset(DatasetModRef),
}

impl RootModuleRef {
    fn info(&self) -> PluginInfo {
        match self {
            RootModuleRef::Runtime(m) => m.plugin(),
            RootModuleRef::Meter(m) => m.plugin(),
            RootModuleRef::Dataset(m) => m.plugin(),
        }
    }
}

/// A constructed plugin.
pub enum Plugin {
    /// A runtime.
    Runtime(RuntimeBox),
    /// A meter.
    Meter(MeterBox),
    /// A dataset.
    Dataset(DatasetBox),
    /// A plugin whose call missed its deadline: the instance stays with the abandoned call, and
    /// this says why (see [`crate::deadline`]).
    Abandoned(String),
}

/// A constructed plugin with what the host knows about it.
pub struct Loaded {
    /// The manifest id.
    pub id: String,
    /// The resolved library path.
    pub path: PathBuf,
    /// The plugin's name, version and description.
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// The plugin's description.
    pub description: String,
    /// The ABI version it was built against.
    pub abi_version: String,
    /// sha256 of the library file as loaded: changes with every rebuild that changes the code.
    pub build: String,
    /// The plugin.
    pub plugin: Plugin,
    /// The deadlines of its calls.
    pub deadlines: Deadlines,
}

impl Loaded {
    /// The library's identity, as results record it.
    pub fn identity(&self) -> joulebench_measure::LibraryIdentity {
        joulebench_measure::LibraryIdentity {
            id: self.id.clone(),
            name: self.name.clone(),
            version: self.version.clone(),
            abi_version: self.abi_version.clone(),
            library: self.path.display().to_string(),
            build: self.build.clone(),
        }
    }
}

/// Libraries opened so far: root module name, header and the sha256 of the file as it was
/// loaded (a library is never unloaded, so a file rebuilt since is not what runs).
static LIBRARIES: Mutex<Option<HashMap<PathBuf, Library>>> = Mutex::new(None);

type Library = (String, &'static LibHeader, String);

/// The folder plugin libraries named without a path are looked for in: `$JOULEBENCH_PLUGIN_DIR`,
/// else the folder of the running binary (cargo puts the `joulebench` binary and the plugins'
/// cdylibs side by side; a test binary in `deps/` looks one folder up).
pub fn default_plugin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("JOULEBENCH_PLUGIN_DIR") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    } else {
        dir
    }
}

/// The folder a manifest's bare library names resolve in: its `plugin_dir` setting (relative to
/// the manifest), else [`default_plugin_dir`].
pub fn manifest_plugin_dir(manifest: &Manifest) -> PathBuf {
    match &manifest.settings.plugin_dir {
        Some(d) => manifest.base_dir().join(d),
        None => default_plugin_dir(),
    }
}

/// Where `library` is: a value with a path separator or a library suffix is a path (relative
/// ones against `base`); a bare name is a `[lib]` name in `plugin_dir`.
pub fn resolve_library(library: &str, base: &Path, plugin_dir: &Path) -> PathBuf {
    let is_path = library.contains('/')
        || library.ends_with(std::env::consts::DLL_SUFFIX)
        || library.contains(std::path::MAIN_SEPARATOR);
    if is_path {
        let p = Path::new(library);
        if p.is_absolute() { p.to_path_buf() } else { base.join(p) }
    } else {
        plugin_dir.join(format!(
            "{}{library}{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        ))
    }
}

fn header(id: &str, path: &Path) -> Result<Library, LoadError> {
    let err = |reason| LoadError { id: id.to_string(), path: path.to_path_buf(), reason };
    if !path.exists() {
        return Err(err(Reason::Missing));
    }
    let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mut cache = LIBRARIES.lock().unwrap_or_else(|p| p.into_inner());
    let cache = cache.get_or_insert_with(HashMap::new);
    if let Some(found) = cache.get(&key) {
        return Ok(found.clone());
    }
    let header = lib_header_from_path(&key).map_err(|e| match e {
        LibraryError::OpenError { err: open, .. } => {
            err(Reason::NotAPlugin(format!("cannot be opened as a shared library: {open}")))
        }
        LibraryError::GetSymbolError { .. } => {
            err(Reason::NotAPlugin("it exports no abi_stable root module".into()))
        }
        other => err(Reason::NotAPlugin(first_line(&other.to_string()))),
    })?;
    let name = header.root_mod_consts().name().as_str().to_string();
    let build = joulebench_gguf::sha256_file(&key)
        .map_err(|e| err(Reason::NotAPlugin(format!("cannot be read: {e}"))))?;
    let found = (name, header, build);
    cache.insert(key, found.clone());
    Ok(found)
}

fn first_line(s: &str) -> String {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string()
}

/// The end of abi_stable's layout report (`Error:mismatched type Expected: A Found: B`) in one
/// line.
fn layout_verdict(report: &str) -> String {
    let lines: Vec<&str> = report.lines().collect();
    let start = lines.iter().rposition(|l| l.trim_start().starts_with("Error:")).unwrap_or(0);
    let words: Vec<&str> = lines[start..].iter().flat_map(|l| l.split_whitespace()).collect();
    words
        .join(" ")
        .trim_start_matches("Error:")
        .replace("Expected:", "expected")
        .replace("Found:", "found")
}

/// The major.minor of a version string.
fn major_minor(v: &str) -> &str {
    match v.match_indices('.').nth(1) {
        Some((i, _)) => &v[..i],
        None => v,
    }
}

fn root_module(
    id: &str,
    path: &Path,
    expected: PluginKind,
) -> Result<(RootModuleRef, String, String), LoadError> {
    let err = |reason| LoadError { id: id.to_string(), path: path.to_path_buf(), reason };
    let (name, header, build) = header(id, path)?;
    let found = PluginKind::from_root_module_name(&name).ok_or_else(|| {
        err(Reason::NotAPlugin(format!("its root module is {name:?}, not a joulebench plugin")))
    })?;
    if found != expected {
        return Err(err(Reason::WrongKind { expected, found }));
    }
    let version = header.version_strings().version.as_str().to_string();
    if major_minor(&version) != major_minor(ABI_VERSION) {
        return Err(err(Reason::AbiVersion { plugin: version, host: ABI_VERSION.to_string() }));
    }
    fn init<M: RootModule>(header: &LibHeader) -> Result<M, Reason> {
        header.init_root_module::<M>().map_err(|e| match e {
            LibraryError::AbiInstability(report) => {
                let report = report.to_string();
                tracing::debug!("abi_stable layout report:\n{report}");
                Reason::Layout(layout_verdict(&report))
            }
            other => Reason::NotAPlugin(first_line(&other.to_string())),
        })
    }
    let module = match expected {
        PluginKind::Runtime => init::<RuntimeModRef>(header).map(RootModuleRef::Runtime),
        PluginKind::Meter => init::<MeterModRef>(header).map(RootModuleRef::Meter),
        PluginKind::Dataset => init::<DatasetModRef>(header).map(RootModuleRef::Dataset),
    }
    .map_err(err)?;
    Ok((module, version, build))
}

/// Loads the library of `entry` (resolved against `base` and `plugin_dir`) and constructs the
/// plugin from its config.
pub fn load(entry: &PluginEntry, base: &Path, plugin_dir: &Path) -> Result<Loaded, LoadError> {
    let path = resolve_library(&entry.library, base, plugin_dir);
    let (module, abi_version, build) = root_module(&entry.id, &path, entry.kind)?;
    let config = entry.config.clone();
    let construct = move |_: &mut ()| {
        let config = RStr::from_str(&config);
        match module {
            RootModuleRef::Runtime(m) => m.new()(config).into_result().map(Plugin::Runtime),
            RootModuleRef::Meter(m) => m.new()(config).into_result().map(Plugin::Meter),
            RootModuleRef::Dataset(m) => m.new()(config).into_result().map(Plugin::Dataset),
        }
    };
    let limit = entry.deadlines.get("new");
    let constructed = crate::deadline::call(&entry.id, "new", limit, (), construct)
        .map_err(|e| LoadError {
            id: entry.id.clone(),
            path: path.clone(),
            reason: Reason::Deadline(format!("{e:#}")),
        })?
        .1;
    let plugin = constructed.map_err(|e| LoadError {
        id: entry.id.clone(),
        path: path.clone(),
        reason: if e.code == ErrorCode::PANICKED {
            Reason::Panicked(e)
        } else {
            Reason::Constructor(e)
        },
    })?;
    let info = module.info();
    Ok(Loaded {
        id: entry.id.clone(),
        path,
        name: info.name.as_str().to_string(),
        version: info.version.as_str().to_string(),
        description: info.description.as_str().to_string(),
        abi_version,
        build,
        plugin,
        deadlines: entry.deadlines.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_resolve_in_the_plugin_dir_and_paths_against_the_manifest() {
        let base = Path::new("/m");
        let dir = Path::new("/plugins");
        assert_eq!(
            resolve_library("joulebench_meter_rapl", base, dir),
            Path::new("/plugins/libjoulebench_meter_rapl.so")
        );
        assert_eq!(resolve_library("lib/x.so", base, dir), Path::new("/m/lib/x.so"));
        assert_eq!(resolve_library("/abs/y.so", base, dir), Path::new("/abs/y.so"));
    }

    #[test]
    fn versions_compare_by_major_and_minor() {
        assert_eq!(major_minor("0.1.3"), "0.1");
        assert_eq!(major_minor("2.0.0"), "2.0");
        assert_eq!(major_minor("7"), "7");
    }
}
