//! What an experiment's results depend on beyond its manifest entry: the plugin builds, the
//! model file and the dataset files. Two segments of one experiment must agree on all of it, or
//! the experiment would mix two systems.

use serde::{Deserialize, Serialize};

/// A plugin library as built: its name and version, and a hash of the library file, which
/// changes with every rebuild that changes the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibraryIdentity {
    /// The manifest id.
    pub id: String,
    /// The plugin's crate name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The ABI version it was built against.
    pub abi_version: String,
    /// The library file.
    pub library: String,
    /// sha256 of the library file, lower-case hex.
    #[serde(default)]
    pub build: String,
}

impl LibraryIdentity {
    fn short(&self) -> String {
        format!(
            "{} {} (build {})",
            self.name,
            self.version,
            &self.build[..self.build.len().min(12)]
        )
    }
}

/// Everything outside the manifest that decides an experiment's results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The runtime plugin.
    pub runtime: LibraryIdentity,
    /// The dataset plugin.
    pub dataset: LibraryIdentity,
    /// The meter plugin.
    pub meter: LibraryIdentity,
    /// sha256 of the model file.
    pub model_sha256: String,
    /// The dataset plugin's checksum of the files it read.
    pub dataset_sha256: String,
}

impl Identity {
    /// What differs from `before` to `self`, one line each, naming the part and both values.
    pub fn changes_since(&self, before: &Identity) -> Vec<String> {
        let mut out = Vec::new();
        for (what, old, new) in [
            ("runtime plugin", &before.runtime, &self.runtime),
            ("dataset plugin", &before.dataset, &self.dataset),
            ("meter plugin", &before.meter, &self.meter),
        ] {
            if (&old.name, &old.version, &old.build) != (&new.name, &new.version, &new.build) {
                out.push(format!("the {what} changed: {} -> {}", old.short(), new.short()));
            }
        }
        if before.model_sha256 != self.model_sha256 {
            out.push(format!(
                "the model file changed: sha256 {} -> {}",
                short_hash(&before.model_sha256),
                short_hash(&self.model_sha256)
            ));
        }
        if before.dataset_sha256 != self.dataset_sha256 {
            out.push(format!(
                "the dataset files changed: sha256 {} -> {}",
                short_hash(&before.dataset_sha256),
                short_hash(&self.dataset_sha256)
            ));
        }
        out
    }
}

fn short_hash(h: &str) -> &str {
    &h[..h.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lib(name: &str, version: &str, build: &str) -> LibraryIdentity {
        LibraryIdentity {
            id: "x".into(),
            name: name.into(),
            version: version.into(),
            abi_version: "0.1.0".into(),
            library: format!("/p/lib{name}.so"),
            build: build.into(),
        }
    }

    fn identity() -> Identity {
        Identity {
            runtime: lib("rt", "0.1.0", "aaaa"),
            dataset: lib("ds", "0.1.0", "bbbb"),
            meter: lib("me", "0.1.0", "cccc"),
            model_sha256: "1111".into(),
            dataset_sha256: "2222".into(),
        }
    }

    #[test]
    fn each_changed_part_is_named() {
        let a = identity();
        assert!(a.changes_since(&a).is_empty());
        let mut b = a.clone();
        b.runtime.version = "0.2.0".into();
        b.model_sha256 = "3333".into();
        let changes = b.changes_since(&a);
        assert_eq!(
            changes,
            [
                "the runtime plugin changed: rt 0.1.0 (build aaaa) -> rt 0.2.0 (build aaaa)",
                "the model file changed: sha256 1111 -> 3333",
            ]
        );
        // Moving a library elsewhere is no change of what runs.
        let mut c = a.clone();
        c.meter.library = "/elsewhere/libme.so".into();
        assert!(c.changes_since(&a).is_empty());
    }
}
