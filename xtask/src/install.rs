//! `cargo xtask install [--prefix DIR]`: a release build of the host and every plugin, copied
//! into `DIR/lib/joulebench/` (default `DIR` = `~/.local`), with `DIR/bin/joulebench` a link to
//! the binary there. The host finds its plugins beside its own (resolved) executable, so the
//! installed `joulebench` runs any manifest from any folder.

use std::path::PathBuf;

use crate::{DynError, build_plugins, project_root};

pub fn run(args: &[String]) -> Result<(), DynError> {
    let mut prefix = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--prefix" => prefix = Some(PathBuf::from(it.next().ok_or("--prefix needs a folder")?)),
            other => return Err(format!("install: unknown argument {other:?}").into()),
        }
    }
    let prefix = match prefix {
        Some(p) => p,
        None => PathBuf::from(std::env::var_os("HOME").ok_or("no HOME: pass --prefix DIR")?)
            .join(".local"),
    };
    build_plugins(true, &[])?;
    let built = project_root().join("target/release");
    let lib = prefix.join("lib/joulebench");
    let bin = prefix.join("bin");
    for dir in [&lib, &bin] {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut copied = 0;
    for entry in std::fs::read_dir(&built)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let plugin = name.starts_with("libjoulebench_")
            && !name.starts_with("libjoulebench_test_")
            && name.ends_with(std::env::consts::DLL_SUFFIX);
        if plugin || name == "joulebench" {
            let to = lib.join(&name);
            // A running joulebench may hold the old file: replace it rather than write into it.
            let _ = std::fs::remove_file(&to);
            std::fs::copy(entry.path(), &to).map_err(|e| {
                format!("cannot copy {} to {}: {e}", entry.path().display(), to.display())
            })?;
            copied += 1;
        }
    }
    let link = bin.join("joulebench");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(lib.join("joulebench"), &link)
        .map_err(|e| format!("cannot link {}: {e}", link.display()))?;
    eprintln!("installed joulebench and {} plugins in {}", copied - 1, lib.display());
    eprintln!(
        "run it as {} (add {} to PATH to run it as `joulebench`)",
        link.display(),
        bin.display()
    );
    Ok(())
}
