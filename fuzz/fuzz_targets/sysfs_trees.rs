//! The sysfs meters on the recorded board trees of their tests, with one file's contents
//! replaced: the first byte picks the tree (and so the meter: estimate, jetson-ina3221,
//! orin-rails, rapl), the second the file in it, the rest is the file's new text. The meter is
//! opened and read twice; a bad file must be an error or a gap, never a panic or a hang.
//!
//! The trees are copied once per process under `$TMPDIR/joulebench-fuzz-sysfs/<pid>` (copies
//! left by processes that are gone are removed), and the file is put back after each input.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use joulebench_meter_common::Sensor;
use joulebench_meter_common::testing::copy_tree;
use libfuzzer_sys::fuzz_target;

#[derive(Clone, Copy)]
enum Meter {
    Estimate,
    Jetson,
    Orin,
    Rapl,
}

const TREES: [(Meter, &str); 9] = [
    (Meter::Estimate, "estimate/tests/fixtures/pi5"),
    (Meter::Estimate, "estimate/tests/fixtures/orin-nano"),
    (Meter::Estimate, "estimate/tests/fixtures/x86-devbox"),
    (Meter::Jetson, "jetson-ina3221/tests/fixtures/nano"),
    (Meter::Jetson, "jetson-ina3221/tests/fixtures/agx-xavier"),
    (Meter::Orin, "orin-rails/tests/fixtures/orin-nano"),
    (Meter::Orin, "orin-rails/tests/fixtures/agx-orin"),
    (Meter::Rapl, "rapl/tests/fixtures/server"),
    (Meter::Rapl, "rapl/tests/fixtures/client"),
];

struct Tree {
    meter: Meter,
    root: PathBuf,
    /// Every file with its recorded contents, sorted by path.
    files: Vec<(PathBuf, Vec<u8>)>,
}

fn files_of(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            files_of(&p, out);
        } else {
            let bytes = std::fs::read(&p).unwrap();
            out.push((p, bytes));
        }
    }
}

fn trees() -> &'static [Tree] {
    static TREES_COPIED: OnceLock<Vec<Tree>> = OnceLock::new();
    TREES_COPIED.get_or_init(|| {
        let base = std::env::temp_dir().join("joulebench-fuzz-sysfs");
        for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            let gone = !Path::new("/proc").join(e.file_name()).exists();
            if gone {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let mine = base.join(std::process::id().to_string());
        let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../meter-plugins");
        TREES
            .iter()
            .enumerate()
            .map(|(i, &(meter, rel))| {
                let root = mine.join(i.to_string());
                copy_tree(&plugins.join(rel), &root).unwrap();
                let mut files = Vec::new();
                files_of(&root, &mut files);
                files.sort();
                Tree { meter, root, files }
            })
            .collect()
    })
}

fn exercise<S: Sensor, E>(opened: Result<S, E>) {
    if let Ok(mut sensor) = opened {
        let rails = sensor.info().rails.len();
        for _ in 0..2 {
            if let Ok(r) = sensor.read() {
                assert_eq!(r.values.len(), rails, "a reading has one value per rail");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [t, f, contents @ ..] = data else { return };
    let tree = &trees()[usize::from(*t) % TREES.len()];
    let (path, original) = &tree.files[usize::from(*f) % tree.files.len()];
    std::fs::write(path, contents).unwrap();
    let root = tree.root.as_path();
    match tree.meter {
        Meter::Estimate => {
            let config = joulebench_meter_estimate::Config {
                root: root.to_path_buf(),
                ..Default::default()
            };
            exercise(joulebench_meter_estimate::EstimateSensor::open(config));
        }
        Meter::Jetson => {
            exercise(joulebench_meter_jetson_ina3221::JetsonIna3221Sensor::open(root));
        }
        Meter::Orin => exercise(joulebench_meter_orin_rails::OrinRailsSensor::open(root)),
        Meter::Rapl => exercise(joulebench_meter_rapl::RaplSensor::open(root)),
    }
    std::fs::write(path, original).unwrap();
});
