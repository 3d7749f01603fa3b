//! What the machine is, for every result's provenance: host, board, CPU, memory, OS, kernel,
//! governors, temperatures and the L4T release (`docs/metrics.md#provenance`; throttling flags are
//! not read yet). Everything is read best-effort from procfs and sysfs; what cannot be read is
//! left out, never guessed.

use std::path::Path;

pub use joulebench_measure::HostInfo;

fn read(root: &Path, path: &str) -> Option<String> {
    std::fs::read_to_string(root.join(path.trim_start_matches('/')))
        .ok()
        .map(|s| s.trim_matches(|c: char| c.is_whitespace() || c == '\0').to_string())
        .filter(|s| !s.is_empty())
}

/// Reads the machine under `root` (`/` in real runs, a fixture tree in tests).
pub fn collect(root: &Path) -> HostInfo {
    let cpuinfo = read(root, "/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
    };
    let cpu = field("model name")
        .or_else(|| field("Model"))
        .or_else(|| field("Hardware"))
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
    let memory_bytes = read(root, "/proc/meminfo")
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024);
    let os = read(root, "/etc/os-release")
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    let mut governors = Vec::new();
    if let Ok(entries) = std::fs::read_dir(root.join("sys/devices/system/cpu/cpufreq")) {
        let mut names: Vec<_> = entries.flatten().map(|e| e.file_name()).collect();
        names.sort();
        for n in names {
            let p =
                format!("sys/devices/system/cpu/cpufreq/{}/scaling_governor", n.to_string_lossy());
            if let Some(g) = read(root, &p) {
                governors.push(format!("{}={g}", n.to_string_lossy()));
            }
        }
    }
    let mut temperatures_c = Vec::new();
    if let Ok(entries) = std::fs::read_dir(root.join("sys/class/thermal")) {
        let mut zones: Vec<_> = entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("thermal_zone"))
            .map(|e| e.path())
            .collect();
        zones.sort();
        for z in zones {
            let kind =
                std::fs::read_to_string(z.join("type")).unwrap_or_default().trim().to_string();
            let milli = std::fs::read_to_string(z.join("temp"))
                .ok()
                .and_then(|t| t.trim().parse::<f64>().ok());
            if let Some(m) = milli {
                temperatures_c.push((kind, m / 1000.0));
            }
        }
    }
    HostInfo {
        hostname: read(root, "/proc/sys/kernel/hostname")
            .or_else(|| read(root, "/etc/hostname"))
            .unwrap_or_else(|| "unknown".into()),
        board: read(root, "/proc/device-tree/model"),
        cpu,
        cpus,
        memory_bytes,
        os,
        kernel: read(root, "/proc/sys/kernel/osrelease").unwrap_or_default(),
        arch: std::env::consts::ARCH.to_string(),
        governors,
        temperatures_c,
        l4t: read(root, "/etc/nv_tegra_release").and_then(|t| t.lines().next().map(str::to_string)),
        joulebench_version: env!("CARGO_PKG_VERSION").to_string(),
        abi_version: joulebench_abi::ABI_VERSION.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pi5_tree_is_described() {
        let dir = tempfile::tempdir().unwrap();
        let w = |p: &str, s: &str| {
            let f = dir.path().join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, s).unwrap();
        };
        w("proc/device-tree/model", "Raspberry Pi 5 Model B Rev 1.0\0");
        w(
            "proc/cpuinfo",
            "processor\t: 0\nBogoMIPS\t: 108.00\n\nprocessor\t: 1\n\nModel\t\t: Raspberry Pi 5 Model B Rev 1.0\n",
        );
        w("proc/meminfo", "MemTotal:        8245600 kB\nMemFree: 1 kB\n");
        w("proc/sys/kernel/hostname", "pi5\n");
        w("etc/os-release", "NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n");
        w("sys/devices/system/cpu/cpufreq/policy0/scaling_governor", "ondemand\n");
        w("sys/class/thermal/thermal_zone0/type", "cpu-thermal\n");
        w("sys/class/thermal/thermal_zone0/temp", "51200\n");
        let info = collect(dir.path());
        assert_eq!(info.board.as_deref(), Some("Raspberry Pi 5 Model B Rev 1.0"));
        assert_eq!(info.cpu, "Raspberry Pi 5 Model B Rev 1.0");
        assert_eq!(info.cpus, 2);
        assert_eq!(info.memory_bytes, 8_245_600 * 1024);
        assert_eq!(info.hostname, "pi5");
        assert_eq!(info.os, "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(info.governors, ["policy0=ondemand"]);
        assert_eq!(info.temperatures_c, [("cpu-thermal".to_string(), 51.2)]);
        assert_eq!(info.device_name(), "Raspberry Pi 5 Model B Rev 1.0");
    }
}
