//! What the estimate can learn about the CPU from `/proc` and `/sys`, and the few boards whose
//! power envelope it knows.
//!
//! A TDP only means something for the silicon it belongs to. The meter therefore finds out which
//! CPU it runs on (the x86 `model name`; on ARM the board's device-tree model, the `Model` or
//! `Hardware` line and the cores' `CPU part`), how many logical CPUs are online (they are what
//! the aggregate `/proc/stat` line adds up) and how large the package holding them is (sysfs
//! topology, else `physical id` and `siblings` in `/proc/cpuinfo`), and whether it runs in a
//! virtual machine (the x86 `hypervisor` flag). A virtual machine's kernel only sees the package
//! its hypervisor invents, so the host's package and this machine's share of it stay hidden.

use std::collections::BTreeSet;
use std::path::Path;

use joulebench_abi::AbiError;
use joulebench_meter_common::{read_error, under_root};

/// A board or CPU whose nominal power the meter knows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KnownCpu {
    /// The board, as the docs and the description name it.
    pub name: &'static str,
    /// Every one of these must occur in the board's model string.
    pub model_contains: &'static [&'static str],
    /// Logical CPUs of the SoC.
    pub cpus: u32,
    /// The nominal power of the whole module or board at full load, W.
    pub tdp_w: f64,
    /// Where the figure comes from, for the description.
    pub source: &'static str,
}

/// The built-in table: nominal figures for the boards joulebench is used on. They are power
/// envelopes of the whole module (GPU and memory included), not measured CPU power, so the CPU
/// estimate built on them is an upper figure for CPU-only work.
pub const KNOWN_CPUS: &[KnownCpu] = &[
    KnownCpu {
        name: "Jetson Orin Nano (Super)",
        model_contains: &["Orin Nano", "Super"],
        cpus: 6,
        tdp_w: 25.0,
        source: "NVIDIA's nominal module power in the 25 W MAXN SUPER mode",
    },
    KnownCpu {
        name: "Jetson Orin Nano",
        model_contains: &["Orin Nano"],
        cpus: 6,
        tdp_w: 15.0,
        source: "NVIDIA's nominal module power, 7 W and 15 W modes; the larger",
    },
    KnownCpu {
        name: "Jetson Nano",
        model_contains: &["Jetson Nano"],
        cpus: 4,
        tdp_w: 10.0,
        source: "NVIDIA's nominal module power, 5 W and 10 W modes; the larger",
    },
    KnownCpu {
        name: "Raspberry Pi 5",
        model_contains: &["Raspberry Pi 5"],
        cpus: 4,
        tdp_w: 7.0,
        source: "nominal: Raspberry Pi publishes no TDP for the BCM2712; a Pi 5 with four busy \
                 cores draws about 7 W on its PMIC rails",
    },
    KnownCpu {
        name: "Raspberry Pi Compute Module 5",
        model_contains: &["Compute Module 5"],
        cpus: 4,
        tdp_w: 7.0,
        source: "nominal, as the Raspberry Pi 5 (same BCM2712)",
    },
];

/// The table entry whose strings all occur in `model`, first match wins.
pub fn known_cpu(model: &str) -> Option<&'static KnownCpu> {
    KNOWN_CPUS.iter().find(|k| k.model_contains.iter().all(|s| model.contains(s)))
}

/// The Arm core name for a `CPU part` of implementer 0x41 (Arm Ltd).
pub fn arm_core_name(part: &str) -> Option<&'static str> {
    Some(match part {
        "0xd03" => "Cortex-A53",
        "0xd05" => "Cortex-A55",
        "0xd07" => "Cortex-A57",
        "0xd08" => "Cortex-A72",
        "0xd0b" => "Cortex-A76",
        "0xd41" => "Cortex-A78",
        "0xd42" => "Cortex-A78AE",
        _ => return None,
    })
}

/// What the files say about the CPU.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// The CPU, in words: the x86 `model name`, or the ARM cores and board.
    pub cpu: String,
    /// The board's model (device tree, else `/proc/cpuinfo` `Model` or `Hardware`), if any.
    pub board: Option<String>,
    /// Logical CPUs online: `/sys/devices/system/cpu/online`, else the `processor` blocks.
    pub online: u32,
    /// Physical packages among the online CPUs (at least 1).
    pub packages: u32,
    /// Logical CPUs of the largest package as this kernel sees it, if the files say.
    pub package_cpus: Option<u32>,
    /// The x86 `hypervisor` flag is set: the kernel runs under a hypervisor.
    pub virtual_machine: bool,
}

impl Machine {
    /// The table entry for this board, if any.
    pub fn known(&self) -> Option<&'static KnownCpu> {
        self.board.as_deref().and_then(known_cpu)
    }
}

/// The most CPUs a Linux kernel numbers (`NR_CPUS` is at most 8192): a list naming a higher
/// CPU is not a kernel's, and must not make the meter probe millions of CPU folders.
pub const MAX_CPUS: u32 = 8192;

/// Parses a kernel CPU list such as `0-3,6` (from `path`, for errors).
pub fn parse_cpu_list(path: &Path, text: &str) -> Result<BTreeSet<u32>, AbiError> {
    let bad = || AbiError::data(format!("{}: not a CPU list: {:?}", path.display(), text.trim()));
    let mut cpus = BTreeSet::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let a: u32 = a.trim().parse().map_err(|_| bad())?;
        let b: u32 = b.trim().parse().map_err(|_| bad())?;
        if b < a {
            return Err(bad());
        }
        if b >= MAX_CPUS {
            return Err(AbiError::data(format!(
                "{}: CPU {b} in {:?} is beyond the {MAX_CPUS} CPUs Linux numbers",
                path.display(),
                text.trim()
            )));
        }
        cpus.extend(a..=b);
    }
    Ok(cpus)
}

/// Reads `path` if it exists: `Ok(None)` when it does not, an error naming it when it cannot be
/// read.
fn read_optional(path: &Path) -> Result<Option<String>, AbiError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(read_error(path, &e, "")),
    }
}

/// The value of the first `key : value` line of `cpuinfo` whose key is exactly `key`.
fn first<'a>(cpuinfo: &'a str, key: &'a str) -> Option<&'a str> {
    values(cpuinfo, key).next()
}

fn values<'a>(cpuinfo: &'a str, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    cpuinfo.lines().filter_map(move |l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim())
    })
}

/// Looks at `/proc/cpuinfo`, the device-tree model and the sysfs CPU topology under `root`.
pub fn probe(root: &Path) -> Result<Machine, AbiError> {
    let cpuinfo_path = under_root(root, "/proc/cpuinfo");
    let cpuinfo = read_optional(&cpuinfo_path)?.unwrap_or_default();

    let mut board = None;
    let mut from_device_tree = false;
    for p in ["/proc/device-tree/model", "/sys/firmware/devicetree/base/model"] {
        if let Some(t) = read_optional(&under_root(root, p))? {
            let t = t.trim_end_matches('\0').trim().to_string();
            if !t.is_empty() {
                board = Some(t);
                from_device_tree = true;
                break;
            }
        }
    }
    let board =
        board.or_else(|| first(&cpuinfo, "Model").or(first(&cpuinfo, "Hardware")).map(Into::into));

    let cpu = match first(&cpuinfo, "model name") {
        Some(name) if first(&cpuinfo, "CPU part").is_none() => name.to_string(),
        _ => arm_cpu(&cpuinfo).unwrap_or_else(|| "an unidentified CPU".to_string()),
    };
    let virtual_machine = first(&cpuinfo, "flags")
        .is_some_and(|f| f.split_whitespace().any(|flag| flag == "hypervisor"));

    let cpu_dir = under_root(root, "/sys/devices/system/cpu");
    let online_path = cpu_dir.join("online");
    let processors = values(&cpuinfo, "processor").count() as u32;
    let online = match read_optional(&online_path)? {
        Some(t) => parse_cpu_list(&online_path, &t)?,
        None => (0..processors).collect(),
    };
    if online.is_empty() {
        return Err(AbiError::data(format!(
            "{} lists no online CPU and {} no `processor`",
            online_path.display(),
            cpuinfo_path.display()
        )));
    }

    // Packages from sysfs: each online CPU's package id and the CPUs its package holds.
    let mut ids = BTreeSet::new();
    let mut largest: Option<u32> = None;
    for cpu in &online {
        let topo = cpu_dir.join(format!("cpu{cpu}/topology"));
        let id_path = topo.join("physical_package_id");
        if let Some(t) = read_optional(&id_path)? {
            let id: i64 = t.trim().parse().map_err(|_| {
                AbiError::data(format!("{}: expected an integer, found {t:?}", id_path.display()))
            })?;
            ids.insert(id);
        }
        for name in ["package_cpus_list", "core_siblings_list"] {
            let p = topo.join(name);
            if let Some(t) = read_optional(&p)? {
                let n = parse_cpu_list(&p, &t)?.len() as u32;
                largest = Some(largest.map_or(n, |m| m.max(n)));
                break;
            }
        }
    }
    // Else from /proc/cpuinfo: distinct `physical id`s and `siblings` (logical CPUs per package).
    let arm = first(&cpuinfo, "CPU part").is_some();
    let (packages, package_cpus) = if arm && from_device_tree {
        // Device-tree kernels before 6.0 number each CPU cluster as a package (an Orin Nano's
        // 4 + 2 cores read as two packages); such boards have one SoC.
        (1, None)
    } else if ids.is_empty() {
        let phys: BTreeSet<&str> = values(&cpuinfo, "physical id").collect();
        let siblings = first(&cpuinfo, "siblings").and_then(|s| s.parse::<u32>().ok());
        (phys.len().max(1) as u32, siblings)
    } else {
        (ids.len() as u32, largest)
    };

    Ok(Machine { cpu, board, online: online.len() as u32, packages, package_cpus, virtual_machine })
}

/// `4 x Arm Cortex-A76 (CPU part 0xd0b)` from the ARM `CPU implementer`/`CPU part` lines.
fn arm_cpu(cpuinfo: &str) -> Option<String> {
    let parts: Vec<&str> = values(cpuinfo, "CPU part").collect();
    let implementer = first(cpuinfo, "CPU implementer")?;
    let mut distinct: Vec<&str> = parts.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let names: Vec<String> = distinct
        .iter()
        .map(|part| {
            let n = parts.iter().filter(|p| *p == part).count();
            match (implementer, arm_core_name(part)) {
                ("0x41", Some(core)) => format!("{n} x Arm {core} (CPU part {part})"),
                _ => format!("{n} x ARM core {part} of implementer {implementer}"),
            }
        })
        .collect();
    (!names.is_empty()).then(|| names.join(" + "))
}
