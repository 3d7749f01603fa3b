//! The manifest (`plugins.toml`): any text must parse and cross-check into a manifest or give an
//! error with a position, never panic or hang.
#![no_main]

use std::path::Path;

use joulebench_manifest::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("fuzz/plugins.toml");
    if let Ok(m) = Manifest::parse(path, text.to_string()) {
        let _ = m.results_path();
        for e in &m.experiments {
            assert!(m.plugin(&e.runtime).is_some() && m.model(&e.model).is_some());
        }
    }
});
