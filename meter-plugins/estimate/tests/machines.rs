//! The power model the estimating meter derives from recorded CPU files: this development VM
//! (2 vCPUs of an Intel Xeon), a Raspberry Pi 5 and a Jetson Orin Nano (fixture trees under
//! `tests/fixtures/`, described in their README). Every number below is worked out by hand.

use std::path::{Path, PathBuf};

use joulebench_abi::{ErrorCode, Meter, Reading};
use joulebench_meter_common::testing::{copy_tree, write_atomic};
use joulebench_meter_estimate::machine::{known_cpu, parse_cpu_list};
use joulebench_meter_estimate::{Estimate, new, probe};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn writable(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture(name), dir.path()).unwrap();
    let root = dir.path().to_path_buf();
    (dir, root)
}

fn meter(root: &Path, arch: &str, extra: &str) -> Estimate {
    new(&format!("root = {:?}\narch = \"{arch}\"\n{extra}", root.display().to_string())).unwrap()
}

fn values(r: Reading) -> Vec<f64> {
    r.values.iter().map(|v| v.into_option().unwrap()).collect()
}

/// Adds `busy` user ticks and `idle` idle ticks to the aggregate line of `root/proc/stat`.
fn advance(root: &Path, busy: u64, idle: u64) {
    let path = root.join("proc/stat");
    let text = std::fs::read_to_string(&path).unwrap();
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if !l.starts_with("cpu ") {
                return l.to_string();
            }
            let mut f: Vec<u64> =
                l.split_whitespace().skip(1).map(|v| v.parse().unwrap()).collect();
            f[0] += busy;
            f[3] += idle;
            format!("cpu  {}", f.iter().map(u64::to_string).collect::<Vec<_>>().join(" "))
        })
        .collect();
    write_atomic(&path, &(out.join("\n") + "\n")).unwrap();
}

/// [total, cpu, ram] at load 0 and at load 1 (1000 ticks each, far above 10 per CPU).
fn at_load_0_and_1(m: &mut Estimate, root: &Path) -> (Vec<f64>, Vec<f64>) {
    advance(root, 0, 1000);
    let idle = values(m.read().unwrap());
    advance(root, 1000, 0);
    let full = values(m.read().unwrap());
    (idle, full)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn this_vm_counts_its_two_vcpus_not_a_whole_package() {
    let m = probe(&fixture("x86-devbox")).unwrap();
    assert_eq!(m.cpu, "Intel(R) Xeon(R) Processor");
    assert_eq!(m.board, None);
    assert_eq!((m.online, m.packages, m.package_cpus), (2, 1, Some(2)));
    assert!(m.virtual_machine);

    let (_dir, root) = writable("x86-devbox");
    let mut e = meter(&root, "x86", "");
    let p = e.cpu_power().clone();
    // The hypervisor shows a package of exactly the 2 vCPUs, so the host's is hidden: 2 x 0.74
    // W idle, 2 x 3.5 W at full load.
    assert!(close(p.idle_w, 1.48) && close(p.full_w, 7.0) && p.share == 1.0, "{p:?}");
    let (idle, full) = at_load_0_and_1(&mut e, &root);
    // RAM: 23.5 GiB -> 4 DIMMs x 5 W on x86
    assert!(close(idle[1], 1.48) && close(idle[0], 21.48), "{idle:?}");
    assert!(close(full[1], 7.0) && close(full[0], 27.0), "{full:?}");

    let info = e.info();
    let d = info.rails[1].description.as_str();
    for part in [
        "CPU: Intel(R) Xeon(R) Processor, in a virtual machine (x86 `hypervisor` flag)",
        "2 logical CPUs online, presented as 1 package of 2 logical CPUs; the host's package \
         and this machine's share of it are hidden",
        "each vCPU counts 3.5 W at full load, Cloud Carbon Footprint's SPECpower-based average \
         per vCPU on AWS; 0.74 W per vCPU at zero load, likewise",
        "-> 1.48 W at load 0, 7 W at load 1, P = idle + (full - idle) x load^3",
        "`package_cpus` to the host package's logical CPUs",
    ] {
        assert!(d.contains(part), "{part:?} not in {d:?}");
    }
    assert!(!d.contains("85 W"), "{d}");
    let b = info.boundary.as_str();
    assert!(
        b.contains(
            "CPU 1.48 W at rest to 7 W at full whole-machine utilisation (2 vCPUs at Cloud \
             Carbon Footprint's 0.74 to 3.5 W each; CodeCarbon's cubic load model)"
        ),
        "{b}"
    );
    assert!(b.contains("RAM a constant 20 W"), "{b}");
    assert!(info.rails[2].description.contains("a virtual machine owns no DIMMs"));
}

#[test]
fn a_vm_shown_as_two_one_cpu_sockets_still_counts_per_vcpu() {
    // QEMU's plain `-smp 2` makes two sockets of one CPU each; CodeCarbon would count 2 x 85 W.
    let (_dir, root) = writable("x86-devbox");
    let cpu1 = root.join("sys/devices/system/cpu/cpu1/topology");
    write_atomic(&cpu1.join("physical_package_id"), "1\n").unwrap();
    write_atomic(&cpu1.join("package_cpus_list"), "1\n").unwrap();
    write_atomic(&root.join("sys/devices/system/cpu/cpu0/topology/package_cpus_list"), "0\n")
        .unwrap();
    let e = meter(&root, "x86", "");
    let p = e.cpu_power();
    assert!(close(p.full_w, 7.0) && close(p.idle_w, 1.48), "{p:?}");
    assert!(
        p.assumptions.contains("presented as 2 packages of 1 logical CPU;"),
        "{}",
        p.assumptions
    );
}

#[test]
fn a_vm_told_its_host_package_gets_its_share_of_the_default_tdp() {
    let (_dir, root) = writable("x86-devbox");
    let mut e = meter(&root, "x86", "package_cpus = 120");
    let p = e.cpu_power().clone();
    // 2 of 120 logical CPUs: 85 W / 60 = 1.41667 W at full load, a tenth of it at rest
    assert!(close(p.share, 2.0 / 120.0), "{p:?}");
    assert!(close(p.full_w, 85.0 / 60.0) && close(p.idle_w, 8.5 / 60.0), "{p:?}");
    let (idle, full) = at_load_0_and_1(&mut e, &root);
    assert!(close(idle[1], 8.5 / 60.0) && close(full[1], 85.0 / 60.0), "{idle:?} {full:?}");
    let d = e.info().rails[1].description.to_string();
    for part in [
        "2 of 120 logical CPUs of 1 package online (1.667 %, this VM's share)",
        "package TDP 85 W (CodeCarbon's default for CPUs it does not know), zero-load power 0.1 \
         x TDP (CodeCarbon's floor) x 1 package(s) x 1.667 % visible",
        "-> 0.142 W at load 0, 1.417 W at load 1",
    ] {
        assert!(d.contains(part), "{part:?} not in {d:?}");
    }
}

#[test]
fn tdp_w_and_idle_w_override_what_the_meter_assumes() {
    let (_dir, root) = writable("x86-devbox");
    let mut e = meter(&root, "x86", "tdp_w = 15.0\nidle_w = 3.0");
    let p = e.cpu_power().clone();
    assert!(close(p.idle_w, 3.0) && close(p.full_w, 15.0), "{p:?}");
    // half load: 3 + 12 x 0.125 = 4.5 W
    advance(&root, 500, 500);
    assert!(close(values(e.read().unwrap())[1], 4.5));
    let d = e.info().rails[1].description.to_string();
    assert!(
        d.contains(
            "package power 15 W (configured `tdp_w`), zero-load power 3 W per package \
             (configured `idle_w`) -> 3 W at load 0, 15 W at load 1"
        ),
        "{d}"
    );
    // The linear model's floor is idle_w too: max(15 x 0.1, 3) = 3 W.
    let (_dir2, root2) = writable("x86-devbox");
    let mut l = meter(&root2, "x86", "tdp_w = 15.0\nidle_w = 3.0\nmodel = \"linear\"");
    advance(&root2, 100, 900);
    assert!(close(values(l.read().unwrap())[1], 3.0));
}

#[test]
fn a_raspberry_pi_5_uses_its_nominal_board_power() {
    let m = probe(&fixture("pi5")).unwrap();
    assert_eq!(m.cpu, "4 x Arm Cortex-A76 (CPU part 0xd0b)");
    assert_eq!(m.board.as_deref(), Some("Raspberry Pi 5 Model B Rev 1.0"));
    assert_eq!((m.online, m.packages), (4, 1));
    assert!(!m.virtual_machine);

    let (_dir, root) = writable("pi5");
    let mut e = meter(&root, "arm", "");
    let p = e.cpu_power().clone();
    assert!(close(p.full_w, 7.0) && close(p.idle_w, 0.7) && p.share == 1.0, "{p:?}");
    let (idle, full) = at_load_0_and_1(&mut e, &root);
    // RAM: 7.9 GiB -> 2 DIMMs x 1.5 W on ARM = the 3 W floor
    assert!(close(idle[1], 0.7) && close(idle[0], 3.7), "{idle:?}");
    assert!(close(full[1], 7.0) && close(full[0], 10.0), "{full:?}");
    let d = e.info().rails[1].description.to_string();
    for part in [
        "CPU: 4 x Arm Cortex-A76 (CPU part 0xd0b) on Raspberry Pi 5 Model B Rev 1.0;",
        "4 of the Raspberry Pi 5's 4 CPUs online (100 %)",
        "board power 7 W (nominal: Raspberry Pi publishes no TDP for the BCM2712",
        "-> 0.7 W at load 0, 7 W at load 1",
    ] {
        assert!(d.contains(part), "{part:?} not in {d:?}");
    }
    assert!(!d.contains("virtual machine"), "{d}");
    assert!(e.info().rails[2].description.contains("DIMM model for 7.9 GiB on arm"));
}

#[test]
fn a_jetson_orin_nano_is_one_soc_although_sysfs_shows_two_clusters_as_packages() {
    // physical_package_id is 0 for cpu0-3 and 1 for cpu4-5 on its 5.15 kernel
    let m = probe(&fixture("orin-nano")).unwrap();
    assert_eq!(m.cpu, "6 x Arm Cortex-A78AE (CPU part 0xd42)");
    assert_eq!(m.board.as_deref(), Some("NVIDIA Jetson Orin Nano Developer Kit"));
    assert_eq!((m.online, m.packages, m.package_cpus), (6, 1, None));

    let (_dir, root) = writable("orin-nano");
    let mut e = meter(&root, "arm", "");
    let p = e.cpu_power().clone();
    assert!(close(p.full_w, 15.0) && close(p.idle_w, 1.5), "{p:?}");
    let (idle, full) = at_load_0_and_1(&mut e, &root);
    assert!(close(idle[1], 1.5) && close(idle[0], 4.5), "{idle:?}");
    assert!(close(full[1], 15.0) && close(full[0], 18.0), "{full:?}");
    let d = e.info().rails[1].description.to_string();
    for part in [
        "CPU: 6 x Arm Cortex-A78AE (CPU part 0xd42) on NVIDIA Jetson Orin Nano Developer Kit;",
        "6 of the Jetson Orin Nano's 6 CPUs online (100 %)",
        "board power 15 W (NVIDIA's nominal module power, 7 W and 15 W modes; the larger)",
        "-> 1.5 W at load 0, 15 W at load 1",
    ] {
        assert!(d.contains(part), "{part:?} not in {d:?}");
    }
}

#[test]
fn offline_cores_and_the_super_kit_change_the_orin_figures() {
    let (_dir, root) = writable("orin-nano");
    write_atomic(&root.join("sys/devices/system/cpu/online"), "0-3\n").unwrap();
    let e = meter(&root, "arm", "");
    let p = e.cpu_power();
    // 4 of 6 CPUs: 15 W x 2/3 = 10 W at full load, 1 W at rest
    assert!(close(p.share, 4.0 / 6.0) && close(p.full_w, 10.0) && close(p.idle_w, 1.0), "{p:?}");
    assert!(p.assumptions.contains("4 of the Jetson Orin Nano's 6 CPUs online (66.667 %)"));

    let (_dir2, root2) = writable("orin-nano");
    let model = root2.join("sys/firmware/devicetree/base/model");
    std::fs::write(&model, b"NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super\0")
        .unwrap();
    assert!(close(meter(&root2, "arm", "").cpu_power().full_w, 25.0));
}

#[test]
fn the_table_tells_the_boards_apart() {
    assert_eq!(known_cpu("NVIDIA Jetson Nano Developer Kit").unwrap().tdp_w, 10.0);
    assert_eq!(
        known_cpu("NVIDIA Jetson Orin Nano Developer Kit").unwrap().name,
        "Jetson Orin Nano"
    );
    assert_eq!(known_cpu("Raspberry Pi Compute Module 5 Rev 1.0").unwrap().tdp_w, 7.0);
    assert_eq!(known_cpu("Raspberry Pi 4 Model B Rev 1.4"), None);
    assert_eq!(known_cpu("NVIDIA Jetson AGX Orin Developer Kit"), None);
}

#[test]
fn cpu_lists_parse_as_the_kernel_writes_them() {
    let p = Path::new("/online");
    assert_eq!(
        parse_cpu_list(p, "0-3,6\n").unwrap().into_iter().collect::<Vec<_>>(),
        [0, 1, 2, 3, 6]
    );
    assert_eq!(parse_cpu_list(p, "5\n").unwrap().len(), 1);
    let e = parse_cpu_list(p, "0-x\n").unwrap_err();
    assert_eq!(e.message.as_str(), "/online: not a CPU list: \"0-x\"");
}

#[test]
fn bad_topology_files_and_overrides_are_named() {
    let (_dir, root) = writable("x86-devbox");
    let online = root.join("sys/devices/system/cpu/online");
    write_atomic(&online, "zero\n").unwrap();
    let e = new(&format!("root = {:?}", root.display().to_string())).err().unwrap();
    assert_eq!(e.code, ErrorCode::INVALID_DATA);
    assert!(e.message.contains(&format!("{}: not a CPU list", online.display())), "{}", e.message);

    let (_dir, root) = writable("x86-devbox");
    let id = root.join("sys/devices/system/cpu/cpu1/topology/physical_package_id");
    write_atomic(&id, "one\n").unwrap();
    let e = new(&format!("root = {:?}", root.display().to_string())).err().unwrap();
    assert!(e.message.contains(&id.display().to_string()), "{}", e.message);

    let root = fixture("x86-devbox");
    let cfg = |extra: &str| format!("root = {:?}\n{extra}", root.display().to_string());
    let e = new(&cfg("tdp_w = 10\nidle_w = 12")).err().unwrap();
    assert_eq!(e.code, ErrorCode::INVALID_CONFIG);
    assert!(
        e.message.contains("`idle_w` gives 12 W at zero load, more than the 10 W"),
        "{}",
        e.message
    );
    for bad in ["idle_w = -1", "package_cpus = 0", "sockets = 0", "tdp_w = 0"] {
        let e = new(&cfg(bad)).err().unwrap();
        assert_eq!(e.code, ErrorCode::INVALID_CONFIG, "{bad}");
        assert!(e.message.contains(bad.split(' ').next().unwrap()), "{bad}: {}", e.message);
    }
}
