//! What a loaded plugin offers, as `joulebench plugins` prints it.

use std::fmt::Write;

use crate::loader::{Loaded, Plugin};

/// A multi-line description of a loaded plugin: id, kind, library, versions and offer.
pub fn describe(loaded: &Loaded) -> String {
    let mut out = String::new();
    let kind = match &loaded.plugin {
        Plugin::Runtime(_) => "runtime",
        Plugin::Meter(_) => "meter",
        Plugin::Dataset(_) => "dataset",
        Plugin::Abandoned(_) => "abandoned",
    };
    let _ = writeln!(out, "{} ({kind})", loaded.id);
    let _ = writeln!(out, "  library: {}", loaded.path.display());
    let _ =
        writeln!(out, "  plugin:  {} {} (ABI {})", loaded.name, loaded.version, loaded.abi_version);
    if !loaded.description.is_empty() {
        let _ = writeln!(out, "  about:   {}", loaded.description);
    }
    match &loaded.plugin {
        Plugin::Runtime(r) => {
            let info = r.info();
            let backends: Vec<&str> = info.backends.iter().map(|b| b.as_str()).collect();
            let _ = writeln!(
                out,
                "  offers:  {} {}; backends: {} (selected: {})",
                info.name,
                info.engine_version,
                backends.join(", "),
                info.backend
            );
        }
        Plugin::Meter(m) => {
            let info = m.info();
            let _ = writeln!(
                out,
                "  offers:  meter {:?}; boundary: {}",
                info.name.as_str(),
                info.boundary
            );
            for rail in info.rails.iter() {
                let _ = writeln!(
                    out,
                    "    rail {:<16} {:<2} {:<5} {:<9} {}",
                    rail.name.as_str(),
                    rail.kind.unit(),
                    rail.role.as_str(),
                    rail.quality.as_str(),
                    rail.description
                );
            }
        }
        Plugin::Dataset(d) => {
            let info = d.info();
            let _ = writeln!(
                out,
                "  offers:  dataset {} ({} split, {} tasks, metric {}); source {}; sha256 {}",
                info.name, info.split, info.len, info.metric, info.source, info.checksum
            );
        }
        Plugin::Abandoned(why) => {
            let _ = writeln!(out, "  abandoned: {why}");
        }
    }
    out
}
