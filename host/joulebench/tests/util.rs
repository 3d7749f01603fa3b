//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use joulebench::loader::default_plugin_dir;
use joulebench::manifest::{Manifest, PluginEntry};

/// The folder the plugins' cdylibs are built into (`cargo xtask build-plugins` puts them there).
pub fn plugin_dir() -> PathBuf {
    default_plugin_dir()
}

/// The path of a built plugin library, failing with the command that builds it when it is absent.
pub fn built(lib: &str) -> PathBuf {
    let p = plugin_dir().join(format!("lib{lib}.so"));
    assert!(
        p.exists(),
        "{} is missing: run `cargo xtask build-plugins` (or `cargo xtask test`)",
        p.display()
    );
    p
}

/// A plugin entry for `library` of `kind` with a config table's TOML text.
pub fn entry(id: &str, kind: &str, library: &str, config: &str) -> PluginEntry {
    let text = format!(
        "[[plugin]]\nid = \"{id}\"\nkind = \"{kind}\"\nlibrary = \"{library}\"\n[plugin.config]\n{config}\n"
    );
    let m = Manifest::parse(Path::new("t.toml"), text).expect("entry parses");
    m.plugins.into_iter().next().expect("one plugin")
}
