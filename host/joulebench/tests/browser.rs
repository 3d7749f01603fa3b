//! The HTML report and comparison in a real browser: Debian's headless Chromium opens each file
//! over file://, and the test checks that the page logs nothing to the console, that its DOM
//! holds the expected numbers, that its tables sort, and that a screenshot shows the plots.
//! `cargo xtask test` installs Chromium when it is missing; without it this test fails and
//! says how to install it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::compare::{joulebench, stores};

/// The Chromium binary: `$CHROMIUM`, else the first of Debian's and others' names on the PATH.
fn chromium() -> PathBuf {
    if let Some(c) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(c);
    }
    for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
        if Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return PathBuf::from(name);
        }
    }
    panic!(
        "no Chromium to test the HTML report in: install it with `apt-get install -y chromium` \
         (`cargo xtask test` does), or point $CHROMIUM at one"
    );
}

fn headless(profile: &Path) -> Command {
    // At most two minutes, whatever happens inside the browser.
    let mut cmd = Command::new("timeout");
    cmd.arg("120").arg(chromium()).args([
        "--headless",
        // Root in a container has no user namespace for the sandbox; the page is our own file.
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    cmd.arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// Opens `file` and returns its DOM after the scripts ran, and every console message.
fn browse(file: &Path, profile: &Path) -> (String, Vec<String>) {
    let out = headless(profile)
        .arg("--dump-dom")
        .arg(format!("file://{}", file.display()))
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

/// Takes a 1280 × `height` screenshot of `file`; returns its RGB pixels.
fn screenshot(file: &Path, profile: &Path, png_path: &Path, height: u32) -> Vec<[u8; 3]> {
    let out = headless(profile)
        .arg(format!("--window-size=1280,{height}"))
        .arg(format!("--screenshot={}", png_path.display()))
        .arg(format!("file://{}", file.display()))
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    let decoder =
        png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected screenshot colour type {other:?}"),
    };
    buf[..info.buffer_size()].chunks(step).map(|p| [p[0], p[1], p[2]]).collect()
}

fn near(p: [u8; 3], c: [u8; 3]) -> bool {
    p.iter().zip(c).all(|(a, b)| a.abs_diff(b) <= 24)
}

/// Pixels of a colour, and how many distinct colours the picture has.
fn census(pixels: &[[u8; 3]], colour: [u8; 3]) -> (usize, usize) {
    let mut distinct: Vec<[u8; 3]> = pixels.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    (pixels.iter().filter(|p| near(**p, colour)).count(), distinct.len())
}

/// A copy of `page` with a script after its own that clicks a table header twice and records
/// the first row after each click, to check the sorting script without touching the report.
fn with_sort_probe(page: &Path, out: &Path, table: &str, column: usize) {
    let html = std::fs::read_to_string(page).unwrap();
    let probe = format!(
        "<script>(function () {{ var t = document.querySelector('table.{table}'); \
         var th = t.querySelectorAll('th')[{column}]; var first = function () {{ return t.tBodies[0].rows[0].cells[{column}].textContent; }}; \
         th.click(); document.body.setAttribute('data-asc', first()); \
         th.click(); document.body.setAttribute('data-desc', first()); }})();</script>\n</body>"
    );
    std::fs::write(out, html.replacen("</body>", &probe, 1)).unwrap();
}

/// Copies a file to `$JOULEBENCH_KEEP_HTML` when set, to look at it after the test.
fn keep(file: &Path) {
    if let Some(dir) = std::env::var_os("JOULEBENCH_KEEP_HTML") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(file, Path::new(&dir).join(file.file_name().unwrap())).unwrap();
    }
}

fn self_contained(html: &str) {
    for bad in [
        "<script src",
        "<link rel=\"stylesheet\"",
        "src=\"http",
        "href=\"http",
        "url(http",
        "@import",
    ] {
        assert!(!html.contains(bad), "the page fetches something ({bad})");
    }
}

#[test]
fn html_report_and_comparison_render_in_headless_chromium() {
    // Chromium's processes would take the cores from a test running the real model, whose
    // sampler thread must keep its rate.
    let _alone = crate::util::REAL_MODEL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (_, _, both) = stores(dir.path());
    let profile = dir.path().join("chromium-profile");

    // The detector sees an error: a page that throws is caught.
    let broken = dir.path().join("broken.html");
    std::fs::write(
        &broken,
        "<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>",
    )
    .unwrap();
    let (_, console) = browse(&broken, &profile);
    assert!(console.iter().any(|l| l.contains("Uncaught ReferenceError")), "{console:?}");

    // The study's report.
    let report = dir.path().join("report.html");
    let (code, _, err) = joulebench(&[
        "report",
        "--results",
        both.to_str().unwrap(),
        "--html",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    keep(&report);
    self_contained(&std::fs::read_to_string(&report).unwrap());
    let probe = dir.path().join("report-probe.html");
    with_sort_probe(&report, &probe, "experiments", 6);
    let (dom, console) = browse(&probe, &profile);
    assert!(console.is_empty(), "the report logs to the console: {console:?}");
    for expected in [
        // Accuracy ± stderr: 22/40 and √(0.55·0.45/39) = 7.97 points.
        "55.00 ± 7.97",
        // The candidate's energy is estimated: marked as in the terminal.
        "<td class=\"num est\" data-v=\"11.1\">11.1~</td>",
        // Model A's repeat 0 measured 10.2 J per inference.
        ">10.2</td>",
        // Hover values on the accuracy–energy plot and the power trace.
        "<title>a/llama.cpp/Model A/winogrande/pi5: winogrande 55.00 %, 10.2 J per inference</title>",
        "<title>evaluation: 12.0–22.0 s (10.0 s)</title>",
        "<title>b/llama.cpp/Model B/winogrande/pi5: winogrande 72.50 %, 11.1 J per inference (estimated energy ~)</title>",
        // Provenance: model sha256, kernels, meter boundary, coverage, flags.
        "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        "CPU kernels: NEON ARM_FMA FP16_VA DOTPROD",
        "PMIC rails; misses the 5 V loads",
        "99.8 % of the evaluation",
        "energy is estimated from a model, not measured",
        // The study's tables.
        "<h3>Accuracy, energy, latency and EDP</h3>",
    ] {
        assert!(dom.contains(expected), "the report's DOM lacks {expected:?}");
    }
    // Sorting by accuracy: lowest first (Model A on winogrande, 55 %), then highest (Model A on
    // hellaswag, 175/200 = 87.5 %).
    assert!(dom.contains("data-asc=\"55.00 ± 7.97\""), "ascending sort");
    assert!(dom.contains("data-desc=\"87.50 ± 2.34\""), "descending sort");
    let pixels = screenshot(&report, &profile, &dir.path().join("report.png"), 3000);
    keep(&dir.path().join("report.png"));
    let (blue, colours) = census(&pixels, [31, 119, 180]);
    let (red, _) = census(&pixels, [214, 39, 40]);
    assert!(colours > 200, "the screenshot is nearly blank: {colours} colours");
    assert!(blue > 200, "the accuracy–energy points are not drawn: {blue} blue pixels");
    assert!(red > 100, "the power trace is not drawn: {red} red pixels");

    // The comparison, side by side, with a failing gate (the page is written all the same).
    let compare = dir.path().join("compare.html");
    let (code, _, err) = joulebench(&[
        "compare",
        "--results",
        both.to_str().unwrap(),
        "--by",
        "model",
        "--fail-if",
        "energy_per_inference > +5%",
        "--html",
        compare.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{err}");
    keep(&compare);
    self_contained(&std::fs::read_to_string(&compare).unwrap());
    let (dom, console) = browse(&compare, &profile);
    assert!(console.is_empty(), "the comparison logs to the console: {console:?}");
    for expected in [
        "+17.50 pt",
        "[+2.18, +32.82] pt",
        "data-v=\"0.065429687",
        ">0.065</td>",
        "<tr class=\"worse\"><td>energy_per_inference_j</td>",
        "[+0.564, +1.60] J",
        "<span class=\"failed\">FAILED</span>",
        "<h2>Baseline</h2>",
        "<h2>Candidate</h2>",
    ] {
        assert!(dom.contains(expected), "the comparison's DOM lacks {expected:?}");
    }
    let pixels = screenshot(&compare, &profile, &dir.path().join("compare.png"), 2600);
    keep(&dir.path().join("compare.png"));
    let (orange, colours) = census(&pixels, [255, 127, 14]);
    assert!(colours > 200, "the screenshot is nearly blank: {colours} colours");
    assert!(orange > 30, "the candidate's points are not drawn: {orange} orange pixels");
}
